//! `Wait`: sleeps on the execution's clock for `Seconds` or until `Timestamp`
//! (fixed or read by path).

use std::time::Duration;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;

use crate::definition::{Common, QueryLanguage};
use crate::error::Fault;
use crate::execution::{StateCtx, Transition};
use crate::io::{self, PathResolver};
use crate::jsonata;

#[derive(Debug, Clone, Deserialize)]
pub struct WaitState {
    #[serde(flatten)]
    pub common: Common,
    #[serde(rename = "Seconds", default)]
    pub seconds: Option<Value>,
    #[serde(rename = "SecondsPath", default)]
    pub seconds_path: Option<String>,
    #[serde(rename = "Timestamp", default)]
    pub timestamp: Option<Value>,
    #[serde(rename = "TimestampPath", default)]
    pub timestamp_path: Option<String>,
}

impl WaitState {
    pub(crate) async fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        if ctx.language == QueryLanguage::JSONata {
            let duration = self.jsonata_duration(ctx, &input)?;
            if duration.as_secs() > i32::MAX as u64 {
                return Err(ctx.runtime("Wait state delay is too long."));
            }
            ctx.engine.clock.sleep(duration).await;
            return io::finish_jsonata(ctx, &self.common, input, None);
        }
        let selected = io::select_path(ctx, &self.common.input_path, input)?;
        if ctx.language == QueryLanguage::JSONPath {
            ctx.inspect("afterInputPath", || selected.clone());
        }
        let duration = self.duration(ctx, &selected)?;
        if duration.as_secs() > i32::MAX as u64 {
            return Err(ctx.runtime("Wait state delay is too long."));
        }
        ctx.engine.clock.sleep(duration).await;
        let output = io::select_path(ctx, &self.common.output_path, selected.clone())?;
        Transition::from_common(ctx, output, &self.common, &selected)
    }

    fn jsonata_duration(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Duration, Fault> {
        let states = jsonata::states_var(ctx, input, None, None);
        if let Some(v) = &self.seconds {
            let v = jsonata::template(ctx, v, "Seconds", &states)?;
            return match super::as_integer(&v) {
                Some(s) if s >= 0 => Ok(Duration::from_secs(s as u64)),
                _ => Err(jsonata::query_fault(
                    ctx,
                    Some("Seconds"),
                    format!("The Seconds field must be a non-negative integer, but was: {v}"),
                )),
            };
        }
        if let Some(t) = &self.timestamp {
            let v = jsonata::template(ctx, t, "Timestamp", &states)?;
            let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            let Some(until) = v.as_str().and_then(parse_timestamp) else {
                return Err(jsonata::query_fault(
                    ctx,
                    Some("Timestamp"),
                    format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}"
                    ),
                ));
            };
            return Ok((until - ctx.engine.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO));
        }
        Ok(Duration::ZERO)
    }

    fn duration(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Duration, Fault> {
        let resolve = |path: &str, field: &str| {
            let r = PathResolver {
                ctx,
                input,
                field: field.to_owned(),
            };
            io::evaluate(&r, path)
        };
        if let Some(v) = &self.seconds {
            let secs = super::as_integer(v).unwrap_or(0).max(0);
            return Ok(Duration::from_secs(secs as u64));
        }
        if let Some(p) = &self.seconds_path {
            let v = resolve(p, "SecondsPath")?;
            let Some(secs) = v.as_i64().or_else(|| v.as_u64().map(|u| u as i64)) else {
                return Err(ctx.runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {}",
                    show(&v)
                )));
            };
            if secs < 0 {
                return Err(ctx.runtime(format!(
                    "The SecondsPath parameter references a negative value: {p} == {secs}"
                )));
            }
            return Ok(Duration::from_secs(secs as u64));
        }
        let until = if let Some(t) = &self.timestamp {
            t.as_str().and_then(parse_timestamp)
        } else if let Some(p) = &self.timestamp_path {
            let v = resolve(p, "TimestampPath")?;
            Some(v.as_str().and_then(parse_timestamp).ok_or_else(|| {
                ctx.runtime(format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                    show(&v)
                ))
            })?)
        } else {
            None
        };
        Ok(match until {
            Some(t) => (t - ctx.engine.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO),
            None => Duration::ZERO,
        })
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An ISO-8601 extended offset date-time (`2024-01-02T03:04:05Z`, with offset or `Z`).
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<chrono::Utc>> {
    if !s.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use crate::VirtualClock;
    use crate::testing::{FakeInvoker, run_with};

    #[tokio::test]
    async fn wait_seconds_path_sleeps_on_the_clock() {
        let def = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}"#;
        let clock = Arc::new(VirtualClock::default());
        let r = run_with(
            def,
            json!({"s": 90}),
            Arc::new(FakeInvoker::default()),
            clock.clone(),
        )
        .await;
        assert_eq!(r.output, Some(json!({"s": 90})));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(90)]);
    }

    #[tokio::test]
    async fn wait_until_a_timestamp_sleeps_the_difference() {
        let def = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2030-01-01T00:01:00Z", "End": true}}}"#;
        let start = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Arc::new(VirtualClock::new(start));
        run_with(
            def,
            json!({}),
            Arc::new(FakeInvoker::default()),
            clock.clone(),
        )
        .await;
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
    }

    #[tokio::test]
    async fn a_negative_seconds_path_is_a_runtime_error() {
        let def = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}"#;
        let r = run_with(
            def,
            json!({"s": -1}),
            Arc::new(FakeInvoker::default()),
            Arc::new(VirtualClock::default()),
        )
        .await;
        assert_eq!(r.error.as_deref(), Some("States.Runtime"));
        assert!(
            r.cause
                .unwrap()
                .ends_with("The SecondsPath parameter references a negative value: $.s == -1")
        );
    }
}
