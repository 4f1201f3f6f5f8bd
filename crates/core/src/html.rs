//! What every HTML page the screener writes shares: escaping of text from data and the
//! stylesheet of its visual language (the daily `report.html` and the backtest's
//! `report.html` both start from [`STYLE`] and add their own rules).

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The pages' shared stylesheet: layout, sections, tables, sign colours, the SVG charts'
/// titles, labels and axes, and the daily report's price charts.
pub const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1d2733;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d1db}
main{padding:16px 24px;max-width:1200px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:17px;margin:4px 0 8px}h3{font-size:15px;margin:12px 0 6px}
.notice{background:#fff4ce;border:1px solid #e6c65c;padding:8px 12px;border-radius:6px;margin:0 0 16px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #eef1f4;text-align:right;white-space:nowrap}
th:nth-child(2),td:nth-child(2){text-align:left}
table.plain th,table.plain td{text-align:left;white-space:normal}
th{background:#f0f3f6;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
.neg{color:#b3261e}.pos{color:#1b7f3b}.muted{color:#6b7785;fill:#6b7785}
.charts{display:flex;flex-wrap:wrap;gap:12px}
svg.chart{background:#fff;border:1px solid #eef1f4;max-width:100%;height:auto}
svg .title{font-size:13px;font-weight:600;fill:#1d2733}
svg .label{font-size:10px;fill:#6b7785}svg .axis{stroke:#c9d1db}
svg .close{fill:none;stroke:#1f5fbf;stroke-width:1.5}
svg .high{fill:none;stroke:#e08a00;stroke-width:1.2;stroke-dasharray:4 3}
svg .dd{fill:#f2b8b5;stroke:#b3261e;stroke-width:.8}
svg .legend{font-size:10px}svg .k-close{fill:#1f5fbf}svg .k-high{fill:#e08a00}svg .k-dd{fill:#b3261e}
dl.counts{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px;margin:0}
dl.counts div{background:#f6f7f9;border-radius:4px;padding:6px 8px}dl.counts dt{color:#6b7785;font-size:12px}
dl.counts dd{margin:0;font-size:18px;font-weight:600}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_and_both_quotes_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">Tom's & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; co&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn the_stylesheet_loads_nothing_from_outside() {
        assert!(!STYLE.contains("url(") && !STYLE.contains("@import"));
    }
}
