//! The webhook over plain HTTP, for `screener bot serve` and the tests: `POST /webhook` runs
//! [`crate::handle`], `GET /healthz` answers `ok`. One task per connection (HTTP/1.1).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::{BotDeps, SECRET_HEADER, UpdateRequest, WebhookResponse};

/// Telegram's updates are a few KB; anything near this is not one.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Runs `handle` so that a panic in it is a logged 200 (Telegram would retry a 5xx for a day,
/// and the retry would panic again), not a dropped connection.
pub async fn handle_guarded(request: UpdateRequest, deps: Arc<BotDeps>) -> WebhookResponse {
    match tokio::spawn(async move { crate::handle(request, &deps).await }).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "the update handler panicked; answering 200 so Telegram does not retry it");
            WebhookResponse {
                status: 200,
                body: "{}".into(),
            }
        }
    }
}

fn respond(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a response builds")
}

async fn route(
    request: Request<Incoming>,
    deps: Arc<BotDeps>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    match (request.method(), path.as_str()) {
        (&Method::POST, "/webhook") => {
            let secret_token = request
                .headers()
                .get(SECRET_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes().to_vec(),
                Err(e) => {
                    tracing::warn!(error = %e, "webhook body unreadable or too large (400)");
                    return Ok(respond(400, "application/json", "{}".into()));
                }
            };
            let response = handle_guarded(
                UpdateRequest {
                    secret_token,
                    body,
                    origin: None,
                },
                deps,
            )
            .await;
            Ok(respond(
                response.status,
                response.content_type(),
                response.body,
            ))
        }
        (&Method::GET, "/healthz") => Ok(respond(200, "text/plain", "ok\n".into())),
        (_, "/webhook") => Ok(respond(405, "text/plain", "POST only\n".into())),
        _ => Ok(respond(
            404,
            "text/plain",
            "not found: POST /webhook\n".into(),
        )),
    }
}

/// Serves until the task is dropped or the listener fails.
pub async fn serve(listener: TcpListener, deps: Arc<BotDeps>) -> std::io::Result<()> {
    screener_composition::serve_http(listener, move |request| route(request, deps.clone())).await
}

/// Binds `addr` (port 0 for any free one) and serves in the background; answers the address.
pub async fn spawn(
    addr: SocketAddr,
    deps: Arc<BotDeps>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, tokio::spawn(serve(listener, deps))))
}
