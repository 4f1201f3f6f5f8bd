//! Metrics against hand-computed values on small series.

use crate::common::*;

#[test]
fn drawdown_180d_is_close_over_the_highest_close_of_the_last_180_calendar_days() {
    // 2024-01-01.. : peak 20 on day 2, then falls to 15 on day 4.
    let rows = "X,2024-01-01,10,11,9,10,1\n\
                X,2024-01-03,20,21,19,20,1\n\
                X,2024-01-04,18,19,17,18,1\n\
                X,2024-01-05,15,16,14,15,1\n";
    let df = indicators(rows);
    let dd = values(&df, "drawdown_180d");
    let days = values(&df, "days_since_peak_180d");
    assert_eq!(dd[0], Some(0.0));
    assert_eq!(days[0], Some(0.0));
    assert_eq!(dd[1], Some(0.0));
    assert!(close_to(dd[2], 18.0 / 20.0 - 1.0));
    assert_eq!(days[2], Some(1.0));
    assert!(close_to(dd[3], 15.0 / 20.0 - 1.0));
    assert_eq!(days[3], Some(2.0));
}

#[test]
fn the_180d_peak_leaves_the_window_after_180_calendar_days() {
    // A peak of 50 on 2024-01-01; 2024-06-29 is 180 days later, so the window starting
    // after 2024-01-01 no longer holds it.
    let rows = "Y,2024-01-01,50,51,49,50,1\n\
                Y,2024-01-02,40,41,39,40,1\n\
                Y,2024-06-28,30,31,29,30,1\n\
                Y,2024-06-29,30,31,29,30,1\n";
    let df = indicators(rows);
    let dd = values(&df, "drawdown_180d");
    let days = values(&df, "days_since_peak_180d");
    // 2024-06-28 is 179 days after the peak: still inside.
    assert!(close_to(dd[2], 30.0 / 50.0 - 1.0));
    assert_eq!(days[2], Some(179.0));
    // 2024-06-29: the peak is 180 days old, out; the high is 40 (2024-01-02, 179 days).
    assert!(close_to(dd[3], 30.0 / 40.0 - 1.0));
    assert_eq!(days[3], Some(179.0));
}

#[test]
fn days_since_peak_counts_from_the_latest_date_of_a_repeated_high() {
    let rows = "Z,2024-01-01,20,21,19,20,1\n\
                Z,2024-01-02,10,11,9,10,1\n\
                Z,2024-01-05,20,21,19,20,1\n\
                Z,2024-01-09,15,16,14,15,1\n";
    let df = indicators(rows);
    assert_eq!(values(&df, "days_since_peak_180d")[3], Some(4.0));
    assert!(close_to(values(&df, "drawdown_180d")[3], 15.0 / 20.0 - 1.0));
}

fn linear(n: usize) -> Vec<f64> {
    (1..=n).map(|i| i as f64).collect()
}

#[test]
fn sma_warms_up_at_n_bars_and_is_the_mean_of_the_last_n_closes() {
    let df = indicators(&bars_csv("A", &linear(60)));
    let sma20 = values(&df, "sma_20");
    assert_eq!(sma20[18], None);
    assert_eq!(sma20[19], Some(10.5));
    assert_eq!(sma20[59], Some(50.5));
    let sma50 = values(&df, "sma_50");
    assert_eq!(sma50[48], None);
    assert_eq!(sma50[49], Some(25.5));
    assert!(values(&df, "sma_200").iter().all(Option::is_none));
}

#[test]
fn ema_is_seeded_with_the_simple_mean_then_smoothed_with_k_2_over_n_plus_1() {
    let df = indicators(&bars_csv("A", &linear(13)));
    let ema12 = values(&df, "ema_12");
    assert_eq!(ema12[10], None);
    assert_eq!(ema12[11], Some(6.5));
    assert!(close_to(ema12[12], (13.0 - 6.5) * (2.0 / 13.0) + 6.5));
    assert!(values(&df, "ema_26").iter().all(Option::is_none));
}

