//! `Task`: calls its `Resource` through the [`crate::TaskInvoker`], with
//! TimeoutSeconds (raced on the clock), Retry and Catch.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::definition::Common;
use crate::error::{Fault, names};
use crate::execution::{MAX_PAYLOAD_BYTES, StateCtx, Transition, serialized_len};
use crate::invoker::TaskCall;
use crate::io::{self, PathResolver};
use crate::retry;

#[derive(Debug, Clone, Deserialize)]
pub struct TaskState {
    #[serde(flatten)]
    pub common: Common,
    #[serde(rename = "Resource")]
    pub resource: String,
    #[serde(rename = "TimeoutSeconds", default)]
    pub timeout_seconds: Option<Value>,
    #[serde(rename = "TimeoutSecondsPath", default)]
    pub timeout_seconds_path: Option<String>,
    #[serde(rename = "HeartbeatSeconds", default)]
    pub heartbeat_seconds: Option<Value>,
    #[serde(rename = "HeartbeatSecondsPath", default)]
    pub heartbeat_seconds_path: Option<String>,
    #[serde(rename = "Credentials", default)]
    pub credentials: Option<Value>,
}

/// How the history names a resource's events.
enum ResourceKind<'a> {
    /// A Lambda function ARN: `LambdaFunctionScheduled`, ...
    Lambda,
    /// A service integration `arn:aws:states:::service:action[.pattern]`: `TaskScheduled`, ...
    Service {
        resource_type: &'a str,
        resource: &'a str,
    },
}

fn kind(resource: &str) -> ResourceKind<'_> {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts.len() >= 6 && parts[2] == "lambda" && parts[5].starts_with("function:") {
        return ResourceKind::Lambda;
    }
    if parts.len() == 6 && parts[2] == "states" {
        let rest = parts[5];
        if let Some((t, r)) = rest.split_once(':') {
            return ResourceKind::Service {
                resource_type: t,
                resource: r,
            };
        }
        return ResourceKind::Service {
            resource_type: rest,
            resource: rest,
        };
    }
    ResourceKind::Service {
        resource_type: "local",
        resource,
    }
}

