//! Forward returns and factor analysis (S9): pure functions over the (rebalance date,
//! symbol) table; nothing here knows about orders or positions.
//!
//! The factor analysis is what alphalens-reloaded's `get_clean_factor_and_forward_returns`
//! (quantiles=5, filter_zscore=None, max_loss=1.0), `factor_information_coefficient` and
//! `mean_return_by_quantile` compute, written out: the quantile edges follow pandas'
//! `qcut` and numpy's linear `quantile` operation by operation, so a value that sits on an
//! edge lands in the same quantile.

use crate::calendar::Calendar;
use crate::input::parallel_map;
use crate::panel::Panel;
use crate::select::Selections;

pub const QUANTILES: usize = 5;

/// pandas `qcut(x, 5)`'s probabilities: `linspace(0, 1, 6)`, each nudged up to the next
/// float where `5 * q` is not a whole number (only 0.6000000000000001 is).
const QCUT_PROBS: [f64; QUANTILES + 1] = [
    0.0,
    0.2,
    0.4,
    f64::from_bits(0x3FE3_3333_3333_3335),
    0.8,
    1.0,
];

/// Pooled forward returns of one horizon over (date, symbol) pairs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForwardStats {
    /// Mean over all pairs (NaN without pairs).
    pub mean: f64,
    /// Share of pairs with a return > 0 (NaN without pairs).
    pub hit_rate: f64,
    pub n: usize,
}

/// Forward returns of the pairs (rebalance date, symbol in `selections` on that date), per
/// horizon, each horizon over the pairs whose `t + h <= last`.
pub(crate) fn forward_returns(
    cal: &Calendar,
    panel: &Panel,
    selections: &Selections,
    horizons: &[usize],
) -> Vec<ForwardStats> {
    let panel_len = cal.panel_len();
    horizons
        .iter()
        .map(|&h| {
            let (mut sum, mut positive, mut n) = (0.0f64, 0usize, 0usize);
            for (k, selected) in selections.iter().enumerate() {
                let p = cal.rebalances[k];
                if p + h >= panel_len {
                    continue;
                }
                let (now, later) = (panel.close_row(p), panel.close_row(p + h));
                for &s in selected {
                    let r = later[s as usize] / now[s as usize] - 1.0;
                    sum += r;
                    positive += usize::from(r > 0.0);
                    n += 1;
                }
            }
            let share = |x: f64| if n == 0 { f64::NAN } else { x / n as f64 };
            ForwardStats {
                mean: share(sum),
                hit_rate: share(positive as f64),
                n,
            }
        })
        .collect()
}

/// The factor analysis of one screen's sort metric.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorStats {
    /// (date, symbol) rows offered: eligible, factor not null, every rebalance date.
    pub n_factor_rows: usize,
    /// Rows kept after the forward-return and quantile filters.
    pub n_rows: usize,
    /// Dates with rows that have every horizon's forward return.
    pub n_dates_offered: usize,
    /// Dates kept (quantile edges all distinct).
    pub n_dates: usize,
    /// Kept rows per quantile.
    pub counts: [usize; QUANTILES],
    /// Per horizon, in the order of the settings.
    pub horizons: Vec<HorizonFactor>,
    /// Rebalance index of each kept date (for the IC chart).
    pub dates: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HorizonFactor {
    pub mean_ic: f64,
    pub ic_n_dates: usize,
    /// Spearman IC on each kept date (NaN where undefined).
    pub ic: Vec<f64>,
    pub mean_return_by_quantile: [f64; QUANTILES],
    pub mean_return_by_quantile_demeaned: [f64; QUANTILES],
    pub spread_top_minus_bottom: f64,
    pub spread_alphalens_halved: f64,
}

/// One kept date's numbers.
struct DateFactor {
    counts: [usize; QUANTILES],
    /// Per horizon: IC, per-quantile mean raw and demeaned (NaN for an empty quantile).
    ic: Vec<f64>,
    raw: Vec<[f64; QUANTILES]>,
    demeaned: Vec<[f64; QUANTILES]>,
}

