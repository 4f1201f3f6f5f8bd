//! The typed result of a backtest, per screen and for the benchmark, serialisable with
//! serde under the spec's names. Every number that can be undefined is an `Option`, so
//! any serialiser writes a non-finite value as null.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;

use crate::event_study::EventStudy;
use crate::factor::QUANTILES;

/// `Some(x)` when `x` is finite.
pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The arguments the run used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arguments {
    pub start: NaiveDate,
    /// As given (`None`: to the last bar).
    pub end: Option<NaiveDate>,
    pub every: usize,
    pub cost_bps: f64,
    pub horizons: Vec<usize>,
    pub screens: Vec<ScreenArguments>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScreenArguments {
    pub name: String,
    pub description: String,
    pub conditions: Vec<String>,
    pub sort_metric: String,
    /// `asc` or `desc`.
    pub sort_direction: String,
    pub limit: usize,
}

/// Calendar facts (S1, S3).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalendarFacts {
    /// First and last session of the calendar (warm-up included).
    pub first_session: NaiveDate,
    pub last_session: NaiveDate,
    pub t0: NaiveDate,
    /// Sessions in the calendar, warm-up included.
    pub n_sessions: usize,
    /// Daily returns after `t0` (`N`).
    pub n_returns: usize,
    pub n_rebalance_dates: usize,
    pub n_fills: usize,
    pub rebalance_dates: Vec<NaiveDate>,
    /// Dates of the equity series, `t0` to `last` (`N + 1`).
    pub equity_dates: Vec<NaiveDate>,
    /// Symbols with a bar on or before the end.
    pub n_symbols: usize,
    /// Symbols with a bar from `t0` to `last`.
    pub n_symbols_in_range: usize,
}

/// The S7 metrics of one portfolio.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub total_return: Option<f64>,
    pub cagr: Option<f64>,
    pub annual_volatility: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub max_drawdown: Option<f64>,
    pub calmar: Option<f64>,
    pub final_value: Option<f64>,
    pub n_rebalances: usize,
    pub n_rebalances_empty: usize,
    pub avg_selected: Option<f64>,
    pub avg_holdings: Option<f64>,
    pub turnover_first: Option<f64>,
    pub turnover_mean: Option<f64>,
    pub turnover_mean_after_first: Option<f64>,
    pub turnover_annual: Option<f64>,
    pub fees_paid: Option<f64>,
    pub n_orders: usize,
    pub n_orders_skipped_no_open: usize,
    pub n_closed_positions: usize,
    pub win_rate_closed_positions: Option<f64>,
}

/// Pooled forward returns of one horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ForwardReturn {
    pub mean: Option<f64>,
    pub hit_rate: Option<f64>,
    pub n: usize,
}

/// Forward returns by horizon: of the selected symbols and of every eligible symbol.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForwardReturns {
    pub selected: BTreeMap<usize, ForwardReturn>,
    pub eligible: BTreeMap<usize, ForwardReturn>,
}

/// The factor analysis of a screen's sort metric (S9), by horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Factor {
    /// The sort metric; negated when the screen sorts ascending, so higher is better.
    pub metric: String,
    pub negated: bool,
    pub quantiles: usize,
    pub mean_ic: BTreeMap<usize, Option<f64>>,
    pub ic_n_dates: BTreeMap<usize, usize>,
    pub mean_return_by_quantile: BTreeMap<usize, [Option<f64>; QUANTILES]>,
    pub mean_return_by_quantile_demeaned: BTreeMap<usize, [Option<f64>; QUANTILES]>,
    pub spread_top_minus_bottom: BTreeMap<usize, Option<f64>>,
    pub spread_alphalens_halved: BTreeMap<usize, Option<f64>>,
    /// Kept rows per quantile.
    pub count_by_quantile: [usize; QUANTILES],
    pub n_factor_rows: usize,
    pub n_rows: usize,
    pub n_dates: usize,
    pub n_dates_offered: usize,
    /// The kept dates and each one's IC by horizon (for a chart).
    pub ic_dates: Vec<NaiveDate>,
    pub ic_by_date: BTreeMap<usize, Vec<Option<f64>>>,
}

/// One fill (the session after a rebalance date).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fill {
    pub date: NaiveDate,
    /// Symbols selected on the rebalance date before it (`n`).
    pub selected: usize,
    /// The pre-trade value `V`.
    pub value: f64,
    /// Sum of shares x price over its orders (fees excluded).
    pub traded: f64,
    /// `traded / value`.
    pub turnover: f64,
    pub fees: f64,
    pub n_orders: usize,
    /// Symbols with a target or shares but no bar (no open) on the fill day.
    pub n_skipped_no_open: usize,
}

/// One portfolio: a screen's or the benchmark's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Portfolio {
    pub name: String,
    pub metrics: Metrics,
    pub forward_returns: ForwardReturns,
    /// `None` for the benchmark (it has no sort metric).
    pub factor: Option<Factor>,
    /// `E` from `t0` to `last` (dates in `CalendarFacts::equity_dates`).
    pub equity: Vec<f64>,
    /// What happened at each fill.
    pub fills: Vec<Fill>,
    /// Per rebalance date, indices into `BacktestResult::symbols` in rank order (the
    /// benchmark: every eligible symbol, in symbol order).
    pub selections: Vec<Vec<u32>>,
    /// The event study of the screen's entries (`None` for the benchmark).
    pub event_study: Option<EventStudy>,
}

/// Everything a backtest computes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestResult {
    pub arguments: Arguments,
    pub calendar: CalendarFacts,
    /// Symbols with a bar from `t0` to `last`, in byte order (what selections index).
    pub symbols: Vec<String>,
    pub screens: Vec<Portfolio>,
    pub benchmark: Portfolio,
    /// Wall time of each phase (not part of the result's meaning; not serialised).
    #[serde(skip)]
    pub phases: Vec<(&'static str, Duration)>,
}

impl BacktestResult {
    /// The screens, then the benchmark.
    pub fn portfolios(&self) -> impl Iterator<Item = &Portfolio> {
        self.screens.iter().chain(std::iter::once(&self.benchmark))
    }
}
