//! The results commands: `/screen`, `/screens`, `/symbol`, `/drawdown` and `/status` answer
//! from the latest published run; `/download` and `/report` link to its files.

use std::fmt::Write;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use screener_core::Symbol;
use screener_core::calendar::{last_trading_day_on_or_before, trading_days_between};
use screener_core::catalogue;
use screener_core::workflow::keys;

use super::format::{human_duration, link};
use crate::BotDeps;
use crate::results::ResultsIndex;
use screener_core::results::ResultsError;
use screener_telegram::api::escape;

/// How long `/download` and `/report` links stay valid.
pub const LINK_VALIDITY: Duration = Duration::from_secs(3600);

const DEFAULT_ROWS: usize = 10;

/// The friendly sentence for a results failure (the failure itself goes to the log).
pub(super) fn results_unavailable(error: &ResultsError) -> String {
    match error {
        ResultsError::NoResults => {
            "No results yet: the screener has not published a run. Try again after the next scheduled run (or ask an admin to /rerun).".into()
        }
        ResultsError::Unavailable(_) | ResultsError::Corrupt(_) => {
            tracing::error!(error = %error, "could not read the published results");
            "Sorry, I can't read the results right now. Please try again in a few minutes.".into()
        }
    }
}

/// Warning lines for synthetic data and stale results, before the answer.
fn preamble(index: &ResultsIndex, deps: &BotDeps) -> String {
    let mut out = String::new();
    if index.manifest.source.synthetic {
        out.push_str("⚠️ <i>Synthetic demo data, not real prices.</i>\n");
    }
    if let Some(warning) = staleness(index.manifest.date, Utc::now().date_naive(), deps) {
        out.push_str(&warning);
        out.push('\n');
    }
    out
}

/// A warning when the results are older than the daily schedule implies.
pub fn staleness(date: NaiveDate, today: NaiveDate, deps: &BotDeps) -> Option<String> {
    let expected = last_trading_day_on_or_before(today - chrono::Duration::days(1));
    let behind = trading_days_between(date, expected);
    (behind >= deps.settings.stale_after_sessions.max(1)).then(|| {
        let days = (today - date).num_days();
        format!(
            "⚠️ <b>Results are {days} day{} old</b> (from {date}; {behind} session{} missed). The daily run may be failing: see /status.",
            if days == 1 { "" } else { "s" },
            if behind == 1 { "" } else { "s" },
        )
    })
}

fn parse_count(arg: &str, deps: &BotDeps) -> Result<usize, String> {
    match arg.parse::<usize>() {
        Ok(n) if (1..=deps.settings.max_rows).contains(&n) => Ok(n),
        _ => Err(format!(
            "“{}” is not a row count: give a number from 1 to {}.",
            escape(arg),
            deps.settings.max_rows
        )),
    }
}

/// The metric columns of the candidate table and their widths; headers come from the catalogue.
const TABLE_COLUMNS: [(&str, usize); 4] = [
    ("close", 8),
    ("drawdown_180d", 7),
    ("rsi_14", 5),
    ("ret_21d", 7),
];

/// The candidate table shared by `/screen` and `/drawdown`.
fn table(index: &ResultsIndex, rows: &[usize], numbered_from: usize) -> String {
    let t = &index.table;
    let mut out = String::from("<pre>");
    let _ = write!(out, "\n{:>3} {:<7}", "#", "SYMBOL");
    for (name, width) in TABLE_COLUMNS {
        let _ = write!(out, " {:>width$}", catalogue::short(name));
    }
    for (i, &row) in rows.iter().enumerate() {
        let _ = write!(
            out,
            "\n{:>3} {:<7}",
            numbered_from + i,
            escape(&t.symbols[row])
        );
        for (name, width) in TABLE_COLUMNS {
            let _ = write!(out, " {:>width$}", catalogue::show(name, t.get(row, name)));
        }
    }
    out.push_str("\n</pre>");
    out
}

