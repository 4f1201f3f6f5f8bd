//! The evaluation loop: runs a program state by state, records history, and
//! hands each state a [`StateCtx`] with what it needs (clock, invoker, context object).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::clock::{Clock, SystemClock};
use crate::definition::{Program, QueryLanguage, State, StateMachine};
use crate::error::{Fault, names};
use crate::history::{HistoryEvent, Observer, Recorder};
use crate::invoker::TaskInvoker;
use crate::map_run::MapRun;
use crate::redrive::{Plan, PriorAttempt, ResumePoint};
use crate::store::ObjectStore;

/// Step Functions' payload limit: a state output above this fails with `States.DataLimitExceeded`.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// How to run an execution. `Default` gives a system clock, no observer and
/// names like `local-execution`.
#[derive(Clone)]
pub struct ExecutionOptions {
    pub execution_name: String,
    pub state_machine_name: String,
    pub clock: Arc<dyn Clock>,
    pub observer: Option<Observer>,
    /// Used in ARNs in the context object (`$$.Execution.Id`).
    pub region: String,
    pub account_id: String,
    pub role_arn: String,
    /// Seed for Retry jitter; `None` draws one.
    pub jitter_seed: Option<u64>,
    /// Where a Distributed Map's ItemReader reads and its ResultWriter
    /// writes (S3 in AWS); without one, either fails the Map Run.
    pub object_store: Option<Arc<dyn ObjectStore>>,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            execution_name: "local-execution".into(),
            state_machine_name: "local-state-machine".into(),
            clock: Arc::new(SystemClock),
            observer: None,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            role_arn: "arn:aws:iam::123456789012:role/local-state-machine-role".into(),
            jitter_seed: None,
            object_store: None,
        }
    }
}

impl std::fmt::Debug for ExecutionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionOptions")
            .field("execution_name", &self.execution_name)
            .field("state_machine_name", &self.state_machine_name)
            .field("region", &self.region)
            .field("observer", &self.observer.is_some())
            .field("object_store", &self.object_store.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Execution {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
    /// The Map Runs of its Distributed Map states, each with its child
    /// executions and their histories, in the order they ended.
    pub map_runs: Vec<MapRun>,
    /// How many times it has been redriven (`$$.Execution.RedriveCount`).
    pub redrive_count: u32,
    /// Where an unsuccessful execution stopped, for [`crate::redrive()`].
    pub resume: Option<ResumePoint>,
}

impl Execution {
    /// `{"Error": .., "Cause": ..}` for a failed run, as AWS reports it: a
    /// field the failure lacks is left out (a `Fail` state may omit both).
    pub fn error_output(&self) -> Option<Value> {
        if self.status == ExecutionStatus::Succeeded {
            return None;
        }
        Some(
            Fault {
                error: self.error.clone(),
                cause: self.cause.clone(),
            }
            .to_output(),
        )
    }

    /// Why a run did not succeed, for people (its `Display` is `error: cause`):
    /// a timed-out run, which AWS describes with neither, is `States.Timeout`
    /// with a cause that says so; otherwise the error name and cause as the
    /// run ended, either possibly absent.
    pub fn failure(&self) -> Option<Fault> {
        match self.status {
            ExecutionStatus::Succeeded => None,
            ExecutionStatus::TimedOut => Some(Fault::new(
                names::TIMEOUT,
                "the execution ran longer than the state machine's TimeoutSeconds",
            )),
            ExecutionStatus::Failed => Some(Fault {
                error: self.error.clone(),
                cause: self.cause.clone(),
            }),
        }
    }
}

/// Shared by every state of one execution.
pub(crate) struct Engine {
    pub invoker: Arc<dyn TaskInvoker>,
    pub clock: Arc<dyn Clock>,
    pub recorder: Recorder,
    pub observer: Option<Observer>,
    pub execution: Value,
    pub state_machine: Value,
    pub default_language: QueryLanguage,
    pub jitter: Mutex<fastrand::Rng>,
    pub object_store: Option<Arc<dyn ObjectStore>>,
    pub region: String,
    pub account_id: String,
    pub role_arn: String,
    /// Map Runs finished so far (a Distributed Map adds its own as it ends).
    pub map_runs: Mutex<Vec<MapRun>>,
    /// The top-level state running now, with what a redrive needs to resume it.
    pub position: Mutex<Option<ResumePoint>>,
    /// For a redrive: what the previous attempt left of the state it resumes,
    /// handed to that state when it is entered.
    pub prior: Mutex<Option<PriorAttempt>>,
}

/// Who a child execution is: its ARNs and name.
pub(crate) struct ChildIdentity<'a> {
    pub execution_arn: &'a str,
    pub name: &'a str,
    pub state_machine_arn: &'a str,
    pub state_machine_name: &'a str,
}

