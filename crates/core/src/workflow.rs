//! The workflow's contracts: every step's input and output (small typed structs that carry
//! store keys, never bulk data: Step Functions caps a payload at 256 KB), the storage layout,
//! and the stable error names that the state machine's `Retry` and `Catch` match.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{DataSourceInfo, MarketDataError, SecretsError, StoreError};
use crate::symbol::Symbol;

// ---------------------------------------------------------------------------------------------
// Storage layout

/// Keys of everything a run writes. Intermediate data lives under `runs/<run_id>/`; published
/// results under `results/date=YYYY-MM-DD/`; `results/latest.json` is written last, on success.
pub mod keys {
    use chrono::NaiveDate;

    pub const LATEST: &str = "results/latest.json";

    pub fn run_prefix(run_id: &str) -> String {
        format!("runs/{run_id}/")
    }
    pub fn run_sessions(run_id: &str) -> String {
        format!("{}sessions.json", run_prefix(run_id))
    }
    pub fn batch_symbols(run_id: &str, index: u32) -> String {
        format!("runs/{run_id}/universe/batch-{index:04}.json")
    }
    pub fn batch_bars(run_id: &str, index: u32) -> String {
        format!("runs/{run_id}/bars/batch-{index:04}.csv")
    }
    pub fn batch_valid_bars(run_id: &str, index: u32) -> String {
        format!("runs/{run_id}/valid/batch-{index:04}.parquet")
    }
    pub fn batch_validation_report(run_id: &str, index: u32) -> String {
        format!("runs/{run_id}/validation/batch-{index:04}.json")
    }
    /// One batch's valid bars as CSV, kept for the dashboard's symbol chart after `runs/`
    /// expires (a lifecycle rule of their own bounds them). The run id in the key means a
    /// failed re-run of a date never replaces the bars a published run points at.
    pub fn chart_bars(date: NaiveDate, run_id: &str, index: u32) -> String {
        format!("chart-bars/date={date}/{run_id}/batch-{index:04}.csv")
    }
    pub fn run_screen_file(run_id: &str, name: &str) -> String {
        format!("runs/{run_id}/screen/{name}")
    }
    pub fn results_prefix(date: NaiveDate) -> String {
        format!("results/date={date}/")
    }
    pub fn results_file(date: NaiveDate, name: &str) -> String {
        format!("results/date={date}/{name}")
    }
    pub fn top_file_name(screen: &str) -> String {
        format!("top-{screen}.csv")
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A step's failure. [`StepError::name`] is the error name the Lambda reports and the state
/// machine's `Retry`/`Catch` match: change one, change the other (a test checks they agree).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("invalid step input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    MarketData(#[from] MarketDataError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("corrupt intermediate data: {0}")]
    CorruptData(String),
    #[error("nothing valid to screen: {0}")]
    NothingValid(String),
    #[error("configuration: {0}")]
    Config(String),
    /// A work item the backtest engine refused or could not run (its screen, its period).
    #[error("backtest: {0}")]
    Backtest(String),
}

pub mod error_names {
    pub const INPUT_INVALID: &str = "Input.Invalid";
    pub const STORE_NOT_FOUND: &str = "Store.NotFound";
    pub const STORE_CONFLICT: &str = "Store.Conflict";
    pub const STORE_UNAVAILABLE: &str = "Store.Unavailable";
    pub const MARKET_RATE_LIMITED: &str = "MarketData.RateLimited";
    pub const MARKET_UNAVAILABLE: &str = "MarketData.Unavailable";
    pub const MARKET_BAD_RESPONSE: &str = "MarketData.BadResponse";
    pub const MARKET_UNAUTHORIZED: &str = "MarketData.Unauthorized";
    pub const CONFIG_MISSING_SECRET: &str = "Config.MissingSecret";
    pub const CONFIG_INVALID: &str = "Config.Invalid";
    pub const DATA_CORRUPT: &str = "Data.Corrupt";
    pub const SCREEN_NOTHING_VALID: &str = "Screen.NothingValid";
    pub const BACKTEST_FAILED: &str = "Backtest.Failed";

