//! Integration tests of screener-analytics: one binary, one module per area.

mod catalogue;
mod common;
mod io;
mod metrics;
mod polars_oracle;
mod screen;
mod talib;
mod validate_parquet;
