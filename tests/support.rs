//! Helpers shared by the integration test modules.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{NaiveDate, TimeZone, Utc};
use screener_cli::runner::{SCREENER_ASL, load_definition, run_workflow};
use screener_cli::steps::LocalInvoker;
use screener_core::Deps;
use screener_states::{ExecutionOptions, ExecutionStatus, VirtualClock};
use serde_json::json;

/// A name no other test (in this run or an earlier one on the same server) uses: for buckets,
/// state machines and executions on a shared loopback AWS API.
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        % 1_000_000_000_000;
    format!(
        "{label}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs the real state machine in-process on `deps` for `day` (virtual clock: no real
/// back-off waits) and asserts it succeeded.
pub async fn run_succeeding(deps: &Deps, day: NaiveDate, name: &str) {
    let definition = load_definition(SCREENER_ASL).unwrap();
    let options = ExecutionOptions {
        execution_name: name.into(),
        state_machine_name: "screener".into(),
        clock: Arc::new(VirtualClock::new(
            Utc.with_ymd_and_hms(2025, 6, 13, 22, 0, 0).unwrap(),
        )),
        ..ExecutionOptions::default()
    };
    let execution = run_workflow(
        &definition,
        json!({ "date": day }),
        Arc::new(LocalInvoker { deps: deps.clone() }),
        options,
        false,
    )
    .await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{name}: {:?} {:?}",
        execution.error,
        execution.cause
    );
}
