//! `report.html`: one self-contained page per run date for people (no external assets: the
//! styles, the sorting script and the charts are inline). Per screen a sortable table of its
//! top candidates; for each of the first few candidates an SVG chart of the close, the
//! trailing 52-week high and the drawdown from it, drawn from the closes Screen wrote to
//! `charts.json`; and the
//! run's health: counts, rejections with reasons, failed batches, step durations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use screener_core::Deps;
use screener_core::catalogue;
use screener_core::html::STYLE;
use screener_core::workflow::{CHARTED_PER_SCREEN, ChartHistory, Manifest, ScreenCount, keys};

/// The report's file name under the results prefix.
pub const FILE: &str = "report.html";

/// Writes `results/date=D/report.html` for `manifest`; answers whether it was written. The
/// report is for people: when it can't be made, the error is logged and the data files are
/// published regardless.
pub async fn publish_report(deps: &Deps, manifest: &Manifest) -> bool {
    let html = match build(deps, manifest).await {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "report.html could not be made; publishing without it");
            return false;
        }
    };
    let key = keys::results_file(manifest.date, FILE);
    match deps
        .store
        .put(&key, html.into_bytes(), "text/html; charset=utf-8")
        .await
    {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(%error, "report.html could not be written; publishing without it");
            false
        }
    }
}

async fn build(deps: &Deps, manifest: &Manifest) -> Result<String, String> {
    let mut tops = Vec::new();
    for screen in &manifest.screens {
        let bytes = deps
            .store
            .get(&screen.top_key)
            .await
            .map_err(|e| e.to_string())?;
        tops.push(
            TopList::parse(screen.clone(), &bytes)
                .map_err(|e| format!("{}: {e}", screen.top_key))?,
        );
    }
    let history = read_history(deps, manifest).await;
    Ok(render(manifest, &tops, &history))
}

/// The closes of the charted candidates (`screener_core::workflow::ChartHistory`), copied
/// beside the results.
pub const CHARTS_FILE: &str = "charts.json";
/// Sessions in the trailing high (52 weeks): `high_52w` in crates/analytics/METRICS.md.
const HIGH_WINDOW: usize = 252;

/// One session of history for a chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Days since 1970-01-01, for the x axis.
    pub day: i32,
    pub close: f64,
}

