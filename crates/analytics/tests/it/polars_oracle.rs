//! Window metrics against polars' own expressions (an independent implementation), on a
//! multi-symbol random walk given out of order.

use screener_analytics::polars::prelude::*;
use screener_analytics::{compute_indicators, read_bars_csv_frame};
use screener_test_support::rng::XorShift64;

use crate::common::{HEADER, values};

fn random_walk_csv() -> String {
    let mut rng = XorShift64::new(0x2545_F491_4F6C_DD1D);
    let mut next = move || rng.unit();
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let mut rows = Vec::new();
    for sym in ["MMM", "AAA", "ZZZ"] {
        let mut price = 20.0 + next() * 100.0;
        let mut day = 0u64;
        for _ in 0..400 {
            day += 1 + (next() * 3.0) as u64;
            price *= 1.0 + (next() - 0.5) * 0.04;
            let open = price * (1.0 + (next() - 0.5) * 0.01);
            let close = (price * 100.0).round() / 100.0;
            let volume = (next() * 1e6).round();
            let d = start + chrono::Days::new(day);
            rows.push(format!(
                "{sym},{d},{open},{},{},{close},{volume}\n",
                open.max(close) * 1.01,
                open.min(close) * 0.99
            ));
        }
    }
    // Out of order: compute_indicators sorts.
    rows.reverse();
    rows.concat()
}

fn fixed(window: usize) -> RollingOptionsFixedWindow {
    RollingOptionsFixedWindow {
        window_size: window,
        min_periods: window,
        ..Default::default()
    }
}

#[test]
fn window_metrics_match_polars_rolling_expressions_per_symbol() {
    let bars = read_bars_csv_frame(format!("{HEADER}{}", random_walk_csv()).as_bytes()).unwrap();
    let ours = compute_indicators(bars).unwrap();
    let sym = [col("symbol")];
    let oracle = ours
        .clone()
        .lazy()
        .select([
            col("close")
                .rolling_mean(fixed(20))
                .over(sym.clone())
                .unwrap()
                .alias("sma_20"),
            col("close")
                .rolling_mean(fixed(200))
                .over(sym.clone())
                .unwrap()
                .alias("sma_200"),
            col("close")
                .rolling_max(fixed(252))
                .over(sym.clone())
                .unwrap()
                .alias("high_52w"),
            col("close")
                .rolling_min(fixed(252))
                .over(sym.clone())
                .unwrap()
                .alias("low_52w"),
            (col("close") / col("close").shift(lit(5)) - lit(1.0))
                .over(sym.clone())
                .unwrap()
                .alias("ret_5d"),
            (col("close") / col("close").shift(lit(252)) - lit(1.0))
                .over(sym.clone())
                .unwrap()
                .alias("ret_252d"),
            (col("open") / col("close").shift(lit(1)) - lit(1.0))
                .over(sym.clone())
                .unwrap()
                .alias("gap_pct"),
            col("volume")
                .shift(lit(1))
                .rolling_mean(fixed(20))
                .over(sym.clone())
                .unwrap()
                .alias("avg_volume_20"),
            (col("close") * col("volume"))
                .rolling_mean(fixed(20))
                .over(sym.clone())
                .unwrap()
                .alias("dollar_volume_20"),
        ])
        .collect()
        .unwrap();
    for name in oracle.get_column_names() {
        let expected = values(&oracle, name.as_str());
        let got = values(&ours, name.as_str());
        let mut defined = 0;
        for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
            match (e, g) {
                (Some(e), Some(g)) => {
                    assert!(
                        (e - g).abs() <= 1e-11 * e.abs().max(1e-300),
                        "{name} row {i}: polars {e}, ours {g}"
                    );
                    defined += 1;
                }
                (None, None) => {}
                _ => panic!("{name} row {i}: polars {e:?}, ours {g:?}"),
            }
        }
        assert!(defined > 100, "{name}: only {defined} values");
    }
}
