//! The backtest combine step as a Lambda function: wiring only; the work is in [`backtest_combine::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("backtest-combine", |input, deps| async move {
        backtest_combine::handle(input, &deps).await
    })
    .await
}
