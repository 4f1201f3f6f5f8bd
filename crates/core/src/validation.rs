//! Per-symbol bar validation. Each symbol's bars are checked and either kept (possibly
//! repaired, with a note saying what was done) or rejected with a reason. Rejections are data,
//! reported in the manifest, never errors: one bad symbol never sinks a batch.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::calendar::Sessions;
use crate::symbol::Symbol;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRules {
    /// Fewer bars than this (after repairs) and the symbol is rejected.
    pub min_history_bars: usize,
    /// More missing trading days than this inside the history and the symbol is rejected;
    /// fewer are kept with a note (indicators count bars, so a gap is skipped, not filled).
    pub max_missing_sessions: usize,
    /// A last bar more than this many sessions before the run date is stale.
    pub max_stale_sessions: usize,
}

impl Default for ValidationRules {
    fn default() -> Self {
        ValidationRules {
            min_history_bars: 60,
            max_missing_sessions: 3,
            max_stale_sessions: 3,
        }
    }
}

/// What a check found. `code` is stable (tests and the report group by it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Repaired,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolReport {
    pub symbol: Symbol,
    pub verdict: Verdict,
    /// For a rejection: the first reason, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Everything found, including repairs and tolerated gaps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    pub bars_received: usize,
    pub bars_kept: usize,
}

