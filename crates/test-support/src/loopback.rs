//! A loopback HTTP/1.1 server (hyper) on a free port of 127.0.0.1.
//!
//! It runs on its own thread with its own runtime, so one server serves a plain `#[test]`, a
//! current-thread `#[tokio::test]` and a test that blocks its runtime while it waits for the
//! binary it started. The request body is read before the handler sees the request; dropping
//! the server stops it and waits for its thread.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;

// What handlers see and answer with, so tests need no direct hyper dependency.
pub use bytes::Bytes;
pub use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// What a handler answers.
pub type Reply = Response<Full<Bytes>>;

pub struct LoopbackServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Serves `handler` until the server is dropped. Panics if no loopback port can be bound
    /// (a test cannot do anything useful then).
    pub fn start<H, F>(handler: H) -> LoopbackServer
    where
        H: Fn(Request<Bytes>) -> F + Send + Sync + 'static,
        F: Future<Output = Reply> + Send + 'static,
    {
        let handler = Arc::new(handler);
        LoopbackServer::start_fallible(move |request| {
            let reply = handler(request);
            async move { Ok(reply.await) }
        })
    }

    /// Like [`start`](Self::start), for a server that misbehaves on purpose: a handler's `Err`
    /// drops the connection without an answer (the client sees a reset or an early close).
    pub fn start_fallible<H, F>(handler: H) -> LoopbackServer
    where
        H: Fn(Request<Bytes>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Reply, std::io::Error>> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        listener
            .set_nonblocking(true)
            .expect("a loopback listener can be non-blocking");
        let (shutdown, stop) = oneshot::channel();
        let handler = Arc::new(handler);
        let thread = std::thread::Builder::new()
            .name(format!("loopback-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the loopback server");
                runtime.block_on(serve(listener, handler, stop));
            })
            .expect("a thread for the loopback server");
        LoopbackServer {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve<H, F>(
    listener: std::net::TcpListener,
    handler: Arc<H>,
    mut stop: oneshot::Receiver<()>,
) where
    H: Fn(Request<Bytes>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Reply, std::io::Error>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let handler = handler.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    match body.collect().await {
                        Ok(body) => handler(Request::from_parts(parts, body.to_bytes())).await,
                        Err(error) => Ok(text(StatusCode::BAD_REQUEST, &format!("body: {error}"))),
                    }
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A JSON answer with `status`.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Reply {
    with_type(status, "application/json", body.to_string())
}

/// A plain-text answer with `status`.
pub fn text(status: StatusCode, body: &str) -> Reply {
    with_type(status, "text/plain; charset=utf-8", body.to_string())
}

/// An answer with `status`, a `content-type` and `body`.
pub fn with_type(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("a status and a content type make a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Mutex;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn serves_a_plain_test_with_the_body_read_and_stops_when_dropped() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let server = LoopbackServer::start(move |request: Request<Bytes>| {
            log.lock()
                .unwrap()
                .push((request.uri().path().to_string(), request.body().clone()));
            async { json(StatusCode::CREATED, &serde_json::json!({"ok": true})) }
        });
        let addr = server.addr();
        assert_eq!(server.url(), format!("http://{addr}"));
        let answer = get(
            addr,
            "POST /x/y HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        );
        assert!(answer.starts_with("HTTP/1.1 201 Created\r\n"), "{answer}");
        assert!(answer.ends_with(r#"{"ok":true}"#), "{answer}");
        assert_eq!(
            *seen.lock().unwrap(),
            vec![("/x/y".to_string(), Bytes::from_static(b"hello"))]
        );
        drop(server);
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "still listening"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn answers_while_a_current_thread_test_runtime_is_blocked() {
        let server = LoopbackServer::start(|_| async { text(StatusCode::OK, "pong") });
        // Blocking this runtime's only thread: the server must not need it.
        let answer = get(
            server.addr(),
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        assert!(answer.ends_with("pong"), "{answer}");
    }
}
