//! Integration tests of the backtest engine, one binary with modules: the spec's edge cases
//! on hand-made markets, the look-ahead test, the reference comparison with vectorbt,
//! alphalens-reloaded and empyrical-reloaded, and a smoke run on real data.

mod common;
mod edge_cases;
mod look_ahead;
mod reference;
mod smoke;
