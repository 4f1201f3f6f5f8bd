//! The event study of a screen's entries: how a symbol's price moved around the rebalance
//! date on which it entered the screen's selection, against every eligible symbol.
//!
//! Definition (positions count sessions of the calendar from `t0`, as everywhere else):
//!
//! * An **entry** is a pair (rebalance date `t`, symbol `s`) with `s` in the screen's
//!   selection at `t` and not in it at the previous rebalance date (at the first rebalance
//!   date every selected symbol enters).
//! * Its **path** is the cumulative return `close_ff_s(t+k) / close_s(t) - 1` for
//!   `k = -5..=20` ([`BEFORE`], [`AFTER`]): `close_ff` is the symbol's last close on or
//!   before that session (as for forward returns, S9), `close_s(t)` its close on `t` (an
//!   eligible symbol has one). The path is 0 at `k = 0` by construction.
//! * A pair is left out when `t-5` is before `t0` or `t+20` after `last` (the closes before
//!   `t0` are not kept, so the first rebalance date, `t0` itself, never counts), or when a
//!   point of its path is undefined (a symbol listed less than 5 sessions before `t`), so
//!   every `k` averages the same pairs.
//! * **entries** = the path averaged over the screen's entries, pooled over dates (each pair
//!   weighs the same, not a mean of per-date means); **eligible** = the path averaged the
//!   same way over every (rebalance date, eligible symbol) pair: the baseline a symbol picked
//!   at random would have followed. `n` counts the pairs averaged.
//!
//! Pure functions over the date-major closes matrix (`close[p * n + s]`), so the engine calls
//! them with its panel and the tests with a hand-made one.

use serde::Serialize;

/// Sessions before the rebalance date that the path starts at.
pub const BEFORE: usize = 5;
/// Sessions after the rebalance date that the path ends at.
pub const AFTER: usize = 20;

/// One averaged path: `mean[i]` at offset `EventStudy::offsets[i]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventPath {
    /// Pairs averaged.
    pub n: usize,
    /// The mean cumulative return at each offset; `None` when no pair qualifies.
    pub mean: Vec<Option<f64>>,
}

/// A screen's entries against every eligible symbol, from `-BEFORE` to `+AFTER` sessions
/// around the rebalance date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventStudy {
    /// `-BEFORE..=AFTER`.
    pub offsets: Vec<i32>,
    pub entries: EventPath,
    pub eligible: EventPath,
}

/// The closes and rebalance dates of a run, with the eligible baseline computed once for
/// every screen.
pub(crate) struct Events<'a> {
    close: &'a [f64],
    n: usize,
    rebalances: &'a [usize],
    before: usize,
    after: usize,
    eligible: EventPath,
}

impl<'a> Events<'a> {
    /// `close`: `close_ff` date-major over panel positions `t0..=last` (`close[p * n + s]`);
    /// `rebalances`: panel positions of the rebalance dates; `eligible`: the eligible symbols
    /// on each rebalance date.
    pub fn new(close: &'a [f64], n: usize, rebalances: &'a [usize], eligible: &[Vec<u32>]) -> Self {
        Self::with_window(close, n, rebalances, eligible, BEFORE, AFTER)
    }

    fn with_window(
        close: &'a [f64],
        n: usize,
        rebalances: &'a [usize],
        eligible: &[Vec<u32>],
        before: usize,
        after: usize,
    ) -> Self {
        let mut events = Events {
            close,
            n,
            rebalances,
            before,
            after,
            eligible: EventPath {
                n: 0,
                mean: Vec::new(),
            },
        };
        events.eligible = events.average(eligible, false);
        events
    }

    /// The event study of one screen's selections (one list per rebalance date).
    pub fn of(&self, selections: &[Vec<u32>]) -> EventStudy {
        EventStudy {
            offsets: (-(self.before as i32)..=self.after as i32).collect(),
            entries: self.average(selections, true),
            eligible: self.eligible.clone(),
        }
    }

