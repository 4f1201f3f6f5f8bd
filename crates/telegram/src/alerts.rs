//! Alert fan-out after a publish: each subscriber is told which symbols entered and left each
//! screen it follows, compared with the previous published run (the latest date before this
//! one). At most once per run date: a marker `bot/alerts/date=D.json` is claimed with an
//! `IfAbsent` write before anything is sent, so a re-run of the same date never alerts twice
//! (and an alert interrupted half-way is not repeated either).

use std::collections::BTreeSet;
use std::fmt::Write;

use chrono::{NaiveDate, Utc};
use screener_core::ports::{
    Delivery, Notification, Notifier, NotifierError, Store, StoreError, WriteCondition,
};
use screener_core::results::{ResultsError, ResultsTable};
use screener_core::workflow::{Manifest, keys};
use serde::{Deserialize, Serialize};

use crate::api::{MAX_MESSAGE_CHARS, escape, split_message};
use crate::subscriptions::{self, SubscriptionError};

/// Symbols listed per side of a change before "and N more".
const MAX_LISTED: usize = 60;

pub fn marker_key(date: NaiveDate) -> String {
    format!("bot/alerts/date={date}.json")
}

/// One screen's change between two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenChange {
    pub screen: String,
    pub description: String,
    /// Passing now.
    pub count: usize,
    pub entered: Vec<String>,
    pub left: Vec<String>,
}

/// What the marker records once the fan-out is done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FanOutReport {
    pub date: Option<NaiveDate>,
    pub run_id: String,
    pub previous_date: Option<NaiveDate>,
    pub subscribers: usize,
    pub messaged: usize,
    pub sent: usize,
    pub blocked: Vec<i64>,
    pub failed: Vec<(i64, String)>,
    #[serde(default)]
    pub finished: bool,
}

