//! The whole daily workflow against the loopback Alpaca server (`screener_alpaca::testing`):
//! the real state machine through the local interpreter, the real step handlers, the real
//! Alpaca client over HTTP. A backfill, an incremental day, a split that forces a refetch, an
//! outage that opens the circuit, and refused keys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{NaiveDate, TimeZone, Utc};
use screener_alpaca::clock::FastForwardClock;
use screener_alpaca::history::StoredHistory;
use screener_alpaca::testing::{FakeAlpaca, FakeMarket, FakeOptions, Fault, KEY_ID, SECRET_KEY};
use screener_alpaca::{Alpaca, AlpacaConfig, CredentialSource};
use screener_cli::runner::{SCREENER_ASL, load_definition, run_workflow};
use screener_cli::steps::LocalInvoker;
use screener_core::Deps;
use screener_core::Symbol;
use screener_core::bar::{BarsBySymbol, read_bars_csv};
use screener_core::config::Settings;
use screener_core::local::{DirStore, EnvSecrets, MemoryMetrics, MemoryNotifier};
use screener_core::ports::{SecretString, Secrets, SecretsError};
use screener_core::validation::ValidationRules;
use screener_core::workflow::{Manifest, keys};
use screener_states::{Execution, ExecutionOptions, ExecutionStatus};
use serde_json::json;

const SYMBOLS: usize = 150;
const BATCH: usize = 40;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Epoch seconds of 22:00 UTC on `date` (after the close).
fn evening(date: NaiveDate) -> u64 {
    date.and_hms_opt(22, 0, 0).unwrap().and_utc().timestamp() as u64
}

struct KeyPair(&'static str);

#[async_trait]
impl Secrets for KeyPair {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        Ok(SecretString::new(if name.ends_with("api_key") {
            KEY_ID
        } else {
            self.0
        }))
    }
}

struct AlpacaWorld {
    fake: FakeAlpaca,
    clock: Arc<FastForwardClock>,
    deps: Deps,
    client: Arc<Alpaca>,
    symbols: Vec<Symbol>,
}

