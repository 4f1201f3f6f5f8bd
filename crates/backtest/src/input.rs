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
    let bars = read_bars(path)?;
    phases.mark("read bars");
    backtest_frame_named(bars, screens, settings, &path.display().to_string(), phases)
}
