//! Alpaca as the screener's market data source.
//!
//! * [`client`]: [`Alpaca`], the HTTP client (`reqwest` with rustls, one connection pool per
//!   instance; build one per process): assets, paginated multi-symbol daily bars, calendar,
//!   account and positions, with the rate limiter ([`limiter`]), the retry loop and the
//!   circuit breaker ([`breaker`]) in front of every request, and each failure classified into
//!   a [`screener_core::ports::MarketDataError`] (and so a stable step error name).
//! * [`config`]: [`AlpacaConfig`] from `ALPACA_*` environment variables.
//! * [`universe`]: which assets are screened; [`batching`]: how many symbols per batch.
//! * [`history`]: the bar history in the store and the incremental daily fetch.
//! * [`brokerage`]: the [`Brokerage`](screener_core::ports::Brokerage) port on the trading
//!   API (account and positions, for the bot).
//! * [`model`]: Alpaca's JSON, and the New York date of a daily bar.
//! * [`clock`]: real or simulated time for every wait.
//! * `testing` (feature `testing`): a loopback Alpaca server for tests and the benchmark.

pub mod batching;
pub mod breaker;
pub mod brokerage;
pub mod client;
pub mod clock;
pub mod config;
pub mod history;
pub mod limiter;
pub mod model;
#[cfg(feature = "testing")]
pub mod testing;
pub mod universe;

pub use client::{Alpaca, CredentialSource, StatsSnapshot};
pub use config::AlpacaConfig;
