//! Whole-process benchmark of `screener backtest`'s work: bars file in, the backtest of the
//! default screens, `summary.json`, `equity.csv` and `selections.csv` out; printed per phase
//! (read, indicators, signals, simulation, factor analysis, write).
//!
//! * W1: the S&P 500 file (`SCREENER_SP500_CSV`, else `../shared/data/sp500_5yr.csv.gz`),
//!   505 symbols x 1,259 sessions, from 2014-01-01, every 5, 10 bps, horizons 1/5/21/63.
//!   Goal: under 0.5 s.
//! * W2: 5,000 synthetic symbols x 2,520 sessions (12.6 M bars, random walks on weekdays),
//!   one Parquet file sorted by symbol and date, uncompressed as the store holds bars
//!   (validate's writer; `--zstd` for polars' default zstd instead), from the 253rd session,
//!   same settings. Goal: under 3 s and under 1 GiB peak resident memory.
//!
//! `cargo bench -p screener-backtest --bench backtest` (release; without `--bench backtest`,
//! options after `--` also reach the library's test harness, which refuses them). Each run is
//! a fresh child process (this binary re-executed), so its time and peak memory (VmHWM) are
//! the whole process's.
//! Options after `--`: `--runs N` (default 3), `--only w1|w2`, `--data-dir DIR` to keep the
//! generated W2 file, `--zstd`, `--python PY` to also time the Python reference stack on W1
//! (`tests/reference/backtest_reference.py`, vectorbt + alphalens + empyrical) in a child.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use screener_analytics::polars::prelude::*;
use screener_analytics::{ScreenSet, write_parquet};
use screener_backtest::{Settings, backtest_file, write_outputs};
use screener_test_support::bars::RandomWalk;
use screener_test_support::process::{cpu_seconds, peak_kb};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1], Path::new(&args[2]), &args[3]);
        return;
    }
    let runs: usize = flag(&args, "--runs").map_or(3, |v| v.parse().expect("--runs N"));
    let only = flag(&args, "--only");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = flag(&args, "--data-dir").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    println!(
        "backtest benchmark: {} cores, {runs} runs per workload, each a fresh process",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    if only.as_deref().is_none_or(|o| o == "w1") {
        let sp500 = std::env::var_os("SCREENER_SP500_CSV").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sp500_5yr.csv.gz"),
            PathBuf::from,
        );
        if sp500.exists() {
            report(
                "W1: S&P 500 file, 505 symbols x 1,259 sessions (619,029 bars), from 2014-01-01",
                &sp500,
                "2014-01-01",
                runs,
                0.5,
            );
            if let Some(python) = flag(&args, "--python") {
                python_stack(&python, &sp500);
            }
        } else {
            println!(
                "\nW1 SKIPPED: {} not found (set SCREENER_SP500_CSV)",
                sp500.display()
            );
        }
    }
    if only.as_deref().is_none_or(|o| o == "w2") {
        let zstd = args.iter().any(|a| a == "--zstd");
        let path = dir.join(if zstd {
            "w2_5000x2520_zstd.parquet"
        } else {
            "w2_5000x2520.parquet"
        });
        let t = Instant::now();
        let start = write_synthetic(&path, 5000, 2520, zstd);
        let mb = std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / 1e6;
        println!(
            "\n(W2 data: Parquet {}, {mb:.0} MB, generated in {:.1} s, not timed)",
            if zstd { "zstd" } else { "uncompressed" },
            t.elapsed().as_secs_f64()
        );
        report(
            "W2: 5,000 synthetic symbols x 2,520 sessions (12.6 M bars), from the 253rd session",
            &path,
            &start,
            runs,
            3.0,
        );
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

struct Run {
    total: f64,
    peak_mib: f64,
    cpu: f64,
    phases: Vec<(String, f64)>,
    facts: String,
}

fn report(title: &str, path: &Path, start: &str, runs: usize, goal: f64) {
    println!("\n{title}");
    let mut results: Vec<Run> = (0..runs).map(|_| run_child(path, start)).collect();
    results.sort_by(|a, b| a.total.total_cmp(&b.total));
    let best = &results[0];
    let median = &results[results.len() / 2];
    let peak = results.iter().map(|r| r.peak_mib).fold(0.0, f64::max);
    println!(
        "  wall best {:.3} s, median {:.3} s (goal {goal} s: {}); CPU {:.2} s; peak memory {:.0} MiB",
        best.total,
        median.total,
        if median.total < goal { "met" } else { "missed" },
        best.cpu,
        peak
    );
    let phases: Vec<String> = best
        .phases
        .iter()
        .map(|(n, s)| format!("{n} {s:.3}"))
        .collect();
    println!("  phases (best run, s): {}", phases.join(", "));
    println!("  {}", best.facts);
}

fn run_child(path: &Path, start: &str) -> Run {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--child", start])
        .arg(path)
        .arg(std::env::temp_dir())
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let line = |prefix: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("child output lacks {prefix}: {text}"))
            .to_string()
    };
    let phases = line("phases: ")
        .split("; ")
        .map(|p| {
            let (n, s) = p.rsplit_once(' ').expect("name seconds");
            (n.to_string(), s.parse().expect("seconds"))
        })
        .collect();
    Run {
        total: line("total: ").parse().expect("total"),
        peak_mib: line("peak_kb: ").parse::<f64>().expect("peak") / 1024.0,
        cpu: line("cpu: ").parse().expect("cpu"),
        phases,
        facts: line("facts: "),
    }
}

