//! FetchBars: one batch's daily bars from the market data source, written to the store as CSV.
//!
//! For Alpaca the bars come through the history kept in the store
//! ([`screener_alpaca::history`]): only what is new since the last run is fetched (plus a few
//! overlap sessions, compared with what is stored), so a daily run costs about one request per
//! batch after the first backfill. Symbols whose stored history disagrees with the fresh
//! overlap (a split, a correction) are refetched in full and listed in the output. The offline
//! sources (synthetic, CSV) are read whole every time: they have nothing to save.

use std::time::Instant;

use chrono::Duration;
use screener_alpaca::history;
use screener_core::bar::write_bars_csv;
use screener_core::ports::DataSourceInfo;
use screener_core::workflow::{FetchBarsInput, FetchBarsOutput, StepError, keys};
use screener_core::{Deps, Symbol};

/// Sources whose bars are kept as history in the store and fetched incrementally.
pub fn keeps_history(source: &DataSourceInfo) -> bool {
    source.kind == "alpaca"
}

pub async fn handle(input: FetchBarsInput, deps: &Deps) -> Result<FetchBarsOutput, StepError> {
    let started = Instant::now();
    let run = &input.run;
    let symbols: Vec<Symbol> =
        serde_json::from_slice(&deps.store.get(&input.batch.symbols_key).await?)
            .map_err(|e| StepError::CorruptData(format!("{}: {e}", input.batch.symbols_key)))?;
    let start = run.run_date - Duration::days(i64::from(run.lookback_days));
    let (bars, refetched) = if keeps_history(&run.source) {
        let fetched = history::fetch_incremental(
            deps.store.clone(),
            deps.market.as_ref(),
            &history::history_prefix(&run.source),
            &symbols,
            start,
            run.run_date,
        )
        .await?;
        tracing::info!(
            batch = input.batch.index,
            backfilled = fetched.backfilled,
            incremental = fetched.incremental,
            from_store = fetched.from_store,
            refetched = fetched.refetched.len(),
            request_groups = fetched.groups,
            "history updated"
        );
        (fetched.bars, fetched.refetched)
    } else {
        let bars = deps
            .market
            .daily_bars(&symbols, start, run.run_date)
            .await?;
        (bars, Vec::new())
    };
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
        refetched,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
