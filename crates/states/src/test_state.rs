//! The TestState API locally: run one state on an input, optionally with a
//! mocked result or error, and see its output, the next state, whether an
//! error would be retried or caught, and the intermediate values of its
//! input/output processing (`inspectionData`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::definition::{Program, State, StateMachine};
use crate::error::{DefinitionError, Fault};
use crate::execution::{Engine, ExecutionOptions, Scope, StateCtx};
use crate::invoker::{TaskFailure, TaskInvoker};

/// How much of the state's processing to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InspectionLevel {
    #[default]
    Info,
    Debug,
    Trace,
}

/// What stands in for the state's work (a Task's call, a Map's iterations,
/// a Parallel's branches).
#[derive(Debug, Clone, PartialEq)]
pub enum Mock {
    Result(Value),
    Error { error: String, cause: String },
}

impl Mock {
    pub(crate) fn outcome(&self) -> Result<Value, TaskFailure> {
        match self {
            Mock::Result(v) => Ok(v.clone()),
            Mock::Error { error, cause } => Err(TaskFailure::new(error.clone(), cause.clone())),
        }
    }
}

/// A TestState request.
#[derive(Debug, Clone, Default)]
pub struct TestStateRequest {
    /// A single state, or a whole state machine together with `state_name`.
    pub definition: Value,
    pub state_name: Option<String>,
    pub input: Value,
    pub inspection_level: InspectionLevel,
    pub mock: Option<Mock>,
    /// The context object (`$$`) to use instead of a generated one.
    pub context: Option<Value>,
    /// Variables visible to the state.
    pub variables: Map<String, Value>,
    /// How many retries the matching retrier has already made.
    pub retrier_retry_count: u32,
    /// For a Map: how many iterations to treat as failed (checked against its
    /// tolerated failure limits).
    pub map_iteration_failure_count: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStatus {
    Succeeded,
    Failed,
    /// A Catch matched: `output` is the catcher's output, `next_state` its Next.
    CaughtError,
    /// A Retry matched with attempts left; `inspection_data.errorDetails` says which and how long.
    Retriable,
}

/// What TestState reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateResult {
    pub status: TestStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub next_state: Option<String>,
    /// Empty at [`InspectionLevel::Info`].
    pub inspection_data: Map<String, Value>,
}

/// Per-run TestState settings, seen by the state under test only.
pub(crate) struct TestMode {
    pub mock: Option<Mock>,
    pub context: Option<Value>,
    pub retrier_retry_count: u32,
    pub map_iteration_failure_count: Option<u32>,
    pub inspection: Mutex<Map<String, Value>>,
    pub retriable: AtomicBool,
    /// The error a Catch handled, reported alongside the catcher's output.
    pub caught: Mutex<Option<Fault>>,
}

/// The name a lone state gets, as in AWS's TestState context object.
const TESTED: &str = "StateName";

/// Run one state as AWS's TestState does. `options` supply the clock and the
/// names used in the generated context object (an express execution's).
pub async fn test_state(
    request: TestStateRequest,
    invoker: Arc<dyn TaskInvoker>,
    options: ExecutionOptions,
) -> Result<TestStateResult, DefinitionError> {
    let clock = options.clock.clone();
    let (machine, name) = if request.definition.get("States").is_some() {
        let machine = StateMachine::from_value(&request.definition)?;
        let name = match &request.state_name {
            Some(n) => n.clone(),
            None => machine.program.start_at.clone(),
        };
        (machine, name)
    } else {
        (wrap(&request.definition)?, TESTED.to_owned())
    };
    let Some(state) = find(&machine.program, &name) else {
        return Err(DefinitionError::single(
            "TestState",
            "stateName",
            format!("state \"{name}\" does not exist in the definition"),
        ));
    };
    let mut engine = Engine::new(&machine, &request.input, invoker, &options, clock.now());
    // TestState runs as an express execution with no redrives.
    if let Some(exec) = engine.execution.as_object_mut() {
        exec.shift_remove("RedriveCount");
        let express = format!(
            "arn:aws:states:{}:{}:express:{}:{}",
            options.region, options.account_id, options.state_machine_name, options.execution_name
        );
        exec.insert("Id".into(), Value::String(express));
    }
    let mode = TestMode {
        mock: request.mock.clone(),
        context: request.context.clone(),
        retrier_retry_count: request.retrier_retry_count,
        map_iteration_failure_count: request.map_iteration_failure_count,
        inspection: Mutex::new(Map::new()),
        retriable: AtomicBool::new(false),
        caught: Mutex::new(None),
    };
    let variables = request.variables.clone().into_iter().collect();
    let scope = Scope::new(variables, 0, engine.default_language);
    let ctx = StateCtx {
        engine: &engine,
        scope: &scope,
        name: &name,
        entered_time: clock.now(),
        entered_event_id: 0,
        retry_count: AtomicU32::new(request.retrier_retry_count),
        language: state
            .common()
            .query_language
            .unwrap_or(engine.default_language),
        map_item: None,
        test: Some(&mode),
        prior: Mutex::new(None),
    };
    ctx.inspect("input", || request.input.clone());
    let outcome = crate::states::run_state(state, &ctx, request.input.clone()).await;
    let mut inspection = std::mem::take(&mut *mode.inspection.lock().expect("inspection lock"));
    if request.inspection_level == InspectionLevel::Info {
        inspection.clear();
    }
    let result = match outcome {
        Ok(t) => {
            let caught = mode.caught.lock().expect("caught lock").take();
            TestStateResult {
                status: if caught.is_some() {
                    TestStatus::CaughtError
                } else {
                    TestStatus::Succeeded
                },
                output: Some(t.output),
                error: caught.as_ref().and_then(|f| f.error.clone()),
                cause: caught.and_then(|f| f.cause),
                next_state: t.next,
                inspection_data: inspection,
            }
        }
        Err(Fault { error, cause }) => TestStateResult {
            status: if mode.retriable.load(Ordering::SeqCst) {
                TestStatus::Retriable
            } else {
                TestStatus::Failed
            },
            output: None,
            error,
            cause,
            next_state: None,
            inspection_data: inspection,
        },
    };
    Ok(result)
}