pub(super) fn screen(index: &ResultsIndex, args: &[&str], deps: &BotDeps) -> String {
    let mut name = deps.settings.default_screen.as_str();
    let mut n = DEFAULT_ROWS;
    for arg in args {
        if arg.chars().all(|c| c.is_ascii_digit()) {
            match parse_count(arg, deps) {
                Ok(count) => n = count,
                Err(e) => return e,
            }
        } else {
            name = arg;
        }
    }
    let screen = match index.screen(name).or_else(|| {
        // The default may not exist under a custom screens file: fall back to the first.
        (args.is_empty() || name == deps.settings.default_screen)
            .then(|| index.screens.first())
            .flatten()
    }) {
        Some(s) => s,
        None => {
            return format!(
                "There is no screen “{}”. The screens are: {}.",
                escape(name),
                screen_names(index)
            );
        }
    };
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>{}</b>: {} passing · {}\n<i>{}</i>",
        escape(&screen.name),
        screen.members.len(),
        index.manifest.date,
        escape(&screen.description)
    );
    if screen.members.is_empty() {
        out.push_str("No symbol passes this screen today.");
        return out;
    }
    let shown = &screen.members[..n.min(screen.members.len())];
    out.push_str(&table(index, shown, 1));
    if shown.len() < screen.members.len() {
        let _ = write!(
            out,
            "\nShowing {} of {}: /screen {} {} for more.",
            shown.len(),
            screen.members.len(),
            escape(&screen.name),
            (n * 2).min(deps.settings.max_rows)
        );
    }
    out
}

pub(super) fn screen_names(index: &ResultsIndex) -> String {
    index
        .screens
        .iter()
        .map(|s| escape(&s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn screens(index: &ResultsIndex, deps: &BotDeps) -> String {
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>Screens on {}</b> ({} symbols screened)",
        index.manifest.date,
        index.table.len()
    );
    for s in &index.screens {
        let _ = write!(
            out,
            "\n<b>{}</b>: {} passing\n<i>{}</i>\n/screen {}\n",
            escape(&s.name),
            s.members.len(),
            escape(&s.description),
            escape(&s.name)
        );
    }
    out
}

pub(super) fn symbol(index: &ResultsIndex, args: &[&str], deps: &BotDeps) -> String {
    let Some(raw) = args.first() else {
        return "Which symbol? For example: /symbol AAPL".into();
    };
    let wanted = raw.to_ascii_uppercase();
    let symbol = match Symbol::parse(&wanted) {
        Ok(s) => s,
        Err(e) => {
            return format!(
                "“{}” is not a ticker symbol: {}.",
                escape(raw),
                escape(e.reason)
            );
        }
    };
    let Some(&row) = index.by_symbol.get(symbol.as_str()) else {
        let m = &index.manifest;
        let why = if let Some(r) = m.rejections.iter().find(|r| r.symbol == symbol) {
            format!("it was rejected by validation: {}", escape(&r.reason))
        } else if m.no_data.contains(&symbol) {
            "the data source had no bars for it".to_string()
        } else if m
            .failed_batches
            .iter()
            .any(|b| b.symbols.iter().any(|s| s == symbol.as_str()))
        {
            "it was in a batch that failed to fetch".to_string()
        } else {
            "it is not in the universe that was screened".to_string()
        };
        return format!(
            "{} is not in the {} results ({} symbols screened): {why}.",
            escape(symbol.as_str()),
            m.date,
            index.table.len()
        );
    };
    let t = &index.table;
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>{}</b> · {}",
        escape(symbol.as_str()),
        escape(&t.dates[row])
    );
    let passes: Vec<String> = index
        .screens
        .iter()
        .filter_map(|s| {
            let rank = s.members.iter().position(|&r| r == row)?;
            Some(format!(
                "{} (#{} of {})",
                escape(&s.name),
                rank + 1,
                s.members.len()
            ))
        })
        .collect();
    if passes.is_empty() {
        out.push_str("Passes no screen.\n");
    } else {
        let _ = writeln!(out, "Passes: {}", passes.join(", "));
    }
    if let Some(rank) = index.by_drawdown.iter().position(|&r| r == row) {
        let _ = writeln!(
            out,
            "Drawdown rank: {} of {} (1 = deepest)",
            rank + 1,
            index.by_drawdown.len()
        );
    }
    out.push_str("<pre>");
    // Metrics by their catalogue label; text columns (data_source) by their own name.
    let width = t
        .metrics
        .iter()
        .map(|name| catalogue::label(name).len())
        .chain(t.text_columns.iter().map(String::len))
        .max()
        .unwrap_or(0);
    for (m, name) in t.metrics.iter().enumerate() {
        let v = t.value(row, m);
        let _ = write!(
            out,
            "\n{:<width$} {:>14}",
            escape(catalogue::label(name)),
            catalogue::show(name, (!v.is_nan()).then_some(v))
        );
    }
    for (name, value) in t.texts_of(row) {
        let _ = write!(out, "\n{:<width$} {:>14}", escape(name), escape(value));
    }
    out.push_str("\n</pre>");
    out
}

pub(super) fn drawdown(index: &ResultsIndex, args: &[&str], deps: &BotDeps) -> String {
    let n = match args.first() {
        Some(arg) => match parse_count(arg, deps) {
            Ok(n) => n,
            Err(e) => return e,
        },
        None => DEFAULT_ROWS,
    };
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>Deepest drawdowns from the 180-day high</b> · {}",
        index.manifest.date
    );
    if index.by_drawdown.is_empty() {
        out.push_str("No symbol has a drawdown value in this run.");
        return out;
    }
    let shown = &index.by_drawdown[..n.min(index.by_drawdown.len())];
    out.push_str(&table(index, shown, 1));
    out
}

