//! The backtest against the references nobody here wrote: `tests/reference/backtest_reference.py`
//! drives vectorbt (`Portfolio.from_orders` with the S5 settings), empyrical-reloaded and
//! alphalens-reloaded on the same bars, screens and settings; selections must be identical
//! and every number equal to 1e-9 relative.
//!
//! Runs with the Python named by `SCREENER_PYTHON` (`./scripts/test` sets it to a venv with
//! those packages); says it was skipped when that is not set. The real-data case also needs
//! `SCREENER_SP500_CSV`.
//!
//! The script computes the calendar, eligibility, screening, targets and forward returns
//! itself with pandas from the bars file; only the indicator values come from our
//! `compute_indicators` (checked against TA-Lib in screener-analytics' tests), written to a
//! CSV it reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use screener_analytics::polars::prelude::*;
use screener_analytics::{
    BAR_METRICS, DEFAULT_SCREENS_TOML, Operand, ScreenSet, compute_indicators, read_bars, write_csv,
};
use screener_backtest::{BacktestResult, Portfolio, Settings, backtest_frame, day_number};
use serde_json::Value;

use crate::common;

const REL: f64 = 1e-9;
/// Numbers smaller than this in magnitude count as 0 (sums of O(1) terms that cancel).
const ZERO: f64 = 1e-14;

fn python() -> Option<PathBuf> {
    match std::env::var_os("SCREENER_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!(
                "reference comparison SKIPPED: SCREENER_PYTHON is not set. Set it to a Python \
                 with vectorbt, alphalens-reloaded and empyrical-reloaded (./scripts/test does)."
            );
            None
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/backtest_reference.py")
}

/// The indicator columns the screens use, for dates on or after `start`, as CSV.
fn write_signals(bars: &DataFrame, screens: &ScreenSet, start: chrono::NaiveDate, path: &Path) {
    let mut used: Vec<String> = Vec::new();
    for s in &screens.screens {
        let mut names = vec![s.sort.metric.clone()];
        for c in &s.conditions {
            names.push(c.metric.clone());
            if let Operand::Metric(m) = &c.rhs {
                names.push(m.clone());
            }
        }
        for n in names {
            if !BAR_METRICS.contains(&n.as_str()) && !used.contains(&n) {
                used.push(n);
            }
        }
    }
    let all = compute_indicators(bars.clone()).expect("indicators");
    let start = day_number(start);
    let keep: BooleanChunked = all
        .column("date")
        .unwrap()
        .date()
        .unwrap()
        .phys
        .iter()
        .map(|d| d.is_some_and(|d| d >= start))
        .collect();
    let mut cols = vec!["symbol".to_string(), "date".to_string()];
    cols.extend(used);
    let mut signals = all.filter(&keep).unwrap().select(cols).unwrap();
    std::fs::write(path, write_csv(&mut signals).unwrap()).unwrap();
}

