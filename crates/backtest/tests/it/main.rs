//! Integration tests of the backtest engine, one binary with modules: the spec's edge cases
//! on hand-made markets, the look-ahead test, the reference comparison with vectorbt,
//! alphalens-reloaded and empyrical-reloaded, a smoke run on real data, and `report.html` in
//! headless Chromium.

mod common;
mod edge_cases;
mod look_ahead;
mod reference;
mod report;
mod smoke;