/// A screen's top list as published (`top-<screen>.csv`).
#[derive(Debug, Clone)]
pub struct TopList {
    pub screen: ScreenCount,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TopList {
    pub fn parse(screen: ScreenCount, csv_bytes: &[u8]) -> Result<TopList, csv::Error> {
        let mut reader = csv::Reader::from_reader(csv_bytes);
        let headers = reader.headers()?.iter().map(str::to_string).collect();
        let rows = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(str::to_string).collect()))
            .collect::<Result<_, _>>()?;
        Ok(TopList {
            screen,
            headers,
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The first `n` symbols, in rank order.
    pub fn symbols(&self, n: usize) -> Vec<String> {
        let Some(c) = self.column("symbol") else {
            return Vec::new();
        };
        self.rows.iter().take(n).map(|r| r[c].clone()).collect()
    }
}

/// The symbols that get a chart: the first [`CHARTED_PER_SCREEN`] of every screen.
pub fn charted_symbols(tops: &[TopList]) -> BTreeSet<String> {
    tops.iter()
        .flat_map(|t| t.symbols(CHARTED_PER_SCREEN))
        .collect()
}

/// The charted candidates' closes from the run's `charts.json`. A file that is absent or cannot
/// be read costs the report its charts, never the report.
async fn read_history(deps: &Deps, manifest: &Manifest) -> HashMap<String, Vec<Point>> {
    if !manifest.files.iter().any(|f| f == CHARTS_FILE) {
        return HashMap::new();
    }
    let key = keys::results_file(manifest.date, CHARTS_FILE);
    let read = match deps.store.get(&key).await {
        Ok(bytes) => serde_json::from_slice::<ChartHistory>(&bytes).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let charts = match read {
        Ok(charts) => charts,
        Err(error) => {
            tracing::warn!(key, %error, "chart history unreadable; no charts");
            return HashMap::new();
        }
    };
    charts
        .closes
        .into_iter()
        .map(|(symbol, closes)| {
            let points = closes
                .into_iter()
                .map(|(date, close)| Point {
                    day: (date - chrono::NaiveDate::default()).num_days() as i32,
                    close,
                })
                .collect();
            (symbol, points)
        })
        .collect()
}

pub use screener_core::html::escape;

/// Metric columns of the screen tables, after the rank and the symbol; each is labelled and
/// formatted by the metric catalogue (`screener_core::catalogue`), as the bot and the terminal
/// summary show it.
const TABLE_METRICS: [&str; 9] = [
    "close",
    "drawdown_180d",
    "days_since_peak_180d",
    "high_52w",
    "pct_from_high_52w",
    "rsi_14",
    "ret_21d",
    "ret_252d",
    "avg_volume_20",
];

/// How a table cell is shown.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// The symbol.
    Text,
    /// The rank.
    Int,
    Metric(catalogue::Format),
}

/// The screen table's columns: (column name, header, format).
fn table_columns() -> Vec<(&'static str, &'static str, Format)> {
    let mut columns = vec![
        ("rank", "#", Format::Int),
        ("symbol", "Symbol", Format::Text),
    ];
    columns.extend(TABLE_METRICS.iter().map(|name| {
        let metric = catalogue::metric(name).expect("table metrics are in the catalogue");
        (metric.name, metric.label, Format::Metric(metric.format))
    }));
    columns
}

fn show(format: Format, cell: &str) -> String {
    let Ok(v) = cell.parse::<f64>() else {
        return escape(cell);
    };
    match format {
        Format::Text => escape(cell),
        Format::Int => format!("{v:.0}"),
        Format::Metric(f) => f.show(Some(v)),
    }
}

/// The trailing 52-week high at each point: the highest *close* of the last 252 sessions, as the
/// `high_52w` metric in the table beside the chart defines it (over the history available
/// before the 252nd session, where the metric itself is still null).
fn trailing_high(points: &[Point]) -> Vec<f64> {
    let mut out = Vec::with_capacity(points.len());
    let mut window: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    for (i, p) in points.iter().enumerate() {
        while window.back().is_some_and(|&j| points[j].close <= p.close) {
            window.pop_back();
        }
        window.push_back(i);
        while window.front().is_some_and(|&j| j + HIGH_WINDOW <= i) {
            window.pop_front();
        }
        out.push(points[*window.front().expect("window holds i")].close);
    }
    out
}

fn date_label(day: i32) -> String {
    (chrono::NaiveDate::default() + chrono::Duration::days(i64::from(day))).to_string()
}

/// An SVG chart: close and trailing 52-week high above, drawdown from that high below.
pub fn chart(symbol: &str, points: &[Point]) -> String {
    const W: f64 = 560.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 22.0;
    const PRICE_H: f64 = 150.0;
    const GAP: f64 = 22.0;
    const DD_H: f64 = 60.0;
    const H: f64 = TOP + PRICE_H + GAP + DD_H + 20.0;
    let id = escape(symbol);
    let mut svg = format!(
        "<svg class=\"chart\" data-symbol=\"{id}\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\"><title>{id}: close, 52-week high and drawdown</title>"
    );
    if points.len() < 2 {
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{}\" class=\"muted\">{id}: not enough history to draw</text></svg>",
            TOP + 20.0
        );
        return svg;
    }
    let highs = trailing_high(points);
    let drawdowns: Vec<f64> = points
        .iter()
        .zip(&highs)
        .map(|(p, h)| if *h > 0.0 { p.close / h - 1.0 } else { 0.0 })
        .collect();
    let (first, last) = (points[0].day as f64, points[points.len() - 1].day as f64);
    let span = (last - first).max(1.0);
    let x = |day: i32| LEFT + (day as f64 - first) / span * (W - LEFT - RIGHT);
    let lo = points.iter().map(|p| p.close).fold(f64::INFINITY, f64::min);
    let hi = highs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (hi - lo).max(hi.abs() * 1e-6).max(1e-9);
    let y = |v: f64| TOP + (hi - v) / range * PRICE_H;
    let worst = drawdowns.iter().copied().fold(0.0f64, f64::min).min(-1e-6);
    let dd_top = TOP + PRICE_H + GAP;
    let y_dd = |v: f64| dd_top + (v / worst) * DD_H;
    let path = |values: &mut dyn Iterator<Item = (f64, f64)>| {
        let mut d = String::new();
        for (i, (px, py)) in values.enumerate() {
            let _ = write!(d, "{}{px:.1},{py:.1}", if i == 0 { "M" } else { " L" });
        }
        d
    };
    let close_path = path(&mut points.iter().map(|p| (x(p.day), y(p.close))));
    let high_path = path(&mut points.iter().zip(&highs).map(|(p, h)| (x(p.day), y(*h))));
    let mut dd_path = path(
        &mut points
            .iter()
            .zip(&drawdowns)
            .map(|(p, d)| (x(p.day), y_dd(*d))),
    );
    let _ = write!(
        dd_path,
        " L{:.1},{dd_top:.1} L{:.1},{dd_top:.1} Z",
        x(points[points.len() - 1].day),
        x(points[0].day)
    );
    let last_point = points[points.len() - 1];
    let last_dd = drawdowns[drawdowns.len() - 1];
    // Only a full 52 weeks of history is the `high_52w` the table shows; with less, the title
    // says how many sessions the high is over instead of showing a second "52w high".
    let high_label = if points.len() >= HIGH_WINDOW {
        "52w high".to_string()
    } else {
        format!("{}-session high", points.len())
    };
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"14\" class=\"title\">{id} · close {:.2} · {high_label} {:.2} · {:+.1}% from it</text>",
        last_point.close,
        highs[highs.len() - 1],
        last_dd * 100.0
    );
    // Axes and labels.
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\"/>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{hi:.2}</text>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{lo:.2}</text>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{dd_top:.1}\" x2=\"{:.1}\" y2=\"{dd_top:.1}\"/>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0%</text>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>\
         <text class=\"label\" x=\"{LEFT}\" y=\"{:.1}\">{}</text>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        dd_top + DD_H,
        LEFT - 4.0,
        TOP + 4.0,
        LEFT - 4.0,
        TOP + PRICE_H,
        W - RIGHT,
        LEFT - 4.0,
        dd_top + 4.0,
        LEFT - 4.0,
        dd_top + DD_H,
        worst * 100.0,
        H - 4.0,
        date_label(points[0].day),
        W - RIGHT,
        H - 4.0,
        date_label(last_point.day),
    );
    let _ = write!(
        svg,
        "<path class=\"high\" d=\"{high_path}\"/><path class=\"close\" d=\"{close_path}\"/><path class=\"dd\" d=\"{dd_path}\"/>\
         <g class=\"legend\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\"><tspan class=\"k-close\">— close</tspan> <tspan class=\"k-high\">- - 52w high</tspan> <tspan class=\"k-dd\">▇ drawdown from it</tspan></text></g></svg>",
        (LEFT + W - RIGHT) / 2.0,
        H - 4.0
    );
    svg
}

