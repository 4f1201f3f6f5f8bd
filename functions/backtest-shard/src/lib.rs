//! BacktestShard: one batch of work items from the Distributed Map. Items that share a
//! period and settings run in one engine pass (the engine backtests several screens at once
//! and each screen's numbers are its own); each item's result goes to the store and the
//! output carries only ids and counts. Any item that cannot run fails the batch, and the
//! Map Run counts it against its tolerated failures.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use screener_analytics::ScreenSet;
use screener_backtest::{BacktestResult, Settings, backtest_file};
use screener_core::Deps;
use screener_core::backtest::{ItemResult, ShardInput, ShardOutput, WorkItem, keys};
use screener_core::workflow::StepError;

/// The bars file of the last sweep this process read, kept in a temporary directory: a warm
/// Lambda (and a local run, whose shards share the process) reads it from the store once.
struct CachedBars {
    /// `<sweep id>/<key>`: a sweep never changes its bars, a new sweep reads them again.
    tag: String,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

static BARS: Mutex<Option<Arc<CachedBars>>> = Mutex::new(None);

// The lock guards only the check; a concurrent miss may read the same file twice.
#[allow(clippy::await_holding_lock)]
async fn bars_file(deps: &Deps, sweep_id: &str, key: &str) -> Result<Arc<CachedBars>, StepError> {
    let tag = format!("{sweep_id}/{key}");
    if let Some(cached) = BARS.lock().expect("bars cache lock").as_ref()
        && cached.tag == tag
    {
        return Ok(cached.clone());
    }
    let body = deps.store.get(key).await?;
    let dir =
        tempfile::tempdir().map_err(|e| StepError::Config(format!("temporary directory: {e}")))?;
    // The engine picks the reader from the extension.
    let name = key.rsplit('/').next().unwrap_or("bars.csv");
    let path = dir.path().join(name);
    std::fs::write(&path, body)
        .map_err(|e| StepError::Config(format!("{}: {e}", path.display())))?;
    let cached = Arc::new(CachedBars {
        tag,
        path,
        _dir: dir,
    });
    *BARS.lock().expect("bars cache lock") = Some(cached.clone());
    Ok(cached)
}

pub async fn handle(input: ShardInput, deps: &Deps) -> Result<ShardOutput, StepError> {
    let started = Instant::now();
    let context = input.context;
    let bars = bars_file(deps, &context.sweep_id, &context.bars).await?;
    let items = input.items;
    let horizons = context.horizons.clone();
    // The engine is CPU-bound (and uses every core): off the async threads, so a local
    // run's other shards and the interpreter keep going.
    let (results, engine_runs) =
        tokio::task::spawn_blocking(move || run_items(&bars.path, &items, &horizons))
            .await
            .map_err(|e| StepError::Backtest(format!("the engine stopped: {e}")))??;
    let mut ids = Vec::with_capacity(results.len());
    for result in results {
        let key = keys::item_result(&context.sweep_id, &result.item);
        let body = serde_json::to_vec(&result).expect("results serialise");
        deps.store.put(&key, body, "application/json").await?;
        ids.push(result.item);
    }
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(sweep = %context.sweep_id, items = ids.len(), engine_runs, seconds, "shard done");
    Ok(ShardOutput {
        items: ids,
        engine_runs,
        seconds,
    })
}

/// Runs `items`, one engine pass per run of consecutive items with the same period and
/// settings; results in item order.
pub fn run_items(
    bars: &Path,
    items: &[WorkItem],
    horizons: &[usize],
) -> Result<(Vec<ItemResult>, usize), StepError> {
    let mut out = Vec::with_capacity(items.len());
    let mut runs = 0;
    let mut rest = items;
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|i| {
                (i.start, i.end, i.every) == (first.start, first.end, first.every)
                    && i.cost_bps == first.cost_bps
            })
            .count();
        let (group, tail) = rest.split_at(same);
        rest = tail;
        let mut text = String::new();
        for item in group {
            // Each screen on its own first, so an error names the item.
            ScreenSet::parse_toml(&item.screen.to_toml())
                .map_err(|e| StepError::Backtest(format!("item {}: {e}", item.id)))?;
            text.push_str(&item.screen.to_toml());
        }
        let screens = ScreenSet::parse_toml(&text)
            .map_err(|e| StepError::Backtest(format!("items {}..: {e}", first.id)))?;
        let settings = Settings {
            start: first.start,
            end: Some(first.end),
            every: first.every,
            cost_bps: first.cost_bps,
            horizons: horizons.to_vec(),
        };
        let result = backtest_file(bars, &screens, &settings).map_err(|e| {
            StepError::Backtest(format!(
                "items {} ({} to {}): {e}",
                group
                    .iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                first.start,
                first.end
            ))
        })?;
        runs += 1;
        for item in group {
            out.push(item_result(item, &result));
        }
    }
    Ok((out, runs))
}

fn item_result(item: &WorkItem, result: &BacktestResult) -> ItemResult {
    let p = result
        .screens
        .iter()
        .find(|p| p.name == item.screen.name)
        .expect("every screen of the run has a portfolio");
    ItemResult {
        item: item.id.clone(),
        variant: item.variant.clone(),
        window: item.window,
        phase: item.phase,
        metrics: serde_json::to_value(&p.metrics).expect("metrics serialise"),
        mean_ic: p
            .factor
            .as_ref()
            .map(|f| f.mean_ic.clone())
            .unwrap_or_default(),
        benchmark: serde_json::to_value(&result.benchmark.metrics).expect("metrics serialise"),
        equity_dates: result.calendar.equity_dates.clone(),
        equity: p.equity.clone(),
        benchmark_equity: result.benchmark.equity.clone(),
    }
}
