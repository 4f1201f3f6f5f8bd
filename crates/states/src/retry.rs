//! Error handling shared by Task, Map and Parallel: Retry (with back-off
//! through the clock) and Catch (routing `{"Error","Cause"}` to another state).

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::definition::{Catcher, JitterStrategy, Retrier};
use crate::error::{Fault, names};
use crate::execution::{StateCtx, Transition};
use crate::history::RETRY_SCHEDULED;

pub const DEFAULT_INTERVAL_SECONDS: f64 = 1.0;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_BACKOFF_RATE: f64 = 2.0;

/// Whether an `ErrorEquals` list matches an error. `States.Runtime` is never
/// matched (AWS ends the execution even when it is named explicitly);
/// `States.ALL` matches any other error; `States.TaskFailed` matches any
/// other error except `States.Timeout`/`States.HeartbeatTimeout`.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    if error == names::RUNTIME {
        return false;
    }
    error_equals.iter().any(|e| {
        e == error
            || e == names::ALL
            || (e == names::TASK_FAILED
                && error != names::TIMEOUT
                && error != names::HEARTBEAT_TIMEOUT)
    })
}

/// The back-off before retry number `retries_done + 1` of this retrier, before jitter:
/// `IntervalSeconds * BackoffRate^retries_done`, capped by `MaxDelaySeconds`.
pub fn backoff(retrier: &Retrier, retries_done: u32) -> Duration {
    let interval = retrier.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS);
    let rate = retrier.backoff_rate.unwrap_or(DEFAULT_BACKOFF_RATE);
    let mut secs = interval * rate.powi(retries_done as i32);
    if let Some(max) = retrier.max_delay_seconds {
        secs = secs.min(max);
    }
    Duration::from_secs_f64(secs.clamp(0.0, 1.0e9))
}

/// Run `attempt` until it succeeds or no retrier applies. Each retrier counts
/// its own attempts. Every back-off is announced to the observer as a
/// `RetryScheduled` event and slept on the execution's clock.
pub(crate) async fn with_retry<F, Fut>(
    ctx: &StateCtx<'_>,
    retriers: &[Retrier],
    mut attempt: F,
) -> Result<Value, Fault>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Value, Fault>>,
{
    let mut counts = vec![0u32; retriers.len()];
    let mut attempt_no = 1u32;
    loop {
        let fault = match attempt().await {
            Ok(v) => return Ok(v),
            Err(f) => f,
        };
        let Some(index) = retriers
            .iter()
            .position(|r| error_matches(&r.error_equals, fault.name()))
        else {
            return Err(fault);
        };
        let retrier = &retriers[index];
        let max = retrier.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if let Some(test) = ctx.test {
            // TestState runs one attempt and reports whether a retry would follow.
            let done = test.retrier_retry_count;
            if done >= max {
                ctx.inspect("errorDetails", || json!({"retryIndex": index}));
            } else {
                let backoff = backoff(retrier, done).as_secs_f64();
                let shown = if backoff.fract() == 0.0 {
                    json!(backoff as u64)
                } else {
                    json!(backoff)
                };
                ctx.inspect(
                    "errorDetails",
                    || json!({"retryBackoffIntervalSeconds": shown, "retryIndex": index}),
                );
                test.retriable.store(true, Ordering::SeqCst);
            }
            return Err(fault);
        }
        if counts[index] >= max {
            return Err(fault);
        }
        let mut delay = backoff(retrier, counts[index]);
        if retrier.jitter_strategy == Some(JitterStrategy::Full) {
            let factor = ctx.engine.jitter.lock().expect("jitter lock").f64();
            delay = delay.mul_f64(factor);
        }
        counts[index] += 1;
        attempt_no += 1;
        ctx.engine.recorder.notify(
            ctx.scope.cursor.load(Ordering::SeqCst),
            RETRY_SCHEDULED,
            json!({
                "name": ctx.name,
                "error": fault.error,
                "cause": fault.cause,
                "retrierIndex": index,
                "retry": counts[index],
                "maxRetries": max,
                "attempt": attempt_no,
                "backoffSeconds": delay.as_secs_f64(),
            }),
        );
        ctx.engine.clock.sleep(delay).await;
        ctx.retry_count.fetch_add(1, Ordering::SeqCst);
    }
}