impl Engine {
    pub(crate) fn new(
        machine: &StateMachine,
        input: &Value,
        invoker: Arc<dyn TaskInvoker>,
        options: &ExecutionOptions,
        start: DateTime<Utc>,
    ) -> Engine {
        let clock = options.clock.clone();
        let sm_arn = format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            options.region, options.account_id, options.state_machine_name
        );
        let exec_arn = format!(
            "arn:aws:states:{}:{}:execution:{}:{}",
            options.region, options.account_id, options.state_machine_name, options.execution_name
        );
        Engine {
            invoker,
            clock: clock.clone(),
            recorder: Recorder::new(clock, options.observer.clone()),
            observer: options.observer.clone(),
            execution: json!({
                "Id": exec_arn,
                "Input": input,
                "Name": options.execution_name,
                "RoleArn": options.role_arn,
                "StartTime": timestamp(start),
                "RedriveCount": 0,
            }),
            state_machine: json!({"Id": sm_arn, "Name": options.state_machine_name}),
            default_language: machine.query_language(),
            jitter: Mutex::new(fastrand::Rng::with_seed(
                options.jitter_seed.unwrap_or_else(|| fastrand::u64(..)),
            )),
            object_store: options.object_store.clone(),
            region: options.region.clone(),
            account_id: options.account_id.clone(),
            role_arn: options.role_arn.clone(),
            map_runs: Mutex::new(Vec::new()),
            position: Mutex::new(None),
            prior: Mutex::new(None),
        }
    }

    /// The engine of a Distributed Map's child execution: the parent's
    /// invoker, clock, store and observer, its own history and context object.
    pub(crate) fn child(
        &self,
        who: &ChildIdentity<'_>,
        input: &Value,
        language: QueryLanguage,
        start: DateTime<Utc>,
    ) -> Engine {
        let seed = self.jitter.lock().expect("jitter lock").u64(..);
        Engine {
            invoker: self.invoker.clone(),
            clock: self.clock.clone(),
            recorder: Recorder::new(self.clock.clone(), self.observer.clone()),
            observer: self.observer.clone(),
            execution: json!({
                "Id": who.execution_arn,
                "Input": input,
                "Name": who.name,
                "RoleArn": self.role_arn,
                "StartTime": timestamp(start),
                "RedriveCount": 0,
            }),
            state_machine: json!({"Id": who.state_machine_arn, "Name": who.state_machine_name}),
            default_language: language,
            jitter: Mutex::new(fastrand::Rng::with_seed(seed)),
            object_store: self.object_store.clone(),
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            role_arn: self.role_arn.clone(),
            map_runs: Mutex::new(Vec::new()),
            position: Mutex::new(None),
            prior: Mutex::new(None),
        }
    }

    /// Where an execution that did not succeed stopped (none for a success).
    pub(crate) fn resume_point(&self, status: ExecutionStatus) -> Option<ResumePoint> {
        let position = self.position.lock().expect("position lock").clone();
        position.filter(|_| status != ExecutionStatus::Succeeded)
    }

    /// A Parallel branch or inline Map iteration of the running top-level
    /// state succeeded: a redrive will not run it again.
    pub(crate) fn note_completed(&self, index: usize, output: &Value) {
        if let Some(p) = self.position.lock().expect("position lock").as_mut() {
            p.completed.insert(index, output.clone());
        }
    }

    /// A new attempt (a Retry) of the running top-level state starts afresh.
    pub(crate) fn forget_completed(&self) {
        if let Some(p) = self.position.lock().expect("position lock").as_mut() {
            p.completed.clear();
        }
    }

    /// The running top-level state is a Distributed Map with this Map Run.
    pub(crate) fn note_map_run(&self, arn: &str) {
        if let Some(p) = self.position.lock().expect("position lock").as_mut() {
            p.map_run_arn = Some(arn.to_owned());
        }
    }

    /// `$$.Execution.RedriveCount`.
    pub(crate) fn redrive_count(&self) -> u32 {
        self.execution["RedriveCount"].as_u64().unwrap_or(0) as u32
    }

    pub(crate) fn take_map_runs(&self) -> Vec<MapRun> {
        std::mem::take(&mut *self.map_runs.lock().expect("map runs lock"))
    }
}

