//! The profit check behind `/monitor`, as the old system ran it. The brokerage itself is a
//! port ([`screener_core::ports::Brokerage`]): Alpaca's in `screener_alpaca::brokerage`, a
//! made-up demo in `screener_core::local`, picked by the composition root.

use screener_core::ports::Position;

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
    use screener_core::local::FakeBrokerage;

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
