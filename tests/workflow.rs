//! The whole daily workflow through the local interpreter, on a small synthetic market:
//! files, counts, injected faults, failed batches, retries, and the last good result kept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{NaiveDate, TimeZone, Utc};
use screener_cli::runner::{SCREENER_ASL, load_definition, run_workflow};
use screener_cli::steps::{LocalInvoker, invoke_step, step_for_resource};
use screener_core::Deps;
use screener_core::config::Settings;
use screener_core::local::{DirStore, EnvSecrets, MarketBars, MemoryMetrics, MemoryNotifier};
use screener_core::ports::{Store, StoreError, WriteCondition};
use screener_core::synthetic::{FaultKind, SyntheticMarket};
use screener_core::validation::ValidationRules;
use screener_core::workflow::{CHARTED_PER_SCREEN, ChartHistory, LatestPointer, Manifest, keys};
use screener_states::{
    Execution, ExecutionOptions, ExecutionStatus, TaskCall, TaskFailure, TaskInvoker, VirtualClock,
};
use serde_json::{Value, json};

const SYMBOLS: usize = 120;
const BATCH: usize = 25;

fn run_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 13).unwrap()
}

struct World {
    deps: Deps,
    market: Arc<SyntheticMarket>,
    metrics: Arc<MemoryMetrics>,
}

fn world(dir: &Path) -> World {
    let market = Arc::new(SyntheticMarket::new(42, SYMBOLS).unwrap());
    let metrics = Arc::new(MemoryMetrics::default());
    let deps = Deps {
        store: Arc::new(DirStore::new(dir)),
        market: market.clone(),
        bars: Arc::new(MarketBars(market.clone())),
        metrics: metrics.clone(),
        secrets: Arc::new(EnvSecrets::new(BTreeMap::new())),
        notifier: Arc::new(MemoryNotifier::default()),
        settings: Settings {
            batch_size: BATCH,
            lookback_days: 400,
            validation: ValidationRules::default(),
            environment: "test".into(),
            screens_file: None,
        },
    };
    World {
        deps,
        market,
        metrics,
    }
}

/// Decides, from the step, its input and the call's number, whether to fail a call.
type FailWhen = Box<dyn Fn(&str, &Value, u32) -> Option<TaskFailure> + Send + Sync>;

/// Wraps the real handlers; `fail` decides, per call, whether to fail it instead.
struct FaultyInvoker {
    inner: LocalInvoker,
    calls: Mutex<Vec<(String, Value)>>,
    fail: FailWhen,
    attempts: AtomicU32,
}

impl FaultyInvoker {
    fn new(
        deps: Deps,
        fail: impl Fn(&str, &Value, u32) -> Option<TaskFailure> + Send + Sync + 'static,
    ) -> Self {
        FaultyInvoker {
            inner: LocalInvoker { deps },
            calls: Mutex::new(Vec::new()),
            fail: Box::new(fail),
            attempts: AtomicU32::new(0),
        }
    }
    fn calls_to(&self, step: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| s == step)
            .count()
    }
}

#[async_trait]
impl TaskInvoker for FaultyInvoker {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        let step = step_for_resource(&call.resource).unwrap_or("?").to_string();
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        self.calls
            .lock()
            .unwrap()
            .push((step.clone(), call.input.clone()));
        if let Some(failure) = (self.fail)(&step, &call.input, n) {
            return Err(failure);
        }
        self.inner.invoke(call).await
    }
}

async fn run(invoker: Arc<dyn TaskInvoker>, name: &str, clock: Arc<VirtualClock>) -> Execution {
    let definition = load_definition(SCREENER_ASL).unwrap();
    let options = ExecutionOptions {
        execution_name: name.into(),
        state_machine_name: "screener".into(),
        clock,
        jitter_seed: Some(7),
        ..ExecutionOptions::default()
    };
    run_workflow(
        &definition,
        json!({"date": run_date()}),
        invoker,
        options,
        false,
    )
    .await
}

fn clock() -> Arc<VirtualClock> {
    Arc::new(VirtualClock::new(
        Utc.with_ymd_and_hms(2025, 6, 13, 22, 0, 0).unwrap(),
    ))
}

