//! Integration tests of screener-analytics: one binary, one module per area.

mod catalogue;
mod common;
mod core_parquet;
mod io;
mod metrics;
mod polars_oracle;
mod screen;
mod talib;
