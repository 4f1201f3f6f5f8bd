//! Backtests of the screener's screens over history, exactly as
//! `shared/specs/backtest.md` (S1-S9) defines them: equal-weight portfolios of each screen's
//! selections rebalanced every K sessions with fills at the next open (vectorbt's
//! `Portfolio.from_orders` rules), the benchmark of every eligible symbol, the return
//! statistics (empyrical's conventions), forward returns and the factor analysis of each
//! screen's sort metric (alphalens-reloaded's).
//!
//! Layers, each knowing nothing of the next:
//! - [`calendar`]: sessions, `t0`, rebalance and fill dates;
//! - `panel`: one symbol's history reduced to its closes, fill-day opens and, on rebalance
//!   dates only, eligibility, screen passes and sort-metric values (the indicators run over
//!   the whole history but are evaluated at those bars only);
//! - `select`: the cross-section, ranked selections per rebalance date;
//! - `portfolio`: the simulation (orders, fills, positions, equity);
//! - [`stats`]: statistics over an equity series;
//! - `factor`: forward returns and the alphalens factor analysis;
//! - [`event_study`]: the average path of a symbol around its entry into a screen;
//! - `report`: `report.html` ([`render_report`]), the page for people beside the files, and
//!   a sweep's ([`render_sweep_report`]);
//! - [`sweep`]: a parameter sweep's variants ranked in and out of sample;
//! - [`Backtest`]: the pure engine over those layers; [`backtest_frame`] and
//!   [`backtest_file`] feed it bars from polars; [`write_outputs`] writes the files.
//!
//! A work item (one screen, one parameter variant, a stretch of history) is one
//! [`Backtest`]: no I/O inside, so it can run on its own in a Lambda.

pub mod calendar;
mod engine;
mod error;
pub mod event_study;
mod factor;
mod input;
mod output;
mod panel;
mod parquet_input;
mod plan;
mod portfolio;
mod report;
mod result;
mod select;
mod settings;
pub mod stats;
pub mod sweep;

pub use engine::{Backtest, Progress, day_number};
pub use error::BacktestError;
pub use factor::QUANTILES;
pub use input::{
    TidiedBars, backtest_bars, backtest_file, backtest_file_with_progress, backtest_frame,
    tidy_source_bars,
};
pub use output::{summary_json, write_outputs};
pub use panel::SymbolData;
pub use parquet_input::backtest_parquet;
pub use report::{render_report, render_sweep_report};
pub use result::{
    Arguments, BacktestResult, CalendarFacts, Factor, Fill, ForwardReturn, ForwardReturns, Metrics,
    Portfolio, ScreenArguments,
};
pub use settings::Settings;
