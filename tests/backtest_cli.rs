//! `screener backtest` through the built binary: what a user runs.
//!
//! The files the binary writes are the library's result, byte for byte; the closing table shows
//! the numbers of `summary.json`; `--source csv:PATH` backtests exactly what `--bars PATH` does;
//! `--source synthetic` writes under the store by default; `--source alpaca` reads through the
//! bar history the daily run keeps in the store (the loopback Alpaca server stands in); and bad
//! input is refused before any work, naming the problem, with nothing written.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use screener_alpaca::clock::SystemClock;
use screener_alpaca::testing::{FakeAlpaca, FakeMarket, FakeOptions, KEY_ID, SECRET_KEY};
use screener_analytics::ScreenSet;
use screener_backtest::{Settings, backtest_file, summary_json};

use crate::analytics_cli::{assert_exit, screener, write_bars_csv};

const SCREENS: &str = r#"
[[screen]]
name = "momentum"
conditions = ["close > sma_50"]
sort = { metric = "ret_63d", direction = "desc" }
limit = 5

[[screen]]
name = "cheap"
conditions = ["rsi_14 < 50"]
sort = { metric = "rsi_14" }
limit = 3
"#;

/// 24 symbols over 420 weekdays from 2023-01-02, and the screens above.
fn market(dir: &Path) {
    write_bars_csv(&dir.join("bars.csv"), 24, 420);
    std::fs::write(dir.join("screens.toml"), SCREENS).unwrap();
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const FLAGS: [&str; 8] = [
    "--screens",
    "screens.toml",
    "--start",
    "2024-01-02",
    "--every",
    "5",
    "--horizons",
    "1,5,21",
];

#[test]
fn a_backtest_over_a_file_writes_the_librarys_result_and_tables_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    market(dir.path());
    let mut args = vec!["backtest", "--bars", "bars.csv", "--out", "bt"];
    args.extend(FLAGS);
    let output = screener(dir.path(), &args);
    assert_exit(&output, 0, "screener backtest --bars");

    let screens = ScreenSet::parse_toml(SCREENS).unwrap();
    let mut settings = Settings::new("2024-01-02".parse().unwrap());
    settings.horizons = vec![1, 5, 21];
    let expected = backtest_file(&dir.path().join("bars.csv"), &screens, &settings).unwrap();
    let out = dir.path().join("bt");
    assert_eq!(read(&out.join("summary.json")), summary_json(&expected));

    let selections = read(&out.join("selections.csv"));
    let mut lines = selections.lines();
    assert_eq!(lines.next(), Some("date,screen,rank,symbol"));
    let rows: Vec<&str> = lines.collect();
    let picked: usize = expected
        .screens
        .iter()
        .flat_map(|p| &p.selections)
        .map(Vec::len)
        .sum();
    assert_eq!(rows.len(), picked, "one row per selected symbol and date");
    let equity = read(&out.join("equity.csv"));
    assert!(
        equity.starts_with("date,momentum,cheap,benchmark\n"),
        "{equity}"
    );
    let report = read(&out.join("report.html"));
    assert!(report.contains("<svg"), "report.html has its charts");

    // The table: a row per screen and the benchmark, with summary.json's numbers.
    let table = stdout(&output);
    for portfolio in expected.portfolios() {
        let m = &portfolio.metrics;
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(portfolio.name.as_str()))
            .unwrap_or_else(|| panic!("no row for {} in\n{table}", portfolio.name));
        let cells: Vec<&str> = row.split_whitespace().collect();
        let total = format!("{:.1}%", m.total_return.unwrap() * 100.0);
        let sharpe = format!("{:.2}", m.sharpe.unwrap());
        assert_eq!(cells[1], total, "{row}");
        assert_eq!(cells[4], sharpe, "{row}");
    }
    for file in [
        "summary.json",
        "equity.csv",
        "selections.csv",
        "report.html",
    ] {
        assert!(
            table.contains(&format!("bt/{file}")),
            "lists {file}:\n{table}"
        );
    }
    // Progress per phase on stderr.
    let progress = stderr(&output);
    for phase in ["read bars", "indicators", "simulation", "factor analysis"] {
        assert!(progress.contains(phase), "{phase} in\n{progress}");
    }
}

#[test]
fn source_csv_backtests_exactly_what_the_same_file_as_bars_does() {
    let dir = tempfile::tempdir().unwrap();
    market(dir.path());
    let mut from_file = vec!["backtest", "--bars", "bars.csv", "--out", "file"];
    from_file.extend(FLAGS);
    assert_exit(&screener(dir.path(), &from_file), 0, "--bars");
    let mut from_source = vec!["backtest", "--source", "csv:bars.csv", "--out", "source"];
    from_source.extend(FLAGS);
    let output = screener(dir.path(), &from_source);
    assert_exit(&output, 0, "--source csv:");
    assert!(
        stderr(&output).contains("reading 24 symbols"),
        "{}",
        stderr(&output)
    );
    for file in ["summary.json", "equity.csv", "selections.csv"] {
        assert_eq!(
            read(&dir.path().join("source").join(file)),
            read(&dir.path().join("file").join(file)),
            "{file}"
        );
    }
}

