//! The NYSE trading calendar: weekdays minus the exchange's full-day holidays.
//!
//! Rules (NYSE Rule 7.2): New Year's Day, Martin Luther King Jr. Day (3rd Monday of January),
//! Washington's Birthday (3rd Monday of February), Good Friday, Memorial Day (last Monday of
//! May), Juneteenth (from 2022), Independence Day, Labor Day (1st Monday of September),
//! Thanksgiving (4th Thursday of November) and Christmas. A holiday on a Sunday is observed the
//! Monday after, one on a Saturday the Friday before, except New Year's Day, which is then not
//! observed (the previous year's last trading day stays open). On top of the rules, the
//! one-off full-day closures since 2000 ([`ONE_OFF_CLOSURES`]).
//!
//! [`Sessions`] is a calendar a data source served (Alpaca's `GET /v2/calendar`) for a range of
//! dates, with these rules outside it: a run whose source has a calendar uses that source's.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Full-day NYSE closures outside the holiday rules, since 2000: the September 11 attacks,
/// national days of mourning for former presidents, and Hurricane Sandy.
pub const ONE_OFF_CLOSURES: [(i32, u32, u32); 10] = [
    (2001, 9, 11),
    (2001, 9, 12),
    (2001, 9, 13),
    (2001, 9, 14),
    (2004, 6, 11),  // President Reagan
    (2007, 1, 2),   // President Ford
    (2012, 10, 29), // Hurricane Sandy
    (2012, 10, 30),
    (2018, 12, 5), // President George H. W. Bush
    (2025, 1, 9),  // President Carter
];

/// Is the exchange open for a full or partial session on `date`?
pub fn is_trading_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date)
}

/// Trading days in `start..=end`, ascending.
pub fn trading_days(start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    start
        .iter_days()
        .take_while(|d| *d <= end)
        .filter(|d| is_trading_day(*d))
        .collect()
}

/// The latest trading day on or before `date`.
pub fn last_trading_day_on_or_before(date: NaiveDate) -> NaiveDate {
    let mut day = date;
    while !is_trading_day(day) {
        day -= Duration::days(1);
    }
    day
}

/// The trading day `n` sessions before `date` (n = 0 gives the last trading day on or before).
pub fn trading_days_before(date: NaiveDate, n: usize) -> NaiveDate {
    let mut day = last_trading_day_on_or_before(date);
    for _ in 0..n {
        day = last_trading_day_on_or_before(day - Duration::days(1));
    }
    day
}

/// Number of trading days strictly after `from` and up to and including `to`.
pub fn trading_days_between(from: NaiveDate, to: NaiveDate) -> usize {
    if to <= from {
        return 0;
    }
    trading_days(from + Duration::days(1), to).len()
}

/// The trading sessions a run uses: the days a data source served for `covered` (its own
/// calendar, e.g. Alpaca's), and the NYSE rules of this module outside that range or when the
/// source has no calendar ([`Sessions::nyse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    served: Option<Served>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Served {
    first: NaiveDate,
    last: NaiveDate,
    /// Sorted, unique, within `first..=last`.
    days: Vec<NaiveDate>,
}

impl Sessions {
    /// The NYSE rules alone.
    pub fn nyse() -> Self {
        Sessions { served: None }
    }

    /// The sessions a source served for `first..=last` (days outside that range are ignored).
    pub fn served(first: NaiveDate, last: NaiveDate, mut days: Vec<NaiveDate>) -> Self {
        days.retain(|d| (first..=last).contains(d));
        days.sort_unstable();
        days.dedup();
        Sessions {
            served: Some(Served { first, last, days }),
        }
    }

    /// The range the served calendar covers, if any.
    pub fn covered(&self) -> Option<(NaiveDate, NaiveDate)> {
        self.served.as_ref().map(|s| (s.first, s.last))
    }

    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        match &self.served {
            Some(s) if (s.first..=s.last).contains(&date) => s.days.binary_search(&date).is_ok(),
            _ => is_trading_day(date),
        }
    }

    /// Trading days in `start..=end`, ascending.
    pub fn trading_days(&self, start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
        start
            .iter_days()
            .take_while(|d| *d <= end)
            .filter(|d| self.is_trading_day(*d))
            .collect()
    }

    /// The latest trading day on or before `date`.
    pub fn last_trading_day_on_or_before(&self, date: NaiveDate) -> NaiveDate {
        let mut day = date;
        while !self.is_trading_day(day) {
            day -= Duration::days(1);
        }
        day
    }

    /// Number of trading days strictly after `from` and up to and including `to`.
    pub fn trading_days_between(&self, from: NaiveDate, to: NaiveDate) -> usize {
        if to <= from {
            return 0;
        }
        self.trading_days(from + Duration::days(1), to).len()
    }
}

fn is_holiday(date: NaiveDate) -> bool {
    let year = date.year();
    let fixed = |month, day| observed(NaiveDate::from_ymd_opt(year, month, day).unwrap());
    let next_new_year_observed_here = {
        // 1 January on a Saturday is not observed; on a Sunday it moves to 2 January.
        let new_year = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        new_year.weekday() != Weekday::Sat && observed(new_year) == date
    };
    let one_off = ONE_OFF_CLOSURES
        .iter()
        .any(|&(y, m, d)| y == year && date.month() == m && date.day() == d);
    one_off
        || next_new_year_observed_here
        || date == nth_weekday(year, 1, Weekday::Mon, 3)
        || date == nth_weekday(year, 2, Weekday::Mon, 3)
        || date == easter_sunday(year) - Duration::days(2)
        || date == last_weekday(year, 5, Weekday::Mon)
        || (year >= 2022 && date == fixed(6, 19))
        || date == fixed(7, 4)
        || date == nth_weekday(year, 9, Weekday::Mon, 1)
        || date == nth_weekday(year, 11, Weekday::Thu, 4)
        || date == fixed(12, 25)
}

