//! `compute_indicators`: every indicator for every (symbol, date).
//!
//! Polars reads, checks and sorts the bars (lazily, by symbol then date); the arithmetic
//! runs in [`crate::kernels`] over each symbol's contiguous slice, the symbols split
//! across threads.

use std::borrow::Cow;

use polars::prelude::*;

use crate::error::AnalyticsError;
use crate::io::{DATE, Origin, SYMBOL, date_from_days, normalize_bars};
use crate::kernels::{self, DAYS_SINCE_PEAK_180D, INDICATOR_NAMES, N_METRICS, SymbolBars};

/// A bars frame sorted by (symbol, date) with each symbol's row range.
pub struct Prepared {
    pub df: DataFrame,
    /// `(first row, end row)` of each symbol, in symbol order.
    pub groups: Vec<(usize, usize)>,
}

pub(crate) enum Order {
    Sorted(Vec<(usize, usize)>),
    Unsorted,
}

/// Finds the symbol groups if the frame is sorted by (symbol, date); rejects duplicates.
pub(crate) fn scan_order(df: &DataFrame, origin: Origin<'_>) -> Result<Order, AnalyticsError> {
    let symbols = df
        .column(SYMBOL)
        .and_then(|c| c.str())
        .map_err(AnalyticsError::polars(origin.name))?;
    let n = df.height();
    if n == 0 {
        return Ok(Order::Sorted(Vec::new()));
    }
    let dates = date_values(df)?;
    let symbols = symbols.rechunk();
    let arr = symbols.downcast_as_array();
    // Equal views are equal strings (inline, or the same bytes of the same buffer); the
    // strings are compared only where the views differ.
    let views = arr.views();
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..n {
        let same = views[i] == views[i - 1]
            || match arr.value(i).cmp(arr.value(i - 1)) {
                std::cmp::Ordering::Less => return Ok(Order::Unsorted),
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Greater => false,
            };
        if same {
            let (a, b) = (dates[i - 1], dates[i]);
            if b == a {
                return Err(AnalyticsError::DuplicateBar {
                    input: origin.name.to_string(),
                    symbol: arr.value(i).to_string(),
                    date: date_from_days(b).to_string(),
                });
            }
            if b < a {
                return Ok(Order::Unsorted);
            }
        } else {
            groups.push((start, i));
            start = i;
        }
    }
    groups.push((start, n));
    Ok(Order::Sorted(groups))
}

/// Normalises a bars frame and sorts it by (symbol, date) unless it already is.
pub(crate) fn prepare(bars: DataFrame, origin: Origin<'_>) -> Result<Prepared, AnalyticsError> {
    let df = normalize_bars(bars, origin)?;
    if let Order::Sorted(groups) = scan_order(&df, origin)? {
        return Ok(Prepared { df, groups });
    }
    let df = df
        .lazy()
        .sort(
            [SYMBOL, DATE],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .map_err(AnalyticsError::polars(format!(
            "{}: sorting bars",
            origin.name
        )))?;
    match scan_order(&df, origin)? {
        Order::Sorted(groups) => Ok(Prepared { df, groups }),
        Order::Unsorted => unreachable!("bars are sorted by (symbol, date)"),
    }
}

/// Checks, types and sorts a bars frame by (symbol, date) (unless it already is), for callers
/// that run the kernels over each symbol's rows themselves (the backtest); `name` names the
/// input in errors.
pub fn prepare_bars(bars: DataFrame, name: &str) -> Result<Prepared, AnalyticsError> {
    prepare(bars, Origin::frame(name))
}

/// The date column as days since 1970-01-01 (no nulls after normalisation).
pub(crate) fn date_values(df: &DataFrame) -> Result<Cow<'_, [i32]>, AnalyticsError> {
    let ca = df
        .column(DATE)
        .and_then(|c| c.date())
        .map_err(AnalyticsError::polars("column `date`"))?;
    let phys = &ca.phys;
    if let Ok(s) = phys.cont_slice() {
        return Ok(Cow::Borrowed(s));
    }
    Ok(Cow::Owned(
        phys.iter().map(|v| v.unwrap_or(i32::MIN)).collect(),
    ))
}

