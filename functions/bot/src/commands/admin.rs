//! The admin commands: `/rerun` starts the workflow again. Only admins reach them: the
//! dispatch checks the command's group before calling the handler.

use chrono::{NaiveDate, Utc};

use crate::BotDeps;
use screener_core::ports::{RerunError, RerunOutcome};
use screener_telegram::api::escape;

pub(super) async fn rerun(args: &[&str], deps: &BotDeps) -> String {
    let date = match args.first() {
        None => None,
        Some(text) => match text.parse::<NaiveDate>() {
            Ok(d) if d <= Utc::now().date_naive() => Some(d),
            Ok(d) => return format!("{d} is in the future: give a past trading day."),
            Err(_) => {
                return format!(
                    "“{}” is not a date: use YYYY-MM-DD, e.g. /rerun 2025-06-13.",
                    escape(text)
                );
            }
        },
    };
    let what = date.map_or_else(|| "the last session".to_string(), |d| d.to_string());
    match deps.rerun.rerun(date).await {
        Ok(RerunOutcome::Started { name, detail }) => format!(
            "Started a run for {what}: <code>{}</code>\n{}\nI'll publish when it's done (see /status).",
            escape(&name),
            escape(&detail)
        ),
        Ok(RerunOutcome::AlreadyRunning { name, status }) => format!(
            "A run for {what} was already requested today: <code>{}</code> is {}. Not starting another.",
            escape(&name),
            escape(&status)
        ),
        Err(RerunError::NotConfigured(how)) => {
            format!("Re-runs are not configured here: {}.", escape(&how))
        }
        Err(e) => {
            tracing::error!(error = %e, "re-run failed to start");
            "Sorry, the re-run could not be started. Please try again later.".into()
        }
    }
}
