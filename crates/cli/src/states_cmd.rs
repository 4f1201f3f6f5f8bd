//! `screener states`: validate and run Amazon States Language definitions
//! locally with the `screener-states` interpreter.
//!
//! `validate` lists every problem (each naming the state and the field) and
//! exits 2 when there are any; `run` executes the definition with Task states
//! served by the invoker the binary wires in, prints the output (exit 0) or
//! `{"Error": .., "Cause": ..}` (exit 1; a field the failure lacks is left
//! out, as AWS does), and shows retries and Map progress
//! on stderr as they happen. Definition or usage errors exit 2.
//!
//! `${Name}` placeholders (SAM's DefinitionSubstitutions) are filled from
//! `--sub Name=Value`; Lambda-style placeholders left unset are an error.
//!
//! A Distributed Map reads its `ItemReader` objects and writes its
//! `ResultWriter` files through an object store: with `--s3-root DIR`,
//! `s3://BUCKET/KEY` is the file `DIR/BUCKET/KEY`; with `--s3`, S3 itself
//! through the AWS SDK. `--history` prints the
//! execution's events, then each Map Run and each of its child executions
//! with their own events.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use screener_states::{
    DirectoryStore, Execution, ExecutionOptions, ExecutionRecord, ExecutionStatus, Fault,
    HistoryEvent, MapRun, ObjectStore, RETRY_SCHEDULED, StateMachine, SystemClock, TaskInvoker,
};

use crate::runner::SavedExecution;

#[derive(Debug, clap::Subcommand)]
pub enum StatesCommand {
    /// Check a state machine definition without running it.
    ///
    /// Example: screener states validate statemachine/screener.asl.json
    #[command(
        after_help = "Example:\n  screener states validate statemachine/screener.asl.json \\\n    --sub FetchBarsFunctionArn=arn:aws:lambda:us-east-1:123456789012:function:fetch-bars"
    )]
    Validate {
        /// The ASL JSON file.
        file: PathBuf,
        /// A DefinitionSubstitutions value, `Name=Value` (repeatable).
        #[arg(long = "sub", value_name = "NAME=VALUE")]
        substitutions: Vec<String>,
    },
    /// Run a state machine locally and print its output.
    #[command(
        after_help = "Examples:\n  screener states run statemachine/screener.asl.json --input '{\"date\": \"2024-06-03\"}'\n  screener states run statemachine/screener.asl.json --input @events/workflow.json --history\n  screener states run batches.asl.json --input '{\"key\": \"in/rows.csv\"}' --s3-root ./s3"
    )]
    Run {
        /// The ASL JSON file.
        file: PathBuf,
        /// The execution input: inline JSON, or @FILE to read it from a file.
        #[arg(long, default_value = "{}", value_name = "JSON|@FILE")]
        input: String,
        /// Print the execution history (AWS's event shape) to stderr after the run,
        /// then each Distributed Map's Map Run and its child executions.
        #[arg(long)]
        history: bool,
        /// A directory standing in for S3 (`s3://BUCKET/KEY` is DIR/BUCKET/KEY), where
        /// Distributed Maps read ItemReader objects and write ResultWriter files.
        #[arg(long, value_name = "DIR", conflicts_with = "s3")]
        s3_root: Option<PathBuf>,
        /// Distributed Maps read and write `s3://` objects in S3 itself, through the AWS SDK
        /// (credentials, region and AWS_ENDPOINT_URL from the environment, as the AWS CLI).
        #[arg(long)]
        s3: bool,
        /// A DefinitionSubstitutions value, `Name=Value` (repeatable).
        #[arg(long = "sub", value_name = "NAME=VALUE")]
        substitutions: Vec<String>,
        /// The execution name, as `$$.Execution.Name` sees it.
        #[arg(long, default_value = "local")]
        name: String,
        /// Save the execution (definition, input, history, Map Runs, where it stopped)
        /// to FILE, for `screener states redrive FILE`.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
    /// Run a failed, timed-out or aborted execution again from where it stopped.
    ///
    /// States that succeeded are not run again; in a Distributed Map only the
    /// failed and pending child executions run. The record is updated in place.
    #[command(
        after_help = "Example:\n  screener states run batches.asl.json --s3-root ./s3 --record run.json\n  screener states redrive run.json --s3-root ./s3"
    )]
    Redrive {
        /// The record `screener states run --record FILE` saved.
        file: PathBuf,
        /// Print the whole execution history (the earlier events too) after the run.
        #[arg(long)]
        history: bool,
        /// A directory standing in for S3 (`s3://BUCKET/KEY` is DIR/BUCKET/KEY).
        #[arg(long, value_name = "DIR", conflicts_with = "s3")]
        s3_root: Option<PathBuf>,
        /// `s3://` objects in S3 itself, through the AWS SDK.
        #[arg(long)]
        s3: bool,
    },
}

