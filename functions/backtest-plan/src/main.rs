//! The backtest plan step as a Lambda function: wiring only; the work is in [`backtest_plan::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("backtest-plan", |input, deps| async move {
        backtest_plan::handle(input, &deps).await
    })
    .await
}
