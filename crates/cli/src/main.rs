//! `screener`: the daily stock screener on your machine. Runs the Step Functions workflow
//! locally through the project's ASL interpreter, invokes single steps, and more.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use screener_cli::analytics_cmd::{IndicatorsArgs, ScreenArgs};
use screener_cli::bot_cmd::BotCommand;
use screener_cli::remote_cmd::RemoteCommand;
use screener_cli::runner::{self, SCREENER_ASL, SavedExecution, load_definition, run_workflow};
use screener_cli::states_cmd::StatesCommand;
use screener_cli::steps::{LocalInvoker, invoke_step};
use screener_cli::{config_with, summary};
use screener_core::workflow::WorkflowInput;
use screener_states::{
    Clock, ExecutionOptions, ExecutionRecord, ScaledClock, StateMachine, SystemClock,
};

#[derive(Parser)]
#[command(
    name = "screener",
    version,
    about = "A daily US-equity stock screener: an AWS Step Functions workflow of Rust Lambdas that also runs entirely on your machine.",
    after_help = "Examples:\n  screener run                          # the whole workflow on the built-in synthetic market\n  screener run --source csv:prices.csv  # on your own daily bars\n  screener invoke fetch-universe --event events/fetch-universe.json\n\nConfiguration comes from SCREENER_* environment variables; flags override them (see README)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole daily workflow locally, from statemachine/screener.asl.json.
    #[command(
        after_help = "Examples:\n  screener run\n  screener run --date 2025-06-13 --symbols 5000\n  screener run --source csv:../shared/data/sp500_5yr.csv.gz --date 2018-02-07\n  screener run --store s3://my-bucket/screener   # results in S3 instead of a directory"
    )]
    Run(RunArgs),
    /// Run one step's handler on an event file, as its Lambda would, and print its output.
    #[command(
        after_help = "Steps: fetch-universe, fetch-bars, validate, screen, publish; and bot (a Telegram update or API Gateway event, events/telegram-update.json).\nThe events/ files chain: fetch-universe writes the batch that events/fetch-bars.json reads, and so on.\n\nExample:\n  screener invoke fetch-universe --event events/fetch-universe.json"
    )]
    Invoke(InvokeArgs),
    /// The Telegram bot on this machine: serve its webhook over HTTP (see docs/bot.md).
    #[command(subcommand)]
    Bot(BotCommand),
    /// Validate or run any Amazon States Language definition with the local interpreter.
    #[command(subcommand)]
    States(StatesCommand),
    /// Start, watch and redrive runs of the deployed workflow in AWS Step Functions.
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Compute every indicator for every (symbol, date) of a bars file (CSV or Parquet).
    Indicators(IndicatorsArgs),
    /// Screen every symbol of a bars file on its latest bar: metrics, pass/rank per screen.
    Screen(ScreenArgs),
    /// Backtest screens over a bars file or a market data source (shared/specs/backtest.md): portfolios, benchmark, factor analysis.
    Backtest(screener_cli::backtest_cmd::BacktestArgs),
    /// Serve the dashboard (today's screens, symbols, history, backtests) over a store, and print a single-use sign-in link.
    #[command(
        after_help = "Examples:\n  screener dashboard --data-dir screener-data --listen 127.0.0.1:8080\n  screener dashboard --store s3://my-bucket/screener"
    )]
    Dashboard(screener_cli::dashboard_cmd::DashboardArgs),
}

#[derive(Args)]
struct SourceArgs {
    /// Directory standing in for the S3 bucket [env SCREENER_STORE, default ./screener-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Store location, a directory or s3://BUCKET/PREFIX (overrides --data-dir) [env SCREENER_STORE]
    #[arg(long, value_name = "LOCATION")]
    store: Option<String>,
    /// Market data: synthetic | csv:PATH (a CSV file or directory) | alpaca [env SCREENER_SOURCE, default synthetic]
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
    /// Size of the synthetic market [env SCREENER_SYNTHETIC_SYMBOLS, default 500]
    #[arg(long, value_name = "N")]
    symbols: Option<usize>,
    /// Seed of the synthetic market [env SCREENER_SYNTHETIC_SEED]
    #[arg(long)]
    seed: Option<u64>,
    /// Symbols per Map iteration [env SCREENER_BATCH_SIZE, default 100]
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// A screens TOML file instead of the built-in screens [env SCREENER_SCREENS_FILE]
    #[arg(long, value_name = "FILE")]
    screens: Option<PathBuf>,
}

