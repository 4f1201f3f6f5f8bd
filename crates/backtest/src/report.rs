//! `report.html`: the backtest for people, one self-contained page beside the data files
//! (no external assets, no script: styles inline, charts drawn server-side as inline SVG, the
//! log-scale switch done in CSS), in the daily report's visual language
//! (`screener_core::html::STYLE`).
//!
//! What it shows, from a [`BacktestResult`] only:
//! - equity curves of every screen and the benchmark (linear or log scale) and their
//!   drawdowns from the running peak;
//! - the metrics table (S7) and, per screen and horizon, the factor analysis and forward
//!   returns (S9);
//! - calendar-year returns of every portfolio from its equity series: each year from the last
//!   close of the year before (the first year from `t0`'s close) to its last close, so the
//!   first and the last year are partial and marked so;
//! - per screen: mean return by quintile for each horizon, the IC of every date with its
//!   trailing mean over [`IC_WINDOW`] dates, and the event study of its entries
//!   ([`crate::event_study`]).
//!
//! Every number in a table, and every quintile bar, carries its exact value in `data-v` and
//! where it comes from in `data-k`, a JSON pointer into that portfolio's entry of
//! `summary.json` (rows and charts name the portfolio in `data-p`), so a test can compare the
//! page with the file. The calendar-year cells carry `data-year` instead.

mod svg;
mod sweep;

pub use sweep::render_sweep_report;

use std::fmt::Write;

use chrono::{Datelike, NaiveDate};
use screener_core::html::{STYLE, escape};

use crate::factor::QUANTILES;
use crate::result::{BacktestResult, Portfolio};
use svg::{Bar, Line, Plot, Units};

/// The report's file name beside `summary.json`.
pub const FILE: &str = "report.html";

/// IC dates in the trailing mean drawn over the IC bars (defined from the 12th date with an IC).
pub const IC_WINDOW: usize = 12;

