//! What a backtest run is asked to do: the date range, rebalance interval, costs and
//! forward-return horizons (spec S1, S3, S5, S9), checked before any work.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::BacktestError;

/// The run's arguments. `end = None` runs to the last date in the bars.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    /// Rebalance every K sessions (`--every`).
    pub every: usize,
    /// Fees per order in basis points of its value (`--cost-bps`).
    pub cost_bps: f64,
    /// Forward-return horizons in sessions, ascending.
    pub horizons: Vec<usize>,
}

impl Settings {
    pub const DEFAULT_EVERY: usize = 5;
    pub const DEFAULT_COST_BPS: f64 = 10.0;
    pub const DEFAULT_HORIZONS: [usize; 4] = [1, 5, 21, 63];

    /// The defaults from `start` to the last bar: every 5 sessions, 10 bps, 1/5/21/63.
    pub fn new(start: NaiveDate) -> Self {
        Settings {
            start,
            end: None,
            every: Self::DEFAULT_EVERY,
            cost_bps: Self::DEFAULT_COST_BPS,
            horizons: Self::DEFAULT_HORIZONS.to_vec(),
        }
    }

    /// The fee rate `f = cost_bps / 10000`.
    pub fn fee_rate(&self) -> f64 {
        self.cost_bps / 10000.0
    }

    /// Refuses settings that cannot describe a run.
    pub fn validate(&self) -> Result<(), BacktestError> {
        if self.every == 0 {
            return Err(BacktestError::BadEvery { every: self.every });
        }
        if !(self.cost_bps.is_finite() && self.cost_bps >= 0.0) {
            return Err(BacktestError::BadCost {
                cost_bps: self.cost_bps,
            });
        }
        if self.horizons.is_empty() {
            return Err(BacktestError::BadHorizons {
                problem: "give at least one horizon, e.g. 1,5,21,63".into(),
            });
        }
        if self.horizons.contains(&0) {
            return Err(BacktestError::BadHorizons {
                problem: "a horizon must be at least 1 session".into(),
            });
        }
        if !self.horizons.windows(2).all(|w| w[0] < w[1]) {
            return Err(BacktestError::BadHorizons {
                problem: format!(
                    "horizons must be distinct and ascending, got {:?}",
                    self.horizons
                ),
            });
        }
        if let Some(end) = self.end
            && end < self.start
        {
            return Err(BacktestError::EndBeforeStart {
                start: self.start,
                end,
            });
        }
        Ok(())
    }

    /// The longest horizon.
    pub fn max_horizon(&self) -> usize {
        self.horizons.iter().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_defaults_are_valid() {
        let s = Settings::new(day("2014-01-01"));
        s.validate().unwrap();
        assert_eq!(s.fee_rate(), 0.001);
    }

    #[test]
    fn end_before_start_is_refused_naming_both_dates() {
        let mut s = Settings::new(day("2014-01-01"));
        s.end = Some(day("2013-12-31"));
        let err = s.validate().unwrap_err().to_string();
        assert_eq!(err, "end 2013-12-31 is before start 2014-01-01");
    }

    #[test]
    fn bad_every_cost_and_horizons_are_refused() {
        let base = Settings::new(day("2014-01-01"));
        let bad = [
            Settings {
                every: 0,
                ..base.clone()
            },
            Settings {
                cost_bps: -1.0,
                ..base.clone()
            },
            Settings {
                cost_bps: f64::NAN,
                ..base.clone()
            },
            Settings {
                horizons: vec![],
                ..base.clone()
            },
            Settings {
                horizons: vec![0, 5],
                ..base.clone()
            },
            Settings {
                horizons: vec![5, 1],
                ..base.clone()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?}");
        }
    }
}
