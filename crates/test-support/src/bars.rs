//! A bars file for tests and benchmarks that need one on disk: the same deterministic random
//! walk everywhere (the CLI tests, the sweep and bot tests, the Lambda binaries' events and
//! `lambda-bench`), so an `events/` file written against it stays true.

use std::path::Path;

use crate::rng::XorShift64;

/// A bars CSV of `symbols` random-walk symbols over `days` weekdays from 2023-01-02, with the
/// last symbol listed 40 days late so warm-up nulls and ragged histories are exercised.
pub fn bars_csv(symbols: usize, days: usize) -> String {
    let mut out = String::from("symbol,date,open,high,low,close,volume\n");
    let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
    let mut rng = XorShift64::new(0x9E37_79B9_7F4A_7C15);
    let mut next = || rng.unit();
    for s in 0..symbols {
        let symbol = format!("S{s:02}");
        let mut close = 50.0 + 10.0 * s as f64;
        let mut date = start;
        let first = if s + 1 == symbols { 40 } else { 0 };
        for day in 0..days {
            while matches!(
                chrono::Datelike::weekday(&date),
                chrono::Weekday::Sat | chrono::Weekday::Sun
            ) {
                date = date.succ_opt().unwrap();
            }
            let open = close * (1.0 + (next() - 0.5) * 0.02);
            close = open * (1.0 + (next() - 0.5) * 0.04);
            let high = open.max(close) * (1.0 + next() * 0.01);
            let low = open.min(close) * (1.0 - next() * 0.01);
            let volume = (100_000.0 + next() * 900_000.0).round();
            if day >= first {
                out.push_str(&format!(
                    "{symbol},{date},{open:.4},{high:.4},{low:.4},{close:.4},{volume}\n"
                ));
            }
            date = date.succ_opt().unwrap();
        }
    }
    out
}

/// [`bars_csv`] written to `path`.
pub fn write_bars_csv(path: &Path, symbols: usize, days: usize) {
    std::fs::write(path, bars_csv(symbols, days))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A large random-walk market as columns, for the benchmarks that write it as Parquet with
/// polars (this crate has no polars): one row per (symbol, weekday), sorted by symbol then
/// date, dates as days since 1970-01-01, prices rounded to cents, volume as drawn.
pub struct RandomWalk {
    pub symbol: Vec<String>,
    pub date: Vec<i32>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    /// Unrounded: a caller keeps its own rounding.
    pub volume: Vec<f64>,
    /// The weekdays, in order.
    pub sessions: Vec<i32>,
}

impl RandomWalk {
    /// `symbols` tickers `S00000`... over `days` weekdays from `first_day` (days since
    /// 1970-01-01). With `drift`, each symbol also draws a daily drift (the backtest benchmark's
    /// W2); without, the walk is driftless (the screen benchmark's market).
    pub fn generate(symbols: usize, days: usize, first_day: i32, drift: bool) -> RandomWalk {
        let n = symbols * days;
        let sessions: Vec<i32> = (0i32..)
            .map(|k| first_day + k)
            .filter(|d| (d + 3).rem_euclid(7) < 5) // Monday = 0; 1970-01-01 was a Thursday
            .take(days)
            .collect();
        let mut walk = RandomWalk {
            symbol: Vec::with_capacity(n),
            date: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
            sessions: Vec::new(),
        };
        let mut rng = XorShift64::new(0x9E37_79B9_7F4A_7C15);
        let mut next = move || rng.unit();
        let cents = |x: f64| (x * 100.0).round() / 100.0;
        for s in 0..symbols {
            let name = format!("S{s:05}");
            let mut price = 5.0 + next() * 200.0;
            let base_volume = 1e4 + next() * 5e6;
            let daily_drift = if drift { (next() - 0.5) * 0.002 } else { 0.0 };
            for &d in &sessions {
                let prev = price;
                price *= 1.0 + daily_drift + (next() - 0.5) * 0.05;
                let o = prev * (1.0 + (next() - 0.5) * 0.01);
                let hi = price.max(o) * (1.0 + next() * 0.01);
                let lo = price.min(o) * (1.0 - next() * 0.01);
                walk.symbol.push(name.clone());
                walk.date.push(d);
                walk.open.push(cents(o));
                walk.high.push(cents(hi));
                walk.low.push(cents(lo));
                walk.close.push(cents(price));
                walk.volume.push(base_volume * (0.3 + next() * 1.4));
            }
        }
        walk.sessions = sessions;
        walk
    }
}
