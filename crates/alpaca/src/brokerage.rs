//! The [`Brokerage`] port on Alpaca's trading API (`GET /v2/account`, `GET /v2/positions`):
//! what the bot's `/portfolio`, `/account` and `/monitor` read.

use std::time::Duration;

use async_trait::async_trait;
use screener_core::ports::{Account, Brokerage, BrokerageError, MarketDataError, Position};

use crate::Alpaca;
use crate::model as alpaca;

/// Alpaca's trading API (`GET /v2/account`, `GET /v2/positions`) through
/// [`Alpaca`], with its rate limiter, retries and circuit breaker.
///
/// Amounts arrive as decimal strings; one that does not parse is
/// [`BrokerageError::Unavailable`] naming the field (never a made-up zero). A refused key pair
/// is [`BrokerageError::Unauthorized`]; a key pair that is not there at all (no SSM parameter,
/// no environment variable) is [`BrokerageError::NotConfigured`] saying how to add one. The key
/// pair is read on the first command, not at init, and never appears in an error, a log line
/// or `Debug`. Each call gives up after a deadline ([`ALPACA_DEADLINE`]), whatever the client
/// is waiting for (a slow host, its rate limiter, SSM), so the webhook always answers.
pub struct AlpacaBrokerage {
    client: Alpaca,
    /// Shown to the user when the key pair is missing.
    how_to_configure: String,
    deadline: Duration,
}

/// How long one `/portfolio`, `/account` or `/monitor` may wait for Alpaca: inside the bot
/// Lambda's 29 s (the HTTP API gives up at 30 s), with room for the rest of the update.
pub const ALPACA_DEADLINE: Duration = Duration::from_secs(20);

impl std::fmt::Debug for AlpacaBrokerage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaBrokerage")
            .field("client", &self.client)
            .field("how_to_configure", &self.how_to_configure)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl AlpacaBrokerage {
    /// Over `client`; `how_to_configure` is shown when no key pair is configured.
    pub fn new(client: Alpaca, how_to_configure: impl Into<String>) -> Self {
        AlpacaBrokerage {
            client,
            how_to_configure: how_to_configure.into(),
            deadline: ALPACA_DEADLINE,
        }
    }

    /// Another deadline than [`ALPACA_DEADLINE`].
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// `call` with the client, classified, within the deadline.
    async fn call<T, F>(&self, what: &str, call: F) -> Result<T, BrokerageError>
    where
        F: AsyncFnOnce(&Alpaca) -> Result<T, BrokerageError>,
    {
        match tokio::time::timeout(self.deadline, call(&self.client)).await {
            Ok(result) => result,
            Err(_) => Err(BrokerageError::Unavailable(format!(
                "Alpaca did not answer the {what} request within {:?}",
                self.deadline
            ))),
        }
    }

    fn classify(&self, error: MarketDataError) -> BrokerageError {
        match error {
            // A key pair the secrets adapter does not have: not a refusal, nothing set up yet.
            MarketDataError::NotConfigured(detail) => {
                tracing::warn!(%detail, "no Alpaca key pair is configured");
                BrokerageError::NotConfigured(self.how_to_configure.clone())
            }
            MarketDataError::Unauthorized(detail) => {
                tracing::warn!(%detail, "Alpaca refused the key pair");
                BrokerageError::Unauthorized
            }
            other => BrokerageError::Unavailable(other.to_string()),
        }
    }
}

#[async_trait]
impl Brokerage for AlpacaBrokerage {
    async fn account(&self) -> Result<Account, BrokerageError> {
        self.call("account", async |client: &Alpaca| {
            let account = client.account().await.map_err(|e| self.classify(e))?;
            convert_account(&account, &client.config().trading_url)
        })
        .await
    }

    async fn positions(&self) -> Result<Vec<Position>, BrokerageError> {
        self.call("positions", async |client: &Alpaca| {
            let positions = client.positions().await.map_err(|e| self.classify(e))?;
            positions.iter().map(convert_position).collect()
        })
        .await
    }
}

/// One decimal string from Alpaca; `what` names the field (and the symbol) in the error.
fn amount(what: &str, text: &str) -> Result<f64, BrokerageError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(BrokerageError::Unavailable(format!(
            "Alpaca sent no {what}"
        )));
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(BrokerageError::Unavailable(format!(
            "Alpaca sent {what} {text:?}, which is not a decimal number"
        ))),
    }
}

fn optional_amount(what: &str, text: Option<&str>) -> Result<Option<f64>, BrokerageError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => amount(what, text).map(Some),
    }
}

/// `paper` or `live`: the paper host, or a paper account number (`PA...`) behind another URL.
pub fn account_mode(trading_url: &str, account_number: &str) -> &'static str {
    if trading_url.contains("paper-api.") || account_number.starts_with("PA") {
        "paper"
    } else {
        "live"
    }
}

fn convert_account(a: &alpaca::Account, trading_url: &str) -> Result<Account, BrokerageError> {
    Ok(Account {
        status: a.status.clone(),
        currency: if a.currency.is_empty() {
            "USD".into()
        } else {
            a.currency.clone()
        },
        equity: amount("account equity", &a.equity)?,
        cash: amount("account cash", &a.cash)?,
        buying_power: amount("account buying_power", &a.buying_power)?,
        last_equity: amount("account last_equity", &a.last_equity)?,
        mode: account_mode(trading_url, &a.account_number).into(),
    })
}