#[test]
fn rsi_is_100_on_a_rising_series_and_0_when_nothing_moves() {
    let rising = indicators(&bars_csv("A", &linear(20)));
    let rsi = values(&rising, "rsi_14");
    assert_eq!(rsi[13], None);
    assert_eq!(rsi[14], Some(100.0));
    assert_eq!(rsi[19], Some(100.0));
    let flat = indicators(&bars_csv("A", &[7.0; 16]));
    assert_eq!(values(&flat, "rsi_14")[14], Some(0.0));
}

#[test]
fn rsi_uses_wilder_smoothing_after_the_first_average() {
    // 14 changes of +1 then one of -2: gain 1, loss 0 -> gain 13/14, loss 2/14.
    let mut closes = linear(15);
    closes.push(13.0);
    let df = indicators(&bars_csv("A", &closes));
    let expected = 100.0 * (13.0 / 14.0) / (13.0 / 14.0 + 2.0 / 14.0);
    assert!(close_to(values(&df, "rsi_14")[15], expected));
}

#[test]
fn atr_starts_at_bar_14_with_the_mean_true_range_then_smooths() {
    // high = close + 1, low = close - 1, flat closes: every TR is 2.
    let mut closes = vec![10.0; 15];
    // A gap up: TR = max(2, |16 - 10|, |14 - 10|) = 7 on bar 15.
    closes.push(15.0);
    let df = indicators(&bars_csv("A", &closes));
    let atr = values(&df, "atr_14");
    assert_eq!(atr[13], None);
    assert_eq!(atr[14], Some(2.0));
    assert!(close_to(atr[15], (2.0 * 13.0 + 6.0) / 14.0));
}

#[test]
fn the_52_week_high_and_low_need_252_bars_and_include_today() {
    let df = indicators(&bars_csv("A", &linear(260)));
    let (high, low) = (values(&df, "high_52w"), values(&df, "low_52w"));
    assert_eq!(high[250], None);
    assert_eq!(high[251], Some(252.0));
    assert_eq!(low[251], Some(1.0));
    assert_eq!(high[259], Some(260.0));
    assert_eq!(low[259], Some(9.0));
    assert_eq!(values(&df, "pct_from_high_52w")[259], Some(0.0));
    assert!(close_to(
        values(&df, "pct_from_low_52w")[259],
        260.0 / 9.0 - 1.0
    ));
}

#[test]
fn max_drawdown_252_is_the_largest_peak_to_trough_fall_in_the_window() {
    let mut closes = vec![100.0; 260];
    closes[5] = 150.0;
    closes[50] = 75.0;
    closes[200] = 60.0;
    let df = indicators(&bars_csv("A", &closes));
    let mdd = values(&df, "max_drawdown_252");
    assert_eq!(mdd[250], None);
    // From the 150 peak down to 60.
    assert_eq!(mdd[251], Some(60.0 / 150.0 - 1.0));
    assert_eq!(mdd[256], Some(60.0 / 150.0 - 1.0));
    // Bar 257's window starts at bar 6: the 150 peak has left it, the peak is 100.
    assert_eq!(mdd[257], Some(60.0 / 100.0 - 1.0));
    let rising = indicators(&bars_csv("A", &linear(252)));
    assert_eq!(values(&rising, "max_drawdown_252")[251], Some(0.0));
}

#[test]
fn the_peak_of_max_drawdown_must_come_before_the_trough() {
    // Trough first, peak later: no fall at all.
    let mut closes = vec![100.0; 252];
    closes[10] = 50.0;
    closes[200] = 200.0;
    closes[251] = 200.0;
    let df = indicators(&bars_csv("A", &closes));
    assert_eq!(
        values(&df, "max_drawdown_252")[251],
        Some(100.0 / 200.0 - 1.0)
    );
    let mut only_up = vec![100.0; 252];
    only_up[0] = 50.0;
    let df = indicators(&bars_csv("A", &only_up));
    assert_eq!(values(&df, "max_drawdown_252")[251], Some(0.0));
}

