//! Full-market benchmark of the Screen step's work: Parquet bars in, `screen_latest` with
//! the default screens, results out as CSV and Parquet.
//!
//! Three ways in: `screen_latest_file` (Parquet streamed row group by row group),
//! `read_bars` + `screen_latest` (the whole frame in memory), and what the workflow's
//! Screen step reads: validate's Parquet file per batch of 100 symbols, one at a time,
//! through `PartsScreener`.
//!
//! `cargo bench -p screener-analytics` runs two sizes, 10,000 symbols x 252 days and
//! 5,000 x 1,260, on synthetic random-walk bars written to Parquet sorted by (symbol, date)
//! as the store holds them. Each run happens in a fresh child process (this binary
//! re-executed), so its peak resident memory (VmHWM) is the run's own. Printed per size:
//! wall time (best and median of the runs) with its phases, bars/s and peak memory.
//!
//! Options (after `--`): `--runs N` (default 5), `--sizes 10000x252,5000x1260`,
//! `--indicators` to also time `compute_indicators` over every bar, `--data-dir DIR` to
//! keep the generated files; `--child file|frame|indicators PATH` is one measured run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use screener_analytics::polars::prelude::*;
use screener_analytics::{
    PartsScreener, ScreenOutcome, ScreenSet, compute_indicators, read_bars,
    read_bars_parquet_frame, screen_latest, screen_latest_file, write_csv, write_parquet,
};
use screener_core::Symbol;
use screener_core::bar::{Bar, BarsBySymbol};
use screener_parquet::write_bars_parquet;
use screener_test_support::bars::RandomWalk;
use screener_test_support::process::{cpu_seconds, peak_kb};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    let runs = flag(&args, "--runs").map_or(5, |v| v.parse().expect("--runs N"));
    let sizes = flag(&args, "--sizes").unwrap_or_else(|| "10000x252,5000x1260".to_string());
    let indicators = args.iter().any(|a| a == "--indicators");
    let tmp = tempfile::tempdir().expect("temp dir");
    // `--data-dir DIR` keeps the generated Parquet files (for profiling a child run).
    let dir_path =
        flag(&args, "--data-dir").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    println!(
        "screen benchmark: {} cores, {runs} runs per size, each in a fresh process",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for size in sizes.split(',') {
        let (symbols, days) = size.split_once('x').expect("sizes like 10000x252");
        let (symbols, days): (usize, usize) = (symbols.parse().unwrap(), days.parse().unwrap());
        let path = dir_path.join(format!("bars_{symbols}x{days}.parquet"));
        let t = Instant::now();
        write_synthetic(&path, symbols, days);
        let bars = symbols * days;
        let mb = std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / 1e6;
        println!(
            "\n{symbols} symbols x {days} days = {bars} bars, Parquet {mb:.1} MB (generated in {:.1} s)",
            t.elapsed().as_secs_f64()
        );
        let batches = dir_path.join(format!("batches_{symbols}x{days}"));
        write_batches(&path, &batches, days, BATCH_SYMBOLS);
        for (mode, what, input) in [
            (
                "file",
                "screen_latest_file (Parquet streamed by row group)".to_string(),
                &path,
            ),
            (
                "frame",
                "read_bars + screen_latest (whole frame)".to_string(),
                &path,
            ),
            (
                "batches",
                format!(
                    "the Screen step's input: validate's Parquet files of {BATCH_SYMBOLS} symbols through PartsScreener"
                ),
                &batches,
            ),
        ] {
            let mut results: Vec<ChildReport> = (0..runs).map(|_| run_child(input, mode)).collect();
            results.sort_by(|a, b| a.total.total_cmp(&b.total));
            let best = &results[0];
            let median = &results[results.len() / 2];
            let peak = results.iter().map(|r| r.peak_kb).max().unwrap_or(0) as f64 / 1024.0;
            println!("  {what}, results written as CSV and Parquet:");
            println!(
                "    wall best {:.3} s, median {:.3} s; {:.1} M bars/s (best); CPU time {:.2} s; peak memory {:.0} MB ({} 512 MB)",
                best.total,
                median.total,
                bars as f64 / best.total / 1e6,
                best.cpu,
                peak,
                if peak <= 512.0 { "fits" } else { "exceeds" }
            );
            println!(
                "    phases (best run): read {:.3} s, screen {:.3} s, write {:.3} s; inside: {}; {} symbols, {} passing a screen",
                best.read, best.compute, best.write, best.phases, best.rows, best.passing
            );
        }
        if indicators {
            let r = run_child(&path, "indicators");
            println!(
                "  compute_indicators over every bar: read {:.3} s, compute {:.3} s, total {:.3} s, {:.1} M bars/s, peak memory {:.0} MB",
                r.read,
                r.compute,
                r.total,
                bars as f64 / (r.read + r.compute) / 1e6,
                r.peak_kb as f64 / 1024.0
            );
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

struct ChildReport {
    read: f64,
    compute: f64,
    write: f64,
    total: f64,
    rows: usize,
    passing: usize,
    peak_kb: u64,
    cpu: f64,
    phases: String,
}

fn run_child(path: &Path, mode: &str) -> ChildReport {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--child", mode])
        .arg(path)
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let field = |name: &str| -> f64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("child output lacks {name}: {text}"))
            .parse()
            .expect("number")
    };
    ChildReport {
        read: field("read"),
        compute: field("compute"),
        write: field("write"),
        total: field("total"),
        rows: field("rows") as usize,
        passing: field("passing") as usize,
        peak_kb: field("peak_kb") as u64,
        cpu: field("cpu"),
        phases: text
            .lines()
            .find_map(|l| l.strip_prefix("phases: "))
            .unwrap_or("")
            .to_string(),
    }
}

/// One measured run: what the Screen step does, timed by phase.
fn child(args: &[String]) {
    let mode = args[0].as_str();
    let path = PathBuf::from(&args[1]);
    let screens = ScreenSet::default_screens();
    let t0 = Instant::now();
    // The streaming path reads the file itself.
    let bars =
        (mode == "frame" || mode == "indicators").then(|| read_bars(&path).expect("read bars"));
    let t1 = Instant::now();
    let (rows, passing, t2, t3) = match mode {
        "frame" | "file" | "batches" => {
            let mut outcome = match mode {
                "frame" => screen_latest(bars.expect("read"), &screens, None).expect("screen"),
                "file" => screen_latest_file(&path, &screens, None).expect("screen"),
                _ => screen_batches(&path, &screens),
            };
            let t2 = Instant::now();
            let csv = write_csv(&mut outcome.results).expect("csv");
            let parquet = write_parquet(&mut outcome.results).expect("parquet");
            for s in &mut outcome.screens {
                let _ = write_csv(&mut s.top).expect("csv");
            }
            let t3 = Instant::now();
            std::hint::black_box((csv, parquet));
            let passing = outcome.screens.iter().map(|s| s.count).sum();
            let phases: Vec<String> = outcome
                .phases
                .iter()
                .map(|(name, d)| format!("{name} {:.3}", d.as_secs_f64()))
                .collect();
            println!("phases: {}", phases.join(", "));
            (outcome.results.height(), passing, t2, t3)
        }
        "indicators" => {
            let df = compute_indicators(bars.expect("read")).expect("indicators");
            let t2 = Instant::now();
            (df.height(), 0, t2, t2)
        }
        other => panic!("unknown mode {other}"),
    };
    println!(
        "read={} compute={} write={} total={} rows={rows} passing={passing} peak_kb={} cpu={}",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t3 - t2).as_secs_f64(),
        (t3 - t0).as_secs_f64(),
        peak_kb(),
        cpu_seconds()
    );
}

