//! Bars into the engine: a polars frame (as `read_bars` returns it, any row order) or a
//! bars file. The per-symbol pass runs across threads, symbols handed out in small batches.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use screener_analytics::polars::prelude::DataFrame;
use screener_analytics::{Columns, ScreenSet, prepare_bars, read_bars};

use crate::engine::{Backtest, Phases, Progress};
use crate::error::BacktestError;
use crate::panel::SymbolData;
use crate::result::BacktestResult;
use crate::settings::Settings;

pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work(i)` for every `i < n` across threads, results in index order.
pub(crate) fn parallel_map<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    const BATCH: usize = 16;
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, T)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads().min(n.div_ceil(BATCH)).max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(BATCH, Ordering::Relaxed);
                        if start >= n {
                            break;
                        }
                        for i in start..(start + BATCH).min(n) {
                            out.push((i, work(i)));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker threads do not panic"))
            .collect()
    });
    let mut all: Vec<(usize, T)> = parts.iter_mut().flat_map(std::mem::take).collect();
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// Backtests `screens` over a bars frame: `symbol,date,open,high,low,close,volume`, any row
/// order. Settings and screens are checked before the bars are touched.
pub fn backtest_frame(
    bars: DataFrame,
    screens: &ScreenSet,
    settings: &Settings,
) -> Result<BacktestResult, BacktestError> {
    backtest_frame_named(bars, screens, settings, "bars", Phases::new(None))
}

pub(crate) fn backtest_frame_named(
    bars: DataFrame,
    screens: &ScreenSet,
    settings: &Settings,
    name: &str,
    mut phases: Phases<'_>,
) -> Result<BacktestResult, BacktestError> {
    Backtest::check(settings, screens)?;
    let prepared = prepare_bars(bars, name)?;
    phases.mark("check and sort bars");
    let cols = Columns::new(&prepared.df)?;
    let engine = Backtest::new(settings.clone(), screens, &[&cols.dates])?;
    let symbol_col = prepared
        .df
        .column("symbol")
        .and_then(|c| c.str())
        .map_err(|e| {
            BacktestError::Bars(screener_analytics::AnalyticsError::Polars {
                context: format!("{name}: column `symbol`"),
                source: e,
            })
        })?;
    let groups = &prepared.groups;
    let names: Vec<&str> = groups
        .iter()
        .map(|&(start, _)| symbol_col.get(start).unwrap_or_default())
        .collect();
    let extracted: Vec<(bool, Option<SymbolData>)> = parallel_map(groups.len(), |g| {
        let b = cols.symbol(groups[g]);
        (engine.counts(&b), engine.extract(names[g], &b))
    });
    let n_symbols = extracted.iter().filter(|(c, _)| *c).count();
    let mut symbols: Vec<SymbolData> = extracted.into_iter().filter_map(|(_, d)| d).collect();
    phases.mark("indicators");
    engine.finish_timed(&mut symbols, n_symbols, phases)
}

/// Backtests `screens` over a bars file (`.csv`, `.csv.gz` or `.parquet`, read as
/// `screener indicators` reads it; Parquet sorted by symbol is streamed by row group).
/// Settings and screens are checked before the file is read.
pub fn backtest_file(
    path: &Path,
    screens: &ScreenSet,
    settings: &Settings,
) -> Result<BacktestResult, BacktestError> {
    backtest_file_with_progress(path, screens, settings, None)
}

/// [`backtest_file`], calling `progress` as each phase ends.
pub fn backtest_file_with_progress(
    path: &Path,
    screens: &ScreenSet,
    settings: &Settings,
    progress: Option<Progress<'_>>,
) -> Result<BacktestResult, BacktestError> {
    Backtest::check(settings, screens)?;
    let lower = path.to_string_lossy().to_ascii_lowercase();
    if lower.ends_with(".parquet") || lower.ends_with(".pq") {
        return crate::parquet_input::backtest_parquet(path, screens, settings, progress);
    }
    let mut phases = Phases::new(progress);
    let bars = match read_csv_typed(path, &lower) {
        Some(bars) => bars,
        None => read_bars(path)?,
    };
    phases.mark("read bars");
    backtest_frame_named(bars, screens, settings, &path.display().to_string(), phases)
}

/// What [`tidy_source_bars`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TidiedBars {
    /// Bars on a date the symbol already had (the later one is kept: a correction).
    pub duplicates: usize,
    /// Bars with a price that is not finite or not positive, a high below the low, or an open
    /// or close outside the high-low range.
    pub invalid: usize,
}

/// Puts a source's bars in the shape the engine requires, bar by bar: date order, one bar
/// per date, no impossible prices. The daily run's validation rejects a whole symbol for one
/// bad bar; a backtest drops only the bar, because rejecting a symbol's whole history for a
/// print years ago would bias the universe (the engine treats a missing bar per spec S3).
pub fn tidy_source_bars(bars: &mut screener_core::bar::BarsBySymbol) -> TidiedBars {
    let mut tidied = TidiedBars::default();
    for series in bars.values_mut() {
        series.sort_by_key(|b| b.date);
        let before = series.len();
        // Keep the last bar of each date.
        series.reverse();
        series.dedup_by_key(|b| b.date);
        series.reverse();
        tidied.duplicates += before - series.len();
        let before = series.len();
        series.retain(|b| {
            let prices = [b.open, b.high, b.low, b.close];
            prices.iter().all(|p| p.is_finite() && *p > 0.0)
                && b.volume.is_finite()
                && b.low <= b.high
                && (b.low..=b.high).contains(&b.open)
                && (b.low..=b.high).contains(&b.close)
        });
        tidied.invalid += before - series.len();
    }
    bars.retain(|_, series| !series.is_empty());
    tidied
}

/// Backtests `screens` over bars a market data source answered (the `MarketData` port's
/// `daily_bars`: synthetic, CSV or Alpaca with its history in the store, tidied by
/// [`tidy_source_bars`]), so one work item of a backtest can run wherever the ports do, a
/// Lambda included. `name` names the source in errors.
pub fn backtest_bars(
    bars: &screener_core::bar::BarsBySymbol,
    screens: &ScreenSet,
    settings: &Settings,
    name: &str,
    progress: Option<Progress<'_>>,
) -> Result<BacktestResult, BacktestError> {
    Backtest::check(settings, screens)?;
    let mut phases = Phases::new(progress);
    let frame = bars_frame(bars, name)?;
    phases.mark("read bars");
    backtest_frame_named(frame, screens, settings, name, phases)
}

/// The bars as a `symbol,date,open,high,low,close,volume` frame, in symbol then date order.
fn bars_frame(
    bars: &screener_core::bar::BarsBySymbol,
    name: &str,
) -> Result<DataFrame, BacktestError> {
    use chrono::Datelike;
    use screener_analytics::polars::prelude::{Column, DataType, NamedFrom, Series};
    // Days since 1970-01-01, polars' Date representation.
    const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;
    let rows: usize = bars.values().map(Vec::len).sum();
    let mut symbol = Vec::with_capacity(rows);
    let mut date = Vec::with_capacity(rows);
    let mut prices: [Vec<f64>; 5] = std::array::from_fn(|_| Vec::with_capacity(rows));
    for (sym, series) in bars {
        for bar in series {
            symbol.push(sym.as_str());
            date.push(bar.date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE);
            for (column, value) in prices
                .iter_mut()
                .zip([bar.open, bar.high, bar.low, bar.close, bar.volume])
            {
                column.push(value);
            }
        }
    }
    let polars_error = |source| {
        BacktestError::Bars(screener_analytics::AnalyticsError::Polars {
            context: format!("{name}: bars into a frame"),
            source,
        })
    };
    let date = Series::new("date".into(), date)
        .cast(&DataType::Date)
        .map_err(polars_error)?;
    let mut columns = vec![Column::new("symbol".into(), symbol), Column::from(date)];
    for (column, values) in ["open", "high", "low", "close", "volume"]
        .into_iter()
        .zip(prices)
    {
        columns.push(Column::new(column.into(), values));
    }
    DataFrame::new(rows, columns).map_err(polars_error)
}

/// A `.csv` or `.csv.gz` bars file with `open high low close volume` parsed as numbers by
/// polars' CSV reader, in parallel, instead of read as text and converted afterwards (what
/// `read_bars` does, to name the row and column of a bad value). The same values: both
/// parsers round decimal text correctly, and an empty cell is null in both. Anything
/// unusual (a cell polars cannot parse, a missing column) answers `None`, and the caller
/// reads the file with `read_bars`, which refuses it naming the problem. Dates, symbols and
/// the optional columns are checked and converted by `prepare_bars` either way.
fn read_csv_typed(path: &Path, lower: &str) -> Option<DataFrame> {
    use screener_analytics::polars::prelude::*;
    const NUMBERS: [&str; 5] = ["open", "high", "low", "close", "volume"];
    let gz = lower.ends_with(".csv.gz");
    if !gz && !lower.ends_with(".csv") {
        return None;
    }
    let text = screener_analytics::read_csv_file(path).ok()?;
    let header = text.split(|&b| b == b'\n').next()?;
    let header = std::str::from_utf8(header).ok()?;
    let columns: Vec<&str> = header.trim_end_matches('\r').split(',').collect();
    if !NUMBERS.iter().all(|c| columns.contains(c)) {
        return None;
    }
    let numbers = Schema::from_iter(
        NUMBERS
            .iter()
            .map(|c| Field::new((*c).into(), DataType::Float64)),
    );
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_schema_overwrite(Some(std::sync::Arc::new(numbers)))
        .into_reader_with_file_handle(std::io::Cursor::new(text))
        .finish()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use screener_core::Symbol;
    use screener_core::bar::{Bar, BarsBySymbol};

    fn bar(date: &str, open: f64, high: f64, low: f64, close: f64) -> Bar {
        Bar {
            date: date.parse().unwrap(),
            open,
            high,
            low,
            close,
            volume: 1000.0,
            vwap: None,
            trade_count: None,
        }
    }

    #[test]
    fn tidying_sorts_keeps_the_last_bar_of_a_date_and_drops_impossible_bars_only() {
        let mut bars = BarsBySymbol::new();
        bars.insert(
            Symbol::parse("AAA").unwrap(),
            vec![
                bar("2024-01-03", 10.0, 11.0, 9.0, 10.5),
                bar("2024-01-02", 10.0, 11.0, 9.0, 10.0),
                bar("2024-01-03", 10.0, 11.0, 9.0, 10.7),
                bar("2024-01-04", 10.0, 9.0, 11.0, 10.0),
                bar("2024-01-05", 10.0, 11.0, 9.0, 0.0),
                bar("2024-01-08", 10.0, 11.0, 9.0, f64::NAN),
                bar("2024-01-09", 12.0, 11.0, 9.0, 10.0),
                bar("2024-01-10", 10.0, 11.0, 9.0, 10.2),
            ],
        );
        bars.insert(
            Symbol::parse("BBB").unwrap(),
            vec![bar("2024-01-02", -1.0, 11.0, 9.0, 10.0)],
        );
        let tidied = tidy_source_bars(&mut bars);
        assert_eq!(
            tidied,
            TidiedBars {
                duplicates: 1,
                invalid: 5
            }
        );
        let kept: Vec<(String, f64)> = bars[&Symbol::parse("AAA").unwrap()]
            .iter()
            .map(|b| (b.date.to_string(), b.close))
            .collect();
        assert_eq!(
            kept,
            [
                ("2024-01-02".to_string(), 10.0),
                ("2024-01-03".to_string(), 10.7),
                ("2024-01-10".to_string(), 10.2)
            ]
        );
        assert!(!bars.contains_key(&Symbol::parse("BBB").unwrap()));
    }
}
