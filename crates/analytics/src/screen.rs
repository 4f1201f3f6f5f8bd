//! `screen_latest`: each symbol's metrics on its latest bar, screen membership and ranks.
//!
//! Only the latest bar's metrics are needed, so this does not build full indicator
//! series: the recursive indicators run over the history without storing it and the
//! window metrics are computed once (see [`crate::kernels::compute_last`]). The values
//! are bit-identical to the last row of `compute_indicators`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::AnalyticsError;
use crate::indicators::{
    CarriedBars, Columns, Order, metric_column, nullable_f64, prepare, scan_order, split_groups,
    threads,
};
use crate::io::{
    BAR_COLUMNS, DATE, Origin, SYMBOL, date_from_days, days_since_epoch, extension, normalize_bars,
    read_bars_csv_named, read_bars_parquet_from, read_csv_file,
};
use crate::kernels::{self, INDICATOR_NAMES, N_METRICS, SymbolBars};
use crate::screens::{BAR_METRICS, Operand, Screen, ScreenSet};

/// One screen's result.
#[derive(Clone, Debug)]
pub struct ScreenSummary {
    pub name: String,
    pub description: String,
    /// How many symbols pass.
    pub count: usize,
    /// The best `limit` passing symbols in rank order: `rank`, then the result columns
    /// without any `pass_`/`rank_` columns.
    pub top: DataFrame,
}

/// The outcome of screening the latest bars.
#[derive(Clone, Debug)]
pub struct ScreenOutcome {
    /// One row per symbol, sorted by symbol: `symbol`, `date`, `open`, `high`, `low`,
    /// `close`, `volume`, every indicator, then per screen `pass_<screen>` (bool) and
    /// `rank_<screen>` (UInt32, 1 = best, null when not passing).
    pub results: DataFrame,
    pub screens: Vec<ScreenSummary>,
    /// Wall time of each phase, in order (for logs and the benchmark).
    pub phases: Vec<(&'static str, Duration)>,
}

/// Latest-bar values of the screened symbols, in symbol order, column-major; NaN = null.
struct Latest {
    symbols: Vec<String>,
    dates: Vec<i32>,
    bars: [Vec<f64>; 5],
    metrics: Vec<Vec<f64>>,
}

impl Latest {
    fn new() -> Self {
        Latest {
            symbols: Vec::new(),
            dates: Vec::new(),
            bars: Default::default(),
            metrics: (0..N_METRICS).map(|_| Vec::new()).collect(),
        }
    }

    fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Records a symbol whose latest bar is the last of `b`.
    fn push(&mut self, symbol: &str, b: &SymbolBars<'_>, metrics: &[f64; N_METRICS]) {
        let i = b.len() - 1;
        self.symbols.push(symbol.to_string());
        self.dates.push(b.dates[i]);
        let values = [b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i]];
        for (col, v) in self.bars.iter_mut().zip(values) {
            col.push(if v.is_finite() { v } else { f64::NAN });
        }
        for (col, &v) in self.metrics.iter_mut().zip(metrics) {
            col.push(v);
        }
    }

    /// The same rows in symbol order (a no-op when they already are).
    fn sorted_by_symbol(self) -> Latest {
        if self.symbols.windows(2).all(|w| w[0] <= w[1]) {
            return self;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| self.symbols[a].cmp(&self.symbols[b]));
        let pick = |values: &[f64]| order.iter().map(|&i| values[i]).collect::<Vec<f64>>();
        Latest {
            symbols: order.iter().map(|&i| self.symbols[i].clone()).collect(),
            dates: order.iter().map(|&i| self.dates[i]).collect(),
            bars: std::array::from_fn(|k| pick(&self.bars[k])),
            metrics: self.metrics.iter().map(|m| pick(m)).collect(),
        }
    }

    fn metric(&self, name: &str) -> &[f64] {
        if let Some(k) = BAR_METRICS.iter().position(|m| *m == name) {
            return &self.bars[k];
        }
        let m = INDICATOR_NAMES
            .iter()
            .position(|m| *m == name)
            .expect("screen metrics are checked when parsed");
        &self.metrics[m]
    }
}

/// Cuts a symbol's rows `[start, end)` at the last date on or before `cutoff`.
fn cut(dates: &[i32], (start, end): (usize, usize), cutoff: Option<i32>) -> Option<(usize, usize)> {
    let end = match cutoff {
        Some(c) => start + dates[start..end].partition_point(|&d| d <= c),
        None => end,
    };
    (end > start).then_some((start, end))
}