fn run_reference(
    python: &Path,
    bars: &Path,
    signals: &Path,
    screens: &Path,
    settings: &Settings,
    out: &Path,
) -> Value {
    let horizons: Vec<String> = settings.horizons.iter().map(|h| h.to_string()).collect();
    let mut cmd = Command::new(python);
    cmd.arg(script())
        .arg("--bars")
        .arg(bars)
        .arg("--signals")
        .arg(signals)
        .arg("--screens")
        .arg(screens)
        .args(["--start", &settings.start.to_string()])
        .args(["--every", &settings.every.to_string()])
        .args(["--cost-bps", &settings.cost_bps.to_string()])
        .args(["--horizons", &horizons.join(",")])
        .arg("--out")
        .arg(out);
    if let Some(end) = settings.end {
        cmd.args(["--end", &end.to_string()]);
    }
    let output = cmd.output().expect("run the reference script");
    assert!(
        output.status.success(),
        "the reference script failed (does SCREENER_PYTHON have vectorbt, alphalens-reloaded \
         and empyrical-reloaded?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(out).unwrap()).expect("reference JSON")
}

/// Tallies the comparison: how many numbers, the largest relative difference, what differs.
#[derive(Default)]
struct Tally {
    numbers: usize,
    exact: usize,
    max_rel: f64,
    max_rel_at: String,
    failures: Vec<String>,
}

impl Tally {
    fn number(&mut self, at: &str, ours: Option<f64>, theirs: &Value) {
        let theirs = theirs.as_f64();
        match (ours, theirs) {
            (None, None) => self.exact += 1,
            (Some(a), Some(b)) => {
                self.numbers += 1;
                if a.abs() < ZERO && b.abs() < ZERO {
                    return;
                }
                let rel = (a - b).abs() / a.abs().max(b.abs());
                if rel > self.max_rel {
                    self.max_rel = rel;
                    self.max_rel_at = at.to_string();
                }
                if rel > REL {
                    self.fail(format!(
                        "{at}: ours {a:e}, reference {b:e}, relative {rel:e}"
                    ));
                }
            }
            (a, b) => self.fail(format!("{at}: ours {a:?}, reference {b:?}")),
        }
    }

    fn count(&mut self, at: &str, ours: usize, theirs: &Value) {
        self.exact += 1;
        if theirs.as_u64() != Some(ours as u64) {
            self.fail(format!("{at}: ours {ours}, reference {theirs}"));
        }
    }

    fn same<T: PartialEq + std::fmt::Debug>(&mut self, at: &str, ours: T, theirs: T) {
        self.exact += 1;
        if ours != theirs {
            self.fail(format!("{at}: ours {ours:?}, reference {theirs:?}"));
        }
    }

    fn fail(&mut self, what: String) {
        if self.failures.len() < 40 {
            self.failures.push(what);
        }
    }
}

fn dates(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

fn compare_portfolio(t: &mut Tally, r: &BacktestResult, ours: &Portfolio, theirs: &Value) {
    let name = &ours.name;
    let m = serde_json::to_value(&ours.metrics).unwrap();
    for (key, value) in m.as_object().unwrap() {
        let at = format!("{name}.metrics.{key}");
        let reference = &theirs["metrics"][key];
        match value {
            Value::Number(n) if n.is_u64() && !key.starts_with("turnover") => {
                t.count(&at, n.as_u64().unwrap() as usize, reference)
            }
            other => t.number(&at, other.as_f64(), reference),
        }
    }
    // vectorbt's own numbers where S8 says it agrees with empyrical.
    for (key, value) in theirs["vectorbt"].as_object().unwrap() {
        let ours = m[key].as_f64();
        t.number(&format!("{name}.vectorbt.{key}"), ours, value);
    }
    let equity = theirs["equity"].as_array().unwrap();
    t.same(
        &format!("{name}.equity.len"),
        ours.equity.len(),
        equity.len(),
    );
    for (i, (a, b)) in ours.equity.iter().zip(equity).enumerate() {
        t.number(&format!("{name}.equity[{i}]"), Some(*a), b);
    }
    let turnover = theirs["turnover"].as_array().unwrap();
    t.same(
        &format!("{name}.fills.len"),
        ours.fills.len(),
        turnover.len(),
    );
    let fills = theirs["fills"].as_array().unwrap();
    for (i, ((a, b), f)) in ours.fills.iter().zip(turnover).zip(fills).enumerate() {
        let at = format!("{name}.fills[{i}]");
        t.number(&format!("{at}.turnover"), Some(a.turnover), b);
        t.number(&format!("{at}.value"), Some(a.value), &f["value"]);
        t.number(&format!("{at}.traded"), Some(a.traded), &f["traded"]);
        t.number(&format!("{at}.fees"), Some(a.fees), &f["fees"]);
        t.count(&format!("{at}.selected"), a.selected, &f["selected"]);
        t.count(&format!("{at}.n_orders"), a.n_orders, &f["n_orders"]);
        t.count(
            &format!("{at}.n_skipped_no_open"),
            a.n_skipped_no_open,
            &f["n_skipped_no_open"],
        );
    }
    let selections: Vec<Vec<String>> = ours
        .selections
        .iter()
        .map(|s| s.iter().map(|&i| r.symbols[i as usize].clone()).collect())
        .collect();
    let reference: Vec<Vec<String>> = serde_json::from_value(theirs["selections"].clone()).unwrap();
    t.same(
        &format!("{name}.selections.len"),
        selections.len(),
        reference.len(),
    );
    for (k, (a, b)) in selections.iter().zip(&reference).enumerate() {
        t.same(&format!("{name}.selections[{k}]"), a, b);
    }
    let fwd = serde_json::to_value(&ours.forward_returns).unwrap();
    for set in ["selected", "eligible"] {
        for (h, stats) in fwd[set].as_object().unwrap() {
            let reference = &theirs["forward_returns"][set][h];
            let at = format!("{name}.forward_returns.{set}[{h}]");
            t.number(
                &format!("{at}.mean"),
                stats["mean"].as_f64(),
                &reference["mean"],
            );
            t.number(
                &format!("{at}.hit_rate"),
                stats["hit_rate"].as_f64(),
                &reference["hit_rate"],
            );
            t.count(
                &format!("{at}.n"),
                stats["n"].as_u64().unwrap() as usize,
                &reference["n"],
            );
        }
    }
    if let Some(f) = &ours.factor {
        let reference = &theirs["factor"];
        if let Some(err) = reference.get("error") {
            t.fail(format!("{name}.factor: the reference failed: {err}"));
            return;
        }
        let at = format!("{name}.factor");
        t.count(
            &format!("{at}.n_factor_rows"),
            f.n_factor_rows,
            &reference["n_factor_rows"],
        );
        t.count(&format!("{at}.n_rows"), f.n_rows, &reference["n_rows"]);
        t.count(&format!("{at}.n_dates"), f.n_dates, &reference["n_dates"]);
        t.count(
            &format!("{at}.n_dates_offered"),
            f.n_dates_offered,
            &reference["n_dates_offered"],
        );
        for q in 0..5 {
            t.count(
                &format!("{at}.count_by_quantile[{q}]"),
                f.count_by_quantile[q],
                &reference["count_by_quantile"][q],
            );
        }
        let ic_dates: Vec<String> = f.ic_dates.iter().map(|d| d.to_string()).collect();
        t.same(
            &format!("{at}.ic_dates"),
            ic_dates,
            dates(&reference["ic_dates"]),
        );
        for (&h, &v) in &f.mean_ic {
            let key = h.to_string();
            t.number(
                &format!("{at}.mean_ic[{h}]"),
                v,
                &reference["mean_ic"][&key],
            );
            t.count(
                &format!("{at}.ic_n_dates[{h}]"),
                f.ic_n_dates[&h],
                &reference["ic_n_dates"][&key],
            );
            for q in 0..5 {
                t.number(
                    &format!("{at}.mean_return_by_quantile[{h}][{q}]"),
                    f.mean_return_by_quantile[&h][q],
                    &reference["mean_return_by_quantile"][&key][q],
                );
                t.number(
                    &format!("{at}.mean_return_by_quantile_demeaned[{h}][{q}]"),
                    f.mean_return_by_quantile_demeaned[&h][q],
                    &reference["mean_return_by_quantile_demeaned"][&key][q],
                );
            }
            t.number(
                &format!("{at}.spread_top_minus_bottom[{h}]"),
                f.spread_top_minus_bottom[&h],
                &reference["spread_top_minus_bottom"][&key],
            );
            t.number(
                &format!("{at}.spread_alphalens_halved[{h}]"),
                f.spread_alphalens_halved[&h],
                &reference["spread_alphalens_halved"][&key],
            );
            let ic = reference["ic_by_date"][&key].as_array().unwrap();
            for (i, (a, b)) in f.ic_by_date[&h].iter().zip(ic).enumerate() {
                t.number(&format!("{at}.ic_by_date[{h}][{i}]"), *a, b);
            }
        }
    }
}

/// Runs both on a bars file and compares everything; returns the tally's summary line.
fn compare_on(label: &str, bars_path: &Path, screens_toml: &str, settings: &Settings) -> String {
    let python = python().expect("checked by the caller");
    let dir = tempfile::tempdir().unwrap();
    let screens = ScreenSet::parse_toml(screens_toml).unwrap();
    let bars = read_bars(bars_path).unwrap();
    let signals = dir.path().join("signals.csv");
    write_signals(&bars, &screens, settings.start, &signals);
    let screens_path = dir.path().join("screens.toml");
    std::fs::write(&screens_path, screens_toml).unwrap();
    let theirs = run_reference(
        &python,
        bars_path,
        &signals,
        &screens_path,
        settings,
        &dir.path().join("reference.json"),
    );
    let ours = backtest_frame(bars, &screens, settings).unwrap();

    let mut t = Tally::default();
    let cal = serde_json::to_value(&ours.calendar).unwrap();
    for key in [
        "first_session",
        "last_session",
        "t0",
        "n_sessions",
        "n_returns",
        "n_rebalance_dates",
        "n_fills",
        "rebalance_dates",
        "n_symbols",
        "n_symbols_in_range",
    ] {
        t.same(
            &format!("calendar.{key}"),
            &cal[key],
            &theirs["calendar"][key],
        );
    }
    for p in &ours.screens {
        let reference = theirs["screens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == p.name.as_str())
            .unwrap_or_else(|| panic!("no reference for {}", p.name));
        compare_portfolio(&mut t, &ours, p, reference);
    }
    compare_portfolio(&mut t, &ours, &ours.benchmark, &theirs["benchmark"]);
    // What the case exercised, so a silent no-op cannot pass.
    let all: Vec<&Portfolio> = ours.portfolios().collect();
    let skipped: usize = all.iter().map(|p| p.metrics.n_orders_skipped_no_open).sum();
    let empty: usize = all.iter().map(|p| p.metrics.n_rebalances_empty).sum();
    let orders: usize = all.iter().map(|p| p.metrics.n_orders).sum();
    let dropped: usize = ours
        .screens
        .iter()
        .filter_map(|p| p.factor.as_ref())
        .map(|f| f.n_dates_offered - f.n_dates)
        .sum();
    let summary = format!(
        "{label}: {} numbers compared (max relative difference {:.2e} at {}), {} counts, dates, \
         selections and nulls identical; {orders} orders, {skipped} skipped for want of an open, \
         {empty} empty fills, {dropped} factor dates dropped for tied edges",
        t.numbers, t.max_rel, t.max_rel_at, t.exact
    );
    eprintln!("{summary}");
    assert!(
        t.failures.is_empty(),
        "{label}: differences from the reference:\n{}",
        t.failures.join("\n")
    );
    summary
}

#[test]
fn equals_vectorbt_alphalens_and_empyrical_on_the_sp500_file() {
    if python().is_none() {
        return;
    }
    let Some(path) = std::env::var_os("SCREENER_SP500_CSV") else {
        eprintln!("reference comparison on real data SKIPPED: SCREENER_SP500_CSV is not set");
        return;
    };
    let mut settings = Settings::new("2014-01-01".parse().unwrap());
    settings.end = Some("2018-02-07".parse().unwrap());
    compare_on(
        "S&P 500 2014-01-01..2018-02-07, default screens",
        Path::new(&path),
        DEFAULT_SCREENS_TOML,
        &settings,
    );
}

/// Screens that select often on the synthetic market, one with a sort metric that is null
/// for recently listed symbols.
const SYNTHETIC_SCREENS: &str = r#"
[[screen]]
name = "losers"
conditions = ["ret_5d < 0", "close >= 5"]
sort = { metric = "ret_5d", direction = "asc" }
limit = 5

[[screen]]
name = "trend"
conditions = ["close > sma_50", "avg_volume_20 >= 500_000"]
sort = { metric = "ret_21d", direction = "desc" }
limit = 10

[[screen]]
name = "all_by_rsi"
conditions = ["close > 0"]
sort = { metric = "rsi_14", direction = "desc" }
limit = 40
"#;

#[test]
fn equals_the_references_on_a_synthetic_market_with_listings_delistings_and_missing_bars() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bars = dir.path().join("bars.csv");
    std::fs::write(&bars, common::synthetic_market_csv(70, 420, 7)).unwrap();
    let screens = format!("{DEFAULT_SCREENS_TOML}\n{SYNTHETIC_SCREENS}");
    let start = common::weekdays(420)[260].parse().unwrap();
    compare_on(
        "synthetic market, every 5, 10 bps",
        &bars,
        &screens,
        &Settings::new(start),
    );
    // Every 3 sessions, fees of 2.5% (40 x 2.5% > 1: the last buys of a fill get nothing),
    // other horizons, an end before the last bar.
    let mut settings = Settings::new(start);
    settings.every = 3;
    settings.cost_bps = 250.0;
    settings.horizons = vec![2, 10];
    settings.end = Some(common::weekdays(420)[410].parse().unwrap());
    compare_on(
        "synthetic market, every 3, 250 bps, horizons 2/10, end before the last bar",
        &bars,
        &screens,
        &settings,
    );
}