pub(super) fn status(index: &ResultsIndex, deps: &BotDeps) -> String {
    let m = &index.manifest;
    let c = &m.counts;
    let mut out = String::new();
    if let Some(notice) = &m.notice {
        let _ = writeln!(out, "⚠️ <i>{}</i>", escape(notice));
    }
    if let Some(warning) = staleness(m.date, Utc::now().date_naive(), deps) {
        let _ = writeln!(out, "{warning}");
    }
    let _ = writeln!(out, "<b>Last run: {}</b>", m.date);
    let _ = writeln!(out, "Run id: <code>{}</code>", escape(&m.run_id));
    let ago = Utc::now() - index.pointer.published_at;
    let _ = writeln!(
        out,
        "Published: {} UTC ({} ago)",
        index.pointer.published_at.format("%Y-%m-%d %H:%M"),
        human_duration(ago.num_seconds())
    );
    let took = (m.finished_at - m.started_at).num_milliseconds() as f64 / 1000.0;
    let steps: Vec<String> = m
        .durations_ms
        .iter()
        .map(|(step, ms)| format!("{} {:.1}s", escape(step), *ms as f64 / 1000.0))
        .collect();
    let _ = writeln!(out, "Duration: {took:.1} s ({})", steps.join(", "));
    let _ = writeln!(
        out,
        "Symbols: {} requested, {} screened, {} rejected, {} without data, {} in failed batches",
        c.requested, c.screened, c.rejected, c.no_data, c.failed
    );
    if m.failed_batches.is_empty() {
        out.push_str("Failed batches: none\n");
    } else {
        let _ = writeln!(out, "Failed batches: {}", m.failed_batches.len());
        for b in &m.failed_batches {
            let _ = writeln!(
                out,
                "• batch {} ({} symbols): {}",
                b.index,
                b.symbols.len(),
                escape(&b.error)
            );
        }
    }
    let _ = writeln!(
        out,
        "Source: {}{}; adjustment: {}",
        escape(&m.source.description),
        m.source
            .feed
            .as_ref()
            .map(|f| format!("; feed: {}", escape(f)))
            .unwrap_or_default(),
        escape(&m.source.adjustment)
    );
    if let Some(w) = &m.worst_drawdown {
        let _ = writeln!(
            out,
            "Worst drawdown: {} {}",
            escape(&w.symbol),
            catalogue::show("drawdown_180d", Some(w.drawdown_180d))
        );
    }
    out
}

pub(super) async fn download(deps: &BotDeps) -> String {
    let index = match deps.results().await {
        Ok(index) => index,
        Err(e) => return results_unavailable(&e),
    };
    let date = index.manifest.date;
    let mut out = format!("<b>Downloads for {date}</b> (links valid 1 hour)\n");
    for file in ["results.csv", "results.parquet", "report.html"] {
        if !index.manifest.files.iter().any(|f| f == file) {
            continue;
        }
        let key = keys::results_file(date, file);
        match deps.store.download_link(&key, LINK_VALIDITY).await {
            Ok(target) => {
                let _ = writeln!(out, "• {}", link(file, &target));
            }
            Err(e) => {
                tracing::error!(error = %e, key, "no download link");
                let _ = writeln!(out, "• {file}: not available right now");
            }
        }
    }
    out
}

pub(super) async fn report(deps: &BotDeps) -> String {
    let index = match deps.results().await {
        Ok(index) => index,
        Err(e) => return results_unavailable(&e),
    };
    let date = index.manifest.date;
    if !index.manifest.files.iter().any(|f| f == "report.html") {
        return format!(
            "The {date} run has no HTML report (it was published before reports existed). Try /download."
        );
    }
    let key = keys::results_file(date, "report.html");
    match deps.store.download_link(&key, LINK_VALIDITY).await {
        Ok(target) => format!(
            "<b>Report for {date}</b>: tables of every screen, a chart per top candidate, and the run's health.\n{}\n(valid 1 hour)",
            link("report.html", &target)
        ),
        Err(e) => {
            tracing::error!(error = %e, key, "no report link");
            "Sorry, I can't make a link to the report right now. Please try again in a few minutes."
                .into()
        }
    }
}