    /// Transient: the state machine retries these with back-off.
    pub const RETRIED: [&str; 4] = [
        MARKET_RATE_LIMITED,
        MARKET_UNAVAILABLE,
        MARKET_BAD_RESPONSE,
        STORE_UNAVAILABLE,
    ];
    /// Every name a step can report.
    pub const ALL: [&str; 13] = [
        INPUT_INVALID,
        STORE_NOT_FOUND,
        STORE_CONFLICT,
        STORE_UNAVAILABLE,
        MARKET_RATE_LIMITED,
        MARKET_UNAVAILABLE,
        MARKET_BAD_RESPONSE,
        MARKET_UNAUTHORIZED,
        CONFIG_MISSING_SECRET,
        CONFIG_INVALID,
        DATA_CORRUPT,
        SCREEN_NOTHING_VALID,
        BACKTEST_FAILED,
    ];
}

impl StepError {
    pub fn name(&self) -> &'static str {
        use error_names::*;
        match self {
            StepError::InvalidInput(_) => INPUT_INVALID,
            StepError::Store(StoreError::NotFound { .. }) => STORE_NOT_FOUND,
            StepError::Store(StoreError::PreconditionFailed { .. }) => STORE_CONFLICT,
            StepError::Store(StoreError::Unavailable { .. }) => STORE_UNAVAILABLE,
            StepError::MarketData(MarketDataError::RateLimited(_)) => MARKET_RATE_LIMITED,
            StepError::MarketData(MarketDataError::Unavailable(_)) => MARKET_UNAVAILABLE,
            StepError::MarketData(MarketDataError::BadResponse(_)) => MARKET_BAD_RESPONSE,
            StepError::MarketData(MarketDataError::Unauthorized(_)) => MARKET_UNAUTHORIZED,
            StepError::MarketData(MarketDataError::NotConfigured(_)) => CONFIG_MISSING_SECRET,
            StepError::MarketData(MarketDataError::InvalidRequest(_)) => INPUT_INVALID,
            StepError::Secrets(_) => CONFIG_MISSING_SECRET,
            StepError::CorruptData(_) => DATA_CORRUPT,
            StepError::NothingValid(_) => SCREEN_NOTHING_VALID,
            StepError::Config(_) => CONFIG_INVALID,
            StepError::Backtest(_) => BACKTEST_FAILED,
        }
    }
}

/// Parses a step's JSON input into its type, as `Input.Invalid` naming what is wrong.
pub fn parse_input<T: serde::de::DeserializeOwned>(
    step: &str,
    value: serde_json::Value,
) -> Result<T, StepError> {
    serde_json::from_value(value).map_err(|e| StepError::InvalidInput(format!("{step}: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Step contracts

/// What a workflow execution is started with. Everything is optional: a scheduled run uses
/// today's date and the configured universe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowInput {
    /// Screen as of this date (default: the last completed NYSE session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// Only the first N symbols of the universe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_symbols: Option<usize>,
    /// Exactly these symbols instead of the universe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<Vec<String>>,
}

/// FetchUniverse's input: the execution input plus facts from the context object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchUniverseInput {
    #[serde(default)]
    pub request: WorkflowInput,
    pub execution_name: String,
    pub started_at: DateTime<Utc>,
}

/// Facts every step of one run shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    pub run_id: String,
    pub run_date: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub source: DataSourceInfo,
    /// Bars are fetched from `run_date - lookback_days` to `run_date`.
    pub lookback_days: u32,
    /// The source's own trading calendar for that range ([`crate::calendar::Sessions`] as
    /// JSON), when it has one; validation uses the NYSE rules without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_key: Option<String>,
}

/// A batch of symbols: its list lives in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRef {
    pub index: u32,
    pub symbols_key: String,
    pub size: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchUniverseOutput {
    pub run: RunContext,
    pub batches: Vec<BatchRef>,
    pub symbol_count: u32,
    pub batch_count: u32,
    /// Symbols asked for explicitly that the source does not know.
    #[serde(default)]
    pub unknown_symbols: Vec<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchBarsInput {
    pub run: RunContext,
    pub batch: BatchRef,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchBarsOutput {
    pub bars_key: String,
    pub requested: u32,
    pub fetched: u32,
    /// Symbols the source returned no bars for.
    #[serde(default)]
    pub no_data: Vec<Symbol>,
    /// Symbols whose stored history disagreed with the fresh overlap and was refetched in full.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refetched: Vec<Refetch>,
    pub duration_ms: u64,
}

/// A symbol whose stored bar history disagreed with freshly fetched bars on the days they
/// share (a new split, a dividend under `adjustment=all`, or a data correction), so its whole
/// history was fetched again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refetch {
    pub symbol: Symbol,
    /// The first difference found, e.g. `2025-06-11: close 101.5 stored, 50.75 now (x0.5000)`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidateInput {
    pub run: RunContext,
    pub batch: BatchRef,
    pub fetched: FetchBarsOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Ok,
    Failed,
}

/// One Map iteration's result: a validated batch, or (from the iteration's Catch) a failed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub index: u32,
    pub status: BatchStatus,
    pub symbols_key: String,
    pub requested: u32,
    #[serde(default)]
    pub fetched: u32,
    #[serde(default)]
    pub valid: u32,
    #[serde(default)]
    pub repaired: u32,
    #[serde(default)]
    pub rejected: u32,
    #[serde(default)]
    pub no_data: u32,
    /// Symbols whose history was refetched in full (see [`Refetch`]).
    #[serde(default)]
    pub refetched: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default)]
    pub fetch_ms: u64,
    #[serde(default)]
    pub validate_ms: u64,
}

