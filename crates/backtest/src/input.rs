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
    let raw = std::fs::read(path).ok()?;
    let text = if gz {
        let mut text = Vec::with_capacity(raw.len() * 4);
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut text).ok()?;
        text
    } else {
        raw
    };
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
