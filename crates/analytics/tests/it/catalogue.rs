//! The metric catalogue (`screener_core::catalogue`) names exactly the metrics this crate
//! computes, in the order of the results file, so a new metric cannot reach the report, the bot
//! or the terminal without a label, a short header, a unit and a format.

use screener_analytics::{ScreenSet, metric_names, screen_latest};
use screener_core::catalogue::METRICS;

use crate::common::{bars_csv, frame};

#[test]
fn the_catalogue_has_every_metric_the_crate_computes_in_order() {
    let computed: Vec<&str> = metric_names().collect();
    let catalogued: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(catalogued, computed);
}

#[test]
fn every_metric_the_crate_computes_has_a_label_a_unique_short_header_and_a_unit() {
    let mut shorts = std::collections::HashSet::new();
    for name in metric_names() {
        let m = screener_core::catalogue::metric(name).expect("catalogued");
        assert!(!m.label.is_empty() && !m.description.is_empty(), "{name}");
        assert!(!m.short.is_empty(), "{name} has no short header");
        assert!(
            shorts.insert(m.short),
            "{name} shares the header {}",
            m.short
        );
        assert!(!m.unit.name().is_empty(), "{name} has no unit");
    }
}

#[test]
fn every_numeric_column_of_the_results_file_is_in_the_catalogue() {
    let closes: Vec<f64> = (0..300).map(|i| 100.0 + (i as f64 * 0.1).sin()).collect();
    let bars = frame(&bars_csv("AAA", &closes));
    let screens = ScreenSet::default_screens();
    let outcome = screen_latest(bars, &screens, None).unwrap();
    let mut uncatalogued = Vec::new();
    for name in outcome.results.get_column_names() {
        let name = name.as_str();
        let bookkeeping = matches!(name, "symbol" | "date" | "data_source")
            || name.starts_with("pass_")
            || name.starts_with("rank_");
        if !bookkeeping && !METRICS.iter().any(|m| m.name == name) {
            uncatalogued.push(name.to_string());
        }
    }
    assert!(
        uncatalogued.is_empty(),
        "not in the catalogue: {uncatalogued:?}"
    );
    // And the other way round: every catalogued metric is a column.
    for metric in METRICS {
        assert!(
            outcome.results.column(metric.name).is_ok(),
            "{} is catalogued but not in the results",
            metric.name
        );
    }
}