#[test]
fn source_synthetic_writes_under_the_store_when_no_out_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "backtest",
        "--source",
        "synthetic",
        "--symbols",
        "60",
        "--start",
        "2025-06-02",
        "--end",
        "2026-06-01",
        "--store",
        "store",
    ];
    let output = screener(dir.path(), &args);
    assert_exit(&output, 0, "--source synthetic");
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("store/backtests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&read(&runs[0].join("summary.json"))).unwrap();
    assert_eq!(summary["calendar"]["last_session"], "2026-06-01");
    assert_eq!(summary["calendar"]["n_symbols"], 60);
    assert!(runs[0].join("report.html").exists());
    // The same run twice gives the same numbers: the synthetic market is deterministic.
    let again = screener(dir.path(), &[&args[..9], &["--out", "again"]].concat());
    assert_exit(&again, 0, "again");
    assert_eq!(
        read(&dir.path().join("again/summary.json")),
        read(&runs[0].join("summary.json"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_alpaca_reads_through_the_history_in_the_store_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let last_day: chrono::NaiveDate = "2025-06-13".parse().unwrap();
    let market = FakeMarket::generate(40, 7, last_day);
    let options = FakeOptions {
        rate_limit: None,
        ..FakeOptions::default()
    };
    let fake = FakeAlpaca::start(market, options, Arc::new(SystemClock)).await;
    let url = fake.url();
    let run = |out: &'static str| {
        let dir = dir.path().to_path_buf();
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_screener"))
                .args([
                    "backtest",
                    "--source",
                    "alpaca",
                    "--store",
                    "store",
                    "--start",
                    "2025-01-02",
                    "--end",
                    "2025-06-13",
                    "--horizons",
                    "1,5",
                    "--out",
                    out,
                ])
                .current_dir(&dir)
                .env_remove("SCREENER_STORE")
                .env_remove("SCREENER_SCREENS_FILE")
                .env_remove("AWS_LAMBDA_FUNCTION_NAME")
                .env("SCREENER_SECRETS", "env")
                .env("ALPACA_DATA_URL", &url)
                .env("ALPACA_TRADING_URL", &url)
                .env("ALPACA_API_KEY_ID", KEY_ID)
                .env("ALPACA_API_SECRET_KEY", SECRET_KEY)
                .output()
                .unwrap()
        })
    };
    let first = run("first").await.unwrap();
    assert_exit(&first, 0, "--source alpaca, first");
    let backfill = fake.stats().requests;
    let history: Vec<_> = std::fs::read_dir(dir.path().join("store/history"))
        .expect("the history is kept in the store")
        .collect();
    assert!(!history.is_empty());

    fake.reset_stats();
    let second = run("second").await.unwrap();
    assert_exit(&second, 0, "--source alpaca, second");
    let incremental = fake.stats().requests;
    assert!(
        incremental < backfill,
        "the second backtest reads the stored history: {incremental} requests after {backfill}"
    );
    assert_eq!(
        read(&dir.path().join("second/summary.json")),
        read(&dir.path().join("first/summary.json"))
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("first/summary.json"))).unwrap();
    assert_eq!(summary["calendar"]["last_session"], "2025-06-13");
}

#[test]
fn bad_input_is_refused_before_any_work_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    market(dir.path());
    std::fs::write(
        dir.path().join("unknown.toml"),
        "[[screen]]\nname = \"x\"\nconditions = [\"pe_ratio < 10\"]\nsort = { metric = \"close\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("benchmark.toml"),
        "[[screen]]\nname = \"benchmark\"\nconditions = [\"close > 1\"]\nsort = { metric = \"close\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("no_volume.csv"),
        "symbol,date,open,high,low,close\nAAA,2024-01-02,1,1,1,1\n",
    )
    .unwrap();
    let cases: [(&[&str], i32, &[&str]); 8] = [
        (&["--start", "2024-01-02"], 2, &["--bars", "--source"]),
        (
            &[
                "--bars",
                "bars.csv",
                "--source",
                "synthetic",
                "--start",
                "2024-01-02",
            ],
            2,
            &["cannot be used with"],
        ),
        (
            &[
                "--bars",
                "bars.csv",
                "--start",
                "2024-06-03",
                "--end",
                "2024-01-02",
            ],
            2,
            &["end 2024-01-02 is before start 2024-06-03"],
        ),
        (
            &[
                "--bars",
                "bars.csv",
                "--start",
                "2024-01-02",
                "--screens",
                "unknown.toml",
            ],
            1,
            &["unknown metric `pe_ratio`", "valid metrics"],
        ),
        (
            &[
                "--bars",
                "bars.csv",
                "--start",
                "2024-01-02",
                "--screens",
                "benchmark.toml",
            ],
            1,
            &["`benchmark` is reserved"],
        ),
        (
            &["--bars", "bars.csv", "--start", "2030-01-02"],
            1,
            &["no session in range", "2030-01-02"],
        ),
        (
            &["--bars", "no_volume.csv", "--start", "2024-01-02"],
            1,
            &["no_volume.csv", "`volume`"],
        ),
        (
            &[
                "--bars",
                "bars.csv",
                "--start",
                "2024-01-02",
                "--horizons",
                "5,1",
            ],
            2,
            &["--horizons", "ascending"],
        ),
    ];
    for (flags, code, needles) in cases {
        let args: Vec<&str> = ["backtest", "--out", "refused"]
            .into_iter()
            .chain(flags.iter().copied())
            .collect();
        let output = screener(dir.path(), &args);
        assert_exit(&output, code, &args.join(" "));
        let message = stderr(&output);
        for needle in needles {
            assert!(
                message.contains(needle),
                "{args:?}: {needle:?} in\n{message}"
            );
        }
        assert!(
            !dir.path().join("refused").exists(),
            "{args:?} wrote files although it was refused"
        );
    }
    // Without --out, a refused backtest claims no directory under the store either.
    let output = screener(
        dir.path(),
        &[
            "backtest",
            "--bars",
            "bars.csv",
            "--start",
            "2030-01-02",
            "--store",
            "store",
        ],
    );
    assert_exit(&output, 1, "no session in range, default --out");
    assert!(!dir.path().join("store/backtests").exists());
}
