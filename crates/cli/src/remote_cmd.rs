//! `screener remote`: manual runs of the deployed workflow in AWS Step Functions.
//!
//! * `start [--date D]` starts an execution named `manual-D`. Step Functions refuses a second
//!   execution of one name (for 90 days), so a double click cannot start two runs for one day:
//!   the second start reports the first (its status and ARN) and what to do instead. `D`
//!   defaults to the last completed NYSE session, the day a scheduled run would screen now.
//! * `status [EXECUTION]` lists the recent executions, or shows one with its input, output
//!   and error.
//! * `redrive EXECUTION` restarts a failed, timed-out or aborted execution from the states that
//!   did not succeed (the batches already fetched are not fetched again).
//!
//! * `backtest --sweep FILE [--bars FILE]` starts the deployed backtest workflow on a sweep
//!   (its state machine from `--state-machine` or `SCREENER_BACKTEST_STATE_MACHINE_ARN`, the
//!   stack's `BacktestStateMachineArn` output); with `--bars` the file is uploaded first to the
//!   store (`--store` or `SCREENER_STORE`, the stack's bucket).
//!
//! The state machine comes from `--state-machine` or `SCREENER_STATE_MACHINE_ARN` (the stack's
//! `StateMachineArn` output); an execution is named by its ARN or by its name. AWS credentials
//! and region come from the usual places (environment, profile); `AWS_ENDPOINT_URL` points the
//! client elsewhere (the tests use a loopback server).
//!
//! Exit codes: 0 done (including "that day's run already exists"), 1 Step Functions refused or
//! failed, 2 usage error (no state machine given).

use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use screener_aws::{Execution, SfnClient, SfnError, StartOutcome};
use screener_core::workflow::WorkflowInput;

/// Where the state machine's ARN is read from when `--state-machine` is not given.
pub const STATE_MACHINE_VARIABLE: &str = "SCREENER_STATE_MACHINE_ARN";
/// The backtest state machine's ARN when `remote backtest --state-machine` is not given.
pub const BACKTEST_STATE_MACHINE_VARIABLE: &str = "SCREENER_BACKTEST_STATE_MACHINE_ARN";

#[derive(Debug, clap::Subcommand)]
pub enum RemoteCommand {
    /// Start the deployed workflow for one day, as the execution manual-DATE.
    #[command(
        after_help = "A second start for the same day starts nothing: it reports the existing execution.\n\nExamples:\n  screener remote start                    # the last completed session\n  screener remote start --date 2025-06-13\n  screener remote start --date 2025-06-13 --name manual-2025-06-13-again"
    )]
    Start(StartArgs),
    /// Show the recent executions, or one execution in detail.
    #[command(
        after_help = "Examples:\n  screener remote status\n  screener remote status manual-2025-06-13"
    )]
    Status(StatusArgs),
    /// Redrive a failed, timed-out or aborted execution from where it stopped.
    #[command(after_help = "Example:\n  screener remote redrive manual-2025-06-13")]
    Redrive(RedriveArgs),
    /// Start the deployed backtest workflow on a sweep file (docs/backtest-sweeps.md).
    #[command(
        after_help = "Example:\n  screener remote backtest --sweep events/backtest-sweep.toml --bars bars.parquet --store s3://BUCKET/PREFIX"
    )]
    Backtest(BacktestArgs),
}

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// The backtest state machine's ARN [env SCREENER_BACKTEST_STATE_MACHINE_ARN; the stack output BacktestStateMachineArn]
    #[arg(long, value_name = "ARN")]
    pub state_machine: Option<String>,
    /// The sweep (TOML)
    #[arg(long, value_name = "FILE")]
    pub sweep: std::path::PathBuf,
    /// A bars file to upload to the store first (uploads/NAME); the sweep then runs on it
    #[arg(long, value_name = "FILE")]
    pub bars: Option<std::path::PathBuf>,
    /// The store the Lambdas use, s3://BUCKET/PREFIX (for --bars) [env SCREENER_STORE]
    #[arg(long, value_name = "LOCATION")]
    pub store: Option<String>,
    /// Execution name [default: the sweep's name and the time]
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct MachineArg {
    /// The state machine's ARN [env SCREENER_STATE_MACHINE_ARN; the stack output StateMachineArn]
    #[arg(long, value_name = "ARN")]
    pub state_machine: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub machine: MachineArg,
    /// Screen as of this date, YYYY-MM-DD [default: the last completed NYSE session]
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Execution name [default: manual-DATE]. Give another to run a day that already has one.
    #[arg(long)]
    pub name: Option<String>,
    /// Only the first N symbols of the universe
    #[arg(long, value_name = "N")]
    pub max_symbols: Option<usize>,
    /// Exactly these symbols (comma-separated) instead of the universe
    #[arg(long, value_name = "SYMBOLS", value_delimiter = ',')]
    pub symbols: Option<Vec<String>>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub machine: MachineArg,
    /// One execution to show in detail: its name or ARN
    pub execution: Option<String>,
    /// How many recent executions to list
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
}