#[test]
fn returns_count_bars_not_calendar_days() {
    // A missing week between the 2nd and 3rd bar does not matter: 1 bar ago is 1 row ago.
    let rows = "A,2024-01-01,10,11,9,10,1\n\
                A,2024-01-02,11,12,10,11,1\n\
                A,2024-01-10,12,13,11,12.1,1\n";
    let df = indicators(rows);
    let r1 = values(&df, "ret_1d");
    assert_eq!(r1[0], None);
    assert!(close_to(r1[1], 0.1));
    assert!(close_to(r1[2], 12.1 / 11.0 - 1.0));
    let long = indicators(&bars_csv("A", &linear(253)));
    let r252 = values(&long, "ret_252d");
    assert_eq!(r252[251], None);
    assert_eq!(r252[252], Some(253.0 / 1.0 - 1.0));
    assert_eq!(values(&long, "ret_5d")[5], Some(6.0 / 1.0 - 1.0));
    assert_eq!(values(&long, "ret_5d")[4], None);
    assert_eq!(values(&long, "ret_21d")[21], Some(21.0));
    assert_eq!(values(&long, "ret_63d")[63], Some(63.0));
    assert_eq!(values(&long, "ret_126d")[126], Some(126.0));
}

fn with_volumes(closes: &[f64], volumes: &[f64]) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    closes
        .iter()
        .zip(volumes)
        .enumerate()
        .map(|(i, (c, v))| {
            let d = start + chrono::Days::new(i as u64);
            format!("A,{d},{c},{c},{c},{c},{v}\n")
        })
        .collect()
}

#[test]
fn average_volume_excludes_today_and_relative_volume_divides_by_it() {
    let volumes: Vec<f64> = (1..=22).map(|v| v as f64).collect();
    let df = indicators(&with_volumes(&[2.0; 22], &volumes));
    let avg = values(&df, "avg_volume_20");
    assert_eq!(avg[19], None);
    assert_eq!(avg[20], Some(10.5));
    assert_eq!(avg[21], Some(11.5));
    let rel = values(&df, "rel_volume");
    assert_eq!(rel[19], None);
    assert_eq!(rel[20], Some(2.0));
    let dollar = values(&df, "dollar_volume_20");
    assert_eq!(dollar[18], None);
    assert_eq!(dollar[19], Some(2.0 * 10.5));
}

#[test]
fn relative_volume_is_null_when_the_average_volume_is_zero() {
    let mut volumes = vec![0.0; 21];
    volumes[20] = 500.0;
    let df = indicators(&with_volumes(&[2.0; 21], &volumes));
    assert_eq!(values(&df, "avg_volume_20")[20], Some(0.0));
    assert_eq!(values(&df, "rel_volume")[20], None);
}

#[test]
fn volatility_is_the_annualised_sample_std_of_20_log_returns() {
    // Log returns alternate +a, -a: mean 0, sample variance 20 a^2 / 19.
    let a: f64 = 0.02;
    let closes: Vec<f64> = (0..22)
        .map(|i| 100.0 * if i % 2 == 0 { 1.0 } else { a.exp() })
        .collect();
    let df = indicators(&bars_csv("A", &closes));
    let vol = values(&df, "volatility_20");
    assert_eq!(vol[19], None);
    let expected = a * (20.0f64 / 19.0).sqrt() * 252f64.sqrt();
    assert!(
        (vol[20].unwrap() - expected).abs() < 1e-12,
        "{:?} vs {expected}",
        vol[20]
    );
    let flat = indicators(&bars_csv("A", &[5.0; 21]));
    assert_eq!(values(&flat, "volatility_20")[20], Some(0.0));
}

#[test]
fn gap_is_the_open_over_the_previous_close() {
    let rows = "A,2024-01-01,10,11,9,10,1\n\
                A,2024-01-02,10.5,12,10,11,1\n";
    let gap = values(&indicators(rows), "gap_pct");
    assert_eq!(gap[0], None);
    assert!(close_to(gap[1], 0.05));
}

#[test]
fn a_short_history_gets_what_it_can_and_nulls_for_the_rest() {
    let df = indicators(&bars_csv("A", &[10.0, 12.0, 9.0]));
    assert_eq!(df.height(), 3);
    assert!(close_to(values(&df, "ret_1d")[2], 9.0 / 12.0 - 1.0));
    assert!(close_to(values(&df, "drawdown_180d")[2], 9.0 / 12.0 - 1.0));
    for name in [
        "sma_20",
        "ema_12",
        "rsi_14",
        "atr_14",
        "high_52w",
        "max_drawdown_252",
        "ret_5d",
        "avg_volume_20",
        "volatility_20",
    ] {
        assert!(values(&df, name).iter().all(Option::is_none), "{name}");
    }
}

