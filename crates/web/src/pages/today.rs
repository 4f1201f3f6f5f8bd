//! **Today** (`/app/`): every screen of a run with its count; the chosen screen's table in a
//! finviz-like view (overview, performance, technical), sorted and filtered by the URL
//! (`date`, `screen`, `view`, `sort`, and filters as `fm`/`fo`/`fv` triples), so a link
//! reproduces the page; who entered and left each screen since the previous run; the run's
//! health from its manifest; and a loud label when the data is synthetic.

use std::cmp::Ordering;

use askama::Template;
use chrono::NaiveDate;
use screener_core::catalogue;
use screener_core::results::ResultsTable;
use screener_core::workflow::Manifest;

use super::{PageError, query_string};
use crate::{WebDeps, WebResponse, params};

/// The screen name standing for every screened symbol.
pub const ALL: &str = "all";
/// Rows a table shows per page (`page=N` in the URL for the others): a page of a screen of any
/// size stays near 100 KB.
pub const ROWS_PER_PAGE: usize = 200;
/// The highest `page=` the URL may ask for.
const MAX_PAGE: usize = 10_000;

/// A view: a named set of columns (finviz's Overview / Performance / Technical).
pub struct View {
    pub name: &'static str,
    pub label: &'static str,
    pub columns: &'static [&'static str],
}

pub const VIEWS: [View; 3] = [
    View {
        name: "overview",
        label: "Overview",
        columns: &[
            "close",
            "ret_1d",
            "volume",
            "avg_volume_20",
            "rel_volume",
            "pct_from_high_52w",
            "drawdown_180d",
            "rsi_14",
        ],
    },
    View {
        name: "performance",
        label: "Performance",
        columns: &[
            "ret_1d",
            "ret_5d",
            "ret_21d",
            "ret_63d",
            "ret_126d",
            "ret_252d",
            "volatility_20",
            "max_drawdown_252",
        ],
    },
    View {
        name: "technical",
        label: "Technical",
        columns: &[
            "close", "sma_20", "sma_50", "sma_200", "rsi_14", "atr_14", "high_52w", "low_52w",
            "gap_pct",
        ],
    },
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FilterOp {
    Above,
    Below,
}

/// `metric > value` or `metric < value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub metric: String,
    pub op: FilterOp,
    pub value: f64,
}

impl Filter {
    fn keeps(&self, v: Option<f64>) -> bool {
        match (v, self.op) {
            (Some(v), FilterOp::Above) => v > self.value,
            (Some(v), FilterOp::Below) => v < self.value,
            (None, _) => false,
        }
    }
    fn op_text(&self) -> &'static str {
        match self.op {
            FilterOp::Above => "gt",
            FilterOp::Below => "lt",
        }
    }
}

/// What the URL asks for, checked against the run's own screens and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct TableQuery {
    pub date: Option<NaiveDate>,
    pub screen: Option<String>,
    pub view: &'static View,
    /// A metric name, `rank` or `symbol`; descending when `descending`.
    pub sort: Option<(String, bool)>,
    pub filters: Vec<Filter>,
    /// 1 for the first [`ROWS_PER_PAGE`] rows.
    pub page: usize,
}

