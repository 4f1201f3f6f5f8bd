//! The backtest shard step as a Lambda function: wiring only; the work is in [`backtest_shard::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("backtest-shard", |input, deps| async move {
        backtest_shard::handle(input, &deps).await
    })
    .await
}