/// Symbols per batch file: the workflow's default batch size.
const BATCH_SYMBOLS: usize = 100;

/// What the Screen step does with the batches' files (`functions/screen`): one file at a
/// time, as the store hands them over, into a [`PartsScreener`].
fn screen_batches(dir: &Path, screens: &ScreenSet) -> ScreenOutcome {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("batch dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut screener = PartsScreener::new(screens, None);
    let (mut decode, mut kernels) = (Duration::ZERO, Duration::ZERO);
    for file in &files {
        let t = Instant::now();
        let bytes = std::fs::read(file).expect("read batch");
        let bars = read_bars_parquet_frame(&bytes).expect("batch Parquet");
        let decoded = Instant::now();
        screener
            .add(bars, &file.display().to_string())
            .expect("screen batch");
        decode += decoded - t;
        kernels += decoded.elapsed();
    }
    let mut outcome = screener.finish().expect("screen");
    // Split the parts phase into its two halves, for "where the time goes".
    outcome.phases.splice(
        1..1,
        [
            ("(of which read + decode Parquet", decode),
            ("check, sort and kernels)", kernels),
        ],
    );
    outcome
}

/// The Parquet bars cut into files of `per_batch` whole symbols (rows are sorted by symbol,
/// `days` rows each), written by validate's writer as validate leaves them in the store.
fn write_batches(parquet: &Path, dir: &Path, days: usize, per_batch: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("batch dir");
    let df = read_bars(parquet).expect("read bars");
    let symbol = df.column("symbol").unwrap().str().unwrap().clone();
    let date = df.column("date").unwrap().date().unwrap().phys.clone();
    let f = |name: &str| df.column(name).unwrap().f64().unwrap().clone();
    let (open, high, low, close, volume) =
        (f("open"), f("high"), f("low"), f("close"), f("volume"));
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let rows = days * per_batch;
    for (i, start) in (0..df.height()).step_by(rows).enumerate() {
        let mut batch = BarsBySymbol::new();
        for row in start..(start + rows).min(df.height()) {
            let bar = Bar {
                date: epoch + chrono::Duration::days(date.get(row).unwrap() as i64),
                open: open.get(row).unwrap(),
                high: high.get(row).unwrap(),
                low: low.get(row).unwrap(),
                close: close.get(row).unwrap(),
                volume: volume.get(row).unwrap(),
                vwap: None,
                trade_count: None,
            };
            batch
                .entry(Symbol::parse(symbol.get(row).unwrap()).unwrap())
                .or_default()
                .push(bar);
        }
        let bytes = write_bars_parquet(&batch);
        std::fs::write(dir.join(format!("batch-{i:05}.parquet")), bytes).expect("write batch");
    }
}

/// Random-walk bars on weekdays from 2020-01-02, sorted by (symbol, date).
fn write_synthetic(path: &Path, symbols: usize, days: usize) {
    let n = symbols * days;
    let walk = RandomWalk::generate(symbols, days, 18_263, false); // 2020-01-02, a Thursday
    let volume: Vec<u64> = walk.volume.iter().map(|&v| v as u64).collect();
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
    let bytes = write_parquet(&mut df).expect("parquet");
    std::fs::write(path, bytes).expect("write parquet");
}