/// Validates one symbol's bars for a run dated `run_date`. Returns the report and, unless
/// rejected, the cleaned bars in date order.
pub fn validate_symbol(
    symbol: &Symbol,
    bars: Vec<Bar>,
    run_date: NaiveDate,
    sessions: &Sessions,
    rules: &ValidationRules,
) -> (SymbolReport, Option<Vec<Bar>>) {
    let received = bars.len();
    let mut findings = Vec::new();
    let mut rejecting: Vec<usize> = Vec::new(); // indexes into findings that reject
    let mut note = |findings: &mut Vec<Finding>,
                    code: &str,
                    date: Option<NaiveDate>,
                    detail: String,
                    rejects: bool| {
        if rejects {
            rejecting.push(findings.len());
        }
        findings.push(Finding {
            code: code.to_string(),
            date,
            detail,
        });
    };

    let mut bars = bars;
    if bars.is_empty() {
        note(
            &mut findings,
            "no_bars",
            None,
            "the source returned no bars".into(),
            true,
        );
    }
    if !bars.windows(2).all(|w| w[0].date <= w[1].date) {
        bars.sort_by_key(|b| b.date);
        note(
            &mut findings,
            "unsorted",
            None,
            "bars arrived out of date order; sorted".into(),
            false,
        );
    }
    // Duplicates: keep the last bar of a date (a later print is a correction).
    let mut deduplicated: Vec<Bar> = Vec::with_capacity(bars.len());
    for bar in bars {
        match deduplicated.last_mut() {
            Some(last) if last.date == bar.date => {
                let same = *last == bar;
                note(
                    &mut findings,
                    "duplicate_date",
                    Some(bar.date),
                    if same {
                        format!("dropped an identical duplicate bar dated {}", bar.date)
                    } else {
                        format!("two different bars dated {}; kept the later one", bar.date)
                    },
                    false,
                );
                *last = bar;
            }
            _ => deduplicated.push(bar),
        }
    }
    let bars = deduplicated;

    for bar in &bars {
        let d = Some(bar.date);
        let prices = [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
        ];
        if let Some((name, value)) = prices.iter().find(|(_, v)| !v.is_finite()) {
            note(
                &mut findings,
                "non_finite_price",
                d,
                format!("{name} is {value} on {}", bar.date),
                true,
            );
            continue;
        }
        if let Some((name, value)) = prices.iter().find(|(_, v)| *v <= 0.0) {
            note(
                &mut findings,
                "non_positive_price",
                d,
                format!("{name} is {value} on {}", bar.date),
                true,
            );
            continue;
        }
        if bar.high < bar.low {
            note(
                &mut findings,
                "high_below_low",
                d,
                format!("high {} < low {} on {}", bar.high, bar.low, bar.date),
                true,
            );
            continue;
        }
        if bar.close < bar.low || bar.close > bar.high {
            note(
                &mut findings,
                "close_outside_range",
                d,
                format!(
                    "close {} outside [{}, {}] on {}",
                    bar.close, bar.low, bar.high, bar.date
                ),
                true,
            );
        }
        if bar.open < bar.low || bar.open > bar.high {
            note(
                &mut findings,
                "open_outside_range",
                d,
                format!(
                    "open {} outside [{}, {}] on {}",
                    bar.open, bar.low, bar.high, bar.date
                ),
                true,
            );
        }
        if !bar.volume.is_finite() || bar.volume <= 0.0 {
            note(
                &mut findings,
                "zero_volume",
                d,
                format!(
                    "volume is {} on {} (halted or a bad print)",
                    bar.volume, bar.date
                ),
                true,
            );
        }
        if !sessions.is_trading_day(bar.date) {
            note(
                &mut findings,
                "non_trading_day",
                d,
                format!("bar dated {}, when the exchange was closed", bar.date),
                true,
            );
        }
    }

    if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
        let present: BTreeSet<NaiveDate> = bars.iter().map(|b| b.date).collect();
        let missing: Vec<NaiveDate> = sessions
            .trading_days(first.date, last.date)
            .into_iter()
            .filter(|d| !present.contains(d))
            .collect();
        if !missing.is_empty() {
            let listed: Vec<String> = missing.iter().take(5).map(|d| d.to_string()).collect();
            let too_many = missing.len() > rules.max_missing_sessions;
            note(
                &mut findings,
                "missing_days",
                missing.first().copied(),
                format!(
                    "{} trading day(s) missing: {}{}{}",
                    missing.len(),
                    listed.join(", "),
                    if missing.len() > 5 { ", ..." } else { "" },
                    if too_many {
                        format!(" (more than the {} tolerated)", rules.max_missing_sessions)
                    } else {
                        " (kept; indicators skip them)".to_string()
                    }
                ),
                too_many,
            );
        }
        let expected_last = sessions.last_trading_day_on_or_before(run_date);
        let behind = sessions.trading_days_between(last.date, expected_last);
        if behind > rules.max_stale_sessions {
            note(
                &mut findings,
                "stale",
                Some(last.date),
                format!(
                    "last bar is {} ({behind} sessions before {expected_last})",
                    last.date
                ),
                true,
            );
        }
        if last.date > run_date {
            note(
                &mut findings,
                "future_bar",
                Some(last.date),
                format!("bar dated {} is after the run date {run_date}", last.date),
                true,
            );
        }
        if bars.len() < rules.min_history_bars {
            note(
                &mut findings,
                "short_history",
                Some(first.date),
                format!(
                    "only {} bars; at least {} needed",
                    bars.len(),
                    rules.min_history_bars
                ),
                true,
            );
        }
    }

    let kept = bars.len();
    let report = |verdict, reason| SymbolReport {
        symbol: symbol.clone(),
        verdict,
        reason,
        findings: findings.clone(),
        bars_received: received,
        bars_kept: kept,
    };
    if let Some(&first) = rejecting.first() {
        let reason = format!("{}: {}", findings[first].code, findings[first].detail);
        let mut rejected = report(Verdict::Rejected, Some(reason));
        rejected.bars_kept = 0;
        return (rejected, None);
    }
    let verdict = if findings.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Repaired
    };
    (report(verdict, None), Some(bars))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar;
    use chrono::Duration;

    fn run_date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()
    }

    fn clean(n: usize) -> Vec<Bar> {
        let days = calendar::trading_days(run_date() - Duration::days(400), run_date());
        days[days.len() - n..]
            .iter()
            .enumerate()
            .map(|(i, d)| Bar {
                date: *d,
                open: 10.0 + i as f64 * 0.01,
                high: 11.0 + i as f64 * 0.01,
                low: 9.0 + i as f64 * 0.01,
                close: 10.5 + i as f64 * 0.01,
                volume: 1_000.0,
                vwap: None,
                trade_count: None,
            })
            .collect()
    }

    fn check(bars: Vec<Bar>) -> (SymbolReport, Option<Vec<Bar>>) {
        validate_symbol(
            &Symbol::parse("TEST").unwrap(),
            bars,
            run_date(),
            &Sessions::nyse(),
            &ValidationRules::default(),
        )
    }

    fn codes(report: &SymbolReport) -> Vec<&str> {
        report.findings.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn clean_bars_are_valid_and_unchanged() {
        let (report, bars) = check(clean(100));
        assert_eq!(report.verdict, Verdict::Valid);
        assert_eq!(bars.unwrap(), clean(100));
    }

    #[test]
    fn an_identical_duplicate_is_dropped_with_a_note() {
        let mut bars = clean(100);
        bars.insert(50, bars[50].clone());
        let (report, kept) = check(bars);
        assert_eq!(report.verdict, Verdict::Repaired);
        assert_eq!(codes(&report), vec!["duplicate_date"]);
        assert_eq!(kept.unwrap(), clean(100));
    }

    #[test]
    fn each_bad_bar_rejects_the_symbol_with_its_reason() {
        type Spoil = fn(&mut Bar);
        let cases: [(&str, Spoil); 6] = [
            ("non_positive_price", |b| b.close = 0.0),
            ("non_finite_price", |b| b.high = f64::NAN),
            ("high_below_low", |b| {
                std::mem::swap(&mut b.high, &mut b.low)
            }),
            ("close_outside_range", |b| b.close = b.high + 1.0),
            ("zero_volume", |b| b.volume = 0.0),
            ("non_trading_day", |b| {
                b.date = NaiveDate::from_ymd_opt(2024, 12, 25).unwrap()
            }),
        ];
        for (code, spoil) in cases {
            let mut bars = clean(100);
            spoil(&mut bars[40]);
            bars.sort_by_key(|b| b.date);
            let (report, kept) = check(bars);
            assert_eq!(report.verdict, Verdict::Rejected, "{code}");
            assert!(kept.is_none());
            assert!(
                report.reason.as_deref().unwrap().starts_with(code),
                "{code}: {:?}",
                report.reason
            );
        }
    }

    #[test]
    fn a_single_missing_day_is_noted_but_many_reject() {
        let mut bars = clean(100);
        bars.remove(30);
        let (report, kept) = check(bars);
        assert_eq!(report.verdict, Verdict::Repaired);
        assert_eq!(codes(&report), vec!["missing_days"]);
        assert_eq!(kept.unwrap().len(), 99);

        let mut bars = clean(100);
        bars.drain(30..35);
        let (report, _) = check(bars);
        assert_eq!(report.verdict, Verdict::Rejected);
        assert!(report.reason.unwrap().contains("5 trading day(s) missing"));
    }

    #[test]
    fn stale_and_short_histories_are_rejected() {
        let mut bars = clean(100);
        bars.truncate(90);
        let (report, _) = check(bars);
        assert!(report.reason.unwrap().starts_with("stale"));
        let (report, _) = check(clean(20));
        assert!(report.reason.unwrap().starts_with("short_history"));
        let (report, _) = check(Vec::new());
        assert!(report.reason.unwrap().starts_with("no_bars"));
    }

    #[test]
    fn unsorted_bars_are_sorted_with_a_note() {
        let mut bars = clean(100);
        bars.swap(10, 11);
        let (report, kept) = check(bars);
        assert_eq!(report.verdict, Verdict::Repaired);
        assert_eq!(kept.unwrap(), clean(100));
    }
}
