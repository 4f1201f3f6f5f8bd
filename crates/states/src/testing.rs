//! Hand-written fakes for the unit tests.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::StateMachine;
use crate::clock::{Clock, VirtualClock};
use crate::execution::{Execution, ExecutionOptions, execute};
use crate::history::HistoryEvent;
use crate::invoker::{TaskCall, TaskFailure, TaskInvoker};

/// Replies per resource from a script (then falls back to echoing the input),
/// records every call and the most calls ever in flight at once.
#[derive(Default)]
pub(crate) struct FakeInvoker {
    pub script: Mutex<BTreeMap<String, VecDeque<Result<Value, TaskFailure>>>>,
    pub calls: Mutex<Vec<TaskCall>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Each call takes this long on the test's clock.
    pub latency: Option<(Arc<dyn Clock>, Duration)>,
}

impl FakeInvoker {
    pub(crate) fn reply(&self, resource: &str, r: Result<Value, TaskFailure>) -> &Self {
        self.script
            .lock()
            .unwrap()
            .entry(resource.to_owned())
            .or_default()
            .push_back(r);
        self
    }

    pub(crate) fn calls(&self) -> Vec<TaskCall> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl TaskInvoker for FakeInvoker {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        self.calls.lock().unwrap().push(call.clone());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some((clock, d)) = &self.latency {
            clock.sleep(*d).await;
        }
        // Yield so that other iterations get to start while this one is "running".
        tokio::task::yield_now().await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let scripted = self
            .script
            .lock()
            .unwrap()
            .get_mut(&call.resource)
            .and_then(VecDeque::pop_front);
        scripted.unwrap_or(Ok(call.input))
    }
}

pub(crate) async fn run_with(
    def: &str,
    input: Value,
    invoker: Arc<FakeInvoker>,
    clock: Arc<VirtualClock>,
) -> Execution {
    let machine = StateMachine::parse(def).unwrap_or_else(|e| panic!("{e}"));
    execute(
        &machine,
        input,
        invoker,
        ExecutionOptions {
            clock,
            ..Default::default()
        },
    )
    .await
}

pub(crate) async fn run(def: &str, input: Value) -> Execution {
    run_with(
        def,
        input,
        Arc::new(FakeInvoker::default()),
        Arc::new(VirtualClock::default()),
    )
    .await
}

pub(crate) fn types(history: &[HistoryEvent]) -> Vec<&str> {
    history.iter().map(|e| e.event_type.as_str()).collect()
}

/// `execute` and `test_state` futures can be spawned onto a multi-threaded runtime.
#[allow(dead_code)]
fn the_entry_points_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let machine =
        StateMachine::parse(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#).unwrap();
    let invoker: Arc<dyn crate::TaskInvoker> = Arc::new(FakeInvoker::default());
    assert_send(execute(
        &machine,
        Value::Null,
        invoker.clone(),
        ExecutionOptions::default(),
    ));
    assert_send(crate::test_state(
        Default::default(),
        invoker,
        ExecutionOptions::default(),
    ));
}