/// Runs the last-bar kernels over whole symbol groups of one frame, across threads, and
/// appends the results in group order.
fn latest_of_groups(
    cols: &Columns<'_>,
    symbols: &StringChunked,
    groups: &[(usize, usize)],
    cutoff: Option<i32>,
    latest: &mut Latest,
) {
    let ends: Vec<(usize, usize)> = groups
        .iter()
        .filter_map(|&g| cut(&cols.dates, g, cutoff))
        .collect();
    let parts = split_groups(&ends, threads());
    let per_part: Vec<Vec<[f64; N_METRICS]>> = if parts.len() <= 1 {
        vec![
            ends.iter()
                .map(|&g| kernels::compute_last(&cols.symbol(g)))
                .collect(),
        ]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|&g| kernels::compute_last(&cols.symbol(g)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("kernel threads do not panic"))
                .collect()
        })
    };
    for (&g, metrics) in ends.iter().zip(per_part.iter().flatten()) {
        let symbol = symbols.get(g.0).unwrap_or_default();
        latest.push(symbol, &cols.symbol(g), metrics);
    }
}

/// Metrics on each symbol's latest bar on or before `as_of` (all bars when `None`),
/// screened by `screens`. Symbols with no bar on or before `as_of` are left out.
pub fn screen_latest(
    bars: DataFrame,
    screens: &ScreenSet,
    as_of: Option<NaiveDate>,
) -> Result<ScreenOutcome, AnalyticsError> {
    screen_latest_named(bars, screens, as_of, "bars")
}

pub(crate) fn screen_latest_named(
    bars: DataFrame,
    screens: &ScreenSet,
    as_of: Option<NaiveDate>,
    name: &str,
) -> Result<ScreenOutcome, AnalyticsError> {
    let mut phases = Phases::new();
    let prepared = prepare(bars, Origin::frame(name))?;
    phases.mark("check and sort bars");
    let df = &prepared.df;
    let cols = Columns::new(df)?;
    let symbols = df
        .column(SYMBOL)
        .and_then(|c| c.str())
        .map_err(AnalyticsError::polars(name.to_string()))?;
    let mut latest = Latest::new();
    latest_of_groups(
        &cols,
        symbols,
        &prepared.groups,
        as_of.map(days_since_epoch),
        &mut latest,
    );
    phases.mark("kernels");
    outcome(latest, screens, phases)
}

/// [`screen_latest`] over bars that arrive in parts, each holding every bar of its symbols
/// (the workflow's batches): each part is checked, sorted and reduced to its symbols'
/// latest-bar metrics as it is added, so memory is one part plus the results, never the
/// whole market. Screens and ranks run once, over every symbol, in [`finish`](Self::finish).
pub struct PartsScreener<'a> {
    screens: &'a ScreenSet,
    cutoff: Option<i32>,
    latest: Latest,
    /// The part each symbol came in, to refuse a symbol split across parts.
    part_of: HashMap<String, usize>,
    part_names: Vec<String>,
    phases: Phases,
}

impl<'a> PartsScreener<'a> {
    pub fn new(screens: &'a ScreenSet, as_of: Option<NaiveDate>) -> Self {
        PartsScreener {
            screens,
            cutoff: as_of.map(days_since_epoch),
            latest: Latest::new(),
            part_of: HashMap::new(),
            part_names: Vec::new(),
            phases: Phases::new(),
        }
    }

    /// Adds one part; `name` (a file or store key) names it in errors. A symbol already seen
    /// in an earlier part is an error: its metrics would be computed on half its history.
    pub fn add(&mut self, bars: DataFrame, name: &str) -> Result<(), AnalyticsError> {
        let prepared = prepare(bars, Origin::frame(name))?;
        let df = &prepared.df;
        let cols = Columns::new(df)?;
        let symbols = df
            .column(SYMBOL)
            .and_then(|c| c.str())
            .map_err(AnalyticsError::polars(name.to_string()))?;
        let part = self.part_names.len();
        self.part_names.push(name.to_string());
        for &(start, _) in &prepared.groups {
            let symbol = symbols.get(start).unwrap_or_default();
            if let Some(&earlier) = self.part_of.get(symbol) {
                return Err(AnalyticsError::SymbolInTwoParts {
                    symbol: symbol.to_string(),
                    first: self.part_names[earlier].clone(),
                    second: name.to_string(),
                });
            }
            self.part_of.insert(symbol.to_string(), part);
        }
        latest_of_groups(
            &cols,
            symbols,
            &prepared.groups,
            self.cutoff,
            &mut self.latest,
        );
        Ok(())
    }