impl PartialEq for View {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl TableQuery {
    pub fn parse(query: &str) -> Result<TableQuery, PageError> {
        let pairs = params::pairs(query);
        let bad = |what: &str| PageError::BadRequest(what.to_string());
        let date = match params::first(&pairs, "date") {
            None => None,
            Some(d) => Some(params::date(d).ok_or_else(|| bad("date must be YYYY-MM-DD"))?),
        };
        let screen = match params::first(&pairs, "screen") {
            None => None,
            Some(s) => Some(
                params::plain_name(s)
                    .ok_or_else(|| bad("not a screen name"))?
                    .to_string(),
            ),
        };
        let view = match params::first(&pairs, "view") {
            None => &VIEWS[0],
            Some(v) => VIEWS
                .iter()
                .find(|view| view.name == v)
                .ok_or_else(|| bad("view must be overview, performance or technical"))?,
        };
        let sort = match params::first(&pairs, "sort") {
            None => None,
            Some(s) => {
                let (name, descending) = match s.strip_prefix('-') {
                    Some(name) => (name, true),
                    None => (s, false),
                };
                let name =
                    params::plain_name(name).ok_or_else(|| bad("not a column to sort by"))?;
                Some((name.to_string(), descending))
            }
        };
        let (metrics, ops, values) = (
            params::all(&pairs, "fm"),
            params::all(&pairs, "fo"),
            params::all(&pairs, "fv"),
        );
        if metrics.len() != ops.len() || ops.len() != values.len() {
            return Err(bad("each filter needs fm, fo and fv"));
        }
        let mut filters = Vec::new();
        for ((metric, op), value) in metrics.into_iter().zip(ops).zip(values) {
            if metric.is_empty() && value.is_empty() {
                continue; // the empty row of the filter form
            }
            let metric =
                params::plain_name(metric).ok_or_else(|| bad("not a metric to filter on"))?;
            let op = match op {
                "gt" => FilterOp::Above,
                "lt" => FilterOp::Below,
                _ => return Err(bad("a filter's fo must be gt or lt")),
            };
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| bad("a filter's fv must be a number"))?;
            filters.push(Filter {
                metric: metric.to_string(),
                op,
                value,
            });
        }
        let page = match params::first(&pairs, "page") {
            None => 1,
            Some(p) => p
                .parse::<usize>()
                .ok()
                .filter(|p| (1..=MAX_PAGE).contains(p))
                .ok_or_else(|| bad("page must be a whole number from 1"))?,
        };
        Ok(TableQuery {
            date,
            screen,
            view,
            sort,
            filters,
            page,
        })
    }

    /// This page's URL with some parameters changed (`None` drops one). Any change but `page`
    /// itself starts again from the first page.
    fn href(&self, date: NaiveDate, screen: &str, changes: &[(&str, Option<String>)]) -> String {
        let mut pairs: Vec<(String, String)> = vec![
            ("date".into(), date.to_string()),
            ("screen".into(), screen.to_string()),
            ("view".into(), self.view.name.to_string()),
        ];
        if let Some((name, desc)) = &self.sort {
            pairs.push((
                "sort".into(),
                format!("{}{name}", if *desc { "-" } else { "" }),
            ));
        }
        for f in &self.filters {
            pairs.push(("fm".into(), f.metric.clone()));
            pairs.push(("fo".into(), f.op_text().into()));
            pairs.push(("fv".into(), f.value.to_string()));
        }
        for (name, value) in changes {
            if *name == "filters" {
                pairs.retain(|(k, _)| !matches!(k.as_str(), "fm" | "fo" | "fv"));
                continue;
            }
            pairs.retain(|(k, _)| k != name);
            if let Some(v) = value {
                pairs.push(((*name).to_string(), v.clone()));
            }
        }
        format!(
            "/app/?{}",
            query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        )
    }
}

pub struct Tab {
    pub name: String,
    pub description: String,
    pub count: usize,
    pub href: String,
    pub selected: bool,
}

pub struct Column {
    pub label: String,
    pub name: String,
    pub href: String,
    pub arrow: &'static str,
    pub numeric: bool,
}

pub struct Row {
    pub symbol: String,
    pub href: String,
    pub rank: String,
    pub cells: Vec<Cell>,
}

pub struct Cell {
    pub text: String,
    pub sign: &'static str,
}

pub struct Change {
    pub screen: String,
    pub entered: Vec<String>,
    pub left: Vec<String>,
}

pub struct FilterChip {
    pub text: String,
}