impl SourceArgs {
    fn config(&self) -> anyhow::Result<screener_core::config::Config> {
        let store = self
            .store
            .clone()
            .or_else(|| self.data_dir.as_ref().map(|d| d.display().to_string()));
        Ok(config_with(&[
            ("SCREENER_STORE", store),
            ("SCREENER_SOURCE", self.source.clone()),
            (
                "SCREENER_SYNTHETIC_SYMBOLS",
                self.symbols.map(|n| n.to_string()),
            ),
            ("SCREENER_SYNTHETIC_SEED", self.seed.map(|n| n.to_string())),
            (
                "SCREENER_BATCH_SIZE",
                self.batch_size.map(|n| n.to_string()),
            ),
            (
                "SCREENER_SCREENS_FILE",
                self.screens.as_ref().map(|p| p.display().to_string()),
            ),
        ])?)
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Screen as of this date, YYYY-MM-DD [default: the last completed NYSE session]
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Only the first N symbols of the universe
    #[arg(long, value_name = "N")]
    max_symbols: Option<usize>,
    /// Another state machine definition instead of the built-in statemachine/screener.asl.json
    #[arg(long, value_name = "FILE")]
    definition: Option<PathBuf>,
    /// Divide Wait and Retry back-off times by this factor (1 = real time)
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Execution name (the run id) [default: local-DATE-TIME]
    #[arg(long)]
    name: Option<String>,
    /// No progress lines; only the summary
    #[arg(long, short)]
    quiet: bool,
    /// Finish the failed run RUN from where it failed, as a Step Functions redrive does: states
    /// that succeeded are not run again (in a Map, only the failed iterations are), and the
    /// redrive count goes up. Runs keep their record in the store (runs/RUN/execution.json).
    #[arg(
        long,
        value_name = "RUN",
        conflicts_with_all = ["date", "max_symbols", "definition", "name"]
    )]
    redrive: Option<String>,
}