async fn read<T: serde::de::DeserializeOwned>(deps: &Deps, key: &str) -> T {
    serde_json::from_slice(&deps.store.get(key).await.unwrap()).unwrap()
}

fn fault_code(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::MissingDay => "missing_days",
        FaultKind::ZeroVolume => "zero_volume",
        FaultKind::HighBelowLow => "high_below_low",
        FaultKind::DuplicateDate => "duplicate_date",
        FaultKind::NonPositivePrice => "non_positive_price",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_workflow_publishes_results_and_reports_every_injected_fault() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let execution = run(
        Arc::new(LocalInvoker {
            deps: w.deps.clone(),
        }),
        "run-1",
        clock(),
    )
    .await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        execution.error,
        execution.cause
    );

    let latest: LatestPointer = read(&w.deps, keys::LATEST).await;
    assert_eq!(latest.date, run_date());
    assert_eq!(latest.run_id, "run-1");
    let manifest: Manifest = read(&w.deps, &latest.manifest_key).await;
    assert!(manifest.source.synthetic && manifest.notice.as_deref().unwrap().contains("SYNTHETIC"));

    // Files.
    let written: BTreeSet<String> = w
        .deps
        .store
        .list(&keys::results_prefix(run_date()))
        .await
        .unwrap()
        .into_iter()
        .collect();
    for file in [
        "results.csv",
        "results.parquet",
        "manifest.json",
        "top-deepest_drawdown.csv",
    ] {
        assert!(
            written.contains(&keys::results_file(run_date(), file)),
            "{file} missing from {written:?}"
        );
    }
    for screen in &manifest.screens {
        assert!(
            written.contains(&screen.top_key),
            "{} missing",
            screen.top_key
        );
    }

    // Counts add up, and every symbol is accounted for.
    let c = &manifest.counts;
    assert_eq!(c.requested as usize, SYMBOLS);
    assert_eq!(c.valid + c.rejected + c.no_data + c.failed, c.requested);
    assert_eq!(c.screened, c.valid);
    assert_eq!(manifest.rejections.len() as u32, c.rejected);
    assert!(c.rejected > 0 && c.repaired > 0);
    let results = String::from_utf8(
        w.deps
            .store
            .get(&keys::results_file(run_date(), "results.csv"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(results.lines().count() - 1, c.screened as usize);

    // Every injected fault was caught and reported under its own code.
    let faults = w.market.injected_faults(run_date());
    assert!(faults.len() >= 5);
    for fault in faults {
        let code = fault_code(fault.kind);
        let date = fault.date.to_string();
        let rejected = manifest
            .rejections
            .iter()
            .any(|r| r.symbol == fault.symbol && r.reason.starts_with(code));
        let repaired = manifest
            .repairs
            .iter()
            .any(|r| r.symbol == fault.symbol && r.notes.iter().any(|n| n.contains(&date)));
        assert!(rejected || repaired, "{fault:?} not reported");
        assert!(
            !results
                .lines()
                .any(|l| l.starts_with(&format!("{},", fault.symbol)))
                || repaired,
            "{fault:?} screened anyway"
        );
    }

    // Business metrics went to the port.
    let names: BTreeSet<String> = w.metrics.recorded().into_iter().map(|m| m.name).collect();
    for name in [
        "WorstDrawdown",
        "SymbolsScreened",
        "SymbolsRejected",
        "SymbolsFailed",
        "Candidates",
        "RunDuration",
    ] {
        assert!(names.contains(name), "{name} not published");
    }
    assert_eq!(
        manifest
            .worst_drawdown
            .as_ref()
            .map(|w| w.drawdown_180d < -0.3),
        Some(true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_fetch_always_fails_is_recorded_and_the_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let invoker = Arc::new(FaultyInvoker::new(w.deps.clone(), |step, input, _| {
        (step == "fetch-bars" && input["batch"]["index"] == 1).then(|| {
            TaskFailure::new(
                "MarketData.Unavailable",
                "HTTP 503 from the market data API",
            )
        })
    }));
    let execution = run(invoker.clone(), "run-failing-batch", clock()).await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );

    // 1 call + MaxAttempts (3) retries for the broken batch, 1 call for each of the other 4.
    assert_eq!(invoker.calls_to("fetch-bars"), 4 + 4);
    let manifest: Manifest = read(&w.deps, &keys::results_file(run_date(), "manifest.json")).await;
    assert_eq!(manifest.failed_batches.len(), 1);
    let failed = &manifest.failed_batches[0];
    assert_eq!(
        (failed.index, failed.error.as_str()),
        (1, "MarketData.Unavailable")
    );
    assert!(failed.cause.contains("503"));
    assert_eq!(failed.symbols.len(), BATCH);
    assert_eq!(manifest.counts.failed as usize, BATCH);
    assert_eq!(manifest.counts.requested as usize, SYMBOLS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_really_retries_transient_errors_with_growing_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    // The first two fetches of batch 0 are rate limited; the third succeeds.
    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    let invoker = Arc::new(FaultyInvoker::new(w.deps.clone(), move |step, input, _| {
        if step == "fetch-bars"
            && input["batch"]["index"] == 0
            && counter.fetch_add(1, Ordering::SeqCst) < 2
        {
            return Some(TaskFailure::new("MarketData.RateLimited", "HTTP 429"));
        }
        None
    }));
    let clock = clock();
    let execution = run(invoker.clone(), "run-retry", clock.clone()).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "batch 0 fetched three times"
    );
    let manifest: Manifest = read(&w.deps, &keys::results_file(run_date(), "manifest.json")).await;
    assert!(manifest.failed_batches.is_empty());
    // FULL jitter draws each wait from [0, 5 s x 2^n]; the declared ceilings must hold and
    // time must really have been waited.
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert!(
        sleeps[0] <= Duration::from_secs(5) && sleeps[1] <= Duration::from_secs(10),
        "{sleeps:?}"
    );
    assert!(sleeps.iter().sum::<Duration>() > Duration::ZERO);
    // Unauthorized is not retried at all.
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let invoker = Arc::new(FaultyInvoker::new(w.deps.clone(), |step, _, _| {
        (step == "fetch-bars").then(|| TaskFailure::new("MarketData.Unauthorized", "HTTP 401"))
    }));
    let execution = run(invoker.clone(), "run-unauthorized", clock).await;
    assert_eq!(invoker.calls_to("fetch-bars"), SYMBOLS / BATCH + 1);
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Screen.NothingValid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_leaves_the_last_good_result_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let good = run(
        Arc::new(LocalInvoker {
            deps: w.deps.clone(),
        }),
        "run-good",
        clock(),
    )
    .await;
    assert_eq!(good.status, ExecutionStatus::Succeeded);
    let before = w.deps.store.get(keys::LATEST).await.unwrap();

    // Every batch fails: nothing valid, the Fail state ends the run.
    let invoker = Arc::new(FaultyInvoker::new(w.deps.clone(), |step, _, _| {
        (step == "fetch-bars").then(|| TaskFailure::new("MarketData.Unavailable", "down"))
    }));
    let failed = run(invoker, "run-bad", clock()).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("Screen.NothingValid"));
    assert!(
        failed
            .cause
            .as_deref()
            .unwrap_or("")
            .contains("no symbol passed validation"),
        "{:?}",
        failed.cause
    );
    assert_eq!(w.deps.store.get(keys::LATEST).await.unwrap(), before);

    // Publish itself failing (after the screen) also leaves it alone.
    let invoker = Arc::new(FaultyInvoker::new(w.deps.clone(), |step, _, _| {
        (step == "publish").then(|| TaskFailure::new("Data.Corrupt", "broken manifest input"))
    }));
    let failed = run(invoker, "run-bad-publish", clock()).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(w.deps.store.get(keys::LATEST).await.unwrap(), before);
    let latest: LatestPointer = serde_json::from_slice(&before).unwrap();
    assert_eq!(latest.run_id, "run-good");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_universe_ends_in_the_fail_state() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let definition = load_definition(SCREENER_ASL).unwrap();
    let options = ExecutionOptions {
        execution_name: "run-empty".into(),
        clock: clock(),
        ..ExecutionOptions::default()
    };
    let execution = run_workflow(
        &definition,
        json!({"date": run_date(), "max_symbols": 0}),
        Arc::new(LocalInvoker {
            deps: w.deps.clone(),
        }),
        options,
        false,
    )
    .await;
    assert_eq!(execution.error.as_deref(), Some("Universe.Empty"));
    assert!(w.deps.store.get(keys::LATEST).await.is_err());
}

/// The events/ files are real inputs: chained, they run every step on a fresh store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_handler_runs_on_its_events_file() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let event = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(events.join(name)).unwrap()).unwrap()
    };
    let universe = invoke_step("fetch-universe", event("fetch-universe.json"), &w.deps)
        .await
        .unwrap();
    assert_eq!(universe["run"]["run_id"], "example-run");
    assert_eq!(
        universe["batches"][0]["symbols_key"],
        "runs/example-run/universe/batch-0000.json"
    );
    let fetched = invoke_step("fetch-bars", event("fetch-bars.json"), &w.deps)
        .await
        .unwrap();
    assert_eq!(fetched["bars_key"], "runs/example-run/bars/batch-0000.csv");
    assert!(fetched["fetched"].as_u64().unwrap() > 0);
    let validated = invoke_step("validate", event("validate.json"), &w.deps)
        .await
        .unwrap();
    assert_eq!(validated["status"], "ok");
    assert!(validated["valid"].as_u64().unwrap() > 0);
    let screened = invoke_step("screen", event("screen.json"), &w.deps)
        .await
        .unwrap();
    assert_eq!(screened["screened"], validated["valid"]);
    let published = invoke_step("publish", event("publish.json"), &w.deps)
        .await
        .unwrap();
    assert_eq!(
        published["manifest_key"],
        "results/date=2025-06-13/manifest.json"
    );

    // A malformed event is Input.Invalid, naming the problem.
    let err = invoke_step("fetch-bars", json!({"run": 1}), &w.deps)
        .await
        .unwrap_err();
    let screener_cli::steps::InvokeError::Step(err) = err else {
        panic!("{err}")
    };
    assert_eq!(err.name(), "Input.Invalid");
    assert!(err.to_string().contains("fetch-bars"));
}

