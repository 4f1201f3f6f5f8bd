//! Indicators and declarative screens over daily bars, for the screener's Screen step
//! and the `screener indicators` / `screener screen` commands.
//!
//! - [`read_bars`], [`read_bars_csv_frame`], [`read_bars_parquet_frame`]: bars in, checked and typed;
//! - [`compute_indicators`]: every indicator for every (symbol, date) (`METRICS.md`);
//! - [`ScreenSet`]: screens parsed from TOML (defaults in the top-level `screens.toml`);
//! - [`screen_latest`]: metrics on each symbol's latest bar, screen membership and ranks;
//!   [`screen_latest_file`] / [`screen_latest_parquet`] do the same straight from a file or
//!   Parquet bytes, streaming sorted Parquet one row group at a time (the Screen step's
//!   path: about 70 MB of memory for 6.3 M bars instead of about 480 MB);
//! - [`write_csv`], [`write_parquet`]: results out.
//!
//! The arithmetic lives in `kernels` (per-symbol slices, TA-Lib's operation order), polars
//! does input, sorting, and output. This crate depends on no other workspace crate.

mod error;
mod indicators;
mod io;
mod kernels;
mod screen;
mod screens;

pub use error::{AnalyticsError, ScreenConfigError};
pub use indicators::compute_indicators;
// For the backtest, which runs the kernels at chosen bars of each symbol's history.
pub use indicators::{CarriedBars, Columns, Prepared, prepare_bars};
pub use io::{
    BAR_COLUMNS, read_bars, read_bars_csv_frame, read_bars_parquet_frame, read_csv_file, write_csv,
    write_frame, write_parquet,
};
pub use kernels::INDICATOR_NAMES;
pub use kernels::{ALL_METRICS, N_METRICS, SymbolBars, compute_at};
pub use screen::{
    PartsScreener, ScreenOutcome, ScreenSummary, screen_latest, screen_latest_file,
    screen_latest_parquet,
};
pub use screens::{
    BAR_METRICS, Condition, DEFAULT_SCREENS_TOML, Op, Operand, Screen, ScreenSet, Sort,
    metric_names,
};

/// Re-exported so callers use the same polars as this crate.
pub use polars;