/// Sorts a table by the clicked column: numbers by their `data-v`, text otherwise. Marks each
/// table `data-sortable="ready"` once wired, which the headless-browser test checks.
const SCRIPT: &str = r#"
(function(){
  function key(cell){var v=cell.getAttribute('data-v');if(v!==null&&v!==''){var n=parseFloat(v);if(!isNaN(n))return n;}return cell.textContent.trim().toLowerCase();}
  function sortBy(table,col,th){
    var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
    var asc=th.getAttribute('aria-sort')!=='ascending';
    rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
      if(typeof x==='number'&&typeof y==='number')return asc?x-y:y-x;
      if(typeof x==='number')return -1;if(typeof y==='number')return 1;
      return asc?(x<y?-1:x>y?1:0):(x<y?1:x>y?-1:0);});
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort',asc?'ascending':'descending');
    rows.forEach(function(r){body.appendChild(r);});
  }
  var tables=document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables,function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,col){
      th.addEventListener('click',function(){sortBy(table,col,th);});
    });
    table.setAttribute('data-sortable','ready');
  });
  document.body.setAttribute('data-tables',String(tables.length));
  document.body.setAttribute('data-charts',String(document.querySelectorAll('svg.chart').length));
})();
"#;

fn sign_class(format: Format, cell: &str) -> &'static str {
    match (format, cell.parse::<f64>()) {
        (Format::Metric(catalogue::Format::Percent), Ok(v)) if v < 0.0 => " class=\"neg\"",
        (Format::Metric(catalogue::Format::Percent), Ok(v)) if v > 0.0 => " class=\"pos\"",
        _ => "",
    }
}

