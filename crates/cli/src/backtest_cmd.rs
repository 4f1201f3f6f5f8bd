//! `screener backtest`: screens backtested over a bars file or a market data source
//! (`screener-backtest`, the spec in shared/specs/backtest.md), its files written to a
//! directory, progress on stderr, and a closing table per screen against the benchmark.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use screener_backtest::{
    BacktestError, BacktestResult, Portfolio, Settings, backtest_bars, backtest_file_with_progress,
    write_outputs,
};
use screener_core::Symbol;

use crate::DataError;
use crate::analytics_cmd::load_screens;

/// Calendar days of bars read before `--start` from a source: 252 sessions warm the 52-week
/// and 200-day indicators up, with room for holidays.
const WARM_UP_DAYS: i64 = 400;

/// Arguments of `screener backtest`.
#[derive(Args, Debug, Clone)]
#[command(
    about = "Backtest screens over a bars file or a market data source: equal-weight portfolios rebalanced every K sessions, against every eligible symbol",
    group = clap::ArgGroup::new("input").required(true).multiple(true).args(["bars", "source", "sweep"]),
    after_help = "Semantics: shared/specs/backtest.md (fills at the next open, fees on top, forward returns and the alphalens factor analysis); docs/backtest.md says how to read the results.\n\
Writes summary.json, equity.csv, selections.csv and report.html to --out (default: backtests/<id>/ under the store, --store, SCREENER_STORE or ./screener-data).\n\n\
Examples:\n  \
screener backtest --bars ../shared/data/sp500_5yr.csv.gz --start 2014-01-01\n  \
screener backtest --source synthetic --symbols 200 --start 2025-06-02 --end 2026-06-01 --every 10\n  \
screener backtest --bars bars.parquet --screens my_screens.toml --start 2020-01-01 --end 2023-12-31 --every 10 --cost-bps 5 --out bt/\n  \
screener backtest --sweep events/backtest-sweep.toml --bars bars.parquet   (docs/backtest-sweeps.md)"
)]
pub struct BacktestArgs {
    /// A parameter sweep (TOML; docs/backtest-sweeps.md): runs statemachine/backtest.asl.json locally on the store; with --bars, that file is uploaded to the store first
    #[arg(long, value_name = "FILE", conflicts_with_all = ["source", "screens", "start", "end", "out"])]
    pub sweep: Option<PathBuf>,
    /// Bars to read: a .csv, .csv.gz or .parquet file
    #[arg(long, value_name = "FILE", conflicts_with = "source")]
    pub bars: Option<PathBuf>,
    /// Market data instead of a file, as `screener run` takes it: synthetic | csv:PATH | alpaca (through the bar history the daily run keeps in the store)
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Size of the synthetic market (with --source synthetic) [env SCREENER_SYNTHETIC_SYMBOLS, default 500]
    #[arg(long, value_name = "N")]
    pub symbols: Option<usize>,
    /// Only the first N symbols of the source's universe (with --source)
    #[arg(long, value_name = "N")]
    pub max_symbols: Option<usize>,
    /// Store location, a directory or s3://BUCKET/PREFIX: the default --out and, with --source alpaca, the bar history [env SCREENER_STORE, default ./screener-data]
    #[arg(long, value_name = "LOCATION")]
    pub store: Option<String>,
    /// Screens to backtest (TOML); default: the built-in screens
    #[arg(long, value_name = "FILE")]
    pub screens: Option<PathBuf>,
    /// First session to trade from (earlier bars warm the indicators up)
    #[arg(long, value_name = "YYYY-MM-DD", required_unless_present = "sweep")]
    pub start: Option<NaiveDate>,
    /// Last date to use (later bars are ignored, forward returns included); default: the last bar
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end: Option<NaiveDate>,
    /// Rebalance every K sessions
    #[arg(long, value_name = "K", default_value_t = Settings::DEFAULT_EVERY)]
    pub every: usize,
    /// Fees per order, in basis points of its value
    #[arg(long, value_name = "B", default_value_t = Settings::DEFAULT_COST_BPS)]
    pub cost_bps: f64,
    /// Forward-return horizons in sessions, comma separated
    #[arg(
        long,
        value_name = "H,H,...",
        value_delimiter = ',',
        default_value = "1,5,21,63"
    )]
    pub horizons: Vec<usize>,
    /// Directory for the files; default backtests/<id>/ under the store
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// A backtest error as the command reports it: flags and paths are how it was called (exit
/// 2), the content of the bars or screens is a [`DataError`] (exit 1).
fn classify(error: BacktestError) -> anyhow::Error {
    use screener_analytics::AnalyticsError;
    match error {
        BacktestError::BadEvery { .. }
        | BacktestError::BadCost { .. }
        | BacktestError::BadHorizons { .. }
        | BacktestError::EndBeforeStart { .. }
        | BacktestError::Write { .. }
        | BacktestError::Bars(
            AnalyticsError::Io { .. } | AnalyticsError::UnsupportedFormat { .. },
        ) => error.into(),
        other => DataError(other.into()).into(),
    }
}

