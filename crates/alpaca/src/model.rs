//! Alpaca's JSON, as received, and the one conversion that is easy to get wrong: a daily bar's
//! `t` is midnight New York time written in UTC (`04:00Z` in summer, `05:00Z` in winter), so
//! its trading date is the New York date of `t`, not the UTC date.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use screener_core::Bar;

/// One entry of `GET /v2/assets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetJson {
    pub symbol: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub exchange: String,
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tradable: bool,
    #[serde(default)]
    pub fractionable: bool,
    #[serde(default)]
    pub shortable: bool,
    #[serde(default)]
    pub marginable: bool,
    #[serde(default)]
    pub easy_to_borrow: bool,
    #[serde(default)]
    pub attributes: Vec<String>,
}

/// One bar of `GET /v2/stocks/bars`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarJson {
    pub t: DateTime<Utc>,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vw: Option<f64>,
}

impl BarJson {
    pub fn to_bar(&self) -> Bar {
        Bar {
            date: new_york_date(self.t),
            open: self.o,
            high: self.h,
            low: self.l,
            close: self.c,
            volume: self.v,
            vwap: self.vw,
            trade_count: self.n,
        }
    }
}

/// One page of `GET /v2/stocks/bars`. `bars` must be present (a body without it is not a bars
/// page) but may be `null`; each symbol's list may be `null` too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BarsPage {
    #[serde(deserialize_with = "present")]
    pub bars: Option<BTreeMap<String, Option<Vec<BarJson>>>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(deserializer)
}

/// One day of `GET /v2/calendar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    pub date: NaiveDate,
    /// Local New York time, `HH:MM` (early closes show here).
    pub open: String,
    pub close: String,
}

/// `GET /v2/account` (the fields the bot needs; amounts are decimal strings, as sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub account_number: String,
    pub status: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub cash: String,
    #[serde(default)]
    pub equity: String,
    #[serde(default)]
    pub buying_power: String,
    /// Equity at the previous close (the day's change is `equity - last_equity`).
    #[serde(default)]
    pub last_equity: String,
    #[serde(default)]
    pub portfolio_value: Option<String>,
}

/// One entry of `GET /v2/positions` (amounts are decimal strings, as sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: String,
    pub qty: String,
    #[serde(default)]
    pub side: String,
    #[serde(default)]
    pub exchange: String,
    #[serde(default)]
    pub avg_entry_price: String,
    #[serde(default)]
    pub market_value: Option<String>,
    #[serde(default)]
    pub cost_basis: String,
    #[serde(default)]
    pub unrealized_pl: Option<String>,
    #[serde(default)]
    pub unrealized_plpc: Option<String>,
    #[serde(default)]
    pub current_price: Option<String>,
}

/// US daylight saving time (rules since 2007): from the second Sunday of March, 02:00 EST
/// (07:00 UTC), to the first Sunday of November, 02:00 EDT (06:00 UTC).
fn is_new_york_summer_time(t: DateTime<Utc>) -> bool {
    let year = t.year();
    let start = nth_sunday(year, 3, 2)
        .and_hms_opt(7, 0, 0)
        .unwrap()
        .and_utc();
    let end = nth_sunday(year, 11, 1)
        .and_hms_opt(6, 0, 0)
        .unwrap()
        .and_utc();
    t >= start && t < end
}

fn nth_sunday(year: i32, month: u32, n: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
    let offset = (7 - first.weekday().num_days_from_sunday()) % 7;
    first + Duration::days(i64::from(offset + 7 * (n - 1)))
}

/// The New York calendar date of an instant.
pub fn new_york_date(t: DateTime<Utc>) -> NaiveDate {
    let hours = if is_new_york_summer_time(t) { 4 } else { 5 };
    (t - Duration::hours(hours)).date_naive()
}

/// Midnight New York time on `date`, in UTC: the `t` of that day's daily bar.
pub fn new_york_midnight(date: NaiveDate) -> DateTime<Utc> {
    let summer = Utc.from_utc_datetime(&date.and_hms_opt(4, 0, 0).unwrap());
    if is_new_york_summer_time(summer) {
        summer
    } else {
        Utc.from_utc_datetime(&date.and_hms_opt(5, 0, 0).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }
    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_daily_bar_is_dated_by_its_new_york_date_not_its_utc_date() {
        // Summer (EDT) and winter (EST) midnights.
        assert_eq!(
            new_york_date(utc("2024-07-01T04:00:00Z")),
            date("2024-07-01")
        );
        assert_eq!(
            new_york_date(utc("2024-01-02T05:00:00Z")),
            date("2024-01-02")
        );
        // The same instants read naively as UTC dates would be right here, but 03:00Z is still
        // the previous day in New York.
        assert_eq!(
            new_york_date(utc("2024-07-01T03:00:00Z")),
            date("2024-06-30")
        );
        // Around the switches: 10 March 2024 and 3 November 2024.
        assert_eq!(
            new_york_date(utc("2024-03-11T04:00:00Z")),
            date("2024-03-11")
        );
        assert_eq!(
            new_york_date(utc("2024-03-08T05:00:00Z")),
            date("2024-03-08")
        );
        assert_eq!(
            new_york_date(utc("2024-11-04T05:00:00Z")),
            date("2024-11-04")
        );
        assert_eq!(
            new_york_date(utc("2024-11-01T04:00:00Z")),
            date("2024-11-01")
        );
    }

    #[test]
    fn midnight_new_york_is_four_or_five_hours_after_utc_midnight() {
        assert_eq!(
            new_york_midnight(date("2024-07-01")),
            utc("2024-07-01T04:00:00Z")
        );
        assert_eq!(
            new_york_midnight(date("2024-12-02")),
            utc("2024-12-02T05:00:00Z")
        );
        // The switch days themselves: midnight comes before 02:00.
        assert_eq!(
            new_york_midnight(date("2024-03-10")),
            utc("2024-03-10T05:00:00Z")
        );
        assert_eq!(
            new_york_midnight(date("2024-11-03")),
            utc("2024-11-03T04:00:00Z")
        );
        let mut day = date("2023-01-01");
        while day < date("2026-01-01") {
            assert_eq!(new_york_date(new_york_midnight(day)), day);
            day += Duration::days(1);
        }
    }

    #[test]
    fn a_page_without_bars_is_refused_but_null_bars_are_accepted() {
        assert!(serde_json::from_str::<BarsPage>(r#"{"next_page_token":null}"#).is_err());
        let page: BarsPage =
            serde_json::from_str(r#"{"bars":null,"next_page_token":null}"#).unwrap();
        assert!(page.bars.is_none());
        let page: BarsPage = serde_json::from_str(
            r#"{"bars":{"AAPL":[{"t":"2024-07-01T04:00:00Z","o":1,"h":2,"l":0.5,"c":1.5,"v":100,"n":3,"vw":1.2}],"X":null},"next_page_token":"abc"}"#,
        )
        .unwrap();
        let bars = page.bars.unwrap();
        assert_eq!(
            bars["AAPL"].as_ref().unwrap()[0].to_bar().date,
            date("2024-07-01")
        );
        assert!(bars["X"].is_none());
    }
}
