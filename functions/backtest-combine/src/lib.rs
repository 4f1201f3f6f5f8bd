//! BacktestCombine: after the Map Run, ranks the variants from the results the shards wrote
//! (an item without a result failed; the Map Run's `FAILED_n.json` files say why) and
//! publishes `backtests/<id>/`: `summary.json` (the ranking, in and out of sample per
//! window), `ranking.csv`, `equity.csv` and `report.html`.

use screener_backtest::render_sweep_report;
use screener_backtest::sweep::{FailedItem, SweepSummary, equity_csv, summarize};
use screener_core::Deps;
use screener_core::backtest::{CombineInput, CombineOutput, ItemResult, SweepPlan, WorkItem, keys};
use screener_core::workflow::StepError;
use serde::Deserialize;

pub async fn handle(input: CombineInput, deps: &Deps) -> Result<CombineOutput, StepError> {
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
    Ok(CombineOutput {
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
    })
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