fn screen_table(top: &TopList) -> String {
    let columns: Vec<(usize, &str, Format)> = table_columns()
        .into_iter()
        .filter_map(|(name, label, f)| top.column(name).map(|i| (i, label, f)))
        .collect();
    let mut out = format!(
        "<table class=\"sortable\" id=\"table-{}\"><thead><tr>",
        escape(&top.screen.name)
    );
    for (_, label, _) in &columns {
        let _ = write!(out, "<th>{}</th>", escape(label));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &top.rows {
        out.push_str("<tr>");
        for (i, _, format) in &columns {
            let cell = row.get(*i).map(String::as_str).unwrap_or("");
            let _ = write!(
                out,
                "<td data-v=\"{}\"{}>{}</td>",
                escape(cell),
                sign_class(*format, cell),
                show(*format, cell)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// The whole page.
pub fn render(
    manifest: &Manifest,
    tops: &[TopList],
    history: &HashMap<String, Vec<Point>>,
) -> String {
    let m = manifest;
    let c = &m.counts;
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Stock screen {date}</title><style>{STYLE}</style></head><body>\
         <header><h1>Stock screen for {date}</h1><p>Run <code>{run}</code> · {source} · finished {finished} UTC</p></header><main>",
        date = m.date,
        run = escape(&m.run_id),
        source = escape(&m.source.description),
        finished = m.finished_at.format("%Y-%m-%d %H:%M:%S"),
    );
    if let Some(notice) = &m.notice {
        let _ = write!(
            out,
            "<p class=\"notice\"><strong>{}</strong></p>",
            escape(notice)
        );
    }

    // Screens.
    let mut charted: BTreeSet<String> = BTreeSet::new();
    for top in tops {
        let s = &top.screen;
        let _ = write!(
            out,
            "<section class=\"screen\" id=\"screen-{name}\"><h2>{name}: {count} passing</h2><p class=\"muted\">{desc}</p>",
            name = escape(&s.name),
            count = s.count,
            desc = escape(&s.description)
        );
        if top.rows.is_empty() {
            out.push_str("<p>No symbol passes this screen.</p></section>");
            continue;
        }
        let _ = write!(
            out,
            "<h3>Top {} (click a column to sort)</h3>",
            top.rows.len()
        );
        out.push_str(&screen_table(top));
        let symbols = top.symbols(CHARTED_PER_SCREEN);
        let _ = write!(
            out,
            "<h3>Charts: the first {}</h3><div class=\"charts\">",
            symbols.len()
        );
        for symbol in symbols {
            let empty = Vec::new();
            let points = history.get(&symbol).unwrap_or(&empty);
            out.push_str(&chart(&symbol, points));
            charted.insert(symbol);
        }
        out.push_str("</div></section>");
    }

    // Health.
    out.push_str("<section id=\"health\"><h2>Run health</h2><dl class=\"counts\">");
    for (label, value) in [
        ("Requested", c.requested),
        ("Fetched", c.fetched),
        ("Valid", c.valid),
        ("Repaired", c.repaired),
        ("Rejected", c.rejected),
        ("Without data", c.no_data),
        ("In failed batches", c.failed),
        ("Screened", c.screened),
    ] {
        let _ = write!(out, "<div><dt>{label}</dt><dd>{value}</dd></div>");
    }
    out.push_str("</dl>");
    if let Some(w) = &m.worst_drawdown {
        let _ = write!(
            out,
            "<p>Worst drawdown from the 180-day high: <strong>{}</strong> {:+.1}%</p>",
            escape(&w.symbol),
            w.drawdown_180d * 100.0
        );
    }
    let total_ms = (m.finished_at - m.started_at).num_milliseconds().max(0);
    let _ = write!(
        out,
        "<h3>Step durations</h3><table class=\"sortable plain\" id=\"durations\"><thead><tr><th>Step</th><th>Seconds</th></tr></thead><tbody>"
    );
    let mut durations: BTreeMap<&str, u64> = BTreeMap::new();
    for (step, ms) in &m.durations_ms {
        durations.insert(step, *ms);
    }
    for (step, ms) in durations {
        let _ = write!(
            out,
            "<tr><td>{}</td><td data-v=\"{ms}\">{:.2}</td></tr>",
            escape(step),
            ms as f64 / 1000.0
        );
    }
    let _ = write!(
        out,
        "</tbody></table><p class=\"muted\">Whole run: {:.1} s (batch steps summed over batches).</p>",
        total_ms as f64 / 1000.0
    );
    let _ = write!(out, "<h3>Failed batches ({})</h3>", m.failed_batches.len());
    if m.failed_batches.is_empty() {
        out.push_str("<p>None.</p>");
    } else {
        out.push_str("<table class=\"sortable plain\" id=\"failed-batches\"><thead><tr><th>Batch</th><th>Symbols</th><th>Error</th><th>Cause</th></tr></thead><tbody>");
        for b in &m.failed_batches {
            let _ = write!(
                out,
                "<tr><td data-v=\"{}\">{}</td><td data-v=\"{}\">{} ({})</td><td>{}</td><td>{}</td></tr>",
                b.index,
                b.index,
                b.symbols.len(),
                b.symbols.len(),
                escape(&b.symbols.join(", ")),
                escape(&b.error),
                escape(&b.cause)
            );
        }
        out.push_str("</tbody></table>");
    }
    let _ = write!(out, "<h3>Rejections ({})</h3>", m.rejections.len());
    if m.rejections.is_empty() {
        out.push_str("<p>None.</p>");
    } else {
        out.push_str("<table class=\"sortable plain\" id=\"rejections\"><thead><tr><th>Symbol</th><th>Reason</th></tr></thead><tbody>");
        for r in &m.rejections {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(r.symbol.as_str()),
                escape(&r.reason)
            );
        }
        out.push_str("</tbody></table>");
    }
    if !m.repairs.is_empty() {
        let _ = write!(
            out,
            "<h3>Repaired ({})</h3><table class=\"sortable plain\" id=\"repairs\"><thead><tr><th>Symbol</th><th>What was repaired</th></tr></thead><tbody>",
            m.repairs.len()
        );
        for r in &m.repairs {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(r.symbol.as_str()),
                escape(&r.notes.join("; "))
            );
        }
        out.push_str("</tbody></table>");
    }
    if !m.no_data.is_empty() {
        let names: Vec<&str> = m.no_data.iter().map(|s| s.as_str()).collect();
        let _ = write!(
            out,
            "<h3>Without data ({})</h3><p>{}</p>",
            names.len(),
            escape(&names.join(", "))
        );
    }
    let _ = write!(
        out,
        "<h3>Data</h3><p>{}; adjustment: {}{}. {} charts drawn from the run's validated bars; the 52-week high is the highest close of the trailing 252 sessions, as in the tables (<code>high_52w</code>).</p></section>",
        escape(&m.source.description),
        escape(&m.source.adjustment),
        m.source
            .feed
            .as_ref()
            .map(|f| format!("; feed: {}", escape(f)))
            .unwrap_or_default(),
        charted.len()
    );
    let _ = write!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From JSON, so that fields other work adds (with serde defaults) need no change here.
    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "date": "2025-06-13", "run_id": "run-<1>", "notice": "SYNTHETIC",
            "source": {"kind": "synthetic", "description": "demo & test", "synthetic": true, "adjustment": "all"},
            "started_at": "2025-06-13T22:00:00Z", "finished_at": "2025-06-13T22:01:00Z",
            "counts": {"requested": 3, "fetched": 0, "valid": 0, "repaired": 0, "rejected": 1, "no_data": 0, "failed": 1, "screened": 0},
            "rejections": [{"symbol": "BAD", "reason": "short_history: <60 bars"}],
            "repairs": [], "no_data": [],
            "failed_batches": [{"index": 2, "symbols": ["X"], "error": "MarketData.Unavailable", "cause": "boom"}],
            "screens": [], "worst_drawdown": null, "durations_ms": {"screen": 1500}, "files": []
        }))
        .unwrap()
    }

    fn top() -> TopList {
        let screen = ScreenCount {
            name: "deep".into(),
            description: "Deep <falls>".into(),
            count: 2,
            top_key: String::new(),
        };
        TopList::parse(
            screen,
            b"rank,symbol,close,drawdown_180d\n1,AAA,10.5,-0.5\n2,BBB,20,-0.25\n",
        )
        .unwrap()
    }

    fn history() -> HashMap<String, Vec<Point>> {
        let points: Vec<Point> = (0..300)
            .map(|i| Point {
                day: 20000 + i,
                close: 100.0 - f64::from(i) * 0.1,
            })
            .collect();
        [("AAA".to_string(), points)].into()
    }

    #[test]
    fn the_report_has_a_sortable_table_per_screen_a_chart_per_candidate_and_the_health() {
        let html = render(&manifest(), &[top()], &history());
        assert_eq!(
            html.matches("<table class=\"sortable\" id=\"table-")
                .count(),
            1
        );
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 2);
        assert!(html.contains("data-symbol=\"AAA\""));
        // BBB has no history: its chart says so instead of drawing nothing.
        assert!(html.contains("BBB: not enough history"));
        assert!(html.contains("id=\"rejections\"") && html.contains("id=\"failed-batches\""));
        assert!(html.contains("id=\"durations\""));
        assert!(html.contains("-50.0%"));
    }

    #[test]
    fn everything_from_data_is_escaped_and_nothing_is_loaded_from_outside() {
        let html = render(&manifest(), &[top()], &history());
        assert!(html.contains("run-&lt;1&gt;"));
        assert!(html.contains("Deep &lt;falls&gt;"));
        assert!(html.contains("short_history: &lt;60 bars"));
        assert!(!html.contains("<falls>"));
        for external in ["src=\"http", "href=\"http", "url(http", "@import", "<link"] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn the_trailing_high_forgets_closes_older_than_52_weeks() {
        let mut points: Vec<Point> = (0..300).map(|i| Point { day: i, close: 9.0 }).collect();
        points[0].close = 50.0;
        let highs = trailing_high(&points);
        assert_eq!(highs[0], 50.0);
        assert_eq!(highs[HIGH_WINDOW - 1], 50.0);
        assert_eq!(highs[HIGH_WINDOW], 9.0);
    }

    #[test]
    fn the_chart_title_shows_the_high_52w_metric_of_the_table() {
        // Closes fall from 100 by 0.1 a session: high_52w (METRICS.md: the max of the last 252
        // closes) on the last of 300 sessions is the close 251 sessions before it.
        let points = &history()["AAA"];
        let expected = points[points.len() - 252..]
            .iter()
            .map(|p| p.close)
            .fold(f64::NEG_INFINITY, f64::max);
        let svg = chart("AAA", points);
        assert!(
            svg.contains(&format!("52w high {expected:.2} ")),
            "{}",
            &svg[..400]
        );
        // Fewer than 252 sessions: no "52w high" the table would not show.
        let svg = chart("AAA", &points[..100]);
        assert!(!svg.contains("52w high ") && svg.contains("100-session high"));
    }

    #[test]
    fn a_drawdown_chart_reaches_its_worst_point() {
        let svg = chart("AAA", &history()["AAA"]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(
            svg.contains("class=\"close\"")
                && svg.contains("class=\"high\"")
                && svg.contains("class=\"dd\"")
        );
    }
}
