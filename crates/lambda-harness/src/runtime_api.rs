//! A loopback Lambda Runtime API: what the Lambda service offers a function process on
//! `AWS_LAMBDA_RUNTIME_API`, enough to run a real `bootstrap` binary outside AWS.
//!
//! Served on `127.0.0.1:0`, HTTP/1.1, the four paths a custom runtime uses
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
//!
//! * `GET  /2018-06-01/runtime/invocation/next`: long-polls until [`RuntimeApi::invoke`] queues
//!   an event, then answers with it and the `Lambda-Runtime-*` headers.
//! * `POST /2018-06-01/runtime/invocation/{id}/response`: the function's result.
//! * `POST /2018-06-01/runtime/invocation/{id}/error`: a handled error; the body is
//!   `{"errorType", "errorMessage"}`, the type is what Step Functions matches.
//! * `POST /2018-06-01/runtime/init/error`: the function could not start.
//!
//! Every request is timestamped, so a benchmark can tell when the process first asked for work
//! (the end of its init). Anything else a function sends is recorded as a protocol violation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use screener_test_support::loopback::header::HeaderValue;
use screener_test_support::loopback::{self, Bytes, LoopbackServer, Reply, Request, StatusCode};
use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";
/// The header a runtime sets on `/error` and `/init/error` posts.
pub const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// How one invocation ended, as the function reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST .../{id}/response`, the body parsed as JSON (`Value::String` if it was not JSON).
    Response(Value),
    /// `POST .../{id}/error`.
    Error(ReportedError),
    /// `POST /init/error`: the process failed before it asked for work.
    InitError(ReportedError),
}

/// An error a function reported: the header and the body's `errorType`/`errorMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedError {
    /// `Lambda-Runtime-Function-Error-Type`, if sent. (The Rust runtime sends `unhandled`
    /// here; Lambda and Step Functions take the error name from the body.)
    pub header: Option<String>,
    /// The body's `errorType`: the name `Retry`/`Catch` match.
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub body: Value,
}

/// An outcome and when it arrived.
#[derive(Debug, Clone)]
pub struct Completion {
    pub outcome: Outcome,
    pub at: Instant,
}

struct Queued {
    id: String,
    event: Value,
}

#[derive(Default)]
struct Shared {
    /// Request id -> who waits for its outcome.
    pending: Mutex<HashMap<String, oneshot::Sender<Completion>>>,
    init_error: Mutex<Option<Completion>>,
    init_error_posted: Notify,
    first_next: Mutex<Option<Instant>>,
    next_requests: AtomicU64,
    violations: Mutex<Vec<String>>,
}

/// The loopback Runtime API. Dropping it stops the server.
pub struct RuntimeApi {
    queue: mpsc::UnboundedSender<Queued>,
    shared: Arc<Shared>,
    function_arn: String,
    counter: AtomicU64,
    server: LoopbackServer,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("no outcome within {0:?}")]
    TimedOut(Duration),
    #[error("the Runtime API server stopped")]
    ServerGone,
}

