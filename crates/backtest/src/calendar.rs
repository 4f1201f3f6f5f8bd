//! The session calendar (S1) and the rebalance and fill sessions (S3).
//!
//! Sessions are the distinct dates of every bar dated on or before `--end`, all symbols
//! together. Positions in this calendar are what "i+1", "t+h" and "every K" count.

use chrono::NaiveDate;

use crate::error::BacktestError;
use crate::settings::Settings;

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01, as the bars frame stores dates.
pub fn days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The date of a day number.
pub fn date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE).unwrap_or(NaiveDate::MIN)
}

/// The calendar of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    /// Every session on or before the end, ascending (days since 1970-01-01).
    pub sessions: Vec<i32>,
    /// Index of `t0`, the first session on or after `--start`.
    pub t0: usize,
    /// Index of `last`, the last session.
    pub last: usize,
    /// Rebalance sessions `t0, t0+K, ...` as offsets from `t0` ("panel" positions).
    pub rebalances: Vec<usize>,
    /// How many rebalance dates get a fill (those before `last`); fill `k` happens at
    /// panel position `rebalances[k] + 1`.
    pub n_fills: usize,
}

impl Calendar {
    /// Builds the calendar from every bar's date (in any order, repeated), given in chunks.
    /// Dates after `settings.end` are ignored.
    pub fn from_dates(chunks: &[&[i32]], settings: &Settings) -> Result<Calendar, BacktestError> {
        let end = settings.end.map_or(i32::MAX, days);
        let mut lo = i32::MAX;
        let mut hi = i32::MIN;
        for chunk in chunks {
            for &d in chunk.iter() {
                if d <= end {
                    lo = lo.min(d);
                    hi = hi.max(d);
                }
            }
        }
        let range = || match settings.end {
            Some(end) => format!("from {} to {end}", settings.start),
            None => format!("on or after {}", settings.start),
        };
        if lo > hi {
            let found = match chunks.iter().flat_map(|c| c.iter()).min() {
                Some(&first) => format!("the first bar is dated {}", date(first)),
                None => "there are no bars".to_string(),
            };
            return Err(BacktestError::NoSession {
                range: range(),
                found,
            });
        }
        // A bitmap over the date range: linear in the number of bars, no sort.
        let span = (hi as i64 - lo as i64 + 1) as usize;
        let mut bits = vec![0u64; span.div_ceil(64)];
        for chunk in chunks {
            for &d in chunk.iter() {
                if d <= end {
                    let k = (d - lo) as usize;
                    bits[k / 64] |= 1 << (k % 64);
                }
            }
        }
        let mut sessions = Vec::new();
        for (w, &word) in bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let b = word.trailing_zeros() as usize;
                sessions.push(lo + (w * 64 + b) as i32);
                word &= word - 1;
            }
        }
        Self::from_sessions(sessions, settings, range)
    }

    fn from_sessions(
        sessions: Vec<i32>,
        settings: &Settings,
        range: impl Fn() -> String,
    ) -> Result<Calendar, BacktestError> {
        let start = days(settings.start);
        let t0 = sessions.partition_point(|&d| d < start);
        if t0 == sessions.len() {
            let last = *sessions.last().expect("non-empty");
            return Err(BacktestError::NoSession {
                range: range(),
                found: format!("the bars run from {} to {}", date(sessions[0]), date(last)),
            });
        }
        let last = sessions.len() - 1;
        let rebalances: Vec<usize> = (0..=last - t0).step_by(settings.every).collect();
        let n_fills = rebalances.iter().filter(|&&r| t0 + r < last).count();
        Ok(Calendar {
            sessions,
            t0,
            last,
            rebalances,
            n_fills,
        })
    }

    /// Sessions from `t0` to `last`: the length of the equity series (`N + 1`).
    pub fn panel_len(&self) -> usize {
        self.last - self.t0 + 1
    }

    /// The date of panel position `p` (offset from `t0`).
    pub fn panel_date(&self, p: usize) -> NaiveDate {
        date(self.sessions[self.t0 + p])
    }

    /// Panel position of fill `k`.
    pub fn fill_position(&self, k: usize) -> usize {
        self.rebalances[k] + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(start: &str, end: Option<&str>, every: usize) -> Settings {
        let mut s = Settings::new(start.parse().unwrap());
        s.end = end.map(|e| e.parse().unwrap());
        s.every = every;
        s
    }

    fn d(s: &str) -> i32 {
        days(s.parse().unwrap())
    }

    #[test]
    fn sessions_are_the_distinct_dates_up_to_the_end_and_rebalances_step_by_k() {
        let a = [
            d("2020-01-06"),
            d("2020-01-02"),
            d("2020-01-03"),
            d("2020-01-10"),
        ];
        let b = [
            d("2020-01-07"),
            d("2020-01-03"),
            d("2020-01-08"),
            d("2020-01-09"),
        ];
        let cal = Calendar::from_dates(&[&a, &b], &settings("2020-01-03", Some("2020-01-09"), 2))
            .unwrap();
        assert_eq!(cal.sessions.len(), 6, "2020-01-10 is after the end");
        assert_eq!(cal.panel_date(0).to_string(), "2020-01-03");
        assert_eq!(cal.t0, 1);
        assert_eq!(cal.last, 5);
        // t0, t0+2, t0+4 = last: the last rebalance gets no fill.
        assert_eq!(cal.rebalances, vec![0, 2, 4]);
        assert_eq!(cal.n_fills, 2);
        assert_eq!(cal.fill_position(1), 3);
    }

    #[test]
    fn no_session_in_range_names_the_range_and_the_bars() {
        let a = [d("2020-01-02"), d("2020-01-03")];
        let err = Calendar::from_dates(&[&a], &settings("2021-01-01", None, 5))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no session in range: on or after 2021-01-01, but the bars run from 2020-01-02 to 2020-01-03"
        );
        let err = Calendar::from_dates(&[&a], &settings("2019-01-01", Some("2019-06-01"), 5))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no session in range: from 2019-01-01 to 2019-06-01, but the first bar is dated 2020-01-02"
        );
    }
}
