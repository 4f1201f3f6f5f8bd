//! The per-symbol pass: one symbol's whole history in, only what the backtest needs out.
//!
//! The indicators run over the symbol's whole history (S2) but are evaluated only at its
//! bars on rebalance dates ([`screener_analytics::compute_at`]); the screens are applied
//! there at once, so what is kept per symbol is small: its closes from `t0` on (forward
//! filled), its opens on fill days, and per rebalance date whether it is eligible, passes
//! each screen, and its value of each sort metric. Nothing is materialised per
//! (symbol, date, indicator).

use screener_analytics::{N_METRICS, SymbolBars, compute_at};

use crate::calendar::Calendar;
use crate::plan::Plan;

/// What the backtest keeps of one symbol.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolData {
    pub name: String,
    /// `close_ff` at every panel position (`t0..=last`): the last valid close on or before
    /// that session, NaN before the first one on or after `t0`.
    pub close_ff: Vec<f64>,
    /// The open on each fill day, NaN when the symbol has no bar or no valid open there.
    pub open_fill: Vec<f64>,
    /// Bit `k`: eligible on rebalance date `k` (a bar with a finite close > 0).
    pub eligible: Vec<u64>,
    /// Bit `s * n_rebalances + k`: passes screen `s` on rebalance date `k` (eligible or not).
    pub pass: Vec<u64>,
    /// `keys[j * n_rebalances + k]`: sort metric `j` on rebalance date `k` (NaN = null).
    pub keys: Vec<f64>,
}

#[inline]
pub(crate) fn bit(bits: &[u64], k: usize) -> bool {
    bits[k / 64] >> (k % 64) & 1 == 1
}

#[inline]
fn set_bit(bits: &mut [u64], k: usize) {
    bits[k / 64] |= 1 << (k % 64);
}

#[inline]
fn valid_price(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

#[inline]
fn finite_or_nan(x: f64) -> f64 {
    if x.is_finite() { x } else { f64::NAN }
}

impl SymbolData {
    #[inline]
    pub fn is_eligible(&self, k: usize) -> bool {
        bit(&self.eligible, k)
    }

    #[inline]
    pub fn passes(&self, screen: usize, n_rebalances: usize, k: usize) -> bool {
        bit(&self.pass, screen * n_rebalances + k)
    }

    #[inline]
    pub fn key(&self, key: usize, n_rebalances: usize, k: usize) -> f64 {
        self.keys[key * n_rebalances + k]
    }
}

/// Extracts one symbol (bars sorted by strictly increasing date). `None` when it has no bar
/// from `t0` to `last`: it can never be eligible, selected or held.
pub(crate) fn extract(
    name: &str,
    b: &SymbolBars<'_>,
    cal: &Calendar,
    plan: &Plan,
) -> Option<SymbolData> {
    let sessions = &cal.sessions;
    let t0_day = sessions[cal.t0];
    let last_day = sessions[cal.last];
    // Nothing after the end is ever used (S1).
    let n = b.dates.partition_point(|&d| d <= last_day);
    let first = b.dates[..n].partition_point(|&d| d < t0_day);
    if first == n {
        return None;
    }
    let b = SymbolBars {
        dates: &b.dates[..n],
        open: &b.open[..n],
        high: &b.high[..n],
        low: &b.low[..n],
        close: &b.close[..n],
        volume: &b.volume[..n],
    };
    let panel = cal.panel_len();
    let n_rebal = cal.rebalances.len();
    let mut close_ff = vec![f64::NAN; panel];
    let mut open_fill = vec![f64::NAN; cal.n_fills];
    let mut eligible = vec![0u64; n_rebal.div_ceil(64)];
    // Bar index of each rebalance date where the symbol is eligible, with that date's k.
    let mut at: Vec<usize> = Vec::new();
    let mut at_k: Vec<usize> = Vec::new();

    // Walk the bars from t0 and the panel sessions together (every bar date is a session).
    let mut j = first;
    let mut current = f64::NAN;
    let mut next_rebalance = 0;
    let mut next_fill = 0;
    for (p, ff) in close_ff.iter_mut().enumerate() {
        let day = sessions[cal.t0 + p];
        let has_bar = j < n && b.dates[j] == day;
        if has_bar && valid_price(b.close[j]) {
            current = b.close[j];
        }
        *ff = current;
        if next_rebalance < n_rebal && cal.rebalances[next_rebalance] == p {
            if has_bar && valid_price(b.close[j]) {
                set_bit(&mut eligible, next_rebalance);
                at.push(j);
                at_k.push(next_rebalance);
            }
            next_rebalance += 1;
        }
        if next_fill < cal.n_fills && cal.fill_position(next_fill) == p {
            if has_bar && valid_price(b.open[j]) {
                open_fill[next_fill] = b.open[j];
            }
            next_fill += 1;
        }
        if has_bar {
            j += 1;
        }
    }

    let mut rows = vec![[f64::NAN; N_METRICS]; at.len()];
    compute_at(&b, &at, &plan.wanted(), &mut rows);
    let mut pass = vec![0u64; (plan.screens.len() * n_rebal).div_ceil(64)];
    let mut keys = vec![f64::NAN; plan.keys.len() * n_rebal];
    for ((&i, &k), row) in at.iter().zip(&at_k).zip(&rows) {
        // Bar metrics as the daily screen sees them: non-finite is null.
        let bar = [b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i]].map(finite_or_nan);
        for (s, screen) in plan.screens.iter().enumerate() {
            if screen.passes(&bar, row) {
                set_bit(&mut pass, s * n_rebal + k);
            }
        }
        for (key, metric) in plan.keys.iter().enumerate() {
            keys[key * n_rebal + k] = metric.value(&bar, row);
        }
    }
    Some(SymbolData {
        name: name.to_string(),
        close_ff,
        open_fill,
        eligible,
        pass,
        keys,
    })
}

