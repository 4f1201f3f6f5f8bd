//! Market data from the user's own CSV files: one file (optionally `.gz`) or a directory of
//! them, with columns `symbol,date,open,high,low,close,volume` (`vwap`, `trade_count` optional).
//! A file without a `symbol` column takes its symbol from the file name (`AAPL.csv`).
//! Unparsable rows are skipped with a warning naming the file and line; everything else is left
//! to the workflow's validation step, exactly as with any other source.

use std::io::Read;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::bar::{Bar, BarsBySymbol};
use crate::ports::{Asset, DataSourceInfo, MarketData, MarketDataError};
use crate::symbol::Symbol;

pub struct CsvMarket {
    path: PathBuf,
    bars: BarsBySymbol,
    skipped_rows: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CsvSourceError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

impl CsvMarket {
    pub fn open(path: &Path) -> Result<Self, CsvSourceError> {
        let file_error = |p: &Path, message: String| CsvSourceError::File {
            path: p.display().to_string(),
            message,
        };
        let mut files = Vec::new();
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| file_error(path, e.to_string()))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.ends_with(".csv") || name.ends_with(".csv.gz") {
                    files.push(entry.path());
                }
            }
            files.sort();
            if files.is_empty() {
                return Err(file_error(
                    path,
                    "no .csv or .csv.gz files in this directory".into(),
                ));
            }
        } else if path.is_file() {
            files.push(path.to_path_buf());
        } else {
            return Err(file_error(
                path,
                "no such file or directory (expected a CSV file or a directory of them)".into(),
            ));
        }
        let mut market = CsvMarket {
            path: path.to_path_buf(),
            bars: BarsBySymbol::new(),
            skipped_rows: 0,
        };
        for file in files {
            market.load(&file).map_err(|m| file_error(&file, m))?;
        }
        if market.bars.is_empty() {
            return Err(file_error(path, "no usable bars found".into()));
        }
        Ok(market)
    }

    pub fn skipped_rows(&self) -> usize {
        self.skipped_rows
    }

    fn load(&mut self, file: &Path) -> Result<(), String> {
        let raw = std::fs::read(file).map_err(|e| e.to_string())?;
        let text = if file.extension().is_some_and(|e| e == "gz") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|e| format!("not a readable gzip file: {e}"))?;
            out
        } else {
            raw
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(&text[..]);
        let headers = reader.headers().map_err(|e| e.to_string())?.clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let required = ["date", "open", "high", "low", "close", "volume"];
        let mut positions = [0usize; 6];
        for (slot, name) in positions.iter_mut().zip(required) {
            *slot = column(name).ok_or_else(|| {
                format!("missing column {name:?}; expected symbol,date,open,high,low,close,volume")
            })?;
        }
        let symbol_column = column("symbol");
        let file_symbol = file
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('.').next())
            .map(|s| s.to_ascii_uppercase());
        let fixed_symbol = match symbol_column {
            Some(_) => None,
            None => Some(
                Symbol::parse(file_symbol.as_deref().unwrap_or("")).map_err(|e| {
                    format!("no symbol column, and the file name is not a symbol: {e}")
                })?,
            ),
        };
        let vwap = column("vwap");
        let trades = column("trade_count");
        for (index, record) in reader.records().enumerate() {
            let line = index + 2;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    self.skip(file, line, &e.to_string());
                    continue;
                }
            };
            let field = |i: usize| record.get(i).unwrap_or("").trim();
            let number = |i: usize| field(i).parse::<f64>().ok();
            let symbol = match (&fixed_symbol, symbol_column) {
                (Some(s), _) => Ok(s.clone()),
                (None, Some(i)) => Symbol::parse(field(i)).map_err(|e| e.to_string()),
                (None, None) => unreachable!("one of the two is set above"),
            };
            let date = NaiveDate::parse_from_str(field(positions[0]), "%Y-%m-%d");
            let values: Option<Vec<f64>> = positions[1..].iter().map(|&i| number(i)).collect();
            match (symbol, date, values) {
                (Ok(symbol), Ok(date), Some(v)) => self.bars.entry(symbol).or_default().push(Bar {
                    date,
                    open: v[0],
                    high: v[1],
                    low: v[2],
                    close: v[3],
                    volume: v[4],
                    vwap: vwap.and_then(number),
                    trade_count: trades.and_then(|i| field(i).parse().ok()),
                }),
                (Err(e), _, _) => self.skip(file, line, &e),
                (_, Err(_), _) => self.skip(file, line, "date is not YYYY-MM-DD"),
                (_, _, None) => self.skip(file, line, "a price or volume is empty or not a number"),
            }
        }
        Ok(())
    }

    fn skip(&mut self, file: &Path, line: usize, why: &str) {
        self.skipped_rows += 1;
        tracing::warn!(file = %file.display(), line, reason = why, "skipped an unparsable CSV row");
    }
}

