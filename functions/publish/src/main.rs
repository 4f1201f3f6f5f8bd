//! The publish step as a Lambda function: wiring only; the work is in [`publish::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("publish", |input, deps| async move {
        publish::handle(input, &deps).await
    })
    .await
}