/// One measured run: the whole backtest as the CLI does it, then its files.
fn child(start: &str, path: &Path, tmp: &str) {
    let t0 = Instant::now();
    let settings = Settings::new(start.parse().expect("start date"));
    let screens = ScreenSet::default_screens();
    let result = backtest_file(path, &screens, &settings).expect("backtest");
    let computed = Instant::now();
    let out = tempfile::tempdir_in(tmp).expect("out dir");
    write_outputs(&result, out.path()).expect("write");
    let done = Instant::now();
    let mut phases: Vec<String> = result
        .phases
        .iter()
        .map(|(n, d)| format!("{n} {:.4}", d.as_secs_f64()))
        .collect();
    phases.push(format!("write {:.4}", (done - computed).as_secs_f64()));
    println!("phases: {}", phases.join("; "));
    println!("total: {}", (done - t0).as_secs_f64());
    println!("peak_kb: {}", peak_kb());
    println!("cpu: {}", cpu_seconds());
    let fills = result.calendar.n_fills;
    let orders: usize = result.portfolios().map(|p| p.metrics.n_orders).sum();
    println!(
        "facts: {} symbols, {} sessions from t0 = {}, {} rebalance dates ({fills} fills), {orders} orders over {} portfolios",
        result.calendar.n_symbols,
        result.calendar.n_returns + 1,
        result.calendar.t0,
        result.calendar.n_rebalance_dates,
        result.screens.len() + 1
    );
}

/// Times the Python reference stack on W1 (imports, reading, screening, vectorbt,
/// empyrical, alphalens), given the indicator matrix it reads (not timed: in the Python
/// stack the indicators are TA-Lib's, here they come from compute_indicators).
fn python_stack(python: &str, sp500: &Path) {
    let dir = tempfile::tempdir().expect("dir");
    let signals = dir.path().join("signals.csv");
    let bars = screener_analytics::read_bars(sp500).expect("bars");
    let mut all = screener_analytics::compute_indicators(bars).expect("indicators");
    std::fs::write(
        &signals,
        screener_analytics::write_csv(&mut all).expect("csv"),
    )
    .expect("w");
    let screens = dir.path().join("screens.toml");
    std::fs::write(&screens, screener_analytics::DEFAULT_SCREENS_TOML).expect("w");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/backtest_reference.py");
    let out = dir.path().join("out.json");
    let t = Instant::now();
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("peak_kb: %M")
        .arg(python)
        .arg(script)
        .arg("--bars")
        .arg(sp500)
        .arg("--signals")
        .arg(&signals)
        .arg("--screens")
        .arg(&screens)
        .args(["--start", "2014-01-01", "--timing", "--out"])
        .arg(&out)
        .output()
        .expect("python");
    let wall = t.elapsed().as_secs_f64();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let peak = String::from_utf8_lossy(&status.stderr)
        .lines()
        .find_map(|l| {
            l.strip_prefix("peak_kb: ")
                .map(|v| v.trim().parse::<f64>().unwrap_or(0.0))
        })
        .unwrap_or(0.0);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("out")).expect("json");
    println!(
        "  Python reference stack on W1 (vectorbt + empyrical + alphalens, indicators given): wall {wall:.1} s, peak memory {:.0} MiB; phases after imports: {}",
        peak / 1024.0,
        json["timing"]
    );
}

/// Random-walk bars on weekdays from 2010-01-04, sorted by (symbol, date), written as
/// Parquet (uncompressed unless `zstd`). Returns the date of the 253rd session (the start).
fn write_synthetic(path: &Path, symbols: usize, days: usize, zstd: bool) -> String {
    let n = symbols * days;
    let walk = RandomWalk::generate(symbols, days, 14_613, true); // 2010-01-04, a Monday
    let volume: Vec<f64> = walk.volume.iter().map(|v| v.round()).collect();
    let (sym, date, open, high, low, close) = (
        walk.symbol,
        walk.date,
        walk.open,
        walk.high,
        walk.low,
        walk.close,
    );
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("symbol".into(), sym),
            Int32Chunked::from_vec("date".into(), date)
                .into_date()
                .into_column(),
            Column::new("open".into(), open),
            Column::new("high".into(), high),
            Column::new("low".into(), low),
            Column::new("close".into(), close),
            Column::new("volume".into(), volume),
        ],
    )
    .expect("frame");
    let bytes = if zstd {
        write_parquet(&mut df).expect("parquet")
    } else {
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf)
            .with_compression(ParquetCompression::Uncompressed)
            .finish(&mut df)
            .expect("parquet");
        buf
    };
    std::fs::write(path, bytes).expect("write");
    let first = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    (first + chrono::Duration::days(i64::from(walk.sessions[252]))).to_string()
}
