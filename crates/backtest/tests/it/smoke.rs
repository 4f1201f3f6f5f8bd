//! `backtest_file` reads CSV with typed columns (a faster path than `read_bars`): the result
//! must be exactly what `read_bars` + `backtest_frame` give, on a synthetic market (plain
//! and gzip) and on the S&P 500 file when present; a bad cell is still refused naming it.

use std::io::Write;
use std::path::Path;

use screener_analytics::{ScreenSet, read_bars};
use screener_backtest::{Settings, backtest_file, backtest_frame};

use crate::common::{synthetic_market_csv, weekdays};

fn same_as_read_bars(path: &Path, settings: &Settings) {
    let screens = ScreenSet::default_screens();
    let typed = backtest_file(path, &screens, settings).unwrap();
    let exact = backtest_frame(read_bars(path).unwrap(), &screens, settings).unwrap();
    assert_eq!(
        serde_json::to_string(&typed).unwrap(),
        serde_json::to_string(&exact).unwrap(),
        "{}",
        path.display()
    );
    assert_eq!(typed.screens, exact.screens);
}

#[test]
fn a_csv_file_gives_exactly_what_read_bars_gives_plain_or_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let text = synthetic_market_csv(40, 330, 3);
    let plain = dir.path().join("bars.csv");
    std::fs::write(&plain, &text).unwrap();
    let gz = dir.path().join("bars.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let settings = Settings::new(weekdays(330)[260].parse().unwrap());
    same_as_read_bars(&plain, &settings);
    same_as_read_bars(&gz, &settings);

    // A bad number: refused by read_bars' rules, naming the line and column.
    let bad = dir.path().join("bad.csv");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<&str> = lines[1].split(',').collect();
    cells[5] = "12.5x";
    lines[1] = cells.join(",");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let err = backtest_file(&bad, &ScreenSet::default_screens(), &settings)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("`close`") && err.contains("not a number"),
        "{err}"
    );
}

#[test]
fn the_sp500_file_gives_exactly_what_read_bars_gives() {
    let Some(path) = std::env::var_os("SCREENER_SP500_CSV") else {
        eprintln!("SKIPPED: SCREENER_SP500_CSV is not set");
        return;
    };
    same_as_read_bars(
        Path::new(&path),
        &Settings::new("2014-01-01".parse().unwrap()),
    );
}
