//! Dashboard server time and page size, in-process: [`screener_web::handle`] (what `screener
//! dashboard` and the `web` Lambda call) over a [`DirStore`] shaped like a year of production,
//! by default 250 daily runs of 10,000 symbols. Not a timed test: it prints a table (p50, p99,
//! max, the cold first request, bytes) and whether the goals hold: p99 under 50 ms warm for
//! Today and Symbol; HTML, our own script and stylesheet and the data under 300 KB a page (the
//! vendored chart library aside).
//!
//!     cargo bench -p screener-web --bench pages
//!     PAGES_BENCH_RUNS=20 PAGES_BENCH_SYMBOLS=1000 PAGES_BENCH_REQUESTS=50 cargo bench -p screener-web --bench pages
//!
//! Sizes from the environment: `PAGES_BENCH_RUNS` (250), `PAGES_BENCH_SYMBOLS` (10000),
//! `PAGES_BENCH_REQUESTS` per page (250), `PAGES_BENCH_BARS` per symbol in the chart bars (276),
//! `PAGES_BENCH_SECONDS` a page's timed requests may take before the rest are skipped (60; the
//! table says how many were made).
//! `PAGES_BENCH_DIR=path` builds the store there and reuses it on the next run with the same
//! sizes (the full-size store takes a minute or two to build); otherwise a temporary directory.
//!
//! The store is what publish leaves behind: per run `manifest.json`, `digest.json` and the
//! files the manifest lists (`results.parquet`, `top-*.csv`, `charts.json`, `report.html` as
//! small stand-ins, since no page reads them), a real `results.csv` for the last two runs only
//! (Today reads the chosen run's; the other pages read digests), the latest run's chart bars
//! (100-symbol batches), `results/latest.json` and one backtest. Prices are a generated random
//! walk with a market factor; the metrics are the engine's own (`screener_analytics::compute_at`,
//! `crates/analytics/METRICS.md`), computed from the bars once per symbol for every run day, and
//! the screens of `screens.toml` (`ScreenSet::default_screens`) are evaluated on them each day,
//! so counts, ranks and day-to-day churn have real shapes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use http::{Request, StatusCode, header};
use screener_analytics::{
    ALL_METRICS, BAR_METRICS, N_METRICS, Operand, Screen, ScreenSet, SymbolBars, compute_at,
    metric_names,
};
use screener_core::bar::{Bar, BarsBySymbol, read_bars_csv, write_bars_csv};
use screener_core::calendar;
use screener_core::catalogue;
use screener_core::digest::{BarBatch, DIGEST_FILE, RunDigest};
use screener_core::local::{DirStore, EnvSecrets};
use screener_core::ports::{DataSourceInfo, SecretString, Store};
use screener_core::results::ResultsTable;
use screener_core::workflow::{
    LatestPointer, Manifest, Rejection, Repair, RunCounts, ScreenCount, WorstDrawdown, keys,
};
use screener_core::{SplitMix64, Symbol};
use screener_web::auth::{SESSION_COOKIE, SigningKey};
use screener_web::{Audience, LOCAL_OWNER, WebDeps};

/// The last run's date (the benchmark's runs end here, whatever today is).
const LAST_RUN: (i32, u32, u32) = (2026, 12, 2);
/// Symbols per chart-bars batch, as FetchUniverse batches them.
const BATCH: usize = 100;
/// Runs with a real `results.csv` (the newest ones).
const RESULTS_RUNS: usize = 2;
/// Requests before the timed ones, per page.
const WARMUP: usize = 5;
const BACKTEST_ID: &str = "sweep-2026-11";
const KEY: &str = "pages-bench-signing-key";
/// The goals of the issue.
const GOAL_P99_MS: f64 = 50.0;
const GOAL_BYTES: usize = 300_000;

// ---------------------------------------------------------------------------------------------
// Sizes

#[derive(Debug, Clone, Copy, PartialEq)]
struct Sizes {
    runs: usize,
    symbols: usize,
    bars: usize,
    requests: usize,
    /// Time a page's timed requests may take before the rest are skipped.
    budget: Duration,
}

