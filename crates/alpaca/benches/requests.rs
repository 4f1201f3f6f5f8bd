//! Requests used versus the minimum possible, for a 10,000-symbol backfill of one year and for
//! the incremental day after it, against the loopback Alpaca server with its 200/min limit,
//! on simulated time (a `VirtualClock` shared by client and server: the minutes the rate limit
//! imposes pass instantly). Not a timed test: it prints figures.
//!
//! `cargo bench -p screener-alpaca --features testing --bench requests`
//! (`BENCH_SYMBOLS=2000` for a quicker run.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use screener_alpaca::batching::{auto_batch_size, batch_size_for};
use screener_alpaca::clock::{Clock, VirtualClock};
use screener_alpaca::history::{fetch_incremental, history_prefix};
use screener_alpaca::testing::{FakeAlpaca, FakeMarket, FakeOptions, KEY_ID, SECRET_KEY};
use screener_alpaca::{Alpaca, AlpacaConfig, CredentialSource};
use screener_core::Symbol;
use screener_core::local::{DirStore, EnvSecrets};
use screener_core::ports::{MarketData, Store};

const LOOKBACK_DAYS: u32 = 365;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn evening(date: NaiveDate) -> u64 {
    date.and_hms_opt(22, 0, 0).unwrap().and_utc().timestamp() as u64
}

struct Run {
    requests: u64,
    bars_requests: u64,
    rate_limited: u64,
    bars: u64,
    batches: usize,
    simulated: Duration,
    real: Duration,
}

impl Run {
    fn minimum(&self) -> u64 {
        self.bars.div_ceil(10_000) + 1
    }
    fn print(&self, name: &str) {
        println!(
            "{name:<34} {:>6} requests ({} bars + 1 universe) | minimum {:>4} | ratio {:.3} | 429s {} | batches {} | bars {} | simulated {:.1} min | real {:.1} s",
            self.requests,
            self.bars_requests,
            self.minimum(),
            self.requests as f64 / self.minimum() as f64,
            self.rate_limited,
            self.batches,
            self.bars,
            self.simulated.as_secs_f64() / 60.0,
            self.real.as_secs_f64(),
        );
    }
}

/// One run of the two steps that talk to Alpaca: the universe, then each batch's incremental
/// fetch in turn (one Lambda at a time; concurrent batches share the same budget locally).
async fn run(
    fake: &FakeAlpaca,
    client: &Alpaca,
    clock: &VirtualClock,
    store: &Arc<dyn Store>,
    end: NaiveDate,
    batch_size: usize,
) -> Run {
    fake.reset_stats();
    let (started, simulated_start) = (Instant::now(), clock.now());
    let universe: Vec<Symbol> = client
        .universe()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.symbol)
        .collect();
    let start = end - chrono::Duration::days(i64::from(LOOKBACK_DAYS));
    let prefix = history_prefix(&client.source());
    let mut batches = 0;
    for batch in universe.chunks(batch_size) {
        fetch_incremental(store.clone(), client, &prefix, batch, start, end)
            .await
            .unwrap();
        batches += 1;
    }
    let stats = fake.stats();
    Run {
        requests: stats.requests,
        bars_requests: stats.bars_requests,
        rate_limited: stats.rate_limited,
        bars: stats.bars_served,
        batches,
        simulated: Duration::from_secs_f64(clock.now() - simulated_start),
        real: started.elapsed(),
    }
}

async fn scenario(symbols: usize, batch_size: Option<usize>) -> (Run, Run) {
    let d1 = day("2025-06-13");
    let clock = Arc::new(VirtualClock::starting_at(evening(d1)));
    let fake = FakeAlpaca::start(
        FakeMarket::generate(symbols, 42, d1),
        FakeOptions::default(),
        clock.clone(),
    )
    .await;
    let config = AlpacaConfig {
        data_url: fake.url(),
        trading_url: fake.url(),
        ..AlpacaConfig::default()
    };
    let client = Alpaca::with_clock(
        config,
        CredentialSource {
            secrets: Arc::new(EnvSecrets::new(
                [
                    ("k".to_string(), "BENCH_ALPACA_KEY".to_string()),
                    ("s".to_string(), "BENCH_ALPACA_SECRET".to_string()),
                ]
                .into(),
            )),
            key_id_name: "k".into(),
            secret_key_name: "s".into(),
            described_as: "bench".into(),
        },
        clock.clone(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path()));
    let size = batch_size.unwrap_or_else(|| auto_batch_size(d1, LOOKBACK_DAYS));
    let backfill = run(&fake, &client, &clock, &store, d1, size).await;
    let d2 = day("2025-06-16");
    fake.set_last_day(d2);
    clock.advance(Duration::from_secs(3 * 86_400));
    let size = batch_size.unwrap_or_else(|| auto_batch_size(d2, LOOKBACK_DAYS));
    let incremental = run(&fake, &client, &clock, &store, d2, size).await;
    (backfill, incremental)
}

#[tokio::main]
async fn main() {
    // SAFETY: set before any other thread reads the environment; the key pair the loopback
    // server expects, read back through the same EnvSecrets adapter the CLI uses.
    unsafe {
        std::env::set_var("BENCH_ALPACA_KEY", KEY_ID);
        std::env::set_var("BENCH_ALPACA_SECRET", SECRET_KEY);
    }
    let symbols: usize = std::env::var("BENCH_SYMBOLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!(
        "{symbols} symbols, lookback {LOOKBACK_DAYS} days, page 10,000 bars, server limit 200/min (headers on), client 200/min burst 5"
    );
    println!(
        "auto batch size: {} symbols (batch_size_for(252 sessions) = {})",
        auto_batch_size(day("2025-06-13"), LOOKBACK_DAYS),
        batch_size_for(252, 10_000, 400)
    );
    let (backfill, incremental) = scenario(symbols, None).await;
    backfill.print("backfill, auto batches");
    incremental.print("incremental day, auto batches");
    if std::env::var("BENCH_COMPARE").is_ok() {
        for size in [100, 200, 300, 400] {
            let (b, i) = scenario(symbols, Some(size)).await;
            b.print(&format!("backfill, batches of {size}"));
            i.print(&format!("incremental day, batches of {size}"));
        }
    }
    let ok = backfill.requests as f64 <= 1.05 * backfill.minimum() as f64
        && backfill.rate_limited == 0
        && incremental.rate_limited == 0
        && (symbols < 10_000 || incremental.requests < 30);
    println!(
        "targets (<= 1.05x minimum, zero 429s, incremental day < 30 requests for 10,000 symbols): {}",
        if ok { "met" } else { "NOT met" }
    );
}