async fn world(
    dir: &Path,
    secret: &'static str,
    tweak: impl FnOnce(&mut AlpacaConfig),
) -> AlpacaWorld {
    let clock = Arc::new(FastForwardClock::starting_at(evening(day("2025-06-13"))));
    let market = FakeMarket::generate(SYMBOLS, 11, day("2025-06-13"));
    let symbols = market.symbols();
    let fake = FakeAlpaca::start(market, FakeOptions::default(), clock.clone()).await;
    let mut config = AlpacaConfig {
        data_url: fake.url(),
        trading_url: fake.url(),
        timeout: Duration::from_secs(5),
        ..AlpacaConfig::default()
    };
    tweak(&mut config);
    let client = Arc::new(
        Alpaca::with_clock(
            config,
            CredentialSource {
                secrets: Arc::new(KeyPair(secret)),
                key_id_name: "/screener/alpaca/api_key".into(),
                secret_key_name: "/screener/alpaca/secret_key".into(),
                described_as:
                    "the SSM parameters /screener/alpaca/api_key and /screener/alpaca/secret_key"
                        .into(),
            },
            clock.clone(),
        )
        .unwrap(),
    );
    let store = Arc::new(DirStore::new(dir));
    let deps = Deps {
        bars: Arc::new(StoredHistory::new(store.clone(), client.clone())),
        store,
        market: client.clone(),
        metrics: Arc::new(MemoryMetrics::default()),
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
    AlpacaWorld {
        fake,
        clock,
        deps,
        client,
        symbols,
    }
}

async fn run_on(w: &AlpacaWorld, date: NaiveDate, name: &str) -> Execution {
    let definition = load_definition(SCREENER_ASL).unwrap();
    let options = ExecutionOptions {
        execution_name: name.into(),
        state_machine_name: "screener".into(),
        clock: Arc::new(screener_states::VirtualClock::new(
            Utc.timestamp_opt(evening(date) as i64, 0).unwrap(),
        )),
        jitter_seed: Some(7),
        ..ExecutionOptions::default()
    };
    run_workflow(
        &definition,
        json!({"date": date}),
        Arc::new(LocalInvoker {
            deps: w.deps.clone(),
        }),
        options,
        false,
    )
    .await
}

async fn manifest(w: &AlpacaWorld, date: NaiveDate) -> Manifest {
    let bytes = w
        .deps
        .store
        .get(&keys::results_file(date, "manifest.json"))
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn screened(w: &AlpacaWorld, date: NaiveDate) -> BTreeSet<String> {
    let bytes = w
        .deps
        .store
        .get(&keys::results_file(date, "results.csv"))
        .await
        .unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

/// Every requested symbol is in exactly one of: screened, rejected, no data, failed.
async fn assert_every_symbol_accounted_for(w: &AlpacaWorld, m: &Manifest) {
    let c = &m.counts;
    assert_eq!(c.requested as usize, SYMBOLS);
    assert_eq!(c.valid + c.rejected + c.no_data + c.failed, c.requested);
    let mut seen: Vec<String> = screened(w, m.date).await.into_iter().collect();
    seen.extend(m.rejections.iter().map(|r| r.symbol.to_string()));
    seen.extend(m.no_data.iter().map(Symbol::to_string));
    seen.extend(m.failed_batches.iter().flat_map(|b| b.symbols.clone()));
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a symbol counted twice");
    let all: BTreeSet<String> = w.symbols.iter().map(Symbol::to_string).collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_on_alpaca_backfills_then_appends_a_day_then_refetches_a_split_symbol() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), SECRET_KEY, |_| {}).await;

    // Day 1: the first run backfills 400 days for every symbol.
    let d1 = day("2025-06-13");
    let execution = run_on(&w, d1, "alpaca-day-1").await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        execution.error,
        execution.cause
    );
    let m = manifest(&w, d1).await;
    assert_eq!(m.source.kind, "alpaca");
    assert_eq!(
        (m.source.feed.as_deref(), m.source.adjustment.as_str()),
        (Some("sip"), "all")
    );
    assert!(!m.source.synthetic && m.notice.is_none());
    assert_every_symbol_accounted_for(&w, &m).await;
    let without_bars: BTreeSet<Symbol> = FakeMarket::generate(SYMBOLS, 11, d1)
        .symbols_without_bars()
        .into_iter()
        .collect();
    assert!(!without_bars.is_empty());
    assert!(
        without_bars.iter().all(|s| m.no_data.contains(s)),
        "{:?}",
        m.no_data
    );
    assert!(m.counts.valid as usize > SYMBOLS * 9 / 10, "{:?}", m.counts);
    assert!(m.refetched.is_empty());
    assert_eq!(w.fake.stats().rate_limited, 0);

    // Day 2: one request per batch, plus the universe and the calendar.
    let d2 = day("2025-06-16");
    w.fake.set_last_day(d2);
    w.clock.advance(Duration::from_secs(3 * 86_400));
    w.fake.reset_stats();
    let execution = run_on(&w, d2, "alpaca-day-2").await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    let batches = SYMBOLS.div_ceil(BATCH) as u64;
    let stats = w.fake.stats();
    assert_eq!(
        (stats.bars_requests, stats.requests),
        (batches, batches + 2),
        "{stats:?}"
    );
    let m = manifest(&w, d2).await;
    assert_every_symbol_accounted_for(&w, &m).await;
    assert!(m.refetched.is_empty());

    // Day 3: AAAD splits 2-for-1; its stored history is refetched, and the manifest says so.
    let d3 = day("2025-06-17");
    w.fake.set_last_day(d3);
    w.fake.add_split("AAAD", d3, 2.0);
    w.clock.advance(Duration::from_secs(86_400));
    let execution = run_on(&w, d3, "alpaca-day-3").await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    let m = manifest(&w, d3).await;
    assert_every_symbol_accounted_for(&w, &m).await;
    assert_eq!(m.counts.refetched, 1);
    assert_eq!(m.refetched.len(), 1);
    assert_eq!(m.refetched[0].symbol.as_str(), "AAAD");
    assert!(
        m.refetched[0].reason.contains("x0.5000"),
        "{}",
        m.refetched[0].reason
    );
    // The bars the run validated (kept for the dashboard's chart) are the adjusted ones, all
    // 400 days of them.
    let valid: BarsBySymbol = read_bars_csv(
        &w.deps
            .store
            .get(&keys::chart_bars(d3, "alpaca-day-3", 0))
            .await
            .unwrap(),
    )
    .unwrap();
    let aaad = Symbol::parse("AAAD").unwrap();
    let expected = w.fake.expected_bars(
        std::slice::from_ref(&aaad),
        d3 - chrono::Duration::days(400),
        d3,
        "all",
    );
    assert_eq!(valid.get(&aaad), expected.get(&aaad));
    assert_eq!(w.client.stats().rate_limited, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alpaca_outage_opens_the_circuit_and_the_failed_batches_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), SECRET_KEY, |c| c.circuit_threshold = 6).await;
    w.fake.set_always(Some(Fault::Status(503)));
    let execution = run_on(&w, day("2025-06-13"), "alpaca-outage").await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Screen.NothingValid"));
    // 4 batches x 4 tries (the ASL's Retry) x 3 tries (the client's) would be 48 requests;
    // the circuit stops them after 6 consecutive failures (plus those already in flight).
    let requests = w.fake.stats().bars_requests;
    assert!((6..=12).contains(&requests), "{requests} bars requests");
    // A Task on a Lambda ARN records LambdaFunctionFailed, as AWS does.
    let failed = |e: &&screener_states::HistoryEvent| {
        e.event_type == "LambdaFunctionFailed" || e.event_type == "TaskFailed"
    };
    let causes: Vec<String> = execution
        .history
        .iter()
        .filter(failed)
        .filter_map(|e| e.details["cause"].as_str().map(str::to_string))
        .collect();
    assert!(causes.iter().any(|c| c.contains("HTTP 503")), "{causes:?}");
    assert!(
        causes.iter().any(|c| c.contains("circuit open")),
        "{causes:?}"
    );
    // Every fetch failed as MarketData.Unavailable; then Screen found nothing valid.
    let names: BTreeSet<&str> = execution
        .history
        .iter()
        .filter(failed)
        .filter_map(|e| e.details["error"].as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["MarketData.Unavailable", "Screen.NothingValid"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_keys_fail_the_run_at_once_naming_the_credentials_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), "not-the-secret", |_| {}).await;
    let execution = run_on(&w, day("2025-06-13"), "alpaca-bad-keys").await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("MarketData.Unauthorized"));
    let cause = execution.cause.unwrap_or_default();
    assert!(
        cause.contains("/screener/alpaca/secret_key") && cause.contains("HTTP 401"),
        "{cause}"
    );
    assert!(!cause.contains("not-the-secret"));
    assert_eq!(w.fake.stats().requests, 1, "not retried");
}

