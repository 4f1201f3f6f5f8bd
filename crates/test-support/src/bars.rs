//! A bars file for tests and benchmarks that need one on disk: the same deterministic random
//! walk everywhere (the CLI tests, the sweep and bot tests, the Lambda binaries' events and
//! `lambda-bench`), so an `events/` file written against it stays true.

use std::path::Path;

/// A bars CSV of `symbols` random-walk symbols over `days` weekdays from 2023-01-02, with the
/// last symbol listed 40 days late so warm-up nulls and ragged histories are exercised.
pub fn bars_csv(symbols: usize, days: usize) -> String {
    let mut out = String::from("symbol,date,open,high,low,close,volume\n");
    let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
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
