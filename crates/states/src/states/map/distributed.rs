//! A Distributed Map's Map Run: its items (from the state input or the
//! ItemReader), each through ItemSelector and then the ItemBatcher, run as
//! child executions with their own histories, at most MaxConcurrency at a
//! time, until they are done or the failures pass the tolerated threshold.
//!
//! The parent's history gets `MapStateStarted` (length 0 when an ItemReader
//! supplies the items), `MapRunStarted` and `MapRunSucceeded` or
//! `MapRunFailed` (with the error and cause), as AWS records them; the
//! children's events are in their own histories ([`crate::map_run`]). Bad
//! limits (tolerated failures, MaxItemsPath, batch limits) are `States.Runtime`
//! errors before the Map Run starts; a failed read is `States.ItemReaderFailed`
//! inside it. Without a tolerated failure count or percentage any failed or
//! timed-out child fails the Map Run with `States.ExceedToleratedFailureThreshold`
//! (the developer guide: the default tolerance is zero); children still
//! running are then aborted and those not started stay pending.
//!
//! A redrive of the state redrives its Map Run (`MapRunRedriven`): the items
//! are not read again, succeeded children are kept, and the others run again
//! (see [`crate::redrive`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Limits, MapState, Processor, exceeds, writer};
use crate::concurrency::{BoxFuture, join_until};
use crate::error::{Fault, names};
use crate::execution::{
    ChildIdentity, Engine, ExecutionStatus, StateCtx, begin, end_execution, run_program_from,
    within,
};
use crate::map_run::{ChildExecution, ChildStatus, ExecutionType, MapRun, MapRunStatus};
use crate::redrive::{Plan, merge_map_runs};

/// An Express child execution may run for at most five minutes.
const EXPRESS_LIMIT: Duration = Duration::from_secs(300);

/// One attempt of a Distributed Map state: a Map Run from start to end.
pub(super) async fn attempt(
    map: &MapState,
    ctx: &StateCtx<'_>,
    effective: &Value,
    items: &[Value],
) -> Result<Value, Fault> {
    let processor = map
        .processor()
        .ok_or_else(|| ctx.runtime("Map state has no ItemProcessor"))?;
    // A Map Run that never started (its reader failed) starts afresh on a redrive.
    let earlier = ctx
        .take_prior()
        .and_then(|p| p.map_run)
        .filter(|r| !r.children.is_empty());
    let length = if map.item_reader.is_some() {
        0
    } else {
        items.len()
    };
    ctx.record("MapStateStarted", json!({"length": length}));
    let limits = map.limits(ctx, effective)?;
    let output = match &map.result_writer {
        Some(w) => w.resolve(ctx, effective)?,
        None => writer::DEFAULT,
    };
    let store = ctx.engine.object_store.as_deref();
    let (mut run, jobs) = match earlier {
        Some(earlier) => redriven_run(ctx, earlier, &limits),
        None => {
            let read = match &map.item_reader {
                Some(r) => Some(r.resolve(ctx, effective)?),
                None => None,
            };
            let batching = match &map.item_batcher {
                Some(b) => Some(b.resolve(ctx, effective)?),
                None => None,
            };
            let run = new_map_run(map, ctx, &limits);
            ctx.record("MapRunStarted", json!({"mapRunArn": run.map_run_arn}));
            let jobs = async {
                let items = match &read {
                    Some(read) => read.items(store).await?,
                    None => items.to_vec(),
                };
                let selected = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| map.item_input(ctx, effective, i, item))
                    .collect::<Result<Vec<_>, _>>()?;
                let inputs: Vec<(Value, usize)> = match &batching {
                    Some(b) => b
                        .batches(selected)
                        .into_iter()
                        .map(|b| (b.input, b.items))
                        .collect(),
                    None => selected.into_iter().map(|v| (v, 1)).collect(),
                };
                Ok(new_jobs(ctx, &run, inputs))
            }
            .await;
            match jobs {
                Ok(jobs) => (run, jobs),
                Err(fault) => {
                    end_run(ctx, run, Some(&fault));
                    return Err(fault);
                }
            }
        }
    };
    if ctx.scope.top {
        ctx.engine.note_map_run(&run.map_run_arn);
    }
    let total = jobs.iter().map(|j| j.items).sum();
    let (children, exceeded) = run_children(processor, ctx, &run, &limits, jobs, total).await;
    run.children = children;
    run.count();
    let threshold = exceeded.then(|| {
        Fault::new(
            names::EXCEEDED_TOLERATED_FAILURE_THRESHOLD,
            "The specified tolerated failure threshold was exceeded",
        )
    });
    // Results are written for a failed Map Run too: its FAILED and PENDING
    // files say what a redrive will run again.
    let result = output.finish(&run, store).await;
    let outcome = match (threshold, result) {
        (Some(f), _) | (None, Err(f)) => Err(f),
        (None, Ok(v)) => Ok(v),
    };
    end_run(ctx, run, outcome.as_ref().err());
    outcome
}

