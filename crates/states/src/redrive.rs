//! Redrive: run an execution that failed, timed out or was aborted again from
//! where it stopped, with AWS's rules (the developer guide, "Restarting state
//! machine executions with redrive" and "Redriving Map Runs"):
//!
//! - the execution keeps its name and history; an `ExecutionRedriven` event
//!   (with the new `redriveCount`) follows its last one, and
//!   `$$.Execution.RedriveCount` / `RedriveTime` say it was redriven;
//! - states that succeeded are not run again: it resumes at the state it
//!   stopped in, with the input that state had and the variables as they were;
//! - in a Parallel or inline Map state only the branches or iterations that
//!   did not succeed run again (each from its start: their inner steps are
//!   not tracked);
//! - a Distributed Map redrives its Map Run (`MapRunRedriven`, same ARN):
//!   its succeeded children are kept, failed, timed-out and aborted Standard
//!   children are themselves redriven from where they stopped, Express ones
//!   start again as new executions, pending ones start for the first time.
//!   A Map Run that never started (its ItemReader failed) starts now.
//!
//! An [`ExecutionRecord`] carries what a redrive needs between processes
//! (`screener states run --record FILE`, then `screener states redrive FILE`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::StateMachine;
use crate::execution::{Execution, ExecutionOptions, ExecutionStatus, run_execution};
use crate::history::HistoryEvent;
use crate::invoker::TaskInvoker;
use crate::map_run::MapRun;

/// Where an unsuccessful execution stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumePoint {
    /// The top-level state that was running.
    pub state: String,
    /// The input that state was entered with.
    pub input: Value,
    /// The variables when it was entered.
    pub variables: BTreeMap<String, Value>,
    /// Outputs of the state's Parallel branches or inline Map iterations that
    /// succeeded, by index.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub completed: BTreeMap<usize, Value>,
    /// The state's Map Run, when it is a Distributed Map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run_arn: Option<String>,
}

/// What the previous attempt left of the state a redrive resumes.
#[derive(Debug, Clone, Default)]
pub(crate) struct PriorAttempt {
    pub completed: BTreeMap<usize, Value>,
    pub map_run: Option<MapRun>,
}

/// How to redrive one execution (the top-level one or a Map Run's child).
pub(crate) struct Plan {
    /// The redrive count after this redrive.
    pub count: u32,
    pub history: Vec<HistoryEvent>,
    pub resume: ResumePoint,
    pub map_runs: Vec<MapRun>,
}

/// An execution as a redrive needs it: who it is, its input, how it ended,
/// its history and Map Runs, and where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    pub execution_name: String,
    pub state_machine_name: String,
    pub input: Value,
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    pub redrive_count: u32,
    pub history: Vec<HistoryEvent>,
    #[serde(default)]
    pub map_runs: Vec<MapRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumePoint>,
}

impl ExecutionRecord {
    /// The record of `execution`, run on `input` with `options`' names.
    pub fn new(execution: &Execution, input: &Value, options: &ExecutionOptions) -> Self {
        ExecutionRecord {
            execution_name: options.execution_name.clone(),
            state_machine_name: options.state_machine_name.clone(),
            input: input.clone(),
            status: execution.status,
            output: execution.output.clone(),
            error: execution.error.clone(),
            cause: execution.cause.clone(),
            redrive_count: execution.redrive_count,
            history: execution.history.clone(),
            map_runs: execution.map_runs.clone(),
            resume: execution.resume.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    #[error(
        "the execution SUCCEEDED: only a failed, timed-out or aborted execution can be redriven"
    )]
    Succeeded,
    #[error("the record does not say where the execution stopped")]
    NoResumePoint,
    #[error("state \"{0}\", where the execution stopped, is not in the definition")]
    UnknownState(String),
}