#[derive(Args)]
struct InvokeArgs {
    /// The step: fetch-universe, fetch-bars, validate, screen, publish, backtest-plan, backtest-shard or backtest-combine
    step: String,
    /// The event (step input) as a JSON file
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    #[command(flatten)]
    source: SourceArgs,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCREENER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
        Command::Invoke(args) if args.step == "bot" => {
            let dir = (args.source.store.clone().map(PathBuf::from)).or(args.source.data_dir);
            screener_cli::bot_cmd::invoke(&args.event, dir.as_deref()).await
        }
        Command::Invoke(args) => invoke(args).await,
        Command::Bot(command) => screener_cli::bot_cmd::run(command).await,
        Command::States(command) => states(command).await,
        Command::Remote(command) => screener_cli::remote_cmd::run(command).await,
        Command::Indicators(args) => screener_cli::analytics_cmd::run_indicators(args),
        Command::Screen(args) => screener_cli::analytics_cmd::run_screen(args),
        Command::Backtest(args) => screener_cli::backtest_cmd::run_backtest(args).await,
        Command::Dashboard(args) => screener_cli::dashboard_cmd::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            screener_cli::exit_code_for(&error)
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.source.config()?;
    let deps = screener_composition::build_deps(&config).await?;
    anyhow::ensure!(args.time_scale >= 1.0, "--time-scale must be at least 1");
    let clock: Arc<dyn Clock> = if args.time_scale > 1.0 {
        Arc::new(ScaledClock::new(args.time_scale))
    } else {
        Arc::new(SystemClock)
    };
    if !args.quiet {
        eprintln!(
            "screener: {} -> {}",
            deps.market.source().description,
            deps.store.locate("")
        );
    }
    let invoker = Arc::new(LocalInvoker { deps: deps.clone() });
    let (execution, saved) = match &args.redrive {
        Some(run_id) => {
            let mut saved = saved_execution(&deps, run_id).await?;
            let definition = StateMachine::from_value(&saved.definition)
                .with_context(|| format!("the definition recorded for {run_id}"))?;
            let options = ExecutionOptions {
                execution_name: saved.execution.execution_name.clone(),
                state_machine_name: saved.execution.state_machine_name.clone(),
                clock,
                observer: (!args.quiet).then(runner::progress_lines),
                ..ExecutionOptions::default()
            };
            let execution =
                screener_states::redrive(&definition, &saved.execution, invoker, options.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot redrive {run_id}: {e}"))?;
            saved.execution = ExecutionRecord::new(&execution, &saved.execution.input, &options);
            (execution, saved)
        }
        None => {
            let definition_text = match &args.definition {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
                None => SCREENER_ASL.to_string(),
            };
            let definition_json = runner::definition_value(&definition_text)?;
            let definition = load_definition(&definition_text)?;
            let name = args.name.clone().unwrap_or_else(|| {
                format!(
                    "local-{}-{}",
                    args.date
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "latest".into()),
                    Utc::now().format("%Y%m%dT%H%M%S%3f")
                )
            });
            let input = serde_json::to_value(WorkflowInput {
                date: args.date,
                max_symbols: args.max_symbols,
                symbols: None,
            })?;
            let options = ExecutionOptions {
                execution_name: name,
                state_machine_name: "screener".into(),
                clock,
                ..ExecutionOptions::default()
            };
            let execution = run_workflow(
                &definition,
                input.clone(),
                invoker,
                options.clone(),
                !args.quiet,
            )
            .await;
            let saved = SavedExecution {
                definition: definition_json,
                execution: ExecutionRecord::new(&execution, &input, &options),
            };
            (execution, saved)
        }
    };
    // The record a later `--redrive` finishes from; a run that cannot keep it still ran.
    let run_id = &saved.execution.execution_name;
    let record = serde_json::to_vec(&saved).expect("an execution record serializes");
    if let Err(e) = deps
        .store
        .put(&runner::execution_key(run_id), record, "application/json")
        .await
    {
        eprintln!("warning: the run's record could not be kept, so it cannot be redriven: {e}");
    }
    if let Some(failure) = execution.failure() {
        eprintln!(
            "error: the run failed: {failure}\nThe last published result (results/latest.json) is unchanged.\nTo finish it from where it failed: screener run --redrive {run_id} (with the same --data-dir/--store and --source)"
        );
        return Ok(ExitCode::from(1));
    }
    match summary::published_summary(&deps, 10).await {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("warning: the run succeeded but its summary could not be read: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The record `screener run` kept of run `run_id`.
async fn saved_execution(
    deps: &screener_core::Deps,
    run_id: &str,
) -> anyhow::Result<SavedExecution> {
    let key = runner::execution_key(run_id);
    let bytes = match deps.store.get(&key).await {
        Ok(bytes) => bytes,
        Err(screener_core::ports::StoreError::NotFound { .. }) => anyhow::bail!(
            "no run {run_id} to redrive in {}: {key} is missing (check --data-dir/--store; runs of screener run keep it, runs/ expires after 14 days in AWS)",
            deps.store.locate("")
        ),
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&bytes).with_context(|| format!("{key} is not an execution record"))
}

async fn invoke(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let config = args.source.config()?;
    let deps = screener_composition::build_deps(&config).await?;
    let text = std::fs::read_to_string(&args.event)
        .with_context(|| format!("reading {}", args.event.display()))?;
    let event: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.event.display()))?;
    match invoke_step(&args.step, event, &deps).await {
        Ok(output) => {
            println!("{}", serde_json::to_string_pretty(&output)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(screener_cli::steps::InvokeError::Step(error)) => {
            println!(
                "{}",
                serde_json::json!({"errorType": error.name(), "errorMessage": error.to_string()})
            );
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.into()),
    }
}

/// `screener states ...`: our functions' ARNs are filled in unless `--sub` gives others, and
/// their Tasks run in-process on the configured store and market. (A redrive runs the
/// definition its record saved, substitutions applied.)
async fn states(mut command: StatesCommand) -> anyhow::Result<ExitCode> {
    if let StatesCommand::Validate { substitutions, .. }
    | StatesCommand::Run { substitutions, .. } = &mut command
    {
        for (key, arn) in screener_cli::steps::local_substitutions() {
            if !substitutions
                .iter()
                .any(|s| s.starts_with(&format!("{key}=")))
            {
                substitutions.push(format!("{key}={arn}"));
            }
        }
    }
    let config = config_with(&[])?;
    let deps = screener_composition::build_deps(&config).await?;
    Ok(screener_cli::states_cmd::run(command, Arc::new(LocalInvoker { deps })).await)
}