/// The page's own rules, after the shared stylesheet and the charts'.
const PAGE_STYLE: &str = r#"
table.bt th:first-child,table.bt td:first-child{text-align:left}
table.bt th:nth-child(2),table.bt td:nth-child(2){text-align:right}
table.bt tr.benchmark td{background:#f6f7f9;font-weight:600}
table.bt th{white-space:normal;vertical-align:bottom}#years-table th{white-space:nowrap}
svg.sw{vertical-align:middle;margin-right:6px}
.toggle{margin:0 6px 8px 0}.scales .log{display:none}
#log-scale:checked~.scales .linear{display:none}#log-scale:checked~.scales .log{display:block}
code{background:#f0f3f6;border-radius:3px;padding:0 3px}
.wide{overflow-x:auto}
p.note{color:#6b7785;font-size:12px;margin:6px 0}
"#;

/// How a number reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fmt {
    /// A return: signed percentage, two decimals (`+12.34%`).
    Return,
    /// A calendar-year return: signed percentage, one decimal (`-3.4%`).
    Return1,
    /// A level: percentage, two decimals (`18.20%`).
    Percent,
    /// A share of cases: percentage, one decimal (`54.3%`).
    Rate,
    /// A ratio: two decimals (`1.23`).
    Ratio,
    /// A multiple per year: two decimals and `x` (`12.34x`).
    Multiple,
    /// One decimal (`24.5`).
    Decimal1,
    /// A count with thousands separators.
    Count,
    /// A correlation: signed, three decimals (`+0.012`), as they sit close to zero.
    Correlation,
}

fn show(fmt: Fmt, value: Option<f64>) -> String {
    let Some(v) = value.filter(|v| v.is_finite()) else {
        return "—".into();
    };
    match fmt {
        Fmt::Return => format!("{:+.2}%", v * 100.0),
        Fmt::Return1 => format!("{:+.1}%", v * 100.0),
        Fmt::Percent => format!("{:.2}%", v * 100.0),
        Fmt::Rate => format!("{:.1}%", v * 100.0),
        Fmt::Ratio => format!("{v:.2}"),
        Fmt::Multiple => format!("{v:.2}x"),
        Fmt::Decimal1 => format!("{v:.1}"),
        Fmt::Count => screener_core::catalogue::thousands(v),
        Fmt::Correlation => format!("{v:+.3}"),
    }
}

/// The exact value, as it reads back (Rust's shortest round-trip form); empty for null.
fn exact(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// A table cell: the value shown, its exact value in `data-v`, its source in `data-k`.
fn cell(key: &str, value: Option<f64>, fmt: Fmt) -> String {
    let signed = matches!(fmt, Fmt::Return | Fmt::Return1 | Fmt::Correlation);
    let class = match value {
        Some(v) if signed && v < 0.0 => " class=\"neg\"",
        Some(v) if signed && v > 0.0 => " class=\"pos\"",
        _ => "",
    };
    format!(
        "<td data-k=\"{}\" data-v=\"{}\"{class}>{}</td>",
        escape(key),
        exact(value),
        show(fmt, value)
    )
}

fn count(key: &str, n: usize) -> String {
    cell(key, Some(n as f64), Fmt::Count)
}

/// CSS classes of portfolio `i`'s line (`i == screens`: the benchmark).
fn colour(i: usize, screens: usize) -> String {
    if i == screens {
        "bm".into()
    } else if i < svg::PALETTE.len() {
        format!("s{i}")
    } else {
        format!("s{} dash", i % svg::PALETTE.len())
    }
}

/// A small swatch in a portfolio's line style, for tables.
fn swatch(class: &str) -> String {
    format!(
        "<svg class=\"sw\" width=\"18\" height=\"8\"><line class=\"line {class}\" x1=\"1\" y1=\"4\" x2=\"17\" y2=\"4\"/></svg>"
    )
}

/// Labelled x positions for a date axis over `dates` (x = index): year starts when the
/// series spans several, else month starts, else the two ends; at most `max` of them.
fn date_ticks(dates: &[NaiveDate], max: usize) -> Vec<(f64, String)> {
    let n = dates.len();
    if n == 0 {
        return Vec::new();
    }
    let starts = |same: &dyn Fn(NaiveDate, NaiveDate) -> bool| -> Vec<usize> {
        (1..n).filter(|&i| !same(dates[i - 1], dates[i])).collect()
    };
    let years = starts(&|a, b| a.year() == b.year());
    let (marks, format) = if years.len() >= 2 {
        (years, "%Y")
    } else {
        let months = starts(&|a, b| (a.year(), a.month()) == (b.year(), b.month()));
        if months.is_empty() {
            let ends = if n > 1 { vec![0, n - 1] } else { vec![0] };
            (ends, "%Y-%m-%d")
        } else {
            (months, "%b %Y")
        }
    };
    let step = marks.len().div_ceil(max.max(1));
    marks
        .iter()
        .step_by(step.max(1))
        .map(|&i| (i as f64, dates[i].format(format).to_string()))
        .collect()
}

/// One row of the calendar-year table: the year's return runs from the equity at `base` to
/// the equity at `end` (indices into the equity series).
#[derive(Clone, Debug, PartialEq)]
struct Year {
    year: i32,
    base: usize,
    end: usize,
    /// Does not cover the whole year: the first (from `t0`) and the last (to `last`).
    partial: bool,
}

/// The calendar years of an equity series dated `dates`.
fn years(dates: &[NaiveDate]) -> Vec<Year> {
    let mut out: Vec<Year> = Vec::new();
    for (i, d) in dates.iter().enumerate() {
        match out.last_mut() {
            Some(y) if y.year == d.year() => y.end = i,
            _ => {
                let base = out.last().map_or(0, |y| y.end);
                out.push(Year {
                    year: d.year(),
                    base,
                    end: i,
                    partial: out.is_empty(),
                });
            }
        }
    }
    if let Some(last) = out.last_mut() {
        last.partial = true;
    }
    out
}

fn year_return(equity: &[f64], y: &Year) -> Option<f64> {
    let r = equity[y.end] / equity[y.base] - 1.0;
    r.is_finite().then_some(r)
}

/// Drawdown from the running peak (the peak includes the first value).
fn drawdowns(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            e / peak - 1.0
        })
        .collect()
}

/// The trailing mean of the last `window` values with a value, defined from the `window`-th.
fn trailing_mean(values: &[Option<f64>], window: usize) -> Vec<Option<f64>> {
    let mut seen: Vec<f64> = Vec::new();
    values
        .iter()
        .map(|v| {
            let v = v.filter(|v| v.is_finite())?;
            seen.push(v);
            (seen.len() >= window)
                .then(|| seen[seen.len() - window..].iter().sum::<f64>() / window as f64)
        })
        .collect()
}

/// A horizon as people say it.
fn sessions(h: usize) -> String {
    if h == 1 {
        "1 session".into()
    } else {
        format!("{h} sessions")
    }
}

/// The position of `date` in the equity dates (x of the time charts).
fn position(dates: &[NaiveDate], date: NaiveDate) -> f64 {
    dates.partition_point(|d| *d < date) as f64
}

/// The whole page.
pub fn render_report(result: &BacktestResult) -> String {
    let mut out = String::with_capacity(512 * 1024);
    let cal = &result.calendar;
    let args = &result.arguments;
    let names: Vec<String> = result.screens.iter().map(|p| p.name.clone()).collect();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Backtest {t0} to {last}</title><style>{STYLE}{chart_style}{PAGE_STYLE}</style></head><body>\
         <header><h1>Backtest of {screens} from {t0} to {last}</h1>\
         <p>{names} against the benchmark (every eligible symbol) · rebalanced every {every} sessions, filled at the next open · costs {cost} bps per order · {symbols} symbols</p></header><main>",
        t0 = cal.t0,
        last = cal.last_session,
        chart_style = svg::STYLE,
        screens = match result.screens.len() {
            1 => "1 screen".to_string(),
            n => format!("{n} screens"),
        },
        names = escape(&names.join(", ")),
        every = args.every,
        cost = args.cost_bps,
        symbols = show(Fmt::Count, Some(cal.n_symbols_in_range as f64)),
    );
    equity_section(&mut out, result);
    metrics_section(&mut out, result);
    years_section(&mut out, result);
    for (i, p) in result.screens.iter().enumerate() {
        screen_section(&mut out, result, i, p);
    }
    run_section(&mut out, result);
    out.push_str("</main></body></html>");
    out
}

