//! BacktestCombine: after the Map Run, ranks the variants from the results the shards wrote
//! (an item without a result failed; the Map Run's `FAILED_n.json` files say why) and
//! publishes `backtests/<id>/`: `summary.json` (the ranking, in and out of sample per
//! window), `ranking.csv`, `equity.csv` and `report.html`.

use std::time::Duration;

use screener_backtest::render_sweep_report;
use screener_backtest::sweep::{FailedItem, SweepSummary, equity_csv, ranking_table, summarize};
use screener_core::Deps;
use screener_core::backtest::{
    CombineAnswer, CombineInput, CombineOutput, CombineRequest, FailureNotice, ItemResult,
    SweepPlan, WorkItem, keys,
};
use screener_core::html::escape;
use screener_core::ports::Notification;
use screener_core::workflow::StepError;
use serde::Deserialize;

/// How long the report link in a chat message works (a presigned S3 GET).
pub const REPORT_LINK_VALIDITY: Duration = Duration::from_secs(24 * 60 * 60);

/// Ranking rows a chat message shows at most.
const MESSAGE_ROWS: usize = 10;

/// Combines a finished Map Run and tells the sweep's chat, if it has one; on the state
/// machine's failure path, only tells the chat.
pub async fn handle(input: CombineRequest, deps: &Deps) -> Result<CombineAnswer, StepError> {
    match input {
        CombineRequest::Combine(input) => {
            let chat = input.plan.notify_chat;
            let (output, summary) = combine(*input, deps).await?;
            if let Some(chat) = chat {
                let link = deps
                    .store
                    .download_link(&output.report_key, REPORT_LINK_VALIDITY)
                    .await
                    .unwrap_or_else(|_| output.report.clone());
                tell(deps, chat, finished_message(&output, &summary, &link)).await;
            }
            Ok(CombineAnswer::Combined(output))
        }
        CombineRequest::TellFailure(notice) => {
            tell(deps, notice.notify_chat, failed_message(&notice)).await;
            Ok(CombineAnswer::Told {
                told: notice.notify_chat,
            })
        }
    }
}

/// Sends one message. The sweep's outcome does not depend on it: a chat that cannot be reached
/// is logged, and the results stay in the store.
async fn tell(deps: &Deps, chat: i64, html: String) {
    match deps
        .notifier
        .send(vec![Notification::new(chat, html)])
        .await
    {
        Ok(outcomes) => {
            for (chat, delivery) in outcomes {
                tracing::info!(chat, ?delivery, "told the chat how the sweep ended");
            }
        }
        Err(error) => tracing::error!(chat, %error, "could not tell the chat how the sweep ended"),
    }
}

/// The chat message for a finished sweep: counts, the top of the ranking, the report's link.
pub fn finished_message(output: &CombineOutput, summary: &SweepSummary, link: &str) -> String {
    // The table opens with its counts line and a blank line, then the header and the rows.
    let table = ranking_table(summary);
    let mut lines: Vec<&str> = table.trim_matches('\n').lines().collect();
    let shown = MESSAGE_ROWS + 3;
    let more = lines.len().saturating_sub(shown);
    lines.truncate(shown);
    let mut text = format!(
        "<b>Backtest {} finished</b>\n<pre>{}</pre>",
        escape(&output.sweep_id),
        escape(&lines.join("\n"))
    );
    if more > 0 {
        text.push_str(&format!("\n…and {more} more in the report."));
    }
    let href = if link.starts_with("https://") || link.starts_with("http://") {
        format!(
            "<a href=\"{}\">report.html</a> (link valid up to 24 hours)",
            escape(link)
        )
    } else {
        format!("<code>{}</code>", escape(link))
    };
    text.push_str(&format!("\nReport: {href}"));
    text
}

/// The chat message for a sweep that failed: the error the state machine caught.
pub fn failed_message(notice: &FailureNotice) -> String {
    format!(
        "<b>Backtest {} failed</b>\n<code>{}</code>: {}",
        escape(&notice.execution_name),
        escape(&notice.failure.error),
        escape(&notice.failure.cause)
    )
}

