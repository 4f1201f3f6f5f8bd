//! The fetch-universe step as a Lambda function: wiring only; the work is in [`fetch_universe::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("fetch-universe", |input, deps| async move {
        fetch_universe::handle(input, &deps).await
    })
    .await
}
