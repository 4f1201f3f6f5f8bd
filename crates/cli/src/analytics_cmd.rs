//! `screener indicators` and `screener screen`: the analytics crate on files.
//!
//! Both read bars from CSV (`.csv`, `.csv.gz`) or Parquet (by extension) with columns
//! `symbol,date,open,high,low,close,volume` and write CSV or Parquet (by extension):
//! dates `YYYY-MM-DD`, floats in the shortest form that reads back exactly, nulls as empty
//! CSV cells. Bad input is refused with the file, the row or column, and the problem: exit
//! code 2 for how the command was called (flags, a path, a file type), 1 for a file's content.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::Args;
use screener_analytics::{
    AnalyticsError, ScreenSet, compute_indicators, read_bars, screen_latest_file, write_frame,
};

use crate::DataError;

/// Arguments of `screener indicators`.
#[derive(Args, Debug, Clone)]
#[command(
    about = "Compute every indicator for every (symbol, date) of a bars file",
    after_help = "Input columns: symbol,date,open,high,low,close,volume (optional vwap,trade_count); dates YYYY-MM-DD.\n\
Rows are used as given (no filling of missing days) and written sorted by symbol, then date.\n\
Indicators: see crates/analytics/METRICS.md. Warm-up values are empty (null).\n\n\
Examples:\n  \
screener indicators --bars bars.csv --out indicators.csv\n  \
screener indicators --bars bars.parquet --out indicators.parquet"
)]
pub struct IndicatorsArgs {
    /// Bars to read: a .csv, .csv.gz or .parquet file
    #[arg(long, value_name = "FILE")]
    pub bars: PathBuf,
    /// Where to write the indicators: a .csv or .parquet file
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `screener screen`.
#[derive(Args, Debug, Clone)]
#[command(
    about = "Screen every symbol on its latest bar: metrics, one pass/rank column per screen",
    after_help = "For every symbol, its metrics on its latest bar on or before --date (default: its last bar),\n\
then per screen a `pass_<screen>` column (true/false) and a `rank_<screen>` column (1 = best, empty when not passing).\n\
Screens come from --screens (TOML, see the top-level screens.toml) or the built-in defaults.\n\n\
Examples:\n  \
screener screen --bars bars.parquet --out screen.csv\n  \
screener screen --bars bars.csv --date 2024-06-28 --out screen.parquet\n  \
screener screen --bars bars.csv --screens my_screens.toml --out screen.csv"
)]
pub struct ScreenArgs {
    /// Bars to read: a .csv, .csv.gz or .parquet file
    #[arg(long, value_name = "FILE")]
    pub bars: PathBuf,
    /// Screens to apply (TOML); default: the built-in screens
    #[arg(long, value_name = "FILE")]
    pub screens: Option<PathBuf>,
    /// Use each symbol's latest bar on or before this date (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,
    /// Where to write the results: a .csv or .parquet file
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Refuses an output path whose extension we cannot write, before any work is done.
fn check_output(path: &Path) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv" | "parquet" | "pq") => Ok(()),
        _ => bail!(
            "{}: unsupported output file type; use a .csv or .parquet extension",
            path.display()
        ),
    }
}

/// An analytics error as the command reports it: a file that cannot be opened or a file type
/// we do not read is how the command was called (exit 2); anything about the file's content is
/// a [`DataError`] (exit 1).
fn classify(error: AnalyticsError) -> anyhow::Error {
    match error {
        AnalyticsError::UnsupportedFormat { .. } | AnalyticsError::Io { .. } => error.into(),
        other => DataError(other.into()).into(),
    }
}

/// `screener indicators --bars IN --out OUT`.
pub fn run_indicators(args: IndicatorsArgs) -> anyhow::Result<ExitCode> {
    check_output(&args.out)?;
    let bars = read_bars(&args.bars).map_err(classify)?;
    let rows = bars.height();
    let mut indicators = compute_indicators(bars)
        .map_err(classify)
        .with_context(|| format!("computing indicators for {}", args.bars.display()))?;
    write_frame(&mut indicators, &args.out).map_err(classify)?;
    eprintln!(
        "wrote {} indicators for {rows} bars to {}",
        screener_analytics::INDICATOR_NAMES.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads a screens TOML file, or the built-in screens without one.
pub fn load_screens(path: Option<&Path>) -> anyhow::Result<ScreenSet> {
    let Some(path) = path else {
        return Ok(ScreenSet::default_screens());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading screens from {}", path.display()))?;
    ScreenSet::parse_toml(&text)
        .map_err(|e| DataError(e.into()))
        .with_context(|| format!("screens file {}", path.display()))
}

/// `screener screen --bars IN [--screens FILE] [--date D] --out OUT`.
pub fn run_screen(args: ScreenArgs) -> anyhow::Result<ExitCode> {
    check_output(&args.out)?;
    let screens = load_screens(args.screens.as_deref())?;
    // Streams sorted Parquet one row group at a time; errors name the file.
    let mut outcome = screen_latest_file(&args.bars, &screens, args.date).map_err(classify)?;
    write_frame(&mut outcome.results, &args.out).map_err(classify)?;
    println!(
        "{} symbols screened{}; results in {}",
        outcome.results.height(),
        args.date.map_or(String::new(), |d| format!(" as of {d}")),
        args.out.display()
    );
    for s in &mut outcome.screens {
        let symbols: Vec<String> = s
            .top
            .column("symbol")
            .ok()
            .and_then(|c| c.str().ok())
            .map(|ca| ca.iter().flatten().take(10).map(str::to_string).collect())
            .unwrap_or_default();
        println!(
            "  {:<24} {:>6} passing  top: {}",
            s.name,
            s.count,
            if symbols.is_empty() {
                "-".to_string()
            } else {
                symbols.join(" ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
