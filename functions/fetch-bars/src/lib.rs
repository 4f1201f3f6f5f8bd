//! FetchBars: one batch's daily bars from the bar source in [`Deps`], written to the store as
//! CSV.
//!
//! The composition root picks the source with the market: for Alpaca the bars come through the
//! history kept in the store (`screener_alpaca::history::StoredHistory`): only what is new
//! since the last run is fetched (plus a few overlap sessions, compared with what is stored),
//! so a daily run costs about one request per batch after the first backfill, and symbols whose
//! stored history disagrees with the fresh overlap (a split, a correction) are refetched in
//! full and listed in the output. The offline sources (synthetic, CSV) are read whole every
//! time ([`screener_core::local::MarketBars`]): they have nothing to save.

use std::time::Instant;

use chrono::Duration;
use screener_core::bar::write_bars_csv;
use screener_core::workflow::{FetchBarsInput, FetchBarsOutput, StepError, keys};
use screener_core::{Deps, Symbol};
use tracing::Instrument;

pub async fn handle(input: FetchBarsInput, deps: &Deps) -> Result<FetchBarsOutput, StepError> {
    let span = tracing::info_span!("fetch_bars", batch = input.batch.index);
    fetch(input, deps).instrument(span).await
}

async fn fetch(input: FetchBarsInput, deps: &Deps) -> Result<FetchBarsOutput, StepError> {
    let started = Instant::now();
    let run = &input.run;
    let symbols: Vec<Symbol> =
        serde_json::from_slice(&deps.store.get(&input.batch.symbols_key).await?)
            .map_err(|e| StepError::CorruptData(format!("{}: {e}", input.batch.symbols_key)))?;
    let start = run.run_date - Duration::days(i64::from(run.lookback_days));
    let fetched = deps.bars.daily_bars(&symbols, start, run.run_date).await?;
    let bars = fetched.bars;
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
        requested = symbols.len(),
        fetched = bars.len(),
        "bars fetched"
    );
    Ok(FetchBarsOutput {
        bars_key: key,
        requested: symbols.len() as u32,
        fetched: bars.len() as u32,
        no_data,
        refetched: fetched.refetched,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
