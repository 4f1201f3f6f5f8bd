//! Runs a compiled function binary as Lambda would: a fresh process with the environment the
//! Lambda service sets, a [`RuntimeApi`] of its own on loopback, and its output captured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::runtime_api::{Completion, InvokeError, RuntimeApi};

/// The workflow's functions in the order their `events/` files chain: each one's event reads
/// what the previous one wrote to the store.
pub const STEPS: [&str; 5] = [
    "fetch-universe",
    "fetch-bars",
    "validate",
    "screen",
    "publish",
];

/// The backtest workflow's functions, in the order their `events/` files chain (the plan's
/// first items are the shard's event, the plan's answer is combine's).
pub const BACKTEST_STEPS: [&str; 3] = ["backtest-plan", "backtest-shard", "backtest-combine"];

/// The Telegram bot's function: an API Gateway HTTP API webhook that answers from what publish
/// released, so it runs after the steps.
pub const BOT: &str = "bot";

/// The dashboard's function: pages under `/app` of the same HTTP API. Its event is the sign-in
/// page a `/dashboard` link opens (no session needed), so a start measures init and one page.
pub const WEB: &str = "web";

/// Every function binary of the daily workflow, the bot and the dashboard, in the order their
/// `events/` files chain.
pub const FUNCTIONS: [&str; 7] = [STEPS[0], STEPS[1], STEPS[2], STEPS[3], STEPS[4], BOT, WEB];

/// The `events/` file a function is fed: `bot-apigw.json` (a Telegram update wrapped in an API
/// Gateway HTTP API event) for the bot, `web-apigw.json` (`GET /app/signin?token=...`) for the
/// dashboard, `<step>.json` for the steps.
pub fn event_file(function: &str) -> String {
    match function {
        BOT => "bot-apigw.json".to_string(),
        WEB => "web-apigw.json".to_string(),
        step => format!("{step}.json"),
    }
}

/// The bot's and the dashboard's secrets as `SCREENER_SECRETS=env` reads them: the webhook
/// secret and the chat `events/bot-apigw.json` carries, a token the bot never needs (its answers
/// go back in the webhook response), and the dashboard's signing key.
pub fn bot_environment() -> BTreeMap<String, String> {
    [
        ("TELEGRAM_SECRET_TOKEN", "local-dev-secret"),
        ("TELEGRAM_ALLOWED_CHAT_IDS", "123456789"),
        ("TELEGRAM_BOT_TOKEN", "0:harness"),
        ("SCREENER_DASHBOARD_KEY", "harness-dashboard-key"),
        // Nothing listens here: a reply that had to go through the Bot API would fail loudly.
        ("TELEGRAM_API_URL", "http://127.0.0.1:9"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Names the directory holding the compiled function binaries (`target/debug`,
/// `target/release`, ...). `scripts/test` builds them and sets it.
pub const BIN_DIR_VARIABLE: &str = "SCREENER_LAMBDA_BIN_DIR";

/// Memory the template gives a function (`Globals.Function.MemorySize`).
const MEMORY_MB: &str = "256";

/// The variables the Lambda service sets for a custom runtime, minus credentials.
pub fn lambda_environment(function_name: &str, runtime_api: &str) -> BTreeMap<String, String> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "harness".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
        ("TZ", ":UTC".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The binary for `step` in `dir`, if it was built.
pub fn binary(dir: &Path, step: &str) -> Option<PathBuf> {
    let path = dir.join(step);
    path.is_file().then_some(path)
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("starting {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error(
        "the function process exited ({status}) before reporting an outcome; its output:\n{output}"
    )]
    Exited { status: ExitStatus, output: String },
    #[error("{error}; the function's output so far:\n{output}")]
    Invoke { error: InvokeError, output: String },
}

/// One function process and the Runtime API it talks to. Killed when dropped.
pub struct FunctionProcess {
    api: RuntimeApi,
    child: Child,
    started: Instant,
    output: Arc<Mutex<Vec<u8>>>,
}

impl FunctionProcess {
    /// Starts `binary` as function `function_name` with the Lambda environment plus `env`
    /// (and nothing inherited from this process).
    pub async fn start(
        binary: &Path,
        function_name: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<FunctionProcess, RunError> {
        let spawn_error = |source| RunError::Spawn {
            binary: binary.display().to_string(),
            source,
        };
        let api = RuntimeApi::start(function_name)
            .await
            .map_err(spawn_error)?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(lambda_environment(function_name, &api.address()))
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().map_err(spawn_error)?;
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            capture(stdout, output.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            capture(stderr, output.clone());
        }
        Ok(FunctionProcess {
            api,
            child,
            started,
            output,
        })
    }

    /// Sends one event and waits (at most `timeout`) for the function's outcome. A process that
    /// exits first is an error carrying its output, unless it posted an init error.
    pub async fn invoke(
        &mut self,
        event: Value,
        timeout: Duration,
    ) -> Result<Completion, RunError> {
        let outcome = tokio::select! {
            outcome = self.api.invoke(event, timeout) => outcome,
            status = self.child.wait() => {
                let status = status.map_err(|source| RunError::Spawn { binary: "the function".into(), source })?;
                // The init error may have been posted just before the exit.
                if let Some(completion) = self.api.init_error() {
                    return Ok(completion);
                }
                // Let the output readers drain.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(RunError::Exited { status, output: self.output() });
            }
        };
        outcome.map_err(|error| RunError::Invoke {
            error,
            output: self.output(),
        })
    }

    /// The runtime API the process talks to.
    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// From spawning the process to its first `next` request.
    pub fn init_duration(&self) -> Option<Duration> {
        self.api
            .first_next_at()
            .map(|at| at.saturating_duration_since(self.started))
    }

    /// From spawning the process to `at`.
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
    }

    /// The process's peak resident set so far (`VmHWM`), in KiB; Linux only.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Whether the process is still running (a function waits for its next event).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Ends the process (as Lambda does when it recycles a container) and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Appends everything `stream` yields to `output`, in the background.
fn capture<R>(mut stream: R, output: Arc<Mutex<Vec<u8>>>)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            output.lock().unwrap().extend_from_slice(&buffer[..n]);
        }
    });
}