fn equity_plot(result: &BacktestResult, log: bool) -> String {
    let dates = &result.calendar.equity_dates;
    let n_screens = result.screens.len();
    let (id, scale) = if log {
        ("equity-log", "log scale")
    } else {
        ("equity-linear", "linear scale")
    };
    let mut plot = Plot::new(
        id,
        format!(
            "Equity, starting at 1.0 on {} ({scale})",
            result.calendar.t0
        ),
        1120.0,
        320.0,
    );
    plot.log = log;
    plot.reference = Some(1.0);
    plot.x_range = (0.0, dates.len().saturating_sub(1) as f64);
    plot.x_ticks = date_ticks(dates, 14);
    plot.empty_note = "no equity to draw".into();
    plot.lines = result
        .portfolios()
        .enumerate()
        .map(|(i, p)| Line {
            name: format!("{} {}", p.name, show(Fmt::Return, p.metrics.total_return)),
            class: colour(i, n_screens),
            points: p
                .equity
                .iter()
                .enumerate()
                .map(|(x, &e)| (x as f64, e))
                .collect(),
        })
        .collect();
    plot.render()
}

fn equity_section(out: &mut String, result: &BacktestResult) {
    let dates = &result.calendar.equity_dates;
    let n_screens = result.screens.len();
    out.push_str("<section id=\"equity\"><h2>Equity and drawdown</h2>");
    let _ = write!(
        out,
        "<input type=\"checkbox\" id=\"log-scale\" class=\"toggle\"><label for=\"log-scale\">Log scale</label>\
         <div class=\"scales\"><div class=\"linear\">{}</div><div class=\"log\">{}</div></div>",
        equity_plot(result, false),
        equity_plot(result, true)
    );
    let mut plot = Plot::new("drawdown", "Drawdown from the running peak", 1120.0, 180.0);
    plot.units = Units::Percent;
    plot.reference = Some(0.0);
    plot.x_range = (0.0, dates.len().saturating_sub(1) as f64);
    plot.x_ticks = date_ticks(dates, 14);
    plot.lines = result
        .portfolios()
        .enumerate()
        .map(|(i, p)| Line {
            name: format!("{} {}", p.name, show(Fmt::Return, p.metrics.max_drawdown)),
            class: colour(i, n_screens),
            points: drawdowns(&p.equity)
                .into_iter()
                .enumerate()
                .map(|(x, d)| (x as f64, d))
                .collect(),
        })
        .collect();
    out.push_str(&plot.render());
    out.push_str("</section>");
}

fn metrics_section(out: &mut String, result: &BacktestResult) {
    let n_screens = result.screens.len();
    out.push_str(
        "<section id=\"metrics\"><h2>Metrics</h2><div class=\"wide\"><table class=\"bt\" id=\"metrics-table\"><thead><tr>\
         <th>Portfolio</th><th>Total return</th><th>CAGR</th><th>Volatility</th><th>Sharpe</th>\
         <th>Sortino</th><th>Max drawdown</th><th>Calmar</th><th>Avg holdings</th>\
         <th>Turnover / year</th><th>Win rate</th><th>All-cash fills</th></tr></thead><tbody>",
    );
    for (i, p) in result.portfolios().enumerate() {
        let m = &p.metrics;
        let benchmark = i == n_screens;
        let _ = write!(
            out,
            "<tr data-p=\"{name}\"{class}><td>{swatch}{name}</td>",
            name = escape(&p.name),
            class = if benchmark {
                " class=\"benchmark\""
            } else {
                ""
            },
            swatch = swatch(&colour(i, n_screens)),
        );
        for (key, value, fmt) in [
            ("metrics/total_return", m.total_return, Fmt::Return),
            ("metrics/cagr", m.cagr, Fmt::Return),
            (
                "metrics/annual_volatility",
                m.annual_volatility,
                Fmt::Percent,
            ),
            ("metrics/sharpe", m.sharpe, Fmt::Ratio),
            ("metrics/sortino", m.sortino, Fmt::Ratio),
            ("metrics/max_drawdown", m.max_drawdown, Fmt::Return),
            ("metrics/calmar", m.calmar, Fmt::Ratio),
            ("metrics/avg_holdings", m.avg_holdings, Fmt::Decimal1),
            ("metrics/turnover_annual", m.turnover_annual, Fmt::Multiple),
            (
                "metrics/win_rate_closed_positions",
                m.win_rate_closed_positions,
                Fmt::Rate,
            ),
        ] {
            out.push_str(&cell(key, value, fmt));
        }
        out.push_str(&count("metrics/n_rebalances_empty", m.n_rebalances_empty));
        out.push_str("</tr>");
    }
    let _ = write!(
        out,
        "</tbody></table></div><p class=\"note\">Sharpe and Sortino with a zero risk-free rate, 252 sessions a year; \
         turnover two-way (a full switch is 2.00x); win rate of closed positions (fees included); \
         all-cash fills: of the {} fills, those where the screen selected nothing.</p>",
        result.calendar.n_fills
    );

    out.push_str(
        "<h3>Factor and forward returns by horizon</h3><div class=\"wide\"><table class=\"bt\" id=\"factor-table\"><thead><tr>\
         <th>Screen</th><th>Horizon</th><th>Mean IC</th><th>IC dates</th><th>Q5 − Q1</th>\
         <th>Selected: mean</th><th>Selected: hit rate</th><th>Selected: pairs</th>\
         <th>Eligible: mean</th><th>Eligible: hit rate</th></tr></thead><tbody>",
    );
    for (i, p) in result.screens.iter().enumerate() {
        for &h in &result.arguments.horizons {
            let _ = write!(
                out,
                "<tr data-p=\"{name}\" data-h=\"{h}\"><td>{swatch}{name}</td><td data-v=\"{h}\">{h}</td>",
                name = escape(&p.name),
                swatch = swatch(&colour(i, result.screens.len())),
            );
            match &p.factor {
                Some(f) => {
                    out.push_str(&cell(
                        &format!("factor/mean_ic/{h}"),
                        f.mean_ic.get(&h).copied().flatten(),
                        Fmt::Correlation,
                    ));
                    out.push_str(&count(
                        &format!("factor/ic_n_dates/{h}"),
                        f.ic_n_dates.get(&h).copied().unwrap_or(0),
                    ));
                    out.push_str(&cell(
                        &format!("factor/spread_top_minus_bottom/{h}"),
                        f.spread_top_minus_bottom.get(&h).copied().flatten(),
                        Fmt::Return,
                    ));
                }
                None => out.push_str("<td>—</td><td>—</td><td>—</td>"),
            }
            let selected = p.forward_returns.selected.get(&h);
            let eligible = p.forward_returns.eligible.get(&h);
            out.push_str(&cell(
                &format!("forward_returns/selected/{h}/mean"),
                selected.and_then(|r| r.mean),
                Fmt::Return,
            ));
            out.push_str(&cell(
                &format!("forward_returns/selected/{h}/hit_rate"),
                selected.and_then(|r| r.hit_rate),
                Fmt::Rate,
            ));
            out.push_str(&count(
                &format!("forward_returns/selected/{h}/n"),
                selected.map_or(0, |r| r.n),
            ));
            out.push_str(&cell(
                &format!("forward_returns/eligible/{h}/mean"),
                eligible.and_then(|r| r.mean),
                Fmt::Return,
            ));
            out.push_str(&cell(
                &format!("forward_returns/eligible/{h}/hit_rate"),
                eligible.and_then(|r| r.hit_rate),
                Fmt::Rate,
            ));
            out.push_str("</tr>");
        }
    }
    out.push_str(
        "</tbody></table></div><p class=\"note\">Horizons in sessions. IC: Spearman correlation of the sort metric \
         (negated when it sorts ascending) with the forward return on each rebalance date, averaged over dates; \
         Q5 − Q1: mean return of the top quintile minus the bottom one (alphalens, not halved). \
         Forward returns pooled over (date, symbol) pairs: the screen's selections and every eligible symbol.</p></section>",
    );
}

