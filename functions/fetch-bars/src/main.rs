//! The fetch-bars step as a Lambda function: wiring only; the work is in [`fetch_bars::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("fetch-bars", |input, deps| async move {
        fetch_bars::handle(input, &deps).await
    })
    .await
}
