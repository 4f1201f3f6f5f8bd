//! `screener backtest --sweep` through the built binary: the backtest workflow
//! (`statemachine/backtest.asl.json`) run by the local interpreter on a fresh store.
//!
//! A sweep of 2 screens x 3 thresholds x 2 walk-forward windows leaves its summary, ranking,
//! equity and report; every number in the ranking is the engine's own for that variant and
//! period run alone (bit for bit); a variant that cannot run is tolerated under the
//! percentage the sweep allows and fails the run above it.

use std::path::{Path, PathBuf};

use screener_analytics::ScreenSet;
use screener_backtest::sweep::SweepSummary;
use screener_backtest::{Settings, backtest_file};
use screener_core::backtest::{SweepPlan, SweepRequest};

use crate::analytics_cli::{assert_exit, screener, write_bars_csv};

pub(crate) const SWEEP: &str = r#"
name = "test sweep"
bars = "uploads/bars.csv"
start = "2023-09-01"
end = "2024-11-29"
every = [5]
cost_bps = [10]
horizons = [1, 5]
walk_forward = 2
rank_by = "sharpe"
tolerated_failure_percent = 5
items_per_batch = 2

[[screen]]
name = "momentum"
conditions = ["close > sma_50", "rsi_14 < 70"]
sort = { metric = "ret_21d", direction = "desc" }
limit = 5

[[screen]]
name = "cheap"
conditions = ["rsi_14 < 50"]
sort = { metric = "rsi_14" }
limit = 4

[[grid]]
screen = "momentum"
metric = "rsi_14"
values = [50, 60, 70]

[[grid]]
screen = "cheap"
metric = "rsi_14"
values = [40, 50, 60]
"#;

/// A screen no engine can run: the plan accepts it (its grid is not on it), each of its
/// items fails in the shard with `Backtest.Failed`.
const BROKEN: &str = r#"
[[screen]]
name = "broken"
conditions = ["no_such_metric < 5"]
sort = { metric = "close" }
"#;

pub(crate) fn market(dir: &Path, sweep: &str) {
    write_bars_csv(&dir.join("bars.csv"), 30, 500);
    std::fs::write(dir.join("sweep.toml"), sweep).unwrap();
}

