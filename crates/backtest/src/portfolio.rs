//! The portfolio simulation (S4-S6): equal-weight targets, fills at the next open with
//! vectorbt's `Portfolio.from_orders` rules (target percent, long only, cash sharing,
//! sells first, `update_value=False`, fees on top), valuation at every close.
//!
//! This layer produces the equity series and the order and position facts; the statistics
//! over returns live in `stats`, which knows nothing of orders.

use crate::calendar::Calendar;
use crate::panel::Panel;
use crate::select::Selections;

/// vectorbt's tolerances (`vectorbt.utils.math_`): relative and absolute.
const REL_TOL: f64 = 1e-9;
const ABS_TOL: f64 = 1e-12;

/// vectorbt's `is_close_nb`.
#[inline]
fn is_close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() || a.is_infinite() || b.is_infinite() {
        return false;
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= (REL_TOL * a.abs().max(b.abs())).max(ABS_TOL)
}

/// vectorbt's `add_nb`: `a + b`, exactly 0 when the two cancel within the tolerances.
#[inline]
fn add(a: f64, b: f64) -> f64 {
    let cancels = if sign(a) != sign(b) {
        is_close(a.abs(), b.abs())
    } else {
        is_close(a + b, 0.0)
    };
    if cancels { 0.0 } else { a + b }
}

/// `numpy.sign`: -1, 0 or 1 (0 for both zeros).
#[inline]
fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// Values within the absolute tolerance of 0 are 0 (`execute_order_nb` does this to cash and
/// position before every order).
#[inline]
fn snap(x: f64) -> f64 {
    if is_close(x, 0.0) { 0.0 } else { x }
}

