//! FetchBars: one batch's daily bars from the market data source, written to the store as CSV.

use std::time::Instant;

use chrono::Duration;
use screener_core::bar::write_bars_csv;
use screener_core::workflow::{FetchBarsInput, FetchBarsOutput, StepError, keys};
use screener_core::{Deps, Symbol};

pub async fn handle(input: FetchBarsInput, deps: &Deps) -> Result<FetchBarsOutput, StepError> {
    let started = Instant::now();
    let run = &input.run;
    let symbols: Vec<Symbol> =
        serde_json::from_slice(&deps.store.get(&input.batch.symbols_key).await?)
            .map_err(|e| StepError::CorruptData(format!("{}: {e}", input.batch.symbols_key)))?;
    let start = run.run_date - Duration::days(i64::from(run.lookback_days));
    let bars = deps
        .market
        .daily_bars(&symbols, start, run.run_date)
        .await?;
    let no_data: Vec<Symbol> = symbols
        .iter()
        .filter(|s| !bars.contains_key(*s))
        .cloned()
        .collect();
    let key = keys::batch_bars(&run.run_id, input.batch.index);
    deps.store
        .put(&key, write_bars_csv(&bars), "text/csv")
        .await?;
    tracing::info!(
        batch = input.batch.index,
        requested = symbols.len(),
        fetched = bars.len(),
        "bars fetched"
    );
    Ok(FetchBarsOutput {
        bars_key: key,
        requested: symbols.len() as u32,
        fetched: bars.len() as u32,
        no_data,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
