//! A Parquet bars file streamed into the engine row group by row group, so memory stays
//! about a few row groups plus what the engine keeps per symbol, whatever the file's size.
//!
//! Two passes: the `date` column alone (the session calendar must be known before any
//! symbol can be reduced), then every row group in file order, decoded by a reader thread
//! one row group ahead while the symbols completed so far are reduced across threads. A
//! symbol may run on from one row group into the next (it is carried over). A file that is
//! not sorted by symbol (a symbol's rows in two separate places), or whose dates are text,
//! is read whole and sorted instead.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use screener_analytics::polars::prelude::*;
use screener_analytics::{
    AnalyticsError, BAR_COLUMNS, CarriedBars, Columns, ScreenSet, SymbolBars, prepare_bars,
};

use crate::engine::{Backtest, Phases, Progress};
use crate::error::BacktestError;
use crate::input::{backtest_frame_named, parallel_map};
use crate::panel::SymbolData;
use crate::result::BacktestResult;
use crate::settings::Settings;

fn polars_error(context: String) -> impl FnOnce(PolarsError) -> BacktestError {
    move |source| BacktestError::Bars(AnalyticsError::Polars { context, source })
}

fn open(path: &Path) -> Result<File, BacktestError> {
    File::open(path).map_err(|source| {
        BacktestError::Bars(AnalyticsError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Every bar's date (days since 1970-01-01), or `None` if the column is not a date or
/// timestamp (text dates: the caller falls back to the whole-frame path).
fn read_dates(path: &Path, name: &str) -> Result<Option<Vec<i32>>, BacktestError> {
    let df = ParquetReader::new(open(path)?)
        .with_columns(Some(vec!["date".to_string()]))
        .finish()
        .map_err(polars_error(format!("{name}: cannot read Parquet")))?;
    let col = df.column("date").map_err(polars_error(name.to_string()))?;
    let col = match col.dtype() {
        DataType::Date => col.clone(),
        DataType::Datetime(_, _) => col
            .cast(&DataType::Date)
            .map_err(polars_error(format!("{name}: column `date`")))?,
        _ => return Ok(None),
    };
    let ca = col.date().map_err(polars_error(name.to_string()))?;
    // Null dates are refused when their row group is checked; they add no session.
    Ok(Some(ca.phys.iter().flatten().collect()))
}

/// What the per-symbol pass collected.
#[derive(Default)]
struct Collected {
    symbols: Vec<SymbolData>,
    n_symbols: usize,
}

impl Collected {
    fn add(&mut self, engine: &Backtest, name: &str, b: &SymbolBars<'_>) {
        self.n_symbols += usize::from(engine.counts(b));
        if let Some(d) = engine.extract(name, b) {
            self.symbols.push(d);
        }
    }
}

/// Backtests over a Parquet bars file, streaming it (see the module's documentation).
pub fn backtest_parquet(
    path: &Path,
    screens: &ScreenSet,
    settings: &Settings,
    progress: Option<Progress<'_>>,
) -> Result<BacktestResult, BacktestError> {
    Backtest::check(settings, screens)?;
    let name = path.display().to_string();
    let mut phases = Phases::new(progress);
    let mut reader = ParquetReader::new(open(path)?);
    let metadata = reader
        .get_metadata()
        .map_err(polars_error(format!("{name}: cannot read Parquet")))?
        .clone();
    let schema = reader
        .schema()
        .map_err(polars_error(format!("{name}: cannot read Parquet")))?;
    let present: Vec<String> = schema.iter_names().map(|c| c.to_string()).collect();
    for required in BAR_COLUMNS {
        if !present.iter().any(|c| c == required) {
            return Err(BacktestError::MissingColumn {
                input: name.clone(),
                column: required.to_string(),
                present: present.join(", "),
            });
        }
    }
    let Some(dates) = read_dates(path, &name)? else {
        return whole(path, screens, settings, &name, phases);
    };
    let engine = Backtest::new(settings.clone(), screens, &[&dates])?;
    drop(dates);
    phases.mark("read dates, calendar");

    let wanted: Vec<String> = BAR_COLUMNS.iter().map(|c| c.to_string()).collect();
    let groups: Vec<(usize, usize)> = metadata
        .row_groups
        .iter()
        .scan(0, |offset, rg| {
            let start = *offset;
            *offset += rg.num_rows();
            Some((start, rg.num_rows()))
        })
        .collect();
    let mut decode = Duration::ZERO;
    let mut reduce = Duration::ZERO;
    let streamed = std::thread::scope(|scope| -> Result<Option<Collected>, BacktestError> {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<(DataFrame, Duration), BacktestError>>(1);
        let (path_ref, metadata, wanted, groups, name_ref) =
            (path, &metadata, &wanted, &groups, name.as_str());
        scope.spawn(move || {
            for &(offset, rows) in groups.iter() {
                let t = Instant::now();
                let read = || -> Result<DataFrame, BacktestError> {
                    let mut reader = ParquetReader::new(open(path_ref)?);
                    reader.set_metadata(metadata.clone());
                    reader
                        .with_columns(Some(wanted.clone()))
                        .with_slice(Some((offset, rows)))
                        .finish()
                        .map_err(polars_error(format!("{name_ref}: cannot read Parquet")))
                };
                let result = read().map(|df| (df, t.elapsed()));
                let failed = result.is_err();
                // A closed channel means the consumer stopped (fallback or error).
                if tx.send(result).is_err() || failed {
                    break;
                }
            }
        });
        let mut collected = Collected::default();
        let mut carry: Option<CarriedBars> = None;
        for (k, message) in rx.iter().enumerate() {
            let (df, took) = message?;
            decode += took;
            let t = Instant::now();
            if df.height() == 0 {
                continue;
            }
            let part = format!("{name} (row group {})", k + 1);
            let prepared = prepare_bars(df, &part)?;
            let cols = Columns::new(&prepared.df)?;
            let symbols = prepared
                .df
                .column("symbol")
                .and_then(|c| c.str())
                .map_err(polars_error(part.clone()))?;
            let mut groups: &[(usize, usize)] = &prepared.groups;
            let first = symbols.get(groups[0].0).unwrap_or_default();
            if let Some(mut c) = carry.take() {
                match c.symbol.as_str().cmp(first) {
                    std::cmp::Ordering::Greater => return Ok(None),
                    std::cmp::Ordering::Less => collected.add(&engine, &c.symbol, &c.bars()),
                    std::cmp::Ordering::Equal => {
                        let (last, next) = (*c.dates.last().expect("non-empty"), cols.dates[0]);
                        if last >= next {
                            // Not in date order across row groups (or a duplicate bar):
                            // the whole-frame path sorts, or names the duplicate.
                            return Ok(None);
                        }
                        c.extend(&cols, groups[0]);
                        groups = &groups[1..];
                        if groups.is_empty() {
                            carry = Some(c);
                            reduce += t.elapsed();
                            continue;
                        }
                        collected.add(&engine, &c.symbol, &c.bars());
                    }
                }
            }
            // The last symbol may go on in the next row group: carry it.
            let (&last, complete) = groups.split_last().expect("a non-empty frame has a group");
            let names: Vec<&str> = complete
                .iter()
                .map(|&(start, _)| symbols.get(start).unwrap_or_default())
                .collect();
            let reduced: Vec<(bool, Option<SymbolData>)> = parallel_map(complete.len(), |g| {
                let b = cols.symbol(complete[g]);
                (engine.counts(&b), engine.extract(names[g], &b))
            });
            for (counts, data) in reduced {
                collected.n_symbols += usize::from(counts);
                collected.symbols.extend(data);
            }
            carry = Some(CarriedBars::new(
                symbols.get(last.0).unwrap_or_default(),
                &cols,
                last,
            ));
            reduce += t.elapsed();
        }
        if let Some(c) = carry {
            collected.add(&engine, &c.symbol, &c.bars());
        }
        Ok(Some(collected))
    })?;
    let Some(mut collected) = streamed else {
        phases.mark("(unsorted Parquet: streaming abandoned)");
        return whole(path, screens, settings, &name, phases);
    };
    phases.mark("read bars and indicators (streamed)");
    // Where the streamed phase's time went (the two overlap).
    phases.record("(of which Parquet decode, reader thread)", decode);
    phases.record("(of which check, sort and indicators)", reduce);
    let n_symbols = collected.n_symbols;
    engine.finish_timed(&mut collected.symbols, n_symbols, phases)
}

/// The whole-frame path: read everything, sort, backtest.
fn whole(
    path: &Path,
    screens: &ScreenSet,
    settings: &Settings,
    name: &str,
    mut phases: Phases<'_>,
) -> Result<BacktestResult, BacktestError> {
    let bars = screener_analytics::read_bars(path)?;
    phases.mark("read bars (whole file)");
    backtest_frame_named(bars, screens, settings, name, phases)
}
