//! The validate step as a Lambda function: wiring only; the work is in [`validate::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    screener_composition::serve_step("validate", |input, deps| async move {
        validate::handle(input, &deps).await
    })
    .await
}