/// A key that sorts like the float (not NaN): integer comparisons sort faster.
#[inline]
fn sortable(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// What the simulation of one portfolio produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    /// `E` at every session's close from `t0` to `last`.
    pub equity: Vec<f64>,
    /// Per fill: the selection size `n`, the pre-trade value `V` and the traded value
    /// (sum of shares x price over filled orders).
    pub fills: Vec<FillFacts>,
    pub fees_paid: f64,
    pub n_orders: usize,
    pub n_orders_skipped_no_open: usize,
    /// Sum over the sessions after `t0` of the number of symbols held at the close.
    pub holdings_sum: usize,
    pub n_closed_positions: usize,
    pub n_winning_positions: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillFacts {
    pub selected: usize,
    pub value: f64,
    pub traded: f64,
    pub fees: f64,
    pub orders: usize,
    pub skipped: usize,
}

impl FillFacts {
    pub fn turnover(&self) -> f64 {
        self.traded / self.value
    }
}

/// An order's outcome: shares (positive), price and fees.
struct Filled {
    size: f64,
    price: f64,
    fees: f64,
    buy: bool,
}

/// `execute_order_nb` for a target-percent, long-only order with no slippage, no fixed
/// fees, `min_size = 0`, partial fills allowed: `w` of `value` at `val_price`, filled at
/// `price`. Returns the new cash and position and the fill, if any.
fn execute(
    cash: f64,
    position: f64,
    val_price: f64,
    value: f64,
    w: f64,
    price: f64,
    f: f64,
) -> (f64, f64, Option<Filled>) {
    let (cash, position, value) = (snap(cash), snap(position), snap(value));
    if value <= 0.0 {
        return (cash, position, None);
    }
    let size = w * value / val_price - position;
    if size > 0.0 {
        // buy_nb
        if cash == 0.0 {
            return (cash, position, None);
        }
        let req_cash = size * price;
        let req_fees = req_cash * f;
        let total = req_cash + req_fees;
        let (final_size, fees_paid, final_req_cash) = if is_close(total, cash) || total < cash {
            (size, req_fees, total)
        } else {
            let max_req_cash = cash / (1.0 + f);
            if max_req_cash <= 0.0 {
                return (cash, position, None);
            }
            (max_req_cash / price, cash - max_req_cash, cash)
        };
        if is_close(size, 0.0) {
            return (cash, position, None);
        }
        let filled = Filled {
            size: final_size,
            price,
            fees: fees_paid,
            buy: true,
        };
        (
            add(cash, -final_req_cash),
            add(position, final_size),
            Some(filled),
        )
    } else {
        // sell_nb, long only
        let size_limit = position.min(-size);
        if position == 0.0 || is_close(size_limit, 0.0) {
            return (cash, position, None);
        }
        let acq_cash = size_limit * price;
        let fees_paid = acq_cash * f;
        let final_acq_cash = add(acq_cash, -fees_paid);
        if final_acq_cash < 0.0 {
            return (cash, position, None);
        }
        let filled = Filled {
            size: size_limit,
            price,
            fees: fees_paid,
            buy: false,
        };
        (
            cash + final_acq_cash,
            add(position, -size_limit),
            Some(filled),
        )
    }
}

/// Simulates one portfolio: `selections[k]` are the targets of fill `k` (equal weights).
pub(crate) fn simulate(
    cal: &Calendar,
    panel: &Panel,
    selections: &Selections,
    f: f64,
) -> Simulation {
    let panel_len = cal.panel_len();
    let mut equity = vec![f64::NAN; panel_len];
    let mut held_shares: Vec<(usize, f64)> = Vec::new();
    let mut cash = 1.0f64;
    let mut shares = vec![0.0f64; panel.n];
    // Cash flows of each open position, fees included (its PnL when it closes).
    let mut flows = vec![0.0f64; panel.n];
    let mut target = vec![0.0f64; panel.n];
    // Symbols with shares, in symbol order.
    let mut held: Vec<u32> = Vec::new();
    let mut sim = Simulation {
        equity: Vec::new(),
        fills: Vec::with_capacity(cal.n_fills),
        fees_paid: 0.0,
        n_orders: 0,
        n_orders_skipped_no_open: 0,
        holdings_sum: 0,
        n_closed_positions: 0,
        n_winning_positions: 0,
    };
    let mut orders: Vec<(u64, u32)> = Vec::new();
    let mut participants: Vec<u32> = Vec::new();
    let mut val_price = vec![f64::NAN; panel.n];

    // Before the first fill nothing is held: E = 1 (S6).
    let first_fill = if cal.n_fills > 0 {
        cal.fill_position(0)
    } else {
        panel_len
    };
    equity[..first_fill].fill(cash);

    for (k, selection) in selections.iter().enumerate().take(cal.n_fills) {
        let p = cal.fill_position(k);
        let w = if selection.is_empty() {
            0.0
        } else {
            1.0 / selection.len() as f64
        };
        for &s in selection {
            target[s as usize] = w;
        }
        // Held symbols, then the selected ones not held (each once).
        participants.clear();
        participants.extend_from_slice(&held);
        participants.extend(
            selection
                .iter()
                .copied()
                .filter(|&s| shares[s as usize] == 0.0),
        );
        // Valuation price: the open, or the last close before the fill day (S5 step 1).
        let opens = panel.open_row(k);
        let before = panel.close_row(p - 1);
        for &s in &participants {
            let open = opens[s as usize];
            val_price[s as usize] = if open.is_nan() {
                before[s as usize]
            } else {
                open
            };
        }
        // Pre-trade value, fixed for the whole fill (update_value=False).
        let mut value = cash;
        for &s in &held {
            value += shares[s as usize] * val_price[s as usize];
        }
        // Sells first (most negative order value first), ties by symbol: vectorbt's
        // call_seq="auto" (a stable sort of approx_order_value over the columns).
        orders.clear();
        for &s in &participants {
            let j = s as usize;
            let a = target[j] * value - shares[j] * val_price[j];
            // +0.0 for -0.0, so the two tie as in vectorbt's comparison.
            orders.push((sortable(a + 0.0), s));
        }
        orders.sort_unstable();
        let mut facts = FillFacts {
            selected: selection.len(),
            value,
            traded: 0.0,
            fees: 0.0,
            orders: 0,
            skipped: 0,
        };
        for &(_, s) in &orders {
            let j = s as usize;
            let open = opens[j];
            if open.is_nan() {
                // No bar on the fill day: no order; shares kept, the target's cash stays cash.
                facts.skipped += 1;
                cash = snap(cash);
                continue;
            }
            let (new_cash, new_shares, filled) =
                execute(cash, shares[j], val_price[j], value, target[j], open, f);
            cash = new_cash;
            let before = shares[j];
            shares[j] = new_shares;
            if let Some(o) = filled {
                facts.orders += 1;
                facts.fees += o.fees;
                let gross = o.size * o.price;
                facts.traded += gross;
                if o.buy {
                    flows[j] -= gross + o.fees;
                } else {
                    flows[j] += gross - o.fees;
                }
                if before != 0.0 && new_shares == 0.0 {
                    sim.n_closed_positions += 1;
                    if flows[j] > 0.0 {
                        sim.n_winning_positions += 1;
                    }
                    flows[j] = 0.0;
                }
            }
        }
        // vectorbt zeroes a cash balance within 1e-12 of 0 before it next uses it.
        cash = snap(cash);
        for &s in selection {
            target[s as usize] = 0.0;
        }
        held.clear();
        held.extend(
            participants
                .iter()
                .copied()
                .filter(|&s| shares[s as usize] != 0.0),
        );
        held.sort_unstable();
        sim.n_orders += facts.orders;
        sim.n_orders_skipped_no_open += facts.skipped;
        sim.fees_paid += facts.fees;
        sim.fills.push(facts);

        // Value every close until the next fill: E = C + sum q * close_ff, in symbol order.
        let end = if k + 1 < cal.n_fills {
            cal.fill_position(k + 1)
        } else {
            panel_len
        };
        held_shares.clear();
        held_shares.extend(held.iter().map(|&s| (s as usize, shares[s as usize])));
        for (i, e) in equity[p..end].iter_mut().enumerate() {
            let closes = panel.close_row(p + i);
            let mut value = cash;
            for &(s, q) in &held_shares {
                value += q * closes[s];
            }
            *e = value;
        }
        sim.holdings_sum += held.len() * (end - p);
    }
    sim.equity = equity;
    sim
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_cancels_within_the_tolerances() {
        assert_eq!(add(1.0, -1.0 + 1e-12), 0.0);
        assert_eq!(add(1.0, -0.5), 0.5);
        assert_eq!(add(1e-13, 0.0), 0.0);
    }

    #[test]
    fn a_first_buy_from_cash_invests_v_over_one_plus_f() {
        // Whole cash 1.0, target 100% at price 2, 10 bps: partial fill with all the cash.
        let (cash, q, o) = execute(1.0, 0.0, 2.0, 1.0, 1.0, 2.0, 0.001);
        let o = o.unwrap();
        assert_eq!(cash, 0.0);
        assert_eq!(q, 1.0 / 1.001 / 2.0);
        assert!((o.size * o.price - 1.0 / 1.001).abs() < 1e-15);
        assert!((o.fees - (1.0 - 1.0 / 1.001)).abs() < 1e-15);
    }
}
