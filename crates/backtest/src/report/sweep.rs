//! `report.html` of a sweep, in the backtest report's language and with its chart code
//! ([`super::svg`]): the ranking as a heat map (each column shaded from its worst to its best
//! value; exact values in `data-v`), per window whether the in-sample best stayed best, per
//! screen a chart of the ranking metric by variant for every period, the stitched equity of
//! the best variants against the benchmark, and the failed items.

use std::fmt::Write;

use screener_core::html::{STYLE, escape};

use super::svg::{self, Line, Plot, Units};
use super::{PAGE_STYLE, colour, date_ticks, exact, swatch};
use crate::sweep::{Score, SweepSummary};

/// Variants whose equity is drawn (the palette's size: each keeps its own colour).
const EQUITY_LINES: usize = 8;

const SWEEP_STYLE: &str = r#"
table.heat td.h{color:#1d2733}table.heat td.none{color:#9aa5b1}
"#;

fn fmt(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or("—".into(), |v| format!("{v:.3}"))
}

/// A cell shaded by where `value` sits between the column's `lo` and `hi` (red to green).
fn heat_cell(key: &str, value: Option<f64>, rank: Option<usize>, lo: f64, hi: f64) -> String {
    let Some(v) = value.filter(|v| v.is_finite()) else {
        return format!(
            "<td class=\"none\" data-k=\"{}\" data-v=\"\">—</td>",
            escape(key)
        );
    };
    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let hue = 120.0 * t;
    let rank = rank.map_or(String::new(), |r| format!(" <small>#{r}</small>"));
    format!(
        "<td class=\"h\" style=\"background:hsl({hue:.0},65%,82%)\" data-k=\"{}\" data-v=\"{}\">{}{rank}</td>",
        escape(key),
        exact(Some(v)),
        fmt(Some(v))
    )
}

fn range(values: impl Iterator<Item = Option<f64>>) -> (f64, f64) {
    values
        .flatten()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// The whole page.
pub fn render_sweep_report(s: &SweepSummary) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let first = s.periods.first().map(|p| p.start);
    let last = s.periods.last().map(|p| p.end);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Sweep {id}</title><style>{STYLE}{chart}{PAGE_STYLE}{SWEEP_STYLE}</style></head><body>\
         <header><h1>Parameter sweep {id}</h1>\
         <p>{n} variants from {first} to {last} · ranked by {how}{metric} · {failed} of {items} items failed</p></header><main>",
        id = escape(&s.sweep_id),
        chart = svg::STYLE,
        n = s.ranking.len(),
        first = first.map_or("?".into(), |d| d.to_string()),
        last = last.map_or("?".into(), |d| d.to_string()),
        how = if s.walk_forward == 0 {
            ""
        } else {
            "mean out-of-sample "
        },
        metric = escape(&s.rank_by),
        failed = s.failed.len(),
        items = s.items,
    );
    windows_section(&mut out, s);
    heat_section(&mut out, s);
    charts_section(&mut out, s);
    equity_section(&mut out, s);
    failed_section(&mut out, s);
    out.push_str("</main></body></html>");
    out
}

fn windows_section(out: &mut String, s: &SweepSummary) {
    if s.windows.is_empty() {
        return;
    }
    out.push_str("<section id=\"walk-forward\"><h2>Does the best in-sample stay best?</h2><table class=\"bt\"><thead><tr><th>window</th><th>in sample</th><th>out of sample</th><th>best in sample</th><th>its rank out of sample</th><th>best out of sample</th></tr></thead><tbody>");
    for v in &s.windows {
        let _ = write!(
            out,
            "<tr data-window=\"{w}\"><td>{w}</td><td>{} to {}</td><td>{} to {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            v.in_sample.0,
            v.in_sample.1,
            v.out_of_sample.0,
            v.out_of_sample.1,
            escape(v.best_in_sample.as_deref().unwrap_or("—")),
            v.its_out_of_sample_rank.map_or("—".into(), |r| format!(
                "#{r} of {}",
                v.ranked_out_of_sample
            )),
            escape(v.best_out_of_sample.as_deref().unwrap_or("—")),
            w = v.window,
        );
    }
    out.push_str("</tbody></table></section>");
}

