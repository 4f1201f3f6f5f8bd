//! `/backtest <screen> [years] [end]`: one of the configured screens backtested over the bars
//! file in the store by the backtest workflow (`statemachine/backtest.asl.json`), for an allowed
//! chat, one at a time per chat. The workflow's last step tells the chat the ranking and the
//! report's link, or the error; meanwhile `/status` shows how many of its items are done.
//!
//! The chat's current backtest is remembered in the store (`bot/backtests/chat=ID.json`), so
//! the rule holds across Lambda containers.

use chrono::{DateTime, Months, NaiveDate, Utc};
use screener_core::backtest::{SweepRequest, keys, sweep_id};
use screener_core::ports::{BacktestError, BacktestState, StoreError};
use screener_telegram::api::escape;
use serde::{Deserialize, Serialize};

use crate::BotDeps;

/// Years backtested when the command does not say.
pub const DEFAULT_YEARS: u32 = 5;
/// The longest period a chat may ask for.
pub const MAX_YEARS: u32 = 30;
/// Where an uploaded bars file is looked for when `SCREENER_BACKTEST_BARS` is unset.
pub const UPLOADS_PREFIX: &str = "uploads/";

/// The chat's latest backtest, as the store remembers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatBacktest {
    pub execution: String,
    pub sweep_id: String,
    pub screen: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub bars: String,
    pub requested_at: DateTime<Utc>,
}

pub fn record_key(chat: i64) -> String {
    format!("bot/backtests/chat={chat}.json")
}