/// numpy's `quantile(sorted, q, method="linear")` on ascending, finite values.
fn np_quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let v = (n - 1) as f64 * q;
    if v >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let prev = v.floor();
    let gamma = v - prev;
    let (a, b) = (sorted[prev as usize], sorted[prev as usize + 1]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// A key that sorts like the float (for values that are not NaN): integer comparisons
/// sort faster than float ones. -0.0 sorts just before 0.0; ties are found by `==`.
#[inline]
fn sortable(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// Indices `0..values.len()` in ascending order of value.
fn sorted_order(values: &[f64], pairs: &mut Vec<(u64, u32)>) -> Vec<u32> {
    pairs.clear();
    pairs.extend(
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (sortable(v), i as u32)),
    );
    pairs.sort_unstable();
    pairs.iter().map(|&(_, i)| i).collect()
}

/// Average ranks (1-based, ties share the mean of their positions), as scipy's `rankdata`,
/// for the members of `order` (ascending by `values`) for which `slot` is not `NONE`,
/// written to `ranks[slot]`.
fn average_ranks_of(values: &[f64], order: &[u32], slot: &[u32], ranks: &mut [f64]) {
    let kept: Vec<u32> = order
        .iter()
        .copied()
        .filter(|&i| slot[i as usize] != NONE)
        .collect();
    let n = kept.len();
    let mut i = 0;
    while i < n {
        let v = values[kept[i] as usize];
        let mut j = i;
        while j + 1 < n && values[kept[j + 1] as usize] == v {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &kept[i..=j] {
            ranks[slot[o as usize] as usize] = rank;
        }
        i = j + 1;
    }
}

const NONE: u32 = u32::MAX;

/// Pearson correlation of two rank vectors of the same length (NaN if either is constant).
fn rank_correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (da, db) = (a - mx, b - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx.sqrt() * syy.sqrt())
}

/// One date's rows: every eligible symbol's forward returns, sorted once per horizon and
/// shared by every factor analysed on that date.
struct DateRows {
    /// `returns[h][i]` for row `i`.
    returns: Vec<Vec<f64>>,
    /// Rows in ascending order of `returns[h]`.
    orders: Vec<Vec<u32>>,
    /// Average ranks of `returns[h]` over every row (what a factor with no null uses).
    ranks: Vec<Vec<f64>>,
}

impl DateRows {
    fn new(returns: Vec<Vec<f64>>) -> Self {
        let mut pairs = Vec::new();
        let orders: Vec<Vec<u32>> = returns
            .iter()
            .map(|r| sorted_order(r, &mut pairs))
            .collect();
        let n = returns.first().map_or(0, Vec::len);
        let identity: Vec<u32> = (0..n as u32).collect();
        let ranks = returns
            .iter()
            .zip(&orders)
            .map(|(r, order)| {
                let mut ranks = vec![0.0; n];
                average_ranks_of(r, order, &identity, &mut ranks);
                ranks
            })
            .collect();
        DateRows {
            returns,
            orders,
            ranks,
        }
    }
}

/// One factor on one date: `f[j]` for the rows `members[j]` of `rows` (those where the
/// factor is not null). `None` when two quantile edges coincide (pandas `qcut` refuses;
/// alphalens drops the date).
fn analyse_factor(rows: &DateRows, f: &[f64], members: &[u32]) -> Option<DateFactor> {
    let m = f.len();
    let n = rows.returns.first().map_or(0, Vec::len);
    let mut pairs = Vec::with_capacity(m);
    let order = sorted_order(f, &mut pairs);
    let sorted: Vec<f64> = order.iter().map(|&j| f[j as usize]).collect();
    let edges = QCUT_PROBS.map(|q| np_quantile(&sorted, q));
    if edges.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    // qcut's labels: 1 + the number of interior edges strictly below the value.
    let quantile: Vec<usize> = f
        .iter()
        .map(|&x| edges[1..QUANTILES].iter().filter(|&&e| x > e).count())
        .collect();
    let mut counts = [0usize; QUANTILES];
    for &q in &quantile {
        counts[q] += 1;
    }
    let identity: Vec<u32> = (0..m as u32).collect();
    let mut f_ranks = vec![0.0; m];
    average_ranks_of(f, &order, &identity, &mut f_ranks);
    // Row -> position among the members.
    // Row -> position among the members (unless every row is one).
    let every_row = m == n;
    let mut slot = vec![NONE; if every_row { 0 } else { n }];
    if !every_row {
        for (j, &i) in members.iter().enumerate() {
            slot[i as usize] = j as u32;
        }
    }
    let mut r_ranks = vec![0.0; m];
    let mut out = DateFactor {
        counts,
        ic: Vec::with_capacity(rows.returns.len()),
        raw: Vec::with_capacity(rows.returns.len()),
        demeaned: Vec::with_capacity(rows.returns.len()),
    };
    for ((all, order), full_ranks) in rows.returns.iter().zip(&rows.orders).zip(&rows.ranks) {
        let r_ranks: &[f64] = if every_row {
            full_ranks
        } else {
            average_ranks_of(all, order, &slot, &mut r_ranks);
            &r_ranks
        };
        out.ic.push(rank_correlation(&f_ranks, r_ranks));
        let r: Vec<f64> = members.iter().map(|&i| all[i as usize]).collect();
        let date_mean = r.iter().sum::<f64>() / m as f64;
        let mut raw = [0.0f64; QUANTILES];
        let mut demeaned = [0.0f64; QUANTILES];
        for (&q, &x) in quantile.iter().zip(&r) {
            raw[q] += x;
            demeaned[q] += x - date_mean;
        }
        for q in 0..QUANTILES {
            let c = counts[q] as f64;
            raw[q] = if counts[q] == 0 { f64::NAN } else { raw[q] / c };
            demeaned[q] = if counts[q] == 0 {
                f64::NAN
            } else {
                demeaned[q] / c
            };
        }
        out.raw.push(raw);
        out.demeaned.push(demeaned);
    }
    Some(out)
}

/// [`analyse_factor`] with every row a member (tests).
#[cfg(test)]
fn analyse_date(f: &[f64], returns: &[Vec<f64>]) -> Option<DateFactor> {
    let rows = DateRows::new(returns.to_vec());
    let members: Vec<u32> = (0..f.len() as u32).collect();
    analyse_factor(&rows, f, &members)
}

/// A factor to analyse: a sort metric, negated when the screen sorts ascending.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FactorSpec {
    pub key: usize,
    pub descending: bool,
}

