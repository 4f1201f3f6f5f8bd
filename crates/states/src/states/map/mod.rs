//! `Map`: runs its ItemProcessor once per item of an array, at most
//! `MaxConcurrency` at a time (0 = unbounded); results come back in input order.
//! Inline mode stops at the first failing iteration and fails with its error;
//! with ToleratedFailureCount/Percentage it keeps going until the threshold is passed.
//!
//! Distributed mode (`ProcessorConfig.Mode: DISTRIBUTED`) runs a Map Run of
//! child executions instead: [`distributed`] drives it, [`reader`] reads the
//! items from the object store (`ItemReader`), [`batcher`] groups them
//! (`ItemBatcher`) and [`writer`] shapes or exports the results (`ResultWriter`).

use std::sync::atomic::{AtomicU8, Ordering};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::concurrency::{BoxFuture, join_until};
use crate::definition::{Common, Program, QueryLanguage};
use crate::error::{Fault, names};
use crate::execution::{Scope, StateCtx, Transition, run_program};
use crate::io::{self, PathResolver};
use crate::jsonata;
use crate::{retry, states};

mod batcher;
mod distributed;
mod reader;
mod writer;

pub use batcher::ItemBatcher;
pub use reader::{GET_OBJECT, ItemReader, LIST_OBJECTS_V2, ReaderConfig, csv_delimiter};
pub use writer::{PUT_OBJECT, ResultWriter, WriterConfig};

#[derive(Debug, Clone, Deserialize)]
pub struct MapState {
    #[serde(flatten)]
    pub common: Common,
    #[serde(rename = "ItemProcessor", default)]
    pub item_processor: Option<Processor>,
    /// The legacy name of `ItemProcessor`.
    #[serde(rename = "Iterator", default)]
    pub iterator: Option<Processor>,
    #[serde(rename = "ItemsPath", default)]
    pub items_path: Option<String>,
    #[serde(rename = "ItemSelector", default)]
    pub item_selector: Option<Value>,
    #[serde(rename = "MaxConcurrency", default)]
    pub max_concurrency: Option<Value>,
    #[serde(rename = "MaxConcurrencyPath", default)]
    pub max_concurrency_path: Option<String>,
    #[serde(rename = "ToleratedFailureCount", default)]
    pub tolerated_failure_count: Option<Value>,
    #[serde(rename = "ToleratedFailureCountPath", default)]
    pub tolerated_failure_count_path: Option<String>,
    #[serde(rename = "ToleratedFailurePercentage", default)]
    pub tolerated_failure_percentage: Option<Value>,
    #[serde(rename = "ToleratedFailurePercentagePath", default)]
    pub tolerated_failure_percentage_path: Option<String>,
    #[serde(rename = "ItemReader", default)]
    pub item_reader: Option<ItemReader>,
    #[serde(rename = "ItemBatcher", default)]
    pub item_batcher: Option<ItemBatcher>,
    #[serde(rename = "ResultWriter", default)]
    pub result_writer: Option<ResultWriter>,
    #[serde(rename = "Label", default)]
    pub label: Option<String>,
    #[serde(rename = "Items", default)]
    pub items: Option<Value>,
}

/// An ItemProcessor (or Iterator): a program plus its processor config.
#[derive(Debug, Clone, Deserialize)]
pub struct Processor {
    #[serde(flatten)]
    pub program: Program,
    #[serde(rename = "ProcessorConfig", default)]
    pub config: Option<ProcessorConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProcessorConfig {
    #[serde(rename = "Mode", default)]
    pub mode: Option<String>,
    #[serde(rename = "ExecutionType", default)]
    pub execution_type: Option<String>,
}

/// Limits read from the state and its input for one run.
struct Limits {
    max_concurrency: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
}

const NOT_STARTED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

impl MapState {
    pub fn processor(&self) -> Option<&Processor> {
        self.item_processor.as_ref().or(self.iterator.as_ref())
    }

    pub fn is_distributed(&self) -> bool {
        self.processor()
            .and_then(|p| p.config.as_ref())
            .and_then(|c| c.mode.as_deref())
            == Some("DISTRIBUTED")
    }

