//! **Backtests** (`/app/backtests`): every backtest in the store (`backtests/<id>/`) with its
//! headline figures; the ones chosen with `?id=A&id=B` side by side, each with its equity
//! curves against the benchmark and every screen's metrics, and its files.

use std::collections::BTreeMap;

use askama::Template;
use serde::Serialize;
use serde_json::Value;

use super::{PageError, json_attr};
use crate::data::BACKTEST_FILES;
use crate::{WebDeps, WebResponse, params};

/// The figures shown per portfolio, from `summary.json`'s `metrics`, with how each reads.
const FIGURES: [(&str, &str, bool); 8] = [
    ("total_return", "Total return", true),
    ("cagr", "CAGR", true),
    ("annual_volatility", "Volatility", true),
    ("sharpe", "Sharpe", false),
    ("sortino", "Sortino", false),
    ("max_drawdown", "Max drawdown", true),
    ("calmar", "Calmar", false),
    ("turnover_annual", "Turnover / yr", false),
];

#[derive(Serialize)]
struct Point {
    time: String,
    value: f64,
}

pub struct Listed {
    pub id: String,
    pub period: String,
    pub screens: String,
    pub selected: bool,
}

pub struct Shown {
    pub id: String,
    pub period: String,
    pub series_json: String,
    pub rows: Vec<(String, Vec<String>)>,
    pub files: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "backtests.html")]
struct BacktestsPage {
    listed: Vec<Listed>,
    headers: Vec<&'static str>,
    shown: Vec<Shown>,
}

fn figure(metrics: &Value, name: &str, percent: bool) -> String {
    match metrics.get(name).and_then(Value::as_f64) {
        Some(v) if percent => format!("{:+.1}%", v * 100.0),
        Some(v) => format!("{v:.2}"),
        None => "—".into(),
    }
}

fn period(summary: &Value) -> String {
    let get = |k: &str| summary["calendar"][k].as_str().unwrap_or("?").to_string();
    format!("{} → {}", get("first_session"), get("last_session"))
}

pub async fn page(query: &str, deps: &WebDeps) -> Result<WebResponse, PageError> {
    let pairs = params::pairs(query);
    let ids = deps.data.backtest_ids().await?;
    let mut wanted = Vec::new();
    for id in params::all(&pairs, "id") {
        let id = params::plain_name(id)
            .ok_or_else(|| PageError::BadRequest("Not a backtest id.".into()))?;
        if !ids.iter().any(|b| b == id) {
            return Err(PageError::NotFound(format!(
                "No backtest {id} in the store."
            )));
        }
        wanted.push(id.to_string());
    }
    if wanted.is_empty()
        && let Some(last) = ids.last()
    {
        wanted.push(last.clone());
    }
    let summaries =
        futures::future::join_all(ids.iter().map(|id| deps.data.backtest_summary(id))).await;
    let mut listed = Vec::new();
    let mut by_id = BTreeMap::new();
    for (id, summary) in ids.iter().zip(summaries) {
        let Ok(summary) = summary else { continue };
        let screens = summary["screens"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|p| p["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        listed.push(Listed {
            id: id.clone(),
            period: period(&summary),
            screens,
            selected: wanted.contains(id),
        });
        by_id.insert(id.clone(), summary);
    }
    let mut shown = Vec::new();
    for id in &wanted {
        let Some(summary) = by_id.get(id) else {
            continue;
        };
        let (dates, columns) = deps.data.backtest_equity(id).await?;
        let series: BTreeMap<String, Vec<Point>> = columns
            .into_iter()
            .map(|(name, values)| {
                let points = dates
                    .iter()
                    .zip(values)
                    .filter_map(|(d, v)| {
                        Some(Point {
                            time: d.clone(),
                            value: v?,
                        })
                    })
                    .collect();
                (name, points)
            })
            .collect();
        let portfolios = summary["screens"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .chain(std::iter::once(summary["benchmark"].clone()));
        let rows = portfolios
            .map(|p| {
                let name = p["name"].as_str().unwrap_or("?").to_string();
                let figures = FIGURES
                    .iter()
                    .map(|(key, _, percent)| figure(&p["metrics"], key, *percent))
                    .collect();
                (name, figures)
            })
            .collect();
        shown.push(Shown {
            id: id.clone(),
            period: period(summary),
            series_json: json_attr(&series),
            rows,
            files: BACKTEST_FILES
                .iter()
                .map(|f| (f.to_string(), format!("/app/files/backtests/{id}/{f}")))
                .collect(),
        });
    }
    super::ok(&BacktestsPage {
        listed,
        headers: FIGURES.iter().map(|(_, label, _)| *label).collect(),
        shown,
    })
}