fn years_section(out: &mut String, result: &BacktestResult) {
    let dates = &result.calendar.equity_dates;
    let n_screens = result.screens.len();
    out.push_str(
        "<section id=\"years\"><h2>Calendar-year returns</h2><div class=\"wide\"><table class=\"bt\" id=\"years-table\"><thead><tr><th>Year</th>",
    );
    for (i, p) in result.portfolios().enumerate() {
        let _ = write!(
            out,
            "<th>{}{}</th>",
            swatch(&colour(i, n_screens)),
            escape(&p.name)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for y in years(dates) {
        let _ = write!(out, "<tr data-year=\"{}\"><td>{}", y.year, y.year);
        if y.partial {
            let _ = write!(
                out,
                " <span class=\"muted\">({} to {})</span>",
                dates[y.base], dates[y.end]
            );
        }
        out.push_str("</td>");
        for p in result.portfolios() {
            let r = year_return(&p.equity, &y);
            let class = match r {
                Some(v) if v < 0.0 => " class=\"neg\"",
                Some(v) if v > 0.0 => " class=\"pos\"",
                _ => "",
            };
            let _ = write!(
                out,
                "<td data-p=\"{}\" data-year=\"{}\" data-v=\"{}\"{class}>{}</td>",
                escape(&p.name),
                y.year,
                exact(r),
                show(Fmt::Return1, r)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str(
        "</tbody></table></div><p class=\"note\">From the equity series: each year from the last close of the year before \
         to its own last close. The first year starts at the close of the first session (nothing is held before it) \
         and the last ends at the last session, so both may be partial; their dates are given.</p></section>",
    );
}

fn screen_section(out: &mut String, result: &BacktestResult, i: usize, p: &Portfolio) {
    let name = escape(&p.name);
    let class = colour(i, result.screens.len());
    let dates = &result.calendar.equity_dates;
    let _ = write!(
        out,
        "<section class=\"screen\" id=\"screen-{name}\"><h2>{}{name}</h2>",
        swatch(&class)
    );
    if let Some(a) = result.arguments.screens.iter().find(|a| a.name == p.name) {
        let conditions: Vec<String> = a
            .conditions
            .iter()
            .map(|c| format!("<code>{}</code>", escape(c)))
            .collect();
        let _ = write!(
            out,
            "<p class=\"muted\">{}</p><p>Conditions: {} · sorted by <code>{}</code> {} · the first {} kept</p>",
            escape(&a.description),
            if conditions.is_empty() {
                "none".to_string()
            } else {
                conditions.join(" and ")
            },
            escape(&a.sort_metric),
            escape(&a.sort_direction),
            a.limit
        );
    }

    // Quintiles and IC.
    match &p.factor {
        None => out.push_str("<p>No factor analysis.</p>"),
        Some(f) => {
            let _ = write!(
                out,
                "<h3>Mean return by quintile of <code>{}</code>{}</h3><div class=\"charts\">",
                escape(&f.metric),
                if f.negated {
                    " (negated: lower is better)"
                } else {
                    ""
                }
            );
            for &h in &result.arguments.horizons {
                let means = f
                    .mean_return_by_quantile
                    .get(&h)
                    .copied()
                    .unwrap_or([None; QUANTILES]);
                let spread = f.spread_top_minus_bottom.get(&h).copied().flatten();
                let mut plot = Plot::new(
                    format!("quintiles-{}-{h}", p.name),
                    format!("{} · Q5 − Q1 {}", sessions(h), show(Fmt::Return, spread)),
                    272.0,
                    140.0,
                );
                plot.units = Units::Percent;
                plot.reference = Some(0.0);
                plot.x_range = (0.5, QUANTILES as f64 + 0.5);
                plot.x_ticks = (1..=QUANTILES)
                    .map(|q| (q as f64, format!("Q{q}")))
                    .collect();
                plot.attrs = format!(" data-p=\"{name}\" data-h=\"{h}\"");
                plot.empty_note = format!("{}: no quintile has a return", sessions(h));
                plot.bars = means
                    .iter()
                    .enumerate()
                    .filter_map(|(q, m)| {
                        let v = (*m)?;
                        Some(Bar {
                            x: (q + 1) as f64,
                            value: v,
                            class: format!("q{}", q + 1),
                            title: format!("Q{}: {}", q + 1, show(Fmt::Return, Some(v))),
                            attrs: format!(
                                " data-k=\"factor/mean_return_by_quantile/{h}/{q}\" data-v=\"{}\"",
                                exact(Some(v))
                            ),
                        })
                    })
                    .collect();
                out.push_str(&plot.render());
            }
            out.push_str("</div>");
            let _ = write!(
                out,
                "<h3>Information coefficient by date, with its trailing mean over {IC_WINDOW} dates</h3><div class=\"charts\">"
            );
            let xs: Vec<f64> = f.ic_dates.iter().map(|d| position(dates, *d)).collect();
            for &h in &result.arguments.horizons {
                let ic = f.ic_by_date.get(&h).map(Vec::as_slice).unwrap_or(&[]);
                let mean_ic = f.mean_ic.get(&h).copied().flatten();
                let mut plot = Plot::new(
                    format!("ic-{}-{h}", p.name),
                    format!(
                        "{} · mean IC {} over {} dates",
                        sessions(h),
                        show(Fmt::Correlation, mean_ic),
                        f.ic_n_dates.get(&h).copied().unwrap_or(0)
                    ),
                    552.0,
                    150.0,
                );
                plot.reference = Some(0.0);
                plot.x_range = (0.0, dates.len().saturating_sub(1) as f64);
                plot.x_ticks = date_ticks(dates, 7);
                plot.attrs = format!(" data-p=\"{name}\" data-h=\"{h}\"");
                plot.empty_note = format!("{}: no date with an IC", sessions(h));
                plot.bars = xs
                    .iter()
                    .zip(ic)
                    .filter_map(|(&x, v)| {
                        let v = (*v)?;
                        Some(Bar {
                            x,
                            value: v,
                            class: if v < 0.0 { "down" } else { "up" }.into(),
                            title: show(Fmt::Correlation, Some(v)),
                            attrs: String::new(),
                        })
                    })
                    .collect();
                let rolling = trailing_mean(ic, IC_WINDOW);
                plot.lines = vec![Line {
                    name: format!("IC per date (bars); mean of the last {IC_WINDOW} (line)"),
                    class: "mean".into(),
                    points: xs
                        .iter()
                        .zip(&rolling)
                        .filter(|(_, m)| m.is_some())
                        .map(|(&x, m)| (x, m.unwrap_or(f64::NAN)))
                        .collect(),
                }];
                out.push_str(&plot.render());
            }
            out.push_str("</div>");
        }
    }

    // Event study.
    out.push_str("<h3>Event study: around the rebalance date a symbol enters the selection</h3>");
    match &p.event_study {
        None => out.push_str("<p>No event study.</p>"),
        Some(e) => {
            let mut plot = Plot::new(
                format!("events-{}", p.name),
                "Mean cumulative return from the close of the rebalance date, sessions before and after",
                720.0,
                200.0,
            );
            plot.units = Units::Percent;
            plot.reference = Some(0.0);
            plot.marker = Some(0.0);
            let (first, last) = (
                e.offsets.first().copied().unwrap_or(0),
                e.offsets.last().copied().unwrap_or(0),
            );
            plot.x_range = (f64::from(first), f64::from(last));
            plot.x_ticks = e
                .offsets
                .iter()
                .filter(|k| **k % 5 == 0)
                .map(|&k| {
                    (
                        f64::from(k),
                        if k == 0 { "0".into() } else { format!("{k:+}") },
                    )
                })
                .collect();
            plot.attrs = format!(" data-p=\"{name}\"");
            plot.empty_note = "no entry or eligible pair has a whole window".into();
            let line = |label: &str, class: &str, mean: &[Option<f64>]| Line {
                name: label.to_string(),
                class: class.to_string(),
                points: e
                    .offsets
                    .iter()
                    .zip(mean)
                    .map(|(&k, m)| (f64::from(k), m.unwrap_or(f64::NAN)))
                    .collect(),
            };
            plot.lines = vec![
                line(
                    &format!(
                        "{} entries ({})",
                        p.name,
                        show(Fmt::Count, Some(e.entries.n as f64))
                    ),
                    &class,
                    &e.entries.mean,
                ),
                line(
                    &format!(
                        "every eligible symbol ({})",
                        show(Fmt::Count, Some(e.eligible.n as f64))
                    ),
                    "base",
                    &e.eligible.mean,
                ),
            ];
            out.push_str(&plot.render());
            let shown: Vec<usize> = e
                .offsets
                .iter()
                .enumerate()
                .filter(|(_, k)| [-5, -1, 1, 5, 10, 20].contains(*k))
                .map(|(j, _)| j)
                .collect();
            let _ = write!(
                out,
                "<table class=\"bt\" id=\"events-{name}\"><thead><tr><th>Mean cumulative return</th><th>Pairs</th>"
            );
            for &j in &shown {
                let _ = write!(out, "<th>{:+}</th>", e.offsets[j]);
            }
            out.push_str("</tr></thead><tbody>");
            for (label, key, path) in [
                ("Entries", "entries", &e.entries),
                ("Every eligible symbol", "eligible", &e.eligible),
            ] {
                let _ = write!(
                    out,
                    "<tr data-p=\"{name}\"><td>{label}</td>{}",
                    count(&format!("event_study/{key}/n"), path.n)
                );
                for &j in &shown {
                    out.push_str(&cell(
                        &format!("event_study/{key}/mean/{j}"),
                        path.mean.get(j).copied().flatten(),
                        Fmt::Return,
                    ));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>");
            let _ = write!(
                out,
                "<p class=\"note\">An entry: a symbol in the selection on a rebalance date and not on the one before. \
                 Its path: its close (the last one on or before each session) over its close on the rebalance date, minus 1, \
                 from {} sessions before to {} after; pairs without the whole window are left out. Averaged over entries and, \
                 as the baseline, over every eligible symbol on every rebalance date.</p>",
                -first, last
            );
        }
    }
    out.push_str("</section>");
}

fn run_section(out: &mut String, result: &BacktestResult) {
    let cal = &result.calendar;
    let args = &result.arguments;
    out.push_str("<section id=\"run\"><h2>Run</h2><dl class=\"counts\">");
    let horizons: Vec<String> = args.horizons.iter().map(|h| h.to_string()).collect();
    for (label, value) in [
        ("First session", cal.first_session.to_string()),
        ("t0", cal.t0.to_string()),
        ("Last session", cal.last_session.to_string()),
        ("Sessions", show(Fmt::Count, Some(cal.n_sessions as f64))),
        (
            "Daily returns",
            show(Fmt::Count, Some(cal.n_returns as f64)),
        ),
        (
            "Rebalance dates",
            show(Fmt::Count, Some(cal.n_rebalance_dates as f64)),
        ),
        ("Fills", show(Fmt::Count, Some(cal.n_fills as f64))),
        ("Symbols", show(Fmt::Count, Some(cal.n_symbols as f64))),
        (
            "Symbols from t0",
            show(Fmt::Count, Some(cal.n_symbols_in_range as f64)),
        ),
        ("Every", format!("{} sessions", args.every)),
        ("Costs", format!("{} bps", args.cost_bps)),
        ("Horizons", horizons.join(", ")),
    ] {
        let _ = write!(
            out,
            "<div><dt>{label}</dt><dd>{}</dd></div>",
            escape(&value)
        );
    }
    let _ = write!(
        out,
        "</dl><p class=\"note\">Asked: from {}{}. The numbers are in <code>summary.json</code>, the equity series in \
         <code>equity.csv</code> and every selection in <code>selections.csv</code> beside this page.</p></section>",
        args.start,
        args.end.map(|e| format!(" to {e}")).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Backtest;
    use crate::settings::Settings;
    use screener_analytics::{ScreenSet, SymbolBars};
    use screener_test_support::rng::XorShift64;

    const SCREENS: &str = r#"
[[screen]]
name = "momentum"
description = "Rising <fast> & \"loud\" 'ones'"
conditions = ["close > 0"]
sort = { metric = "ret_21d", direction = "desc" }
limit = 3

[[screen]]
name = "cheap"
conditions = ["volume >= 0"]
sort = { metric = "close", direction = "asc" }
limit = 2
"#;

    /// Ten random walks over 320 weekdays from 2019-06-03 (into 2020), run through the
    /// engine from the 60th session with horizons 1, 5 and 21.
    fn result() -> BacktestResult {
        let mut days = Vec::new();
        let mut d = NaiveDate::from_ymd_opt(2019, 6, 3).unwrap();
        while days.len() < 320 {
            if d.weekday().num_days_from_monday() < 5 {
                days.push(crate::calendar::days(d));
            }
            d = d.succ_opt().unwrap();
        }
        let mut rng = XorShift64::new(0x2545_F491_4F6C_DD1D);
        let mut uniform = move || rng.unit();
        let mut settings = Settings::new(crate::calendar::date(days[60]));
        settings.horizons = vec![1, 5, 21];
        let screens = ScreenSet::parse_toml(SCREENS).unwrap();
        let engine = Backtest::new(settings, &screens, &[&days]).unwrap();
        let mut symbols = Vec::new();
        for s in 0..10 {
            let drift = (uniform() - 0.5) * 0.004;
            let mut price = 20.0 + 80.0 * uniform();
            let (mut open, mut close, mut high, mut low, mut volume) =
                (vec![], vec![], vec![], vec![], vec![]);
            for _ in &days {
                let o = price;
                price *= 1.0 + drift + (uniform() - 0.5) * 0.05;
                open.push(o);
                close.push(price);
                high.push(o.max(price) * 1.01);
                low.push(o.min(price) * 0.99);
                volume.push(1e5 * (1.0 + uniform()));
            }
            let bars = SymbolBars {
                dates: &days,
                open: &open,
                high: &high,
                low: &low,
                close: &close,
                volume: &volume,
            };
            symbols.extend(engine.extract(&format!("S{s}"), &bars));
        }
        engine.finish(symbols, 10).unwrap()
    }

    /// The `<svg>` element with id `id`.
    fn chart<'a>(html: &'a str, id: &str) -> &'a str {
        let at = html
            .find(&format!("<svg class=\"chart\" id=\"{id}\""))
            .unwrap_or_else(|| panic!("no chart {id}"));
        let len = html[at..].find("</svg>").unwrap() + "</svg>".len();
        &html[at..at + len]
    }

    /// Every `data-k` on the page, with its `data-v` and the nearest `data-p` before it.
    fn keyed_values(html: &str) -> Vec<(String, String, String)> {
        let attr = |text: &str, name: &str| -> String {
            let at = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            text[at..at + text[at..].find('"').unwrap()].to_string()
        };
        let mut out = Vec::new();
        for (at, _) in html.match_indices(" data-k=\"") {
            let p_at = html[..at]
                .rfind(" data-p=\"")
                .expect("a data-p before each data-k");
            out.push((
                attr(&html[p_at..], "data-p"),
                attr(&html[at..], "data-k"),
                attr(&html[at..], "data-v"),
            ));
        }
        out
    }

    #[test]
    fn every_chart_is_present_and_draws_something() {
        let r = result();
        let html = render_report(&r);
        let mut ids = vec![
            "equity-linear".to_string(),
            "equity-log".to_string(),
            "drawdown".to_string(),
        ];
        for p in &r.screens {
            for h in &r.arguments.horizons {
                ids.push(format!("quintiles-{}-{h}", p.name));
                ids.push(format!("ic-{}-{h}", p.name));
            }
            ids.push(format!("events-{}", p.name));
        }
        assert_eq!(html.matches("<svg class=\"chart\"").count(), ids.len());
        for id in &ids {
            let svg = chart(&html, id);
            assert!(!svg.contains("data-empty"), "{id} is empty");
            let drawn = svg.matches("<rect ").count()
                + svg
                    .split("<path class=\"line")
                    .skip(1)
                    .filter(|p| p.split("d=\"").nth(1).is_some_and(|d| d.contains(" L")))
                    .count();
            assert!(drawn > 0, "{id} draws nothing");
        }
        // One line per portfolio on the equity and drawdown charts, two on the event study,
        // a bar per quintile, the IC's bars and its trailing mean.
        for id in ["equity-linear", "equity-log", "drawdown"] {
            assert_eq!(
                chart(&html, id).matches("<path class=\"line").count(),
                3,
                "{id}"
            );
        }
        assert_eq!(
            chart(&html, "events-momentum")
                .matches("<path class=\"line")
                .count(),
            2
        );
        assert_eq!(
            chart(&html, "quintiles-momentum-5")
                .matches("<rect ")
                .count(),
            5
        );
        let ic = chart(&html, "ic-momentum-1");
        let dates = r.screens[0].factor.as_ref().unwrap().ic_n_dates[&1];
        assert_eq!(ic.matches("<rect ").count(), dates);
        assert!(ic.contains("<path class=\"line mean\""));
    }

    #[test]
    fn every_number_in_a_table_or_bar_is_the_results_own() {
        let r = result();
        let html = render_report(&r);
        let values = keyed_values(&html);
        let portfolios: std::collections::BTreeMap<&str, serde_json::Value> = r
            .portfolios()
            .map(|p| (p.name.as_str(), serde_json::to_value(p).unwrap()))
            .collect();
        for (p, k, v) in &values {
            let expected = portfolios[p.as_str()]
                .pointer(&format!("/{k}"))
                .unwrap_or_else(|| panic!("{p}: no {k} in the result"));
            match expected.as_f64() {
                Some(x) => assert_eq!(v.parse::<f64>().unwrap(), x, "{p} {k}"),
                None => assert!(expected.is_null() && v.is_empty(), "{p} {k}: {v}"),
            }
        }
        // Each portfolio's 11 metrics; per screen and horizon 8 factor and forward-return
        // cells and 5 quintile bars; per screen 2 x 7 event-study cells.
        let n_h = r.arguments.horizons.len();
        assert_eq!(values.len(), 3 * 11 + 2 * (n_h * (8 + 5) + 14));
        let sharpe = values
            .iter()
            .find(|(p, k, _)| p == "benchmark" && k == "metrics/sharpe")
            .unwrap();
        assert_eq!(sharpe.2, r.benchmark.metrics.sharpe.unwrap().to_string());

        // Calendar years from the equity series: 2019 from t0, 2020 to the last session.
        for p in r.portfolios() {
            let dates = &r.calendar.equity_dates;
            let end_2019 = dates.iter().rposition(|d| d.year() == 2019).unwrap();
            let y2019 = p.equity[end_2019] / p.equity[0] - 1.0;
            let y2020 = p.equity[dates.len() - 1] / p.equity[end_2019] - 1.0;
            for (year, value) in [(2019, y2019), (2020, y2020)] {
                let needle = format!(
                    "data-p=\"{}\" data-year=\"{year}\" data-v=\"{value}\"",
                    p.name
                );
                assert!(html.contains(&needle), "{needle}");
            }
        }
    }

    #[test]
    fn text_from_data_is_escaped_and_nothing_is_loaded_from_outside() {
        let html = render_report(&result());
        assert!(html.contains("Rising &lt;fast&gt; &amp; &quot;loud&quot; &#39;ones&#39;"));
        assert!(!html.contains("<fast>"));
        for external in [
            "src=", "href=", "url(", "@import", "<link", "<img", "<script", "<iframe",
        ] {
            assert!(!html.contains(external), "{external} in report.html");
        }
        // The only URL is the SVG namespace, which is a name, not a request.
        assert_eq!(
            html.matches("http").count(),
            html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        // Elements are balanced.
        for tag in [
            "section", "table", "tr", "td", "svg", "path", "title", "text",
        ] {
            assert_eq!(
                html.matches(&format!("<{tag} ")).count()
                    + html.matches(&format!("<{tag}>")).count(),
                html.matches(&format!("</{tag}>")).count(),
                "<{tag}>"
            );
        }
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"));
    }

    #[test]
    fn a_screen_that_never_selects_anything_still_gets_a_readable_page() {
        let mut r = result();
        let p = &mut r.screens[1];
        p.equity.iter_mut().for_each(|e| *e = 1.0);
        p.metrics.sharpe = None;
        p.event_study = Some(crate::event_study::EventStudy {
            offsets: (-5..=20).collect(),
            entries: crate::event_study::EventPath {
                n: 0,
                mean: vec![None; 26],
            },
            eligible: p.event_study.as_ref().unwrap().eligible.clone(),
        });
        let html = render_report(&r);
        // A flat line is still a line (on both scales), the null Sharpe is a dash.
        assert!(
            chart(&html, "equity-log")
                .matches("<path class=\"line")
                .count()
                == 3
        );
        assert!(html.contains("<td data-k=\"metrics/sharpe\" data-v=\"\">—</td>"));
        let events = chart(&html, "events-cheap");
        assert_eq!(
            events.matches("<path class=\"line").count(),
            1,
            "only the baseline"
        );
    }

    #[test]
    fn calendar_years_run_from_the_last_close_of_the_year_before() {
        let dates: Vec<NaiveDate> = [
            "2019-12-30",
            "2019-12-31",
            "2020-06-01",
            "2020-12-31",
            "2021-01-04",
        ]
        .iter()
        .map(|d| d.parse().unwrap())
        .collect();
        let ys = years(&dates);
        assert_eq!(
            ys,
            vec![
                Year {
                    year: 2019,
                    base: 0,
                    end: 1,
                    partial: true
                },
                Year {
                    year: 2020,
                    base: 1,
                    end: 3,
                    partial: false
                },
                Year {
                    year: 2021,
                    base: 3,
                    end: 4,
                    partial: true
                },
            ]
        );
        let equity = [1.0, 1.1, 1.0, 1.21, 1.331];
        let r: Vec<f64> = ys
            .iter()
            .map(|y| year_return(&equity, y).unwrap())
            .collect();
        assert!(
            (r[0] - 0.1).abs() < 1e-12 && (r[1] - 0.1).abs() < 1e-12 && (r[2] - 0.1).abs() < 1e-12
        );
    }

    #[test]
    fn the_trailing_ic_mean_needs_a_whole_window_of_values() {
        let values = [Some(1.0), None, Some(3.0), Some(5.0)];
        assert_eq!(
            trailing_mean(&values, 2),
            vec![None, None, Some(2.0), Some(4.0)]
        );
    }

    #[test]
    fn drawdowns_are_from_the_running_peak() {
        assert_eq!(drawdowns(&[1.0, 0.5, 2.0, 1.0]), vec![0.0, -0.5, 0.0, -0.5]);
    }

    #[test]
    fn numbers_read_consistently_and_null_is_a_dash() {
        assert_eq!(show(Fmt::Return, Some(0.123456)), "+12.35%");
        assert_eq!(show(Fmt::Return1, Some(-0.034)), "-3.4%");
        assert_eq!(show(Fmt::Percent, Some(0.182)), "18.20%");
        assert_eq!(show(Fmt::Ratio, Some(1.234)), "1.23");
        assert_eq!(show(Fmt::Multiple, Some(12.345)), "12.35x");
        assert_eq!(show(Fmt::Count, Some(1234.0)), "1,234");
        assert_eq!(show(Fmt::Correlation, Some(0.0123)), "+0.012");
        assert_eq!(show(Fmt::Ratio, None), "—");
        assert_eq!(
            cell("metrics/sharpe", Some(0.1 + 0.2), Fmt::Ratio),
            "<td data-k=\"metrics/sharpe\" data-v=\"0.30000000000000004\">0.30</td>"
        );
        assert_eq!(
            cell("k", None, Fmt::Return),
            "<td data-k=\"k\" data-v=\"\">—</td>"
        );
    }

    #[test]
    fn date_ticks_mark_year_starts_or_month_starts() {
        let days: Vec<NaiveDate> = (0..800)
            .map(|i| NaiveDate::from_ymd_opt(2019, 11, 1).unwrap() + chrono::Days::new(i))
            .collect();
        let ticks = date_ticks(&days, 10);
        assert_eq!(ticks[0].1, "2020");
        assert_eq!(ticks[1].1, "2021");
        let ticks = date_ticks(&days[..100], 10);
        assert_eq!(ticks[0].1, "Dec 2019");
    }
}