async fn current(deps: &BotDeps, chat: i64) -> Result<Option<ChatBacktest>, StoreError> {
    match deps.store.get(&record_key(chat)).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the command asks for, checked.
struct Asked {
    screen: usize,
    years: u32,
    end: NaiveDate,
}

fn parse(args: &[&str], deps: &BotDeps, today: NaiveDate) -> Result<Asked, String> {
    let names = || {
        deps.screens
            .iter()
            .map(|s| format!("<code>{}</code>", escape(&s.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(name) = args.first() else {
        return Err(format!(
            "Which screen? <code>/backtest SCREEN [YEARS] [END]</code>, e.g. <code>/backtest {} 5</code>.\nScreens: {}",
            escape(
                deps.screens
                    .first()
                    .map_or("deepest_drawdown", |s| s.name.as_str())
            ),
            names()
        ));
    };
    let Some(screen) = deps
        .screens
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(name))
    else {
        return Err(format!(
            "There is no screen “{}”. Screens: {}",
            escape(name),
            names()
        ));
    };
    let years = match args.get(1) {
        None => DEFAULT_YEARS,
        Some(text) => match text.parse::<u32>() {
            Ok(y) if (1..=MAX_YEARS).contains(&y) => y,
            _ => {
                return Err(format!(
                    "“{}” is not a number of years: give 1 to {MAX_YEARS}, e.g. <code>/backtest {} 5</code>.",
                    escape(text),
                    escape(name)
                ));
            }
        },
    };
    let end = match args.get(2) {
        None => today,
        Some(text) => match text.parse::<NaiveDate>() {
            Ok(d) if d <= today => d,
            Ok(d) => return Err(format!("{d} is in the future: give a past end date.")),
            Err(_) => {
                return Err(format!(
                    "“{}” is not a date: use YYYY-MM-DD, e.g. <code>/backtest {} {years} 2018-12-31</code>.",
                    escape(text),
                    escape(name)
                ));
            }
        },
    };
    if args.len() > 3 {
        return Err("Too many words: <code>/backtest SCREEN [YEARS] [END]</code>.".into());
    }
    Ok(Asked { screen, years, end })
}

/// The bars file to run on: the configured key, else the last file under `uploads/`.
async fn bars_key(deps: &BotDeps) -> Result<String, String> {
    if let Some(key) = &deps.settings.backtest_bars {
        return Ok(key.clone());
    }
    let how = "Upload a daily bars file (CSV or Parquet: symbol, date, open, high, low, close, volume) to <code>uploads/</code> in the store, e.g. with <code>screener backtest --sweep FILE --bars FILE --store STORE</code>, or name one in <code>SCREENER_BACKTEST_BARS</code>.";
    match deps.store.list(UPLOADS_PREFIX).await {
        Ok(keys) => keys
            .into_iter()
            .rfind(|k| {
                [".csv", ".csv.gz", ".parquet"]
                    .iter()
                    .any(|ext| k.ends_with(ext))
            })
            .ok_or_else(|| format!("There is no history to backtest on yet. {how}")),
        Err(e) => {
            tracing::error!(error = %e, "could not list the uploaded bars files");
            Err("Sorry, I can't read the store right now. Please try again later.".into())
        }
    }
}

/// The execution's name: the chat, the screen and the time, in what Step Functions accepts
/// (80 characters of letters, digits, `-` and `_`).
fn execution_name(chat: i64, screen: &str, now: DateTime<Utc>) -> String {
    let stem: String = sweep_id(screen).chars().take(32).collect();
    format!(
        "bot-{}-{stem}-{}",
        chat.unsigned_abs(),
        now.format("%Y%m%dT%H%M%S%3fZ")
    )
}

pub(super) async fn backtest(chat: i64, args: &[&str], deps: &BotDeps) -> String {
    let now = Utc::now();
    let asked = match parse(args, deps, now.date_naive()) {
        Ok(asked) => asked,
        Err(message) => return message,
    };
    match current(deps, chat).await {
        Ok(Some(previous)) => match deps.backtests.state(&previous.execution).await {
            Ok(BacktestState::Running) => {
                return format!(
                    "Your backtest of <b>{}</b> is still running ({}). One backtest at a time per chat: I'll send its results here when it ends; /status shows its progress.",
                    escape(&previous.screen),
                    progress(deps, &previous).await
                );
            }
            Err(BacktestError::NotConfigured(how)) => return not_configured(&how),
            // Finished, failed or forgotten: a new one may start.
            _ => {}
        },
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "could not read the chat's backtest record");
            return "Sorry, I can't read the store right now. Please try again later.".into();
        }
    }
    let bars = match bars_key(deps).await {
        Ok(key) => key,
        Err(message) => return message,
    };
    let spec = deps.screens[asked.screen].clone();
    let start = asked
        .end
        .checked_sub_months(Months::new(12 * asked.years))
        .unwrap_or(NaiveDate::MIN);
    let mut request = SweepRequest::for_screen(spec.clone(), bars.clone(), start, asked.end);
    request.notify_chat = Some(chat);
    if let Err(e) = request.plan("check") {
        return format!("That backtest cannot run: {}.", escape(&e.to_string()));
    }
    let execution = execution_name(chat, &spec.name, now);
    let record = ChatBacktest {
        sweep_id: sweep_id(&execution),
        execution: execution.clone(),
        screen: spec.name.clone(),
        start,
        end: asked.end,
        bars: bars.clone(),
        requested_at: now,
    };
    match deps.backtests.start(&execution, &request).await {
        Ok(_) => {}
        Err(BacktestError::NotConfigured(how)) => return not_configured(&how),
        Err(BacktestError::AlreadyExists(_)) => {
            return "That backtest was just started; /status shows its progress.".into();
        }
        Err(e) => {
            tracing::error!(error = %e, %execution, "could not start the backtest");
            return "Sorry, the backtest could not be started. Please try again later.".into();
        }
    }
    let body = serde_json::to_vec_pretty(&record).expect("the record serialises");
    if let Err(e) = deps
        .store
        .put(&record_key(chat), body, "application/json")
        .await
    {
        // The run goes on and still reports here; only the one-at-a-time check is weaker.
        tracing::error!(error = %e, %execution, "could not remember the chat's backtest");
    }
    format!(
        "Started a backtest of <b>{}</b> from {start} to {} on <code>{}</code>: <code>{}</code>.\nI'll send the ranking and the report here when it ends; /status shows its progress.",
        escape(&spec.name),
        asked.end,
        escape(&bars),
        escape(&execution)
    )
}

fn not_configured(how: &str) -> String {
    format!("Backtests are not configured here: {}.", escape(how))
}

/// "k of n items done", from what the shards have written so far.
async fn progress(deps: &BotDeps, record: &ChatBacktest) -> String {
    #[derive(Deserialize)]
    struct Plan {
        items: Vec<serde::de::IgnoredAny>,
    }
    let total = match deps.store.get(&keys::plan(&record.sweep_id)).await {
        Ok(bytes) => serde_json::from_slice::<Plan>(&bytes)
            .ok()
            .map(|p| p.items.len()),
        Err(_) => None,
    };
    let done = deps
        .store
        .list(&keys::item_results_prefix(&record.sweep_id))
        .await
        .map_or(0, |keys| keys.len());
    match total {
        Some(total) => format!("{done} of {total} items done"),
        None => "planning".into(),
    }
}

/// Whether the run wrote its report (`report.html`, combine's last write).
async fn report_written(deps: &BotDeps, record: &ChatBacktest) -> Result<bool, StoreError> {
    let report = report_key(record);
    Ok(deps.store.list(&report).await?.contains(&report))
}

fn report_key(record: &ChatBacktest) -> String {
    keys::file(&record.sweep_id, "report.html")
}

/// `/status`'s line about the chat's latest backtest, if it has one.
pub(super) async fn status_line(chat: i64, deps: &BotDeps) -> Option<String> {
    let record = current(deps, chat).await.ok()??;
    let what = format!(
        "<b>Backtest of {}</b> ({} to {}, <code>{}</code>)",
        escape(&record.screen),
        record.start,
        record.end,
        escape(&record.execution)
    );
    let finished = || {
        format!(
            "finished; the report is <code>{}</code>",
            escape(&report_key(&record))
        )
    };
    let unknown = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "could not follow the chat's backtest");
        "state unknown right now".to_string()
    };
    let state = match deps.backtests.state(&record.execution).await {
        Ok(BacktestState::Running) => format!("running: {}", progress(deps, &record).await),
        Ok(BacktestState::Succeeded) => finished(),
        Ok(BacktestState::Failed { error }) => format!("failed: {}", escape(&error)),
        // A local bot that restarted no longer knows its runs; the store still shows whether
        // the run got as far as its report.
        Ok(BacktestState::Unknown) => match report_written(deps, &record).await {
            Ok(true) => finished(),
            Ok(false) => "no longer followed here, and it wrote no report".into(),
            Err(e) => unknown(&e),
        },
        Err(e) => unknown(&e),
    };
    Some(format!("{what}: {state}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names_fit_step_functions_and_differ_by_the_millisecond() {
        let now = Utc::now();
        let long = "a very long screen name with spaces and ünïcode that goes on and on";
        let name = execution_name(i64::MIN, long, now);
        assert!(name.len() <= 80, "{} characters: {name}", name.len());
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{name}"
        );
        let later = now + chrono::Duration::milliseconds(1);
        assert_ne!(
            execution_name(7, "deepest_drawdown", now),
            execution_name(7, "deepest_drawdown", later)
        );
    }
}
