//! The brokerage commands: `/portfolio` (open positions), `/account` (equity, cash, buying
//! power) and `/monitor` (the profit check), through the [`crate::brokerage::Brokerage`] port.

use std::fmt::Write;

use super::format::{money, num, pct};
use crate::BotDeps;
use crate::brokerage::profit_check;
use screener_core::ports::BrokerageError;
use screener_telegram::api::escape;

/// `/monitor` averages this many positions.
const MONITOR_TOP: usize = 5;

fn brokerage_unavailable(e: &BrokerageError) -> String {
    match e {
        BrokerageError::NotConfigured(how) => {
            format!("No brokerage account is connected: {}.", escape(how))
        }
        BrokerageError::Unauthorized => {
            tracing::error!(error = %e, "brokerage refused the credentials");
            "The brokerage refused the bot's credentials; the operator needs to check them.".into()
        }
        BrokerageError::Unavailable(_) => {
            tracing::error!(error = %e, "brokerage unavailable");
            "Sorry, I can't reach the brokerage right now. Please try again in a few minutes."
                .into()
        }
    }
}

pub(super) async fn portfolio(deps: &BotDeps) -> String {
    let mut positions = match deps.brokerage.positions().await {
        Ok(p) => p,
        Err(e) => return brokerage_unavailable(&e),
    };
    if positions.is_empty() {
        return "No open positions.".into();
    }
    positions.sort_by(|a, b| b.market_value.total_cmp(&a.market_value));
    let mut out = format!("<b>Positions</b> ({})\n<pre>", positions.len());
    let _ = write!(
        out,
        "\n{:<7} {:>8} {:>9} {:>11} {:>7}",
        "SYMBOL", "QTY", "PRICE", "VALUE", "P/L"
    );
    for p in &positions {
        let _ = write!(
            out,
            "\n{:<7} {:>8} {:>9.2} {:>11} {:>7}",
            escape(&p.symbol),
            num(Some(p.qty), if p.qty.fract() == 0.0 { 0 } else { 3 }),
            p.current_price,
            money(p.market_value),
            pct(Some(p.unrealized_plpc)),
        );
    }
    let value: f64 = positions.iter().map(|p| p.market_value).sum();
    let pl: f64 = positions.iter().map(|p| p.unrealized_pl).sum();
    let _ = write!(
        out,
        "\n</pre>Total {}, unrealised P/L {}",
        money(value),
        money(pl)
    );
    out
}

pub(super) async fn account(deps: &BotDeps) -> String {
    let a = match deps.brokerage.account().await {
        Ok(a) => a,
        Err(e) => return brokerage_unavailable(&e),
    };
    let day = a.equity - a.last_equity;
    let day_pct = if a.last_equity != 0.0 {
        day / a.last_equity
    } else {
        0.0
    };
    format!(
        "<b>Account</b> ({} · {})\nEquity: {}\nToday: {} ({})\nCash: {}\nBuying power: {}\nStatus: {}",
        escape(&a.mode),
        escape(&a.currency),
        money(a.equity),
        money(day),
        pct(Some(day_pct)),
        money(a.cash),
        money(a.buying_power),
        escape(&a.status)
    )
}

pub(super) async fn monitor(deps: &BotDeps) -> String {
    let positions = match deps.brokerage.positions().await {
        Ok(p) => p,
        Err(e) => return brokerage_unavailable(&e),
    };
    let target = deps.settings.profit_target_pct;
    let Some(check) = profit_check(&positions, MONITOR_TOP, target) else {
        return "No open positions to check.".into();
    };
    let mut out = format!(
        "<b>Profit check</b>: average unrealised return of the top {} positions\n<pre>",
        check.considered.len()
    );
    for p in &check.considered {
        let _ = write!(
            out,
            "\n{:<7} {:>8}",
            escape(&p.symbol),
            pct(Some(p.unrealized_plpc))
        );
    }
    let _ = write!(
        out,
        "\n</pre>Average {:+.1}% vs target {:+.1}%: {}",
        check.average_return_pct,
        check.target_pct,
        if check.reached {
            "✅ <b>target reached</b>"
        } else {
            "not reached yet"
        }
    );
    out
}
