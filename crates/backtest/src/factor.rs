//! Forward returns and factor analysis (S9): pure functions over the (rebalance date,
//! symbol) table; nothing here knows about orders or positions.
//!
//! The factor analysis is what alphalens-reloaded's `get_clean_factor_and_forward_returns`
//! (quantiles=5, filter_zscore=None, max_loss=1.0), `factor_information_coefficient` and
//! `mean_return_by_quantile` compute, written out: the quantile edges follow pandas'
//! `qcut` and numpy's linear `quantile` operation by operation, so a value that sits on an
//! edge lands in the same quantile.

use crate::calendar::Calendar;
use crate::panel::SymbolData;
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
    symbols: &[SymbolData],
    selections: &Selections,
    horizons: &[usize],
) -> Vec<ForwardStats> {
    let panel = cal.panel_len();
    horizons
        .iter()
        .map(|&h| {
            let (mut sum, mut positive, mut n) = (0.0f64, 0usize, 0usize);
            for (k, selected) in selections.iter().enumerate() {
                let p = cal.rebalances[k];
                if p + h >= panel {
                    continue;
                }
                for &s in selected {
                    let c = &symbols[s as usize].close_ff;
                    let r = c[p + h] / c[p] - 1.0;
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

/// Average ranks (1-based, ties share the mean of their positions), as scipy's `rankdata`.
fn average_ranks(values: &[f64], order: &mut Vec<u32>, ranks: &mut Vec<f64>) {
    let n = values.len();
    order.clear();
    order.extend(0..n as u32);
    order.sort_unstable_by(|&a, &b| {
        values[a as usize]
            .partial_cmp(&values[b as usize])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    ranks.clear();
    ranks.resize(n, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[order[j + 1] as usize] == values[order[i] as usize] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o as usize] = rank;
        }
        i = j + 1;
    }
}

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

/// One date: factor values `f` and forward returns `returns[h][row]`. `None` when two
/// quantile edges coincide (pandas `qcut` refuses; alphalens drops the date).
fn analyse_date(f: &[f64], returns: &[Vec<f64>]) -> Option<DateFactor> {
    let n = f.len();
    let mut sorted = f.to_vec();
    sorted.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
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
    let mut order = Vec::with_capacity(n);
    let mut f_ranks = Vec::with_capacity(n);
    average_ranks(f, &mut order, &mut f_ranks);
    let mut r_ranks = Vec::with_capacity(n);
    let mut out = DateFactor {
        counts,
        ic: Vec::with_capacity(returns.len()),
        raw: Vec::with_capacity(returns.len()),
        demeaned: Vec::with_capacity(returns.len()),
    };
    for r in returns {
        average_ranks(r, &mut order, &mut r_ranks);
        out.ic.push(rank_correlation(&f_ranks, &r_ranks));
        let date_mean = r.iter().sum::<f64>() / n as f64;
        let mut raw = [0.0f64; QUANTILES];
        let mut demeaned = [0.0f64; QUANTILES];
        for (&q, &x) in quantile.iter().zip(r) {
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

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The factor analysis of sort metric `key` (negated when ascending, so higher is better)
/// over the eligible symbols of every rebalance date.
pub(crate) fn factor(
    cal: &Calendar,
    symbols: &[SymbolData],
    eligible: &Selections,
    key: usize,
    descending: bool,
    horizons: &[usize],
) -> FactorStats {
    let n_rebal = cal.rebalances.len();
    let panel = cal.panel_len();
    let max_h = horizons.iter().copied().max().unwrap_or(0);
    let sign = if descending { 1.0 } else { -1.0 };
    let mut n_factor_rows = 0;
    // Dates whose rows have every forward return (alphalens' dropna).
    let mut offered: Vec<usize> = Vec::new();
    for (k, on_date) in eligible.iter().enumerate() {
        let rows = on_date
            .iter()
            .filter(|&&s| !symbols[s as usize].key(key, n_rebal, k).is_nan())
            .count();
        n_factor_rows += rows;
        if rows > 0 && cal.rebalances[k] + max_h < panel {
            offered.push(k);
        }
    }
    let analyse = |k: usize| -> Option<DateFactor> {
        let p = cal.rebalances[k];
        let mut f = Vec::new();
        let mut returns: Vec<Vec<f64>> = vec![Vec::new(); horizons.len()];
        for &s in &eligible[k] {
            let d = &symbols[s as usize];
            let x = d.key(key, n_rebal, k);
            if x.is_nan() {
                continue;
            }
            f.push(sign * x);
            for (r, &h) in returns.iter_mut().zip(horizons) {
                r.push(d.close_ff[p + h] / d.close_ff[p] - 1.0);
            }
        }
        analyse_date(&f, &returns)
    };
    let per_date: Vec<Option<DateFactor>> = {
        let chunk = offered.len().div_ceil(threads().max(1)).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = offered
                .chunks(chunk)
                .map(|part| scope.spawn(|| part.iter().map(|&k| analyse(k)).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("factor threads do not panic"))
                .collect()
        })
    };

    let mut stats = FactorStats {
        n_factor_rows,
        n_rows: 0,
        n_dates_offered: offered.len(),
        n_dates: 0,
        counts: [0; QUANTILES],
        horizons: Vec::with_capacity(horizons.len()),
        dates: Vec::new(),
    };
    let kept: Vec<(usize, &DateFactor)> = offered
        .iter()
        .zip(&per_date)
        .filter_map(|(&k, d)| d.as_ref().map(|d| (k, d)))
        .collect();
    stats.n_dates = kept.len();
    stats.dates = kept.iter().map(|&(k, _)| k).collect();
    for (_, d) in &kept {
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
    for h in 0..horizons.len() {
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
        let (mut order, mut ranks) = (Vec::new(), Vec::new());
        average_ranks(&[3.0, 1.0, 3.0, 2.0], &mut order, &mut ranks);
        assert_eq!(ranks, vec![3.5, 1.0, 3.5, 2.0]);
    }
}