#[derive(Debug)]
pub enum FanOut {
    /// This date was alerted before (or is being alerted by someone else right now).
    AlreadyDone,
    Done(FanOutReport),
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Subscriptions(#[from] SubscriptionError),
    #[error(transparent)]
    Notifier(#[from] NotifierError),
    #[error("{0}")]
    Corrupt(String),
}

/// Entered and left, per screen of `current` (in its order), against `previous`. With no
/// previous run, every passing symbol has "entered".
pub fn diff_screens(
    manifest: &Manifest,
    current: &ResultsTable,
    previous: Option<&ResultsTable>,
) -> Vec<ScreenChange> {
    manifest
        .screens
        .iter()
        .map(|screen| {
            let now: BTreeSet<&str> = current
                .passing(&screen.name)
                .into_iter()
                .map(|r| current.symbols[r].as_str())
                .collect();
            let before: BTreeSet<&str> = previous
                .map(|p| {
                    p.passing(&screen.name)
                        .into_iter()
                        .map(|r| p.symbols[r].as_str())
                        .collect()
                })
                .unwrap_or_default();
            // Entered in rank order (the best first); left alphabetically.
            let entered = current
                .passing(&screen.name)
                .into_iter()
                .map(|r| current.symbols[r].clone())
                .filter(|s| !before.contains(s.as_str()))
                .collect();
            let left = before
                .difference(&now)
                .map(|s| s.to_string())
                .collect::<Vec<_>>();
            ScreenChange {
                screen: screen.name.clone(),
                description: screen.description.clone(),
                count: now.len(),
                entered,
                left,
            }
        })
        .collect()
}

/// The alert text for one chat, or `None` when none of its screens changed.
pub fn alert_text(
    date: NaiveDate,
    previous: Option<NaiveDate>,
    changes: &[ScreenChange],
    subscribed: &[String],
) -> Option<String> {
    let relevant: Vec<&ScreenChange> = changes
        .iter()
        .filter(|c| subscribed.contains(&c.screen))
        .filter(|c| !c.entered.is_empty() || !c.left.is_empty())
        .collect();
    if relevant.is_empty() {
        return None;
    }
    let mut out = String::new();
    match previous {
        Some(p) => {
            let _ = writeln!(out, "🔔 <b>Screen changes {date}</b> (since {p})");
        }
        None => {
            let _ = writeln!(out, "🔔 <b>Screens on {date}</b> (first published run)");
        }
    }
    for change in relevant {
        let _ = writeln!(
            out,
            "\n<b>{}</b>: {} passing",
            escape(&change.screen),
            change.count
        );
        for (sign, label, list) in [
            ("➕", "entered", &change.entered),
            ("➖", "left", &change.left),
        ] {
            if list.is_empty() {
                continue;
            }
            let shown: Vec<String> = list.iter().take(MAX_LISTED).map(|s| escape(s)).collect();
            let more = list.len().saturating_sub(MAX_LISTED);
            let _ = write!(out, "{sign} {label} ({}): {}", list.len(), shown.join(", "));
            if more > 0 {
                let _ = write!(out, " and {more} more");
            }
            out.push('\n');
        }
    }
    out.push_str("\n/alerts to change what you follow");
    Some(out)
}

/// The latest published date before `date` that has a manifest.
pub async fn previous_run(
    store: &dyn Store,
    date: NaiveDate,
) -> Result<Option<NaiveDate>, StoreError> {
    let keys = store.list("results/date=").await?;
    Ok(keys
        .iter()
        .filter_map(|k| {
            let rest = k.strip_prefix("results/date=")?;
            let (d, file) = rest.split_once('/')?;
            (file == "manifest.json").then_some(d)
        })
        .filter_map(|d| d.parse::<NaiveDate>().ok())
        .filter(|d| *d < date)
        .max())
}

async fn read_table(store: &dyn Store, date: NaiveDate) -> Result<ResultsTable, AlertError> {
    let bytes = store.get(&keys::results_file(date, "results.csv")).await?;
    Ok(ResultsTable::parse(&bytes)?)
}

/// Tells every subscriber what changed in the run published for `manifest.date`. Claims the
/// date first; sends through `notifier`; drops chats that blocked the bot; records what
/// happened in the marker. Errors are the caller's to log: nothing here may fail the publish.
pub async fn fan_out(
    store: &dyn Store,
    notifier: &dyn Notifier,
    manifest: &Manifest,
) -> Result<FanOut, AlertError> {
    let date = manifest.date;
    let marker = marker_key(date);
    let mut report = FanOutReport {
        date: Some(date),
        run_id: manifest.run_id.clone(),
        ..FanOutReport::default()
    };
    let claim = serde_json::to_vec_pretty(&serde_json::json!({
        "date": date, "run_id": manifest.run_id, "claimed_at": Utc::now(), "finished": false
    }))
    .expect("claim serializes");
    match store
        .put_if(&marker, claim, "application/json", WriteCondition::IfAbsent)
        .await
    {
        Ok(()) => {}
        Err(StoreError::PreconditionFailed { .. }) => {
            tracing::info!(%date, "alerts for this date were sent before; not sending again");
            return Ok(FanOut::AlreadyDone);
        }
        Err(e) => return Err(e.into()),
    }

    let subs = subscriptions::load(store).await?;
    report.subscribers = subs.chats.len();
    if !subs.chats.is_empty() {
        let current = read_table(store, date).await?;
        report.previous_date = previous_run(store, date).await?;
        let previous = match report.previous_date {
            Some(p) => Some(read_table(store, p).await?),
            None => None,
        };
        let changes = diff_screens(manifest, &current, previous.as_ref());
        let mut messages = Vec::new();
        for (chat, screens) in &subs.chats {
            let screens: Vec<String> = screens.iter().cloned().collect();
            if let Some(text) = alert_text(date, report.previous_date, &changes, &screens) {
                report.messaged += 1;
                for part in split_message(&text, MAX_MESSAGE_CHARS) {
                    messages.push(Notification::new(*chat, part));
                }
            }
        }
        for (chat, outcome) in notifier.send(messages).await? {
            match outcome {
                Delivery::Sent => report.sent += 1,
                Delivery::Blocked => report.blocked.push(chat),
                Delivery::Failed(why) => report.failed.push((chat, why)),
            }
        }
        if !report.blocked.is_empty() {
            subscriptions::drop_chats(store, &report.blocked).await?;
        }
    }
    report.finished = true;
    let body = serde_json::to_vec_pretty(&report).expect("report serializes");
    store.put(&marker, body, "application/json").await?;
    tracing::info!(
        %date,
        subscribers = report.subscribers,
        sent = report.sent,
        blocked = report.blocked.len(),
        failed = report.failed.len(),
        "alerts sent"
    );
    Ok(FanOut::Done(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From JSON, so that fields other work adds (with serde defaults) need no change here.
    fn manifest(screens: &[&str]) -> Manifest {
        let screens: Vec<serde_json::Value> = screens
            .iter()
            .map(|s| serde_json::json!({"name": s, "description": format!("{s} screen"), "count": 0, "top_key": ""}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "date": "2025-06-13", "run_id": "r", "notice": null,
            "source": {"kind": "synthetic", "description": "d", "synthetic": true, "adjustment": "all"},
            "started_at": "2025-06-13T22:00:00Z", "finished_at": "2025-06-13T22:01:00Z",
            "counts": {"requested": 0, "fetched": 0, "valid": 0, "repaired": 0, "rejected": 0, "no_data": 0, "failed": 0, "screened": 0},
            "rejections": [], "repairs": [], "no_data": [], "failed_batches": [],
            "screens": screens, "worst_drawdown": null, "durations_ms": {}, "files": []
        }))
        .unwrap()
    }

    fn table(rows: &[(&str, bool, Option<u32>)]) -> ResultsTable {
        let mut csv = String::from("symbol,close,pass_a,rank_a\n");
        for (s, pass, rank) in rows {
            let rank = rank.map(|r| r.to_string()).unwrap_or_default();
            csv.push_str(&format!("{s},1,{pass},{rank}\n"));
        }
        ResultsTable::parse(csv.as_bytes()).unwrap()
    }

    #[test]
    fn entered_and_left_are_computed_against_the_previous_run() {
        let before = table(&[
            ("A", true, Some(1)),
            ("B", true, Some(2)),
            ("C", false, None),
        ]);
        let now = table(&[
            ("A", true, Some(2)),
            ("B", false, None),
            ("C", true, Some(1)),
        ]);
        let changes = diff_screens(&manifest(&["a"]), &now, Some(&before));
        assert_eq!(changes[0].entered, vec!["C"]);
        assert_eq!(changes[0].left, vec!["B"]);
        assert_eq!(changes[0].count, 2);
    }

    #[test]
    fn no_alert_when_nothing_followed_changed() {
        let same = table(&[("A", true, Some(1))]);
        let changes = diff_screens(&manifest(&["a"]), &same, Some(&same));
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        assert_eq!(alert_text(date, Some(date), &changes, &["a".into()]), None);
    }

    #[test]
    fn the_alert_names_entries_and_exits_and_escapes_them() {
        let before = table(&[("A&B", true, Some(1))]);
        let now = table(&[("C<D", true, Some(1))]);
        let changes = diff_screens(&manifest(&["a"]), &now, Some(&before));
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        let text = alert_text(date, Some(date), &changes, &["a".into()]).unwrap();
        assert!(text.contains("entered (1): C&lt;D"), "{text}");
        assert!(text.contains("left (1): A&amp;B"), "{text}");
        // Not subscribed: nothing.
        assert_eq!(alert_text(date, None, &changes, &["b".into()]), None);
    }
}