pub struct Health {
    pub run_id: String,
    pub source: String,
    pub started: String,
    pub finished: String,
    pub counts: Vec<(String, String)>,
    pub rejections: Vec<(String, String)>,
    pub failed_batches: Vec<(String, String, String)>,
    pub durations: Vec<(String, String)>,
}

/// Which rows of the table this page shows (1-based, inclusive), and the links to the pages
/// before and after.
pub struct Pager {
    pub first: usize,
    pub last: usize,
    pub previous: Option<String>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "today.html")]
pub struct TodayPage {
    pub date: String,
    pub dates: Vec<(String, bool)>,
    pub notice: Option<String>,
    pub tabs: Vec<Tab>,
    pub screen: String,
    pub view_name: &'static str,
    pub views: Vec<(&'static str, String, bool)>,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub matching: usize,
    pub pager: Pager,
    pub filters: Vec<FilterChip>,
    pub clear_filters_href: String,
    pub kept_filters: Vec<(String, String, String)>,
    pub sort_value: String,
    pub metric_options: Vec<(String, String)>,
    pub previous_date: Option<String>,
    pub changes: Vec<Change>,
    pub health: Health,
    pub files: Vec<(String, String)>,
}

pub async fn page(query: &str, deps: &WebDeps) -> Result<WebResponse, PageError> {
    let q = TableQuery::parse(query)?;
    let latest = deps.data.latest_if_any().await?;
    let dates = deps.data.run_dates_under(latest.clone()).await?;
    let date = match (q.date, latest) {
        (Some(d), _) if dates.contains(&d) => d,
        (Some(d), _) => {
            return Err(PageError::NotFound(format!(
                "No run was published for {d}."
            )));
        }
        (None, Some(latest)) => {
            deps.saw_latest_run(&latest.run_id);
            latest.date
        }
        (None, None) => {
            return Err(PageError::NotFound(
                "No run has been published yet: run `screener run` first.".into(),
            ));
        }
    };
    let manifest = deps.data.manifest(date).await?;
    let table = deps.data.results(&manifest).await?;
    let screen = match &q.screen {
        None => manifest
            .screens
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_else(|| ALL.into()),
        Some(s) if s == ALL || manifest.screens.iter().any(|m| &m.name == s) => s.clone(),
        Some(s) => {
            return Err(PageError::NotFound(format!(
                "The run of {date} has no screen {s}."
            )));
        }
    };
    for f in &q.filters {
        if table.metric_index(&f.metric).is_none() {
            return Err(PageError::BadRequest(format!(
                "No metric {} to filter on.",
                f.metric
            )));
        }
    }
    if let Some((name, _)) = &q.sort
        && name != "rank"
        && name != "symbol"
        && table.metric_index(name).is_none()
    {
        return Err(PageError::BadRequest(format!(
            "No column {name} to sort by."
        )));
    }
    let previous = dates.iter().rev().find(|d| **d < date).copied();
    let changes = changes_since(deps, &manifest, previous).await;
    let view = build(&q, &manifest, &table, &screen, &dates, previous, changes);
    super::ok(&view)
}

/// Rows of `screen` (every screened symbol for [`ALL`]) that pass the filters, sorted.
pub fn select_rows(
    q: &TableQuery,
    table: &ResultsTable,
    screen: &str,
) -> Vec<(usize, Option<u32>)> {
    let mut rows: Vec<(usize, Option<u32>)> = if screen == ALL {
        (0..table.len()).map(|r| (r, None)).collect()
    } else {
        let ranks = table
            .screens
            .iter()
            .find(|(n, _, _)| n == screen)
            .map(|(_, _, r)| r);
        table
            .passing(screen)
            .into_iter()
            .map(|r| (r, ranks.and_then(|ranks| ranks[r])))
            .collect()
    };
    rows.retain(|(r, _)| q.filters.iter().all(|f| f.keeps(table.get(*r, &f.metric))));
    if let Some((name, descending)) = &q.sort {
        let key = |row: &(usize, Option<u32>)| -> Option<f64> {
            match name.as_str() {
                "rank" => row.1.map(f64::from),
                _ => table.get(row.0, name),
            }
        };
        rows.sort_by(|a, b| {
            if name == "symbol" {
                let o = table.symbols[a.0].cmp(&table.symbols[b.0]);
                return if *descending { o.reverse() } else { o };
            }
            match (key(a), key(b)) {
                // Missing values last, whichever the direction.
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                    if *descending { o.reverse() } else { o }
                }
            }
            .then_with(|| table.symbols[a.0].cmp(&table.symbols[b.0]))
        });
    }
    rows
}