/// A Float64 column as a slice, nulls as NaN.
pub(crate) fn float_values<'a>(
    df: &'a DataFrame,
    name: &str,
) -> Result<Cow<'a, [f64]>, AnalyticsError> {
    let ca = df
        .column(name)
        .and_then(|c| c.f64())
        .map_err(AnalyticsError::polars(format!("column `{name}`")))?;
    if let Ok(s) = ca.cont_slice() {
        return Ok(Cow::Borrowed(s));
    }
    Ok(Cow::Owned(
        ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
    ))
}

/// The input columns of the kernels, borrowed from a prepared frame where possible.
pub struct Columns<'a> {
    pub dates: Cow<'a, [i32]>,
    pub open: Cow<'a, [f64]>,
    pub high: Cow<'a, [f64]>,
    pub low: Cow<'a, [f64]>,
    pub close: Cow<'a, [f64]>,
    pub volume: Cow<'a, [f64]>,
}

impl<'a> Columns<'a> {
    pub fn new(df: &'a DataFrame) -> Result<Self, AnalyticsError> {
        Ok(Columns {
            dates: date_values(df)?,
            open: float_values(df, "open")?,
            high: float_values(df, "high")?,
            low: float_values(df, "low")?,
            close: float_values(df, "close")?,
            volume: float_values(df, "volume")?,
        })
    }

    pub fn symbol(&self, (start, end): (usize, usize)) -> SymbolBars<'_> {
        SymbolBars {
            dates: &self.dates[start..end],
            open: &self.open[start..end],
            high: &self.high[start..end],
            low: &self.low[start..end],
            close: &self.close[start..end],
            volume: &self.volume[start..end],
        }
    }
}

/// One symbol's rows carried from one Parquet row group into the next (its rows may go on
/// there), copied out of the group so the next one can be read.
#[derive(Default)]
pub struct CarriedBars {
    pub symbol: String,
    pub dates: Vec<i32>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl CarriedBars {
    /// `symbol`'s rows `start..end` of `cols`.
    pub fn new(symbol: &str, cols: &Columns<'_>, rows: (usize, usize)) -> Self {
        let mut carried = CarriedBars {
            symbol: symbol.to_string(),
            ..CarriedBars::default()
        };
        carried.extend(cols, rows);
        carried
    }

    /// Appends the same symbol's rows `start..end` of the next group's `cols`.
    pub fn extend(&mut self, cols: &Columns<'_>, (start, end): (usize, usize)) {
        self.dates.extend_from_slice(&cols.dates[start..end]);
        self.open.extend_from_slice(&cols.open[start..end]);
        self.high.extend_from_slice(&cols.high[start..end]);
        self.low.extend_from_slice(&cols.low[start..end]);
        self.close.extend_from_slice(&cols.close[start..end]);
        self.volume.extend_from_slice(&cols.volume[start..end]);
    }

    /// The rows, as the kernels take them.
    pub fn bars(&self) -> SymbolBars<'_> {
        SymbolBars {
            dates: &self.dates,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
        }
    }
}

/// Number of worker threads for the kernels.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Splits `groups` into at most `parts` contiguous runs of about equal row counts.
pub(crate) fn split_groups(groups: &[(usize, usize)], parts: usize) -> Vec<&[(usize, usize)]> {
    let total: usize = groups.last().map_or(0, |g| g.1);
    if groups.is_empty() {
        return Vec::new();
    }
    let per = total.div_ceil(parts.max(1)).max(1);
    let mut out = Vec::new();
    let mut first = 0;
    for (k, g) in groups.iter().enumerate() {
        let rows_so_far = g.1 - groups[first].0;
        if rows_so_far >= per || k + 1 == groups.len() {
            out.push(&groups[first..=k]);
            first = k + 1;
        }
    }
    out
}

