//! The brokerage behind `/portfolio`, `/account` and `/monitor`: a small trait the bot needs,
//! a local fake, and the profit check the old system ran.
//!
//! TODO(alpaca adapter): not wired yet. `crates/alpaca` landed late in this work (its client has
//! `Alpaca::account()` and `Alpaca::positions()`, amounts as decimal strings, and
//! `screener_runtime::build_alpaca(&config)` builds it with the key pair from SSM/env). What is
//! left: an `AlpacaBrokerage(screener_alpaca::Alpaca)` implementing [`Brokerage`] (parse the
//! strings to f64; `unrealized_plpc` is already a fraction; map `MarketDataError::Unauthorized`
//! to [`BrokerageError::Unauthorized`], the rest to `Unavailable`), built in
//! `wiring::brokerage` when the `ALPACA_*` configuration is present, plus a test against
//! `screener_alpaca::testing`'s loopback server. Until then the deployed bot answers these
//! commands with [`NotConfigured`], and locally `SCREENER_BOT_FAKE_BROKERAGE=1` serves
//! [`FakeBrokerage`]'s made-up positions.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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

#[async_trait]
pub trait Brokerage: Send + Sync {
    async fn account(&self) -> Result<Account, BrokerageError>;
    async fn positions(&self) -> Result<Vec<Position>, BrokerageError>;
}

/// No brokerage: every call says how to configure one.
pub struct NotConfigured(pub String);

#[async_trait]
impl Brokerage for NotConfigured {
    async fn account(&self) -> Result<Account, BrokerageError> {
        Err(BrokerageError::NotConfigured(self.0.clone()))
    }
    async fn positions(&self) -> Result<Vec<Position>, BrokerageError> {
        Err(BrokerageError::NotConfigured(self.0.clone()))
    }
}

/// Made-up paper positions, for local use and tests.
#[derive(Debug, Clone)]
pub struct FakeBrokerage {
    pub account: Account,
    pub positions: Vec<Position>,
}

impl FakeBrokerage {
    pub fn new(account: Account, positions: Vec<Position>) -> Self {
        FakeBrokerage { account, positions }
    }

    /// A small demo portfolio, clearly labelled fake in its account status.
    pub fn demo() -> Self {
        let position = |symbol: &str, qty: f64, entry: f64, price: f64| Position {
            symbol: symbol.into(),
            qty,
            avg_entry_price: entry,
            current_price: price,
            market_value: qty * price,
            unrealized_pl: qty * (price - entry),
            unrealized_plpc: price / entry - 1.0,
        };
        let positions = vec![
            position("AAA", 10.0, 50.0, 120.0),
            position("BBB", 5.0, 200.0, 260.0),
            position("CCC", 100.0, 8.0, 6.0),
            position("DDD", 20.0, 30.0, 75.0),
            position("EEE", 40.0, 12.5, 13.0),
            position("FFF", 3.0, 400.0, 390.0),
        ];
        let invested: f64 = positions.iter().map(|p| p.market_value).sum();
        FakeBrokerage {
            account: Account {
                status: "FAKE (local demo, not a real account)".into(),
                currency: "USD".into(),
                equity: invested + 10_000.0,
                cash: 10_000.0,
                buying_power: 20_000.0,
                last_equity: invested + 9_500.0,
                mode: "paper".into(),
            },
            positions,
        }
    }
}

#[async_trait]
impl Brokerage for FakeBrokerage {
    async fn account(&self) -> Result<Account, BrokerageError> {
        Ok(self.account.clone())
    }
    async fn positions(&self) -> Result<Vec<Position>, BrokerageError> {
        Ok(self.positions.clone())
    }
}

/// The old system's profit check: the average unrealised return of the `top` positions with
/// the highest unrealised return, against a target (percent).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfitCheck {
    pub considered: Vec<Position>,
    /// Percent, e.g. 85.0.
    pub average_return_pct: f64,
    pub target_pct: f64,
    pub reached: bool,
}

pub fn profit_check(positions: &[Position], top: usize, target_pct: f64) -> Option<ProfitCheck> {
    if positions.is_empty() {
        return None;
    }
    let mut sorted = positions.to_vec();
    sorted.sort_by(|a, b| b.unrealized_plpc.total_cmp(&a.unrealized_plpc));
    sorted.truncate(top);
    let average_return_pct =
        sorted.iter().map(|p| p.unrealized_plpc).sum::<f64>() / sorted.len() as f64 * 100.0;
    Some(ProfitCheck {
        considered: sorted,
        average_return_pct,
        target_pct,
        reached: average_return_pct >= target_pct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profit_check_averages_the_best_five_returns() {
        let demo = FakeBrokerage::demo();
        let check = profit_check(&demo.positions, 5, 100.0).unwrap();
        // Returns: +140%, +30%, -25%, +150%, +4%, -2.5% -> best five: 150, 140, 30, 4, -2.5.
        assert_eq!(check.considered.len(), 5);
        assert_eq!(check.considered[0].symbol, "DDD");
        assert!(
            (check.average_return_pct - 64.3).abs() < 1e-9,
            "{}",
            check.average_return_pct
        );
        assert!(!check.reached);
        assert!(profit_check(&demo.positions, 2, 100.0).unwrap().reached);
        assert!(profit_check(&[], 5, 100.0).is_none());
    }
}
