//! **History** (`/app/history`): per screen the passing count on each run date (a chart and a
//! table), who entered and left each screen run over run, and the run log (source, counts,
//! failures, duration per run).

use std::collections::BTreeMap;

use askama::Template;
use serde::Serialize;

use super::{PageError, json_attr};
use crate::{WebDeps, WebResponse};

/// Runs the page covers (about a year of sessions).
pub const HISTORY_RUNS: usize = 260;

#[derive(Serialize)]
struct Point {
    time: String,
    value: f64,
}

pub struct LogRow {
    pub date: String,
    pub run_id: String,
    pub source: String,
    pub synthetic: bool,
    pub screened: u32,
    pub rejected: u32,
    pub failed: u32,
    pub seconds: String,
    pub entered: usize,
    pub left: usize,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    series_json: String,
    screens: Vec<String>,
    counts: Vec<(String, Vec<usize>)>,
    log: Vec<LogRow>,
}

pub async fn page(deps: &WebDeps) -> Result<WebResponse, PageError> {
    let dates = deps.data.run_dates().await?;
    let manifests = deps.data.recent_manifests(&dates, HISTORY_RUNS).await;
    let digests = deps.data.digests(&manifests).await;
    let screens: Vec<String> = manifests
        .last()
        .map(|m| m.screens.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let mut series: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    let mut counts = Vec::new();
    let mut log = Vec::new();
    let mut previous: Option<&screener_core::digest::RunDigest> = None;
    for digest in &digests {
        let row: Vec<usize> = screens
            .iter()
            .map(|s| digest.passing.get(s).map_or(0, Vec::len))
            .collect();
        for (s, n) in screens.iter().zip(&row) {
            series.entry(s.clone()).or_default().push(Point {
                time: digest.date.to_string(),
                value: *n as f64,
            });
        }
        counts.push((digest.date.to_string(), row));
        let (mut entered, mut left) = (0, 0);
        if let Some(before) = previous {
            for screen in digest.passing.keys() {
                let (came, went) = digest.changes_since(before, screen);
                entered += came.len();
                left += went.len();
            }
        }
        if let Some(m) = manifests.iter().find(|m| m.date == digest.date) {
            log.push(LogRow {
                date: m.date.to_string(),
                run_id: m.run_id.clone(),
                source: m.source.kind.clone(),
                synthetic: m.source.synthetic,
                screened: m.counts.screened,
                rejected: m.counts.rejected,
                failed: m.counts.failed,
                seconds: format!(
                    "{:.1}",
                    (m.finished_at - m.started_at).num_milliseconds() as f64 / 1000.0
                ),
                entered,
                left,
            });
        }
        previous = Some(digest);
    }
    counts.reverse();
    log.reverse();
    super::ok(&HistoryPage {
        series_json: json_attr(&series),
        screens,
        counts,
        log,
    })
}