    /// A Distributed Map's child execution type (STANDARD unless EXPRESS is named).
    pub fn execution_type(&self) -> crate::map_run::ExecutionType {
        match self
            .processor()
            .and_then(|p| p.config.as_ref())
            .and_then(|c| c.execution_type.as_deref())
        {
            Some("EXPRESS") => crate::map_run::ExecutionType::Express,
            _ => crate::map_run::ExecutionType::Standard,
        }
    }

    pub(crate) async fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        let effective = io::select_path(ctx, &self.common.input_path, input.clone())?;
        if ctx.language == QueryLanguage::JSONPath {
            ctx.inspect("afterInputPath", || effective.clone());
        }
        // With an ItemReader the items come from the store once the Map Run
        // starts; AWS then ignores ItemsPath (recorded: even one that does not resolve).
        let items = if self.item_reader.is_some() {
            Vec::new()
        } else if ctx.language == QueryLanguage::JSONata {
            match self.jsonata_items(ctx, &effective) {
                Ok(items) => items,
                Err(f) => {
                    ctx.record("MapStateFailed", Value::Null);
                    return Err(f);
                }
            }
        } else {
            self.jsonpath_items(ctx, &effective)?
        };
        if ctx.language == QueryLanguage::JSONPath && self.item_reader.is_none() {
            ctx.inspect("afterItemsPath", || Value::Array(items.clone()));
        }
        // AWS checks MaxConcurrencyPath before the Map starts (the tolerated
        // failure limits only once it has).
        read_int(
            ctx,
            &effective,
            &self.max_concurrency,
            &self.max_concurrency_path,
            "MaxConcurrency",
        )?;
        self.after_items(ctx, input, effective, items).await
    }