/// Route a fault through Catch: the first catcher whose ErrorEquals matches
/// gets `{"Error","Cause"}` placed into the raw state input by its ResultPath.
/// Returns the fault unchanged when nothing catches it.
pub(crate) fn catch(
    ctx: &StateCtx<'_>,
    catchers: &[Catcher],
    fault: Fault,
    raw_input: Value,
) -> Result<Transition, Fault> {
    if ctx.test.is_some_and(|t| t.retriable.load(Ordering::SeqCst)) {
        return Err(fault);
    }
    let Some((catch_index, catcher)) = catchers
        .iter()
        .enumerate()
        .find(|(_, c)| error_matches(&c.error_equals, fault.name()))
    else {
        return Err(fault);
    };
    ctx.inspect("errorDetails", || json!({"catchIndex": catch_index}));
    if let Some(t) = ctx.test {
        *t.caught.lock().expect("caught lock") = Some(fault.clone());
    }
    let error_output = fault.to_output();
    if ctx.language == crate::definition::QueryLanguage::JSONata {
        let states = crate::jsonata::states_var(ctx, &raw_input, None, Some(&error_output));
        let assigned = crate::jsonata::assign(ctx, catcher.assign.as_ref(), &states)?;
        let output = match &catcher.output {
            Some(t) => crate::jsonata::template(ctx, t, "Output", &states)?,
            None => error_output,
        };
        return Ok(Transition {
            output,
            next: Some(catcher.next.clone()),
            assigned,
        });
    }
    let assigned = crate::io::assign(ctx, catcher.assign.as_ref(), &error_output)?;
    let output = crate::io::apply_result_path(ctx, &catcher.result_path, raw_input, error_output)?;
    Ok(Transition {
        output,
        next: Some(catcher.next.clone()),
        assigned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval: Option<f64>, rate: Option<f64>, max_delay: Option<f64>) -> Retrier {
        Retrier {
            error_equals: vec!["X".into()],
            interval_seconds: interval,
            max_attempts: None,
            backoff_rate: rate,
            max_delay_seconds: max_delay,
            jitter_strategy: None,
            comment: None,
        }
    }

    #[test]
    fn backoff_defaults_to_one_second_doubling() {
        let r = retrier(None, None, None);
        let d: Vec<f64> = (0..3).map(|n| backoff(&r, n).as_secs_f64()).collect();
        assert_eq!(d, vec![1.0, 2.0, 4.0]);
    }

    #[test]
    fn backoff_is_capped_by_max_delay_seconds() {
        let r = retrier(Some(3.0), Some(3.0), Some(20.0));
        let d: Vec<f64> = (0..4).map(|n| backoff(&r, n).as_secs_f64()).collect();
        assert_eq!(d, vec![3.0, 9.0, 20.0, 20.0]);
    }

    #[test]
    fn runtime_errors_are_never_matched_even_by_name() {
        let all = vec!["States.ALL".to_owned()];
        assert!(error_matches(&all, "MarketData.RateLimited"));
        assert!(error_matches(&all, "States.DataLimitExceeded"));
        assert!(!error_matches(&all, "States.Runtime"));
        assert!(!error_matches(
            &["States.Runtime".to_owned()],
            "States.Runtime"
        ));
    }

    #[test]
    fn task_failed_matches_everything_but_timeouts() {
        let tf = vec!["States.TaskFailed".to_owned()];
        assert!(error_matches(&tf, "Lambda.Unknown"));
        assert!(!error_matches(&tf, "States.Timeout"));
    }
}