    /// Symbols screened so far.
    pub fn symbols(&self) -> usize {
        self.latest.len()
    }

    /// Screens and ranks every symbol added; results are sorted by symbol whatever order
    /// the parts came in.
    pub fn finish(mut self) -> Result<ScreenOutcome, AnalyticsError> {
        self.phases.mark("parts: read and kernels");
        let latest = self.latest.sorted_by_symbol();
        outcome(latest, self.screens, self.phases)
    }
}

/// Like [`screen_latest`] on the bars in a `.csv`, `.csv.gz` or `.parquet` file. Parquet sorted by
/// (symbol, date) is read one row group at a time, so memory stays about one row group
/// plus the results whatever the file's size; other Parquet is read whole and sorted.
pub fn screen_latest_file(
    path: &Path,
    screens: &ScreenSet,
    as_of: Option<NaiveDate>,
) -> Result<ScreenOutcome, AnalyticsError> {
    let name = path.display().to_string();
    let io_err = |source| AnalyticsError::Io {
        path: path.to_path_buf(),
        source,
    };
    match extension(path).as_deref() {
        Some("parquet") | Some("pq") => stream_parquet(
            || std::fs::File::open(path).map_err(io_err),
            &name,
            screens,
            as_of,
        ),
        Some("csv" | "csv.gz") => {
            let bars = read_bars_csv_named(&read_csv_file(path)?, &name)?;
            screen_latest_named(bars, screens, as_of, &name)
        }
        _ => Err(AnalyticsError::UnsupportedFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Like [`screen_latest_file`] on Parquet bytes.
pub fn screen_latest_parquet(
    bytes: &[u8],
    screens: &ScreenSet,
    as_of: Option<NaiveDate>,
) -> Result<ScreenOutcome, AnalyticsError> {
    stream_parquet(
        || Ok(std::io::Cursor::new(bytes)),
        "Parquet input",
        screens,
        as_of,
    )
}

/// The carried symbol's latest metrics (as of `cutoff`), into `latest`.
fn finish_carried(carried: &CarriedBars, cutoff: Option<i32>, latest: &mut Latest) {
    if let Some((_, end)) = cut(&carried.dates, (0, carried.dates.len()), cutoff) {
        let b = carried.bars().prefix(end);
        latest.push(&carried.symbol, &b, &kernels::compute_last(&b));
    }
}

/// Streams a Parquet file row group by row group; falls back to reading it whole and
/// sorting when it is not sorted by (symbol, date).
///
/// Reader threads decode and normalise the next row groups while this thread runs the
/// kernels on the current one; each reader holds at most two row groups.
fn stream_parquet<R, F>(
    open: F,
    name: &str,
    screens: &ScreenSet,
    as_of: Option<NaiveDate>,
) -> Result<ScreenOutcome, AnalyticsError>
where
    R: polars::io::mmap::MmapBytesReader,
    F: Fn() -> Result<R, AnalyticsError> + Sync,
{
    let mut phases = Phases::new();
    let cannot = || format!("{name}: cannot read Parquet");
    let mut reader = ParquetReader::new(open()?);
    let metadata = reader
        .get_metadata()
        .map_err(AnalyticsError::polars(cannot()))?
        .clone();
    let schema = reader.schema().map_err(AnalyticsError::polars(cannot()))?;
    let present: Vec<String> = schema.iter_names().map(|c| c.to_string()).collect();
    for required in BAR_COLUMNS {
        if !present.iter().any(|c| c == required) {
            return Err(AnalyticsError::MissingColumn {
                input: name.to_string(),
                column: required.to_string(),
                present: present.join(", "),
            });
        }
    }
    let wanted: Vec<String> = BAR_COLUMNS.iter().map(|c| c.to_string()).collect();
    let cutoff = as_of.map(days_since_epoch);

    // Row group k is decoded by reader k % readers, each one row group ahead at most;
    // this thread takes them back in file order.
    let offsets: Vec<usize> = metadata
        .row_groups
        .iter()
        .scan(0, |offset, rg| {
            let start = *offset;
            *offset += rg.num_rows();
            Some(start)
        })
        .collect();
    let streamed = std::thread::scope(|scope| -> Result<Option<Latest>, AnalyticsError> {
        let row_groups = metadata.row_groups.len();
        let readers = threads().clamp(1, row_groups.max(1));
        let (open, metadata, wanted, offsets) = (&open, &metadata, &wanted, &offsets);
        let mut receivers = Vec::with_capacity(readers);
        for first in 0..readers {
            let (tx, rx) =
                std::sync::mpsc::sync_channel::<Result<(usize, DataFrame), AnalyticsError>>(1);
            receivers.push(rx);
            scope.spawn(move || {
                for k in (first..row_groups).step_by(readers) {
                    let (offset, rows) = (offsets[k], metadata.row_groups[k].num_rows());
                    let read = || -> Result<DataFrame, AnalyticsError> {
                        let mut reader = ParquetReader::new(open()?);
                        reader.set_metadata(metadata.clone());
                        let df = reader
                            .with_columns(Some(wanted.clone()))
                            .with_slice(Some((offset, rows)))
                            .finish()
                            .map_err(AnalyticsError::polars(cannot()))?;
                        let origin = Origin {
                            name,
                            csv: false,
                            row_offset: offset,
                        };
                        normalize_bars(df, origin)
                    };
                    let result = read().map(|df| (offset, df));
                    let failed = result.is_err();
                    // A closed channel means the consumer stopped (fallback or error).
                    if tx.send(result).is_err() || failed {
                        break;
                    }
                }
            });
        }
        let in_order = (0..row_groups).map_while(|k| receivers[k % readers].recv().ok());

        let mut latest = Latest::new();
        let mut carry: Option<CarriedBars> = None;
        for message in in_order {
            let (offset, df) = message?;
            if df.height() == 0 {
                continue;
            }
            let origin = Origin {
                name,
                csv: false,
                row_offset: offset,
            };
            let Order::Sorted(mut groups) = scan_order(&df, origin)? else {
                return Ok(None);
            };
            let cols = Columns::new(&df)?;
            let symbols = df
                .column(SYMBOL)
                .and_then(|c| c.str())
                .map_err(AnalyticsError::polars(name.to_string()))?;
            let first_symbol = symbols.get(0).unwrap_or_default();
            if let Some(mut c) = carry.take() {
                match c.symbol.as_str().cmp(first_symbol) {
                    std::cmp::Ordering::Greater => return Ok(None),
                    std::cmp::Ordering::Less => finish_carried(&c, cutoff, &mut latest),
                    std::cmp::Ordering::Equal => {
                        let (last, first) = (*c.dates.last().expect("non-empty"), cols.dates[0]);
                        if last == first {
                            return Err(AnalyticsError::DuplicateBar {
                                input: name.to_string(),
                                symbol: c.symbol,
                                date: date_from_days(first).to_string(),
                            });
                        }
                        if last > first {
                            return Ok(None);
                        }
                        c.extend(&cols, groups[0]);
                        groups.remove(0);
                        if groups.is_empty() {
                            carry = Some(c);
                            continue;
                        }
                        finish_carried(&c, cutoff, &mut latest);
                    }
                }
            }
            // The last symbol may go on in the next row group: carry it.
            let last = groups.pop().expect("a non-empty frame has a group");
            latest_of_groups(&cols, symbols, &groups, cutoff, &mut latest);
            carry = Some(CarriedBars::new(
                symbols.get(last.0).unwrap_or_default(),
                &cols,
                last,
            ));
        }
        if let Some(c) = carry {
            finish_carried(&c, cutoff, &mut latest);
        }
        Ok(Some(latest))
    })?;
    let Some(latest) = streamed else {
        return fallback(open, name, screens, as_of);
    };
    phases.mark("read Parquet and kernels");
    outcome(latest, screens, phases)
}

/// Reads the whole file, sorts it and screens it (Parquet not sorted by symbol and date).
fn fallback<R, F>(
    open: F,
    name: &str,
    screens: &ScreenSet,
    as_of: Option<NaiveDate>,
) -> Result<ScreenOutcome, AnalyticsError>
where
    R: polars::io::mmap::MmapBytesReader,
    F: Fn() -> Result<R, AnalyticsError>,
{
    let bars = read_bars_parquet_from(open()?, name)?;
    screen_latest_named(bars, screens, as_of, name)
}

/// Builds the results frame and the screen summaries from the latest-bar values.
fn outcome(
    latest: Latest,
    screens: &ScreenSet,
    mut phases: Phases,
) -> Result<ScreenOutcome, AnalyticsError> {
    let n = latest.len();
    let mut columns: Vec<Column> = Vec::with_capacity(2 + BAR_METRICS.len() + N_METRICS);
    columns.push(
        StringChunked::from_iter_values(SYMBOL.into(), latest.symbols.iter().map(String::as_str))
            .into_column(),
    );
    columns.push(
        Int32Chunked::from_vec(DATE.into(), latest.dates.clone())
            .into_date()
            .into_column(),
    );
    for (k, name) in BAR_METRICS.iter().enumerate() {
        columns.push(nullable_f64(name, latest.bars[k].clone()));
    }
    for (m, values) in latest.metrics.iter().enumerate() {
        columns.push(metric_column(m, values.clone()));
    }
    let base = DataFrame::new(n, columns).map_err(AnalyticsError::polars("building results"))?;
    let symbols = &latest.symbols;

    phases.mark("latest-bar frame");
    let mut results = base.clone();
    let mut summaries = Vec::with_capacity(screens.screens.len());
    for screen in &screens.screens {
        let pass = evaluate(screen, &latest);
        let order = rank_order(screen, &latest, &pass, symbols);
        let mut rank: Vec<Option<u32>> = vec![None; n];
        for (k, &i) in order.iter().enumerate() {
            rank[i] = Some(k as u32 + 1);
        }
        results
            .with_column(
                BooleanChunked::from_slice(format!("pass_{}", screen.name).into(), &pass)
                    .into_column(),
            )
            .and_then(|r| {
                r.with_column(
                    UInt32Chunked::from_iter_options(
                        format!("rank_{}", screen.name).into(),
                        rank.into_iter(),
                    )
                    .into_column(),
                )
            })
            .map_err(AnalyticsError::polars("building results"))?;

        let top_rows: Vec<IdxSize> = order
            .iter()
            .take(screen.limit)
            .map(|&i| i as IdxSize)
            .collect();
        let top_len = top_rows.len();
        let mut top = base
            .take(&IdxCa::from_vec("idx".into(), top_rows))
            .map_err(AnalyticsError::polars("building screen top"))?;
        top.insert_column(
            0,
            UInt32Chunked::from_vec("rank".into(), (1..=top_len as u32).collect()).into_column(),
        )
        .map_err(AnalyticsError::polars("building screen top"))?;
        summaries.push(ScreenSummary {
            name: screen.name.clone(),
            description: screen.description.clone(),
            count: order.len(),
            top,
        });
    }
    phases.mark("screens and ranks");
    Ok(ScreenOutcome {
        results,
        screens: summaries,
        phases: phases.done,
    })
}

fn evaluate(screen: &Screen, latest: &Latest) -> Vec<bool> {
    let n = latest.len();
    let mut pass = vec![true; n];
    for c in &screen.conditions {
        let lhs = latest.metric(&c.metric);
        match &c.rhs {
            Operand::Value(v) => {
                for (p, &a) in pass.iter_mut().zip(lhs) {
                    *p = *p && c.op.holds(a, *v);
                }
            }
            Operand::Metric(m) => {
                let rhs = latest.metric(m);
                for ((p, &a), &b) in pass.iter_mut().zip(lhs).zip(rhs) {
                    *p = *p && c.op.holds(a, b);
                }
            }
        }
    }
    pass
}

/// Passing rows, best first: by the sort metric (nulls last), ties by symbol.
fn rank_order(screen: &Screen, latest: &Latest, pass: &[bool], symbols: &[String]) -> Vec<usize> {
    let key = latest.metric(&screen.sort.metric);
    let mut order: Vec<usize> = (0..pass.len()).filter(|&i| pass[i]).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (key[a], key[b]);
        let by_value = match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) if screen.sort.descending => y.total_cmp(&x),
            (false, false) => x.total_cmp(&y),
        };
        by_value.then_with(|| symbols[a].cmp(&symbols[b]))
    });
    order
}

/// Phase timer.
struct Phases {
    last: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn new() -> Self {
        Phases {
            last: Instant::now(),
            done: Vec::new(),
        }
    }

    fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done.push((name, now - self.last));
        self.last = now;
    }
}
