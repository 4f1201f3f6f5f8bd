//! **Symbol** (`/app/symbol/AAPL`): the latest run's daily candles with volume, SMA 50/200 and
//! the 52-week high (drawn by the page's script from a data attribute), every metric with its
//! label, unit and description from the catalogue, and which screens it passed on each of the
//! last 60 runs.

use askama::Template;
use http::{Response, StatusCode, header};
use screener_core::catalogue;
use serde::Serialize;

use super::{PageError, json_attr};
use crate::{WebDeps, WebResponse, params};

/// Runs the pass history looks back over.
pub const PASS_HISTORY_RUNS: usize = 60;
/// Bars the chart shows at most (about two years).
pub const CHART_BARS: usize = 520;

#[derive(Serialize)]
struct ChartBar {
    time: String,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

/// One row of the metric table, as the catalogue labels and formats it.
struct MetricRow {
    label: String,
    value: String,
    unit: &'static str,
    description: &'static str,
}

#[derive(Template)]
#[template(path = "symbol.html")]
struct SymbolPage {
    symbol: String,
    date: String,
    notice: Option<String>,
    metrics: Vec<MetricRow>,
    bars_json: Option<String>,
    bars_note: String,
    screens: Vec<String>,
    passes: Vec<(String, Vec<bool>)>,
}

/// `GET /app/symbol?s=aapl`: the search box, sent on to the symbol's page.
pub fn search(query: &str) -> WebResponse {
    let pairs = params::pairs(query);
    let wanted = params::first(&pairs, "s")
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase();
    match params::symbol(&wanted) {
        Some(symbol) => Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, format!("/app/symbol/{symbol}"))
            .body(Vec::new())
            .expect("a redirect builds"),
        None => PageError::BadRequest("Not a symbol.".into()).into_response(),
    }
}

pub async fn page(text: &str, deps: &WebDeps) -> Result<WebResponse, PageError> {
    let symbol = params::symbol(text)
        .ok_or_else(|| PageError::BadRequest("Not a symbol: A-Z, 0-9, '.' and '-'.".into()))?;
    let symbol = symbol.as_str();
    let latest = deps.data.latest().await?;
    deps.saw_latest_run(&latest.run_id);
    let manifest = deps.data.manifest(latest.date).await?;
    let table = deps.data.results(&manifest).await?;
    let row = table
        .symbols
        .iter()
        .position(|s| s == symbol)
        .ok_or_else(|| {
            PageError::NotFound(format!(
                "{symbol} was not screened in the run of {}.",
                latest.date
            ))
        })?;
    let metrics = table
        .metrics
        .iter()
        .map(|name| {
            let value = catalogue::show(name, table.get(row, name));
            match catalogue::metric(name) {
                Some(m) => MetricRow {
                    label: m.label.to_string(),
                    value,
                    unit: m.unit.name(),
                    description: m.description,
                },
                // A column from a run older than the catalogue: shown under its own name.
                None => MetricRow {
                    label: name.clone(),
                    value,
                    unit: "",
                    description: "",
                },
            }
        })
        .collect();
    let digest = deps.data.digest(&manifest).await?;
    let (bars_json, bars_note) = match deps.data.bars(&digest, symbol).await? {
        Some(bars) => {
            let start = bars.len().saturating_sub(CHART_BARS);
            let chart: Vec<ChartBar> = bars[start..]
                .iter()
                .map(|b| ChartBar {
                    time: b.date.to_string(),
                    open: b.open,
                    high: b.high,
                    low: b.low,
                    close: b.close,
                    volume: b.volume,
                })
                .collect();
            let note = format!("{} daily bars to {}", chart.len(), latest.date);
            (Some(json_attr(&chart)), note)
        }
        None => (
            None,
            "The bars of this run are no longer in the store (chart-bars/ expires after ChartBarsRetentionDays, 400 by default), or the run predates the dashboard.".into(),
        ),
    };
    let dates = deps.data.run_dates_under(Some(latest.clone())).await?;
    let manifests = deps.data.recent_manifests(&dates, PASS_HISTORY_RUNS).await;
    let digests = deps.data.digests(&manifests).await;
    let screens: Vec<String> = manifest.screens.iter().map(|s| s.name.clone()).collect();
    let passes = digests
        .iter()
        .rev()
        .map(|d| {
            let passed = d.screens_passed(symbol);
            (
                d.date.to_string(),
                screens
                    .iter()
                    .map(|s| passed.contains(&s.as_str()))
                    .collect(),
            )
        })
        .collect();
    super::ok(&SymbolPage {
        symbol: symbol.to_string(),
        date: latest.date.to_string(),
        notice: manifest.notice.clone(),
        metrics,
        bars_json,
        bars_note,
        screens,
        passes,
    })
}