/// Record how the Map Run ended (`failure`, or success) and keep its record.
fn end_run(ctx: &StateCtx<'_>, mut run: MapRun, failure: Option<&Fault>) {
    run.stop_date = Some(ctx.engine.clock.now());
    run.count();
    run.item_counts.results_written = run.item_counts.succeeded;
    run.execution_counts.results_written = run.execution_counts.succeeded;
    match failure {
        None => {
            run.status = MapRunStatus::Succeeded;
            ctx.record("MapRunSucceeded", Value::Null);
            ctx.record("MapStateSucceeded", Value::Null);
        }
        Some(fault) => {
            run.status = MapRunStatus::Failed;
            run.error = fault.error.clone();
            run.cause = fault.cause.clone();
            ctx.record("MapRunFailed", fault.to_details());
        }
    }
    ctx.engine.map_runs.lock().expect("map runs lock").push(run);
}

fn new_map_run(map: &MapState, ctx: &StateCtx<'_>, limits: &Limits) -> MapRun {
    let sm_arn = ctx.engine.state_machine["Id"].as_str().unwrap_or("");
    let map_run_arn = format!(
        "{}/{}:{}",
        sm_arn.replacen(":stateMachine:", ":mapRun:", 1),
        map.label.as_deref().unwrap_or(ctx.name),
        uuid::Uuid::new_v4()
    );
    MapRun {
        map_run_arn,
        execution_arn: ctx.engine.execution["Id"].as_str().unwrap_or("").to_owned(),
        state_name: ctx.name.to_owned(),
        execution_type: map.execution_type(),
        status: MapRunStatus::Running,
        start_date: ctx.engine.clock.now(),
        stop_date: None,
        max_concurrency: limits.max_concurrency as u64,
        tolerated_failure_count: limits.tolerated_count.unwrap_or(0),
        tolerated_failure_percentage: limits.tolerated_percentage.unwrap_or(0.0),
        item_counts: Default::default(),
        execution_counts: Default::default(),
        redrive_count: 0,
        error: None,
        cause: None,
        children: Vec::new(),
    }
}

/// The earlier Map Run, running again: same ARN and items, one more redrive.
fn redriven_run(ctx: &StateCtx<'_>, earlier: MapRun, limits: &Limits) -> (MapRun, Vec<Job>) {
    let mut run = earlier;
    run.status = MapRunStatus::Running;
    run.stop_date = None;
    run.error = None;
    run.cause = None;
    run.redrive_count += 1;
    run.max_concurrency = limits.max_concurrency as u64;
    ctx.record(
        "MapRunRedriven",
        json!({"mapRunArn": run.map_run_arn, "redriveCount": run.redrive_count}),
    );
    let express = run.execution_type == ExecutionType::Express;
    let jobs = std::mem::take(&mut run.children)
        .into_iter()
        .map(|child| {
            // Express children are started again as new executions.
            let renamed = express && child.status.is_unsuccessful();
            let name = if renamed {
                uuid::Uuid::new_v4().to_string()
            } else {
                child.name.clone()
            };
            Job {
                index: child.index,
                items: child.items,
                input: child.input.clone(),
                execution_arn: child_arn(ctx, &run, &name),
                name,
                earlier: (!renamed).then_some(child),
            }
        })
        .collect();
    (run, jobs)
}

