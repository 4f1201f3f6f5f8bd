//! Indicators against TA-Lib on real prices.
//!
//! Runs `tests/talib/reference.py` with the Python named by `SCREENER_PYTHON` (a venv
//! with `pip install TA-Lib bokeh_sampledata numpy`). When the variable is unset the
//! comparison is skipped, saying so.

use std::path::PathBuf;
use std::process::Command;

use screener_analytics::polars::prelude::*;
use screener_analytics::{compute_indicators, read_bars};

use crate::common::values;

const COLUMNS: [&str; 9] = [
    "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "rsi_14", "atr_14", "high_52w", "low_52w",
];

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/talib/reference.py")
}

fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect()
}

#[test]
fn indicators_equal_ta_lib_on_real_prices() {
    let Some(python) = std::env::var_os("SCREENER_PYTHON") else {
        eprintln!(
            "TA-Lib comparison SKIPPED: SCREENER_PYTHON is not set. Set it to a Python with \
             `pip install TA-Lib bokeh_sampledata numpy` to compare against TA-Lib."
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(&python)
        .arg(script())
        .arg(dir.path())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {python:?}: {e}"));
    assert!(status.success(), "reference.py failed: {status}");

    let ours = compute_indicators(read_bars(&dir.path().join("bars.csv")).unwrap()).unwrap();
    let reference = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(dir.path().join("reference.csv")))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(ours.height(), reference.height());
    assert!(
        ours.height() > 12_000,
        "expected the full sample, got {}",
        ours.height()
    );
    assert_eq!(strings(&ours, "symbol"), strings(&reference, "symbol"));
    assert_eq!(strings(&ours, "date"), strings(&reference, "date"));
    let symbols = strings(&ours, "symbol");
    let dates = strings(&ours, "date");

    let mut compared = 0;
    let mut identical = 0;
    for name in COLUMNS {
        let ta = values(&reference, name);
        let mine = values(&ours, name);
        for (i, (t, m)) in ta.iter().zip(&mine).enumerate() {
            let at = format!("{name} at {} {}", symbols[i], dates[i]);
            match (t, m) {
                (None, None) => {}
                (Some(t), Some(m)) => {
                    assert!(
                        m == t || (m - t).abs() <= 1e-9 * t.abs(),
                        "{at}: ours {m:?}, TA-Lib {t:?}"
                    );
                    compared += 1;
                    identical += usize::from(m.to_bits() == t.to_bits());
                }
                (None, Some(m)) => panic!("{at}: ours {m:?}, TA-Lib NaN (warm-up)"),
                (Some(t), None) => panic!("{at}: ours null, TA-Lib {t:?}"),
            }
        }
    }
    eprintln!(
        "TA-Lib comparison: {compared} values equal to 1e-9 relative, {identical} bit-identical"
    );
    assert!(compared > 100_000);
}
