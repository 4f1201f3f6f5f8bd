//! The published results read back: `results.csv` as a table of metrics, pass flags and ranks,
//! for the bot's answers and the alerts that compare two runs.

use crate::ports::StoreError;

/// Why results could not be had. Shown to people only as a friendly sentence.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("no run has been published yet")]
    NoResults,
    #[error("results unavailable: {0}")]
    Unavailable(String),
    #[error("published results are unreadable: {0}")]
    Corrupt(String),
}

impl From<StoreError> for ResultsError {
    fn from(e: StoreError) -> Self {
        ResultsError::Unavailable(e.to_string())
    }
}

/// `results.csv` as a table: the symbol and date columns, every metric as `f64` (NaN = empty),
/// and each screen's pass flags and ranks.
#[derive(Debug, Clone, Default)]
pub struct ResultsTable {
    /// Metric column names, in file order (everything except `symbol`, `date`, `pass_*`, `rank_*`).
    pub metrics: Vec<String>,
    pub symbols: Vec<String>,
    pub dates: Vec<String>,
    /// Row-major: `values[row * metrics.len() + column]`.
    pub values: Vec<f64>,
    /// Columns of text rather than numbers (e.g. `data_source`), told apart by the first row.
    pub text_columns: Vec<String>,
    /// Row-major: `texts[row * text_columns.len() + column]`.
    pub texts: Vec<String>,
    /// Screen name -> (pass flag per row, rank per row).
    pub screens: Vec<(String, Vec<bool>, Vec<Option<u32>>)>,
}

impl ResultsTable {
    pub fn parse(bytes: &[u8]) -> Result<ResultsTable, ResultsError> {
        let corrupt = |e: csv::Error| ResultsError::Corrupt(format!("results.csv: {e}"));
        let mut reader = csv::Reader::from_reader(bytes);
        let headers = reader.headers().map_err(corrupt)?.clone();
        let find = |name: &str| headers.iter().position(|h| h == name);
        let symbol_col = find("symbol")
            .ok_or_else(|| ResultsError::Corrupt("results.csv has no symbol column".into()))?;
        let date_col = find("date");
        let mut metric_cols = Vec::new();
        let mut table = ResultsTable::default();
        let mut screen_cols: Vec<(String, usize, Option<usize>)> = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            if let Some(screen) = h.strip_prefix("pass_") {
                screen_cols.push((screen.to_string(), i, find(&format!("rank_{screen}"))));
            } else if i != symbol_col && Some(i) != date_col && !h.starts_with("rank_") {
                metric_cols.push(i);
                table.metrics.push(h.to_string());
            }
        }
        table.screens = screen_cols
            .iter()
            .map(|(name, _, _)| (name.clone(), Vec::new(), Vec::new()))
            .collect();
        let mut record = csv::StringRecord::new();
        let mut text_cols: Vec<usize> = Vec::new();
        let mut first = true;
        while reader.read_record(&mut record).map_err(corrupt)? {
            if first {
                first = false;
                // A non-empty cell that is not a number makes the column a text column.
                let (texts, numbers): (Vec<usize>, Vec<usize>) =
                    metric_cols.iter().partition(|&&c| {
                        record
                            .get(c)
                            .is_some_and(|v| !v.is_empty() && v.parse::<f64>().is_err())
                    });
                table.text_columns = texts.iter().map(|&c| headers[c].to_string()).collect();
                table.metrics = numbers.iter().map(|&c| headers[c].to_string()).collect();
                text_cols = texts;
                metric_cols = numbers;
            }
            table
                .symbols
                .push(record.get(symbol_col).unwrap_or("").to_string());
            table.dates.push(
                date_col
                    .and_then(|c| record.get(c))
                    .unwrap_or("")
                    .to_string(),
            );
            for &c in &text_cols {
                table.texts.push(record.get(c).unwrap_or("").to_string());
            }
            for &c in &metric_cols {
                let value = record
                    .get(c)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                table.values.push(value);
            }
            for (k, (_, pass_col, rank_col)) in screen_cols.iter().enumerate() {
                let pass = record.get(*pass_col) == Some("true");
                let rank = rank_col
                    .and_then(|c| record.get(c))
                    .and_then(|v| v.parse::<u32>().ok());
                table.screens[k].1.push(pass);
                table.screens[k].2.push(rank);
            }
        }
        Ok(table)
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// The text columns of `row`, as (name, value).
    pub fn texts_of(&self, row: usize) -> impl Iterator<Item = (&str, &str)> {
        let n = self.text_columns.len();
        self.text_columns
            .iter()
            .zip(&self.texts[row * n..(row + 1) * n])
            .map(|(c, v)| (c.as_str(), v.as_str()))
    }

    pub fn metric_index(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m == name)
    }

    pub fn value(&self, row: usize, metric: usize) -> f64 {
        self.values[row * self.metrics.len() + metric]
    }

    /// The value of `name` in `row`, `None` when the column is absent or the cell empty.
    pub fn get(&self, row: usize, name: &str) -> Option<f64> {
        let v = self.value(row, self.metric_index(name)?);
        (!v.is_nan()).then_some(v)
    }

    /// The symbols passing `screen`, in rank order (by symbol where ranks are missing).
    pub fn passing(&self, screen: &str) -> Vec<usize> {
        let Some((_, pass, rank)) = self.screens.iter().find(|(n, _, _)| n == screen) else {
            return Vec::new();
        };
        let mut rows: Vec<usize> = (0..self.len()).filter(|&r| pass[r]).collect();
        rows.sort_by(|&a, &b| {
            rank[a]
                .unwrap_or(u32::MAX)
                .cmp(&rank[b].unwrap_or(u32::MAX))
                .then_with(|| self.symbols[a].cmp(&self.symbols[b]))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "symbol,date,close,drawdown_180d,data_source,pass_a,rank_a,pass_b,rank_b\n\
        AAA,2025-06-13,10,-0.5,synthetic,true,2,false,\n\
        BBB,2025-06-13,20,-0.7,synthetic,true,1,true,1\n\
        CCC,2025-06-13,30,,synthetic,false,,false,\n";

    #[test]
    fn results_csv_is_read_into_metrics_and_screens() {
        let table = ResultsTable::parse(CSV.as_bytes()).unwrap();
        assert_eq!(table.metrics, vec!["close", "drawdown_180d"]);
        assert_eq!(table.text_columns, vec!["data_source"]);
        assert_eq!(
            table.texts_of(2).collect::<Vec<_>>(),
            vec![("data_source", "synthetic")]
        );
        assert_eq!(table.symbols, vec!["AAA", "BBB", "CCC"]);
        assert_eq!(table.get(1, "close"), Some(20.0));
        assert_eq!(table.get(2, "drawdown_180d"), None);
        assert_eq!(table.passing("a"), vec![1, 0]);
        assert_eq!(table.passing("b"), vec![1]);
        assert!(table.passing("nope").is_empty());
    }

    #[test]
    fn a_csv_without_a_symbol_column_is_corrupt() {
        assert!(matches!(
            ResultsTable::parse(b"ticker,close\nA,1\n"),
            Err(ResultsError::Corrupt(_))
        ));
    }
}
