//! ValidateBatch: checks every symbol of one batch, writes the usable bars and a report of
//! what was repaired or rejected and why. Rejections are data, not errors. The usable bars
//! are written as Parquet, the columnar form the Screen step decodes fastest, and as CSV under
//! `chart-bars/` for the dashboard's symbol chart (which has no Parquet reader and outlives
//! `runs/`).

use std::time::Instant;

use screener_core::bar::{BarsBySymbol, read_bars_csv, write_bars_csv};
use screener_core::calendar::Sessions;
use screener_core::validation::{Verdict, validate_symbol};
use screener_core::workflow::{
    BatchResult, BatchStatus, BatchValidationReport, StepError, ValidateInput, keys,
};
use screener_core::{Deps, Symbol};
use screener_parquet::write_bars_parquet;

pub async fn handle(input: ValidateInput, deps: &Deps) -> Result<BatchResult, StepError> {
    let started = Instant::now();
    let run = &input.run;
    let index = input.batch.index;
    let requested: Vec<Symbol> =
        serde_json::from_slice(&deps.store.get(&input.batch.symbols_key).await?)
            .map_err(|e| StepError::CorruptData(format!("{}: {e}", input.batch.symbols_key)))?;
    let mut received = read_bars_csv(&deps.store.get(&input.fetched.bars_key).await?)
        .map_err(|e| StepError::CorruptData(format!("{}: {e}", input.fetched.bars_key)))?;

    let sessions = match &run.sessions_key {
        Some(key) => serde_json::from_slice::<Sessions>(&deps.store.get(key).await?)
            .map_err(|e| StepError::CorruptData(format!("{key}: {e}")))?,
        None => Sessions::nyse(),
    };

    let mut valid = BarsBySymbol::new();
    let mut reports = Vec::new();
    let mut no_data = Vec::new();
    for symbol in &requested {
        let Some(bars) = received.remove(symbol) else {
            no_data.push(symbol.clone());
            continue;
        };
        let (report, kept) = validate_symbol(
            symbol,
            bars,
            run.run_date,
            &sessions,
            &deps.settings.validation,
        );
        if let Some(kept) = kept {
            valid.insert(symbol.clone(), kept);
        }
        reports.push(report);
    }
    // Bars for symbols nobody asked for are dropped, and said so.
    for symbol in received.keys() {
        tracing::warn!(batch = index, %symbol, "source returned bars for a symbol not in the batch; ignored");
    }
    let count = |v: Verdict| reports.iter().filter(|r| r.verdict == v).count() as u32;
    let (valid_count, repaired, rejected) = (
        count(Verdict::Valid),
        count(Verdict::Repaired),
        count(Verdict::Rejected),
    );

    let valid_key = keys::batch_valid_bars(&run.run_id, index);
    deps.store
        .put(
            &valid_key,
            write_bars_parquet(&valid),
            screener_parquet::CONTENT_TYPE,
        )
        .await?;
    deps.store
        .put(
            &keys::chart_bars(run.run_date, &run.run_id, index),
            write_bars_csv(&valid),
            "text/csv",
        )
        .await?;
    let report_key = keys::batch_validation_report(&run.run_id, index);
    let report = BatchValidationReport {
        index,
        symbols: reports,
        no_data,
        refetched: input.fetched.refetched.clone(),
    };
    deps.store
        .put(
            &report_key,
            serde_json::to_vec(&report).expect("report serializes"),
            "application/json",
        )
        .await?;
    tracing::info!(
        batch = index,
        valid = valid_count + repaired,
        rejected,
        "batch validated"
    );
    Ok(BatchResult {
        index,
        status: BatchStatus::Ok,
        symbols_key: input.batch.symbols_key.clone(),
        requested: requested.len() as u32,
        fetched: input.fetched.fetched,
        valid: valid_count + repaired,
        repaired,
        rejected,
        no_data: report.no_data.len() as u32,
        refetched: report.refetched.len() as u32,
        valid_key: Some(valid_key),
        report_key: Some(report_key),
        error: None,
        cause: None,
        fetch_ms: input.fetched.duration_ms,
        validate_ms: started.elapsed().as_millis() as u64,
    })
}
