//! Integration tests of the backtest engine, one binary with modules.

mod smoke;
