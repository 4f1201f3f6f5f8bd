//! A blocking HTTP/1.1 client for tests that talk to a server the test started (the built
//! `screener dashboard`, `screener bot serve`, chromedriver): one request over a fresh
//! connection with hyper's client connection, so the framing (content length, chunked bodies)
//! is hyper's, not the test's.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// How long a request may take before the test fails (a page over a big store, a browser
/// command).
const TIMEOUT: Duration = Duration::from_secs(60);

/// What a server answered: the status, the headers (lower-case names, repeated ones kept in
/// order, such as two `set-cookie`) and the whole body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// Sends `method path` with `headers` and `body` to `addr` and waits for the whole answer.
/// Panics, naming the request, when the connection or the exchange fails: a test cannot go on.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    let what = format!("{method} http://{addr}{path}");
    runtime.block_on(async {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut builder = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, addr.to_string());
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            let request = builder
                .body(Full::new(Bytes::copy_from_slice(body)))
                .map_err(std::io::Error::other)?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_string(), value)
                })
                .collect();
            let body = response.into_body().collect().await?.to_bytes().to_vec();
            Ok::<Answer, Box<dyn std::error::Error + Send + Sync>>((status, headers, body))
        };
        match tokio::time::timeout(TIMEOUT, exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(_) => panic!("{what}: no answer within {TIMEOUT:?}"),
        }
    })
}