/// A child to run (or, after a redrive, to keep or run again).
struct Job {
    index: usize,
    items: usize,
    input: Value,
    name: String,
    execution_arn: String,
    /// The child's record from the Map Run's previous attempt.
    earlier: Option<ChildExecution>,
}

fn new_jobs(ctx: &StateCtx<'_>, run: &MapRun, inputs: Vec<(Value, usize)>) -> Vec<Job> {
    inputs
        .into_iter()
        .enumerate()
        .map(|(index, (input, items))| {
            let name = uuid::Uuid::new_v4().to_string();
            Job {
                index,
                items,
                input,
                execution_arn: child_arn(ctx, run, &name),
                name,
                earlier: None,
            }
        })
        .collect()
}

/// The children's state machine: `STATE_MACHINE/LABEL`, its name and ARN.
fn child_state_machine(ctx: &StateCtx<'_>, run: &MapRun) -> (String, String) {
    let label = run
        .map_run_arn
        .rsplit_once(':')
        .and_then(|(head, _)| head.rsplit_once('/'))
        .map_or(ctx.name, |(_, label)| label);
    let name = format!(
        "{}/{label}",
        ctx.engine.state_machine["Name"].as_str().unwrap_or("")
    );
    let arn = format!(
        "arn:aws:states:{}:{}:stateMachine:{name}",
        ctx.engine.region, ctx.engine.account_id
    );
    (name, arn)
}

fn child_arn(ctx: &StateCtx<'_>, run: &MapRun, name: &str) -> String {
    let (sm_name, _) = child_state_machine(ctx, run);
    let (region, account) = (&ctx.engine.region, &ctx.engine.account_id);
    if run.execution_type == ExecutionType::Express {
        let run_id = run.map_run_arn.rsplit(':').next().unwrap_or_default();
        format!("arn:aws:states:{region}:{account}:express:{sm_name}:{run_id}:{name}")
    } else {
        format!("arn:aws:states:{region}:{account}:execution:{sm_name}:{name}")
    }
}

/// A started child's engine and start time, kept outside its future so that
/// a child aborted mid-run still has its history.
type Started = Mutex<Option<(Arc<Engine>, DateTime<Utc>)>>;

