//! The engine runs end to end on the real S&P 500 file (when present).

use screener_analytics::ScreenSet;
use screener_backtest::{Settings, backtest_file};

#[test]
fn the_default_screens_run_on_the_sp500_file() {
    let Some(path) = std::env::var_os("SCREENER_SP500_CSV") else {
        eprintln!("SKIPPED: SCREENER_SP500_CSV is not set");
        return;
    };
    let settings = Settings::new("2014-01-01".parse().unwrap());
    let r = backtest_file(
        std::path::Path::new(&path),
        &ScreenSet::default_screens(),
        &settings,
    )
    .unwrap();
    for p in r.portfolios() {
        println!("{} {:?}", p.name, p.metrics);
    }
    println!("{:?}", r.phases);
    println!("{}", serde_json::to_string(&r.calendar).unwrap().len());
}