/// Every error name a step can raise is matched by the state machine, and vice versa.
#[test]
fn the_state_machine_matches_exactly_the_step_error_names() {
    let definition = load_definition(SCREENER_ASL).unwrap();
    let matched = definition.matched_error_names();
    let lambda_service_errors = [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ];
    for name in screener_core::workflow::error_names::RETRIED {
        assert!(
            matched.contains(name),
            "{name} is transient but never retried"
        );
    }
    assert!(matched.contains(screener_core::workflow::error_names::SCREEN_NOTHING_VALID));
    for name in &matched {
        let ours = screener_core::workflow::error_names::ALL.contains(&name.as_str());
        assert!(
            ours || name == "States.ALL" || lambda_service_errors.contains(&name.as_str()),
            "ASL matches unknown error {name}"
        );
    }
    // Unauthorized must never be retried: it is not in any Retry block.
    let text = SCREENER_ASL;
    assert!(!text.contains("\"MarketData.Unauthorized\""));
}

/// A directory store whose reads of validated batches take a while, counting how many are
/// in flight at once.
struct SlowBatchReads {
    inner: DirStore,
    in_flight: AtomicU32,
    peak: AtomicU32,
    reads: AtomicU32,
}

#[async_trait]
impl Store for SlowBatchReads {
    fn locate(&self, key: &str) -> String {
        self.inner.locate(key)
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        if !key.contains("/valid/") {
            return self.inner.get(key).await;
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let bytes = self.inner.get(key).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        bytes
    }
    async fn get_versioned(&self, key: &str) -> Result<(Vec<u8>, String), StoreError> {
        self.inner.get_versioned(key).await
    }
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.inner.put(key, body, content_type).await
    }
    async fn put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<(), StoreError> {
        self.inner.put_if(key, body, content_type, condition).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn download_link(&self, key: &str, valid_for: Duration) -> Result<String, StoreError> {
        self.inner.download_link(key, valid_for).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_reads_the_next_batches_while_it_screens_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SlowBatchReads {
        inner: DirStore::new(dir.path()),
        in_flight: AtomicU32::new(0),
        peak: AtomicU32::new(0),
        reads: AtomicU32::new(0),
    });
    let mut deps = world(dir.path()).deps;
    deps.store = store.clone();
    let clock = Arc::new(VirtualClock::new(
        Utc.with_ymd_and_hms(2025, 6, 13, 22, 0, 0).unwrap(),
    ));
    let invoker = Arc::new(FaultyInvoker::new(deps.clone(), |_, _, _| None));
    let execution = run(invoker, "read-ahead", clock).await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    let batches = SYMBOLS.div_ceil(BATCH) as u32;
    // Screen reads every batch once (and again those holding the charted symbols) ...
    assert!(store.reads.load(Ordering::SeqCst) >= batches);
    // ... and not one at a time: all of them (no more than the read-ahead) were in flight together.
    assert!(batches > 1 && batches <= screen::BATCHES_READ_AHEAD as u32);
    assert_eq!(store.peak.load(Ordering::SeqCst), batches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_charts_from_screens_chart_history_without_reading_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SlowBatchReads {
        inner: DirStore::new(dir.path()),
        in_flight: AtomicU32::new(0),
        peak: AtomicU32::new(0),
        reads: AtomicU32::new(0),
    });
    let mut deps = world(dir.path()).deps;
    deps.store = store.clone();
    let invoker = Arc::new(FaultyInvoker::new(deps.clone(), |_, _, _| None));
    let execution = run(invoker.clone(), "charts", clock()).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    let manifest: Manifest = read(&deps, &keys::results_file(run_date(), "manifest.json")).await;
    assert!(manifest.files.contains(&"charts.json".to_string()));

    // charts.json: the first candidates of every screen, each with its valid bars' closes.
    let charts: ChartHistory = read(&deps, &keys::results_file(run_date(), "charts.json")).await;
    let mut charted = BTreeSet::new();
    for screen in &manifest.screens {
        let top = deps.store.get(&screen.top_key).await.unwrap();
        let mut reader = csv::Reader::from_reader(&top[..]);
        let column = reader.headers().unwrap().iter().position(|h| h == "symbol");
        for row in reader.records().take(CHARTED_PER_SCREEN) {
            charted.insert(row.unwrap()[column.unwrap()].to_string());
        }
    }
    assert!(!charted.is_empty());
    assert_eq!(
        charts.closes.keys().cloned().collect::<BTreeSet<_>>(),
        charted
    );
    let mut valid_closes: BTreeMap<String, Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for batch in 0..SYMBOLS.div_ceil(BATCH) as u32 {
        let key = keys::chart_bars(manifest.date, &manifest.run_id, batch);
        let bars =
            screener_core::bar::read_bars_csv(&store.inner.get(&key).await.unwrap()).unwrap();
        for (symbol, bars) in bars {
            valid_closes.insert(
                symbol.to_string(),
                bars.iter().map(|b| (b.date, b.close)).collect(),
            );
        }
    }
    for (symbol, closes) in &charts.closes {
        assert_eq!(Some(closes), valid_closes.get(symbol), "{symbol}");
    }

    // Publish again on the same input: it reads no batch file, and the report still has charts.
    let publish_input = invoker
        .calls
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(step, _)| step == "publish")
        .map(|(_, input)| input.clone())
        .unwrap();
    store.reads.store(0, Ordering::SeqCst);
    invoke_step("publish", publish_input, &deps).await.unwrap();
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        0,
        "publish read batch files"
    );
    let report = String::from_utf8(
        deps.store
            .get(&keys::results_file(run_date(), "report.html"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(report.matches("<svg class=\"chart\"").count() >= charted.len().min(1));
    assert!(
        report.contains("class=\"close\" d=\"M"),
        "a close line is drawn"
    );
}
