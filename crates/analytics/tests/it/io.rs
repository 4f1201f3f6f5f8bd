//! Reading bars and writing results.

use screener_analytics::read_bars_csv_frame;

use crate::common::*;

#[test]
fn text_in_a_number_column_names_the_row_line_column_and_value() {
    let csv = format!("{HEADER}A,2024-01-02,1,2,0.5,1.5,100\nA,2024-01-03,1,2,0.5,abc,100\n");
    let err = read_bars_csv_frame(csv.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("row 2 (line 3"), "{err}");
    assert!(err.contains("column `close`"), "{err}");
    assert!(err.contains("`abc`"), "{err}");
}

#[test]
fn an_unparsable_date_is_refused_with_its_row() {
    let csv = format!("{HEADER}A,2024-13-02,1,2,0.5,1.5,100\n");
    let err = read_bars_csv_frame(csv.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("row 1 (line 2"), "{err}");
    assert!(err.contains("column `date`"), "{err}");
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn a_missing_column_is_named() {
    let csv = "symbol,date,open,high,low,volume\nA,2024-01-02,1,2,0.5,100\n";
    let err = read_bars_csv_frame(csv.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("missing required column `close`"), "{err}");
}

use screener_analytics::polars::prelude::*;
use screener_analytics::{compute_indicators, read_bars, write_csv, write_parquet};

fn parquet_with_date(date: Column) -> DataFrame {
    let mut df = DataFrame::new(
        2,
        vec![
            Column::new("symbol".into(), ["A", "A"]),
            date,
            Column::new("open".into(), [1.0, 2.0]),
            Column::new("high".into(), [1.0, 2.0]),
            Column::new("low".into(), [1.0, 2.0]),
            Column::new("close".into(), [1.0, 2.0]),
            Column::new("volume".into(), [10u64, 20]),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bars.parquet");
    std::fs::write(&path, write_parquet(&mut df).unwrap()).unwrap();
    read_bars(&path).unwrap()
}

fn dates(df: &DataFrame) -> Vec<String> {
    let c = df.column("date").unwrap();
    assert_eq!(c.dtype(), &DataType::Date);
    c.cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect()
}

#[test]
fn parquet_dates_may_be_dates_timestamps_or_strings() {
    let as_date = Int32Chunked::from_vec("date".into(), vec![19_723, 19_724])
        .into_date()
        .into_column();
    assert_eq!(
        dates(&parquet_with_date(as_date)),
        ["2024-01-01", "2024-01-02"]
    );
    let ms = [19_723i64 * 86_400_000 + 3_600_000, 19_724 * 86_400_000];
    let as_ts = Int64Chunked::from_vec("date".into(), ms.to_vec())
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column();
    assert_eq!(
        dates(&parquet_with_date(as_ts)),
        ["2024-01-01", "2024-01-02"]
    );
    let as_str = Column::new("date".into(), ["2024-01-01", "2024-01-02"]);
    let df = parquet_with_date(as_str);
    assert_eq!(dates(&df), ["2024-01-01", "2024-01-02"]);
    assert_eq!(df.column("volume").unwrap().dtype(), &DataType::Float64);
}

#[test]
fn a_bad_date_string_in_parquet_names_the_row() {
    let mut df = DataFrame::new(
        1,
        vec![
            Column::new("symbol".into(), ["A"]),
            Column::new("date".into(), ["01/02/2024"]),
            Column::new("open".into(), [1.0]),
            Column::new("high".into(), [1.0]),
            Column::new("low".into(), [1.0]),
            Column::new("close".into(), [1.0]),
            Column::new("volume".into(), [1.0]),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    std::fs::write(&path, write_parquet(&mut df).unwrap()).unwrap();
    let err = read_bars(&path).unwrap_err().to_string();
    assert!(err.contains("bad.parquet"), "{err}");
    assert!(err.contains("row 1, column `date`"), "{err}");
    assert!(err.contains("`01/02/2024`"), "{err}");
}

#[test]
fn an_unknown_extension_is_refused() {
    let err = read_bars(std::path::Path::new("bars.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bars.json"), "{err}");
    assert!(err.contains(".csv, .csv.gz or .parquet"), "{err}");
}

#[test]
fn csv_output_has_iso_dates_shortest_floats_and_empty_nulls() {
    let mut df = compute_indicators(frame(
        "A,2024-01-01,0.1,0.2,0.1,0.1,100\nA,2024-01-02,0.3,0.3,0.2,0.3,100\n",
    ))
    .unwrap();
    let text = String::from_utf8(write_csv(&mut df).unwrap()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("symbol,date,open,high,low,close,volume,sma_20,"),
        "{header}"
    );
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("A,2024-01-01,0.1,0.2,0.1,0.1,100.0,,"),
        "{first}"
    );
    let second = lines.next().unwrap();
    // ret_1d = 0.3 / 0.1 - 1, printed in the shortest form that reads back exactly.
    let ret = (0.3f64 / 0.1 - 1.0).to_string();
    assert!(second.contains(&format!(",{ret},")), "{second} lacks {ret}");
}

#[test]
fn csv_round_trips_through_the_reader() {
    let rows = "A,2024-01-01,1.1,1.2,1,1.15,100\nA,2024-01-02,1.2,1.3,1.1,1.25,200\n";
    let mut df = frame(rows);
    let back = read_bars_csv_frame(&write_csv(&mut df).unwrap()).unwrap();
    assert!(back.equals_missing(&df));
}