/// What ValidateBatch writes next to the valid bars: one report per requested symbol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchValidationReport {
    pub index: u32,
    pub symbols: Vec<crate::validation::SymbolReport>,
    /// Requested symbols the source had no bars for.
    pub no_data: Vec<Symbol>,
    /// Symbols whose history was refetched in full, and why.
    #[serde(default)]
    pub refetched: Vec<Refetch>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScreenInput {
    pub run: RunContext,
    pub batches: Vec<BatchResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreenCount {
    pub name: String,
    pub description: String,
    pub count: u32,
    pub top_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorstDrawdown {
    pub symbol: String,
    pub drawdown_180d: f64,
}

/// Candidates charted per screen in the report (its tables show the whole top list).
pub const CHARTED_PER_SCREEN: usize = 10;

/// `charts.json`: the daily closes of every screen's first [`CHARTED_PER_SCREEN`] candidates,
/// written by Screen (which has the bars at hand) so that Publish draws its charts from one
/// small file instead of reading every batch's bars again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartHistory {
    /// Per symbol, `(date, close)` in date order.
    pub closes: BTreeMap<String, Vec<(NaiveDate, f64)>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScreenOutput {
    pub screened: u32,
    pub results_csv_key: String,
    pub results_parquet_key: String,
    /// The [`ChartHistory`] of the run (absent from runs before it was written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charts_key: Option<String>,
    pub screens: Vec<ScreenCount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_drawdown: Option<WorstDrawdown>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishInput {
    pub run: RunContext,
    pub batches: Vec<BatchResult>,
    pub screen: ScreenOutput,
    #[serde(default)]
    pub universe_duration_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCounts {
    pub requested: u32,
    pub fetched: u32,
    pub valid: u32,
    pub repaired: u32,
    pub rejected: u32,
    pub no_data: u32,
    /// Symbols in batches that failed.
    pub failed: u32,
    pub screened: u32,
    /// Symbols whose stored history was refetched in full (a split or a correction).
    #[serde(default)]
    pub refetched: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishOutput {
    pub run_date: NaiveDate,
    pub manifest_key: String,
    pub results_prefix: String,
    pub counts: RunCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub symbol: Symbol,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    pub symbol: Symbol,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedBatch {
    pub index: u32,
    pub symbols: Vec<String>,
    pub error: String,
    pub cause: String,
}

/// `results/date=YYYY-MM-DD/manifest.json`: everything about one published run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub date: NaiveDate,
    pub run_id: String,
    /// Loud on purpose when the data is synthetic.
    pub notice: Option<String>,
    pub source: DataSourceInfo,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub counts: RunCounts,
    pub rejections: Vec<Rejection>,
    pub repairs: Vec<Repair>,
    pub no_data: Vec<Symbol>,
    /// Symbols whose stored history disagreed with fresh data and was refetched in full.
    #[serde(default)]
    pub refetched: Vec<Refetch>,
    pub failed_batches: Vec<FailedBatch>,
    pub screens: Vec<ScreenCount>,
    pub worst_drawdown: Option<WorstDrawdown>,
    /// Milliseconds per step; Map steps summed over batches.
    pub durations_ms: BTreeMap<String, u64>,
    /// File names under the results prefix.
    pub files: Vec<String>,
}

/// `results/latest.json`: a pointer to the last successful run's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestPointer {
    pub date: NaiveDate,
    pub run_id: String,
    pub manifest_key: String,
    pub published_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_variant_has_a_listed_name() {
        let errors = [
            StepError::InvalidInput("x".into()),
            StepError::Store(StoreError::NotFound { key: "k".into() }),
            StepError::Store(StoreError::PreconditionFailed { key: "k".into() }),
            StepError::Store(StoreError::Unavailable {
                key: "k".into(),
                message: "m".into(),
            }),
            StepError::MarketData(MarketDataError::RateLimited("x".into())),
            StepError::MarketData(MarketDataError::Unavailable("x".into())),
            StepError::MarketData(MarketDataError::BadResponse("x".into())),
            StepError::MarketData(MarketDataError::Unauthorized("x".into())),
            StepError::MarketData(MarketDataError::NotConfigured("x".into())),
            StepError::Secrets(SecretsError::Missing {
                name: "n".into(),
                hint: "h".into(),
            }),
            StepError::CorruptData("x".into()),
            StepError::NothingValid("x".into()),
            StepError::Config("x".into()),
            StepError::Backtest("x".into()),
        ];
        let names: std::collections::BTreeSet<&str> = errors.iter().map(StepError::name).collect();
        let all: std::collections::BTreeSet<&str> = error_names::ALL.into_iter().collect();
        assert_eq!(names, all);
    }

    #[test]
    fn a_workflow_input_with_an_unknown_field_is_refused_naming_it() {
        let err =
            parse_input::<WorkflowInput>("workflow", serde_json::json!({"dat": "2024-01-02"}))
                .unwrap_err();
        assert_eq!(err.name(), "Input.Invalid");
        assert!(err.to_string().contains("dat"), "{err}");
    }

    #[test]
    fn batch_keys_sort_in_batch_order() {
        assert!(keys::batch_bars("r", 9) < keys::batch_bars("r", 10));
    }
}