/// Per-branch data: the branch's variables and the id of the last event it
/// recorded (the previousEventId of its next one).
pub(crate) struct Scope {
    pub variables: Mutex<BTreeMap<String, Value>>,
    pub cursor: AtomicU64,
    pub language: QueryLanguage,
    /// The execution's own states (not a branch or iteration): a redrive
    /// resumes at the one that was running.
    pub top: bool,
}

impl Scope {
    pub(crate) fn new(
        variables: BTreeMap<String, Value>,
        cursor: u64,
        language: QueryLanguage,
    ) -> Self {
        Scope {
            variables: Mutex::new(variables),
            cursor: AtomicU64::new(cursor),
            language,
            top: false,
        }
    }

    /// Record an event after this branch's last one; returns its id.
    pub(crate) fn record(&self, engine: &Engine, event_type: &str, details: Value) -> u64 {
        let prev = self.cursor.load(Ordering::SeqCst);
        let id = engine.recorder.record(prev, event_type, details);
        self.cursor.store(id, Ordering::SeqCst);
        id
    }

    pub(crate) fn variables(&self) -> BTreeMap<String, Value> {
        self.variables.lock().expect("variables lock").clone()
    }
}

/// What a state sees while it runs.
pub(crate) struct StateCtx<'a> {
    pub engine: &'a Engine,
    pub scope: &'a Scope,
    pub name: &'a str,
    pub entered_time: DateTime<Utc>,
    pub entered_event_id: u64,
    pub retry_count: AtomicU32,
    pub language: QueryLanguage,
    /// `$$.Map.Item` while a Map evaluates its ItemSelector.
    pub map_item: Option<(usize, Value)>,
    /// Set only for the state under test by [`crate::test_state()`].
    pub test: Option<&'a crate::test_state::TestMode>,
    /// For the state a redrive resumes: what its previous attempt left.
    pub prior: Mutex<Option<PriorAttempt>>,
}

impl StateCtx<'_> {
    /// What the previous attempt of this state left, once (a Retry of the
    /// state runs in full), and forget earlier progress when at the top level.
    pub(crate) fn take_prior(&self) -> Option<PriorAttempt> {
        if self.scope.top {
            self.engine.forget_completed();
        }
        self.prior.lock().expect("prior lock").take()
    }

    /// Record an event after this branch's last one.
    pub(crate) fn record(&self, event_type: &str, details: Value) -> u64 {
        self.scope.record(self.engine, event_type, details)
    }

    /// Note an intermediate value for TestState's inspection data.
    pub(crate) fn inspect(&self, key: &str, value: impl FnOnce() -> Value) {
        if let Some(t) = self.test {
            t.inspection
                .lock()
                .expect("inspection lock")
                .insert(key.to_owned(), value());
        }
    }

    /// The mock standing in for this state's work under TestState.
    pub(crate) fn mock(&self) -> Option<&crate::test_state::Mock> {
        self.test.and_then(|t| t.mock.as_ref())
    }

    /// The context object `$$`.
    pub(crate) fn context_object(&self) -> Value {
        if let Some(ctx) = self.test.and_then(|t| t.context.as_ref()) {
            return ctx.clone();
        }
        let mut ctx = json!({
            "Execution": self.engine.execution,
            "StateMachine": self.engine.state_machine,
            "State": {
                "Name": self.name,
                "EnteredTime": timestamp(self.entered_time),
                "RetryCount": self.retry_count.load(Ordering::SeqCst),
            },
        });
        if let Some((index, value)) = &self.map_item {
            ctx["Map"] = json!({"Item": {"Index": index, "Value": value}});
        }
        ctx
    }

    /// The standard prefix of a `States.Runtime` cause.
    pub(crate) fn runtime_prefix(&self) -> String {
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}).",
            self.name, self.entered_event_id
        )
    }

    pub(crate) fn runtime(&self, detail: impl AsRef<str>) -> Fault {
        Fault::runtime(format!("{} {}", self.runtime_prefix(), detail.as_ref()))
    }
}

