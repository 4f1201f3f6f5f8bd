//! The report's charts, drawn server-side as inline `<svg class="chart">` so they render
//! without scripts: one [`Plot`] type for every chart on the page (lines on a linear or log
//! axis, bars from zero under them, a horizontal reference and a vertical marker), with a
//! legend, gridlines at round values and labelled axes. Every text from data is escaped here.

use std::fmt::Write;

use screener_core::html::escape;

/// Screens' colours, in order (`s0`..`s7` in [`STYLE`]); the benchmark has its own (`bm`).
pub(super) const PALETTE: [&str; 8] = [
    "#1f5fbf", "#e08a00", "#1b7f3b", "#b3261e", "#7b3fbf", "#0f8b8d", "#c2185b", "#6d4c41",
];

/// The charts' own rules, after the shared stylesheet.
pub(super) const STYLE: &str = r#"
svg .grid{stroke:#eef1f4}svg .ref{stroke:#9aa5b1;stroke-width:1}svg .marker{stroke:#9aa5b1;stroke-dasharray:3 3}
svg .line{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg .s0{stroke:#1f5fbf}svg .s1{stroke:#e08a00}svg .s2{stroke:#1b7f3b}svg .s3{stroke:#b3261e}
svg .s4{stroke:#7b3fbf}svg .s5{stroke:#0f8b8d}svg .s6{stroke:#c2185b}svg .s7{stroke:#6d4c41}
svg .bm{stroke:#1d2733;stroke-dasharray:6 3}svg .dash{stroke-dasharray:6 3}svg .base{stroke:#6b7785;stroke-dasharray:4 3}
svg .mean{stroke:#1d2733;stroke-width:2}
svg rect.up{fill:#8cc49d}svg rect.down{fill:#f2b8b5}
svg rect.q1{fill:#b3261e}svg rect.q2{fill:#e0907a}svg rect.q3{fill:#b8c0ca}svg rect.q4{fill:#7fb58f}svg rect.q5{fill:#1b7f3b}
"#;

/// How the y axis's labels read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Units {
    /// A fraction shown as a percentage (`0.25` -> `25%`).
    Percent,
    /// A plain number (equity multiples, correlations).
    Number,
}

/// One line; a non-finite `y` breaks it.
pub(super) struct Line {
    pub name: String,
    /// CSS classes after `line` (colour, dashes).
    pub class: String,
    pub points: Vec<(f64, f64)>,
}

/// One bar from zero to `value` (not drawn on a log axis).
pub(super) struct Bar {
    pub x: f64,
    pub value: f64,
    /// CSS class of the `<rect>` (its colour).
    pub class: String,
    /// Tooltip.
    pub title: String,
    /// Extra attributes, escaped by the caller.
    pub attrs: String,
}

/// A chart.
pub(super) struct Plot {
    /// Element id (escaped here).
    pub id: String,
    pub title: String,
    pub width: f64,
    /// Height of the plotting area (legend, title and labels come on top).
    pub height: f64,
    pub log: bool,
    pub units: Units,
    pub x_range: (f64, f64),
    pub x_ticks: Vec<(f64, String)>,
    /// A horizontal line at this value (0 for returns, 1 for equity).
    pub reference: Option<f64>,
    /// A vertical line at this x.
    pub marker: Option<f64>,
    /// Drawn first, under the lines.
    pub bars: Vec<Bar>,
    pub lines: Vec<Line>,
    /// Legend entries besides the lines': (CSS class of a `line`, label).
    pub extra_legend: Vec<(String, String)>,
    /// Extra attributes on the `<svg>`, escaped by the caller.
    pub attrs: String,
    /// Shown instead of the plot when there is nothing to draw.
    pub empty_note: String,
}

const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
const TITLE_H: f64 = 20.0;
const TITLE_X: f64 = 10.0;
const LEGEND_ROW: f64 = 15.0;
const BOTTOM: f64 = 24.0;

impl Plot {
    pub fn new(id: impl Into<String>, title: impl Into<String>, width: f64, height: f64) -> Self {
        Plot {
            id: id.into(),
            title: title.into(),
            width,
            height,
            log: false,
            units: Units::Number,
            x_range: (0.0, 1.0),
            x_ticks: Vec::new(),
            reference: None,
            marker: None,
            bars: Vec::new(),
            lines: Vec::new(),
            extra_legend: Vec::new(),
            attrs: String::new(),
            empty_note: "nothing to draw".into(),
        }
    }

    /// The values the y axis must show.
    fn y_values(&self) -> Vec<f64> {
        let mut ys: Vec<f64> = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .collect();
        if !self.log {
            ys.extend(self.bars.iter().map(|b| b.value));
            if !self.bars.is_empty() {
                ys.push(0.0);
            }
        }
        ys.extend(self.reference);
        ys.retain(|y| y.is_finite() && (!self.log || *y > 0.0));
        ys
    }

    pub fn render(&self) -> String {
        let id = escape(&self.id);
        let legend: Vec<(String, String)> = self
            .lines
            .iter()
            .map(|l| (l.class.clone(), l.name.clone()))
            .chain(self.extra_legend.iter().cloned())
            .collect();
        let rows = legend_rows(&legend, self.width - LEFT - RIGHT);
        let top = TITLE_H + rows.len() as f64 * LEGEND_ROW + 8.0;
        let total_h = top + self.height + BOTTOM;
        let (w, h) = (self.width, self.height);
        let mut svg = format!(
            "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {w} {total_h}\" width=\"{w}\" height=\"{total_h}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\"{attrs}><title>{title}</title><text x=\"{TITLE_X}\" y=\"14\" class=\"title\">{title}</text>",
            attrs = self.attrs,
            title = escape(&self.title),
        );
        // Legend: a swatch in the line's own style, then its label.
        for (r, row) in rows.iter().enumerate() {
            let y = TITLE_H + r as f64 * LEGEND_ROW + 8.0;
            for &(i, x) in row {
                let (class, label) = &legend[i];
                let _ = write!(
                    svg,
                    "<line class=\"line {class}\" x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/><text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    x + 16.0,
                    x + 20.0,
                    y + 3.5,
                    escape(label)
                );
            }
        }
        let ys = self.y_values();
        let drawable = self.lines.iter().any(|l| {
            l.points
                .iter()
                .filter(|p| p.1.is_finite() && (!self.log || p.1 > 0.0))
                .count()
                >= 2
        }) || (!self.log && self.bars.iter().any(|b| b.value.is_finite()));
        if ys.is_empty() || !drawable {
            let _ = write!(
                svg,
                "<text x=\"{LEFT}\" y=\"{:.1}\" class=\"muted\" data-empty=\"true\">{}</text></svg>",
                top + 20.0,
                escape(&self.empty_note)
            );
            return svg;
        }

        // The y axis, in log space on a log chart.
        let t = |v: f64| if self.log { v.ln() } else { v };
        let (mut lo, mut hi) = ys
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &y| {
                (lo.min(t(y)), hi.max(t(y)))
            });
        if hi - lo < 1e-12 {
            let pad = if self.log {
                0.05
            } else {
                (hi.abs() * 0.05).max(1e-3)
            };
            lo -= pad;
            hi += pad;
        }
        let pad = (hi - lo) * 0.04;
        let (lo, hi) = (lo - pad, hi + pad);
        let plot_w = w - LEFT - RIGHT;
        let (x0, x1) = self.x_range;
        let x_span = if x1 > x0 { x1 - x0 } else { 1.0 };
        let x = |v: f64| LEFT + (v - x0) / x_span * plot_w;
        let y = |v: f64| top + (hi - t(v)) / (hi - lo) * h;

        // Gridlines and labels at round values.
        // About one gridline per 50 px, and at least three.
        let mut n = ((h / 50.0) as usize).max(3);
        let ticks = if self.log {
            log_ticks(lo.exp(), hi.exp(), n)
        } else {
            let mut ticks = nice_ticks(lo, hi, n);
            while ticks.len() < 3 && n < 24 {
                n *= 2;
                ticks = nice_ticks(lo, hi, n);
            }
            ticks
        };
        let decimals = label_decimals(&ticks, self.units);
        for &v in &ticks {
            let py = y(v);
            let _ = write!(
                svg,
                "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\"/><text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                w - RIGHT,
                LEFT - 4.0,
                py + 3.5,
                axis_label(v, self.units, decimals)
            );
        }
        let bottom = top + h;
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{top:.1}\" x2=\"{LEFT}\" y2=\"{bottom:.1}\"/><line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\"/>",
            w - RIGHT
        );
        // Tick labels centred under their tick, kept inside the chart; a label that would
        // overlap the one before it is left out (its tick stays).
        let mut free_from = f64::NEG_INFINITY;
        for (v, label) in &self.x_ticks {
            let px = x(*v);
            let _ = write!(
                svg,
                "<line class=\"axis\" x1=\"{px:.1}\" y1=\"{bottom:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\"/>",
                bottom + 4.0
            );
            let half = label.chars().count() as f64 * 3.0;
            let centre = px.clamp(LEFT + half, (w - RIGHT - half).max(LEFT + half));
            if centre - half < free_from {
                continue;
            }
            free_from = centre + half + 8.0;
            let _ = write!(
                svg,
                "<text class=\"label\" x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 15.0,
                escape(label)
            );
        }

        // Bars from zero, as wide as 70% of the closest spacing.
        if !self.log && !self.bars.is_empty() {
            let mut xs: Vec<f64> = self.bars.iter().map(|b| x(b.x)).collect();
            xs.sort_by(f64::total_cmp);
            let gap = xs
                .windows(2)
                .map(|p| p[1] - p[0])
                .filter(|g| *g > 0.0)
                .fold(plot_w / 4.0, f64::min);
            let bw = (gap * 0.7).max(1.0);
            let zero = y(0.0);
            for b in self.bars.iter().filter(|b| b.value.is_finite()) {
                let py = y(b.value);
                let _ = write!(
                    svg,
                    "<rect class=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\"{}><title>{}</title></rect>",
                    b.class,
                    x(b.x) - bw / 2.0,
                    py.min(zero),
                    (py - zero).abs().max(0.5),
                    b.attrs,
                    escape(&b.title)
                );
            }
        }
        if let Some(r) = self.reference.filter(|r| !self.log || *r > 0.0) {
            let py = y(r);
            let _ = write!(
                svg,
                "<line class=\"ref\" x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\"/>",
                w - RIGHT
            );
        }
        if let Some(m) = self.marker {
            let px = x(m);
            let _ = write!(
                svg,
                "<line class=\"marker\" x1=\"{px:.1}\" y1=\"{top:.1}\" x2=\"{px:.1}\" y2=\"{bottom:.1}\"/>"
            );
        }
        for line in &self.lines {
            let points: Vec<(f64, f64)> = line
                .points
                .iter()
                .map(|&(px, py)| {
                    if py.is_finite() && (!self.log || py > 0.0) {
                        (x(px), y(py))
                    } else {
                        (x(px), f64::NAN)
                    }
                })
                .collect();
            let d = path(&decimate(&points));
            if !d.is_empty() {
                let _ = write!(
                    svg,
                    "<path class=\"line {}\" d=\"{d}\"><title>{}</title></path>",
                    line.class,
                    escape(&line.name)
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Legend items laid out in rows: per row, (item index, x).
fn legend_rows(items: &[(String, String)], width: f64) -> Vec<Vec<(usize, f64)>> {
    let mut rows: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut x = LEFT;
    for (i, (_, label)) in items.iter().enumerate() {
        // About 6 px per character at the labels' 10 px.
        let item_w = 20.0 + label.chars().count() as f64 * 6.0 + 14.0;
        if rows.is_empty() || (x + item_w > LEFT + width && x > LEFT) {
            rows.push(Vec::new());
            x = LEFT;
        }
        rows.last_mut().expect("a row").push((i, x));
        x += item_w;
    }
    rows
}

/// At most two points (the lowest and the highest, in x order) per pixel column, so a long
/// series stays a small path with its extremes intact; NaN points (gaps) are kept.
fn decimate(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() < 1000 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(points.len().min(4000));
    let mut i = 0;
    while i < points.len() {
        if points[i].1.is_nan() {
            out.push(points[i]);
            i += 1;
            continue;
        }
        let column = points[i].0.floor();
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && !points[j].1.is_nan() && points[j].0.floor() == column {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        out.push(points[lo.min(hi)]);
        if lo != hi {
            out.push(points[lo.max(hi)]);
        }
        i = j;
    }
    out
}

/// An SVG path through the points; a NaN `y` starts a new segment.
fn path(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for &(x, y) in points {
        if y.is_nan() {
            pen_down = false;
            continue;
        }
        let _ = write!(
            d,
            "{}{x:.1},{y:.1}",
            match (pen_down, d.is_empty()) {
                (true, _) => " L",
                (false, true) => "M",
                (false, false) => " M",
            }
        );
        pen_down = true;
    }
    d
}

/// About `n` round values (1, 2, 2.5 or 5 times a power of ten) from `lo` to `hi`.
pub(super) fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / n as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    // A hair of slack so that 0.9 / 0.1 = 9.000000000000002 still starts at 9.
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// Round values for a log axis from `lo` to `hi` (both > 0): 1-2-5 times powers of ten,
/// only the powers of ten when that is too many, about `n` linear round values over a
/// narrow range.
pub(super) fn log_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = m * p;
            if v >= lo && v <= hi {
                ticks.push(v);
            }
        }
        p *= 10.0;
    }
    if ticks.len() > 8 {
        ticks.retain(|v| (v.log10() - v.log10().round()).abs() < 1e-9);
    }
    if ticks.len() < 3 {
        return nice_ticks(lo, hi, n)
            .into_iter()
            .filter(|v| *v > 0.0)
            .collect();
    }
    ticks
}

/// Decimals the labels need to tell the ticks apart.
fn label_decimals(ticks: &[f64], units: Units) -> usize {
    let scale = if units == Units::Percent { 100.0 } else { 1.0 };
    let step = ticks
        .windows(2)
        .map(|w| (w[1] - w[0]) * scale)
        .fold(f64::INFINITY, f64::min);
    if !step.is_finite() || step <= 0.0 {
        return 2;
    }
    let mut decimals = 0;
    let whole = |x: f64| (x - x.round()).abs() <= 1e-6 * x.abs().max(1.0);
    while decimals < 6 && !whole(step * 10f64.powi(decimals as i32)) {
        decimals += 1;
    }
    decimals.max(if units == Units::Number && step < 1.0 {
        1
    } else {
        0
    })
}

fn axis_label(v: f64, units: Units, decimals: usize) -> String {
    match units {
        Units::Percent => format!("{:.*}%", decimals, v * 100.0),
        Units::Number => format!("{v:.decimals$}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ticks_cover_the_range_at_round_steps() {
        let close = |a: Vec<f64>, b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
        };
        assert!(close(
            nice_ticks(0.0, 1.0, 5),
            &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        ));
        assert!(close(nice_ticks(-0.13, 0.02, 5), &[-0.1, -0.05, 0.0]));
        assert!(close(
            nice_ticks(-0.13, 0.02, 8),
            &[-0.12, -0.1, -0.08, -0.06, -0.04, -0.02, 0.0, 0.02]
        ));
        assert!(close(
            log_ticks(0.5, 30.0, 5),
            &[0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
        ));
        assert!(close(
            log_ticks(0.2, 3000.0, 5),
            &[1.0, 10.0, 100.0, 1000.0]
        ));
        // A narrow range has no 1-2-5 values: linear round values instead.
        assert!(close(log_ticks(0.9, 1.3, 5), &[0.9, 1.0, 1.1, 1.2, 1.3]));
        assert_eq!(label_decimals(&[-0.1, -0.075, -0.05], Units::Percent), 1);
        assert_eq!(label_decimals(&[0.5, 1.0, 1.5], Units::Number), 1);
    }

    #[test]
    fn a_gap_breaks_the_path_and_a_long_series_keeps_its_extremes() {
        assert_eq!(
            path(&[(0.0, 1.0), (1.0, 2.0), (2.0, f64::NAN), (3.0, 3.0)]),
            "M0.0,1.0 L1.0,2.0 M3.0,3.0"
        );
        let points: Vec<(f64, f64)> = (0..5000)
            .map(|i| {
                (
                    i as f64 / 10.0,
                    if i == 2345 { -50.0 } else { (i % 7) as f64 },
                )
            })
            .collect();
        let kept = decimate(&points);
        assert!(kept.len() <= 1000, "{}", kept.len());
        assert!(kept.contains(&(234.5, -50.0)));
    }

    #[test]
    fn a_chart_without_data_says_so_and_text_is_escaped() {
        let mut plot = Plot::new("x<y", "A & B", 400.0, 100.0);
        plot.empty_note = "no <data>".into();
        let svg = plot.render();
        assert!(svg.contains("id=\"x&lt;y\"") && svg.contains("A &amp; B"));
        assert!(svg.contains("data-empty=\"true\">no &lt;data&gt;"));
        assert!(svg.starts_with("<svg class=\"chart\"") && svg.ends_with("</svg>"));
    }
}
