//! `screener indicators` and `screener screen` through the built binary: what a user runs.
//!
//! The indicator values are checked against TA-Lib on real prices (when `SCREENER_PYTHON` names
//! a Python with TA-Lib, as `./scripts/test` sets up) and, for every column, against the
//! library the binary wraps; the screens' `pass_*`/`rank_*` columns against the conditions in
//! the screens file; and each kind of bad input against its message and exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use screener_analytics::polars::prelude::*;
use screener_analytics::{INDICATOR_NAMES, ScreenSet, compute_indicators, read_bars, write_frame};

/// Runs the built `screener` binary in `dir` with `args`.
pub fn screener(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_screener"))
        .args(args)
        .current_dir(dir)
        .env_remove("SCREENER_STORE")
        .env_remove("SCREENER_SOURCE")
        .env_remove("SCREENER_SCREENS_FILE")
        .output()
        .expect("the screener binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the command exited with `code`, showing its output otherwise.
pub fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

pub use screener_test_support::bars::write_bars_csv;

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

fn read_any(path: &Path) -> DataFrame {
    if path.extension().is_some_and(|e| e == "parquet") {
        let file = std::fs::File::open(path).unwrap();
        let df = ParquetReader::new(file).finish().unwrap();
        // Compare as text, exactly as the CSV path does.
        let columns: Vec<Column> = df
            .columns()
            .iter()
            .map(|c| c.cast(&DataType::String).unwrap())
            .collect();
        DataFrame::new(df.height(), columns).unwrap()
    } else {
        read_csv(path)
    }
}

/// A column as optional floats (empty cells are nulls).
fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let column = df
        .column(name)
        .unwrap_or_else(|_| panic!("column {name} is missing"));
    let column = column.cast(&DataType::String).unwrap();
    column
        .str()
        .unwrap()
        .iter()
        .map(|v| match v {
            None | Some("") => None,
            Some(v) => Some(
                v.parse::<f64>()
                    .unwrap_or_else(|e| panic!("{name}: {v}: {e}")),
            ),
        })
        .collect()
}

fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    let column = df.column(name).unwrap().cast(&DataType::String).unwrap();
    column
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// Every indicator column the binary wrote equals the library's value for that row, exactly.
fn assert_same_indicators(written: &DataFrame, bars_path: &Path) {
    let mut expected = compute_indicators(read_bars(bars_path).unwrap()).unwrap();
    let expected_csv = bars_path.with_extension("expected.csv");
    write_frame(&mut expected, &expected_csv).unwrap();
    let expected = read_csv(&expected_csv);
    assert_eq!(written.height(), expected.height());
    assert_eq!(strings(written, "symbol"), strings(&expected, "symbol"));
    assert_eq!(strings(written, "date"), strings(&expected, "date"));
    for name in INDICATOR_NAMES {
        assert_eq!(
            floats(written, name),
            floats(&expected, name),
            "indicator column {name}"
        );
    }
}

#[test]
fn indicators_writes_every_indicator_column_in_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    write_bars_csv(&dir.path().join("bars.csv"), 4, 320);
    let output = screener(
        dir.path(),
        &["indicators", "--bars", "bars.csv", "--out", "ind.csv"],
    );
    assert_exit(&output, 0, "indicators to CSV");
    assert!(text(&output.stderr).contains("wrote 25 indicators for 1240 bars"));
    let written = read_csv(&dir.path().join("ind.csv"));
    for name in INDICATOR_NAMES {
        assert!(
            floats(&written, name).iter().any(Option::is_some),
            "{name} has no value at all"
        );
    }
    assert_same_indicators(&written, &dir.path().join("bars.csv"));

    // Parquet in (written from the same bars) and Parquet out: the same numbers.
    let mut bars = read_bars(&dir.path().join("bars.csv")).unwrap();
    write_frame(&mut bars, &dir.path().join("bars.parquet")).unwrap();
    let output = screener(
        dir.path(),
        &[
            "indicators",
            "--bars",
            "bars.parquet",
            "--out",
            "ind.parquet",
        ],
    );
    assert_exit(&output, 0, "indicators Parquet to Parquet");
    let from_parquet = read_any(&dir.path().join("ind.parquet"));
    for name in INDICATOR_NAMES {
        assert_eq!(
            floats(&from_parquet, name),
            floats(&written, name),
            "{name}: Parquet and CSV differ"
        );
    }

    // A gzipped CSV reads as the plain one.
    let plain = std::fs::read(dir.path().join("bars.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    std::fs::write(dir.path().join("bars.csv.gz"), gz.finish().unwrap()).unwrap();
    let output = screener(
        dir.path(),
        &["indicators", "--bars", "bars.csv.gz", "--out", "gz.csv"],
    );
    assert_exit(&output, 0, "indicators from .csv.gz");
    assert_eq!(
        std::fs::read(dir.path().join("gz.csv")).unwrap(),
        std::fs::read(dir.path().join("ind.csv")).unwrap()
    );
}

fn talib_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/talib/reference.py")
}

#[test]
fn indicators_from_the_binary_equal_ta_lib_on_real_prices() {
    let Some(python) = std::env::var_os("SCREENER_PYTHON") else {
        eprintln!(
            "SKIPPED: SCREENER_PYTHON is not set (./scripts/test sets it to a venv with TA-Lib); \
             the binary's indicators were not compared with TA-Lib"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(&python)
        .arg(talib_script())
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "reference.py: {status}");
    let output = screener(
        dir.path(),
        &["indicators", "--bars", "bars.csv", "--out", "ind.csv"],
    );
    assert_exit(&output, 0, "indicators on real prices");
    let ours = read_csv(&dir.path().join("ind.csv"));
    let reference = read_csv(&dir.path().join("reference.csv"));
    assert_eq!(strings(&ours, "symbol"), strings(&reference, "symbol"));
    assert_eq!(strings(&ours, "date"), strings(&reference, "date"));
    let mut compared = 0;
    for name in [
        "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "rsi_14", "atr_14", "high_52w",
        "low_52w",
    ] {
        for (row, (t, m)) in floats(&reference, name)
            .into_iter()
            .zip(floats(&ours, name))
            .enumerate()
        {
            match (t, m) {
                (None, None) => {}
                (Some(t), Some(m)) => {
                    assert!(
                        (m - t).abs() <= 1e-9 * t.abs().max(1e-300),
                        "{name} row {row}: ours {m}, TA-Lib {t}"
                    );
                    compared += 1;
                }
                (t, m) => panic!("{name} row {row}: ours {m:?}, TA-Lib {t:?}"),
            }
        }
    }
    assert!(compared > 100_000, "compared only {compared} values");
    // And every other column is the library's.
    assert_same_indicators(&ours, &dir.path().join("bars.csv"));
}

const SCREENS: &str = r#"
[[screen]]
name = "above_sma_50"
description = "close above its 50-day average"
conditions = ["close > sma_50"]
sort = { metric = "rsi_14", direction = "desc" }
limit = 3

[[screen]]
name = "cheap"
description = "close under 60"
conditions = ["close < 60"]
sort = { metric = "close", direction = "asc" }
"#;

#[test]
fn screen_writes_pass_and_rank_columns_per_screen_as_of_a_date() {
    let dir = tempfile::tempdir().unwrap();
    write_bars_csv(&dir.path().join("bars.csv"), 6, 300);
    std::fs::write(dir.path().join("my_screens.toml"), SCREENS).unwrap();
    let output = screener(
        dir.path(),
        &[
            "screen",
            "--bars",
            "bars.csv",
            "--screens",
            "my_screens.toml",
            "--date",
            "2023-12-01",
            "--out",
            "screen.csv",
        ],
    );
    assert_exit(&output, 0, "screen with --screens and --date");
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("6 symbols screened as of 2023-12-01"),
        "{stdout}"
    );
    let results = read_csv(&dir.path().join("screen.csv"));
    assert_eq!(results.height(), 6);
    // --date: every row is the symbol's bar on 2023-12-01 (a Friday; every symbol has one).
    let dates = strings(&results, "date");
    assert!(
        dates.iter().all(|d| d.as_deref() == Some("2023-12-01")),
        "{dates:?}"
    );

    let close = floats(&results, "close");
    let sma_50 = floats(&results, "sma_50");
    let rsi = floats(&results, "rsi_14");
    let pass = strings(&results, "pass_above_sma_50");
    let rank = floats(&results, "rank_above_sma_50");
    let mut passing: Vec<(f64, usize)> = Vec::new();
    for i in 0..results.height() {
        let should = matches!((close[i], sma_50[i]), (Some(c), Some(s)) if c > s);
        assert_eq!(
            pass[i].as_deref(),
            Some(if should { "true" } else { "false" })
        );
        if should {
            passing.push((rsi[i].unwrap(), i));
        } else {
            assert_eq!(rank[i], None, "a non-passing row has no rank");
        }
    }
    passing.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (position, (_, i)) in passing.iter().enumerate() {
        assert_eq!(rank[*i], Some(position as f64 + 1.0), "rank by rsi_14 desc");
    }
    let cheap_pass = strings(&results, "pass_cheap");
    for i in 0..results.height() {
        let should = close[i].unwrap() < 60.0;
        assert_eq!(
            cheap_pass[i].as_deref(),
            Some(if should { "true" } else { "false" })
        );
    }
    assert!(stdout.contains("above_sma_50"), "{stdout}");

    // Without --screens: the built-in screens' columns; Parquet out.
    let output = screener(
        dir.path(),
        &["screen", "--bars", "bars.csv", "--out", "screen.parquet"],
    );
    assert_exit(&output, 0, "screen with the default screens to Parquet");
    let results = read_any(&dir.path().join("screen.parquet"));
    for name in ScreenSet::default_screens().names() {
        assert!(
            results.column(&format!("pass_{name}")).is_ok(),
            "pass_{name}"
        );
        assert!(
            results.column(&format!("rank_{name}")).is_ok(),
            "rank_{name}"
        );
    }
    // Without --date: each symbol's last bar (the 300th weekday from 2023-01-02).
    let last_dates = strings(&results, "date");
    assert!(
        last_dates
            .iter()
            .all(|d| d.as_deref() == Some("2024-02-23")),
        "{last_dates:?}"
    );
}

/// Bad input: the message names the file, the row or column and the problem; 1 for a file's
/// content, 2 for how the command was called.
#[test]
fn bad_input_is_refused_with_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
    write(
        "no_volume.csv",
        "symbol,date,open,high,low,close\nAAA,2024-01-02,1,1,1,1\n",
    );
    write(
        "bad_date.csv",
        "symbol,date,open,high,low,close,volume\nAAA,2024-01-02,1,1,1,1,10\nAAA,02/01/2024,1,1,1,1,10\n",
    );
    write(
        "text_price.csv",
        "symbol,date,open,high,low,close,volume\nAAA,2024-01-02,1,1,1,1,10\nAAA,2024-01-03,1,abc,1,1,10\n",
    );
    write(
        "good.csv",
        "symbol,date,open,high,low,close,volume\nAAA,2024-01-02,1,1,1,1,10\n",
    );
    write(
        "bad_screens.toml",
        "[[screen]]\nname = \"x\"\ndescription = \"typo\"\nconditions = [\"closee > 1\"]\nsort = { metric = \"close\", direction = \"asc\" }\n",
    );

    let cases: [(&[&str], i32, &[&str]); 7] = [
        (
            &["indicators", "--bars", "no_volume.csv", "--out", "o.csv"],
            1,
            &["no_volume.csv", "missing required column `volume`"],
        ),
        (
            &["indicators", "--bars", "bad_date.csv", "--out", "o.csv"],
            1,
            &[
                "bad_date.csv",
                "row 2",
                "line 3",
                "column `date`",
                "02/01/2024",
            ],
        ),
        (
            &["screen", "--bars", "text_price.csv", "--out", "o.csv"],
            1,
            &["text_price.csv", "row 2", "column `high`", "abc"],
        ),
        (
            &["indicators", "--bars", "good.csv", "--out", "o.xlsx"],
            2,
            &["o.xlsx", "unsupported output file type"],
        ),
        (
            &[
                "screen",
                "--bars",
                "good.csv",
                "--screens",
                "bad_screens.toml",
                "--out",
                "o.csv",
            ],
            1,
            &[
                "bad_screens.toml",
                "unknown metric `closee`",
                "did you mean `close`",
            ],
        ),
        (
            &["indicators", "--bars", "missing.csv", "--out", "o.csv"],
            2,
            &["missing.csv", "cannot read"],
        ),
        (
            &[
                "screen",
                "--bars",
                "good.csv",
                "--date",
                "2024-13-01",
                "--out",
                "o.csv",
            ],
            2,
            &["--date", "2024-13-01"],
        ),
    ];
    for (args, code, needles) in cases {
        let output = screener(dir.path(), args);
        assert_exit(&output, code, &args.join(" "));
        let stderr = text(&output.stderr);
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{}: expected {needle:?} in:\n{stderr}",
                args.join(" ")
            );
        }
        assert!(
            !dir.path().join("o.csv").exists(),
            "nothing is written on bad input"
        );
    }
}