async fn combine(
    input: CombineInput,
    deps: &Deps,
) -> Result<(CombineOutput, SweepSummary), StepError> {
    let sweep_id = &input.plan.sweep_id;
    let plan_key = &input.plan.plan_key;
    let plan: SweepPlan = serde_json::from_slice(&deps.store.get(plan_key).await?)
        .map_err(|e| StepError::CorruptData(format!("{plan_key}: {e}")))?;
    let written = deps
        .store
        .list(&keys::item_results_prefix(sweep_id))
        .await?;
    let mut results = Vec::with_capacity(written.len());
    for key in &written {
        let result: ItemResult = serde_json::from_slice(&deps.store.get(key).await?)
            .map_err(|e| StepError::CorruptData(format!("{key}: {e}")))?;
        results.push(result);
    }
    let causes = failure_causes(deps, sweep_id).await?;
    let failed: Vec<FailedItem> = plan
        .items
        .iter()
        .filter(|item| !results.iter().any(|r| r.item == item.id))
        .map(|item| {
            let (error, cause) = causes
                .iter()
                .find(|(ids, _, _)| ids.contains(&item.id))
                .map(|(_, e, c)| (e.clone(), c.clone()))
                .unwrap_or_default();
            FailedItem {
                item: item.id.clone(),
                variant: item.variant.clone(),
                error,
                cause,
            }
        })
        .collect();
    let summary = summarize(&plan, &results, failed);
    let summary_key = keys::file(sweep_id, "summary.json");
    let report_key = keys::file(sweep_id, "report.html");
    put(
        deps,
        &summary_key,
        serde_json::to_vec_pretty(&summary).expect("serialises"),
        "application/json",
    )
    .await?;
    put(
        deps,
        &keys::file(sweep_id, "ranking.csv"),
        ranking_csv(&summary).into_bytes(),
        "text/csv",
    )
    .await?;
    put(
        deps,
        &keys::file(sweep_id, "equity.csv"),
        equity_csv(&summary).into_bytes(),
        "text/csv",
    )
    .await?;
    put(
        deps,
        &report_key,
        render_sweep_report(&summary).into_bytes(),
        "text/html; charset=utf-8",
    )
    .await?;
    tracing::info!(sweep = %sweep_id, variants = plan.variants.len(), failed = summary.failed.len(), "combined");
    let output = CombineOutput {
        sweep_id: sweep_id.clone(),
        variants: plan.variants.len(),
        items: plan.items.len(),
        failed_items: summary.failed.len(),
        best: summary
            .ranking
            .first()
            .filter(|r| r.rank.is_some())
            .map(|r| r.variant.id.clone()),
        report: deps.store.locate(&report_key),
        summary_key,
        report_key,
    };
    Ok((output, summary))
}

async fn put(deps: &Deps, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StepError> {
    Ok(deps.store.put(key, body, content_type).await?)
}

/// One entry of a Map Run's `FAILED_n.json` (the fields read here).
#[derive(Deserialize)]
struct FailedExecution {
    #[serde(rename = "Input", default)]
    input: String,
    #[serde(rename = "Error", default)]
    error: Option<String>,
    #[serde(rename = "Cause", default)]
    cause: Option<String>,
}

#[derive(Deserialize)]
struct BatchItems {
    #[serde(rename = "Items", default)]
    items: Vec<WorkItem>,
}

/// Per failed child: its items' ids, error and cause, from the `ResultWriter`'s files. A
/// file that cannot be read leaves the causes unknown; it does not fail the sweep.
async fn failure_causes(
    deps: &Deps,
    sweep_id: &str,
) -> Result<Vec<(Vec<String>, Option<String>, Option<String>)>, StepError> {
    let keys = deps.store.list(&keys::map_results_prefix(sweep_id)).await?;
    let mut out = Vec::new();
    for key in keys.iter().filter(|k| {
        k.rsplit('/')
            .next()
            .is_some_and(|name| name.starts_with("FAILED_") && name.ends_with(".json"))
    }) {
        let Ok(entries) =
            serde_json::from_slice::<Vec<FailedExecution>>(&deps.store.get(key).await?)
        else {
            tracing::warn!(%key, "unreadable FAILED file; causes unknown");
            continue;
        };
        for e in entries {
            let ids = serde_json::from_str::<BatchItems>(&e.input)
                .map(|b| b.items.into_iter().map(|i| i.id).collect())
                .unwrap_or_default();
            out.push((ids, e.error, e.cause));
        }
    }
    Ok(out)
}

/// `ranking.csv`: one row per variant, best first.
fn ranking_csv(s: &SweepSummary) -> String {
    let n_windows = s.ranking.first().map_or(0, |r| r.out_of_sample.len());
    let mut out = String::from("rank,variant,screen,parameters");
    if s.walk_forward > 0 {
        for w in 1..=n_windows {
            out.push_str(&format!(",w{w}_in_sample,w{w}_out_of_sample"));
        }
    }
    out.push_str(",score,failed_items\n");
    let v = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
    for r in &s.ranking {
        out.push_str(&format!(
            "{},{},{},\"{}\"",
            r.rank.map_or(String::new(), |r| r.to_string()),
            r.variant.id,
            r.variant.screen,
            r.label.replace('"', "\"\"")
        ));
        if s.walk_forward > 0 {
            for (is, oos) in r.in_sample.iter().zip(&r.out_of_sample) {
                out.push_str(&format!(",{},{}", v(is.value), v(oos.value)));
            }
        }
        out.push_str(&format!(",{},{}\n", v(r.score), r.failed_items));
    }
    out
}
