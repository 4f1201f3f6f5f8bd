//! BacktestPlan: turns a sweep request into its variants and work items, checked before any
//! backtest runs; writes `backtests/<id>/items.jsonl` (what the Distributed Map reads) and
//! `plan.json` (what combine ranks against), and says where the Map Run reads and writes.

use screener_core::Deps;
use screener_core::backtest::{
    ObjectLocation, PlanInput, PlanOutput, ShardContext, SweepPlan, keys,
};
use screener_core::ports::StoreError;
use screener_core::workflow::StepError;

pub use screener_core::backtest::sweep_id;

pub async fn handle(input: PlanInput, deps: &Deps) -> Result<PlanOutput, StepError> {
    let request = input.request;
    let sweep_id = sweep_id(&input.execution_name);
    let plan = request
        .plan(&sweep_id)
        .map_err(|e| StepError::InvalidInput(format!("sweep: {e}")))?;
    // A missing bars file would fail every shard: say so once, here.
    let listed = deps.store.list(&request.bars).await?;
    if !listed.contains(&request.bars) {
        return Err(StepError::Store(StoreError::NotFound {
            key: request.bars.clone(),
        }));
    }
    let mut lines = Vec::new();
    for item in &plan.items {
        serde_json::to_writer(&mut lines, item).expect("items serialise");
        lines.push(b'\n');
    }
    let items_key = keys::items(&sweep_id);
    deps.store
        .put(&items_key, lines, "application/x-ndjson")
        .await?;
    let plan_key = keys::plan(&sweep_id);
    let text = serde_json::to_vec_pretty(&plan).expect("the plan serialises");
    deps.store.put(&plan_key, text, "application/json").await?;
    tracing::info!(
        sweep = %sweep_id,
        variants = plan.variants.len(),
        items = plan.items.len(),
        "planned"
    );
    Ok(output(&plan, plan_key, items_key, deps))
}

fn output(plan: &SweepPlan, plan_key: String, items_key: String, deps: &Deps) -> PlanOutput {
    let request = &plan.request;
    let results_prefix = keys::map_results_prefix(&plan.sweep_id);
    let results = ObjectLocation::of(&deps.store.locate(&results_prefix), &results_prefix);
    PlanOutput {
        sweep_id: plan.sweep_id.clone(),
        items: ObjectLocation::of(&deps.store.locate(&items_key), &items_key),
        plan_key,
        results,
        shard: ShardContext {
            sweep_id: plan.sweep_id.clone(),
            bars: request.bars.clone(),
            horizons: request.horizons.clone(),
        },
        variant_count: plan.variants.len(),
        item_count: plan.items.len(),
        items_per_batch: request.items_per_batch,
        tolerated_failure_percent: request.tolerated_failure_percent,
        max_concurrency: request.max_concurrency,
        notify_chat: request.notify_chat,
    }
}