/// A position; the figures Alpaca may leave out (price, value, P/L) are derived from the
/// ones it sent, and a figure that is there but not a number is an error.
fn convert_position(p: &alpaca::Position) -> Result<Position, BrokerageError> {
    let field = |name: &str| format!("{name} of {}", p.symbol);
    let qty = amount(&field("qty"), &p.qty)?;
    let avg_entry_price = amount(&field("avg_entry_price"), &p.avg_entry_price)?;
    let market_value = optional_amount(&field("market_value"), p.market_value.as_deref())?;
    let current_price = optional_amount(&field("current_price"), p.current_price.as_deref())?;
    let (current_price, market_value) = match (current_price, market_value) {
        (Some(price), Some(value)) => (price, value),
        (Some(price), None) => (price, price * qty),
        (None, Some(value)) if qty != 0.0 => (value / qty, value),
        _ => {
            return Err(BrokerageError::Unavailable(format!(
                "Alpaca sent neither current_price nor market_value of {}",
                p.symbol
            )));
        }
    };
    let cost_basis = optional_amount(&field("cost_basis"), Some(&p.cost_basis))?
        .unwrap_or(qty * avg_entry_price);
    let unrealized_pl = optional_amount(&field("unrealized_pl"), p.unrealized_pl.as_deref())?
        .unwrap_or(market_value - cost_basis);
    // Already a fraction (0.25 = +25%).
    let unrealized_plpc =
        match optional_amount(&field("unrealized_plpc"), p.unrealized_plpc.as_deref())? {
            Some(v) => v,
            None if cost_basis != 0.0 => unrealized_pl / cost_basis.abs(),
            None => 0.0,
        };
    Ok(Position {
        symbol: p.symbol.clone(),
        qty,
        avg_entry_price,
        current_price,
        market_value,
        unrealized_pl,
        unrealized_plpc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alpaca_position(json: serde_json::Value) -> alpaca::Position {
        serde_json::from_value(json).unwrap()
    }

    fn alpaca_account() -> alpaca::Account {
        serde_json::from_value(serde_json::json!({
            "id": "x", "account_number": "123456789", "status": "ACTIVE", "currency": "USD",
            "cash": "1000.5", "equity": "2000", "buying_power": "4000", "last_equity": "1900"
        }))
        .unwrap()
    }

    #[test]
    fn alpaca_decimal_strings_become_numbers_and_the_return_stays_a_fraction() {
        let p = convert_position(&alpaca_position(serde_json::json!({
            "symbol": "AAPL", "qty": "2.5", "avg_entry_price": "100", "market_value": "300",
            "cost_basis": "250", "unrealized_pl": "50", "unrealized_plpc": "0.2",
            "current_price": "120"
        })))
        .unwrap();
        assert_eq!(
            (p.qty, p.avg_entry_price, p.current_price, p.market_value),
            (2.5, 100.0, 120.0, 300.0)
        );
        assert_eq!((p.unrealized_pl, p.unrealized_plpc), (50.0, 0.2));
        let a = convert_account(&alpaca_account(), "https://api.alpaca.markets").unwrap();
        assert_eq!((a.equity, a.cash, a.last_equity), (2000.0, 1000.5, 1900.0));
        assert_eq!(a.mode, "live");
    }

    #[test]
    fn figures_alpaca_leaves_out_are_derived_from_the_ones_it_sent() {
        let p = convert_position(&alpaca_position(serde_json::json!({
            "symbol": "MSFT", "qty": "4", "avg_entry_price": "50", "market_value": "240"
        })))
        .unwrap();
        assert_eq!((p.current_price, p.unrealized_pl), (60.0, 40.0));
        assert!((p.unrealized_plpc - 0.2).abs() < 1e-12);
    }

    #[test]
    fn an_amount_that_is_not_a_number_is_unavailable_and_names_the_field() {
        let err = convert_position(&alpaca_position(serde_json::json!({
            "symbol": "AAPL", "qty": "2", "avg_entry_price": "1,00", "current_price": "1"
        })))
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BrokerageError::Unavailable(_)));
        assert!(
            text.contains("avg_entry_price of AAPL") && text.contains("\"1,00\""),
            "{text}"
        );
        let mut account = alpaca_account();
        account.last_equity = String::new();
        let text = convert_account(&account, "x").unwrap_err().to_string();
        assert!(text.contains("no account last_equity"), "{text}");
        account.equity = "NaN".into();
        let text = convert_account(&account, "x").unwrap_err().to_string();
        assert!(text.contains("account equity \"NaN\""), "{text}");
    }

    #[test]
    fn paper_or_live_comes_from_the_host_or_the_account_number() {
        assert_eq!(
            account_mode("https://paper-api.alpaca.markets", "9"),
            "paper"
        );
        assert_eq!(account_mode("https://api.alpaca.markets", "123"), "live");
        assert_eq!(account_mode("http://127.0.0.1:9", "PA3FAKE00001"), "paper");
    }
}
