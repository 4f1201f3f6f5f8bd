//! `report.html` as a browser shows it: a backtest of a synthetic market written with the
//! other files, opened in headless Chromium (when it is installed), its charts counted in
//! the DOM and every number on it compared with `summary.json` and `equity.csv`; a
//! screenshot must be well above a blank page's size.

use std::collections::BTreeMap;
use std::path::Path;

use screener_analytics::ScreenSet;
use screener_backtest::{Settings, backtest_file, write_outputs};
use screener_test_support::chromium::{self, Chromium};
use serde_json::Value;

use crate::common::synthetic_market_csv;

const SCREENS: &str = r#"
[[screen]]
name = "momentum"
description = "The strongest month <21 sessions> & rising"
conditions = ["ret_21d > 0"]
sort = { metric = "ret_21d", direction = "desc" }
limit = 5

[[screen]]
name = "oversold"
description = "RSI under 45"
conditions = ["rsi_14 < 45"]
sort = { metric = "rsi_14", direction = "asc" }
limit = 4
"#;

/// The value of attribute `name` in the first tag of `text` that has it.
fn attr<'a>(text: &'a str, name: &str) -> &'a str {
    let at = text.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    &text[at..at + text[at..].find('"').unwrap()]
}

/// Every (`data-p`, `data-k`, `data-v`) of a page: each keyed value with the portfolio of
/// the row or chart it sits in.
fn keyed_values(html: &str) -> Vec<(String, String, String)> {
    html.match_indices(" data-k=\"")
        .map(|(at, _)| {
            let p_at = html[..at]
                .rfind(" data-p=\"")
                .expect("a data-p before each data-k");
            (
                attr(&html[p_at..], "data-p").to_string(),
                attr(&html[at..], "data-k").to_string(),
                attr(&html[at..], "data-v").to_string(),
            )
        })
        .collect()
}

/// Every keyed value of the page equals the one in `summary.json`; answers how many.
fn check_against_summary(html: &str, summary: &Value) -> usize {
    let mut portfolios: BTreeMap<&str, &Value> = summary["screens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p))
        .collect();
    portfolios.insert("benchmark", &summary["benchmark"]);
    let values = keyed_values(html);
    for (p, k, v) in &values {
        let expected = portfolios[p.as_str()]
            .pointer(&format!("/{k}"))
            .unwrap_or_else(|| panic!("{p}: no {k} in summary.json"));
        match expected.as_f64() {
            Some(x) => assert_eq!(v.parse::<f64>().unwrap(), x, "{p} {k}"),
            None => assert!(expected.is_null() && v.is_empty(), "{p} {k}: {v:?}"),
        }
    }
    values.len()
}

/// Every calendar-year cell equals the year's return computed from `equity.csv`; answers how
/// many.
fn check_years_against_equity_csv(html: &str, equity_csv: &str) -> usize {
    let mut lines = equity_csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut checked = 0;
    for (c, name) in header.iter().enumerate().skip(1) {
        // Year-end equity, the first row standing for the start of the first year.
        let mut marks: Vec<(i32, f64)> = Vec::new();
        let mut base = rows[0][c].parse::<f64>().unwrap();
        for (i, row) in rows.iter().enumerate() {
            let year: i32 = row[0][..4].parse().unwrap();
            let value: f64 = row[c].parse().unwrap();
            let next_year = rows.get(i + 1).map(|r| r[0][..4].parse::<i32>().unwrap());
            if next_year != Some(year) {
                marks.push((year, value / base - 1.0));
                base = value;
            }
        }
        for (year, value) in marks {
            let needle = format!(" data-p=\"{name}\" data-year=\"{year}\" data-v=\"");
            let at = html
                .find(&needle)
                .unwrap_or_else(|| panic!("no {name} {year}"));
            let shown: f64 = html[at + needle.len()..]
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(shown, value, "{name} {year}");
            checked += 1;
        }
    }
    checked
}

#[test]
fn the_report_renders_in_headless_chromium_with_its_charts_and_the_summarys_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let bars = dir.path().join("bars.csv");
    // 60 symbols over 420 weekdays from 2020-01-06 (into 2021), from the 130th session.
    std::fs::write(&bars, synthetic_market_csv(60, 420, 7)).unwrap();
    let mut settings = Settings::new("2020-07-01".parse().unwrap());
    settings.horizons = vec![1, 5, 21];
    let screens = ScreenSet::parse_toml(SCREENS).unwrap();
    let result = backtest_file(&bars, &screens, &settings).unwrap();
    let out = dir.path().join("out");
    let files = write_outputs(&result, &out).unwrap();
    let page = out.join("report.html");
    assert!(files.contains(&page), "{files:?}");

    let html = std::fs::read_to_string(&page).unwrap();
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let equity_csv = std::fs::read_to_string(out.join("equity.csv")).unwrap();
    for external in [
        "src=", "href=", "url(", "@import", "<link", "<img", "<script",
    ] {
        assert!(!html.contains(external), "{external} in report.html");
    }
    // Equity (linear and log), drawdown; per screen a quintile and an IC chart per horizon
    // and the event study.
    let charts = 3 + screens.screens.len() * (2 * settings.horizons.len() + 1);
    assert_eq!(html.matches("<svg class=\"chart\"").count(), charts);
    assert!(!html.contains("data-empty"), "a chart with nothing to draw");
    let keyed = check_against_summary(&html, &summary);
    assert!(keyed > 60, "{keyed} keyed values");
    assert_eq!(check_years_against_equity_csv(&html, &equity_csv), 3 * 2);

    let Some(browser) = Chromium::find() else {
        println!(
            "SKIPPED the headless-Chromium half of this test: {}. The report's static checks above ran.",
            chromium::SKIPPED
        );
        return;
    };
    let dom = browser.dump_dom(&page);
    // The browser parsed every chart, with its lines and bars, and every number.
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), charts);
    for id in ["equity-linear", "equity-log", "drawdown", "events-momentum"] {
        let at = dom.find(&format!("id=\"{id}\"")).unwrap();
        let svg = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        assert!(svg.contains("<path class=\"line"), "{id}");
    }
    assert!(dom.contains("id=\"quintiles-oversold-21\"") && dom.contains("<rect class=\"q5\""));
    assert_eq!(check_against_summary(&dom, &summary), keyed);
    assert_eq!(check_years_against_equity_csv(&dom, &equity_csv), 3 * 2);
    assert!(dom.contains("The strongest month &lt;21 sessions&gt; &amp; rising"));

    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank = browser.screenshot(&blank_page, &dir.path().join("blank.png"), (1280, 2400));
    let shot = dir.path().join("report.png");
    let png = browser.screenshot(&page, &shot, (1280, 2400));
    assert!(
        png.len() > 20_000 && png.len() > 10 * blank.len(),
        "the report's screenshot is {} bytes, a blank page's {}",
        png.len(),
        blank.len()
    );
    if let Ok(keep) = std::env::var("SCREENER_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, &keep).unwrap();
        let html_copy = Path::new(&keep).with_extension("html");
        std::fs::copy(&page, &html_copy).unwrap();
        println!(
            "screenshot kept at {keep}, the page at {}",
            html_copy.display()
        );
    }
}