impl TaskState {
    pub(crate) async fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        let effective = match io::effective_input(ctx, &self.common, &input) {
            Ok(v) => v,
            Err(f) => return retry::catch(ctx, &self.common.catch, f, input),
        };
        let timeout = match self.timeout(ctx, &input) {
            Ok(t) => t,
            Err(f) => return retry::catch(ctx, &self.common.catch, f, input),
        };
        let result = retry::with_retry(ctx, &self.common.retry, || {
            self.attempt(ctx, effective.clone(), timeout)
        })
        .await;
        match result {
            Ok(r) => {
                ctx.inspect("result", || r.clone());
                io::finish(ctx, &self.common, input, r)
            }
            Err(f) => retry::catch(ctx, &self.common.catch, f, input),
        }
    }

    fn timeout(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Option<Duration>, Fault> {
        if let Some(v) = &self.timeout_seconds {
            if let Some(expr) = v.as_str().and_then(crate::jsonata::expression) {
                let states = crate::jsonata::states_var(ctx, input, None, None);
                let value = crate::jsonata::evaluate(expr, &states, &ctx.scope.variables())
                    .map_err(|e| crate::jsonata::query_error(ctx, expr, "TimeoutSeconds", &e))?;
                return Ok(super::as_integer(&value).map(|s| Duration::from_secs(s.max(0) as u64)));
            }
            return Ok(super::as_integer(v).map(|s| Duration::from_secs(s.max(0) as u64)));
        }
        if let Some(p) = &self.timeout_seconds_path {
            let r = PathResolver {
                ctx,
                input,
                field: "TimeoutSecondsPath".into(),
            };
            let v = io::evaluate(&r, p)?;
            return match super::as_integer(&v) {
                Some(s) if s > 0 => Ok(Some(Duration::from_secs(s as u64))),
                _ => Err(ctx.runtime(format!(
                    "The TimeoutSecondsPath parameter does not reference a positive integer: {p} == {v}"
                ))),
            };
        }
        Ok(None)
    }

    async fn attempt(
        &self,
        ctx: &StateCtx<'_>,
        input: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, Fault> {
        let kind = kind(&self.resource);
        match &kind {
            ResourceKind::Lambda => {
                let mut details = json!({"input": input, "inputDetails": {"truncated": false}, "resource": self.resource});
                if let Some(t) = timeout {
                    details["timeoutInSeconds"] = json!(t.as_secs());
                }
                ctx.record("LambdaFunctionScheduled", details);
                ctx.record("LambdaFunctionStarted", Value::Null);
            }
            ResourceKind::Service {
                resource_type,
                resource,
            } => {
                let mut details = json!({
                    "resourceType": resource_type, "resource": resource, "region": region(ctx),
                    "parameters": input.to_string(),
                });
                if let Some(t) = timeout {
                    details["timeoutInSeconds"] = json!(t.as_secs());
                }
                ctx.record("TaskScheduled", details);
                ctx.record(
                    "TaskStarted",
                    json!({"resourceType": resource_type, "resource": resource}),
                );
            }
        }
        let call = TaskCall {
            resource: self.resource.clone(),
            state_name: ctx.name.to_owned(),
            input,
            context: ctx.context_object(),
        };
        let mock = ctx.mock().cloned();
        let invocation = async move {
            match mock {
                Some(m) => m.outcome(),
                None => ctx.engine.invoker.invoke(call).await,
            }
        };
        let outcome = match timeout {
            Some(t) => {
                let sleep = ctx.engine.clock.sleep(t);
                tokio::select! {
                    biased;
                    r = invocation => Some(r),
                    _ = sleep => None,
                }
            }
            None => Some(invocation.await),
        };
        let (prefix, service) = match &kind {
            ResourceKind::Lambda => ("LambdaFunction", None),
            ResourceKind::Service {
                resource_type,
                resource,
            } => ("Task", Some((*resource_type, *resource))),
        };
        let with_service = |mut d: Value| {
            if let Some((t, r)) = service {
                d["resourceType"] = json!(t);
                d["resource"] = json!(r);
            }
            d
        };
        match outcome {
            Some(Ok(output)) => {
                if serialized_len(&output) > MAX_PAYLOAD_BYTES {
                    let fault = Fault::new(
                        names::DATA_LIMIT_EXCEEDED,
                        format!(
                            "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                            match &kind {
                                ResourceKind::Lambda => self.resource.as_str(),
                                ResourceKind::Service { resource_type, .. } => resource_type,
                            }
                        ),
                    );
                    ctx.record(
                        &format!("{prefix}Failed"),
                        with_service(fault_details(&fault)),
                    );
                    return Err(fault);
                }
                let details = match service {
                    None => json!({"output": output, "outputDetails": {"truncated": false}}),
                    Some(_) => with_service(
                        json!({"output": output, "outputDetails": {"truncated": false}}),
                    ),
                };
                ctx.record(&format!("{prefix}Succeeded"), details);
                Ok(output)
            }
            Some(Err(failure)) => {
                let fault = Fault::from(failure);
                ctx.record(
                    &format!("{prefix}Failed"),
                    with_service(fault_details(&fault)),
                );
                Err(fault)
            }
            None => {
                let fault = Fault::without_cause(names::TIMEOUT);
                ctx.record(
                    &format!("{prefix}TimedOut"),
                    with_service(fault_details(&fault)),
                );
                Err(fault)
            }
        }
    }
}

fn region(ctx: &StateCtx<'_>) -> String {
    ctx.engine.execution["Id"]
        .as_str()
        .and_then(|arn| arn.split(':').nth(3))
        .unwrap_or("us-east-1")
        .to_owned()
}