/// Execute a `states` subcommand; returns the process exit code.
pub async fn run(cmd: StatesCommand, invoker: Arc<dyn TaskInvoker>) -> ExitCode {
    match cmd {
        StatesCommand::Validate {
            file,
            substitutions,
        } => match load(&file, &substitutions) {
            Ok(_) => {
                println!("{}: valid", file.display());
                ExitCode::SUCCESS
            }
            Err(msg) => {
                eprintln!("{msg}");
                ExitCode::from(2)
            }
        },
        StatesCommand::Run {
            file,
            input,
            history,
            s3_root,
            s3,
            substitutions,
            name,
            record,
        } => {
            let machine = match load(&file, &substitutions) {
                Ok(m) => m,
                Err(msg) => {
                    eprintln!("{msg}");
                    return ExitCode::from(2);
                }
            };
            let input = match read_input(&input) {
                Ok(v) => v,
                Err(msg) => {
                    eprintln!("{msg}");
                    return ExitCode::from(2);
                }
            };
            let object_store = match store_at(s3_root, s3).await {
                Ok(store) => store,
                Err(msg) => {
                    eprintln!("{msg}");
                    return ExitCode::from(2);
                }
            };
            let state_machine_name = file
                .file_stem()
                .and_then(|s| s.to_str())
                .map(|s| s.trim_end_matches(".asl").to_owned())
                .unwrap_or_else(|| "local".into());
            let options = ExecutionOptions {
                execution_name: name,
                state_machine_name,
                clock: Arc::new(SystemClock),
                observer: Some(progress()),
                object_store,
                ..Default::default()
            };
            let execution =
                screener_states::execute(&machine, input.clone(), invoker, options.clone()).await;
            if let Some(path) = record {
                let saved =
                    definition_json(&file, &substitutions).map(|definition| SavedExecution {
                        definition,
                        execution: ExecutionRecord::new(&execution, &input, &options),
                    });
                if let Err(msg) = saved.and_then(|saved| save(&path, &saved)) {
                    eprintln!("{msg}");
                    return ExitCode::from(2);
                }
            }
            finish(execution, history)
        }
        StatesCommand::Redrive {
            file,
            history,
            s3_root,
            s3,
        } => {
            let saved: SavedExecution = match std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            {
                Ok(saved) => saved,
                Err(e) => {
                    eprintln!("{}: not an execution record: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            let machine = match StateMachine::from_value(&saved.definition) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            let object_store = match store_at(s3_root, s3).await {
                Ok(store) => store,
                Err(msg) => {
                    eprintln!("{msg}");
                    return ExitCode::from(2);
                }
            };
            let options = ExecutionOptions {
                clock: Arc::new(SystemClock),
                observer: Some(progress()),
                object_store,
                ..Default::default()
            };
            let record = &saved.execution;
            let execution =
                match screener_states::redrive(&machine, record, invoker, options.clone()).await {
                    Ok(execution) => execution,
                    Err(e) => {
                        eprintln!("{}: cannot redrive: {e}", file.display());
                        return ExitCode::from(2);
                    }
                };
            let options = ExecutionOptions {
                execution_name: record.execution_name.clone(),
                state_machine_name: record.state_machine_name.clone(),
                ..options
            };
            let saved = SavedExecution {
                execution: ExecutionRecord::new(&execution, &record.input, &options),
                definition: saved.definition,
            };
            if let Err(msg) = save(&file, &saved) {
                eprintln!("{msg}");
                return ExitCode::from(2);
            }
            finish(execution, history)
        }
    }
}

/// Print the history when asked and the result; the exit code.
fn finish(execution: Execution, history: bool) -> ExitCode {
    if history {
        for line in history_lines(&execution.history, &execution.map_runs) {
            eprintln!("{line}");
        }
    }
    let (text, code) = report(execution);
    println!("{text}");
    code
}

/// The object store `--s3-root DIR` or `--s3` names, if any.
async fn store_at(
    s3_root: Option<PathBuf>,
    s3: bool,
) -> Result<Option<Arc<dyn ObjectStore>>, String> {
    match s3_root {
        Some(dir) if !dir.is_dir() => Err(format!("--s3-root {}: not a directory", dir.display())),
        Some(dir) => Ok(Some(Arc::new(DirectoryStore::new(dir)))),
        None if s3 => Ok(Some(Arc::new(screener_aws::S3Objects::from_config(
            screener_composition::aws().await,
        )))),
        None => Ok(None),
    }
}

fn save(path: &Path, saved: &SavedExecution) -> Result<(), String> {
    let text = serde_json::to_string_pretty(saved).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `--history`: one JSON line per event, then per Map Run a `{"mapRun": ..}`
/// line (its record without the children) followed by a `{"childExecution": ..}`
/// line for each child (its record, events included).
fn history_lines(events: &[HistoryEvent], map_runs: &[MapRun]) -> Vec<String> {
    let mut lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default())
        .collect();
    for run in map_runs {
        let record: serde_json::Map<String, serde_json::Value> = match serde_json::to_value(run) {
            Ok(serde_json::Value::Object(m)) => {
                m.into_iter().filter(|(k, _)| k != "children").collect()
            }
            _ => Default::default(),
        };
        lines.push(serde_json::json!({ "mapRun": record }).to_string());
        for child in &run.children {
            lines.push(
                serde_json::json!({"mapRunArn": run.map_run_arn, "childExecution": child})
                    .to_string(),
            );
        }
    }
    lines
}

/// What `run` prints for a finished execution, and its exit code: the output
/// (0), or `{"Error": .., "Cause": ..}` (1) without the fields the failure
/// lacks, as AWS reports a `Fail` state that names no error or cause.
fn report(execution: Execution) -> (String, ExitCode) {
    let (value, code) = match execution.status {
        ExecutionStatus::Succeeded => (execution.output.unwrap_or_default(), ExitCode::SUCCESS),
        ExecutionStatus::Failed | ExecutionStatus::TimedOut => {
            let error = match execution.status {
                ExecutionStatus::TimedOut => Some("States.Timeout".to_owned()),
                _ => execution.error,
            };
            let failure = Fault {
                error,
                cause: execution.cause,
            };
            (failure.to_output(), ExitCode::from(1))
        }
    };
    (
        serde_json::to_string_pretty(&value).unwrap_or_default(),
        code,
    )
}

fn load(file: &Path, substitutions: &[String]) -> Result<StateMachine, String> {
    let text = substituted(file, substitutions)?;
    StateMachine::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// The definition with its substitutions, as JSON (for a record).
fn definition_json(file: &Path, substitutions: &[String]) -> Result<serde_json::Value, String> {
    serde_json::from_str(&substituted(file, substitutions)?).map_err(|e| e.to_string())
}

/// The definition's text with `--sub` values filled in.
fn substituted(file: &Path, substitutions: &[String]) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut subs = BTreeMap::new();
    for s in substitutions {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--sub expects NAME=VALUE, got {s:?}"))?;
        subs.insert(k.to_owned(), v.to_owned());
    }
    screener_states::substitute(&text, &subs).map_err(|e| format!("{}: {e}", file.display()))
}

fn read_input(arg: &str) -> Result<serde_json::Value, String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read input file {path}: {e}"))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| format!("--input is not valid JSON: {e}"))
}

/// Live progress on stderr: retries, and Map iterations as `done/total`.
fn progress() -> Arc<dyn Fn(&HistoryEvent) + Send + Sync> {
    // Map name -> (iterations finished, iterations in all).
    let maps = std::sync::Mutex::new((String::new(), BTreeMap::<String, (u64, u64)>::new()));
    Arc::new(move |event: &HistoryEvent| {
        let d = &event.details;
        let name = d["name"].as_str().unwrap_or("?");
        let mut guard = maps.lock().unwrap_or_else(|e| e.into_inner());
        let (last_map, counts) = &mut *guard;
        match event.event_type.as_str() {
            t if t == RETRY_SCHEDULED => eprintln!(
                "retrying {name} in {:.1} s (retry {} of {}) after {}",
                d["backoffSeconds"].as_f64().unwrap_or(0.0),
                d["retry"],
                d["maxRetries"],
                d["error"].as_str().unwrap_or("?"),
            ),
            "MapStateEntered" => *last_map = name.to_owned(),
            "MapStateStarted" => {
                counts.insert(last_map.clone(), (0, d["length"].as_u64().unwrap_or(0)));
            }
            "MapIterationSucceeded" | "MapIterationFailed" => {
                let entry = counts.entry(name.to_owned()).or_insert((0, 0));
                entry.0 += 1;
                let outcome = if event.event_type == "MapIterationSucceeded" {
                    "done"
                } else {
                    "failed"
                };
                // An ItemReader's items are counted only once read (length 0).
                match entry.1 {
                    0 => eprintln!("{name}: item {} {outcome} ({} so far)", d["index"], entry.0),
                    total => eprintln!(
                        "{name}: item {} {outcome} ({}/{total})",
                        d["index"], entry.0
                    ),
                }
            }
            "ExecutionFailed" => match d["error"].as_str() {
                Some(error) => eprintln!("execution failed: {error}"),
                None => eprintln!("execution failed"),
            },
            _ => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(status: ExecutionStatus, error: Option<&str>, cause: Option<&str>) -> Execution {
        Execution {
            status,
            output: None,
            error: error.map(str::to_owned),
            cause: cause.map(str::to_owned),
            history: Vec::new(),
            map_runs: Vec::new(),
            redrive_count: 0,
            resume: None,
        }
    }

    #[test]
    fn a_failure_prints_only_the_fields_it_has() {
        let (text, code) = report(finished(ExecutionStatus::Failed, Some("E"), Some("why")));
        assert_eq!(text, "{\n  \"Error\": \"E\",\n  \"Cause\": \"why\"\n}");
        assert_eq!(code, ExitCode::from(1));
        let (text, _) = report(finished(ExecutionStatus::Failed, None, Some("why")));
        assert_eq!(text, "{\n  \"Cause\": \"why\"\n}");
        let (text, _) = report(finished(ExecutionStatus::Failed, Some("E"), None));
        assert_eq!(text, "{\n  \"Error\": \"E\"\n}");
        let (text, _) = report(finished(ExecutionStatus::Failed, None, None));
        assert_eq!(text, "{}");
        let (text, _) = report(finished(ExecutionStatus::TimedOut, None, None));
        assert_eq!(text, "{\n  \"Error\": \"States.Timeout\"\n}");
    }

    #[test]
    fn a_success_prints_the_output_with_its_keys_in_order() {
        let mut run = finished(ExecutionStatus::Succeeded, None, None);
        run.output = Some(serde_json::from_str(r#"{"b": 1, "a": 2}"#).unwrap());
        let (text, code) = report(run);
        assert_eq!(text, "{\n  \"b\": 1,\n  \"a\": 2\n}");
        assert_eq!(code, ExitCode::SUCCESS);
    }
}