#[derive(Debug, clap::Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    pub machine: MachineArg,
    /// The execution: its name (e.g. manual-2025-06-13) or ARN
    pub execution: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "which state machine? Give --state-machine ARN or set {STATE_MACHINE_VARIABLE} (the stack's StateMachineArn output: sam list stack-outputs)"
    )]
    NoStateMachine,
    #[error(
        "{0:?} is not a standard state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME), so execution names cannot be resolved; give the execution's ARN"
    )]
    NotAStateMachineArn(String),
}

impl MachineArg {
    /// `--state-machine`, else `SCREENER_STATE_MACHINE_ARN`.
    pub fn resolve(&self) -> Result<String, UsageError> {
        self.state_machine
            .clone()
            .or_else(|| std::env::var(STATE_MACHINE_VARIABLE).ok())
            .map(|arn| arn.trim().to_string())
            .filter(|arn| !arn.is_empty())
            .ok_or(UsageError::NoStateMachine)
    }
}

/// The execution name a manual run of `date` gets.
pub fn manual_name(date: NaiveDate) -> String {
    format!("manual-{date}")
}

/// The ARN of execution `name` of a standard state machine:
/// `arn:aws:states:R:A:stateMachine:M` gives `arn:aws:states:R:A:execution:M:NAME`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Result<String, UsageError> {
    screener_aws::execution_arn(state_machine_arn, name)
        .filter(|_| state_machine_arn.starts_with("arn:"))
        .ok_or_else(|| UsageError::NotAStateMachineArn(state_machine_arn.to_string()))
}

/// An execution given by ARN is used as is; a name is resolved against the state machine.
fn resolve_execution(machine: &MachineArg, execution: &str) -> Result<String, UsageError> {
    if execution.starts_with("arn:") {
        Ok(execution.to_string())
    } else {
        execution_arn(&machine.resolve()?, execution)
    }
}

/// Runs a `remote` subcommand. Usage errors are `Err` (the binary exits 2); a refusal or
/// failure of Step Functions is reported here and exits 1.
pub async fn run(command: RemoteCommand) -> anyhow::Result<ExitCode> {
    let config = screener_aws::aws_config(None).await;
    let sfn = SfnClient::from_config(&config);
    let result = match command {
        RemoteCommand::Start(args) => start(&sfn, args).await?,
        RemoteCommand::Status(args) => status(&sfn, args).await?,
        RemoteCommand::Redrive(args) => redrive(&sfn, args).await?,
        RemoteCommand::Backtest(args) => backtest(&sfn, args).await?,
    };
    Ok(match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    })
}

/// What a subcommand prints: `Ok(stdout)` or `Err(the refusal, for stderr)`.
type Outcome = Result<String, String>;

