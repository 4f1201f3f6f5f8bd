//! The files a backtest run leaves: `summary.json` (per screen and for the benchmark: the
//! S7 metrics, forward returns and factor analysis under the spec's names, the event study
//! ([`crate::event_study`]), with the calendar
//! facts and the arguments), `equity.csv` (`date`, one column per screen, `benchmark`) and
//! `selections.csv` (`date,screen,rank,symbol`; a rebalance date where a screen selected
//! nothing has one row with empty `rank` and `symbol`). The benchmark's "selection" (every
//! eligible symbol) is not written. Numbers in the shortest form that reads back exactly;
//! non-finite numbers are null in JSON. Beside them `report.html` ([`crate::render_report`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::BacktestError;
use crate::result::{Arguments, BacktestResult, CalendarFacts, Factor, ForwardReturns, Metrics};

/// `summary.json`'s shape: the result without its series.
#[derive(Serialize)]
struct Summary<'a> {
    arguments: &'a Arguments,
    calendar: &'a CalendarFacts,
    screens: Vec<PortfolioSummary<'a>>,
    benchmark: PortfolioSummary<'a>,
}

#[derive(Serialize)]
struct PortfolioSummary<'a> {
    name: &'a str,
    metrics: &'a Metrics,
    forward_returns: &'a ForwardReturns,
    factor: Option<&'a Factor>,
    event_study: Option<&'a crate::event_study::EventStudy>,
}

impl<'a> PortfolioSummary<'a> {
    fn of(p: &'a crate::result::Portfolio) -> Self {
        PortfolioSummary {
            name: &p.name,
            metrics: &p.metrics,
            forward_returns: &p.forward_returns,
            factor: p.factor.as_ref(),
            event_study: p.event_study.as_ref(),
        }
    }
}

/// The summary as JSON text.
pub fn summary_json(result: &BacktestResult) -> String {
    let summary = Summary {
        arguments: &result.arguments,
        calendar: &result.calendar,
        screens: result.screens.iter().map(PortfolioSummary::of).collect(),
        benchmark: PortfolioSummary::of(&result.benchmark),
    };
    serde_json::to_string_pretty(&summary).expect("the summary serialises")
}

fn create(path: &Path) -> Result<BufWriter<File>, BacktestError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|source| BacktestError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes `summary.json`, `equity.csv`, `selections.csv` and `report.html` into `dir`
/// (created if needed); returns their paths.
pub fn write_outputs(result: &BacktestResult, dir: &Path) -> Result<Vec<PathBuf>, BacktestError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BacktestError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;

    let summary = dir.join("summary.json");
    std::fs::write(&summary, summary_json(result)).map_err(io(&summary))?;

    let equity = dir.join("equity.csv");
    let mut w = create(&equity)?;
    let mut header = String::from("date");
    for p in result.portfolios() {
        header.push(',');
        header.push_str(&p.name);
    }
    writeln!(w, "{header}").map_err(io(&equity))?;
    let portfolios: Vec<_> = result.portfolios().collect();
    let mut line = String::new();
    for (i, date) in result.calendar.equity_dates.iter().enumerate() {
        use std::fmt::Write as _;
        line.clear();
        let _ = write!(line, "{date}");
        for p in &portfolios {
            let _ = write!(line, ",{}", p.equity[i]);
        }
        writeln!(w, "{line}").map_err(io(&equity))?;
    }
    w.flush().map_err(io(&equity))?;

    let selections = dir.join("selections.csv");
    let mut w = create(&selections)?;
    writeln!(w, "date,screen,rank,symbol").map_err(io(&selections))?;
    for (k, date) in result.calendar.rebalance_dates.iter().enumerate() {
        for p in &result.screens {
            let chosen = &p.selections[k];
            if chosen.is_empty() {
                writeln!(w, "{date},{},,", p.name).map_err(io(&selections))?;
            }
            for (rank, &s) in chosen.iter().enumerate() {
                writeln!(
                    w,
                    "{date},{},{},{}",
                    p.name,
                    rank + 1,
                    result.symbols[s as usize]
                )
                .map_err(io(&selections))?;
            }
        }
    }
    w.flush().map_err(io(&selections))?;
    let report = dir.join(crate::report::FILE);
    std::fs::write(&report, crate::report::render_report(result)).map_err(io(&report))?;
    Ok(vec![summary, equity, selections, report])
}
