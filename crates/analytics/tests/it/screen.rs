//! screen_latest: latest-bar metrics, screens and ranks.

use screener_analytics::polars::prelude::*;
use screener_analytics::{ScreenSet, compute_indicators, screen_latest};

use crate::common::*;

fn liquid(symbol: &str, closes: &[f64]) -> String {
    bars_csv(symbol, closes).replace(",1000\n", ",1000000\n")
}

#[test]
fn deepest_drawdown_ranks_the_deepest_liquid_fall_first() {
    let mut rows = String::new();
    let mut up: Vec<f64> = (0..40).map(|i| 100.0 + i as f64).collect();
    rows.push_str(&liquid("UP", &up));
    let mut down = vec![100.0; 30];
    down.extend([60.0; 10]);
    rows.push_str(&liquid("DOWN40", &down));
    let mut half = vec![100.0; 30];
    half.extend([50.0; 10]);
    rows.push_str(&liquid("DOWN50", &half));
    // Deep fall, but illiquid: volume 1000.
    let mut thin = vec![100.0; 30];
    thin.extend([10.0; 10]);
    rows.push_str(&bars_csv("THIN", &thin));
    up.clear();

    let out = screen_latest(frame(&rows), &ScreenSet::default_screens(), None).unwrap();
    let s = out
        .screens
        .iter()
        .find(|s| s.name == "deepest_drawdown")
        .unwrap();
    assert_eq!(s.count, 2);
    let top: Vec<&str> = s
        .top
        .column("symbol")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(top, ["DOWN50", "DOWN40"]);
    let r = &out.results;
    let syms: Vec<&str> = r
        .column("symbol")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(syms, ["DOWN40", "DOWN50", "THIN", "UP"]);
    let pass: Vec<Option<bool>> = r
        .column("pass_deepest_drawdown")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(pass, [Some(true), Some(true), Some(false), Some(false)]);
    let rank: Vec<Option<u32>> = r
        .column("rank_deepest_drawdown")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(rank, [Some(2), Some(1), None, None]);
}

#[test]
fn screen_latest_equals_the_last_row_of_compute_indicators() {
    let mut rows = String::new();
    for (k, sym) in ["AAA", "BBB", "CCC"].iter().enumerate() {
        let closes: Vec<f64> = (0..300)
            .map(|i| 50.0 + 10.0 * ((i as f64) * 0.1 + k as f64).sin() + i as f64 * 0.05)
            .collect();
        rows.push_str(&liquid(sym, &closes));
    }
    let df = frame(&rows);
    let all = compute_indicators(df.clone()).unwrap();
    let out = screen_latest(df, &ScreenSet::default_screens(), None).unwrap();
    // Last row of each symbol (the output is sorted by symbol, then date).
    let syms: Vec<&str> = all
        .column("symbol")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    let last_rows: Vec<IdxSize> = (0..syms.len())
        .filter(|&i| i + 1 == syms.len() || syms[i + 1] != syms[i])
        .map(|i| i as IdxSize)
        .collect();
    let last = all.take(&IdxCa::from_vec("i".into(), last_rows)).unwrap();
    for name in screener_analytics::INDICATOR_NAMES {
        let a = values(&last, name);
        let b = values(&out.results, name);
        assert_eq!(a.len(), 3);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                x.map(f64::to_bits),
                y.map(f64::to_bits),
                "{name}: {x:?} vs {y:?}"
            );
        }
    }
}

#[test]
fn as_of_uses_each_symbols_latest_bar_on_or_before_the_date() {
    let rows = "A,2024-01-01,1,1,1,10,1\n\
                A,2024-01-03,1,1,1,11,1\n\
                A,2024-01-05,1,1,1,12,1\n\
                B,2024-01-04,1,1,1,20,1\n\
                C,2024-01-02,1,1,1,30,1\n";
    let d = chrono::NaiveDate::from_ymd_opt(2024, 1, 3).unwrap();
    let out = screen_latest(frame(rows), &ScreenSet::default_screens(), Some(d)).unwrap();
    let r = &out.results;
    let syms: Vec<&str> = r
        .column("symbol")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(syms, ["A", "C"], "B has no bar on or before the date");
    assert_eq!(values(r, "close"), [Some(11.0), Some(30.0)]);
    assert!(close_to(values(r, "ret_1d")[0], 0.1));
}

#[test]
fn screens_compare_metrics_with_metrics_and_rank_descending() {
    let set = ScreenSet::parse_toml(
        r#"
[[screen]]
name = "above"
description = "close above its 20-day average"
conditions = ["close > sma_20"]
sort = { metric = "ret_1d", direction = "desc" }
limit = 1
"#,
    )
    .unwrap();
    let mut rows = String::new();
    let mut up: Vec<f64> = (0..20).map(|i| 10.0 + i as f64).collect();
    up.push(40.0);
    rows.push_str(&bars_csv("FAST", &up));
    let mut slow: Vec<f64> = (0..20).map(|i| 10.0 + i as f64).collect();
    slow.push(30.0);
    rows.push_str(&bars_csv("SLOW", &slow));
    let mut down = vec![20.0; 20];
    down.push(10.0);
    rows.push_str(&bars_csv("DOWN", &down));
    let out = screen_latest(frame(&rows), &set, None).unwrap();
    let s = &out.screens[0];
    assert_eq!((s.name.as_str(), s.count, s.top.height()), ("above", 2, 1));
    let top: Vec<&str> = s
        .top
        .column("symbol")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(top, ["FAST"]);
    assert_eq!(s.top.get_column_names()[0].as_str(), "rank");
    let rank: Vec<Option<u32>> = out
        .results
        .column("rank_above")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(rank, [None, Some(1), Some(2)]); // DOWN, FAST, SLOW
}