/// Turns a NaN-for-null vector into a nullable Float64 column without copying the values.
pub(crate) fn nullable_f64(name: &str, values: Vec<f64>) -> Column {
    if !values.iter().any(|x| x.is_nan()) {
        return Float64Chunked::from_vec(name.into(), values).into_column();
    }
    let mask = BooleanChunked::from_iter_values("".into(), values.iter().map(|x| !x.is_nan()));
    let validity = mask.downcast_as_array().values().clone();
    Float64Chunked::from_vec_validity(name.into(), values, Some(validity)).into_column()
}

/// Turns a NaN-for-null vector of whole numbers into a nullable Int32 column.
pub(crate) fn nullable_i32(name: &str, values: &[f64]) -> Column {
    let whole: Vec<i32> = values
        .iter()
        .map(|&x| if x.is_nan() { 0 } else { x as i32 })
        .collect();
    let mask = BooleanChunked::from_iter_values("".into(), values.iter().map(|x| !x.is_nan()));
    let validity = mask.downcast_as_array().values().clone();
    Int32Chunked::from_vec_validity(name.into(), whole, Some(validity)).into_column()
}

pub(crate) fn metric_column(m: usize, values: Vec<f64>) -> Column {
    if m == DAYS_SINCE_PEAK_180D {
        nullable_i32(INDICATOR_NAMES[m], &values)
    } else {
        nullable_f64(INDICATOR_NAMES[m], values)
    }
}

/// Every indicator for every (symbol, date).
///
/// Input: `symbol`, `date`, `open`, `high`, `low`, `close`, `volume` (and optionally
/// `vwap`, `trade_count`), in any order of rows. Output: the bars sorted by symbol then
/// date, followed by one column per indicator (see `METRICS.md`); warm-up values are null.
pub fn compute_indicators(bars: DataFrame) -> Result<DataFrame, AnalyticsError> {
    compute_indicators_named(bars, "bars")
}

pub(crate) fn compute_indicators_named(
    bars: DataFrame,
    name: &str,
) -> Result<DataFrame, AnalyticsError> {
    let origin = Origin::frame(name);
    let Prepared { df, groups } = prepare(bars, origin)?;
    let n = df.height();
    let mut out: Vec<Vec<f64>> = (0..N_METRICS).map(|_| vec![f64::NAN; n]).collect();
    {
        let cols = Columns::new(&df)?;
        let parts = split_groups(&groups, threads());
        // Cut every output column at the same row boundaries, one piece per part.
        let mut pieces: Vec<Vec<&mut [f64]>> = parts.iter().map(|_| Vec::new()).collect();
        for col in out.iter_mut() {
            let mut rest: &mut [f64] = col.as_mut_slice();
            for (k, part) in parts.iter().enumerate() {
                let len = part.last().map_or(0, |g| g.1) - part.first().map_or(0, |g| g.0);
                let (head, tail) = rest.split_at_mut(len);
                pieces[k].push(head);
                rest = tail;
            }
        }
        std::thread::scope(|scope| {
            for (part, mut piece) in parts.iter().zip(pieces) {
                let cols = &cols;
                scope.spawn(move || {
                    let base = part.first().map_or(0, |g| g.0);
                    for &(start, end) in part.iter() {
                        let mut slices: Vec<&mut [f64]> = piece
                            .iter_mut()
                            .map(|p| &mut p[start - base..end - base])
                            .collect();
                        kernels::compute_series(&cols.symbol((start, end)), &mut slices);
                    }
                });
            }
        });
    }
    let mut columns: Vec<Column> = df.columns().to_vec();
    for (m, values) in out.into_iter().enumerate() {
        columns.push(metric_column(m, values));
    }
    DataFrame::new(n, columns).map_err(AnalyticsError::polars("building indicators"))
}