/// Redrive the execution `record` describes (of `machine`), from where it
/// stopped. `options` give the clock, observer and object store; the names
/// are the record's. The result's history is the whole history, the earlier
/// events included, and its Map Runs replace the redriven ones.
pub async fn redrive(
    machine: &StateMachine,
    record: &ExecutionRecord,
    invoker: Arc<dyn TaskInvoker>,
    options: ExecutionOptions,
) -> Result<Execution, RedriveError> {
    if record.status == ExecutionStatus::Succeeded {
        return Err(RedriveError::Succeeded);
    }
    let resume = record.resume.clone().ok_or(RedriveError::NoResumePoint)?;
    if !machine.program.states.contains_key(&resume.state) {
        return Err(RedriveError::UnknownState(resume.state));
    }
    let plan = Plan {
        count: record.redrive_count + 1,
        history: record.history.clone(),
        resume,
        map_runs: record.map_runs.clone(),
    };
    let options = ExecutionOptions {
        execution_name: record.execution_name.clone(),
        state_machine_name: record.state_machine_name.clone(),
        ..options
    };
    let mut execution =
        run_execution(machine, record.input.clone(), invoker, options, Some(plan)).await;
    execution.map_runs = merge_map_runs(&record.map_runs, std::mem::take(&mut execution.map_runs));
    Ok(execution)
}