async fn changes_since(
    deps: &WebDeps,
    manifest: &Manifest,
    previous: Option<NaiveDate>,
) -> Vec<Change> {
    let Some(previous) = previous else {
        return Vec::new();
    };
    let Ok(before) = deps.data.manifest(previous).await else {
        return Vec::new();
    };
    let (Ok(now), Ok(then)) = (
        deps.data.digest(manifest).await,
        deps.data.digest(&before).await,
    ) else {
        return Vec::new();
    };
    manifest
        .screens
        .iter()
        .map(|s| {
            let (entered, left) = now.changes_since(&then, &s.name);
            let owned = |list: Vec<&str>| list.into_iter().map(str::to_string).collect();
            Change {
                screen: s.name.clone(),
                entered: owned(entered),
                left: owned(left),
            }
        })
        .collect()
}

fn sign_of(format: Option<catalogue::Format>, v: Option<f64>) -> &'static str {
    match (format, v) {
        (Some(catalogue::Format::Percent), Some(v)) if v > 0.0 => "pos",
        (Some(catalogue::Format::Percent), Some(v)) if v < 0.0 => "neg",
        _ => "",
    }
}

fn build(
    q: &TableQuery,
    manifest: &Manifest,
    table: &ResultsTable,
    screen: &str,
    dates: &[NaiveDate],
    previous: Option<NaiveDate>,
    changes: Vec<Change>,
) -> TodayPage {
    let date = manifest.date;
    let rows = select_rows(q, table, screen);
    let matching = rows.len();
    let mut tabs: Vec<Tab> = manifest
        .screens
        .iter()
        .map(|s| Tab {
            name: s.name.clone(),
            description: s.description.clone(),
            count: s.count as usize,
            href: q.href(date, &s.name, &[("sort", None)]),
            selected: s.name == screen,
        })
        .collect();
    tabs.push(Tab {
        name: ALL.into(),
        description: "every screened symbol".into(),
        count: table.len(),
        href: q.href(date, ALL, &[("sort", None)]),
        selected: screen == ALL,
    });
    let sort_link = |name: &str| -> (String, &'static str) {
        let (next, arrow) = match &q.sort {
            Some((n, false)) if n == name => (format!("-{name}"), " ▲"),
            Some((n, true)) if n == name => (name.to_string(), " ▼"),
            _ => (name.to_string(), ""),
        };
        (q.href(date, screen, &[("sort", Some(next))]), arrow)
    };
    let mut columns = Vec::new();
    for (name, label) in [("rank", "Rank"), ("symbol", "Symbol")] {
        let (href, arrow) = sort_link(name);
        columns.push(Column {
            label: label.into(),
            name: name.into(),
            href,
            arrow,
            numeric: name == "rank",
        });
    }
    let shown: Vec<&str> = q
        .view
        .columns
        .iter()
        .copied()
        .filter(|c| table.metric_index(c).is_some())
        .collect();
    for name in &shown {
        let (href, arrow) = sort_link(name);
        columns.push(Column {
            label: catalogue::label(name).to_string(),
            name: name.to_string(),
            href,
            arrow,
            numeric: true,
        });
    }
    let pages = matching.div_ceil(ROWS_PER_PAGE).max(1);
    let page = q.page.min(pages);
    let first_row = (page - 1) * ROWS_PER_PAGE;
    let page_href = |n: usize| q.href(date, screen, &[("page", Some(n.to_string()))]);
    let pager = Pager {
        first: first_row + 1,
        last: (first_row + ROWS_PER_PAGE).min(matching),
        previous: (page > 1).then(|| page_href(page - 1)),
        next: (page < pages).then(|| page_href(page + 1)),
    };
    let rows = rows
        .into_iter()
        .skip(first_row)
        .take(ROWS_PER_PAGE)
        .map(|(r, rank)| Row {
            symbol: table.symbols[r].clone(),
            href: format!("/app/symbol/{}", table.symbols[r]),
            rank: rank.map(|k| k.to_string()).unwrap_or_default(),
            cells: shown
                .iter()
                .map(|name| {
                    let v = table.get(r, name);
                    Cell {
                        text: catalogue::show(name, v),
                        sign: sign_of(catalogue::metric(name).map(|m| m.format), v),
                    }
                })
                .collect(),
        })
        .collect();
    let views = VIEWS
        .iter()
        .map(|v| {
            (
                v.label,
                q.href(date, screen, &[("view", Some(v.name.to_string()))]),
                v.name == q.view.name,
            )
        })
        .collect();
    let filters = q
        .filters
        .iter()
        .map(|f| FilterChip {
            text: format!(
                "{} {} {}",
                catalogue::label(&f.metric),
                if f.op == FilterOp::Above { ">" } else { "<" },
                f.value
            ),
        })
        .collect();
    let kept_filters = q
        .filters
        .iter()
        .map(|f| {
            (
                f.metric.clone(),
                f.op_text().to_string(),
                f.value.to_string(),
            )
        })
        .collect();
    let metric_options = table
        .metrics
        .iter()
        .map(|m| (m.clone(), catalogue::label(m).to_string()))
        .collect();
    TodayPage {
        date: date.to_string(),
        dates: dates
            .iter()
            .rev()
            .map(|d| (d.to_string(), *d == date))
            .collect(),
        notice: manifest.notice.clone().or_else(|| {
            manifest
                .source
                .synthetic
                .then(|| "SYNTHETIC DATA: generated prices, not real market data.".to_string())
        }),
        tabs,
        screen: screen.to_string(),
        view_name: q.view.name,
        views,
        columns,
        rows,
        matching,
        pager,
        filters,
        clear_filters_href: q.href(date, screen, &[("filters", None)]),
        kept_filters,
        sort_value: q
            .sort
            .as_ref()
            .map(|(n, d)| format!("{}{n}", if *d { "-" } else { "" }))
            .unwrap_or_default(),
        metric_options,
        previous_date: previous.map(|d| d.to_string()),
        changes,
        health: health(manifest),
        files: manifest
            .files
            .iter()
            .map(|f| (f.clone(), format!("/app/files/results/{date}/{f}")))
            .collect(),
    }
}