    /// The path averaged over the pairs of `sets` (only the entries when `entries_only`).
    fn average(&self, sets: &[Vec<u32>], entries_only: bool) -> EventPath {
        let width = self.before + self.after + 1;
        let panel_len = self.close.len().checked_div(self.n).unwrap_or(0);
        let mut sum = vec![0.0; width];
        let mut pairs = 0usize;
        let mut path = vec![0.0; width];
        let empty = Vec::new();
        for (k, (&t, set)) in self.rebalances.iter().zip(sets).enumerate() {
            if t < self.before || t + self.after >= panel_len {
                continue;
            }
            let previous = if k == 0 { &empty } else { &sets[k - 1] };
            let from = t - self.before;
            'pairs: for &s in set {
                if entries_only && previous.contains(&s) {
                    continue;
                }
                let s = s as usize;
                let base = self.close[t * self.n + s];
                for (i, x) in path.iter_mut().enumerate() {
                    let c = self.close[(from + i) * self.n + s];
                    let r = c / base - 1.0;
                    if !r.is_finite() {
                        continue 'pairs;
                    }
                    *x = r;
                }
                for (acc, x) in sum.iter_mut().zip(&path) {
                    *acc += x;
                }
                pairs += 1;
            }
        }
        EventPath {
            n: pairs,
            mean: sum
                .into_iter()
                .map(|x| (pairs > 0).then(|| x / pairs as f64))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Date-major closes from per-symbol rows.
    fn matrix(rows: &[&[f64]]) -> Vec<f64> {
        let len = rows[0].len();
        (0..len)
            .flat_map(|p| rows.iter().map(move |r| r[p]))
            .collect()
    }

    #[test]
    fn entries_and_the_eligible_baseline_average_the_hand_computed_paths() {
        // Two symbols over 8 sessions; rebalance dates at positions 0, 2, 4, 6; window -1..=+2
        // so that dates 2 and 4 qualify (0 has no session before it, 6 none two after).
        //        p:    0    1    2    3    4    5    6    7
        let a = [10.0, 10.0, 10.0, 11.0, 12.0, 12.0, 15.0, 15.0];
        let b = [20.0, 20.0, 16.0, 20.0, 20.0, 18.0, 22.0, 22.0];
        let close = matrix(&[&a, &b]);
        let rebalances = [0, 2, 4, 6];
        let eligible = vec![vec![0, 1]; 4];
        // Selected: A at 0; B at 2 (A dropped); A and B at 4 (A back, B held); nobody at 6.
        let selections = vec![vec![0], vec![1], vec![0, 1], vec![]];
        let events = Events::with_window(&close, 2, &rebalances, &eligible, 1, 2);
        let study = events.of(&selections);
        assert_eq!(study.offsets, vec![-1, 0, 1, 2]);

        // Entries: B at 2 (new), A at 4 (not selected at 2); B at 4 was held at 2: no entry.
        // B at t=2: 20/16-1, 0, 20/16-1, 20/16-1  = 0.25, 0, 0.25, 0.25
        // A at t=4: 11/12-1, 0, 12/12-1, 15/12-1  = -1/12, 0, 0, 0.25
        let mean = |x: f64, y: f64| Some((x + y) / 2.0);
        assert_eq!(study.entries.n, 2);
        assert_eq!(
            study.entries.mean,
            vec![
                mean(0.25, 11.0 / 12.0 - 1.0),
                Some(0.0),
                mean(0.25, 0.0),
                mean(0.25, 0.25)
            ]
        );

        // Eligible: both symbols at 2 and at 4.
        // A at 2: 10/10-1, 0, 11/10-1, 12/10-1
        // B at 4: 20/20-1, 0, 18/20-1, 22/20-1
        let paths = [
            [10.0 / 10.0 - 1.0, 0.0, 11.0 / 10.0 - 1.0, 12.0 / 10.0 - 1.0],
            [0.25, 0.0, 0.25, 0.25],
            [11.0 / 12.0 - 1.0, 0.0, 0.0, 15.0 / 12.0 - 1.0],
            [0.0, 0.0, 18.0 / 20.0 - 1.0, 22.0 / 20.0 - 1.0],
        ];
        assert_eq!(study.eligible.n, 4);
        for (i, got) in study.eligible.mean.iter().enumerate() {
            let want = paths.iter().map(|p| p[i]).sum::<f64>() / 4.0;
            assert!(
                (got.unwrap() - want).abs() < 1e-15,
                "{i}: {got:?} vs {want}"
            );
        }
    }

    #[test]
    fn a_pair_with_an_undefined_point_is_left_out_and_no_pair_gives_nulls() {
        // B has no close before position 2 (listed late): its pair at t=2 is left out whole.
        let a = [10.0, 11.0, 12.0, 13.0, 14.0];
        let b = [f64::NAN, f64::NAN, 5.0, 6.0, 7.0];
        let close = matrix(&[&a, &b]);
        let rebalances = [0, 2, 4];
        let eligible = vec![vec![0], vec![0, 1], vec![0, 1]];
        let events = Events::with_window(&close, 2, &rebalances, &eligible, 2, 2);
        let study = events.of(&[vec![], vec![1], vec![1]]);
        assert_eq!(study.eligible.n, 1, "only A at t=2");
        assert_eq!(
            study.eligible.mean,
            vec![
                Some(10.0 / 12.0 - 1.0),
                Some(11.0 / 12.0 - 1.0),
                Some(0.0),
                Some(13.0 / 12.0 - 1.0),
                Some(14.0 / 12.0 - 1.0)
            ]
        );
        assert_eq!(study.entries.n, 0);
        assert_eq!(study.entries.mean, vec![None; 5]);
    }

    #[test]
    fn the_default_window_runs_from_five_sessions_before_to_twenty_after() {
        // Every close grows 1% a session: every path is 1.01^k - 1.
        let closes: Vec<f64> = (0..40).map(|p| 1.01f64.powi(p)).collect();
        let close = matrix(&[&closes]);
        let rebalances: Vec<usize> = (0..40).step_by(5).collect();
        let eligible = vec![vec![0]; rebalances.len()];
        let selections: Vec<Vec<u32>> = (0..rebalances.len())
            .map(|k| if k % 2 == 1 { vec![0] } else { vec![] })
            .collect();
        let study = Events::new(&close, 1, &rebalances, &eligible).of(&selections);
        assert_eq!(study.offsets.first(), Some(&-5));
        assert_eq!(study.offsets.last(), Some(&20));
        // Dates 5, 10, 15 qualify (t >= 5, t + 20 <= 39); the screen enters at 5 and 15.
        assert_eq!(study.eligible.n, 3);
        assert_eq!(study.entries.n, 2);
        for (k, m) in study.offsets.iter().zip(&study.entries.mean) {
            let want = 1.01f64.powi(*k) - 1.0;
            assert!((m.unwrap() - want).abs() < 1e-12, "{k}");
        }
    }
}