fn env_size(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

impl Sizes {
    fn from_env() -> Sizes {
        let sizes = Sizes {
            runs: env_size("PAGES_BENCH_RUNS", 250),
            symbols: env_size("PAGES_BENCH_SYMBOLS", 10_000),
            bars: env_size("PAGES_BENCH_BARS", 276),
            requests: env_size("PAGES_BENCH_REQUESTS", 250),
            budget: Duration::from_secs(env_size("PAGES_BENCH_SECONDS", 60) as u64),
        };
        assert!(sizes.runs >= 2, "PAGES_BENCH_RUNS: at least 2");
        assert!(
            (BATCH..=TICKERS).contains(&sizes.symbols),
            "PAGES_BENCH_SYMBOLS: {BATCH} to {TICKERS}"
        );
        assert!(sizes.bars >= 2, "PAGES_BENCH_BARS: at least 2");
        assert!(sizes.requests >= 1, "PAGES_BENCH_REQUESTS: at least 1");
        sizes
    }

    /// What identifies a store built for these sizes (requests aside).
    fn fixture_id(&self) -> String {
        format!(
            "pages-bench v3 runs={} symbols={} bars={}",
            self.runs, self.symbols, self.bars
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The generated market

/// A standard normal from two uniforms of `rng` (Box-Muller, the cosine only). Not
/// [`SplitMix64::normal`], which keeps the sine for the next draw: this one keeps the benchmark's
/// market what it has always been.
fn normal(rng: &mut SplitMix64) -> f64 {
    let u = rng.uniform().max(1e-300);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * rng.uniform()).cos()
}

/// Four-letter tickers there are (26^4).
const TICKERS: usize = 456_976;

/// `n` distinct four-letter tickers spread over the alphabet, sorted.
fn tickers(n: usize) -> Vec<String> {
    let mut out: Vec<String> = (0..n)
        .map(|i| {
            let mut k = (i * 7919 + 104_729) % TICKERS;
            let mut s = [b'A'; 4];
            for c in s.iter_mut().rev() {
                *c = b'A' + (k % 26) as u8;
                k /= 26;
            }
            String::from_utf8(s.to_vec()).expect("ASCII")
        })
        .collect();
    out.sort();
    out
}

/// `n` trading days ending on `last`, oldest first.
fn trading_days_to(last: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut days = Vec::with_capacity(n);
    let mut day = calendar::last_trading_day_on_or_before(last);
    for _ in 0..n {
        days.push(day);
        day = calendar::last_trading_day_on_or_before(day - chrono::Duration::days(1));
    }
    days.reverse();
    days
}

/// The days of the whole generated history, as dates and as the engine's days since
/// 1970-01-01.
struct Days {
    dates: Vec<NaiveDate>,
    epoch_days: Vec<i32>,
}

impl Days {
    fn new(dates: Vec<NaiveDate>) -> Days {
        let epoch_days = dates.iter().map(NaiveDate::to_epoch_days).collect();
        Days { dates, epoch_days }
    }
}

/// A market factor: daily log returns with slow bull and bear phases.
fn market(days: usize) -> Vec<f64> {
    let mut rng = SplitMix64::new(42);
    (0..days)
        .map(|t| {
            let phase = (std::f64::consts::TAU * t as f64 / 320.0).sin();
            0.0003 + 0.0015 * phase + 0.011 * normal(&mut rng)
        })
        .collect()
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Columns of a [`Row`]: the bar's own fields, then the indicators.
const COLUMNS: usize = BAR_METRICS.len() + N_METRICS;

/// One symbol's metrics on one day, in [`metric_names`] order (what a screen condition or
/// `results.csv` names); NaN where the engine has no value (warm-up).
type Row = [f64; COLUMNS];

/// Where metric `name` is in a [`Row`].
fn column(name: &str) -> usize {
    metric_names()
        .position(|m| m == name)
        .unwrap_or_else(|| panic!("{name} is not a metric of the engine"))
}

/// One symbol's daily bars over the whole history.
struct Series {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl Series {
    fn generate(index: usize, market: &[f64]) -> Series {
        let mut rng = SplitMix64::new(0x5eed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut price = 1.5 * (rng.uniform() * 400f64.ln()).exp();
        let sigma = 0.008 + 0.025 * rng.uniform();
        let beta = 0.4 + 1.2 * rng.uniform();
        let base_volume = (5_000f64.ln() + rng.uniform() * 4_000f64.ln()).exp();
        let n = market.len();
        let mut s = Series {
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        };
        for m in market {
            let mut r = beta * m + sigma * normal(&mut rng) - 0.5 * sigma * sigma;
            let jump = rng.uniform();
            if jump < 0.002 {
                r -= 0.25;
            } else if jump < 0.003 {
                r += 0.15;
            }
            let o = price * (0.25 * sigma * normal(&mut rng)).exp();
            let c = price * r.exp();
            let h = o.max(c) * (0.4 * sigma * normal(&mut rng).abs()).exp();
            let l = o.min(c) * (-0.4 * sigma * normal(&mut rng).abs()).exp();
            let v = (base_volume * (0.3 * normal(&mut rng) + 0.6 * r.abs() / sigma).exp()).round();
            s.open.push(round4(o));
            s.high.push(round4(h));
            s.low.push(round4(l));
            s.close.push(round4(c).max(0.0001));
            s.volume.push(v.max(1.0));
            price = c;
        }
        s
    }

    /// The symbol's [`Row`] on each day of `at` (increasing indices into `days`): the bar's
    /// fields, and every indicator as the engine computes it ([`compute_at`], one pass over
    /// the history up to the last of `at`).
    fn rows(&self, days: &Days, at: &[usize]) -> Vec<Row> {
        let n = at.last().map_or(0, |t| t + 1);
        let bars = SymbolBars {
            dates: &days.epoch_days[..n],
            open: &self.open[..n],
            high: &self.high[..n],
            low: &self.low[..n],
            close: &self.close[..n],
            volume: &self.volume[..n],
        };
        let mut indicators = vec![[f64::NAN; N_METRICS]; at.len()];
        compute_at(&bars, at, &ALL_METRICS, &mut indicators);
        at.iter()
            .zip(&indicators)
            .map(|(&t, values)| {
                let mut row = [f64::NAN; COLUMNS];
                // BAR_METRICS' order, checked in `build_store`.
                row[..BAR_METRICS.len()].copy_from_slice(&[
                    self.open[t],
                    self.high[t],
                    self.low[t],
                    self.close[t],
                    self.volume[t],
                ]);
                row[BAR_METRICS.len()..].copy_from_slice(values);
                row
            })
            .collect()
    }

    fn bar(&self, days: &Days, t: usize) -> Bar {
        Bar {
            date: days.dates[t],
            open: self.open[t],
            high: self.high[t],
            low: self.low[t],
            close: self.close[t],
            volume: self.volume[t],
            vwap: Some(round4((self.high[t] + self.low[t] + self.close[t]) / 3.0)),
            trade_count: Some((self.volume[t] / 120.0) as u64 + 1),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The screens of screens.toml

/// A screen of the engine's [`ScreenSet::default_screens`] with its metrics looked up once as
/// columns of a [`Row`].
struct Ranking<'a> {
    screen: &'a Screen,
    /// Per condition: the left-hand metric's column and the right-hand one's (`None`: a value).
    columns: Vec<(usize, Option<usize>)>,
    sort: usize,
}

impl<'a> Ranking<'a> {
    fn new(screen: &'a Screen) -> Ranking<'a> {
        let columns = screen
            .conditions
            .iter()
            .map(|c| {
                let rhs = match &c.rhs {
                    Operand::Value(_) => None,
                    Operand::Metric(m) => Some(column(m)),
                };
                (column(&c.metric), rhs)
            })
            .collect();
        Ranking {
            screen,
            columns,
            sort: column(&screen.sort.metric),
        }
    }

    /// The sort key (ascending = better rank) if `row` passes: a condition on a missing value
    /// fails (`Op::holds`), a missing sort key sorts last.
    fn key(&self, row: &Row) -> Option<f64> {
        for (condition, &(left, right)) in self.screen.conditions.iter().zip(&self.columns) {
            let rhs = match &condition.rhs {
                Operand::Value(v) => *v,
                Operand::Metric(_) => row[right.expect("looked up in `Ranking::new`")],
            };
            if !condition.op.holds(row[left], rhs) {
                return None;
            }
        }
        let key = row[self.sort];
        Some(match (key.is_nan(), self.screen.sort.descending) {
            (true, _) => f64::INFINITY,
            (false, true) => -key,
            (false, false) => key,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Building the store

fn run_id(date: NaiveDate) -> String {
    let mut rng = SplitMix64::new(
        date.to_string()
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    format!("{date}-{:08x}", rng.next_u64() as u32)
}

async fn put(store: &DirStore, key: &str, body: Vec<u8>, content_type: &str) {
    store
        .put(key, body, content_type)
        .await
        .unwrap_or_else(|e| panic!("writing {key}: {e}"));
}

fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("serialises")
}

/// What the fixture answers the benchmark with.
struct Fixture {
    latest: NaiveDate,
    previous: NaiveDate,
    symbols: Vec<String>,
    files: usize,
    bytes: u64,
}

async fn build_store(store: &DirStore, sizes: Sizes) -> Fixture {
    let started = Instant::now();
    let Sizes {
        runs,
        symbols: n,
        bars,
        ..
    } = sizes;
    let last = NaiveDate::from_ymd_opt(LAST_RUN.0, LAST_RUN.1, LAST_RUN.2).expect("a date");
    // Enough history before the first run for every 52-week metric, and the chart's bars.
    let history = (runs + 252).max(bars);
    let days = Days::new(trading_days_to(last, history));
    let first_run = history - runs;
    let run_dates = &days.dates[first_run..];
    let latest = *run_dates.last().unwrap();
    let latest_id = run_id(latest);
    let market = market(history);
    let symbols = tickers(n);
    assert_eq!(
        BAR_METRICS,
        ["open", "high", "low", "close", "volume"],
        "Series::rows"
    );
    let screens = ScreenSet::default_screens().screens;
    let rankings: Vec<Ranking> = screens.iter().map(Ranking::new).collect();
    let run_days: Vec<usize> = (first_run..history).collect();

    // Per run, per screen: (sort key, symbol index) of the passing symbols.
    let mut passing: Vec<Vec<Vec<(f64, u32)>>> = vec![vec![Vec::new(); screens.len()]; runs];
    // Per run: the market's deepest 180-day drawdown (value, symbol index), as screen reports it.
    let drawdown = column("drawdown_180d");
    let mut deepest: Vec<Option<(f64, u32)>> = vec![None; runs];
    // The newest runs' results rows: per run, per symbol.
    let results_runs = RESULTS_RUNS.min(runs);
    let mut rows: Vec<Vec<Row>> = vec![Vec::with_capacity(n); results_runs];
    let mut batch = BarsBySymbol::new();
    let mut bar_batches = Vec::new();
    let mut last_progress = Instant::now();
    for (i, symbol) in symbols.iter().enumerate() {
        let series = Series::generate(i, &market);
        let day_rows = series.rows(&days, &run_days);
        for (k, row) in day_rows.iter().enumerate() {
            let d = row[drawdown];
            if !d.is_nan() && deepest[k].is_none_or(|(worst, _)| d < worst) {
                deepest[k] = Some((d, i as u32));
            }
            for (s, ranking) in rankings.iter().enumerate() {
                if let Some(key) = ranking.key(row) {
                    passing[k][s].push((key, i as u32));
                }
            }
        }
        for (k, results) in rows.iter_mut().enumerate() {
            results.push(day_rows[runs - results_runs + k]);
        }
        batch.insert(
            Symbol::parse(symbol).expect("a ticker"),
            (history - bars..history)
                .map(|t| series.bar(&days, t))
                .collect(),
        );
        if batch.len() == BATCH || i + 1 == n {
            let index = bar_batches.len() as u32;
            let key = keys::chart_bars(latest, &latest_id, index);
            bar_batches.push(BarBatch {
                key: key.clone(),
                first: batch.keys().next().unwrap().to_string(),
                last: batch.keys().next_back().unwrap().to_string(),
            });
            put(store, &key, write_bars_csv(&batch), "text/csv").await;
            batch.clear();
        }
        if last_progress.elapsed() > Duration::from_secs(5) || i + 1 == n {
            eprintln!(
                "fixture: {}/{n} symbols generated, screened on {runs} days ({:.0} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
            last_progress = Instant::now();
        }
    }
    for lists in &mut passing {
        for list in lists.iter_mut() {
            list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
    }

    let source = DataSourceInfo {
        kind: "synthetic".into(),
        description: format!("pages benchmark fixture ({n} symbols): NOT real prices"),
        synthetic: true,
        feed: None,
        adjustment: "all".into(),
    };
    for (k, &date) in run_dates.iter().enumerate() {
        let id = run_id(date);
        let with_results = k >= runs - results_runs;
        let mut files = Vec::new();
        if with_results {
            let csv = results_csv(
                &symbols,
                date,
                &screens,
                &rows[k - (runs - results_runs)],
                &passing[k],
            );
            let table = ResultsTable::parse(&csv).expect("the fixture's results.csv parses");
            assert_eq!(table.len(), n);
            put(
                store,
                &keys::results_file(date, "results.csv"),
                csv,
                "text/csv",
            )
            .await;
            files.push("results.csv".to_string());
        }
        // Stand-ins for what no page reads, so the store lists like a real one.
        put(
            store,
            &keys::results_file(date, "results.parquet"),
            b"PAR1 stand-in".to_vec(),
            "application/vnd.apache.parquet",
        )
        .await;
        files.push("results.parquet".into());
        for (s, screen) in screens.iter().enumerate() {
            let name = keys::top_file_name(&screen.name);
            let mut top = String::from("rank,symbol\n");
            for (rank, (_, i)) in passing[k][s].iter().take(screen.limit).enumerate() {
                top.push_str(&format!("{},{}\n", rank + 1, symbols[*i as usize]));
            }
            put(
                store,
                &keys::results_file(date, &name),
                top.into_bytes(),
                "text/csv",
            )
            .await;
            files.push(name);
        }
        for (name, body) in [
            ("charts.json", b"{}".to_vec()),
            (
                "report.html",
                b"<!DOCTYPE html><title>stand-in</title>".to_vec(),
            ),
        ] {
            put(store, &keys::results_file(date, name), body, "text/plain").await;
            files.push(name.into());
        }
        files.push("manifest.json".into());

        let digest = RunDigest {
            date,
            run_id: id.clone(),
            synthetic: true,
            screened: n as u32,
            passing: screens
                .iter()
                .zip(&passing[k])
                .map(|(screen, list)| {
                    let names = list.iter().map(|(_, i)| symbols[*i as usize].clone());
                    (screen.name.to_string(), names.collect())
                })
                .collect(),
            bar_batches: bar_batches
                .iter()
                .enumerate()
                .map(|(index, b)| BarBatch {
                    key: keys::chart_bars(date, &id, index as u32),
                    ..b.clone()
                })
                .collect(),
        };
        if with_results {
            let table = ResultsTable::parse(
                &store
                    .get(&keys::results_file(date, "results.csv"))
                    .await
                    .unwrap(),
            )
            .unwrap();
            let from_table = RunDigest::from_results(date, &id, true, &table, Vec::new());
            assert_eq!(
                from_table.passing, digest.passing,
                "results.csv and digest agree"
            );
            // The manifest's worst drawdown is the market's, as screen reports it.
            let market_min = (0..table.symbols.len())
                .filter_map(|row| table.get(row, "drawdown_180d"))
                .min_by(f64::total_cmp);
            assert_eq!(
                market_min,
                deepest[k].map(|(d, _)| d),
                "results.csv and manifest agree"
            );
        }
        put(
            store,
            &keys::results_file(date, DIGEST_FILE),
            json(&digest),
            "application/json",
        )
        .await;
        let manifest = manifest(
            date,
            &id,
            &source,
            &symbols,
            &screens,
            RunScreened {
                passing: &passing[k],
                deepest_drawdown: deepest[k],
            },
            files,
        );
        put(
            store,
            &keys::results_file(date, "manifest.json"),
            json(&manifest),
            "application/json",
        )
        .await;
        if (k + 1) % 50 == 0 || k + 1 == runs {
            eprintln!(
                "fixture: {}/{runs} runs published ({:.0} s)",
                k + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let latest_pointer = LatestPointer {
        date: latest,
        run_id: latest_id,
        manifest_key: keys::results_file(latest, "manifest.json"),
        published_at: finished_at(latest),
    };
    put(
        store,
        keys::LATEST,
        json(&latest_pointer),
        "application/json",
    )
    .await;
    write_backtest(store, run_dates, &screens).await;
    let (files, bytes) = disk_usage(store.root());
    eprintln!(
        "fixture: built in {:.0} s, {files} files, {:.0} MB",
        started.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
    Fixture {
        latest,
        previous: run_dates[runs - 2],
        symbols,
        files,
        bytes,
    }
}

/// `results.csv` as the screen step writes it: symbol, date, every metric of the catalogue, a
/// text column, and `pass_`/`rank_` per screen.
fn results_csv(
    symbols: &[String],
    date: NaiveDate,
    screens: &[Screen],
    rows: &[Row],
    passing: &[Vec<(f64, u32)>],
) -> Vec<u8> {
    let metrics: Vec<&str> = catalogue::METRICS.iter().map(|m| m.name).collect();
    let columns: Vec<usize> = metrics.iter().map(|m| column(m)).collect();
    let mut ranks: Vec<HashMap<u32, usize>> = Vec::new();
    for list in passing {
        ranks.push(
            list.iter()
                .enumerate()
                .map(|(r, (_, i))| (*i, r + 1))
                .collect(),
        );
    }
    let mut out = String::with_capacity(symbols.len() * 600);
    out.push_str("symbol,date");
    for m in metrics {
        out.push(',');
        out.push_str(m);
    }
    out.push_str(",data_source");
    for s in screens {
        out.push_str(&format!(",pass_{0},rank_{0}", s.name));
    }
    out.push('\n');
    for (i, (symbol, row)) in symbols.iter().zip(rows).enumerate() {
        out.push_str(&format!("{symbol},{date}"));
        for &c in &columns {
            match row[c] {
                v if v.is_nan() => out.push(','),
                v => out.push_str(&format!(",{v}")),
            }
        }
        out.push_str(",synthetic");
        for r in &ranks {
            match r.get(&(i as u32)) {
                Some(rank) => out.push_str(&format!(",true,{rank}")),
                None => out.push_str(",false,"),
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

fn finished_at(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(21, 34, 10).expect("a time"))
}

/// What one run's screening found: per screen the passing (sort key, symbol index), and the
/// market's deepest 180-day drawdown (value, symbol index).
struct RunScreened<'a> {
    passing: &'a [Vec<(f64, u32)>],
    deepest_drawdown: Option<(f64, u32)>,
}

fn manifest(
    date: NaiveDate,
    run_id: &str,
    source: &DataSourceInfo,
    symbols: &[String],
    screens: &[Screen],
    screened: RunScreened<'_>,
    files: Vec<String>,
) -> Manifest {
    let RunScreened {
        passing,
        deepest_drawdown,
    } = screened;
    let n = symbols.len() as u32;
    let mut rng = SplitMix64::new(u64::from(date.ordinal()) * 7 + date.year() as u64);
    let rejections: Vec<Rejection> = (0..12 + rng.next_u64() % 20)
        .map(|k| Rejection {
            symbol: Symbol::parse(&format!("XR{k:03}")).expect("a symbol"),
            reason: match k % 3 {
                0 => "short_history: only 41 bars; at least 60 needed".into(),
                1 => format!("zero_volume: volume is 0 on {date}"),
                _ => "missing_days: 5 trading days missing (at most 3 are kept)".into(),
            },
        })
        .collect();
    let repairs: Vec<Repair> = (0..6)
        .map(|k| Repair {
            symbol: Symbol::parse(&symbols[(k * 997) % symbols.len()]).expect("a symbol"),
            notes: vec!["duplicate date: the later bar kept".into()],
        })
        .collect();
    let no_data: Vec<Symbol> = (0..4)
        .map(|k| Symbol::parse(&format!("XN{k:03}")).expect("a symbol"))
        .collect();
    let finished = finished_at(date);
    Manifest {
        date,
        run_id: run_id.to_string(),
        notice: Some("SYNTHETIC DATA: the pages benchmark's generated market.".into()),
        source: source.clone(),
        started_at: finished - chrono::Duration::seconds(251),
        finished_at: finished,
        counts: RunCounts {
            requested: n + rejections.len() as u32 + no_data.len() as u32,
            fetched: n + rejections.len() as u32,
            valid: n,
            repaired: repairs.len() as u32,
            rejected: rejections.len() as u32,
            no_data: no_data.len() as u32,
            failed: 0,
            screened: n,
            refetched: 0,
        },
        rejections,
        repairs,
        no_data,
        refetched: Vec::new(),
        failed_batches: Vec::new(),
        screens: screens
            .iter()
            .zip(passing)
            .map(|(s, list)| ScreenCount {
                name: s.name.clone(),
                description: s.description.clone(),
                count: list.len() as u32,
                top_key: keys::results_file(date, &keys::top_file_name(&s.name)),
            })
            .collect(),
        worst_drawdown: deepest_drawdown.map(|(drawdown_180d, i)| WorstDrawdown {
            symbol: symbols[i as usize].clone(),
            drawdown_180d,
        }),
        durations_ms: [
            ("fetch_universe", 1_400),
            ("fetch_bars", 182_000),
            ("validate", 41_000),
            ("screen", 24_000),
            ("publish", 2_600),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        files,
    }
}

/// One backtest over the runs' period: its summary, equity curves and the other files.
async fn write_backtest(store: &DirStore, dates: &[NaiveDate], screens: &[Screen]) {
    let metrics = |seed: u64| {
        let mut rng = SplitMix64::new(seed);
        serde_json::json!({
            "total_return": normal(&mut rng) * 0.2, "cagr": normal(&mut rng) * 0.2,
            "annual_volatility": 0.15 + rng.uniform() * 0.2, "sharpe": normal(&mut rng),
            "sortino": normal(&mut rng) * 1.3, "max_drawdown": -rng.uniform() * 0.4,
            "calmar": normal(&mut rng), "turnover_annual": rng.uniform() * 20.0,
        })
    };
    let summary = serde_json::json!({
        "id": BACKTEST_ID,
        "calendar": {"first_session": dates[0], "last_session": dates[dates.len() - 1]},
        "screens": screens.iter().enumerate()
            .map(|(k, s)| serde_json::json!({"name": s.name, "metrics": metrics(k as u64)}))
            .collect::<Vec<_>>(),
        "benchmark": {"name": "benchmark", "metrics": metrics(99)},
    });
    let prefix = format!("backtests/{BACKTEST_ID}/");
    put(
        store,
        &format!("{prefix}summary.json"),
        json(&summary),
        "application/json",
    )
    .await;
    let mut equity = String::from("date");
    for s in screens {
        equity.push_str(&format!(",{}", s.name));
    }
    equity.push_str(",benchmark\n");
    let mut rng = SplitMix64::new(5);
    let mut values = vec![1.0f64; screens.len() + 1];
    for d in dates {
        equity.push_str(&d.to_string());
        for v in &mut values {
            *v *= 1.0 + 0.0004 + 0.012 * normal(&mut rng);
            equity.push_str(&format!(",{v}"));
        }
        equity.push('\n');
    }
    put(
        store,
        &format!("{prefix}equity.csv"),
        equity.into_bytes(),
        "text/csv",
    )
    .await;
    for name in ["selections.csv", "report.html", "plan.json", "ranking.csv"] {
        put(
            store,
            &format!("{prefix}{name}"),
            b"stand-in".to_vec(),
            "text/plain",
        )
        .await;
    }
}

fn disk_usage(root: &Path) -> (usize, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}

/// The store: built in a temporary directory, or in `PAGES_BENCH_DIR` and reused there when it
/// was built for the same sizes.
async fn open_store(sizes: Sizes) -> (Arc<DirStore>, Fixture, Option<tempfile::TempDir>) {
    let (root, temp) = match std::env::var_os("PAGES_BENCH_DIR") {
        Some(dir) => (PathBuf::from(dir), None),
        None => {
            let temp = tempfile::tempdir().expect("a temporary directory");
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let marker = root.join("fixture.json");
    let store_dir = root.join("store");
    let store = Arc::new(DirStore::new(&store_dir));
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let Ok(saved) = serde_json::from_str::<serde_json::Value>(&text)
        && saved["id"] == sizes.fixture_id()
    {
        let (files, bytes) = disk_usage(&store_dir);
        let date = |k: &str| saved[k].as_str().and_then(|d| d.parse().ok()).unwrap();
        eprintln!("fixture: reusing {}", store_dir.display());
        let fixture = Fixture {
            latest: date("latest"),
            previous: date("previous"),
            symbols: tickers(sizes.symbols),
            files,
            bytes,
        };
        return (store, fixture, temp);
    }
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir).expect("removing the old fixture");
    }
    let _ = std::fs::remove_file(&marker);
    eprintln!("fixture: building {}", store_dir.display());
    let fixture = build_store(&store, sizes).await;
    let saved = serde_json::json!({
        "id": sizes.fixture_id(), "latest": fixture.latest, "previous": fixture.previous,
    });
    std::fs::write(&marker, saved.to_string()).expect("writing the fixture marker");
    (store, fixture, temp)
}

// ---------------------------------------------------------------------------------------------
// Measuring

fn web(store: Arc<DirStore>) -> WebDeps {
    WebDeps::new(
        store,
        Arc::new(EnvSecrets::new(BTreeMap::new())),
        SigningKey::new(SecretString::new(KEY)),
        Audience::Only(LOCAL_OWNER),
        "Run the benchmark again.",
    )
}

fn request(method: &str, path: &str, cookie: Option<&str>, body: Vec<u8>) -> Request<Vec<u8>> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(body).expect("a request builds")
}

/// Signs in the way a person does: the printed link's token posted to `/app/signin`. Answers
/// the `Cookie` header value.
async fn sign_in(deps: &WebDeps) -> String {
    let path = deps.signin_path(LOCAL_OWNER, Utc::now());
    let token = path.split_once("token=").expect("a token").1;
    let form = request("GET", &path, None, Vec::new());
    assert_eq!(
        screener_web::handle(form, deps).await.status(),
        StatusCode::OK
    );
    let post = request(
        "POST",
        "/app/signin",
        None,
        format!("token={token}").into_bytes(),
    );
    let response = screener_web::handle(post, deps).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in refused");
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ASCII");
    let pair = set_cookie.split(';').next().expect("a cookie").to_string();
    assert!(
        pair.starts_with(&format!("{SESSION_COOKIE}=")),
        "{set_cookie}"
    );
    pair
}

/// A page measured: its label, its path for the i-th request, and a string its body must hold
/// (so an error page can never be measured in its place).
struct Case {
    label: &'static str,
    path: Box<dyn Fn(usize) -> String>,
    holds: &'static str,
    html: bool,
}

struct Measured {
    label: &'static str,
    samples: Vec<Duration>,
    cold: Duration,
    bytes: usize,
    assets: usize,
    html: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn quantile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn check(case: &Case, path: &str, response: &http::Response<Vec<u8>>) {
    let body = String::from_utf8_lossy(response.body());
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{} {path}: {}",
        case.label,
        &body[..body.len().min(600)]
    );
    assert!(
        body.contains(case.holds),
        "{} {path}: no {:?} in the page",
        case.label,
        case.holds
    );
}

/// The stylesheets and scripts a page loads (`<link rel="stylesheet" href>`, `<script src>`).
fn loaded_assets(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["<script src=\"", "<link rel=\"stylesheet\" href=\""] {
        for (at, _) in html.match_indices(marker) {
            let rest = &html[at + marker.len()..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

/// Bytes of the scripts and stylesheets `html` loads, served by the handler, the vendored
/// chart library aside.
async fn own_asset_bytes(html: &str, deps: &WebDeps) -> usize {
    let mut total = 0;
    for path in loaded_assets(html) {
        if path.contains("lightweight-charts") {
            continue;
        }
        let response = screener_web::handle(request("GET", &path, None, Vec::new()), deps).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        total += response.body().len();
    }
    total
}

async fn measure(
    case: &Case,
    store: &Arc<DirStore>,
    deps: &WebDeps,
    cookie: &str,
    sizes: Sizes,
) -> Measured {
    let requests = sizes.requests;
    // Cold: the first request of a fresh handler (empty caches; the files are in the OS cache).
    let fresh = web(store.clone());
    let path = (case.path)(0);
    let started = Instant::now();
    let response =
        screener_web::handle(request("GET", &path, Some(cookie), Vec::new()), &fresh).await;
    let cold = started.elapsed();
    check(case, &path, &response);
    let assets = if case.html {
        own_asset_bytes(&String::from_utf8_lossy(response.body()), deps).await
    } else {
        0
    };
    for i in 0..WARMUP {
        let path = (case.path)(requests + i);
        let response =
            screener_web::handle(request("GET", &path, Some(cookie), Vec::new()), deps).await;
        check(case, &path, &response);
    }
    let mut samples = Vec::with_capacity(requests);
    let mut bytes = 0;
    let timed = Instant::now();
    for i in 0..requests {
        if timed.elapsed() > sizes.budget {
            break;
        }
        let path = (case.path)(i);
        let req = request("GET", &path, Some(cookie), Vec::new());
        let started = Instant::now();
        let response = screener_web::handle(req, deps).await;
        samples.push(started.elapsed());
        check(case, &path, &response);
        bytes = bytes.max(response.body().len());
    }
    samples.sort();
    Measured {
        label: case.label,
        samples,
        cold,
        bytes,
        assets,
        html: case.html,
    }
}

/// Where the time of a page goes: the store reads the pages make, timed alone.
async fn components(store: &DirStore, fixture: &Fixture) {
    let time = |samples: &mut Vec<Duration>| {
        samples.sort();
        format!(
            "p50 {:>7.2} ms  p99 {:>7.2} ms",
            ms(quantile(samples, 0.5)),
            ms(quantile(samples, 0.99))
        )
    };
    println!("\nwhere the time goes (the same store reads, alone):");
    let mut samples = Vec::new();
    let mut listed = 0;
    for _ in 0..50 {
        let started = Instant::now();
        listed = store.list("results/date=").await.unwrap().len();
        samples.push(started.elapsed());
    }
    println!(
        "  DirStore::list(\"results/date=\") ({listed} keys of {} files)  {}",
        fixture.files,
        time(&mut samples)
    );
    let mut samples = Vec::new();
    let mut size = 0;
    let batches = fixture.symbols.len().div_ceil(BATCH) as u32;
    for k in 0..20u32 {
        let key = keys::chart_bars(fixture.latest, &run_id(fixture.latest), k * 37 % batches);
        let started = Instant::now();
        let bytes = store.get(&key).await.unwrap();
        size = bytes.len();
        let bars = read_bars_csv(&bytes).unwrap();
        samples.push(started.elapsed());
        assert!(!bars.is_empty());
    }
    println!(
        "  one chart-bars batch, get + read_bars_csv ({:.1} MB)            {}",
        size as f64 / 1e6,
        time(&mut samples)
    );
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let bytes = store
            .get(&keys::results_file(fixture.latest, "results.csv"))
            .await
            .unwrap();
        size = bytes.len();
        ResultsTable::parse(&bytes).unwrap();
        samples.push(started.elapsed());
    }
    println!(
        "  results.csv, get + ResultsTable::parse ({:.1} MB)               {}",
        size as f64 / 1e6,
        time(&mut samples)
    );
    let mut samples = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let bytes = store
            .get(&keys::results_file(fixture.latest, DIGEST_FILE))
            .await
            .unwrap();
        size = bytes.len();
        serde_json::from_slice::<RunDigest>(&bytes).unwrap();
        samples.push(started.elapsed());
    }
    println!(
        "  one digest.json, get + parse ({:.0} KB)                          {}",
        size as f64 / 1e3,
        time(&mut samples)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes = Sizes::from_env();
    let (store, fixture, _temp) = open_store(sizes).await;
    let deps = web(store.clone());
    let cookie = sign_in(&deps).await;

    let n = fixture.symbols.len();
    let symbols = fixture.symbols.clone();
    let latest = fixture.latest;
    let cases = vec![
        Case {
            label: "Today /app/",
            path: Box::new(|_| "/app/".into()),
            holds: "id=\"screen-table\"",
            html: true,
        },
        Case {
            label: "Today, all symbols, filtered+sorted",
            path: Box::new(|_| {
                "/app/?screen=all&view=performance&sort=-ret_1d&fm=ret_1d&fo=gt&fv=0&fm=avg_volume_20&fo=gt&fv=100000".into()
            }),
            holds: "id=\"screen-table\"",
            html: true,
        },
        Case {
            label: "Today, previous run",
            path: Box::new(move |_| format!("/app/?date={}", fixture.previous)),
            holds: "id=\"screen-table\"",
            html: true,
        },
        Case {
            label: "Symbol /app/symbol/<S>",
            // A different symbol each time, spread over the universe (and the batches).
            path: Box::new(move |i| format!("/app/symbol/{}", symbols[(i * 7919 + 13) % n])),
            holds: "data-chart=\"candles\"",
            html: true,
        },
        Case {
            label: "History /app/history",
            path: Box::new(|_| "/app/history".into()),
            holds: "id=\"run-log\"",
            html: true,
        },
        Case {
            label: "Backtests /app/backtests (1)",
            path: Box::new(|_| "/app/backtests".into()),
            holds: BACKTEST_ID,
            html: true,
        },
        Case {
            label: "download results.csv",
            path: Box::new(move |_| format!("/app/files/results/{latest}/results.csv")),
            holds: "symbol,date,",
            html: false,
        },
    ];

    // Deny by default: without a session, or with a forged one, every page is 401.
    let forged = cookie.replacen(".", ".1", 1);
    for case in &cases {
        let path = (case.path)(0);
        for bad in [None, Some(forged.as_str())] {
            let response =
                screener_web::handle(request("GET", &path, bad, Vec::new()), &deps).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path} with {bad:?}"
            );
        }
    }

    println!(
        "\ndashboard pages, in-process: {} runs x {} symbols ({} files, {:.0} MB in the store), \
         {} requests per page (or {} s of them) after {WARMUP} warm-up requests, tokio \
         multi-thread (2 workers)",
        sizes.runs,
        sizes.symbols,
        fixture.files,
        fixture.bytes as f64 / 1e6,
        sizes.requests,
        sizes.budget.as_secs(),
    );
    let manifest: Manifest = serde_json::from_slice(
        &store
            .get(&keys::results_file(latest, "manifest.json"))
            .await
            .expect("the latest manifest"),
    )
    .expect("a manifest");
    let counts: Vec<String> = manifest
        .screens
        .iter()
        .map(|s| format!("{} {}", s.name, s.count))
        .collect();
    println!("latest run {latest}, passing: {}", counts.join(", "));
    println!("unauthenticated and forged-session requests: 401 on every page\n");
    println!(
        "{:<38} {:>5} {:>8} {:>8} {:>8} {:>9} {:>10} {:>9} {:>10}",
        "page", "n", "p50 ms", "p99 ms", "max ms", "cold ms", "body KB", "JS+CSS KB", "total KB"
    );
    let mut results = Vec::new();
    for case in &cases {
        let m = measure(case, &store, &deps, &cookie, sizes).await;
        let total = if m.html {
            format!("{:.1}", (m.bytes + m.assets) as f64 / 1e3)
        } else {
            "-".into()
        };
        println!(
            "{:<38} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>10.1} {:>9.1} {:>10}",
            m.label,
            m.samples.len(),
            ms(quantile(&m.samples, 0.5)),
            ms(quantile(&m.samples, 0.99)),
            ms(*m.samples.last().unwrap()),
            ms(m.cold),
            m.bytes as f64 / 1e3,
            m.assets as f64 / 1e3,
            total,
        );
        results.push(m);
    }
    println!(
        "(KB = 1000 bytes; body: the largest response; JS+CSS: our dashboard.js and dashboard.css, \
         the vendored lightweight-charts.js ({:.0} KB) aside)",
        screener_web::assets::LIGHTWEIGHT_CHARTS.len() as f64 / 1e3
    );

    println!("\ngoals:");
    for m in results
        .iter()
        .filter(|m| m.label.starts_with("Today") || m.label.starts_with("Symbol"))
    {
        let p99 = ms(quantile(&m.samples, 0.99));
        println!(
            "  {:<38} p99 {:>7.2} ms < {GOAL_P99_MS} ms: {}",
            m.label,
            p99,
            if p99 < GOAL_P99_MS { "yes" } else { "NO" }
        );
    }
    for m in results.iter().filter(|m| m.html) {
        let total = m.bytes + m.assets;
        println!(
            "  {:<38} {:>7.1} KB < {} KB: {}",
            m.label,
            total as f64 / 1e3,
            GOAL_BYTES / 1000,
            if total < GOAL_BYTES { "yes" } else { "NO" }
        );
    }
    components(&store, &fixture).await;
}