fn health(m: &Manifest) -> Health {
    let c = &m.counts;
    let counts = [
        ("requested", c.requested),
        ("fetched", c.fetched),
        ("valid", c.valid),
        ("repaired", c.repaired),
        ("rejected", c.rejected),
        ("without data", c.no_data),
        ("in failed batches", c.failed),
        ("screened", c.screened),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), catalogue::thousands(f64::from(v))))
    .collect();
    Health {
        run_id: m.run_id.clone(),
        source: format!("{} ({})", m.source.kind, m.source.description),
        started: m.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        finished: m.finished_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        counts,
        rejections: m
            .rejections
            .iter()
            .map(|r| (r.symbol.as_str().to_string(), r.reason.clone()))
            .collect(),
        failed_batches: m
            .failed_batches
            .iter()
            .map(|b| {
                (
                    format!("batch {} ({} symbols)", b.index, b.symbols.len()),
                    b.error.clone(),
                    b.cause.clone(),
                )
            })
            .collect(),
        durations: m
            .durations_ms
            .iter()
            .map(|(k, v)| (k.clone(), format!("{:.2} s", *v as f64 / 1000.0)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "symbol,date,close,rsi_14,pass_a,rank_a\n\
        AAA,2025-06-13,10,70,true,2\n\
        BBB,2025-06-13,20,,true,1\n\
        CCC,2025-06-13,30,20,true,3\n\
        DDD,2025-06-13,40,50,false,\n";

    fn symbols(table: &ResultsTable, rows: &[(usize, Option<u32>)]) -> Vec<String> {
        rows.iter()
            .map(|(r, _)| table.symbols[*r].clone())
            .collect()
    }

    #[test]
    fn a_table_is_sorted_by_the_url_with_missing_values_last() {
        let table = ResultsTable::parse(CSV.as_bytes()).unwrap();
        let q = TableQuery::parse("sort=-rsi_14").unwrap();
        assert_eq!(
            symbols(&table, &select_rows(&q, &table, "a")),
            ["AAA", "CCC", "BBB"]
        );
        let q = TableQuery::parse("sort=rsi_14").unwrap();
        assert_eq!(
            symbols(&table, &select_rows(&q, &table, "a")),
            ["CCC", "AAA", "BBB"]
        );
        let q = TableQuery::parse("").unwrap();
        assert_eq!(
            symbols(&table, &select_rows(&q, &table, "a")),
            ["BBB", "AAA", "CCC"]
        );
        let q = TableQuery::parse("sort=-symbol").unwrap();
        assert_eq!(
            symbols(&table, &select_rows(&q, &table, ALL)),
            ["DDD", "CCC", "BBB", "AAA"]
        );
    }

    #[test]
    fn filters_keep_rows_above_or_below_and_drop_missing_values() {
        let table = ResultsTable::parse(CSV.as_bytes()).unwrap();
        let q = TableQuery::parse("fm=rsi_14&fo=gt&fv=30&fm=close&fo=lt&fv=35").unwrap();
        assert_eq!(symbols(&table, &select_rows(&q, &table, ALL)), ["AAA"]);
    }

    #[test]
    fn a_bad_query_is_refused_by_name() {
        for bad in [
            "date=2025-13-01",
            "view=x",
            "fm=rsi_14&fo=eq&fv=1",
            "fm=rsi_14&fo=gt&fv=abc",
            "fm=rsi_14",
            "sort=../x",
            "screen=../../etc",
        ] {
            assert!(TableQuery::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_carry_the_whole_state() {
        let q = TableQuery::parse("view=technical&sort=-close&fm=rsi_14&fo=gt&fv=30").unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        let href = q.href(date, "a", &[("sort", Some("close".into()))]);
        assert_eq!(
            href,
            "/app/?date=2025-06-13&screen=a&view=technical&fm=rsi_14&fo=gt&fv=30&sort=close"
        );
        assert_eq!(
            TableQuery::parse(href.trim_start_matches("/app/?"))
                .unwrap()
                .filters,
            q.filters
        );
    }

    #[test]
    fn the_page_is_in_the_url_and_any_other_change_starts_again_from_the_first() {
        let q = TableQuery::parse("screen=a&sort=-rsi_14&page=3").unwrap();
        assert_eq!(q.page, 3);
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        let next = q.href(date, "a", &[("page", Some("4".into()))]);
        assert!(
            next.contains("page=4") && next.contains("sort=-rsi_14"),
            "{next}"
        );
        let resorted = q.href(date, "a", &[("sort", Some("rsi_14".into()))]);
        assert!(!resorted.contains("page="), "{resorted}");
        assert_eq!(TableQuery::parse("").unwrap().page, 1);
        for bad in ["page=0", "page=-1", "page=x", "page=10001"] {
            assert!(TableQuery::parse(bad).is_err(), "{bad}");
        }
    }
}
