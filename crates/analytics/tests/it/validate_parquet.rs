//! The Parquet batches validate writes (`screener_parquet`, a small writer of our own)
//! must read in polars exactly as written: that is how the Screen step reads them.

use chrono::NaiveDate;
use screener_analytics::polars::prelude::*;
use screener_analytics::read_bars_parquet_frame;
use screener_core::Symbol;
use screener_core::bar::{Bar, BarsBySymbol};
use screener_parquet::{ROWS_PER_GROUP, write_bars_parquet};

fn batch(symbols: &[&str], days: usize) -> BarsBySymbol {
    let start = NaiveDate::from_ymd_opt(2023, 1, 3).unwrap();
    symbols
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let bars = (0..days)
                .map(|i| {
                    let close = 10.0 + s as f64 + (i as f64 * 0.37).sin();
                    Bar {
                        date: start + chrono::Duration::days(i as i64),
                        open: close * 0.99,
                        high: close * 1.01 + 1e-12,
                        low: close * 0.98,
                        close,
                        volume: (1_000_000 + i * 17) as f64,
                        vwap: (i % 5 != 0).then_some(close + 0.001),
                        trade_count: (i % 3 != 0).then_some(5_000 + i as u64),
                    }
                })
                .collect();
            (Symbol::parse(name).unwrap(), bars)
        })
        .collect()
}

/// Every bar of `bars`, in the writer's row order, compared with the frame polars read.
fn assert_frame_equals(df: &DataFrame, bars: &BarsBySymbol) {
    let rows: Vec<(&Symbol, &Bar)> = bars
        .iter()
        .flat_map(|(s, list)| list.iter().map(move |b| (s, b)))
        .collect();
    assert_eq!(df.height(), rows.len());
    let symbol = df.column("symbol").unwrap().str().unwrap();
    let date = df.column("date").unwrap().date().unwrap();
    let f = |name: &str| df.column(name).unwrap().f64().unwrap().clone();
    let (open, high, low, close, volume, vwap) = (
        f("open"),
        f("high"),
        f("low"),
        f("close"),
        f("volume"),
        f("vwap"),
    );
    let trades = df.column("trade_count").unwrap().i64().unwrap();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    for (i, (s, b)) in rows.iter().enumerate() {
        assert_eq!(symbol.get(i), Some(s.as_str()), "row {i}");
        assert_eq!(
            date.phys.get(i),
            Some((b.date - epoch).num_days() as i32),
            "row {i}"
        );
        // Bit-exact: PLAIN doubles are the values themselves.
        assert_eq!(open.get(i).map(f64::to_bits), Some(b.open.to_bits()));
        assert_eq!(high.get(i).map(f64::to_bits), Some(b.high.to_bits()));
        assert_eq!(low.get(i).map(f64::to_bits), Some(b.low.to_bits()));
        assert_eq!(close.get(i).map(f64::to_bits), Some(b.close.to_bits()));
        assert_eq!(volume.get(i), Some(b.volume));
        assert_eq!(vwap.get(i), b.vwap, "row {i}");
        assert_eq!(trades.get(i), b.trade_count.map(|t| t as i64), "row {i}");
    }
}

#[test]
fn polars_reads_validates_parquet_exactly_as_written() {
    let bars = batch(&["AAPL", "BRK.B", "MSFT"], 300);
    let df = read_bars_parquet_frame(&write_bars_parquet(&bars)).unwrap();
    assert_frame_equals(&df, &bars);
}

#[test]
fn polars_reads_a_batch_split_across_row_groups() {
    let days = ROWS_PER_GROUP / 2 + 7;
    let bars = batch(&["A", "B", "C"], days);
    let df = read_bars_parquet_frame(&write_bars_parquet(&bars)).unwrap();
    assert_frame_equals(&df, &bars);
}

#[test]
fn polars_reads_an_empty_batch_as_an_empty_frame() {
    let df = read_bars_parquet_frame(&write_bars_parquet(&BarsBySymbol::new())).unwrap();
    assert_eq!(df.height(), 0);
    assert!(df.column("close").is_ok());
}
