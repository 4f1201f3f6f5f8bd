//! Error types: each names the input (file or frame), the row or column and the problem.

use std::path::PathBuf;

use polars::prelude::PolarsError;

/// Errors reading bars, computing indicators, screening and writing results.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("{input}: missing required column `{column}` (columns present: {present})")]
    MissingColumn {
        input: String,
        column: String,
        present: String,
    },
    #[error(
        "{input}: row {row} (line {line} of the file), column `{column}`: {problem}: `{value}`"
    )]
    BadCsvValue {
        input: String,
        /// 1-based data row (the header is not counted).
        row: usize,
        /// 1-based line in the file (the header is line 1).
        line: usize,
        column: String,
        value: String,
        problem: String,
    },
    #[error("{input}: row {row}, column `{column}`: {problem}: `{value}`")]
    BadValue {
        input: String,
        /// 1-based row.
        row: usize,
        column: String,
        value: String,
        problem: String,
    },
    #[error("{input}: column `{column}` has type {found}, expected {expected}")]
    BadColumnType {
        input: String,
        column: String,
        found: String,
        expected: String,
    },
    #[error(
        "{input}: more than one bar for symbol `{symbol}` on {date}; bars must be unique per (symbol, date)"
    )]
    DuplicateBar {
        input: String,
        symbol: String,
        date: String,
    },
    #[error(
        "symbol `{symbol}` is in both {first} and {second}; each symbol's bars must come in one part"
    )]
    SymbolInTwoParts {
        symbol: String,
        first: String,
        second: String,
    },
    #[error("{}: unsupported file type; expected a .csv, .csv.gz or .parquet extension", path.display())]
    UnsupportedFormat { path: PathBuf },
    #[error("{}: cannot read or write the file", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}")]
    Polars {
        context: String,
        #[source]
        source: PolarsError,
    },
}

impl AnalyticsError {
    pub(crate) fn polars(context: impl Into<String>) -> impl FnOnce(PolarsError) -> Self {
        let context = context.into();
        move |source| AnalyticsError::Polars { context, source }
    }
}

/// Errors in a screens definition, found before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum ScreenConfigError {
    #[error("screens file is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("the screens file defines no screens; add at least one [[screen]] table")]
    NoScreens,
    #[error(
        "screen name `{name}` is not allowed: use lowercase letters, digits and `_`, starting with a letter"
    )]
    BadName { name: String },
    #[error("screen `{name}` is defined twice")]
    DuplicateName { name: String },
    #[error("screen `{screen}` has no conditions; give at least one, e.g. \"close > sma_200\"")]
    NoConditions { screen: String },
    #[error(
        "screen `{screen}`, condition `{condition}`: unknown metric `{metric}`{suggestion}; valid metrics: {valid}"
    )]
    UnknownMetric {
        screen: String,
        condition: String,
        metric: String,
        /// ", did you mean `x`?" or empty.
        suggestion: String,
        valid: String,
    },
    #[error(
        "screen `{screen}`, condition `{condition}`: bad operator `{operator}`; valid operators: < <= > >= == !="
    )]
    BadOperator {
        screen: String,
        condition: String,
        operator: String,
    },
    #[error(
        "screen `{screen}`, condition `{condition}`: malformed condition: {problem}; expected `metric op value` or `metric op metric`, op one of < <= > >= == !=, e.g. `close > sma_200` or `drawdown_180d <= -0.25`"
    )]
    Malformed {
        screen: String,
        condition: String,
        problem: String,
    },
    #[error(
        "screen `{screen}`, condition `{condition}`: malformed value `{value}`: expected a finite number or a metric name{suggestion}; valid metrics: {valid}"
    )]
    BadValue {
        screen: String,
        condition: String,
        value: String,
        suggestion: String,
        valid: String,
    },
    #[error(
        "screen `{screen}`, sort: unknown metric `{metric}`{suggestion}; valid metrics: {valid}"
    )]
    UnknownSortMetric {
        screen: String,
        metric: String,
        suggestion: String,
        valid: String,
    },
    #[error("screen `{screen}`, sort: bad direction `{direction}`; valid directions: asc, desc")]
    BadDirection { screen: String, direction: String },
}