fn heat_section(out: &mut String, s: &SweepSummary) {
    let _ = write!(
        out,
        "<section id=\"ranking\"><h2>Ranking and heat map</h2><p class=\"note\">{} of each variant; each column shaded from its lowest (red) to its highest (green) value, rank within the column after the value.</p><div class=\"wide\"><table class=\"bt heat\"><thead><tr><th>rank</th><th>variant</th><th>screen</th><th>parameters</th>",
        escape(&s.rank_by)
    );
    let walk = s.walk_forward > 0;
    let n_windows = s.ranking.first().map_or(0, |r| r.out_of_sample.len());
    if walk {
        for w in 1..=n_windows {
            let _ = write!(out, "<th>w{w} in sample</th><th>w{w} out of sample</th>");
        }
        out.push_str("<th>mean out of sample</th>");
    } else {
        let _ = write!(out, "<th>{}</th>", escape(&s.rank_by));
    }
    out.push_str("</tr></thead><tbody>");
    let column = |pick: &dyn Fn(&crate::sweep::RankedVariant) -> Option<f64>| {
        range(s.ranking.iter().map(pick))
    };
    let is_ranges: Vec<(f64, f64)> = (0..n_windows)
        .map(|w| column(&|r| r.in_sample.get(w).and_then(|x: &Score| x.value)))
        .collect();
    let oos_ranges: Vec<(f64, f64)> = (0..n_windows)
        .map(|w| column(&|r| r.out_of_sample[w].value))
        .collect();
    let score_range = column(&|r| r.score);
    for r in &s.ranking {
        let id = &r.variant.id;
        let _ = write!(
            out,
            "<tr data-variant=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            escape(id),
            r.rank.map_or("—".into(), |r| r.to_string()),
            escape(id),
            escape(&r.variant.screen),
            escape(&r.label)
        );
        if walk {
            for w in 0..n_windows {
                let is = &r.in_sample[w];
                let oos = &r.out_of_sample[w];
                let (lo, hi) = is_ranges[w];
                out.push_str(&heat_cell(
                    &format!("w{}/in_sample", w + 1),
                    is.value,
                    is.rank,
                    lo,
                    hi,
                ));
                let (lo, hi) = oos_ranges[w];
                out.push_str(&heat_cell(
                    &format!("w{}/out_of_sample", w + 1),
                    oos.value,
                    oos.rank,
                    lo,
                    hi,
                ));
            }
        }
        out.push_str(&heat_cell(
            "score",
            r.score,
            r.rank,
            score_range.0,
            score_range.1,
        ));
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
}

/// Per screen: the ranking metric by variant (x), one line per period.
fn charts_section(out: &mut String, s: &SweepSummary) {
    out.push_str("<section id=\"by-variant\"><h2>By variant</h2>");
    let mut screens: Vec<&str> = s
        .ranking
        .iter()
        .map(|r| r.variant.screen.as_str())
        .collect();
    screens.sort_unstable();
    screens.dedup();
    for (i, screen) in screens.iter().enumerate() {
        let mut rows: Vec<&crate::sweep::RankedVariant> = s
            .ranking
            .iter()
            .filter(|r| r.variant.screen == *screen)
            .collect();
        rows.sort_by(|a, b| a.variant.id.cmp(&b.variant.id));
        let mut plot = Plot::new(
            format!("variants-{i}"),
            format!("{screen}: {} by variant", s.rank_by),
            1120.0,
            240.0,
        );
        plot.units = Units::Number;
        plot.reference = Some(0.0);
        plot.x_range = (0.0, rows.len().saturating_sub(1).max(1) as f64);
        plot.x_ticks = rows
            .iter()
            .enumerate()
            .map(|(x, r)| (x as f64, r.label.clone()))
            .collect();
        plot.empty_note = "no results to draw".into();
        let n_windows = rows.first().map_or(0, |r| r.out_of_sample.len());
        let mut lines = Vec::new();
        for w in 0..n_windows {
            let mut add =
                |name: String, pick: &dyn Fn(&crate::sweep::RankedVariant) -> Option<f64>| {
                    let k = lines.len();
                    lines.push(Line {
                        name,
                        class: colour(k, usize::MAX),
                        points: rows
                            .iter()
                            .enumerate()
                            .map(|(x, r)| (x as f64, pick(r).unwrap_or(f64::NAN)))
                            .collect(),
                    });
                };
            if s.walk_forward > 0 {
                add(format!("w{} in sample", w + 1), &|r| r.in_sample[w].value);
                add(format!("w{} out of sample", w + 1), &|r| {
                    r.out_of_sample[w].value
                });
            } else {
                add("whole range".into(), &|r| r.out_of_sample[w].value);
            }
        }
        plot.lines = lines;
        out.push_str(&plot.render());
    }
    out.push_str("</section>");
}

fn equity_section(out: &mut String, s: &SweepSummary) {
    let e = &s.equity;
    let title = if s.walk_forward == 0 {
        "Equity of the best variants, starting at 1.0"
    } else {
        "Out-of-sample equity of the best variants, windows chained, starting at 1.0"
    };
    let mut plot = Plot::new("equity", title, 1120.0, 300.0);
    plot.reference = Some(1.0);
    plot.x_range = (0.0, e.dates.len().saturating_sub(1) as f64);
    plot.x_ticks = date_ticks(&e.dates, 14);
    plot.empty_note = "no equity to draw".into();
    let best: Vec<&crate::sweep::RankedVariant> = s
        .ranking
        .iter()
        .filter(|r| r.rank.is_some())
        .take(EQUITY_LINES)
        .collect();
    let points = |series: &[Option<f64>]| -> Vec<(f64, f64)> {
        series
            .iter()
            .enumerate()
            .map(|(x, v)| (x as f64, v.unwrap_or(f64::NAN)))
            .collect()
    };
    for (i, r) in best.iter().enumerate() {
        if let Some(series) = e.series.get(&r.variant.id) {
            plot.lines.push(Line {
                name: format!("{} {}", r.variant.id, r.label),
                class: colour(i, usize::MAX),
                points: points(series),
            });
        }
    }
    plot.lines.push(Line {
        name: "benchmark".into(),
        class: "bm".into(),
        points: points(&e.benchmark),
    });
    let _ = write!(
        out,
        "<section id=\"equity\"><h2>Equity</h2>{}<p class=\"note\">{} equity.csv has every variant.</p></section>",
        plot.render(),
        swatch("bm")
    );
}

fn failed_section(out: &mut String, s: &SweepSummary) {
    if s.failed.is_empty() {
        return;
    }
    out.push_str("<section id=\"failed\"><h2>Failed items</h2><table class=\"bt\"><thead><tr><th>item</th><th>variant</th><th>error</th><th>cause</th></tr></thead><tbody>");
    for f in &s.failed {
        let _ = write!(
            out,
            "<tr data-item=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&f.item),
            escape(&f.item),
            escape(&f.variant),
            escape(f.error.as_deref().unwrap_or("—")),
            escape(f.cause.as_deref().unwrap_or("not reported")),
        );
    }
    out.push_str("</tbody></table></section>");
}