/// Run every child; returns them in order and whether the threshold was passed.
async fn run_children(
    processor: &Processor,
    ctx: &StateCtx<'_>,
    run: &MapRun,
    limits: &Limits,
    jobs: Vec<Job>,
    total_items: usize,
) -> (Vec<ChildExecution>, bool) {
    let (sm_name, sm_arn) = child_state_machine(ctx, run);
    let express = run.execution_type == ExecutionType::Express;
    let permits = if limits.max_concurrency == 0 {
        tokio::sync::Semaphore::MAX_PERMITS
    } else {
        limits.max_concurrency
    };
    let semaphore = tokio::sync::Semaphore::new(permits);
    let started: Vec<Started> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let language = processor.program.query_language.unwrap_or(ctx.language);
    let futures: Vec<BoxFuture<'_, ChildExecution>> = jobs
        .iter()
        .zip(&started)
        .map(|(job, slot)| {
            let (semaphore, sm_arn, sm_name) = (&semaphore, &sm_arn, &sm_name);
            let fut: BoxFuture<'_, ChildExecution> = Box::pin(async move {
                let earlier = job.earlier.as_ref();
                if let Some(kept) = earlier.filter(|c| c.status == ChildStatus::Succeeded) {
                    return kept.clone();
                }
                let _permit = semaphore
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                let start = ctx.engine.clock.now();
                let who = ChildIdentity {
                    execution_arn: &job.execution_arn,
                    name: &job.name,
                    state_machine_arn: sm_arn,
                    state_machine_name: sm_name,
                };
                let mut engine = ctx.engine.child(&who, &job.input, language, start);
                // A child that ran before is redriven from where it stopped.
                let plan = earlier.and_then(|c| {
                    c.resume.clone().map(|resume| Plan {
                        count: c.redrive_count + 1,
                        history: c.history.clone(),
                        resume,
                        map_runs: c.map_runs.clone(),
                    })
                });
                let (scope, at, input) =
                    begin(&mut engine, &processor.program, job.input.clone(), plan);
                let engine = Arc::new(engine);
                *slot.lock().expect("child slot lock") = Some((engine.clone(), start));
                progress(ctx, "MapIterationStarted", job.index);
                let program = run_program_from(&engine, &processor.program, &at, input, &scope);
                let result = if express {
                    within(&*engine.clock, EXPRESS_LIMIT, program).await
                } else {
                    Some(program.await)
                };
                let (status, output, error, cause) = end_execution(&engine, &scope, result);
                let status = match status {
                    ExecutionStatus::Succeeded => ChildStatus::Succeeded,
                    ExecutionStatus::Failed => ChildStatus::Failed,
                    ExecutionStatus::TimedOut => ChildStatus::TimedOut,
                };
                let event = if status == ChildStatus::Succeeded {
                    "MapIterationSucceeded"
                } else {
                    "MapIterationFailed"
                };
                progress(ctx, event, job.index);
                let mut record = finished(job, sm_arn, &engine, start, status);
                record.output = output;
                record.error = error;
                record.cause = cause;
                record
            });
            fut
        })
        .collect();
    let mut failed_items = 0u64;
    let mut exceeded = false;
    let outcomes = join_until(futures, |_, child| {
        if matches!(child.status, ChildStatus::Failed | ChildStatus::TimedOut) {
            failed_items += child.items as u64;
            exceeded = exceeds(limits, failed_items, total_items);
        }
        exceeded
    })
    .await;
    let records = outcomes
        .into_iter()
        .zip(&jobs)
        .zip(&started)
        .map(|((outcome, job), slot)| match outcome {
            Some(record) => record,
            None => match slot.lock().expect("child slot lock").take() {
                // Started but cut short by the threshold: aborted, as AWS stops it.
                Some((engine, start)) => {
                    let last = engine.recorder.last_id();
                    engine.recorder.record(last, "ExecutionAborted", json!({}));
                    finished(job, &sm_arn, &engine, start, ChildStatus::Aborted)
                }
                None => pending(job, &sm_arn),
            },
        })
        .collect();
    (records, exceeded)
}

/// A child the Map Run never started (it keeps what an earlier attempt left).
fn pending(job: &Job, state_machine_arn: &str) -> ChildExecution {
    if let Some(earlier) = &job.earlier {
        return ChildExecution {
            status: if earlier.status == ChildStatus::Succeeded {
                ChildStatus::Succeeded
            } else {
                ChildStatus::Pending
            },
            ..earlier.clone()
        };
    }
    ChildExecution {
        index: job.index,
        items: job.items,
        name: job.name.clone(),
        execution_arn: job.execution_arn.clone(),
        state_machine_arn: state_machine_arn.to_owned(),
        status: ChildStatus::Pending,
        input: job.input.clone(),
        output: None,
        error: None,
        cause: None,
        start_date: None,
        stop_date: None,
        redrive_count: 0,
        history: Vec::new(),
        map_runs: Vec::new(),
        resume: None,
    }
}

