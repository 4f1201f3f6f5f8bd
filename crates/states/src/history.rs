//! The execution history, in AWS's `GetExecutionHistory` shape, and the recorder
//! that numbers events and calls the observer as each one is recorded.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::Clock;

/// One history event. Serializes as AWS does:
/// `{"id": 3, "previousEventId": 2, "timestamp": .., "type": "TaskStateEntered",
///   "stateEnteredEventDetails": {"name": .., "input": ..}}`.
///
/// Besides AWS's event types, the observer (never the recorded history) also
/// receives local-only `RetryScheduled` events; see [`RETRY_SCHEDULED`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: DateTime<Utc>,
    pub event_type: String,
    /// The details object, e.g. `{"name": "FetchBars", "input": {..}}`;
    /// `Value::Null` for events without details (e.g. `MapStateSucceeded`).
    pub details: Value,
}

/// The local-only event sent to the observer when a Retry is about to back off.
/// Its details: `{"name", "error", "cause", "attempt" (the attempt about to run,
/// 2 for the first retry), "maxAttempts" (1 + the retrier's MaxAttempts),
/// "backoffSeconds", "retrierIndex"}`. It has `id` 0 and is not part of
/// [`crate::Execution::history`], which stays exactly AWS's.
pub const RETRY_SCHEDULED: &str = "RetryScheduled";

impl HistoryEvent {
    /// The AWS name of the details field for this event type, e.g.
    /// `TaskStateEntered` -> `stateEnteredEventDetails`.
    pub fn details_key(&self) -> String {
        details_key(&self.event_type)
    }

    /// The `name` in the details, when there is one (state or Map name).
    pub fn state_name(&self) -> Option<&str> {
        self.details.get("name").and_then(Value::as_str)
    }
}

pub(crate) fn details_key(event_type: &str) -> String {
    const STATE_KINDS: [&str; 8] = [
        "Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Map", "Parallel",
    ];
    for kind in STATE_KINDS {
        if let Some(rest) = event_type.strip_prefix(kind) {
            if rest == "StateEntered" {
                return "stateEnteredEventDetails".into();
            }
            if rest == "StateExited" {
                return "stateExitedEventDetails".into();
            }
        }
    }
    let mut chars = event_type.chars();
    let first = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_default();
    format!("{first}{}EventDetails", chars.as_str())
}

impl Serialize for HistoryEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut obj = serde_json::Map::new();
        obj.insert("id".into(), self.id.into());
        obj.insert("previousEventId".into(), self.previous_event_id.into());
        obj.insert(
            "timestamp".into(),
            json!(
                self.timestamp
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
        );
        obj.insert("type".into(), self.event_type.clone().into());
        if !self.details.is_null() {
            obj.insert(self.details_key(), self.details.clone());
        }
        obj.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for HistoryEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut obj = serde_json::Map::<String, Value>::deserialize(deserializer)?;
        let event_type = obj
            .shift_remove("type")
            .and_then(|v| v.as_str().map(str::to_owned))
            .ok_or_else(|| serde::de::Error::missing_field("type"))?;
        let id = obj.get("id").and_then(Value::as_u64).unwrap_or(0);
        let previous_event_id = obj
            .get("previousEventId")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let timestamp = obj
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let details = obj
            .shift_remove(&details_key(&event_type))
            .unwrap_or(Value::Null);
        Ok(HistoryEvent {
            id,
            previous_event_id,
            timestamp,
            event_type,
            details,
        })
    }
}

/// A callback that sees every event as it is recorded.
pub type Observer = Arc<dyn Fn(&HistoryEvent) + Send + Sync>;

/// Numbers events and keeps them; calls the observer under the same lock so
/// it sees events in id order even from concurrent Map iterations.
pub(crate) struct Recorder {
    events: Mutex<Vec<HistoryEvent>>,
    observer: Option<Observer>,
    clock: Arc<dyn Clock>,
}

impl Recorder {
    pub(crate) fn new(clock: Arc<dyn Clock>, observer: Option<Observer>) -> Self {
        Recorder {
            events: Mutex::new(Vec::new()),
            observer,
            clock,
        }
    }

    /// Continue an earlier history (a redrive): new events are numbered after it.
    pub(crate) fn preload(&self, events: Vec<HistoryEvent>) {
        *self.events.lock().expect("history lock") = events;
    }

    /// Record an event after `previous` and return its id.
    pub(crate) fn record(&self, previous: u64, event_type: &str, details: Value) -> u64 {
        let mut events = self.events.lock().expect("history lock");
        let id = events.len() as u64 + 1;
        let event = HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp: self.clock.now(),
            event_type: event_type.to_owned(),
            details,
        };
        if let Some(observer) = &self.observer {
            observer(&event);
        }
        events.push(event);
        id
    }

    /// Tell the observer something that is not an AWS history event.
    pub(crate) fn notify(&self, previous: u64, event_type: &str, details: Value) {
        if let Some(observer) = &self.observer {
            let _events = self.events.lock().expect("history lock");
            observer(&HistoryEvent {
                id: 0,
                previous_event_id: previous,
                timestamp: self.clock.now(),
                event_type: event_type.to_owned(),
                details,
            });
        }
    }

    /// The id of the most recent event.
    pub(crate) fn last_id(&self) -> u64 {
        self.events.lock().expect("history lock").len() as u64
    }

    pub(crate) fn take(&self) -> Vec<HistoryEvent> {
        std::mem::take(&mut *self.events.lock().expect("history lock"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_serializes_in_aws_shape_with_its_details_key() {
        let e = HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp: DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z")
                .unwrap()
                .with_timezone(&Utc),
            event_type: "TaskStateEntered".into(),
            details: json!({"name": "A", "input": {}}),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({"id": 2, "previousEventId": 1, "timestamp": "2024-01-02T03:04:05.000Z",
                   "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "A", "input": {}}})
        );
        let back: HistoryEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn details_keys_follow_aws_naming() {
        assert_eq!(
            details_key("MapIterationStarted"),
            "mapIterationStartedEventDetails"
        );
        assert_eq!(
            details_key("ExecutionFailed"),
            "executionFailedEventDetails"
        );
        assert_eq!(
            details_key("ParallelStateExited"),
            "stateExitedEventDetails"
        );
        assert_eq!(
            details_key("LambdaFunctionScheduled"),
            "lambdaFunctionScheduledEventDetails"
        );
    }
}