impl RuntimeApi {
    /// Starts the server on a free loopback port. `function_name` goes into the invoked ARN.
    pub async fn start(function_name: &str) -> std::io::Result<RuntimeApi> {
        let (queue, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let function_arn =
            format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}");
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let (state, arn) = (shared.clone(), function_arn.clone());
        let server = LoopbackServer::start(move |request| {
            let (receiver, state, arn) = (receiver.clone(), state.clone(), arn.clone());
            async move { handle(request, &receiver, &state, &arn).await }
        });
        Ok(RuntimeApi {
            queue,
            shared,
            function_arn,
            counter: AtomicU64::new(0),
            server,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`host:port`, no scheme).
    pub fn address(&self) -> String {
        self.server.addr().to_string()
    }

    pub fn function_arn(&self) -> &str {
        &self.function_arn
    }

    /// Queues `event` for the function's next `next` request and waits for its outcome, or for
    /// an init error, for at most `timeout`.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Completion, InvokeError> {
        let id = format!(
            "{:08x}-harness-{}",
            std::process::id(),
            self.counter.fetch_add(1, Ordering::Relaxed)
        );
        let (done, outcome) = oneshot::channel();
        self.shared.pending.lock().unwrap().insert(id.clone(), done);
        self.queue
            .send(Queued { id, event })
            .map_err(|_| InvokeError::ServerGone)?;
        let init_error = async {
            loop {
                let notified = self.shared.init_error_posted.notified();
                if let Some(completion) = self.shared.init_error.lock().unwrap().clone() {
                    return completion;
                }
                notified.await;
            }
        };
        tokio::select! {
            result = outcome => result.map_err(|_| InvokeError::ServerGone),
            completion = init_error => Ok(completion),
            _ = tokio::time::sleep(timeout) => Err(InvokeError::TimedOut(timeout)),
        }
    }

    /// When the function first asked for work: the end of its init.
    pub fn first_next_at(&self) -> Option<Instant> {
        *self.shared.first_next.lock().unwrap()
    }

    /// How many `next` requests arrived (a function asks again as soon as it answered).
    pub fn next_requests(&self) -> u64 {
        self.shared.next_requests.load(Ordering::SeqCst)
    }

    /// The init error, if one was posted.
    pub fn init_error(&self) -> Option<Completion> {
        self.shared.init_error.lock().unwrap().clone()
    }

    /// Requests that are not part of the Runtime API, or that named an unknown request id.
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().unwrap().clone()
    }
}

fn reply(status: StatusCode, body: Value) -> Reply {
    loopback::json(status, &body)
}

fn accepted() -> Reply {
    reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
}

async fn handle(
    request: Request<Bytes>,
    queue: &tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    shared: &Shared,
    function_arn: &str,
) -> Reply {
    let arrived = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    let violation = |what: String| {
        shared.violations.lock().unwrap().push(what.clone());
        reply(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"errorType": "InvalidRequest", "errorMessage": what}),
        )
    };

    if method == "GET" && rest == "/invocation/next" {
        shared.first_next.lock().unwrap().get_or_insert(arrived);
        shared.next_requests.fetch_add(1, Ordering::SeqCst);
        let Some(next) = queue.lock().await.recv().await else {
            return reply(StatusCode::GONE, Value::Null);
        };
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + 15 * 60 * 1000;
        let mut response = reply(StatusCode::OK, next.event);
        let headers = response.headers_mut();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", next.id.clone()),
            ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                function_arn.to_string(),
            ),
            (
                "lambda-runtime-trace-id",
                format!("Root=1-00000000-{:0>24};Sampled=0", next.id.len()),
            ),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        return response;
    }
    if method != "POST" {
        return violation(format!("{method} {path}"));
    }

    let header = request
        .headers()
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = request.into_body();
    let json: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let reported = |body: Value| ReportedError {
        header: header.clone(),
        error_type: body["errorType"].as_str().map(str::to_string),
        error_message: body["errorMessage"].as_str().map(str::to_string),
        body,
    };

    if rest == "/init/error" {
        *shared.init_error.lock().unwrap() = Some(Completion {
            outcome: Outcome::InitError(reported(json)),
            at: arrived,
        });
        shared.init_error_posted.notify_waiters();
        return accepted();
    }
    let Some(invocation) = rest.strip_prefix("/invocation/") else {
        return violation(format!("POST {path}"));
    };
    let (id, outcome) = if let Some(id) = invocation.strip_suffix("/response") {
        (id, Outcome::Response(json))
    } else if let Some(id) = invocation.strip_suffix("/error") {
        (id, Outcome::Error(reported(json)))
    } else {
        return violation(format!("POST {path}"));
    };
    let Some(waiter) = shared.pending.lock().unwrap().remove(id) else {
        return violation(format!(
            "POST {path}: unknown or already answered request id"
        ));
    };
    let _ = waiter.send(Completion {
        outcome,
        at: arrived,
    });
    accepted()
}