/// Parquet bytes of `df` with row groups of `rows` rows.
fn parquet(df: &DataFrame, rows: usize) -> Vec<u8> {
    let mut df = df.clone();
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_row_group_size(Some(rows))
        .finish(&mut df)
        .unwrap();
    buf
}

fn many_symbols() -> DataFrame {
    let mut rows = String::new();
    for (k, sym) in ["AA", "BB", "CC", "DD", "EE"].iter().enumerate() {
        let n = 30 + 17 * k;
        let closes: Vec<f64> = (0..n)
            .map(|i| 20.0 + 5.0 * ((i as f64) * 0.3 + k as f64).sin() + i as f64 * 0.1)
            .collect();
        rows.push_str(&liquid(sym, &closes));
    }
    frame(&rows)
}

#[test]
fn streaming_parquet_row_groups_gives_the_same_results_as_the_frame() {
    let df = many_symbols();
    let screens = ScreenSet::default_screens();
    let d = chrono::NaiveDate::from_ymd_opt(2024, 2, 10).unwrap();
    for as_of in [None, Some(d)] {
        let expected = screen_latest(df.clone(), &screens, as_of).unwrap();
        for rows in [2, 7, 29, 10_000] {
            let got =
                screener_analytics::screen_latest_parquet(&parquet(&df, rows), &screens, as_of)
                    .unwrap();
            assert!(
                got.results.equals_missing(&expected.results),
                "row groups of {rows}, as of {as_of:?}:\n{}\n{}",
                got.results,
                expected.results
            );
        }
    }
}

#[test]
fn unsorted_parquet_falls_back_to_sorting_and_gives_the_same_results() {
    let df = many_symbols();
    let screens = ScreenSet::default_screens();
    let expected = screen_latest(df.clone(), &screens, None).unwrap();
    let n = df.height() as IdxSize;
    let reversed = df
        .take(&IdxCa::from_vec("i".into(), (0..n).rev().collect()))
        .unwrap();
    let got =
        screener_analytics::screen_latest_parquet(&parquet(&reversed, 10), &screens, None).unwrap();
    assert!(got.results.equals_missing(&expected.results));
}

#[test]
fn a_duplicate_bar_across_row_groups_is_refused() {
    let df = frame("A,2024-01-01,1,1,1,1,1\nA,2024-01-02,1,1,1,2,1\nA,2024-01-02,1,1,1,3,1\n");
    let err = screener_analytics::screen_latest_parquet(
        &parquet(&df, 2),
        &ScreenSet::default_screens(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("symbol `A` on 2024-01-02"), "{err}");
}

#[test]
fn screening_a_csv_file_equals_screening_its_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bars.csv");
    let mut df = many_symbols();
    std::fs::write(&path, screener_analytics::write_csv(&mut df).unwrap()).unwrap();
    let screens = ScreenSet::default_screens();
    let got = screener_analytics::screen_latest_file(&path, &screens, None).unwrap();
    let expected = screen_latest(df, &screens, None).unwrap();
    assert!(got.results.equals_missing(&expected.results));
}

/// `many_symbols` cut into parts of whole symbols, each part's rows as given.
fn parts_of(df: &DataFrame, symbols_per_part: usize) -> Vec<DataFrame> {
    let column = df.column("symbol").unwrap().str().unwrap();
    let symbols: Vec<&str> = (0..column.len()).map(|i| column.get(i).unwrap()).collect();
    let mut names = symbols.clone();
    names.dedup();
    names
        .chunks(symbols_per_part)
        .map(|chunk| {
            let mask: BooleanChunked = symbols.iter().map(|s| chunk.contains(s)).collect();
            df.filter(&mask).unwrap()
        })
        .collect()
}

#[test]
fn screening_in_parts_equals_screening_the_whole_frame_in_any_part_order() {
    let df = many_symbols();
    let screens = ScreenSet::default_screens();
    let d = chrono::NaiveDate::from_ymd_opt(2024, 2, 10).unwrap();
    for as_of in [None, Some(d)] {
        let expected = screen_latest(df.clone(), &screens, as_of).unwrap();
        for per_part in [1, 2, 3] {
            let mut parts = parts_of(&df, per_part);
            assert!(parts.len() > 1, "the test needs several parts");
            for reversed in [false, true] {
                if reversed {
                    parts.reverse();
                }
                let mut screener = screener_analytics::PartsScreener::new(&screens, as_of);
                for (i, part) in parts.iter().enumerate() {
                    screener.add(part.clone(), &format!("part {i}")).unwrap();
                }
                let got = screener.finish().unwrap();
                assert!(
                    got.results.equals_missing(&expected.results),
                    "{per_part} symbols per part, reversed {reversed}, as of {as_of:?}:\n{}\n{}",
                    got.results,
                    expected.results
                );
                for (g, e) in got.screens.iter().zip(&expected.screens) {
                    assert_eq!(g.count, e.count);
                    assert!(g.top.equals_missing(&e.top), "{}", g.name);
                }
            }
        }
    }
}

#[test]
fn a_symbol_split_across_parts_is_refused_naming_both_parts() {
    let screens = ScreenSet::default_screens();
    let mut screener = screener_analytics::PartsScreener::new(&screens, None);
    screener
        .add(frame("A,2024-01-01,1,1,1,1,1\n"), "batch-0001.csv")
        .unwrap();
    let err = screener
        .add(frame("A,2024-01-02,1,1,1,2,1\n"), "batch-0002.csv")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`A`") && err.contains("batch-0001.csv") && err.contains("batch-0002.csv"),
        "{err}"
    );
}