    /// JSONata: `Items` (an array or an expression), else the input itself.
    fn jsonata_items(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Vec<Value>, Fault> {
        let Some(items) = &self.items else {
            return match input {
                Value::Array(a) => Ok(a.clone()),
                other => Err(jsonata::query_fault(
                    ctx,
                    None,
                    format!("Map state input must be an array but was: {other}"),
                )),
            };
        };
        let states = jsonata::states_var(ctx, input, None, None);
        match jsonata::template(ctx, items, "Items", &states)? {
            Value::Array(a) => Ok(a),
            other => {
                let expr = items
                    .as_str()
                    .and_then(jsonata::expression)
                    .unwrap_or_default();
                Err(jsonata::query_fault(
                    ctx,
                    Some("Items"),
                    format!(
                        "The JSONata expression '{expr}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                        jsonata::type_name(&other)
                    ),
                ))
            }
        }
    }

    fn jsonpath_items(&self, ctx: &StateCtx<'_>, effective: &Value) -> Result<Vec<Value>, Fault> {
        let items_path = Some(Some(self.items_path.clone().unwrap_or_else(|| "$".into())));
        let items = match io::select_path(ctx, &items_path, effective.clone())? {
            Value::Array(a) => a,
            _ => {
                let path = self.items_path.as_deref().unwrap_or("$");
                let shown = path
                    .strip_prefix('$')
                    .filter(|p| p.starts_with('$'))
                    .unwrap_or(path);
                return Err(Fault::runtime(format!(
                    "Reference path \"{shown}\" must point to array."
                )));
            }
        };
        Ok(items)
    }

    async fn after_items(
        &self,
        ctx: &StateCtx<'_>,
        input: Value,
        effective: Value,
        items: Vec<Value>,
    ) -> Result<Transition, Fault> {
        if let Some(mock) = ctx.mock() {
            // Under TestState a mock stands in for the iterations.
            let limits = self.limits(ctx, &effective)?;
            ctx.inspect("maxConcurrency", || json!(limits.max_concurrency));
            if let Some(c) = limits.tolerated_count {
                ctx.inspect("toleratedFailureCount", || json!(c));
            }
            if let Some(p) = limits.tolerated_percentage {
                ctx.inspect("toleratedFailurePercentage", || json!(p));
            }
            let failed = ctx
                .test
                .and_then(|t| t.map_iteration_failure_count)
                .unwrap_or(0);
            let tolerant =
                limits.tolerated_count.is_some() || limits.tolerated_percentage.is_some();
            let outcome: Result<Value, Fault> =
                if tolerant && exceeds(&limits, u64::from(failed), items.len()) {
                    Err(Fault::new(
                        names::EXCEEDED_TOLERATED_FAILURE_THRESHOLD,
                        "The specified tolerated failure threshold was exceeded",
                    ))
                } else {
                    mock.outcome().map_err(Fault::from)
                };
            let outcome = retry::with_retry(ctx, &self.common.retry, || {
                let o = outcome.clone();
                async move { o }
            })
            .await;
            return match outcome {
                Ok(r) => io::finish(ctx, &self.common, input, r),
                Err(f) => retry::catch(ctx, &self.common.catch, f, input),
            };
        }
        let result = retry::with_retry(ctx, &self.common.retry, || async {
            if self.is_distributed() {
                distributed::attempt(self, ctx, &effective, &items).await
            } else {
                self.attempt(ctx, &effective, &items).await
            }
        })
        .await;
        match result {
            Ok(r) => io::finish(ctx, &self.common, input, r),
            Err(f) => {
                // A runtime error (bad limits) ends the execution without MapStateFailed, as in AWS.
                if !f.is_terminal() {
                    ctx.record("MapStateFailed", Value::Null);
                }
                retry::catch(ctx, &self.common.catch, f, input)
            }
        }
    }

    fn limits(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Limits, Fault> {
        let read_int = |literal: &Option<Value>, path: &Option<String>, field: &str| {
            read_int(ctx, input, literal, path, field)
        };
        let max = read_int(
            &self.max_concurrency,
            &self.max_concurrency_path,
            "MaxConcurrency",
        )?
        .unwrap_or(0);
        let count = read_int(
            &self.tolerated_failure_count,
            &self.tolerated_failure_count_path,
            "ToleratedFailureCount",
        )?;
        if count.is_some_and(|c| c < 0) {
            return Err(ctx.runtime("ToleratedFailureCount cannot be negative."));
        }
        let percentage = match (
            &self.tolerated_failure_percentage,
            &self.tolerated_failure_percentage_path,
        ) {
            (Some(v), _) => match v.as_str().and_then(jsonata::expression) {
                Some(expr) => {
                    let states = jsonata::states_var(ctx, input, None, None);
                    jsonata::evaluate(expr, &states, &ctx.scope.variables())
                        .map_err(|e| {
                            jsonata::query_error(ctx, expr, "ToleratedFailurePercentage", &e)
                        })?
                        .as_f64()
                }
                None => v.as_f64(),
            },
            (None, Some(p)) => {
                let r = PathResolver {
                    ctx,
                    input,
                    field: "ToleratedFailurePercentagePath".into(),
                };
                let v = io::evaluate(&r, p)?;
                let parsed = match &v {
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    other => other.as_f64(),
                };
                Some(parsed.ok_or_else(|| {
                    let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    ctx.runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{shown}\" which is not a valid float: {p}"
                    ))
                })?)
            }
            (None, None) => None,
        };
        if percentage.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(ctx.runtime("ToleratedFailurePercentage must be between 0 and 100."));
        }
        Ok(Limits {
            max_concurrency: usize::try_from(max.max(0)).unwrap_or(usize::MAX),
            tolerated_count: count.map(|c| c as u64),
            tolerated_percentage: percentage,
        })
    }

    /// The input of iteration `index`: ItemSelector (or legacy Parameters)
    /// evaluated with `$$.Map.Item`, else the item itself.
    fn item_input(
        &self,
        ctx: &StateCtx<'_>,
        effective: &Value,
        index: usize,
        item: &Value,
    ) -> Result<Value, Fault> {
        let Some(template) = self
            .item_selector
            .as_ref()
            .or(self.common.parameters.as_ref())
        else {
            return Ok(item.clone());
        };
        let item_ctx = StateCtx {
            engine: ctx.engine,
            scope: ctx.scope,
            name: ctx.name,
            entered_time: ctx.entered_time,
            entered_event_id: ctx.entered_event_id,
            retry_count: std::sync::atomic::AtomicU32::new(ctx.retry_count.load(Ordering::SeqCst)),
            language: ctx.language,
            map_item: Some((index, item.clone())),
            test: None,
            prior: std::sync::Mutex::new(None),
        };
        if ctx.language == QueryLanguage::JSONata {
            let states = jsonata::states_var(&item_ctx, effective, None, None);
            return jsonata::template(&item_ctx, template, "ItemSelector", &states);
        }
        io::payload(&item_ctx, template, effective)
    }

    /// One inline run over `items` (a Retry runs it again).
    async fn attempt(
        &self,
        ctx: &StateCtx<'_>,
        effective: &Value,
        items: &[Value],
    ) -> Result<Value, Fault> {
        let processor = self
            .processor()
            .ok_or_else(|| ctx.runtime("Map state has no ItemProcessor"))?;
        // A redrive runs only the iterations that did not succeed.
        let done = ctx.take_prior().unwrap_or_default().completed;
        let started = ctx.record("MapStateStarted", json!({"length": items.len()}));
        let limits = &self.limits(ctx, effective)?;
        ctx.inspect("maxConcurrency", || json!(limits.max_concurrency));
        if let Some(c) = limits.tolerated_count {
            ctx.inspect("toleratedFailureCount", || json!(c));
        }
        if let Some(p) = limits.tolerated_percentage {
            ctx.inspect("toleratedFailurePercentage", || json!(p));
        }
        let permits = if limits.max_concurrency == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            limits.max_concurrency
        };
        let semaphore = tokio::sync::Semaphore::new(permits);
        let status: Vec<AtomicU8> = items.iter().map(|_| AtomicU8::new(NOT_STARTED)).collect();
        let scopes: Vec<Scope> = items
            .iter()
            .map(|_| {
                let language = processor.program.query_language.unwrap_or(ctx.language);
                Scope::new(ctx.scope.variables(), started, language)
            })
            .collect();
        let futures: Vec<BoxFuture<'_, Result<Value, Fault>>> = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let (semaphore, status, scope) = (&semaphore, &status[index], &scopes[index]);
                let earlier = done.get(&index).cloned();
                let fut: BoxFuture<'_, Result<Value, Fault>> = Box::pin(async move {
                    if let Some(output) = earlier {
                        ctx.engine.note_completed(index, &output);
                        return Ok(output);
                    }
                    let _permit = semaphore
                        .acquire()
                        .await
                        .expect("semaphore is never closed");
                    status.store(RUNNING, Ordering::SeqCst);
                    let result = self
                        .iteration(ctx, processor, scope, effective, index, item)
                        .await;
                    status.store(DONE, Ordering::SeqCst);
                    if let (true, Ok(output)) = (ctx.scope.top, &result) {
                        ctx.engine.note_completed(index, output);
                    }
                    result
                });
                fut
            })
            .collect();
        let total = items.len();
        let mut failures = 0u64;
        let mut exceeded = false;
        let outputs = join_until(futures, |_, r| {
            if r.is_err() {
                failures += 1;
                exceeded = exceeds(limits, failures, total);
                exceeded
            } else {
                false
            }
        })
        .await;
        ctx.scope
            .cursor
            .store(ctx.engine.recorder.last_id(), Ordering::SeqCst);
        if exceeded {
            for (index, s) in status.iter().enumerate() {
                if s.load(Ordering::SeqCst) == RUNNING {
                    ctx.record(
                        "MapIterationAborted",
                        json!({"index": index, "name": ctx.name}),
                    );
                }
            }
            let tolerant =
                limits.tolerated_count.is_some() || limits.tolerated_percentage.is_some();
            let first = outputs.into_iter().flatten().find_map(Result::err);
            return Err(match (tolerant, first) {
                (false, Some(f)) => f,
                _ => Fault::new(
                    names::EXCEEDED_TOLERATED_FAILURE_THRESHOLD,
                    "The specified tolerated failure threshold was exceeded",
                ),
            });
        }
        let results = outputs
            .into_iter()
            .map(|o| match o {
                Some(Ok(v)) => v,
                Some(Err(f)) => f.to_output(),
                None => Value::Null,
            })
            .collect();
        ctx.record("MapStateSucceeded", Value::Null);
        Ok(Value::Array(results))
    }

    async fn iteration(
        &self,
        ctx: &StateCtx<'_>,
        processor: &Processor,
        scope: &Scope,
        effective: &Value,
        index: usize,
        item: &Value,
    ) -> Result<Value, Fault> {
        let details = json!({"index": index, "name": ctx.name});
        scope.record(ctx.engine, "MapIterationStarted", details.clone());
        let result = match self.item_input(ctx, effective, index, item) {
            Ok(input) => run_program(ctx.engine, &processor.program, input, scope).await,
            Err(f) => Err(f),
        };
        let event = if result.is_ok() {
            "MapIterationSucceeded"
        } else {
            "MapIterationFailed"
        };
        scope.record(ctx.engine, event, details);
        result
    }
}