/// The record of a child that ran, with its history, nested Map Runs and,
/// unless it succeeded, where it stopped.
fn finished(
    job: &Job,
    state_machine_arn: &str,
    engine: &Engine,
    start: DateTime<Utc>,
    status: ChildStatus,
) -> ChildExecution {
    let earlier_runs = job.earlier.as_ref().map(|c| c.map_runs.as_slice());
    let resume = if status == ChildStatus::Succeeded {
        None
    } else {
        engine.position.lock().expect("position lock").clone()
    };
    ChildExecution {
        index: job.index,
        items: job.items,
        name: job.name.clone(),
        execution_arn: job.execution_arn.clone(),
        state_machine_arn: state_machine_arn.to_owned(),
        status,
        input: job.input.clone(),
        output: None,
        error: None,
        cause: None,
        start_date: Some(start),
        stop_date: Some(engine.clock.now()),
        redrive_count: engine.redrive_count(),
        history: engine.recorder.take(),
        map_runs: merge_map_runs(earlier_runs.unwrap_or_default(), engine.take_map_runs()),
        resume,
    }
}

/// Tell the observer (not the history: AWS records no iteration events for a
/// Distributed Map) that a child started or ended, for progress displays.
fn progress(ctx: &StateCtx<'_>, event: &str, index: usize) {
    ctx.engine.recorder.notify(
        ctx.scope.cursor.load(std::sync::atomic::Ordering::SeqCst),
        event,
        json!({"index": index, "name": ctx.name}),
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use crate::map_run::{ChildStatus, MapRunStatus};
    use crate::store::{MemoryStore, ObjectStore};
    use crate::testing::{FakeInvoker, types};
    use crate::{Execution, ExecutionOptions, ExecutionStatus, StateMachine, VirtualClock};

    async fn run_on(def: &str, input: Value, store: Arc<MemoryStore>) -> Execution {
        let machine = StateMachine::parse(def).unwrap_or_else(|e| panic!("{e}"));
        crate::execute(
            &machine,
            input,
            Arc::new(FakeInvoker::default()),
            ExecutionOptions {
                clock: Arc::new(VirtualClock::default()),
                object_store: Some(store),
                ..Default::default()
            },
        )
        .await
    }

    /// A Distributed Map over `$.items` whose children fail on 0 and pass anything else.
    fn failing_on_zero(extra: &str) -> String {
        format!(
            r#"{{"StartAt": "M", "States": {{"M": {{"Type": "Map", "ItemsPath": "$.items", {extra}
                "ItemProcessor": {{"ProcessorConfig": {{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}}, "StartAt": "C", "States": {{
                    "C": {{"Type": "Choice", "Choices": [{{"Variable": "$", "NumericEquals": 0, "Next": "F"}}], "Default": "P"}},
                    "F": {{"Type": "Fail", "Error": "Zero", "Cause": "zero is not allowed"}},
                    "P": {{"Type": "Pass", "End": true}}}}}}, "End": true}}}}}}"#
        )
    }

    async fn json_object(store: &MemoryStore, bucket: &str, key: &str) -> Value {
        serde_json::from_slice(&store.get(bucket, key).await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_result_writer_exports_each_status_and_a_manifest_under_the_map_run_id() {
        let store = Arc::new(MemoryStore::new());
        let def = failing_on_zero(
            r#""ToleratedFailureCount": 1, "MaxConcurrency": 1,
               "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs/"}},"#,
        );
        let run = run_on(&def, json!({"items": [1, 0, 2]}), store.clone()).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
        let output = run.output.unwrap();
        let map_run_arn = output["MapRunArn"].as_str().unwrap();
        let run_id = map_run_arn.rsplit(':').next().unwrap();
        let manifest_key = format!("runs/{run_id}/manifest.json");
        assert_eq!(
            output["ResultWriterDetails"],
            json!({"Bucket": "out", "Key": manifest_key})
        );
        assert_eq!(
            store.keys("out"),
            [
                format!("runs/{run_id}/FAILED_0.json"),
                format!("runs/{run_id}/SUCCEEDED_0.json"),
                manifest_key.clone(),
            ]
        );
        let manifest = json_object(&store, "out", &manifest_key).await;
        assert_eq!(manifest["DestinationBucket"], "out");
        assert_eq!(manifest["MapRunArn"], map_run_arn);
        assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
        let succeeded_key = format!("runs/{run_id}/SUCCEEDED_0.json");
        assert_eq!(
            manifest["ResultFiles"]["SUCCEEDED"][0]["Key"],
            succeeded_key
        );
        let succeeded = json_object(&store, "out", &succeeded_key).await;
        let size = store.get("out", &succeeded_key).await.unwrap().len();
        assert_eq!(manifest["ResultFiles"]["SUCCEEDED"][0]["Size"], size);
        assert_eq!(succeeded.as_array().unwrap().len(), 2);
        let first = &succeeded[0];
        assert_eq!(first["Status"], "SUCCEEDED");
        assert_eq!(
            (first["Input"].clone(), first["Output"].clone()),
            (json!("1"), json!("1"))
        );
        assert_eq!(first["InputDetails"], json!({"Included": true}));
        assert!(
            first["ExecutionArn"]
                .as_str()
                .unwrap()
                .contains(":execution:local-state-machine/M:")
        );
        let failed = json_object(&store, "out", &format!("runs/{run_id}/FAILED_0.json")).await;
        assert_eq!(failed[0]["Status"], "FAILED");
        assert_eq!(
            (failed[0]["Error"].clone(), failed[0]["Cause"].clone()),
            (json!("Zero"), json!("zero is not allowed"))
        );
        assert_eq!(failed[0]["Input"], "0");
        assert!(failed[0].get("Output").is_none());
    }

    #[tokio::test]
    async fn passing_the_threshold_fails_the_map_run_aborts_nothing_finished_and_leaves_the_rest_pending()
     {
        let store = Arc::new(MemoryStore::new());
        let def = failing_on_zero(
            r#""MaxConcurrency": 1,
               "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "p"}},"#,
        );
        let run = run_on(&def, json!({"items": [0, 1, 2]}), store.clone()).await;
        assert_eq!(
            run.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
        assert_eq!(
            types(&run.history),
            [
                "ExecutionStarted",
                "MapStateEntered",
                "MapStateStarted",
                "MapRunStarted",
                "MapRunFailed",
                "MapStateFailed",
                "ExecutionFailed"
            ]
        );
        assert_eq!(
            run.history[4].details,
            json!({"error": "States.ExceedToleratedFailureThreshold", "cause": "The specified tolerated failure threshold was exceeded"})
        );
        let map_run = &run.map_runs[0];
        assert_eq!(map_run.status, MapRunStatus::Failed);
        let statuses: Vec<ChildStatus> = map_run.children.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                ChildStatus::Failed,
                ChildStatus::Pending,
                ChildStatus::Pending
            ]
        );
        assert_eq!(
            (map_run.item_counts.failed, map_run.item_counts.pending),
            (1, 2)
        );
        let run_id = map_run.map_run_arn.rsplit(':').next().unwrap();
        let pending = json_object(&store, "out", &format!("p/{run_id}/PENDING_0.json")).await;
        assert_eq!(pending.as_array().unwrap().len(), 2);
        assert_eq!(pending[1]["Input"], "2");
        let manifest = json_object(&store, "out", &format!("p/{run_id}/manifest.json")).await;
        assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([]));
    }

    #[tokio::test]
    async fn a_tolerated_percentage_lets_failures_through_until_it_is_passed() {
        let def = failing_on_zero(r#""ToleratedFailurePercentage": 25,"#);
        let store = Arc::new(MemoryStore::new());
        let ok = run_on(&def, json!({"items": [1, 0, 2, 3]}), store.clone()).await;
        assert_eq!(ok.status, ExecutionStatus::Succeeded, "{ok:?}");
        // A failed child is given as its execution record, successes as their output.
        let out = ok.output.unwrap();
        assert_eq!(
            (out[0].clone(), out[2].clone(), out[3].clone()),
            (json!(1), json!(2), json!(3))
        );
        assert_eq!(out[1]["Status"], "FAILED");
        assert_eq!(out[1]["Error"], "Zero");
        let over = run_on(&def, json!({"items": [1, 0, 0, 3]}), store).await;
        assert_eq!(
            over.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
    }

    #[tokio::test]
    async fn each_child_is_an_execution_with_its_own_history_and_the_map_run_counts_them() {
        let def = failing_on_zero(r#""Label": "Batches", "ToleratedFailureCount": 5,"#);
        let run = run_on(&def, json!({"items": [7, 0]}), Arc::new(MemoryStore::new())).await;
        assert_eq!(run.map_runs.len(), 1);
        let map_run = &run.map_runs[0];
        assert!(
            map_run
                .map_run_arn
                .contains(":mapRun:local-state-machine/Batches:")
        );
        assert_eq!(
            (
                map_run.item_counts.succeeded,
                map_run.item_counts.failed,
                map_run.item_counts.total
            ),
            (1, 1, 2)
        );
        let ok = &map_run.children[0];
        assert_eq!(ok.output, Some(json!(7)));
        assert_eq!(
            types(&ok.history),
            [
                "ExecutionStarted",
                "ChoiceStateEntered",
                "ChoiceStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        assert_eq!(ok.history[0].details["input"], json!(7));
        let failed = &map_run.children[1];
        assert_eq!(types(&failed.history).last(), Some(&"ExecutionFailed"));
        assert_eq!(
            failed.state_machine_arn,
            "arn:aws:states:us-east-1:123456789012:stateMachine:local-state-machine/Batches"
        );
        // The parent's history has no iteration events: those are the children's.
        assert!(
            !types(&run.history)
                .iter()
                .any(|t| t.starts_with("MapIteration"))
        );
    }

    #[tokio::test]
    async fn an_express_child_times_out_after_five_minutes_and_has_an_express_arn() {
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailurePercentage": 100,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "W",
                "States": {"W": {"Type": "Wait", "SecondsPath": "$", "End": true}}}, "End": true}}}"#;
        let run = run_on(def, json!([10, 400]), Arc::new(MemoryStore::new())).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
        let children = &run.map_runs[0].children;
        assert_eq!(children[0].status, ChildStatus::Succeeded);
        assert_eq!(children[1].status, ChildStatus::TimedOut);
        assert_eq!(
            types(&children[1].history).last(),
            Some(&"ExecutionTimedOut")
        );
        assert!(
            children[0]
                .execution_arn
                .contains(":express:local-state-machine/M:")
        );
    }

    #[tokio::test]
    async fn items_from_a_jsonl_object_with_a_pipe_delimited_csv_beside_it() {
        let store = Arc::new(MemoryStore::new());
        store.insert("in", "rows.jsonl", "{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": 3}\n");
        store.insert("in", "rows.csv", "sym|px\nAAPL|1.5\nMSFT|2\n");
        let reader = |config: &str, key: &str| {
            format!(
                r#"{{"StartAt": "M", "States": {{"M": {{"Type": "Map",
                    "ItemReader": {{"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {config},
                                   "Parameters": {{"Bucket": "in", "Key": "{key}"}}}},
                    "ItemProcessor": {{"ProcessorConfig": {{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}}, "StartAt": "P",
                        "States": {{"P": {{"Type": "Pass", "End": true}}}}}}, "End": true}}}}}}"#
            )
        };
        let jsonl = run_on(
            &reader(r#"{"InputType": "JSONL", "MaxItems": 2}"#, "rows.jsonl"),
            json!({}),
            store.clone(),
        )
        .await;
        assert_eq!(jsonl.output, Some(json!([{"a": 1}, {"a": 2}])));
        let csv = run_on(
            &reader(
                r#"{"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "PIPE"}"#,
                "rows.csv",
            ),
            json!({}),
            store.clone(),
        )
        .await;
        assert_eq!(
            csv.output,
            Some(json!([{"sym": "AAPL", "px": "1.5"}, {"sym": "MSFT", "px": "2"}]))
        );
        let missing = run_on(
            &reader(r#"{"InputType": "JSON"}"#, "nope.json"),
            json!({}),
            store,
        )
        .await;
        assert_eq!(missing.error.as_deref(), Some("States.ItemReaderFailed"));
        assert!(missing.cause.unwrap().contains("s3://in/nope.json"));
    }

    #[tokio::test]
    async fn selected_items_are_batched_with_the_batch_input_and_writer_config_flattens_outputs() {
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.xs",
            "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
            "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.tag"}},
            "ResultWriter": {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "OutputPath": "$.Items", "End": true}}}, "End": true}}}"#;
        let run = run_on(
            def,
            json!({"xs": ["a", "b", "c"], "tag": "t"}),
            Arc::new(MemoryStore::new()),
        )
        .await;
        assert_eq!(
            run.output,
            Some(json!([{"v": "a", "i": 0}, {"v": "b", "i": 1}, {"v": "c", "i": 2}]))
        );
        let map_run = &run.map_runs[0];
        assert_eq!(map_run.children.len(), 2);
        assert_eq!(
            map_run.children[1].input,
            json!({"BatchInput": {"tag": "t"}, "Items": [{"v": "c", "i": 2}]})
        );
        assert_eq!(
            (map_run.item_counts.total, map_run.execution_counts.total),
            (3, 2)
        );
    }

    #[tokio::test]
    async fn a_jsonata_map_reads_and_writes_through_arguments() {
        let store = Arc::new(MemoryStore::new());
        store.insert("in", "k.json", "[1, 2, 3]");
        let def = r#"{"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $states.input.n %}"},
                           "Arguments": {"Bucket": "in", "Key": "{% $states.input.key %}"}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Arguments": {"Bucket": "out", "Prefix": "{% $states.input.key %}"},
                             "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "Output": "{% $states.input * 10 %}", "End": true}}}, "End": true}}}"#;
        let run = run_on(def, json!({"key": "k.json", "n": 2}), store.clone()).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
        let key = run.output.unwrap()["ResultWriterDetails"]["Key"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            key.starts_with("k.json/") && key.ends_with("/manifest.json"),
            "{key}"
        );
        let succeeded = key.replace("manifest.json", "SUCCEEDED_0.json");
        assert_eq!(store.get("out", &succeeded).await.unwrap(), b"10\n20\n");
    }

    #[tokio::test]
    async fn list_objects_v2_gives_one_item_per_object_under_the_prefix() {
        let store = Arc::new(MemoryStore::new());
        store.insert("b", "in/x.txt", "12345");
        store.insert("b", "in/y.txt", "1");
        store.insert("b", "other.txt", "1");
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "Prefix": "in/"}},
            "ItemSelector": {"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}"#;
        let run = run_on(def, json!({}), store).await;
        assert_eq!(
            run.output,
            Some(json!([{"key": "in/x.txt", "size": 5}, {"key": "in/y.txt", "size": 1}]))
        );
    }

    #[tokio::test]
    async fn without_a_store_an_item_reader_fails_the_map_run_and_can_be_caught() {
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket": "b", "Key": "k"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}},
            "Catch": [{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Done"}], "End": true},
            "Done": {"Type": "Succeed"}}}"#;
        let machine = StateMachine::parse(def).unwrap();
        let run = crate::execute(
            &machine,
            json!({}),
            Arc::new(FakeInvoker::default()),
            ExecutionOptions {
                clock: Arc::new(VirtualClock::default()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(run.status, ExecutionStatus::Succeeded);
        assert!(
            run.output.unwrap()["Cause"]
                .as_str()
                .unwrap()
                .contains("--s3-root")
        );
    }
}
