//! `screener bot serve` and `screener invoke bot`: the Telegram bot's webhook handler
//! ([`bot::handle`], the very function the Lambda runs) on this machine.
//!
//! Configuration is the environment the Lambda gets, with the `TELEGRAM_*` variables standing
//! in for the SSM parameters: `TELEGRAM_SECRET_TOKEN`, `TELEGRAM_ALLOWED_CHAT_IDS`,
//! `TELEGRAM_ADMIN_CHAT_IDS`, `TELEGRAM_BOT_TOKEN` (for long replies) and `TELEGRAM_API_URL`.
//! `/rerun` runs the workflow in-process on the same store, and so does `/backtest` with the
//! backtest workflow.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use bot::BotDeps;
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use screener_core::backtest::SweepRequest;
use screener_core::config::Config;
use screener_core::ports::{
    BacktestError, BacktestState, Backtests, Rerun, RerunError, RerunOutcome, execution_name,
};
use screener_core::workflow::WorkflowInput;
use screener_states::ExecutionOptions;

use crate::runner::{SCREENER_ASL, load_definition, run_workflow};
use crate::steps::LocalInvoker;

#[derive(Subcommand)]
pub enum BotCommand {
    /// Serve the bot's webhook at POST /webhook (what Telegram or a test posts updates to).
    #[command(
        after_help = "Environment:\n  TELEGRAM_SECRET_TOKEN      the webhook secret (X-Telegram-Bot-Api-Secret-Token); required\n  TELEGRAM_ALLOWED_CHAT_IDS  comma-separated chat ids that get answers (none: nobody)\n  TELEGRAM_ADMIN_CHAT_IDS    comma-separated chat ids that may /rerun\n  TELEGRAM_BOT_TOKEN         the bot token, for replies longer than one message\n  TELEGRAM_API_URL           Bot API base URL [default https://api.telegram.org]\n\nExample:\n  TELEGRAM_SECRET_TOKEN=s3cret TELEGRAM_ALLOWED_CHAT_IDS=12345 \\\n    screener bot serve --listen 127.0.0.1:8080 --data-dir screener-data"
    )]
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The results to answer from: the directory `screener run` wrote [env SCREENER_STORE, default ./screener-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `/rerun` on this machine: runs the workflow in the background on the bot's store. A second
/// request under the same execution name (same date, same day) starts nothing.
pub struct LocalRerun {
    config: Config,
    started: Mutex<HashSet<String>>,
}

impl LocalRerun {
    pub fn new(config: Config) -> Self {
        LocalRerun {
            config,
            started: Mutex::new(HashSet::new()),
        }
    }
}

#[async_trait]
impl Rerun for LocalRerun {
    async fn rerun(&self, date: Option<NaiveDate>) -> Result<RerunOutcome, RerunError> {
        let name = execution_name(date, Utc::now().date_naive());
        if !self.started.lock().unwrap().insert(name.clone()) {
            return Ok(RerunOutcome::AlreadyRunning {
                name,
                status: "started earlier by this server".into(),
            });
        }
        let deps = screener_composition::build_deps(&self.config)
            .await
            .map_err(|e| RerunError::NotConfigured(e.to_string()))?;
        let definition =
            load_definition(SCREENER_ASL).map_err(|e| RerunError::Failed(e.to_string()))?;
        let input = serde_json::to_value(WorkflowInput {
            date,
            ..WorkflowInput::default()
        })
        .map_err(|e| RerunError::Failed(e.to_string()))?;
        let options = ExecutionOptions {
            execution_name: name.clone(),
            state_machine_name: "screener".into(),
            ..ExecutionOptions::default()
        };
        let run_name = name.clone();
        tokio::spawn(async move {
            let invoker = Arc::new(LocalInvoker { deps });
            let execution = run_workflow(&definition, input, invoker, options, false).await;
            match execution.failure() {
                None => tracing::info!(run = %run_name, "re-run finished and published"),
                Some(failure) => tracing::error!(run = %run_name, %failure, "re-run failed"),
            }
        });
        Ok(RerunOutcome::Started {
            name,
            detail: "running in-process on this machine".into(),
        })
    }
}

/// `/backtest` on this machine: the backtest workflow runs in the background on the bot's
/// store, through the same interpreter and handlers as `screener backtest --sweep`; its combine
/// step tells the chat through the configured Telegram API. What is running is known to this
/// process only: after a restart an earlier run is [`BacktestState::Unknown`], and `/status`
/// tells from the store whether it wrote its report.
pub struct LocalBacktests {
    config: Config,
    runs: Arc<Mutex<HashMap<String, BacktestState>>>,
}

impl LocalBacktests {
    pub fn new(config: Config) -> Self {
        LocalBacktests {
            config,
            runs: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

#[async_trait]
impl Backtests for LocalBacktests {
    async fn start(&self, name: &str, request: &SweepRequest) -> Result<String, BacktestError> {
        let deps = screener_composition::build_deps(&self.config)
            .await
            .map_err(|e| BacktestError::NotConfigured(e.to_string()))?;
        {
            // Marked running only once it can run: a run that never started must not hold the
            // chat's one-at-a-time slot.
            let mut runs = self.runs.lock().unwrap();
            if runs.contains_key(name) {
                return Err(BacktestError::AlreadyExists(name.to_string()));
            }
            runs.insert(name.to_string(), BacktestState::Running);
        }
        let mut request = request.clone();
        if request.max_concurrency == 0 {
            request.max_concurrency = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        let (config, runs, name) = (self.config.clone(), self.runs.clone(), name.to_string());
        tokio::spawn(async move {
            let invoker = Arc::new(LocalInvoker { deps: deps.clone() });
            let state = match crate::sweep_cmd::run_backtest_workflow(
                &config, &deps, &request, &name, invoker,
            )
            .await
            {
                Ok(execution) => match execution.failure() {
                    None => BacktestState::Succeeded,
                    Some(failure) => BacktestState::Failed {
                        error: failure.to_string(),
                    },
                },
                Err(e) => BacktestState::Failed {
                    error: e.to_string(),
                },
            };
            match &state {
                BacktestState::Failed { error } => {
                    tracing::error!(backtest = %name, %error, "backtest failed")
                }
                _ => tracing::info!(backtest = %name, "backtest finished"),
            }
            runs.lock().unwrap().insert(name, state);
        });
        Ok("running in-process on this machine".into())
    }

    async fn state(&self, name: &str) -> Result<BacktestState, BacktestError> {
        Ok(self
            .runs
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or(BacktestState::Unknown))
    }
}

/// The bot's dependencies for a local store directory (or `SCREENER_STORE`), built by the
/// composition root as the Lambda's are; only `/rerun` and `/backtest` differ (in-process,
/// [`LocalRerun`], [`LocalBacktests`]).
pub async fn local_deps(data_dir: Option<&Path>) -> anyhow::Result<BotDeps> {
    let config =
        crate::config_with(&[("SCREENER_STORE", data_dir.map(|d| d.display().to_string()))])?;
    let deps = screener_composition::build_deps(&config).await?;
    Ok(BotDeps::compose(
        &config,
        deps,
        Arc::new(LocalRerun::new(config.clone())),
        Arc::new(LocalBacktests::new(config.clone())),
    )
    .await?)
}

/// A secret's name as the user sets it: the environment variable that stands in for it
/// locally, and the SSM parameter.
fn described(params: &screener_core::config::ParamNames, name: &str) -> String {
    match params.env_mapping().get(name) {
        Some(variable) => format!("{variable}, or the SSM parameter {name}"),
        None => name.to_string(),
    }
}

pub async fn run(command: BotCommand) -> anyhow::Result<ExitCode> {
    match command {
        BotCommand::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let deps = Arc::new(local_deps(args.data_dir.as_deref()).await?);
    // Read as the bot will read them: through its secrets port (the `TELEGRAM_*` variables
    // locally, SSM with SCREENER_SECRETS=ssm).
    let params = &deps.settings.params;
    let is_set = async |name: &str| {
        deps.secrets
            .get(name)
            .await
            .is_ok_and(|v| !v.expose().trim().is_empty())
    };
    if !is_set(&params.secret_token).await {
        eprintln!(
            "warning: the webhook secret ({}) is not set: every update will be refused with 401",
            described(params, &params.secret_token)
        );
    }
    if !is_set(&params.allowed_chats).await {
        eprintln!(
            "warning: the allowed chats ({}) are not set: the bot answers nobody (it tells them how to configure it)",
            described(params, &params.allowed_chats)
        );
    }
    let (addr, server) = bot::server::spawn(args.listen, deps.clone())
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!(
        "screener bot: POST http://{addr}/webhook (results from {})",
        deps.store.locate("")
    );
    // Runs until interrupted (Ctrl-C ends the process).
    server
        .await
        .context("the server task")?
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

/// `screener invoke bot --event FILE`: the event is an API Gateway HTTP API event (headers and
/// body as the Lambda gets them; answered with the proxy response), or a bare Telegram update
/// (answered with the webhook's reply). A bare update is a trusted local call: it is handed
/// over with the configured secret token, as Telegram would send it.
pub async fn invoke(event_file: &Path, data_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(event_file)
        .with_context(|| format!("reading {}", event_file.display()))?;
    let event: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", event_file.display()))?;
    let deps = local_deps(data_dir).await?;
    let (request, api_gateway) = if bot::apigw::is_http_api_event(&event) {
        (bot::apigw::request_from_event(&event)?, true)
    } else {
        let secret = deps
            .secrets
            .get(&deps.settings.params.secret_token)
            .await
            .ok()
            .map(|s| s.expose().to_string());
        (
            bot::UpdateRequest {
                secret_token: secret,
                body: text.into_bytes(),
                origin: None,
            },
            false,
        )
    };
    let response = bot::handle(request, &deps).await;
    let output = if api_gateway {
        bot::apigw::response_to_event(&response)
    } else {
        serde_json::json!({
            "status": response.status,
            "body": serde_json::from_str::<serde_json::Value>(&response.body).unwrap_or_default(),
        })
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(if response.status < 300 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
