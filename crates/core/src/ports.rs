//! Ports: the small traits the handlers depend on. Each has a local adapter (in
//! [`crate::local`], [`crate::synthetic`], [`crate::csv_source`]) and a real one (S3, Alpaca,
//! SSM, CloudWatch, Step Functions, Telegram in their own crates). Configuration picks the
//! adapter, in the composition root (`screener-composition`); a handler never knows which one it
//! holds.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::bar::BarsBySymbol;
use crate::symbol::Symbol;
use crate::workflow::{Refetch, StepError};

// ---------------------------------------------------------------------------------------------
// Store

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no object at {key:?}")]
    NotFound { key: String },
    #[error("{key:?} was changed or created by someone else (conditional write refused)")]
    PreconditionFailed { key: String },
    #[error("store unavailable for {key:?}: {message}")]
    Unavailable { key: String, message: String },
}

/// When a conditional write may go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Only if nothing is stored under the key yet.
    IfAbsent,
    /// Only if the stored object still has this version (from [`Store::get_versioned`]).
    IfVersion(String),
}

/// Object storage: a local directory or an S3 bucket prefix. Keys use `/` separators.
#[async_trait]
pub trait Store: Send + Sync {
    /// Where a key lives, for people: a file path or an `s3://` URL.
    fn locate(&self, key: &str) -> String;
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    /// The object and an opaque version for a later [`WriteCondition::IfVersion`].
    async fn get_versioned(&self, key: &str) -> Result<(Vec<u8>, String), StoreError>;
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError>;
    /// Writes only when `condition` holds, else [`StoreError::PreconditionFailed`].
    async fn put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<(), StoreError>;
    /// Keys under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// A link someone can download the object from: a presigned URL, or a file path locally.
    async fn download_link(&self, key: &str, valid_for: Duration) -> Result<String, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Market data

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub symbol: Symbol,
    pub name: String,
    pub exchange: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
}

/// What the data is and how it was adjusted; recorded in every manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSourceInfo {
    /// `synthetic`, `csv` or `alpaca`.
    pub kind: String,
    /// Human description, e.g. "synthetic market (seed 42, 500 symbols): NOT real prices".
    pub description: String,
    pub synthetic: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    pub adjustment: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MarketDataError {
    #[error("rate limited by the market data API: {0}")]
    RateLimited(String),
    #[error("market data unavailable: {0}")]
    Unavailable(String),
    #[error("bad response from the market data API: {0}")]
    BadResponse(String),
    #[error("market data credentials refused: {0}")]
    Unauthorized(String),
    /// No credentials are configured at all (nothing to refuse): a set-up step, not a fault.
    #[error("market data credentials not configured: {0}")]
    NotConfigured(String),
    #[error("invalid market data request: {0}")]
    InvalidRequest(String),
}

impl MarketDataError {
    /// The range check every source makes before answering `daily_bars(start, end)`.
    pub fn check_range(start: NaiveDate, end: NaiveDate) -> Result<(), MarketDataError> {
        if start > end {
            return Err(MarketDataError::InvalidRequest(format!(
                "start {start} is after end {end}"
            )));
        }
        Ok(())
    }
}