/// An exchange closure the NYSE rules do not know (as a future national day of mourning would
/// be): Alpaca's calendar leaves the day out and no symbol has a bar on it, and the run counts
/// sessions by that calendar, so no symbol is noted or rejected for a "missing" day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_counts_sessions_by_alpacas_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), SECRET_KEY, |_| {}).await;
    let closed = day("2025-05-14"); // a Wednesday the rules say traded
    assert!(screener_core::calendar::is_trading_day(closed));
    w.fake.close_unscheduled(closed);
    let d1 = day("2025-06-13");
    let execution = run_on(&w, d1, "alpaca-closure").await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    let m = manifest(&w, d1).await;
    assert_every_symbol_accounted_for(&w, &m).await;
    let noted: Vec<String> = m
        .repairs
        .iter()
        .map(|r| format!("{r:?}"))
        .chain(m.rejections.iter().map(|r| format!("{r:?}")))
        .filter(|text| text.contains("missing") || text.contains(&closed.to_string()))
        .collect();
    assert!(noted.is_empty(), "notes about the closed day: {noted:?}");
    assert!(m.counts.valid as usize > SYMBOLS * 9 / 10, "{:?}", m.counts);
    // The calendar the run used is stored beside its batches.
    let sessions: screener_core::calendar::Sessions = serde_json::from_slice(
        &w.deps
            .store
            .get(&keys::run_sessions(&m.run_id))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!sessions.is_trading_day(closed));
    assert!(sessions.is_trading_day(day("2025-05-13")));
}
