//! Selections on each rebalance date (S2, S3): among the eligible symbols, those passing
//! every condition, ordered by the sort metric (nulls last, ties by symbol), the first
//! `limit` kept. The benchmark "selects" every eligible symbol.

use std::cmp::Ordering;

use crate::panel::Panel;
use crate::plan::CompiledScreen;

/// Symbol indices (into the symbol-sorted table) selected on each rebalance date, in rank order.
pub type Selections = Vec<Vec<u32>>;

/// Every eligible symbol on each rebalance date, in symbol order.
pub(crate) fn eligible(panel: &Panel, n_rebal: usize) -> Selections {
    (0..n_rebal)
        .map(|k| {
            let row = panel.eligible_row(k);
            (0..panel.n as u32).filter(|&s| row[s as usize]).collect()
        })
        .collect()
}

/// The ranked selections of screen `index` on every rebalance date.
pub(crate) fn screen(
    screen: &CompiledScreen,
    index: usize,
    panel: &Panel,
    eligible: &Selections,
) -> Selections {
    let n_rebal = eligible.len();
    let mut candidates: Vec<(f64, u32)> = Vec::new();
    eligible
        .iter()
        .enumerate()
        .map(|(k, on_date)| {
            candidates.clear();
            let pass = panel.pass_row(index, n_rebal, k);
            let key = panel.key_row(screen.key, n_rebal, k);
            for &s in on_date {
                if pass[s as usize] {
                    candidates.push((key[s as usize], s));
                }
            }
            // Symbols are indexed in byte order of their names, so ties by index are ties
            // by symbol.
            let by_rank = |a: &(f64, u32), b: &(f64, u32)| -> Ordering {
                let by_value = match (a.0.is_nan(), b.0.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    // partial_cmp: -0.0 and 0.0 tie, as in the daily screen's sort.
                    (false, false) if screen.descending => {
                        b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal)
                    }
                    (false, false) => a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal),
                };
                by_value.then(a.1.cmp(&b.1))
            };
            let keep = screen.limit.min(candidates.len());
            if keep < candidates.len() {
                if keep > 0 {
                    candidates.select_nth_unstable_by(keep - 1, by_rank);
                }
                candidates.truncate(keep);
            }
            candidates.sort_unstable_by(by_rank);
            candidates.iter().map(|c| c.1).collect()
        })
        .collect()
}
