//! Requests used versus the minimum possible, for a 10,000-symbol backfill of one year and for
//! the incremental day after it, against the loopback Alpaca server with its 200/min limit,
//! on simulated time (a `FastForwardClock` shared by client and server: the minutes the rate limit
//! imposes pass instantly). Not a timed test: it prints figures.
//!
//! `cargo bench -p screener-alpaca --features testing --bench requests`
//! (`BENCH_SYMBOLS=2000` for a quicker run; `BENCH_COMPARE=1` adds other symbol caps.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use screener_alpaca::batching::{auto_batch_size, batch_size_for};
use screener_alpaca::clock::{Clock, FastForwardClock};
use screener_alpaca::config::DEFAULT_MAX_SYMBOLS_PER_REQUEST;
use screener_alpaca::history::{fetch_incremental, history_prefix};
use screener_alpaca::testing::{FakeAlpaca, FakeMarket, FakeOptions, KEY_ID, SECRET_KEY};
use screener_alpaca::{Alpaca, AlpacaConfig, CredentialSource};
use screener_core::local::{DirStore, EnvSecrets};
use screener_core::ports::{MarketData, Store};
use screener_core::{Symbol, calendar};

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
    clock: &FastForwardClock,
    store: &Arc<dyn Store>,
    end: NaiveDate,
    batch_size: usize,
) -> Run {
    fake.reset_stats();
    let (started, simulated_start) = (Instant::now(), clock.epoch_seconds());
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
        simulated: Duration::from_secs_f64(clock.epoch_seconds() - simulated_start),
        real: started.elapsed(),
    }
}

/// A backfill on 2025-06-13 then the next session, with at most `cap` symbols per request and
/// batches sized for it (as `SCREENER_BATCH_SIZE=auto` does for the default cap).
async fn scenario(symbols: usize, cap: usize) -> (Run, Run, u64) {
    let d1 = day("2025-06-13");
    let clock = Arc::new(FastForwardClock::starting_at(evening(d1)));
    let fake = FakeAlpaca::start(
        FakeMarket::generate(symbols, 42, d1),
        FakeOptions::default(),
        clock.clone(),
    )
    .await;
    let config = AlpacaConfig {
        data_url: fake.url(),
        trading_url: fake.url(),
        max_symbols_per_request: cap,
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
    let size = |end: NaiveDate| {
        if cap == DEFAULT_MAX_SYMBOLS_PER_REQUEST {
            auto_batch_size(end, LOOKBACK_DAYS)
        } else {
            let start = end - chrono::Duration::days(i64::from(LOOKBACK_DAYS));
            batch_size_for(calendar::trading_days(start, end).len(), 10_000, cap)
        }
    };
    let backfill = run(&fake, &client, &clock, &store, d1, size(d1)).await;
    let d2 = day("2025-06-16");
    fake.set_last_day(d2);
    clock.advance(Duration::from_secs(3 * 86_400));
    let incremental = run(&fake, &client, &clock, &store, d2, size(d2)).await;
    (backfill, incremental, client.stats().longest_url)
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
    let (backfill, incremental, url) = scenario(symbols, DEFAULT_MAX_SYMBOLS_PER_REQUEST).await;
    backfill.print("backfill, auto batches");
    incremental.print("incremental day, auto batches");
    println!("longest bars URL: {url} bytes");
    if std::env::var("BENCH_COMPARE").is_ok() {
        // The symbol cap per request (and so per batch) that the default was chosen from.
        for cap in [100, 200, 300, 500] {
            let (b, i, url) = scenario(symbols, cap).await;
            b.print(&format!("backfill, cap {cap}"));
            i.print(&format!("incremental day, cap {cap}"));
            println!("longest bars URL at cap {cap}: {url} bytes");
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