/// ISO-8601 with milliseconds, as AWS prints times in the context object.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What a state decided: its output, where to go (`None` = the branch ends)
/// and the variables it assigns (applied after the state, so every expression
/// in the state sees the values from before it).
pub(crate) struct Transition {
    pub output: Value,
    pub next: Option<String>,
    pub assigned: Option<serde_json::Map<String, Value>>,
}

impl Transition {
    /// Go to the state's `Next` (or end), assigning `common.Assign` evaluated against `assign_input`.
    pub(crate) fn from_common(
        ctx: &StateCtx<'_>,
        output: Value,
        common: &crate::definition::Common,
        assign_input: &Value,
    ) -> Result<Self, Fault> {
        Ok(Transition {
            output,
            next: common.next.clone(),
            assigned: crate::io::assign(ctx, common.assign.as_ref(), assign_input)?,
        })
    }
}

/// Run one execution of `machine` on `input`.
pub async fn execute(
    machine: &StateMachine,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: ExecutionOptions,
) -> Execution {
    run_execution(machine, input, invoker, options, None).await
}

/// Run an execution, or (with a plan) redrive one from where it stopped.
pub(crate) async fn run_execution(
    machine: &StateMachine,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: ExecutionOptions,
    plan: Option<Plan>,
) -> Execution {
    let clock = options.clock.clone();
    let start = clock.now();
    let mut engine = Engine::new(machine, &input, invoker, &options, start);
    let (scope, at, state_input) = begin(&mut engine, &machine.program, input, plan);
    let run = run_program_from(&engine, &machine.program, &at, state_input, &scope);
    let result = match machine.timeout_seconds {
        Some(secs) => within(&*clock, std::time::Duration::from_secs(secs), run).await,
        None => Some(run.await),
    };
    let (status, output, error, cause) = end_execution(&engine, &scope, result);
    Execution {
        status,
        output,
        error,
        cause,
        history: engine.recorder.take(),
        map_runs: engine.take_map_runs(),
        redrive_count: engine.redrive_count(),
        resume: engine.resume_point(status),
    }
}

/// Open an execution: `ExecutionStarted`, or for a redrive the earlier
/// history, `ExecutionRedriven` and the state it stopped in. Returns the
/// top-level scope, the state to run first and its input.
pub(crate) fn begin(
    engine: &mut Engine,
    program: &Program,
    input: Value,
    plan: Option<Plan>,
) -> (Scope, String, Value) {
    let Some(plan) = plan else {
        let scope = start_execution(engine, &input, engine.default_language);
        return (scope, program.start_at.clone(), input);
    };
    engine.recorder.preload(plan.history);
    let now = timestamp(engine.clock.now());
    if let Some(exec) = engine.execution.as_object_mut() {
        exec.insert("RedriveCount".into(), json!(plan.count));
        exec.insert("RedriveTime".into(), json!(now));
    }
    let redriven = engine.recorder.record(
        engine.recorder.last_id(),
        "ExecutionRedriven",
        json!({"redriveCount": plan.count}),
    );
    let resume = plan.resume;
    let mut scope = Scope::new(resume.variables.clone(), redriven, engine.default_language);
    scope.top = true;
    let map_run = resume
        .map_run_arn
        .as_ref()
        .and_then(|arn| plan.map_runs.iter().rev().find(|r| &r.map_run_arn == arn))
        .cloned();
    *engine.prior.lock().expect("prior lock") = Some(PriorAttempt {
        completed: resume.completed,
        map_run,
    });
    (scope, resume.state, resume.input)
}