/// Every symbol's data laid out date-major for the cross-sectional layers: on a given
/// session (or rebalance date, or fill) all symbols sit side by side, so the selection, the
/// valuation and the factor analysis read contiguous rows instead of one cache line per
/// symbol. Symbols are in byte order of their names; matrices are `[row * n + symbol]`.
pub(crate) struct Panel {
    pub names: Vec<String>,
    pub n: usize,
    /// `close_ff` by panel position.
    pub close: Vec<f64>,
    /// Fill-day opens by fill (NaN: no bar or no valid open).
    pub open: Vec<f64>,
    /// Eligible, by rebalance date.
    pub eligible: Vec<bool>,
    /// Passes screen `s` on rebalance date `k`: row `s * n_rebal + k`.
    pub pass: Vec<bool>,
    /// Sort metric `j` on rebalance date `k`: row `j * n_rebal + k`.
    pub keys: Vec<f64>,
}

impl Panel {
    /// Lays the symbols (sorted by name, distinct) out date-major, freeing each symbol's own
    /// vectors as it goes so the two layouts are never both whole in memory.
    pub fn new(symbols: Vec<SymbolData>, cal: &Calendar, plan: &Plan) -> Panel {
        let n = symbols.len();
        let n_rebal = cal.rebalances.len();
        let panel_len = cal.panel_len();
        // Zeroed allocations are mapped lazily: pages become resident as they are written.
        let mut close = vec![0.0f64; panel_len * n];
        let mut open = vec![0.0f64; cal.n_fills * n];
        let mut eligible = vec![false; n_rebal * n];
        let mut pass = vec![false; plan.screens.len() * n_rebal * n];
        let mut keys = vec![0.0f64; plan.keys.len() * n_rebal * n];
        let mut names = Vec::with_capacity(n);
        for (s, d) in symbols.into_iter().enumerate() {
            for (p, &c) in d.close_ff.iter().enumerate() {
                close[p * n + s] = c;
            }
            for (k, &o) in d.open_fill.iter().enumerate() {
                open[k * n + s] = o;
            }
            for k in 0..n_rebal {
                eligible[k * n + s] = bit(&d.eligible, k);
            }
            for row in 0..plan.screens.len() * n_rebal {
                pass[row * n + s] = bit(&d.pass, row);
            }
            for (row, &v) in d.keys.iter().enumerate() {
                keys[row * n + s] = v;
            }
            names.push(d.name);
        }
        Panel {
            names,
            n,
            close,
            open,
            eligible,
            pass,
            keys,
        }
    }

    #[inline]
    pub fn close_row(&self, p: usize) -> &[f64] {
        &self.close[p * self.n..(p + 1) * self.n]
    }

    #[inline]
    pub fn open_row(&self, k: usize) -> &[f64] {
        &self.open[k * self.n..(k + 1) * self.n]
    }

    #[inline]
    pub fn eligible_row(&self, k: usize) -> &[bool] {
        &self.eligible[k * self.n..(k + 1) * self.n]
    }

    #[inline]
    pub fn pass_row(&self, screen: usize, n_rebal: usize, k: usize) -> &[bool] {
        let row = screen * n_rebal + k;
        &self.pass[row * self.n..(row + 1) * self.n]
    }

    #[inline]
    pub fn key_row(&self, key: usize, n_rebal: usize, k: usize) -> &[f64] {
        let row = key * n_rebal + k;
        &self.keys[row * self.n..(row + 1) * self.n]
    }
}
