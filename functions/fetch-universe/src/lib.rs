//! FetchUniverse: decides the run (its id and date), lists the symbols to screen, and writes
//! them to the store in batches for the Map state to iterate over. With the batch size `auto`
//! (Alpaca's default) a batch is as many symbols as fill the last page of a backfill's bars
//! ([`screener_alpaca::batching`]).

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use screener_alpaca::batching::auto_batch_size;
use screener_core::calendar;
use screener_core::config::BATCH_SIZE_AUTO;
use screener_core::workflow::{
    BatchRef, FetchUniverseInput, FetchUniverseOutput, RunContext, StepError, keys,
};
use screener_core::{Deps, Symbol};

/// A session counts as complete from 21:00 UTC (16:00-17:00 in New York), so a run started
/// before that screens the previous session.
const SESSION_COMPLETE_HOUR_UTC: i64 = 21;

pub async fn handle(
    input: FetchUniverseInput,
    deps: &Deps,
) -> Result<FetchUniverseOutput, StepError> {
    let started = Instant::now();
    let run_date = match input.request.date {
        Some(date) => date,
        None => last_completed_session(input.started_at),
    };
    let run_id = run_id(&input.execution_name)?;

    let universe = deps.market.universe().await?;
    let mut unknown_symbols = Vec::new();
    let mut symbols: Vec<Symbol> = match &input.request.symbols {
        Some(requested) => {
            let (parsed, bad): (Vec<_>, Vec<_>) = requested
                .iter()
                .map(|s| Symbol::parse(s.trim()))
                .partition(Result::is_ok);
            if !bad.is_empty() {
                let problems: Vec<String> = bad
                    .into_iter()
                    .map(|e| e.unwrap_err().to_string())
                    .collect();
                return Err(StepError::InvalidInput(format!(
                    "symbols: {}",
                    problems.join("; ")
                )));
            }
            let known: std::collections::HashSet<&Symbol> =
                universe.iter().map(|a| &a.symbol).collect();
            let parsed: Vec<Symbol> = parsed.into_iter().map(Result::unwrap).collect();
            // Unknown symbols are still requested, so the manifest reports them as having no data.
            unknown_symbols = parsed
                .iter()
                .filter(|s| !known.contains(s))
                .map(|s| s.to_string())
                .collect();
            parsed
        }
        None => universe.into_iter().map(|a| a.symbol).collect(),
    };
    symbols.sort();
    symbols.dedup();
    if let Some(max) = input.request.max_symbols {
        symbols.truncate(max);
    }

    let batch_size = match deps.settings.batch_size {
        BATCH_SIZE_AUTO => auto_batch_size(run_date, deps.settings.lookback_days),
        n => n,
    };
    let mut batches = Vec::new();
    for (index, chunk) in symbols.chunks(batch_size).enumerate() {
        let index = index as u32;
        let key = keys::batch_symbols(&run_id, index);
        let body = serde_json::to_vec(chunk).expect("symbols serialize");
        deps.store.put(&key, body, "application/json").await?;
        batches.push(BatchRef {
            index,
            symbols_key: key,
            size: chunk.len() as u32,
        });
    }
    // The source's own calendar (Alpaca's), for validation to count sessions by.
    let history_start = run_date - Duration::days(i64::from(deps.settings.lookback_days));
    let sessions_key = match deps.market.sessions(history_start, run_date).await? {
        Some(days) => {
            let key = keys::run_sessions(&run_id);
            let sessions = calendar::Sessions::served(history_start, run_date, days);
            let body = serde_json::to_vec(&sessions).expect("sessions serialize");
            deps.store.put(&key, body, "application/json").await?;
            Some(key)
        }
        None => None,
    };
    tracing::info!(run_id, %run_date, symbols = symbols.len(), batches = batches.len(), "universe ready");
    Ok(FetchUniverseOutput {
        run: RunContext {
            run_id,
            run_date,
            started_at: input.started_at,
            source: deps.market.source(),
            lookback_days: deps.settings.lookback_days,
            sessions_key,
        },
        batch_count: batches.len() as u32,
        symbol_count: symbols.len() as u32,
        batches,
        unknown_symbols,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// The last NYSE session that had closed at `now`.
pub fn last_completed_session(now: DateTime<Utc>) -> NaiveDate {
    let shifted = now - Duration::hours(SESSION_COMPLETE_HOUR_UTC);
    calendar::last_trading_day_on_or_before(shifted.date_naive())
}

/// The run id is the execution name: it must be usable as a store key segment.
fn run_id(execution_name: &str) -> Result<String, StepError> {
    let ok = !execution_name.is_empty()
        && execution_name.len() <= 80
        && execution_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !execution_name.starts_with('.');
    if ok {
        Ok(execution_name.to_string())
    } else {
        Err(StepError::InvalidInput(format!(
            "execution name {execution_name:?} cannot name a run: use 1-80 characters of A-Z, a-z, 0-9, '-', '_', '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_run_before_the_close_screens_the_previous_session() {
        let morning = Utc.with_ymd_and_hms(2024, 12, 2, 14, 0, 0).unwrap(); // Monday
        assert_eq!(
            last_completed_session(morning),
            NaiveDate::from_ymd_opt(2024, 11, 29).unwrap()
        );
        let evening = Utc.with_ymd_and_hms(2024, 12, 2, 22, 30, 0).unwrap();
        assert_eq!(
            last_completed_session(evening),
            NaiveDate::from_ymd_opt(2024, 12, 2).unwrap()
        );
    }

    #[test]
    fn execution_names_that_are_not_key_safe_are_refused() {
        assert!(run_id("2024-12-02-daily").is_ok());
        assert!(run_id("a/b").is_err());
        assert!(run_id("../x").is_err());
        assert!(run_id("").is_err());
    }
}