/// Read an integer limit given literally (a number or, in JSONata, an
/// expression) or by a path (numeric strings count); `None` when neither is given.
fn read_int(
    ctx: &StateCtx<'_>,
    input: &Value,
    literal: &Option<Value>,
    path: &Option<String>,
    field: &str,
) -> Result<Option<i64>, Fault> {
    if let Some(v) = literal {
        if let Some(expr) = v.as_str().and_then(jsonata::expression) {
            let states = jsonata::states_var(ctx, input, None, None);
            let value = jsonata::evaluate(expr, &states, &ctx.scope.variables())
                .map_err(|e| jsonata::query_error(ctx, expr, field, &e))?;
            return Ok(states::as_integer(&value));
        }
        return Ok(states::as_integer(v));
    }
    let Some(p) = path else { return Ok(None) };
    let r = PathResolver {
        ctx,
        input,
        field: format!("{field}Path"),
    };
    let v = io::evaluate(&r, p)?;
    let parsed = match &v {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        other => states::as_integer(other),
    };
    match parsed {
        Some(i) => Ok(Some(i)),
        None => Err(ctx.runtime(format!(
            "The {field}Path field refers to value \"{}\" which is not a valid integer: {p}",
            match &v {
                Value::String(s) => s.clone(),
                o => o.to_string(),
            }
        ))),
    }
}