/// `backtests/<id>/` under the store directory.
fn default_out(store: Option<&str>) -> anyhow::Result<PathBuf> {
    let store = store
        .map(str::to_string)
        .or_else(|| std::env::var("SCREENER_STORE").ok())
        .unwrap_or_else(|| "screener-data".to_string());
    anyhow::ensure!(
        !store.starts_with("s3://"),
        "the store is {store}: give --out DIR to write the backtest's files locally"
    );
    let id = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    Ok(Path::new(&store).join("backtests").join(id))
}

/// Claims `dir` for this backtest's files, or `dir-2`, `dir-3`, ... when another backtest
/// started in the same second already has it: creating a directory is atomic, so two runs never
/// write into one.
fn claim_new_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    for n in 1.. {
        let candidate = if n == 1 {
            dir.to_path_buf()
        } else {
            PathBuf::from(format!("{}-{n}", dir.display()))
        };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", candidate.display())),
        }
    }
    unreachable!("some suffix is free")
}

/// `screener backtest (--bars FILE | --source SOURCE) --start D ...`.
pub async fn run_backtest(args: BacktestArgs) -> anyhow::Result<ExitCode> {
    if let Some(sweep) = &args.sweep {
        return crate::sweep_cmd::run_sweep(sweep, args.bars.as_deref(), args.store.clone()).await;
    }
    let start = args.start.context("--start is required")?;
    let screens = load_screens(args.screens.as_deref())?;
    let settings = Settings {
        start,
        end: args.end,
        every: args.every,
        cost_bps: args.cost_bps,
        horizons: args.horizons.clone(),
    };
    // Everything that can be refused without reading the bars is refused first.
    screener_backtest::Backtest::check(&settings, &screens).map_err(classify)?;
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => default_out(args.store.as_deref())?,
    };
    let input = match (&args.bars, &args.source) {
        (Some(bars), _) => bars.display().to_string(),
        (None, Some(source)) => format!("--source {source}"),
        (None, None) => unreachable!("clap requires --bars or --source"),
    };
    eprintln!(
        "backtest: {} screen(s) over {input}, from {}{}, every {} sessions, {} bps, horizons {:?}",
        screens.screens.len(),
        settings.start,
        settings.end.map_or(String::new(), |e| format!(" to {e}")),
        settings.every,
        settings.cost_bps,
        settings.horizons
    );
    let progress = |phase: &str, took: Duration| {
        eprintln!("backtest: {phase}: {:.2} s", took.as_secs_f64());
    };
    let result = match &args.bars {
        Some(bars) => backtest_file_with_progress(bars, &screens, &settings, Some(&progress)),
        None => {
            let bars = source_bars(&args, &settings).await?;
            backtest_bars(&bars, &screens, &settings, &input, Some(&progress))
        }
    }
    .map_err(classify)
    .with_context(|| format!("backtesting over {input}"))?;
    // The default directory is claimed only now, so a refused or failed backtest leaves nothing.
    let out = if args.out.is_some() {
        out
    } else {
        claim_new_dir(&out)?
    };
    let files = write_outputs(&result, &out).map_err(classify)?;
    print!("{}", table(&result));
    println!("\nwrote:");
    for f in files {
        println!("  {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The bars of `--source` from the warm-up before `--start` to `--end` (default: the last
/// completed session), through the bar source the composition root builds for `screener run`:
/// Alpaca's through the history the daily run keeps in the store (what is stored is read, only
/// what is missing is fetched, and the history is saved for the next run).
async fn source_bars(
    args: &BacktestArgs,
    settings: &Settings,
) -> anyhow::Result<screener_core::bar::BarsBySymbol> {
    let config = crate::config_with(&[
        ("SCREENER_SOURCE", args.source.clone()),
        ("SCREENER_STORE", args.store.clone()),
        (
            "SCREENER_SYNTHETIC_SYMBOLS",
            args.symbols.map(|n| n.to_string()),
        ),
    ])?;
    let deps = screener_composition::build_deps(&config).await?;
    let source = deps.market.source();
    let mut symbols: Vec<Symbol> = deps
        .market
        .universe()
        .await
        .with_context(|| format!("reading the universe of {}", source.description))?
        .into_iter()
        .map(|asset| asset.symbol)
        .collect();
    if let Some(n) = args.max_symbols {
        symbols.truncate(n);
    }
    let end = settings
        .end
        .unwrap_or_else(|| fetch_universe::last_completed_session(chrono::Utc::now()));
    let from = settings.start - chrono::Duration::days(WARM_UP_DAYS);
    eprintln!(
        "backtest: reading {} symbols from {} ({from} to {end})",
        symbols.len(),
        source.description
    );
    let bars = deps
        .bars
        .daily_bars(&symbols, from, end)
        .await
        .with_context(|| format!("reading bars from {}", source.description))?
        .bars;
    let mut bars = bars;
    let tidied = screener_backtest::tidy_source_bars(&mut bars);
    if tidied != screener_backtest::TidiedBars::default() {
        eprintln!(
            "backtest: dropped {} duplicate and {} invalid bar(s) the source returned",
            tidied.duplicates, tidied.invalid
        );
    }
    anyhow::ensure!(
        !bars.is_empty(),
        "{} has no bars from {from} to {end}",
        source.description
    );
    Ok(bars)
}

fn pct(x: Option<f64>) -> String {
    pct_digits(x, 1)
}

fn pct_digits(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |v| format!("{:.digits$}%", v * 100.0))
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The closing table: one row per screen and the benchmark.
pub fn table(r: &BacktestResult) -> String {
    let c = &r.calendar;
    let horizons = &r.arguments.horizons;
    let mut header: Vec<String> = [
        "portfolio",
        "total",
        "CAGR",
        "vol",
        "Sharpe",
        "Sortino",
        "max DD",
        "Calmar",
        "holdings",
        "turnover/yr",
        "win rate",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for h in horizons {
        header.push(format!("IC {h}"));
    }
    for h in horizons {
        header.push(format!("Q5-Q1 {h}"));
    }
    let row = |p: &Portfolio| -> Vec<String> {
        let m = &p.metrics;
        let mut cells = vec![
            p.name.clone(),
            pct(m.total_return),
            pct(m.cagr),
            pct(m.annual_volatility),
            num(m.sharpe, 2),
            num(m.sortino, 2),
            pct(m.max_drawdown),
            num(m.calmar, 2),
            num(m.avg_holdings, 1),
            num(m.turnover_annual, 1),
            pct(m.win_rate_closed_positions),
        ];
        for h in horizons {
            cells.push(num(p.factor.as_ref().and_then(|f| f.mean_ic[h]), 3));
        }
        for h in horizons {
            cells.push(pct(p
                .factor
                .as_ref()
                .and_then(|f| f.spread_top_minus_bottom[h])));
        }
        cells
    };
    let rows: Vec<Vec<String>> = r.portfolios().map(row).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain(std::iter::once(header[i].len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = format!(
        "\n{} to {} ({} sessions, {} fills every {} sessions, {} bps, {} symbols); IC and Q5-Q1 (mean return, top minus bottom quintile of the sort metric) by horizon in sessions\n\n",
        c.t0,
        c.last_session,
        c.n_returns + 1,
        c.n_fills,
        r.arguments.every,
        r.arguments.cost_bps,
        c.n_symbols
    );
    out.push_str(&line(&header));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two symbols on 30 weekdays, prices that move.
    fn bars_csv() -> String {
        let mut out = String::from("symbol,date,open,high,low,close,volume\n");
        let mut day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let mut n = 0;
        while n < 30 {
            use chrono::Datelike;
            if day.weekday().num_days_from_monday() < 5 {
                for (s, base) in [("AAA", 10.0), ("BBB", 20.0)] {
                    let p = base + (n as f64 * 0.7).sin() * 2.0;
                    out.push_str(&format!(
                        "{s},{day},{p},{},{},{p},1000000\n",
                        p + 0.5,
                        p - 0.5
                    ));
                }
                n += 1;
            }
            day = day.succ_opt().unwrap();
        }
        out
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_backtest_writes_its_files_and_the_table_has_a_row_per_portfolio() {
        let dir = tempfile::tempdir().unwrap();
        let bars = dir.path().join("bars.csv");
        std::fs::write(&bars, bars_csv()).unwrap();
        let screens = dir.path().join("screens.toml");
        std::fs::write(
            &screens,
            "[[screen]]\nname = \"cheap\"\nconditions = [\"close < 15\"]\nsort = { metric = \"close\" }\n",
        )
        .unwrap();
        let out = dir.path().join("out");
        let args = BacktestArgs {
            sweep: None,
            bars: Some(bars),
            source: None,
            symbols: None,
            max_symbols: None,
            store: None,
            screens: Some(screens),
            start: Some(NaiveDate::from_ymd_opt(2024, 1, 10).unwrap()),
            end: None,
            every: 5,
            cost_bps: 10.0,
            horizons: vec![1, 5],
            out: Some(out.clone()),
        };
        run_backtest(args.clone()).await.unwrap();
        for f in [
            "summary.json",
            "equity.csv",
            "selections.csv",
            "report.html",
        ] {
            assert!(out.join(f).exists(), "{f}");
        }
        let selections = std::fs::read_to_string(out.join("selections.csv")).unwrap();
        assert!(selections.starts_with("date,screen,rank,symbol\n"));
        assert!(selections.contains(",cheap,1,AAA\n"), "{selections}");
        let equity = std::fs::read_to_string(out.join("equity.csv")).unwrap();
        assert!(equity.starts_with("date,cheap,benchmark\n"), "{equity}");
    }

    #[test]
    fn backtests_started_in_the_same_second_get_their_own_directories() {
        let store = tempfile::tempdir().unwrap();
        let id = store.path().join("backtests").join("20261202T180000Z");
        let first = claim_new_dir(&id).unwrap();
        let second = claim_new_dir(&id).unwrap();
        let third = claim_new_dir(&id).unwrap();
        assert_eq!(first, id);
        assert_eq!(second, store.path().join("backtests/20261202T180000Z-2"));
        assert_eq!(third, store.path().join("backtests/20261202T180000Z-3"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn bad_flags_are_refused_before_the_bars_are_read() {
        let args = BacktestArgs {
            sweep: None,
            bars: Some("does-not-exist.csv".into()),
            source: None,
            symbols: None,
            max_symbols: None,
            store: None,
            screens: None,
            start: Some(NaiveDate::from_ymd_opt(2024, 1, 10).unwrap()),
            end: Some(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
            every: 5,
            cost_bps: 10.0,
            horizons: vec![1],
            out: None,
        };
        let err = run_backtest(args.clone()).await.unwrap_err();
        assert_eq!(err.to_string(), "end 2024-01-01 is before start 2024-01-10");
        assert_eq!(crate::exit_code_for(&err), ExitCode::from(2));
        let err = run_backtest(BacktestArgs {
            end: None,
            every: 0,
            ..args
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("--every"), "{err}");
    }
}