#[async_trait]
pub trait MarketData: Send + Sync {
    fn source(&self) -> DataSourceInfo;
    /// Every tradable symbol the source knows, sorted by symbol.
    async fn universe(&self) -> Result<Vec<Asset>, MarketDataError>;
    /// Daily bars for `symbols` dated `start..=end`. Symbols without data are absent from the
    /// answer (the caller records them); it is not an error.
    async fn daily_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<BarsBySymbol, MarketDataError>;
    /// The trading sessions in `start..=end` by the source's own calendar, or `None` when the
    /// source has none (the run then uses the NYSE rules of [`crate::calendar`]).
    async fn sessions(
        &self,
        _start: NaiveDate,
        _end: NaiveDate,
    ) -> Result<Option<Vec<NaiveDate>>, MarketDataError> {
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Bars for a run

/// A batch's daily bars, and the symbols whose kept history was found changed and refetched
/// in full (a split, a correction).
#[derive(Debug, Default)]
pub struct FetchedBars {
    pub bars: BarsBySymbol,
    pub refetched: Vec<Refetch>,
}

/// How a run gets a batch's daily bars: straight from the market
/// ([`crate::local::MarketBars`]: the offline sources, which have nothing worth keeping), or
/// through a history kept in the store that only fetches what is new (Alpaca's,
/// `screener_alpaca::history::StoredHistory`). The composition root picks it with the source.
#[async_trait]
pub trait BarSource: Send + Sync {
    /// Daily bars for `symbols` dated `start..=end`; symbols without data are absent.
    async fn daily_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<FetchedBars, StepError>;
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// A secret value whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }
    /// The secret itself, for the one place that sends it (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret {name:?} is not set: {hint}")]
    Missing { name: String, hint: String },
    #[error("could not read secret {name:?}: {message}")]
    Unavailable { name: String, message: String },
}

#[async_trait]
pub trait Secrets: Send + Sync {
    /// The secret named `name` (an SSM parameter name such as `/screener/alpaca/api_key`).
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError>;
}

// ---------------------------------------------------------------------------------------------
// Metrics

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricUnit {
    Count,
    Seconds,
    Milliseconds,
    Percent,
    None,
}

impl MetricUnit {
    /// CloudWatch's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricUnit::Count => "Count",
            MetricUnit::Seconds => "Seconds",
            MetricUnit::Milliseconds => "Milliseconds",
            MetricUnit::Percent => "Percent",
            MetricUnit::None => "None",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDatum {
    pub name: String,
    pub value: f64,
    pub unit: MetricUnit,
    /// Extra dimensions beyond the adapter's own (e.g. `Screen`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<(String, String)>,
}

impl MetricDatum {
    pub fn new(name: &str, value: f64, unit: MetricUnit) -> Self {
        MetricDatum {
            name: name.to_string(),
            value,
            unit,
            dimensions: Vec::new(),
        }
    }
    pub fn with_dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_string(), value.to_string()));
        self
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not publish metrics: {0}")]
pub struct MetricsError(pub String);

#[async_trait]
pub trait Metrics: Send + Sync {
    async fn publish(&self, data: &[MetricDatum]) -> Result<(), MetricsError>;
}

// ---------------------------------------------------------------------------------------------
// Notifier

/// One message for one chat: text in Telegram's HTML subset, everything from data escaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub chat: i64,
    pub html: String,
    /// The forum topic of the chat the message belongs in, if any.
    pub thread: Option<i64>,
}

impl Notification {
    pub fn new(chat: i64, html: impl Into<String>) -> Self {
        Notification {
            chat,
            html: html.into(),
            thread: None,
        }
    }

    pub fn in_thread(mut self, thread: Option<i64>) -> Self {
        self.thread = thread;
        self
    }
}

/// How sending to one chat ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Sent,
    /// The chat refuses messages for good (the user blocked the bot, or it was removed from
    /// the group): stop sending there.
    Blocked,
    /// Anything else, after the adapter's retries.
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// Nothing can be sent: the credentials (the bot token) are not there.
    #[error("notifications are not configured: {0}")]
    NotConfigured(String),
    /// The credentials could not be read just now.
    #[error("notifications are unavailable: {0}")]
    Unavailable(String),
}

impl From<SecretsError> for NotifierError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::Missing { .. } => NotifierError::NotConfigured(e.to_string()),
            SecretsError::Unavailable { .. } => NotifierError::Unavailable(e.to_string()),
        }
    }
}

/// Messages to people's chats (Telegram): the bot's long replies and the alerts after a publish.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Whether anything can be sent (the credentials can be read). Sends nothing.
    async fn ready(&self) -> Result<(), NotifierError>;
    /// Sends `messages` in order per chat, at the pace the service allows; after a chat is
    /// [`Delivery::Blocked`] its remaining messages are not sent. One outcome per chat, in the
    /// order the chats first appear: its first failure, else [`Delivery::Sent`].
    async fn send(
        &self,
        messages: Vec<Notification>,
    ) -> Result<Vec<(i64, Delivery)>, NotifierError>;
}

