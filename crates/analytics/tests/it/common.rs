//! Helpers: small bars frames built from closes.

use screener_analytics::polars::prelude::*;
use screener_analytics::{compute_indicators, read_bars_csv_frame};

/// CSV header line for bars.
pub const HEADER: &str = "symbol,date,open,high,low,close,volume\n";

/// Bars for one symbol on consecutive days from 2024-01-01 (open = close, high = close + 1,
/// low = close - 1, volume 1000).
pub fn bars_csv(symbol: &str, closes: &[f64]) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let mut s = String::new();
    for (i, c) in closes.iter().enumerate() {
        let d = start + chrono::Days::new(i as u64);
        s.push_str(&format!(
            "{symbol},{d},{c},{},{},{c},1000\n",
            c + 1.0,
            c - 1.0
        ));
    }
    s
}

pub fn frame(csv_rows: &str) -> DataFrame {
    read_bars_csv_frame(format!("{HEADER}{csv_rows}").as_bytes()).unwrap()
}

/// A float column of `df` as options.
pub fn values(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}

pub fn indicators(csv_rows: &str) -> DataFrame {
    compute_indicators(frame(csv_rows)).unwrap()
}

pub fn close_to(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= 1e-12 * b.abs().max(1.0))
}
