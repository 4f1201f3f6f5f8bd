//! Daily bars and their CSV form, the format bars travel in between the workflow's steps.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::symbol::Symbol;

/// One trading day of one symbol. Prices are split-adjusted; `date` is the exchange (New York)
/// date. Fields are not checked here: a bar is data as received, and [`crate::validation`]
/// decides whether it is usable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vwap: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_count: Option<u64>,
}

/// Bars of many symbols, each list in the order received.
pub type BarsBySymbol = BTreeMap<Symbol, Vec<Bar>>;

#[derive(Debug, thiserror::Error)]
pub enum BarsCsvError {
    #[error("bars CSV line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("bars CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// The header of the bars CSV: `symbol,date,open,high,low,close,volume,vwap,trade_count`.
pub const BARS_CSV_HEADER: [&str; 9] = [
    "symbol",
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "trade_count",
];

#[derive(Serialize, Deserialize)]
struct BarRow {
    symbol: String,
    date: NaiveDate,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    vwap: Option<f64>,
    trade_count: Option<u64>,
}

/// Writes bars as CSV, symbol by symbol, with `f64` in shortest round-trip form.
pub fn write_bars_csv(bars: &BarsBySymbol) -> Vec<u8> {
    // The header is written by hand so that an empty batch still has one.
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(
            64 * bars.values().map(Vec::len).sum::<usize>(),
        ));
    writer
        .write_record(BARS_CSV_HEADER)
        .expect("writing to a Vec cannot fail");
    for (symbol, list) in bars {
        for bar in list {
            writer
                .serialize(BarRow {
                    symbol: symbol.to_string(),
                    date: bar.date,
                    open: bar.open,
                    high: bar.high,
                    low: bar.low,
                    close: bar.close,
                    volume: bar.volume,
                    vwap: bar.vwap,
                    trade_count: bar.trade_count,
                })
                .expect("writing to a Vec cannot fail");
        }
    }
    writer.into_inner().expect("writing to a Vec cannot fail")
}

/// Reads the CSV written by [`write_bars_csv`]; `vwap` and `trade_count` may be absent or empty.
/// Errors name the line and the problem.
pub fn read_bars_csv(bytes: &[u8]) -> Result<BarsBySymbol, BarsCsvError> {
    let mut reader = bars_csv_reader(bytes)?;
    let mut out = BarsBySymbol::new();
    for row in reader.deserialize::<BarRow>() {
        let (symbol, bar) = row_bar(row)?;
        let symbol = Symbol::parse(&symbol).map_err(|e| BarsCsvError::Row {
            line: 0,
            message: e.to_string(),
        })?;
        out.entry(symbol).or_default().push(bar);
    }
    Ok(out)
}

/// One symbol's bars from the CSV written by [`write_bars_csv`] (`None` if it has none): the
/// other symbols' rows are skipped unparsed, so finding one symbol in a batch of a hundred
/// costs little more than reading the bytes.
pub fn read_symbol_bars_csv(bytes: &[u8], symbol: &str) -> Result<Option<Vec<Bar>>, BarsCsvError> {
    let mut reader = bars_csv_reader(bytes)?;
    let headers = reader.byte_headers()?.clone();
    let column = headers
        .iter()
        .position(|h| h == b"symbol")
        .expect("bars_csv_reader checked the header");
    let mut bars = Vec::new();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record)? {
        if record.get(column) != Some(symbol.as_bytes()) {
            // Symbol by symbol: once past this symbol's rows, there are no more.
            if !bars.is_empty() {
                break;
            }
            continue;
        }
        bars.push(row_bar(record.deserialize::<BarRow>(Some(&headers)))?.1);
    }
    Ok((!bars.is_empty()).then_some(bars))
}

/// A reader over bars CSV whose header has every required column.
fn bars_csv_reader(bytes: &[u8]) -> Result<csv::Reader<&[u8]>, BarsCsvError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = reader.headers()?.clone();
    for required in &BARS_CSV_HEADER[..7] {
        if !headers.iter().any(|h| h == *required) {
            return Err(BarsCsvError::Row {
                line: 1,
                message: format!("missing column {required:?} (header is {headers:?})"),
            });
        }
    }
    Ok(reader)
}

fn row_bar(row: Result<BarRow, csv::Error>) -> Result<(String, Bar), BarsCsvError> {
    let row = row.map_err(|e| BarsCsvError::Row {
        line: e.position().map(|p| p.line()).unwrap_or(0),
        message: e.to_string(),
    })?;
    let bar = Bar {
        date: row.date,
        open: row.open,
        high: row.high,
        low: row.low,
        close: row.close,
        volume: row.volume,
        vwap: row.vwap,
        trade_count: row.trade_count,
    };
    Ok((row.symbol, bar))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(day: u32, close: f64) -> Bar {
        Bar {
            date: NaiveDate::from_ymd_opt(2024, 3, day).unwrap(),
            open: close,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 1000.0,
            vwap: Some(close + 0.1),
            trade_count: None,
        }
    }

    #[test]
    fn bars_round_trip_through_csv_exactly() {
        let mut bars = BarsBySymbol::new();
        bars.insert(
            Symbol::parse("AAPL").unwrap(),
            vec![bar(4, 0.1 + 0.2), bar(5, 171.25)],
        );
        bars.insert(Symbol::parse("BRK.B").unwrap(), vec![bar(4, 1e-9)]);
        let back = read_bars_csv(&write_bars_csv(&bars)).unwrap();
        assert_eq!(back, bars);
    }

    #[test]
    fn a_bad_number_is_reported_with_its_line() {
        let text = "symbol,date,open,high,low,close,volume\nAAPL,2024-03-04,1,2,0.5,1.5,100\nAAPL,2024-03-05,1,two,0.5,1.5,100\n";
        let err = read_bars_csv(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = read_bars_csv(b"symbol,date,open,high,low,volume\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"close\""), "{err}");
    }

    #[test]
    fn one_symbol_is_read_without_the_others() {
        let mut bars = BarsBySymbol::new();
        for (name, close) in [("AAA", 1.0), ("BBB", 2.0), ("CCC", 3.0)] {
            bars.insert(
                Symbol::parse(name).unwrap(),
                vec![bar(1, close), bar(4, close + 0.5)],
            );
        }
        let csv = write_bars_csv(&bars);
        for symbol in ["AAA", "BBB", "CCC"] {
            let key = Symbol::parse(symbol).unwrap();
            assert_eq!(
                read_symbol_bars_csv(&csv, symbol).unwrap().as_ref(),
                bars.get(&key),
                "{symbol}"
            );
        }
        assert_eq!(read_symbol_bars_csv(&csv, "ZZZ").unwrap(), None);
        assert_eq!(read_symbol_bars_csv(&csv, "BB").unwrap(), None);
        assert!(read_symbol_bars_csv(b"symbol,date\nAAA,2024-01-02\n", "AAA").is_err());
    }
}