fn observed(holiday: NaiveDate) -> NaiveDate {
    match holiday.weekday() {
        Weekday::Sat => holiday - Duration::days(1),
        Weekday::Sun => holiday + Duration::days(1),
        _ => holiday,
    }
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).unwrap()
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let mut day = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap() - Duration::days(1);
    while day.weekday() != weekday {
        day -= Duration::days(1);
    }
    day
}

/// Gregorian Easter Sunday (the anonymous Gregorian algorithm, "Meeus/Jones/Butcher").
fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn published_nyse_holidays_of_2024_and_2025_are_closed() {
        for day in [
            d(2024, 1, 1),
            d(2024, 1, 15),
            d(2024, 2, 19),
            d(2024, 3, 29),
            d(2024, 5, 27),
            d(2024, 6, 19),
            d(2024, 7, 4),
            d(2024, 9, 2),
            d(2024, 11, 28),
            d(2024, 12, 25),
            d(2025, 1, 1),
            d(2025, 1, 20),
            d(2025, 2, 17),
            d(2025, 4, 18),
            d(2025, 5, 26),
            d(2025, 6, 19),
            d(2025, 7, 4),
            d(2025, 9, 1),
            d(2025, 11, 27),
            d(2025, 12, 25),
        ] {
            assert!(!is_trading_day(day), "{day} is an NYSE holiday");
        }
    }

    #[test]
    fn one_off_closures_since_2000_are_closed() {
        for day in [
            d(2001, 9, 11),
            d(2001, 9, 14),
            d(2004, 6, 11),
            d(2007, 1, 2),
            d(2012, 10, 29),
            d(2012, 10, 30),
            d(2018, 12, 5),
            d(2025, 1, 9),
        ] {
            assert!(!is_trading_day(day), "{day}: the exchange was closed");
        }
        // The days around them traded.
        for day in [
            d(2001, 9, 10),
            d(2001, 9, 17),
            d(2012, 10, 31),
            d(2018, 12, 4),
            d(2018, 12, 6),
            d(2025, 1, 8),
            d(2025, 1, 10),
        ] {
            assert!(is_trading_day(day), "{day} was a session");
        }
    }

    #[test]
    fn a_served_calendar_decides_inside_its_range_and_the_rules_outside() {
        // A source that says 2025-01-09 traded and 2025-01-10 did not (made up, to tell the two
        // apart from the rules).
        let days = vec![d(2025, 1, 8), d(2025, 1, 9), d(2025, 1, 13)];
        let sessions = Sessions::served(d(2025, 1, 8), d(2025, 1, 13), days);
        assert!(sessions.is_trading_day(d(2025, 1, 9)));
        assert!(!sessions.is_trading_day(d(2025, 1, 10)));
        assert_eq!(
            sessions.trading_days(d(2025, 1, 6), d(2025, 1, 14)),
            vec![
                d(2025, 1, 6),
                d(2025, 1, 7),
                d(2025, 1, 8),
                d(2025, 1, 9),
                d(2025, 1, 13),
                d(2025, 1, 14)
            ]
        );
        assert_eq!(
            sessions.last_trading_day_on_or_before(d(2025, 1, 12)),
            d(2025, 1, 9)
        );
        assert_eq!(
            sessions.trading_days_between(d(2025, 1, 8), d(2025, 1, 13)),
            2
        );
        assert_eq!(
            Sessions::nyse().trading_days(d(2025, 1, 8), d(2025, 1, 10)),
            vec![d(2025, 1, 8), d(2025, 1, 10)]
        );
    }

    #[test]
    fn weekend_holidays_are_observed_on_the_nearest_weekday() {
        // Independence Day 2026 is a Saturday: observed Friday 3 July.
        assert!(!is_trading_day(d(2026, 7, 3)));
        // Christmas 2022 was a Sunday: observed Monday 26 December.
        assert!(!is_trading_day(d(2022, 12, 26)));
        // New Year's Day 2022 was a Saturday: not observed, 31 December 2021 was open.
        assert!(is_trading_day(d(2021, 12, 31)));
    }

    #[test]
    fn a_year_has_about_252_sessions() {
        assert_eq!(trading_days(d(2024, 1, 1), d(2024, 12, 31)).len(), 252);
        // NYSE had 250 in 2025: 9 January closed for President Carter's day of mourning.
        assert_eq!(trading_days(d(2025, 1, 1), d(2025, 12, 31)).len(), 250);
    }

    #[test]
    fn stepping_back_skips_weekends_and_holidays() {
        assert_eq!(
            last_trading_day_on_or_before(d(2024, 12, 1)),
            d(2024, 11, 29)
        );
        assert_eq!(trading_days_before(d(2024, 12, 2), 1), d(2024, 11, 29));
        assert_eq!(trading_days_between(d(2024, 11, 27), d(2024, 12, 2)), 2);
    }
}