#[test]
fn nan_and_infinite_inputs_become_nulls_and_restart_the_warm_up() {
    let mut rows = bars_csv("A", &linear(45));
    assert!(rows.contains("A,2024-01-11,11,12,10,11,1000"));
    assert!(rows.contains("A,2024-01-31,31,32,30,31,1000"));
    rows = rows.replace(
        "A,2024-01-11,11,12,10,11,1000",
        "A,2024-01-11,11,12,10,NaN,1000",
    );
    rows = rows.replace(
        "A,2024-01-31,31,32,30,31,1000",
        "A,2024-01-31,31,32,30,31,inf",
    );
    let df = indicators(&rows);
    for name in screener_analytics::INDICATOR_NAMES {
        for v in values(&df, name).into_iter().flatten() {
            assert!(v.is_finite(), "{name}: {v}");
        }
    }
    // The NaN close on bar 10 breaks the closes: sma_20 needs 20 valid closes after it.
    let sma = values(&df, "sma_20");
    assert_eq!(sma[10], None);
    assert_eq!(sma[29], None);
    assert_eq!(sma[30], Some((12..=31).sum::<i32>() as f64 / 20.0));
    assert_eq!(values(&df, "ret_1d")[10], None);
    assert_eq!(values(&df, "ret_1d")[11], None);
    assert!(close_to(values(&df, "ret_1d")[12], 13.0 / 12.0 - 1.0));
    // The infinite volume on bar 30: no average volume until 20 clean bars before today.
    let avg = values(&df, "avg_volume_20");
    assert_eq!(
        avg[30],
        Some(1000.0),
        "today's volume is not in its average"
    );
    assert_eq!(values(&df, "rel_volume")[30], None);
    assert_eq!(avg[31], None);
    assert_eq!(avg[44], None);
    assert_eq!(avg[29], Some(1000.0));
    // The closes are unaffected by the volume.
    assert!(sma[31].is_some());
}

#[test]
fn unsorted_input_is_sorted_by_symbol_then_date() {
    let rows = "B,2024-01-02,1,1,1,2,1\n\
                A,2024-01-02,1,1,1,4,1\n\
                B,2024-01-01,1,1,1,1,1\n\
                A,2024-01-01,1,1,1,2,1\n";
    let df = indicators(rows);
    let syms: Vec<String> = df
        .column("symbol")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    assert_eq!(syms, ["A", "A", "B", "B"]);
    assert_eq!(values(&df, "ret_1d"), [None, Some(1.0), None, Some(1.0)]);
}

#[test]
fn a_duplicate_bar_is_refused_naming_symbol_and_date() {
    let rows = "A,2024-01-02,1,1,1,2,1\n\
                A,2024-01-02,1,1,1,4,1\n";
    let err = screener_analytics::compute_indicators(frame(rows))
        .unwrap_err()
        .to_string();
    assert!(err.contains("symbol `A` on 2024-01-02"), "{err}");
}

#[test]
fn long_symbols_are_grouped_by_their_full_name() {
    // Longer than 12 bytes: not stored inline by polars, compared by content.
    let rows = "A_VERY_LONG_SYMBOL_1,2024-01-01,1,1,1,2,1\n\
                A_VERY_LONG_SYMBOL_1,2024-01-02,1,1,1,4,1\n\
                A_VERY_LONG_SYMBOL_2,2024-01-01,1,1,1,10,1\n\
                A_VERY_LONG_SYMBOL_2,2024-01-02,1,1,1,11,1\n";
    let df = indicators(rows);
    assert_eq!(
        values(&df, "ret_1d"),
        [None, Some(1.0), None, Some(11.0 / 10.0 - 1.0)]
    );
    let swapped = rows.replace("SYMBOL_1", "SYMBOL_X");
    let df = indicators(&swapped);
    let syms: Vec<String> = df
        .column("symbol")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    assert_eq!(syms[0], "A_VERY_LONG_SYMBOL_2");
    assert_eq!(values(&df, "ret_1d")[3], Some(1.0));
}