/// The Map Runs after a redrive: a redriven Map Run replaces its earlier
/// record, the others stay, and new ones follow.
pub(crate) fn merge_map_runs(earlier: &[MapRun], new: Vec<MapRun>) -> Vec<MapRun> {
    let mut runs: Vec<MapRun> = earlier
        .iter()
        .filter(|old| !new.iter().any(|n| n.map_run_arn == old.map_run_arn))
        .cloned()
        .collect();
    runs.extend(new);
    runs
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::testing::{FakeInvoker, types};
    use crate::{MemoryStore, TaskFailure, VirtualClock};

    fn options() -> ExecutionOptions {
        ExecutionOptions {
            clock: Arc::new(VirtualClock::default()),
            object_store: Some(Arc::new(MemoryStore::new())),
            ..Default::default()
        }
    }

    /// Run `def`, then redrive it once; returns both executions.
    async fn run_and_redrive(
        def: &str,
        input: serde_json::Value,
        invoker: Arc<FakeInvoker>,
    ) -> (Execution, Execution) {
        let machine = StateMachine::parse(def).unwrap();
        let first = crate::execute(&machine, input.clone(), invoker.clone(), options()).await;
        let record = ExecutionRecord::new(&first, &input, &options());
        // The record survives a trip through JSON, as it does through a file.
        let record: ExecutionRecord =
            serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
        let second = redrive(&machine, &record, invoker, options())
            .await
            .unwrap();
        (first, second)
    }

    #[tokio::test]
    async fn a_redrive_resumes_at_the_failed_state_with_its_input_and_variables() {
        let def = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"n": 1}, "Result": {"x": 2}, "Next": "B"},
            "B": {"Type": "Task", "Resource": "arn:b", "Next": "C"},
            "C": {"Type": "Pass", "Parameters": {"n.$": "$n", "x.$": "$.x", "redrives.$": "$$.Execution.RedriveCount"}, "End": true}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:b", Err(TaskFailure::new("Flaky", "first time")));
        let (first, second) = run_and_redrive(def, json!({}), invoker.clone()).await;
        assert_eq!(first.error.as_deref(), Some("Flaky"));
        assert_eq!(first.resume.as_ref().unwrap().state, "B");
        assert_eq!(second.status, ExecutionStatus::Succeeded, "{second:?}");
        assert_eq!(second.output, Some(json!({"n": 1, "x": 2, "redrives": 1})));
        assert_eq!(second.redrive_count, 1);
        let events = types(&second.history);
        let redriven = events
            .iter()
            .position(|t| *t == "ExecutionRedriven")
            .unwrap();
        assert_eq!(events[redriven - 1], "ExecutionFailed");
        assert_eq!(events[redriven + 1], "TaskStateEntered");
        assert_eq!(second.history[redriven].details, json!({"redriveCount": 1}));
        // A ran once, in the first attempt; B's input is the one it had then.
        assert_eq!(
            events.iter().filter(|t| **t == "PassStateEntered").count(),
            2
        );
        assert_eq!(invoker.calls()[1].input, json!({"x": 2}));
    }

    #[tokio::test]
    async fn a_redriven_parallel_state_runs_only_the_branch_that_failed() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:a", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:b", "End": true}}}]}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:a", Ok(json!("a")));
        invoker.reply("arn:b", Err(TaskFailure::new("Flaky", "")));
        invoker.reply("arn:b", Ok(json!("b")));
        let (_, second) = run_and_redrive(def, json!({}), invoker.clone()).await;
        assert_eq!(second.output, Some(json!(["a", "b"])));
        let calls: Vec<String> = invoker.calls().into_iter().map(|c| c.resource).collect();
        assert_eq!(calls, ["arn:a", "arn:b", "arn:b"]);
    }

    #[tokio::test]
    async fn a_redriven_inline_map_runs_only_iterations_that_did_not_succeed() {
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 1, "End": true,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:t", "End": true}}}}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:t", Ok(json!("one")));
        invoker.reply("arn:t", Err(TaskFailure::new("Flaky", "")));
        let (first, second) = run_and_redrive(def, json!([1, 2, 3]), invoker.clone()).await;
        assert_eq!(first.resume.as_ref().unwrap().completed.len(), 1);
        // The first item's output is kept; the second runs again, the third for the first time.
        assert_eq!(second.output, Some(json!(["one", 2, 3])));
        assert_eq!(invoker.calls().len(), 4);
    }

    #[tokio::test]
    async fn a_redriven_distributed_map_redrives_failed_children_and_starts_pending_ones() {
        // Item 0 fails (no choice matches) until its child execution is redriven.
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 1, "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "C",
                "States": {
                    "C": {"Type": "Choice", "Choices": [{"Or": [
                        {"Variable": "$", "NumericGreaterThan": 0},
                        {"Variable": "$$.Execution.RedriveCount", "NumericGreaterThan": 0}], "Next": "P"}]},
                    "P": {"Type": "Pass", "Parameters": {"item.$": "$", "redrives.$": "$$.Execution.RedriveCount"}, "End": true}}}}}}"#;
        let (first, second) =
            run_and_redrive(def, json!([1, 0, 2]), Arc::new(FakeInvoker::default())).await;
        assert_eq!(
            first.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
        let statuses: Vec<ChildStatus> = first.map_runs[0]
            .children
            .iter()
            .map(|c| c.status)
            .collect();
        use crate::ChildStatus;
        assert_eq!(
            statuses,
            [
                ChildStatus::Succeeded,
                ChildStatus::Failed,
                ChildStatus::Pending
            ]
        );

        assert_eq!(second.status, ExecutionStatus::Succeeded, "{second:?}");
        assert_eq!(
            second.output,
            Some(json!([
                {"item": 1, "redrives": 0}, {"item": 0, "redrives": 1}, {"item": 2, "redrives": 0}
            ]))
        );
        let parent = types(&second.history);
        assert!(parent.contains(&"MapRunRedriven"), "{parent:?}");
        assert_eq!(parent.iter().filter(|t| **t == "MapRunStarted").count(), 1);
        assert_eq!(
            second.map_runs.len(),
            1,
            "the redriven Map Run replaces its record"
        );
        let run = &second.map_runs[0];
        assert_eq!(run.map_run_arn, first.map_runs[0].map_run_arn);
        assert_eq!(run.redrive_count, 1);
        let [kept, redriven, started] = &run.children[..] else {
            panic!("three children")
        };
        let events = |c: &crate::ChildExecution| -> Vec<(String, serde_json::Value)> {
            c.history
                .iter()
                .map(|e| (e.event_type.clone(), e.details.clone()))
                .collect()
        };
        assert_eq!(events(kept), events(&first.map_runs[0].children[0]));
        assert_eq!(redriven.redrive_count, 1);
        assert_eq!(redriven.name, first.map_runs[0].children[1].name);
        let child_events = types(&redriven.history);
        assert_eq!(
            child_events,
            [
                "ExecutionStarted",
                "ChoiceStateEntered",
                "ExecutionFailed",
                "ExecutionRedriven",
                "ChoiceStateEntered",
                "ChoiceStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        assert_eq!(types(&started.history)[0], "ExecutionStarted");
        assert_eq!(started.redrive_count, 0);
    }

    #[tokio::test]
    async fn a_succeeded_execution_cannot_be_redriven() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
        let machine = StateMachine::parse(def).unwrap();
        let invoker = Arc::new(FakeInvoker::default());
        let done = crate::execute(&machine, json!({}), invoker.clone(), options()).await;
        let record = ExecutionRecord::new(&done, &json!({}), &options());
        assert_eq!(
            redrive(&machine, &record, invoker, options())
                .await
                .unwrap_err(),
            RedriveError::Succeeded
        );
    }
}