#[async_trait]
impl MarketData for CsvMarket {
    fn source(&self) -> DataSourceInfo {
        DataSourceInfo {
            kind: "csv".into(),
            description: format!(
                "CSV files at {} ({} symbols, {} unparsable rows skipped)",
                self.path.display(),
                self.bars.len(),
                self.skipped_rows
            ),
            synthetic: false,
            feed: None,
            adjustment: "as provided".into(),
        }
    }

    async fn universe(&self) -> Result<Vec<Asset>, MarketDataError> {
        Ok(self
            .bars
            .keys()
            .map(|symbol| Asset {
                symbol: symbol.clone(),
                name: symbol.to_string(),
                exchange: "CSV".into(),
                sector: None,
            })
            .collect())
    }

    async fn daily_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<BarsBySymbol, MarketDataError> {
        MarketDataError::check_range(start, end)?;
        Ok(symbols
            .iter()
            .filter_map(|symbol| {
                let bars: Vec<Bar> = self
                    .bars
                    .get(symbol)?
                    .iter()
                    .filter(|b| b.date >= start && b.date <= end)
                    .cloned()
                    .collect();
                (!bars.is_empty()).then(|| (symbol.clone(), bars))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_a_multi_symbol_file_and_skips_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.csv");
        std::fs::write(
            &path,
            "symbol,date,open,high,low,close,volume\n\
             AAPL,2024-03-04,1,2,0.5,1.5,100\n\
             AAPL,2024-03-05,1,,0.5,1.5,100\n\
             msft,2024-03-04,1,2,0.5,1.5,100\n\
             IBM,2024-03-04,1,2,0.5,1.5,100\n",
        )
        .unwrap();
        let market = CsvMarket::open(&path).unwrap();
        assert_eq!(market.skipped_rows(), 2);
        let symbols: Vec<Symbol> = market
            .universe()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.symbol)
            .collect();
        assert_eq!(
            symbols,
            vec![
                Symbol::parse("AAPL").unwrap(),
                Symbol::parse("IBM").unwrap()
            ]
        );
        let day = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
        let bars = market.daily_bars(&symbols, day, day).await.unwrap();
        assert_eq!(bars[&symbols[0]].len(), 1);
        // An inverted range is the caller's mistake, said as such, as by every source.
        let err = market
            .daily_bars(&symbols, day, day.pred_opt().unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(err, MarketDataError::InvalidRequest(ref m) if m.contains("is after end")),
            "{err}"
        );
    }

    #[test]
    fn a_file_without_the_needed_columns_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("AAPL.csv");
        std::fs::write(&path, "date,open,high,low,volume\n").unwrap();
        let err = CsvMarket::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("AAPL.csv") && err.contains("\"close\""),
            "{err}"
        );
    }

    #[test]
    fn a_missing_path_says_what_was_expected() {
        let err = CsvMarket::open(Path::new("/nonexistent/bars"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no such file or directory"), "{err}");
    }
}