/// A single state as a one-state machine; the states it names become Succeed
/// placeholders so that validation accepts them.
fn wrap(state: &Value) -> Result<StateMachine, DefinitionError> {
    let mut targets = BTreeSet::new();
    collect_targets(state, &mut targets);
    let mut states = Map::new();
    states.insert(TESTED.into(), state.clone());
    for t in targets {
        if t != TESTED {
            states.insert(t, json!({"Type": "Succeed"}));
        }
    }
    let mut machine = json!({"StartAt": TESTED, "States": states});
    if let Some(lang) = state.get("QueryLanguage") {
        machine["QueryLanguage"] = lang.clone();
    }
    StateMachine::from_value(&machine)
}

fn collect_targets(state: &Value, out: &mut BTreeSet<String>) {
    let mut add = |v: Option<&Value>| {
        if let Some(Value::String(s)) = v {
            out.insert(s.clone());
        }
    };
    add(state.get("Next"));
    add(state.get("Default"));
    for key in ["Catch", "Choices"] {
        for entry in state
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add(entry.get("Next"));
        }
    }
}

fn find<'a>(program: &'a Program, name: &str) -> Option<&'a State> {
    if let Some(s) = program.states.get(name) {
        return Some(s);
    }
    program
        .states
        .values()
        .flat_map(|s| s.children())
        .find_map(|child| find(child, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VirtualClock;
    use crate::testing::FakeInvoker;

    async fn run(req: TestStateRequest) -> TestStateResult {
        let options = ExecutionOptions {
            clock: Arc::new(VirtualClock::default()),
            ..Default::default()
        };
        test_state(req, Arc::new(FakeInvoker::default()), options)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_mocked_task_reports_output_next_state_and_inspection_data() {
        let r = run(TestStateRequest {
            definition: json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"p.$": "$.x"}, "ResultSelector": {"v.$": "$.Payload"}, "ResultPath": "$.r", "Next": "After"}),
            input: json!({"x": 1}),
            inspection_level: InspectionLevel::Debug,
            mock: Some(Mock::Result(json!({"Payload": 7}))),
            ..Default::default()
        })
        .await;
        assert_eq!(r.status, TestStatus::Succeeded);
        assert_eq!(r.output, Some(json!({"x": 1, "r": {"v": 7}})));
        assert_eq!(r.next_state.as_deref(), Some("After"));
        assert_eq!(r.inspection_data["afterParameters"], json!({"p": 1}));
        assert_eq!(r.inspection_data["result"], json!({"Payload": 7}));
        assert_eq!(r.inspection_data["afterResultSelector"], json!({"v": 7}));
    }

    #[tokio::test]
    async fn an_error_with_retries_left_is_retriable_with_its_backoff() {
        let r = run(TestStateRequest {
            definition: json!({"Type": "Task", "Resource": "arn:x", "End": true,
                "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]}),
            inspection_level: InspectionLevel::Trace,
            mock: Some(Mock::Error { error: "Boom".into(), cause: "c".into() }),
            retrier_retry_count: 2,
            ..Default::default()
        })
        .await;
        assert_eq!(r.status, TestStatus::Retriable);
        assert_eq!(
            r.inspection_data["errorDetails"],
            json!({"retryBackoffIntervalSeconds": 8, "retryIndex": 1})
        );
    }

    #[tokio::test]
    async fn an_error_past_its_retries_is_caught() {
        let r = run(TestStateRequest {
            definition: json!({"Type": "Task", "Resource": "arn:x", "End": true,
                "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}]}),
            mock: Some(Mock::Error {
                error: "Boom".into(),
                cause: "c".into(),
            }),
            retrier_retry_count: 1,
            ..Default::default()
        })
        .await;
        assert_eq!(r.status, TestStatus::CaughtError);
        assert_eq!(r.output, Some(json!({"Error": "Boom", "Cause": "c"})));
        assert_eq!(r.next_state.as_deref(), Some("Handle"));
        assert!(
            r.inspection_data.is_empty(),
            "INFO reports no inspection data"
        );
    }

    #[tokio::test]
    async fn a_state_inside_a_full_machine_is_found_by_name() {
        let r = run(TestStateRequest {
            definition: json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {
                "StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Result": "r", "End": true}}}}}}),
            state_name: Some("Inner".into()),
            input: json!({}),
            ..Default::default()
        })
        .await;
        assert_eq!(r.output, Some(json!("r")));
    }
}