async fn start(sfn: &SfnClient, args: StartArgs) -> Result<Outcome, UsageError> {
    let machine = args.machine.resolve()?;
    let date = args
        .date
        .unwrap_or_else(|| fetch_universe::last_completed_session(Utc::now()));
    let name = args.name.unwrap_or_else(|| manual_name(date));
    let input = WorkflowInput {
        date: Some(date),
        max_symbols: args.max_symbols,
        symbols: args.symbols,
    };
    let input = serde_json::to_string(&input).expect("the workflow input serializes");
    let outcome = match sfn.start_execution(&machine, &name, &input).await {
        Ok(outcome) => outcome,
        Err(error) => return Ok(Err(format!("starting {name} on {machine}: {error}"))),
    };
    let mut out = String::new();
    match outcome {
        StartOutcome::Started { execution_arn } => {
            let _ = writeln!(out, "started {name}: the screen of {date}");
            let _ = writeln!(out, "  {execution_arn}");
            let _ = writeln!(out, "follow it: screener remote status {name}");
        }
        StartOutcome::AlreadyRunning {
            execution_arn,
            status,
        } => {
            let _ = writeln!(
                out,
                "not started: an execution named {name} already exists ({status})"
            );
            let _ = writeln!(out, "  {execution_arn}");
            let hint = match status.as_str() {
                "RUNNING" | "PENDING_REDRIVE" => {
                    format!("it is still running; follow it: screener remote status {name}")
                }
                "SUCCEEDED" => format!(
                    "{date} already has a successful run; to run it again anyway: screener remote start --date {date} --name {name}-2"
                ),
                _ => format!(
                    "to finish it from where it stopped: screener remote redrive {name}\nto start over instead: screener remote start --date {date} --name {name}-2"
                ),
            };
            let _ = writeln!(out, "{hint}");
        }
    }
    Ok(Ok(out))
}

async fn backtest(sfn: &SfnClient, args: BacktestArgs) -> anyhow::Result<Outcome> {
    let machine = args
        .state_machine
        .clone()
        .or_else(|| std::env::var(BACKTEST_STATE_MACHINE_VARIABLE).ok())
        .filter(|arn| !arn.trim().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "which state machine? Give --state-machine ARN or set {BACKTEST_STATE_MACHINE_VARIABLE} (the stack's BacktestStateMachineArn output)"
            )
        })?;
    let mut request = crate::sweep_cmd::read_sweep(&args.sweep)?;
    if let Some(bars) = &args.bars {
        let config = crate::config_with(&[("SCREENER_STORE", args.store.clone())])?;
        let deps = screener_composition::build_deps(&config).await?;
        request.bars = crate::sweep_cmd::upload_bars(deps.store.as_ref(), bars).await?;
    }
    // Refused here rather than by the plan step in AWS.
    let planned = request
        .plan("check")
        .map_err(|e| crate::DataError(anyhow::anyhow!("{}: {e}", args.sweep.display())))?;
    let name = args.name.unwrap_or_else(|| {
        format!(
            "{}-{}",
            backtest_plan::sweep_id(request.name.as_deref().unwrap_or("sweep")),
            Utc::now().format("%Y%m%dT%H%M%SZ")
        )
    });
    let input = serde_json::to_string(&request).expect("the sweep serializes");
    Ok(match sfn.start_execution(&machine, &name, &input).await {
        Ok(StartOutcome::Started { execution_arn }) => Ok(format!(
            "started {name}: {} variants, {} items\n  {execution_arn}\nfollow it: screener remote status --state-machine {machine} {name}\nresults: backtests/{}/ in the store\n",
            planned.variants.len(),
            planned.items.len(),
            backtest_plan::sweep_id(&name)
        )),
        Ok(StartOutcome::AlreadyRunning {
            execution_arn,
            status,
        }) => Err(format!(
            "not started: an execution named {name} already exists ({status}): {execution_arn}"
        )),
        Err(error) => Err(format!("starting {name} on {machine}: {error}")),
    })
}

async fn status(sfn: &SfnClient, args: StatusArgs) -> Result<Outcome, UsageError> {
    if let Some(execution) = &args.execution {
        let arn = resolve_execution(&args.machine, execution)?;
        return Ok(match sfn.describe_execution(&arn).await {
            Ok(found) => Ok(describe(&found)),
            Err(error) => Err(format!("describing {arn}: {error}")),
        });
    }
    let machine = args.machine.resolve()?;
    let executions = match sfn.list_executions(&machine, args.limit.max(1)).await {
        Ok(list) => list,
        Err(error) => return Ok(Err(format!("listing the executions of {machine}: {error}"))),
    };
    let mut out = String::new();
    if executions.is_empty() {
        let _ = writeln!(out, "no executions of {machine} yet");
        return Ok(Ok(out));
    }
    let width = executions.iter().map(|e| e.name.len()).max().unwrap_or(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:<15}  {:<20}  {:<20}",
        "NAME", "STATUS", "STARTED", "STOPPED"
    );
    for e in &executions {
        let _ = writeln!(
            out,
            "{:<width$}  {:<15}  {:<20}  {:<20}",
            e.name,
            e.status,
            time(e.start),
            time(e.stop)
        );
    }
    Ok(Ok(out))
}