fn fault_details(f: &Fault) -> Value {
    f.to_details()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{FakeInvoker, run_with, types};
    use crate::{ExecutionStatus, HistoryEvent, TaskFailure, VirtualClock};

    const RETRYING: &str = r#"{"StartAt": "FetchBars", "States": {"FetchBars": {
        "Type": "Task", "Resource": "arn:fetch", "End": true,
        "Retry": [{"ErrorEquals": ["MarketData.RateLimited"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 5, "MaxDelaySeconds": 10}]}}}"#;

    fn rate_limited() -> Result<serde_json::Value, TaskFailure> {
        Err(TaskFailure::new("MarketData.RateLimited", "429"))
    }

    #[tokio::test]
    async fn a_task_failing_twice_with_a_retried_error_is_called_three_times_with_growing_backoff()
    {
        let invoker = Arc::new(FakeInvoker::default());
        invoker
            .reply("arn:fetch", rate_limited())
            .reply("arn:fetch", rate_limited());
        invoker.reply("arn:fetch", Ok(json!({"bars": 3})));
        let clock = Arc::new(VirtualClock::default());
        let run = run_with(RETRYING, json!({}), invoker.clone(), clock.clone()).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
        assert_eq!(run.output, Some(json!({"bars": 3})));
        assert_eq!(invoker.calls().len(), 3);
        assert_eq!(
            clock.sleeps(),
            vec![Duration::from_secs(2), Duration::from_secs(6)]
        );
    }

    #[tokio::test]
    async fn backoff_is_capped_by_max_delay_seconds_and_attempts_run_out() {
        let invoker = Arc::new(FakeInvoker::default());
        for _ in 0..6 {
            invoker.reply("arn:fetch", rate_limited());
        }
        let clock = Arc::new(VirtualClock::default());
        let run = run_with(RETRYING, json!({}), invoker.clone(), clock.clone()).await;
        assert_eq!(run.status, ExecutionStatus::Failed);
        assert_eq!(run.error.as_deref(), Some("MarketData.RateLimited"));
        assert_eq!(run.cause.as_deref(), Some("429"));
        assert_eq!(invoker.calls().len(), 6);
        let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![2, 6, 10, 10, 10]);
    }

    #[tokio::test]
    async fn the_observer_sees_each_retry_with_its_attempt_and_backoff() {
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:fetch", rate_limited());
        let seen = Arc::new(std::sync::Mutex::new(Vec::<HistoryEvent>::new()));
        let sink = seen.clone();
        let machine = crate::StateMachine::parse(RETRYING).unwrap();
        let run = crate::execute(
            &machine,
            json!({}),
            invoker,
            crate::ExecutionOptions {
                clock: Arc::new(VirtualClock::default()),
                observer: Some(Arc::new(move |e: &HistoryEvent| {
                    sink.lock().unwrap().push(e.clone())
                })),
                ..Default::default()
            },
        )
        .await;
        let seen = seen.lock().unwrap();
        let retry: Vec<_> = seen
            .iter()
            .filter(|e| e.event_type == crate::RETRY_SCHEDULED)
            .collect();
        assert_eq!(retry.len(), 1);
        assert_eq!(retry[0].details["attempt"], json!(2));
        assert_eq!(retry[0].details["backoffSeconds"], json!(2.0));
        assert_eq!(retry[0].details["name"], json!("FetchBars"));
        // The observer saw every recorded event too, and the history has no local events.
        assert_eq!(seen.len(), run.history.len() + 1);
        assert!(
            run.history
                .iter()
                .all(|e| e.event_type != crate::RETRY_SCHEDULED)
        );
    }

    #[tokio::test]
    async fn max_attempts_zero_never_retries_and_retriers_count_separately() {
        let def = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:t", "End": true,
            "Retry": [{"ErrorEquals": ["A"], "MaxAttempts": 1}, {"ErrorEquals": ["B"], "MaxAttempts": 1}, {"ErrorEquals": ["C"], "MaxAttempts": 0}]}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        for e in ["A", "B", "A"] {
            invoker.reply("arn:t", Err(TaskFailure::new(e, "")));
        }
        let run = run_with(
            def,
            json!({}),
            invoker.clone(),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(run.error.as_deref(), Some("A"));
        assert_eq!(invoker.calls().len(), 3);

        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply("arn:t", Err(TaskFailure::new("C", "")));
        let run = run_with(
            def,
            json!({}),
            invoker.clone(),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(run.error.as_deref(), Some("C"));
        assert_eq!(invoker.calls().len(), 1);
    }

    #[tokio::test]
    async fn catch_routes_the_error_into_result_path_and_on_to_its_next_state() {
        let def = r#"{"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:t", "Next": "Done",
                  "Catch": [{"ErrorEquals": ["Input.Invalid"], "ResultPath": "$.error", "Next": "Handle"}]},
            "Handle": {"Type": "Pass", "Result": "handled", "ResultPath": "$.handled", "End": true},
            "Done": {"Type": "Succeed"}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply(
            "arn:t",
            Err(TaskFailure::new("Input.Invalid", "bad symbol")),
        );
        let run = run_with(
            def,
            json!({"symbol": "x"}),
            invoker,
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(run.status, ExecutionStatus::Succeeded);
        assert_eq!(
            run.output,
            Some(
                json!({"symbol": "x", "error": {"Error": "Input.Invalid", "Cause": "bad symbol"}, "handled": "handled"})
            )
        );
        assert_eq!(
            types(&run.history),
            vec![
                "ExecutionStarted",
                "TaskStateEntered",
                "TaskScheduled",
                "TaskStarted",
                "TaskFailed",
                "TaskStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
    }

    #[tokio::test]
    async fn a_task_exceeding_timeout_seconds_fails_with_states_timeout() {
        let def = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:t", "TimeoutSeconds": 5, "End": true}}}"#;
        let clock = Arc::new(VirtualClock::default());
        let slow = Arc::new(FakeInvoker {
            latency: Some((clock.clone(), Duration::from_secs(10))),
            ..Default::default()
        });
        let run = run_with(def, json!({}), slow, clock.clone()).await;
        assert_eq!(run.error.as_deref(), Some("States.Timeout"));
        assert_eq!(run.cause, None);
        assert!(types(&run.history).contains(&"TaskTimedOut"));

        let quick = Arc::new(FakeInvoker {
            latency: Some((clock.clone(), Duration::from_secs(3))),
            ..Default::default()
        });
        let run = run_with(def, json!({"ok": 1}), quick, clock).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded);
    }

    #[tokio::test]
    async fn lambda_arns_record_lambda_events_and_the_call_carries_input_and_context() {
        let def = r#"{"StartAt": "T", "States": {"T": {"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fetch-bars",
            "InputPath": "$.req", "Parameters": {"symbol.$": "$.s", "exec.$": "$$.Execution.Name"},
            "ResultSelector": {"n.$": "$.count"}, "ResultPath": "$.out", "OutputPath": "$.out", "End": true}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply(
            "arn:aws:lambda:us-east-1:123456789012:function:fetch-bars",
            Ok(json!({"count": 7, "junk": 1})),
        );
        let run = run_with(
            def,
            json!({"req": {"s": "AAPL"}}),
            invoker.clone(),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(run.output, Some(json!({"n": 7})));
        let call = &invoker.calls()[0];
        assert_eq!(
            call.input,
            json!({"symbol": "AAPL", "exec": "local-execution"})
        );
        assert_eq!(call.state_name, "T");
        assert_eq!(call.context["State"]["Name"], json!("T"));
        assert!(types(&run.history).contains(&"LambdaFunctionSucceeded"));
    }

    #[tokio::test]
    async fn a_task_result_over_256_kib_fails_with_data_limit_exceeded_which_states_all_catches() {
        let def = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]}, "C": {"Type": "Succeed"}}}"#;
        let invoker = Arc::new(FakeInvoker::default());
        invoker.reply(
            "arn:aws:lambda:us-east-1:1:function:f",
            Ok(json!("x".repeat(300 * 1024))),
        );
        let run = run_with(def, json!({}), invoker, Arc::new(VirtualClock::default())).await;
        assert_eq!(
            run.output,
            Some(json!({"Error": "States.DataLimitExceeded",
                "Cause": "The state/task 'arn:aws:lambda:us-east-1:1:function:f' returned a result with a size exceeding the maximum number of bytes service limit."}))
        );
    }
}