// ---------------------------------------------------------------------------------------------
// Brokerage

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub status: String,
    pub currency: String,
    pub equity: f64,
    pub cash: f64,
    pub buying_power: f64,
    /// Equity at the previous close, for the day's change.
    pub last_equity: f64,
    /// `paper` or `live`.
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: String,
    pub qty: f64,
    pub avg_entry_price: f64,
    pub current_price: f64,
    pub market_value: f64,
    pub unrealized_pl: f64,
    /// Unrealised return as a fraction (0.25 = +25%).
    pub unrealized_plpc: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerageError {
    #[error("no brokerage is configured: {0}")]
    NotConfigured(String),
    #[error("brokerage unavailable: {0}")]
    Unavailable(String),
    #[error("brokerage credentials refused")]
    Unauthorized,
}

/// The trading account behind the bot's `/portfolio`, `/account` and `/monitor`.
#[async_trait]
pub trait Brokerage: Send + Sync {
    async fn account(&self) -> Result<Account, BrokerageError>;
    async fn positions(&self) -> Result<Vec<Position>, BrokerageError>;
}

// ---------------------------------------------------------------------------------------------
// Re-runs

#[derive(Debug, Clone, PartialEq)]
pub enum RerunOutcome {
    Started { name: String, detail: String },
    AlreadyRunning { name: String, status: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("re-runs are not configured here: {0}")]
    NotConfigured(String),
    #[error("the re-run could not be started: {0}")]
    Failed(String),
}

/// Starting the daily workflow again (the bot's `/rerun`): a Step Functions execution in AWS,
/// an in-process run locally.
#[async_trait]
pub trait Rerun: Send + Sync {
    /// Starts a run for `date` (`None`: the last completed session).
    async fn rerun(&self, date: Option<NaiveDate>) -> Result<RerunOutcome, RerunError>;
}

// ---------------------------------------------------------------------------------------------
// Backtests

/// Where a backtest workflow execution is.
#[derive(Debug, Clone, PartialEq)]
pub enum BacktestState {
    Running,
    Succeeded,
    /// Failed, timed out or aborted: the error name and cause, as far as known.
    Failed {
        error: String,
    },
    /// Not known here (say a local bot that restarted since it started the run).
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("backtests are not configured here: {0}")]
    NotConfigured(String),
    #[error("an execution named {0} already exists")]
    AlreadyExists(String),
    #[error("the backtest workflow could not be reached: {0}")]
    Failed(String),
}

/// The backtest workflow (`statemachine/backtest.asl.json`), started for the bot's
/// `/backtest`: a Step Functions execution in AWS, an in-process run locally.
#[async_trait]
pub trait Backtests: Send + Sync {
    /// Starts the workflow on `request` as the execution `name`; returns where to follow it.
    async fn start(
        &self,
        name: &str,
        request: &crate::backtest::SweepRequest,
    ) -> Result<String, BacktestError>;
    /// Where the execution `name` is.
    async fn state(&self, name: &str) -> Result<BacktestState, BacktestError>;
}

/// The execution name for a re-run requested today: `rerun-2025-06-13-on-20251114`
/// (`rerun-latest-on-...` without a date). Step Functions refuses a second execution of the
/// same name (for 90 days), which makes repeated requests on one day harmless while still
/// allowing a re-run of the same date on a later day.
pub fn execution_name(date: Option<NaiveDate>, today: NaiveDate) -> String {
    let what = date.map_or_else(|| "latest".to_string(), |d| d.to_string());
    format!("rerun-{what}-on-{}", today.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execution_name_is_stable_for_a_date_on_a_day() {
        let today = NaiveDate::from_ymd_opt(2025, 11, 14).unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 6, 13);
        assert_eq!(execution_name(date, today), "rerun-2025-06-13-on-20251114");
        assert_eq!(execution_name(date, today), execution_name(date, today));
        assert_eq!(execution_name(None, today), "rerun-latest-on-20251114");
    }
}