async fn redrive(sfn: &SfnClient, args: RedriveArgs) -> Result<Outcome, UsageError> {
    let arn = resolve_execution(&args.machine, &args.execution)?;
    Ok(match sfn.redrive_execution(&arn).await {
        Ok(at) => {
            let mut out = String::new();
            let _ = writeln!(out, "redrive accepted at {}", time(at));
            let _ = writeln!(out, "  {arn}");
            let _ = writeln!(out, "follow it: screener remote status {}", args.execution);
            Ok(out)
        }
        Err(error @ SfnError::NotRedrivable { .. }) => Err(format!(
            "{error}\n(only a FAILED, TIMED_OUT or ABORTED execution that stopped less than 14 days ago can be redriven)"
        )),
        Err(error) => Err(format!("redriving {arn}: {error}")),
    })
}

fn describe(e: &Execution) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "name:    {}", e.name);
    let _ = writeln!(out, "status:  {}", e.status);
    let _ = writeln!(out, "arn:     {}", e.execution_arn);
    let _ = writeln!(out, "started: {}", time(e.start));
    let _ = writeln!(out, "stopped: {}", time(e.stop));
    for (label, value) in [
        ("input", &e.input),
        ("output", &e.output),
        ("error", &e.error),
        ("cause", &e.cause),
    ] {
        if let Some(value) = value {
            let _ = writeln!(out, "{label}:{:pad$}{value}", "", pad = 8 - label.len());
        }
    }
    if matches!(e.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        let _ = writeln!(
            out,
            "redrive it from where it stopped: screener remote redrive {}",
            e.name
        );
    }
    out
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_run_is_named_after_its_date() {
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        assert_eq!(manual_name(date), "manual-2025-06-13");
    }

    #[test]
    fn an_execution_name_resolves_against_a_standard_state_machine_arn_only() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:eu-west-1:123456789012:stateMachine:Screener-abc",
                "manual-2025-06-13"
            )
            .unwrap(),
            "arn:aws:states:eu-west-1:123456789012:execution:Screener-abc:manual-2025-06-13"
        );
        // A version or alias ARN has no single execution namespace to resolve a name in.
        assert!(
            execution_arn(
                "arn:aws:states:eu-west-1:123456789012:stateMachine:Screener:live",
                "x"
            )
            .is_err()
        );
        assert!(execution_arn("Screener", "x").is_err());
    }

    #[test]
    fn an_execution_arn_is_used_as_given_and_needs_no_state_machine() {
        let machine = MachineArg {
            state_machine: Some("arn:aws:states:us-east-1:1:stateMachine:m".into()),
        };
        let arn = "arn:aws:states:us-east-1:1:execution:other:run";
        assert_eq!(resolve_execution(&machine, arn).unwrap(), arn);
        assert_eq!(
            resolve_execution(&machine, "run").unwrap(),
            "arn:aws:states:us-east-1:1:execution:m:run"
        );
    }

    #[test]
    fn a_failed_execution_is_described_with_its_cause_and_how_to_redrive_it() {
        let text = describe(&Execution {
            execution_arn: "arn:aws:states:us-east-1:1:execution:m:manual-2025-06-13".into(),
            name: "manual-2025-06-13".into(),
            status: "FAILED".into(),
            start: DateTime::from_timestamp(1_749_852_000, 0),
            stop: None,
            input: Some(r#"{"date":"2025-06-13"}"#.into()),
            output: None,
            error: Some("Screen.NothingValid".into()),
            cause: Some("no symbol passed validation".into()),
        });
        assert!(text.contains("status:  FAILED"), "{text}");
        assert!(text.contains("started: 2025-06-13 22:00:00"), "{text}");
        assert!(text.contains("stopped: -"), "{text}");
        assert!(text.contains("error:   Screen.NothingValid"), "{text}");
        assert!(
            text.contains("cause:   no symbol passed validation"),
            "{text}"
        );
        assert!(!text.contains("output:"), "{text}");
        assert!(
            text.contains("screener remote redrive manual-2025-06-13"),
            "{text}"
        );
    }
}