/// Record `ExecutionStarted` and open the top-level scope after it.
pub(crate) fn start_execution(engine: &Engine, input: &Value, language: QueryLanguage) -> Scope {
    let started = engine.recorder.record(
        0,
        "ExecutionStarted",
        json!({"input": input, "inputDetails": {"truncated": false}, "roleArn": engine.role_arn}),
    );
    let mut scope = Scope::new(BTreeMap::new(), started, language);
    scope.top = true;
    scope
}

/// `run`'s result, or `None` when `limit` passes first on `clock`.
pub(crate) async fn within<T>(
    clock: &dyn Clock,
    limit: std::time::Duration,
    run: impl std::future::Future<Output = T>,
) -> Option<T> {
    let timeout = clock.sleep(limit);
    tokio::select! {
        biased;
        r = run => Some(r),
        _ = timeout => None,
    }
}

/// How an execution ended: status, output, error, cause.
pub(crate) type Ending = (
    ExecutionStatus,
    Option<Value>,
    Option<String>,
    Option<String>,
);

/// Record the last event of an execution (`None` = it timed out) and say how it ended.
pub(crate) fn end_execution(
    engine: &Engine,
    scope: &Scope,
    result: Option<Result<Value, Fault>>,
) -> Ending {
    let prev = scope.cursor.load(Ordering::SeqCst);
    match result {
        Some(Ok(output)) => {
            engine.recorder.record(
                prev,
                "ExecutionSucceeded",
                json!({"output": output, "outputDetails": {"truncated": false}}),
            );
            (ExecutionStatus::Succeeded, Some(output), None, None)
        }
        Some(Err(fault)) => {
            engine
                .recorder
                .record(prev, "ExecutionFailed", fault.to_details());
            (ExecutionStatus::Failed, None, fault.error, fault.cause)
        }
        None => {
            engine
                .recorder
                .record(prev, "ExecutionTimedOut", json!({"error": names::TIMEOUT}));
            // DescribeExecution reports no error or cause for a timed-out execution.
            (ExecutionStatus::TimedOut, None, None, None)
        }
    }
}

/// Run a program (top level, branch or iteration) from its StartAt to an end.
pub(crate) fn run_program<'a>(
    engine: &'a Engine,
    program: &'a Program,
    input: Value,
    scope: &'a Scope,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, Fault>> + Send + 'a>> {
    run_program_from(engine, program, &program.start_at, input, scope)
}

