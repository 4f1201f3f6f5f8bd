//! Runs the daily workflow locally: the real `statemachine/screener.asl.json`, executed by the
//! project's ASL interpreter, each Task calling the step handlers in-process.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use screener_states::{
    Execution, ExecutionOptions, ExecutionRecord, HistoryEvent, Observer, StateMachine,
    TaskInvoker, substitute,
};
use serde_json::Value;

use crate::steps::local_substitutions;

/// The workflow definition, built into the binary so that `screener run` works from anywhere.
pub const SCREENER_ASL: &str = include_str!("../../../statemachine/screener.asl.json");

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("state machine definition: {0}")]
    Definition(String),
}

/// Parses a definition with the local substitutions applied.
pub fn load_definition(text: &str) -> Result<StateMachine, RunError> {
    StateMachine::from_value(&definition_value(text)?)
        .map_err(|e| RunError::Definition(e.to_string()))
}

/// A definition as JSON, with the local substitutions applied: what a run records.
pub fn definition_value(text: &str) -> Result<Value, RunError> {
    let text = substitute(text, &local_substitutions())
        .map_err(|e| RunError::Definition(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| RunError::Definition(e.to_string()))
}

/// An execution as saved for a redrive: the definition as run (substitutions applied) and its
/// record (history, Map Runs, where it stopped). `screener run` keeps one per run in the store
/// (`runs/<run id>/execution.json`), `screener states run --record FILE` in a file.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SavedExecution {
    pub definition: Value,
    pub execution: ExecutionRecord,
}

/// Where `screener run` keeps a run's [`SavedExecution`]: beside the run's other data (so it
/// expires with it, as AWS allows a redrive for 14 days).
pub fn execution_key(run_id: &str) -> String {
    format!(
        "{}execution.json",
        screener_core::workflow::keys::run_prefix(run_id)
    )
}

/// Runs `definition` on `input`. With `progress`, states, batches and retries are reported on
/// stderr as they happen.
pub async fn run_workflow(
    definition: &StateMachine,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    mut options: ExecutionOptions,
    progress: bool,
) -> Execution {
    if progress {
        options.observer = Some(progress_lines());
    }
    screener_states::execute(definition, input, invoker, options).await
}

/// An observer that reports states, batches and retries on stderr as they happen.
pub fn progress_lines() -> Observer {
    let reporter = Arc::new(Progress::new());
    Arc::new(move |event: &HistoryEvent| reporter.on_event(event))
}

/// Turns history events into a few human lines.
struct Progress {
    started: Instant,
    batches_total: AtomicU32,
    batches_done: AtomicU32,
    batches_failed: AtomicU32,
    out: Mutex<std::io::Stderr>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            started: Instant::now(),
            batches_total: AtomicU32::new(0),
            batches_done: AtomicU32::new(0),
            batches_failed: AtomicU32::new(0),
            out: Mutex::new(std::io::stderr()),
        }
    }

    fn say(&self, line: String) {
        let mut out = self.out.lock().unwrap();
        let _ = writeln!(
            out,
            "[{:>7.2}s] {line}",
            self.started.elapsed().as_secs_f64()
        );
    }

    fn on_event(&self, event: &HistoryEvent) {
        let details = &event.details;
        let name = event.state_name().unwrap_or("");
        // AWS's history carries outputs as JSON text; accept a value too.
        let output = || -> Value {
            match details.get("output") {
                Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
                Some(value) => value.clone(),
                None => Value::Null,
            }
        };
        match event.event_type.as_str() {
            "TaskStateEntered"
                if name == "FetchUniverse" || name == "Screen" || name == "Publish" =>
            {
                self.say(format!("{name} ..."))
            }
            "TaskStateExited" if name == "FetchUniverse" => {
                let out = output();
                let universe = &out["universe"];
                let total = universe["batch_count"].as_u64().unwrap_or(0) as u32;
                self.batches_total.store(total, Ordering::SeqCst);
                self.say(format!(
                    "FetchUniverse done: {} symbols in {} batches, run date {}, source: {}",
                    universe["symbol_count"],
                    total,
                    universe["run"]["run_date"].as_str().unwrap_or("?"),
                    universe["run"]["source"]["description"]
                        .as_str()
                        .unwrap_or("?"),
                ));
            }
            "TaskStateExited" if name == "ValidateBatch" => {
                let out = output();
                let done = self.batches_done.fetch_add(1, Ordering::SeqCst) + 1;
                self.say(format!(
                    "batch {done}/{} done: {} valid, {} rejected, {} without data",
                    self.batches_total.load(Ordering::SeqCst),
                    out["valid"],
                    out["rejected"],
                    out["no_data"],
                ));
            }
            "PassStateExited" if name == "RecordFailedBatch" => {
                let out = output();
                self.batches_done.fetch_add(1, Ordering::SeqCst);
                self.batches_failed.fetch_add(1, Ordering::SeqCst);
                self.say(format!(
                    "batch {} FAILED after retries ({} symbols): {}: {}",
                    out["index"],
                    out["requested"],
                    out["error"].as_str().unwrap_or("?"),
                    out["cause"].as_str().unwrap_or("?"),
                ));
            }
            "TaskStateExited" if name == "Screen" => {
                let out = output();
                self.say(format!(
                    "Screen done: {} symbols screened",
                    out["screen"]["screened"]
                ));
            }
            "TaskStateExited" if name == "Publish" => self.say("Publish done".into()),
            screener_states::RETRY_SCHEDULED => self.say(format!(
                "retrying {name} in {:.1} s (attempt {} of {}): {}",
                details["backoffSeconds"].as_f64().unwrap_or(0.0),
                details["attempt"],
                details["maxAttempts"],
                details["error"].as_str().unwrap_or("?"),
            )),
            "ExecutionFailed" => self.say(format!(
                "run FAILED: {}: {}",
                details["error"].as_str().unwrap_or("?"),
                details["cause"].as_str().unwrap_or("?")
            )),
            _ => {}
        }
    }
}
