//! The local HTTP/1.1 server that `screener bot serve` and `screener dashboard` run their
//! handlers on (in AWS, API Gateway and the Lambda adapter do this): one task per connection,
//! until the listener fails or the serving task is dropped.

use std::convert::Infallible;
use std::future::Future;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Answers every request on `listener` with `answer`.
pub async fn serve_http<A, F>(listener: TcpListener, answer: A) -> std::io::Result<()>
where
    A: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let answer = answer.clone();
        tokio::spawn(async move {
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