/// The factor analysis of each spec over the eligible symbols of every rebalance date. The
/// dates run in parallel; each date's forward returns are computed and sorted once for all
/// the factors.
pub(crate) fn factors(
    cal: &Calendar,
    panel: &Panel,
    eligible: &Selections,
    specs: &[FactorSpec],
    horizons: &[usize],
) -> Vec<FactorStats> {
    let n_rebal = cal.rebalances.len();
    let panel_len = cal.panel_len();
    let max_h = horizons.iter().copied().max().unwrap_or(0);
    // Dates whose rows have every forward return (alphalens' dropna), per spec.
    let mut n_factor_rows = vec![0usize; specs.len()];
    let mut offered: Vec<Vec<bool>> = vec![vec![false; n_rebal]; specs.len()];
    for (k, on_date) in eligible.iter().enumerate() {
        for (x, spec) in specs.iter().enumerate() {
            let key = panel.key_row(spec.key, n_rebal, k);
            let rows = on_date
                .iter()
                .filter(|&&s| !key[s as usize].is_nan())
                .count();
            n_factor_rows[x] += rows;
            offered[x][k] = rows > 0 && cal.rebalances[k] + max_h < panel_len;
        }
    }
    let dates: Vec<usize> = (0..n_rebal)
        .filter(|&k| offered.iter().any(|o| o[k]))
        .collect();
    let per_date: Vec<Vec<Option<DateFactor>>> = parallel_map(dates.len(), |d| {
        let k = dates[d];
        let p = cal.rebalances[k];
        let on_date = &eligible[k];
        let now = panel.close_row(p);
        let returns: Vec<Vec<f64>> = horizons
            .iter()
            .map(|&h| {
                let later = panel.close_row(p + h);
                on_date
                    .iter()
                    .map(|&s| later[s as usize] / now[s as usize] - 1.0)
                    .collect()
            })
            .collect();
        let rows = DateRows::new(returns);
        specs
            .iter()
            .enumerate()
            .map(|(x, spec)| {
                if !offered[x][k] {
                    return None;
                }
                let sign = if spec.descending { 1.0 } else { -1.0 };
                let key = panel.key_row(spec.key, n_rebal, k);
                let mut f = Vec::with_capacity(on_date.len());
                let mut members = Vec::with_capacity(on_date.len());
                for (i, &s) in on_date.iter().enumerate() {
                    let v = key[s as usize];
                    if !v.is_nan() {
                        f.push(sign * v);
                        members.push(i as u32);
                    }
                }
                analyse_factor(&rows, &f, &members)
            })
            .collect()
    });
    specs
        .iter()
        .enumerate()
        .map(|(x, _)| {
            let kept: Vec<(usize, &DateFactor)> = dates
                .iter()
                .zip(&per_date)
                .filter_map(|(&k, per_spec)| per_spec[x].as_ref().map(|d| (k, d)))
                .collect();
            aggregate(
                n_factor_rows[x],
                offered[x].iter().filter(|&&o| o).count(),
                &kept,
                horizons.len(),
            )
        })
        .collect()
}

