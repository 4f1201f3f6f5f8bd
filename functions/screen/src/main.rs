//! The screen step as a Lambda function: wiring only; the work is in [`screen::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("screen", |input, deps| async move {
        screen::handle(input, &deps).await
    })
    .await
}