/// Run a program from state `start` (a redrive resumes mid-way) to an end.
pub(crate) fn run_program_from<'a>(
    engine: &'a Engine,
    program: &'a Program,
    start: &str,
    input: Value,
    scope: &'a Scope,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, Fault>> + Send + 'a>> {
    let start = start.to_owned();
    Box::pin(async move {
        let mut name: &str = &start;
        let mut input = input;
        loop {
            let Some((key, state)) = program.states.get_key_value(name) else {
                return Err(Fault::runtime(format!("State '{name}' does not exist")));
            };
            let language = state
                .common()
                .query_language
                .or(program.query_language)
                .unwrap_or(scope.language);
            let entered_time = engine.clock.now();
            let entered_event_id = scope.record(
                engine,
                &format!("{}StateEntered", state.type_name()),
                json!({"name": key, "input": input, "inputDetails": {"truncated": false}}),
            );
            // A redrive hands the state it resumes what the last attempt left,
            // and remembers each top-level state for the next redrive.
            let prior = if scope.top {
                let prior = engine.prior.lock().expect("prior lock").take();
                *engine.position.lock().expect("position lock") = Some(ResumePoint {
                    state: key.clone(),
                    input: input.clone(),
                    variables: scope.variables(),
                    completed: BTreeMap::new(),
                    map_run_arn: None,
                });
                prior
            } else {
                None
            };
            // Let concurrent branches enter their states too, so the history
            // interleaves Parallel branches the way AWS records them.
            tokio::task::yield_now().await;
            let ctx = StateCtx {
                engine,
                scope,
                name: key,
                entered_time,
                entered_event_id,
                retry_count: AtomicU32::new(0),
                language,
                map_item: None,
                test: None,
                prior: Mutex::new(prior),
            };
            let transition = crate::states::run_state(state, &ctx, input).await?;
            if serialized_len(&transition.output) > MAX_PAYLOAD_BYTES {
                return Err(Fault::new(
                    names::DATA_LIMIT_EXCEEDED,
                    format!(
                        "The state/task '{key}' returned a result with a size exceeding the maximum number of bytes service limit."
                    ),
                ));
            }
            if !matches!(state, State::Fail(_)) {
                let mut details = json!({"name": key, "output": transition.output, "outputDetails": {"truncated": false}});
                if let Some(assigned) = &transition.assigned {
                    let shown: serde_json::Map<String, Value> = assigned
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                        .collect();
                    details["assignedVariables"] = Value::Object(shown);
                    details["assignedVariablesDetails"] = json!({"truncated": false});
                    let mut vars = scope.variables.lock().expect("variables lock");
                    for (k, v) in assigned {
                        vars.insert(k.clone(), v.clone());
                    }
                }
                ctx.record(&format!("{}StateExited", state.type_name()), details);
            }
            match transition.next {
                Some(next) => {
                    let Some((k, _)) = program.states.get_key_value(next.as_str()) else {
                        return Err(Fault::runtime(format!("State '{next}' does not exist")));
                    };
                    name = k;
                    input = transition.output;
                }
                None => return Ok(transition.output),
            }
        }
    })
}