/// alphalens' means over the kept dates.
fn aggregate(
    n_factor_rows: usize,
    n_dates_offered: usize,
    kept: &[(usize, &DateFactor)],
    n_horizons: usize,
) -> FactorStats {
    let mut stats = FactorStats {
        n_factor_rows,
        n_rows: 0,
        n_dates_offered,
        n_dates: 0,
        counts: [0; QUANTILES],
        horizons: Vec::with_capacity(n_horizons),
        dates: Vec::new(),
    };
    stats.n_dates = kept.len();
    stats.dates = kept.iter().map(|&(k, _)| k).collect();
    for (_, d) in kept {
        for q in 0..QUANTILES {
            stats.counts[q] += d.counts[q];
        }
    }
    stats.n_rows = stats.counts.iter().sum();
    let mean_of = |values: &mut dyn Iterator<Item = f64>| -> (f64, usize) {
        let (mut sum, mut n) = (0.0, 0usize);
        for v in values {
            if v.is_finite() {
                sum += v;
                n += 1;
            }
        }
        (if n == 0 { f64::NAN } else { sum / n as f64 }, n)
    };
    for h in 0..n_horizons {
        let ic: Vec<f64> = kept.iter().map(|(_, d)| d.ic[h]).collect();
        let (mean_ic, ic_n_dates) = mean_of(&mut ic.iter().copied());
        let mut raw = [f64::NAN; QUANTILES];
        let mut demeaned = [f64::NAN; QUANTILES];
        for q in 0..QUANTILES {
            raw[q] = mean_of(&mut kept.iter().map(|(_, d)| d.raw[h][q])).0;
            demeaned[q] = mean_of(&mut kept.iter().map(|(_, d)| d.demeaned[h][q])).0;
        }
        // alphalens-reloaded 0.5's compute_mean_returns_spread halves the per-date spread
        // of the demeaned means.
        let halved = mean_of(
            &mut kept
                .iter()
                .map(|(_, d)| (d.demeaned[h][QUANTILES - 1] - d.demeaned[h][0]) / 2.0),
        )
        .0;
        stats.horizons.push(HorizonFactor {
            mean_ic,
            ic_n_dates,
            ic,
            mean_return_by_quantile: raw,
            mean_return_by_quantile_demeaned: demeaned,
            spread_top_minus_bottom: raw[QUANTILES - 1] - raw[0],
            spread_alphalens_halved: halved,
        });
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_edges_follow_numpy_linear_interpolation() {
        let x: Vec<f64> = (0..11).map(f64::from).collect();
        let e = QCUT_PROBS.map(|q| np_quantile(&x, q));
        assert_eq!(e, [0.0, 2.0, 4.0, 6.000000000000002, 8.0, 10.0]);
        // 7 values: positions 0, 1.2, 2.4, 3.6, 4.8, 6; the bits numpy gives.
        let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let e = QCUT_PROBS.map(|q| np_quantile(&y, q));
        assert_eq!(
            e,
            [
                1.0,
                2.2,
                3.4000000000000004,
                4.600000000000001,
                5.800000000000001,
                7.0
            ]
        );
    }

    #[test]
    fn a_date_with_tied_edges_is_dropped_and_values_on_an_edge_go_below_it() {
        // More than a fifth of the values tie at the bottom: edges 0 and 0.2 coincide.
        let f = [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(analyse_date(&f, &[vec![0.0; 8]]).is_none());
        // 11 values 0..=10: edges 0,2,4,6+,8,10; the value 2 is in quantile 1, 3 in 2.
        let f: Vec<f64> = (0..11).map(f64::from).collect();
        let r: Vec<f64> = f.iter().map(|x| x / 100.0).collect();
        let d = analyse_date(&f, &[r]).unwrap();
        assert_eq!(d.counts, [3, 2, 2, 2, 2]);
        assert!((d.ic[0] - 1.0).abs() < 1e-15);
        assert!((d.raw[0][0] - 0.01).abs() < 1e-15);
    }

    #[test]
    fn ties_get_average_ranks() {
        let v = [3.0, 1.0, 3.0, 2.0, -0.0, 0.0];
        let order = sorted_order(&v, &mut Vec::new());
        let mut ranks = vec![0.0; v.len()];
        average_ranks_of(&v, &order, &[0, 1, 2, 3, 4, 5], &mut ranks);
        assert_eq!(ranks, vec![5.5, 3.0, 5.5, 4.0, 1.5, 1.5]);
        // Among a subset only.
        let mut ranks = vec![0.0; 2];
        average_ranks_of(&v, &order, &[0, NONE, NONE, 1, NONE, NONE], &mut ranks);
        assert_eq!(ranks, vec![2.0, 1.0]);
    }
}
