//! Errors of a backtest, each found before any work starts and naming what is wrong.

use chrono::NaiveDate;
use screener_analytics::AnalyticsError;

/// Why a backtest cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("--every must be at least 1 session, got {every}")]
    BadEvery { every: usize },
    #[error("--cost-bps must be a finite number >= 0, got {cost_bps}")]
    BadCost { cost_bps: f64 },
    #[error("--horizons: {problem}")]
    BadHorizons { problem: String },
    #[error("end {end} is before start {start}")]
    EndBeforeStart { start: NaiveDate, end: NaiveDate },
    #[error("no screens to backtest")]
    NoScreens,
    #[error(
        "screen `{name}`: the name `benchmark` is reserved for the portfolio of every eligible symbol; rename the screen"
    )]
    ReservedScreenName { name: String },
    #[error("screen `{screen}`: unknown metric `{metric}` in {place}; valid metrics: {valid}")]
    UnknownMetric {
        screen: String,
        metric: String,
        /// `condition `...`` or `sort`.
        place: String,
        valid: String,
    },
    #[error("no session in range: {range}, but {found}")]
    NoSession {
        /// `on or after 2030-01-01` or `from 2030-01-01 to 2030-02-01`.
        range: String,
        /// What the bars hold instead.
        found: String,
    },
    #[error("{input}: missing required column `{column}` (columns present: {present})")]
    MissingColumn {
        input: String,
        column: String,
        present: String,
    },
    #[error("symbol `{symbol}` was given twice; each symbol's bars must come together")]
    DuplicateSymbol { symbol: String },
    #[error("bars: {0}")]
    Bars(#[source] AnalyticsError),
    #[error("{}: cannot write", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<AnalyticsError> for BacktestError {
    fn from(e: AnalyticsError) -> Self {
        match e {
            // The same problem, named as the backtest's own (the CLI matches on it).
            AnalyticsError::MissingColumn {
                input,
                column,
                present,
            } => BacktestError::MissingColumn {
                input,
                column,
                present,
            },
            other => BacktestError::Bars(other),
        }
    }
}