pub(crate) fn serialized_len(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::testing::{FakeInvoker, run, run_with, types};
    use crate::{ExecutionStatus, TaskFailure, VirtualClock};

    #[tokio::test]
    async fn assigned_variables_are_visible_to_later_states_but_not_within_the_assigning_state() {
        let def = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"n": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"n": 2, "old.$": "$n"}, "Parameters": {"seen.$": "$n"}, "Next": "C"},
            "C": {"Type": "Pass", "Parameters": {"n.$": "$n", "old.$": "$old"}, "End": true}}}"#;
        let r = run(def, json!({})).await;
        assert_eq!(r.output, Some(json!({"n": 2, "old": 1})));
        let exited_b = r
            .history
            .iter()
            .find(|e| e.event_type == "PassStateExited" && e.state_name() == Some("B"))
            .unwrap();
        assert_eq!(exited_b.details["output"], json!({"seen": 1}));
        assert_eq!(
            exited_b.details["assignedVariables"],
            json!({"n": "2", "old": "1"})
        );
    }

    #[tokio::test]
    async fn map_iterations_read_outer_variables_and_their_own_assignments_stay_inside() {
        let def = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"k": 10}, "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Pass", "Assign": {"inner": 1}, "Parameters": {"v.$": "States.MathAdd($, $k)"}, "End": true}}}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"out.$": "$", "k.$": "$k"}, "End": true}}}"#;
        let r = run(def, json!([1, 2])).await;
        assert_eq!(
            r.output,
            Some(json!({"out": [{"v": 11}, {"v": 12}], "k": 10}))
        );
    }

    #[tokio::test]
    async fn a_jsonata_task_builds_arguments_and_output_from_states_and_variables() {
        let def = r#"{"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:t", "Arguments": {"sym": "{% $uppercase($states.input.s) %}"},
                  "Assign": {"total": "{% $states.result.n %}"}, "Output": "{% {'n': $states.result.n * 2} %}", "Next": "P"},
            "P": {"Type": "Pass", "Output": "{% $total %}", "End": true}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:t", Ok(json!({"n": 21})));
        let r = run_with(
            def,
            json!({"s": "aapl"}),
            invoker.clone(),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(invoker.calls()[0].input, json!({"sym": "AAPL"}));
        assert_eq!(r.output, Some(json!(21)));
    }

    #[tokio::test]
    async fn a_jsonata_expression_that_yields_nothing_fails_with_query_evaluation_error() {
        let def = r#"{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"x": "{% $nope %}"}, "End": true}}}"#;
        let r = run(def, json!({})).await;
        assert_eq!(r.error.as_deref(), Some("States.QueryEvaluationError"));
        assert_eq!(
            r.cause.as_deref(),
            Some(
                "An error occurred while executing the state 'P' (entered at the event id #2). The JSONata expression '$nope' specified for the field 'Output/x' returned nothing (undefined)."
            )
        );
        assert_eq!(
            types(&r.history),
            vec![
                "ExecutionStarted",
                "PassStateEntered",
                "EvaluationFailed",
                "ExecutionFailed"
            ]
        );
    }

    #[tokio::test]
    async fn a_jsonata_catch_sees_the_error_output() {
        let def = r#"{"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:t", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput.Error & '/' & $states.input.id %}", "Next": "D"}]},
            "D": {"Type": "Succeed"}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:t", Err(TaskFailure::new("Boom", "x")));
        let r = run_with(
            def,
            json!({"id": "7"}),
            invoker,
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(r.status, ExecutionStatus::Succeeded);
        assert_eq!(r.output, Some(json!("Boom/7")));
    }

    #[tokio::test]
    async fn an_execution_past_its_timeout_seconds_times_out() {
        let def = r#"{"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}"#;
        let r = run(def, json!({})).await;
        assert_eq!(r.status, ExecutionStatus::TimedOut);
        assert_eq!(types(&r.history).last(), Some(&"ExecutionTimedOut"));
        let failure = r.failure().unwrap();
        assert_eq!(failure.error.as_deref(), Some("States.Timeout"));
        assert!(failure.to_string().contains("TimeoutSeconds"), "{failure}");
    }

    #[tokio::test]
    async fn a_fail_state_without_error_or_cause_fails_without_those_fields() {
        // Recorded from AWS: test_base.py::test_state_fail_empty and
        // test_base_scenarios.py::test_map_state_catch_empty_fail
        // (`"executionFailedEventDetails": {}`).
        let def = r#"{"StartAt": "F", "States": {"F": {"Type": "Fail"}}}"#;
        let r = run(def, json!({})).await;
        assert_eq!(r.status, ExecutionStatus::Failed);
        assert_eq!((r.error.as_deref(), r.cause.as_deref()), (None, None));
        let failed = r.history.last().unwrap();
        assert_eq!(failed.event_type, "ExecutionFailed");
        assert_eq!(failed.details, json!({}));
        assert_eq!(r.error_output(), Some(json!({})));
        assert_eq!(r.failure().unwrap().to_string(), "(no error name or cause)");
    }

    #[tokio::test]
    async fn a_fail_state_with_only_a_cause_or_only_an_error_reports_just_that() {
        // Recorded from AWS: test_assign_in_choice[CONDITION_FALSE]
        // (`{"cause": "Condition is false"}`) and test_parallel_state_fail
        // (`{"error": "FailureType"}`, through a Parallel branch).
        let cause_only =
            r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Cause": "Condition is false"}}}"#;
        let r = run(cause_only, json!({})).await;
        assert_eq!(r.error, None);
        assert_eq!(r.cause.as_deref(), Some("Condition is false"));
        assert_eq!(
            r.history.last().unwrap().details,
            json!({"cause": "Condition is false"})
        );
        assert_eq!(
            r.error_output(),
            Some(json!({"Cause": "Condition is false"}))
        );
        assert_eq!(r.failure().unwrap().to_string(), "Condition is false");

        let error_only = r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "FailureType"}}}]}}}"#;
        let r = run(error_only, json!({})).await;
        assert_eq!(r.error.as_deref(), Some("FailureType"));
        assert_eq!(r.cause, None);
        assert_eq!(
            r.history.last().unwrap().details,
            json!({"error": "FailureType"})
        );
        assert_eq!(r.failure().unwrap().to_string(), "FailureType");
    }
}
