//! `screen_latest`: each symbol's metrics on its latest bar, screen membership and ranks.
//!
//! Only the latest bar's metrics are needed, so this does not build full indicator
//! series: the recursive indicators run over the history without storing it and the
//! window metrics are computed once (see [`crate::kernels::compute_last`]). The values
//! are bit-identical to the last row of `compute_indicators`.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::AnalyticsError;
use crate::indicators::{Columns, metric_column, nullable_f64, prepare, split_groups, threads};
use crate::io::{DATE, Origin, SYMBOL, days_since_epoch};
use crate::kernels::{self, INDICATOR_NAMES, N_METRICS};
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

/// Latest-bar values of every symbol, column-major; NaN = null.
struct Latest {
    rows: Vec<usize>,
    bars: [Vec<f64>; 5],
    metrics: Vec<Vec<f64>>,
}

impl Latest {
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
    let prepared = prepare(bars, Origin { name, csv: false })?;
    phases.mark("check and sort bars");
    let df = &prepared.df;
    let cols = Columns::new(df)?;
    phases.mark("borrow columns");
    let cutoff = as_of.map(days_since_epoch);

    // Each symbol's last row on or before the cutoff.
    let ends: Vec<(usize, usize)> = prepared
        .groups
        .iter()
        .filter_map(|&(start, end)| {
            let end = match cutoff {
                Some(c) => start + cols.dates[start..end].partition_point(|&d| d <= c),
                None => end,
            };
            (end > start).then_some((start, end))
        })
        .collect();

    let parts = split_groups(&ends, threads());
    let per_part: Vec<Vec<[f64; N_METRICS]>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let cols = &cols;
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
    });

    phases.mark("kernels");
    let n = ends.len();
    let mut latest = Latest {
        rows: ends.iter().map(|&(_, end)| end - 1).collect(),
        bars: Default::default(),
        metrics: (0..N_METRICS).map(|_| Vec::with_capacity(n)).collect(),
    };
    let inputs = [&cols.open, &cols.high, &cols.low, &cols.close, &cols.volume];
    for (k, input) in inputs.iter().enumerate() {
        latest.bars[k] = latest
            .rows
            .iter()
            .map(|&r| {
                if input[r].is_finite() {
                    input[r]
                } else {
                    f64::NAN
                }
            })
            .collect();
    }
    for row in per_part.iter().flatten() {
        for (m, &v) in row.iter().enumerate() {
            latest.metrics[m].push(v);
        }
    }

    let idx = IdxCa::from_vec(
        "idx".into(),
        latest.rows.iter().map(|&r| r as IdxSize).collect(),
    );
    let keys = df
        .select([SYMBOL, DATE])
        .and_then(|k| k.take(&idx))
        .map_err(AnalyticsError::polars("selecting latest bars"))?;
    let mut columns: Vec<Column> = keys.columns().to_vec();
    for (k, name) in BAR_METRICS.iter().enumerate() {
        columns.push(nullable_f64(name, latest.bars[k].clone()));
    }
    for (m, values) in latest.metrics.iter().enumerate() {
        columns.push(metric_column(m, values.clone()));
    }
    let base = DataFrame::new(n, columns).map_err(AnalyticsError::polars("building results"))?;

    let symbols: Vec<String> = base
        .column(SYMBOL)
        .and_then(|c| c.str())
        .map_err(AnalyticsError::polars("results"))?
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect();

    phases.mark("latest-bar frame");
    let mut results = base.clone();
    let mut summaries = Vec::with_capacity(screens.screens.len());
    for screen in &screens.screens {
        let pass = evaluate(screen, &latest);
        let order = rank_order(screen, &latest, &pass, &symbols);
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
    let n = latest.rows.len();
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
