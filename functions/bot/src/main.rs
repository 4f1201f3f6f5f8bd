//! The bot as a Lambda behind an API Gateway HTTP API: wiring only; the ports come from the
//! composition root (`screener_composition`), the work is in [`bot::handle`]. Every update gets an
//! answer below 500 (see the crate docs).

use std::sync::Arc;

use bot::{BotDeps, SECRET_HEADER, UpdateRequest};
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    screener_composition::init_lambda_tracing();
    let (config, deps) = screener_composition::wire("bot").await?;
    let deps = Arc::new(
        BotDeps::compose(
            &config,
            deps,
            screener_composition::build_rerun(&config).await,
            screener_composition::build_backtests(&config).await,
        )
        .await?,
    );
    lambda_http::run(service_fn(move |request: Request| {
        let deps = deps.clone();
        async move {
            let secret_token = request
                .headers()
                .get(SECRET_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = request.body().to_vec();
            // The HTTP API's own address: `/dashboard` links point back at it.
            let origin = bot::lambda_request_origin(&request);
            let update = UpdateRequest {
                secret_token,
                body,
                origin,
            };
            let response = bot::server::handle_guarded(update, deps).await;
            Ok::<_, Error>(
                Response::builder()
                    .status(response.status)
                    .header("content-type", response.content_type())
                    .body(Body::Text(response.body))?,
            )
        }
    }))
    .await
}