/// The one sweep directory under `store/backtests/`.
fn sweep_dir(store: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(store.join("backtests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn run_sweep(dir: &Path) -> std::process::Output {
    screener(
        dir,
        &[
            "backtest",
            "--sweep",
            "sweep.toml",
            "--bars",
            "bars.csv",
            "--store",
            "store",
        ],
    )
}

#[test]
fn a_sweep_leaves_its_files_and_ranks_with_the_engines_own_numbers() {
    let dir = tempfile::tempdir().unwrap();
    market(dir.path(), SWEEP);
    let output = run_sweep(dir.path());
    assert_exit(&output, 0, "screener backtest --sweep");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("6 variants x 4 periods = 24 items"),
        "{stderr}"
    );
    assert!(stderr.contains("batch 12/12 done"), "{stderr}");
    assert!(
        stdout.contains("6 variants ranked by mean out-of-sample sharpe; 0 of 24 items failed"),
        "{stdout}"
    );
    assert!(stdout.contains("report: "), "{stdout}");

    let out = sweep_dir(&dir.path().join("store"));
    for f in [
        "summary.json",
        "ranking.csv",
        "equity.csv",
        "report.html",
        "plan.json",
        "items.jsonl",
    ] {
        assert!(out.join(f).is_file(), "{f} in {}", out.display());
    }
    assert_eq!(
        std::fs::read_to_string(out.join("items.jsonl"))
            .unwrap()
            .lines()
            .count(),
        24
    );
    let summary: SweepSummary =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let plan: SweepPlan =
        serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap();
    assert_eq!(summary.ranking.len(), 6);
    assert!(summary.failed.is_empty());
    assert_eq!(summary.windows.len(), 2);

    // Every variant over every period, alone through the engine: the same numbers.
    let bars = dir.path().join("bars.csv");
    for ranked in &summary.ranking {
        let v = &ranked.variant;
        let screens = ScreenSet::parse_toml(&v.spec.to_toml()).unwrap();
        let mut expected_oos = Vec::new();
        for w in 1..=2 {
            for (phase, got) in [
                (
                    screener_core::backtest::Phase::InSample,
                    &ranked.in_sample[w - 1],
                ),
                (
                    screener_core::backtest::Phase::OutOfSample,
                    &ranked.out_of_sample[w - 1],
                ),
            ] {
                let p = plan
                    .periods
                    .iter()
                    .find(|p| p.window == w && p.phase == phase)
                    .unwrap();
                let settings = Settings {
                    start: p.start,
                    end: Some(p.end),
                    every: v.every,
                    cost_bps: v.cost_bps,
                    horizons: vec![1, 5],
                };
                let alone = backtest_file(&bars, &screens, &settings).unwrap();
                let sharpe = alone.screens[0].metrics.sharpe;
                assert_eq!(
                    got.value.map(f64::to_bits),
                    sharpe.map(f64::to_bits),
                    "{} window {w} {phase:?}",
                    v.id
                );
                if phase == screener_core::backtest::Phase::OutOfSample {
                    expected_oos.push(sharpe);
                }
            }
        }
        let mean = expected_oos
            .iter()
            .copied()
            .collect::<Option<Vec<f64>>>()
            .map(|v| v.iter().sum::<f64>() / v.len() as f64);
        assert_eq!(
            ranked.score.map(f64::to_bits),
            mean.map(f64::to_bits),
            "{}",
            v.id
        );
    }
    // Best first.
    let scores: Vec<f64> = summary.ranking.iter().filter_map(|r| r.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(summary.ranking[0].rank, Some(1));

    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    for needle in [
        "id=\"ranking\"",
        "id=\"walk-forward\"",
        "id=\"by-variant\"",
        "<svg",
        "data-variant=\"v001\"",
    ] {
        assert!(report.contains(needle), "report.html lacks {needle}");
    }
    let equity = std::fs::read_to_string(out.join("equity.csv")).unwrap();
    assert!(
        equity.starts_with("date,v001,v002,v003,v004,v005,v006,benchmark\n"),
        "{}",
        &equity[..80.min(equity.len())]
    );
}

fn with_broken(tolerated: f64) -> String {
    let request = SWEEP
        .replace(
            "tolerated_failure_percent = 5",
            &format!("tolerated_failure_percent = {tolerated}"),
        )
        .replace("items_per_batch = 2", "items_per_batch = 1");
    format!("{request}{BROKEN}")
}

#[test]
fn failed_items_under_the_tolerated_share_are_reported_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    market(dir.path(), &with_broken(20.0));
    let output = run_sweep(dir.path());
    assert_exit(
        &output,
        0,
        "a sweep with 4 of 28 items failing, 20% tolerated",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("4 of 28 items failed"), "{stdout}");
    let out = sweep_dir(&dir.path().join("store"));
    let summary: SweepSummary =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.failed.len(), 4);
    for f in &summary.failed {
        assert_eq!(f.variant, "v007");
        assert_eq!(f.error.as_deref(), Some("Backtest.Failed"), "{f:?}");
        assert!(
            f.cause.as_deref().unwrap_or("").contains("no_such_metric"),
            "{f:?}"
        );
    }
    let broken = summary
        .ranking
        .iter()
        .find(|r| r.variant.id == "v007")
        .unwrap();
    assert_eq!(broken.rank, None);
    assert_eq!(broken.failed_items, 4);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("id=\"failed\""));
}

#[test]
fn failed_items_over_the_tolerated_share_fail_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    market(dir.path(), &with_broken(10.0));
    let output = run_sweep(dir.path());
    assert_exit(
        &output,
        1,
        "a sweep with 4 of 28 items failing, 10% tolerated",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("States.ExceedToleratedFailureThreshold"),
        "{stderr}"
    );
    assert!(stderr.contains("Backtest.Failed"), "{stderr}");
}

#[test]
fn a_sweep_that_cannot_be_planned_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    market(
        dir.path(),
        &SWEEP.replace(
            "screen = \"cheap\"\nmetric = \"rsi_14\"",
            "screen = \"cheap\"\nmetric = \"sma_50\"",
        ),
    );
    let output = run_sweep(dir.path());
    assert_exit(
        &output,
        1,
        "a grid axis on a threshold the screen does not have",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("screen `cheap` has no condition comparing `sma_50` with a number"),
        "{stderr}"
    );
    assert!(!dir.path().join("store/backtests").exists());
}

#[test]
fn the_example_sweep_file_parses_and_plans() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/backtest-sweep.toml"),
    )
    .unwrap();
    let request: SweepRequest = toml::from_str(&text).unwrap();
    let plan = request.plan("example").unwrap();
    assert_eq!(plan.variants.len(), 6);
    assert_eq!(plan.items.len(), 24);
}