/// Whether `failures` out of `total` passes the tolerated threshold (with no
/// threshold, any failure does).
fn exceeds(limits: &Limits, failures: u64, total: usize) -> bool {
    if limits.tolerated_count.is_none() && limits.tolerated_percentage.is_none() {
        return failures > 0;
    }
    let over_count = limits.tolerated_count.is_some_and(|c| failures > c);
    let over_pct = limits
        .tolerated_percentage
        .is_some_and(|p| total > 0 && (failures as f64) * 100.0 / (total as f64) > p);
    over_count || over_pct
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use serde_json::json;

    use crate::testing::{FakeInvoker, run, run_with, types};
    use crate::{ExecutionStatus, TaskFailure, VirtualClock};

    fn screen_map(max: u32) -> String {
        format!(
            r#"{{"StartAt": "M", "States": {{"M": {{"Type": "Map", "ItemsPath": "$.batches", "MaxConcurrency": {max},
                "ItemSelector": {{"batch.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "date.$": "$.date"}},
                "ItemProcessor": {{"ProcessorConfig": {{"Mode": "INLINE"}}, "StartAt": "Screen",
                    "States": {{"Screen": {{"Type": "Task", "Resource": "arn:screen", "End": true}}}}}},
                "ResultPath": "$.results", "End": true}}}}}}"#
        )
    }

    #[tokio::test]
    async fn map_runs_no_more_than_max_concurrency_iterations_at_once() {
        let invoker = Arc::new(FakeInvoker::default());
        let batches: Vec<_> = (0..10).collect();
        let run = run_with(
            &screen_map(3),
            json!({"batches": batches, "date": "d"}),
            invoker.clone(),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(run.status, ExecutionStatus::Succeeded);
        assert_eq!(invoker.calls().len(), 10);
        assert_eq!(invoker.max_in_flight.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn max_concurrency_zero_runs_every_iteration_at_once_and_keeps_input_order() {
        let invoker = Arc::new(FakeInvoker::default());
        let run = run_with(
            &screen_map(0),
            json!({"batches": ["a", "b", "c", "d"], "date": "d"}),
            invoker.clone(),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(invoker.max_in_flight.load(Ordering::SeqCst), 4);
        let results = &run.output.as_ref().unwrap()["results"];
        assert_eq!(
            results,
            &json!([
                {"batch": "a", "index": 0, "date": "d"}, {"batch": "b", "index": 1, "date": "d"},
                {"batch": "c", "index": 2, "date": "d"}, {"batch": "d", "index": 3, "date": "d"}
            ])
        );
        let h = types(&run.history);
        assert_eq!(h.iter().filter(|t| **t == "MapIterationStarted").count(), 4);
        assert_eq!(
            h.iter().filter(|t| **t == "MapIterationSucceeded").count(),
            4
        );
        assert!(h.contains(&"MapStateSucceeded"));
    }

    #[tokio::test]
    async fn a_failing_iteration_without_catch_fails_the_map_with_its_error() {
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:screen", Ok(json!(1)));
        invoker.reply(
            "arn:screen",
            Err(TaskFailure::new("Screen.Broken", "bad batch")),
        );
        let run = run_with(
            &screen_map(1),
            json!({"batches": [1, 2, 3], "date": "d"}),
            invoker.clone(),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(run.status, ExecutionStatus::Failed);
        assert_eq!(run.error.as_deref(), Some("Screen.Broken"));
        assert_eq!(run.cause.as_deref(), Some("bad batch"));
        assert_eq!(invoker.calls().len(), 2, "the third iteration never starts");
        let h = types(&run.history);
        assert!(h.contains(&"MapIterationFailed"));
        assert!(h.contains(&"MapStateFailed"));
        assert_eq!(h.last(), Some(&"ExecutionFailed"));
    }

    #[tokio::test]
    async fn legacy_iterator_and_parameters_still_work() {
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "Parameters": {"v.$": "$$.Map.Item.Value"},
            "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}"#;
        let run = run(def, json!([1, 2])).await;
        assert_eq!(run.output, Some(json!([{"v": 1}, {"v": 2}])));
    }

    #[tokio::test]
    async fn tolerated_failures_let_the_map_succeed_until_the_threshold() {
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "F"}], "Default": "P"},
                "F": {"Type": "Fail", "Error": "Zero"}, "P": {"Type": "Pass", "End": true}}}, "End": true}}}"#;
        let ok = run(def, json!([0, 1, 2])).await;
        assert_eq!(ok.status, ExecutionStatus::Succeeded, "{ok:?}");
        let bad = run(def, json!([0, 0, 2])).await;
        assert_eq!(
            bad.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
    }

    #[tokio::test]
    async fn a_distributed_map_records_a_map_run_and_keeps_child_events_for_the_observer() {
        let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "Batches",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}"#;
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let run = crate::execute(
            &crate::StateMachine::parse(def).unwrap(),
            json!([1, 2]),
            Arc::new(FakeInvoker::default()),
            crate::ExecutionOptions {
                clock: Arc::new(VirtualClock::default()),
                observer: Some(Arc::new(move |e: &crate::HistoryEvent| {
                    sink.lock().unwrap().push(e.event_type.clone())
                })),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(run.output, Some(json!([1, 2])));
        assert_eq!(
            types(&run.history),
            vec![
                "ExecutionStarted",
                "MapStateEntered",
                "MapStateStarted",
                "MapRunStarted",
                "MapRunSucceeded",
                "MapStateSucceeded",
                "MapStateExited",
                "ExecutionSucceeded"
            ]
        );
        let run_arn = run.history[3].details["mapRunArn"].as_str().unwrap();
        assert!(
            run_arn.contains(":mapRun:local-state-machine/Batches:"),
            "{run_arn}"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.iter()
                .filter(|t| *t == "MapIterationSucceeded")
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn items_that_are_not_an_array_are_a_runtime_error() {
        let run = run(&screen_map(0), json!({"batches": {"a": 1}})).await;
        assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    }
}
