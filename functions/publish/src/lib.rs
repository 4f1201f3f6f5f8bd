//! Publish: releases a run's results for people and tools. Copies the screen's files to
//! `results/date=YYYY-MM-DD/`, writes the manifest (every count, rejection, failed batch and
//! duration), sends the business metrics, and only then moves `results/latest.json`, so a run
//! that fails anywhere before this point leaves the last good result untouched.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;
use screener_core::ports::{MetricDatum, MetricUnit};
use screener_core::validation::Verdict;
use screener_core::workflow::{
    BatchStatus, BatchValidationReport, FailedBatch, LatestPointer, Manifest, PublishInput,
    PublishOutput, Rejection, Repair, RunCounts, StepError, keys,
};
use screener_core::{Deps, Symbol};

/// Telegram alerts, sent after `latest.json` has moved.
pub mod alerts;
/// `report.html` for people, written before the manifest lists it.
pub mod report;

pub async fn handle(input: PublishInput, deps: &Deps) -> Result<PublishOutput, StepError> {
    let started = Instant::now();
    let run = &input.run;
    let date = run.run_date;

    let mut counts = RunCounts {
        screened: input.screen.screened,
        ..RunCounts::default()
    };
    let mut rejections = Vec::new();
    let mut repairs = Vec::new();
    let mut no_data: Vec<Symbol> = Vec::new();
    let mut refetched = Vec::new();
    let mut failed_batches = Vec::new();
    let mut batches = input.batches.clone();
    batches.sort_by_key(|b| b.index);
    for batch in &batches {
        counts.requested += batch.requested;
        match batch.status {
            BatchStatus::Ok => {
                counts.fetched += batch.fetched;
                counts.valid += batch.valid;
                counts.repaired += batch.repaired;
                counts.rejected += batch.rejected;
                counts.no_data += batch.no_data;
                counts.refetched += batch.refetched;
                if let Some(key) = &batch.report_key {
                    let report: BatchValidationReport = read_json(deps, key).await?;
                    for symbol in report.symbols {
                        match symbol.verdict {
                            Verdict::Rejected => rejections.push(Rejection {
                                symbol: symbol.symbol,
                                reason: symbol.reason.unwrap_or_default(),
                            }),
                            Verdict::Repaired => repairs.push(Repair {
                                symbol: symbol.symbol,
                                notes: symbol.findings.into_iter().map(|f| f.detail).collect(),
                            }),
                            Verdict::Valid => {}
                        }
                    }
                    no_data.extend(report.no_data);
                    refetched.extend(report.refetched);
                }
            }
            BatchStatus::Failed => {
                counts.failed += batch.requested;
                // The batch's symbol list says exactly who was lost; if even that is gone,
                // the count still is not.
                let symbols: Vec<String> = read_json(deps, &batch.symbols_key)
                    .await
                    .unwrap_or_default();
                failed_batches.push(FailedBatch {
                    index: batch.index,
                    symbols,
                    error: batch.error.clone().unwrap_or_else(|| "Unknown".into()),
                    cause: batch.cause.clone().unwrap_or_default(),
                });
            }
        }
    }

    // Results first, manifest next, latest.json last.
    let mut files = Vec::new();
    let mut copies = vec![
        (
            input.screen.results_csv_key.clone(),
            "results.csv".to_string(),
            "text/csv",
        ),
        (
            input.screen.results_parquet_key.clone(),
            "results.parquet".to_string(),
            "application/vnd.apache.parquet",
        ),
    ];
    for screen in &input.screen.screens {
        copies.push((
            screen.top_key.clone(),
            keys::top_file_name(&screen.name),
            "text/csv",
        ));
    }
    let mut screens = input.screen.screens.clone();
    for (from, name, content_type) in copies {
        let body = deps.store.get(&from).await?;
        let to = keys::results_file(date, &name);
        deps.store.put(&to, body, content_type).await?;
        for screen in screens.iter_mut().filter(|s| s.top_key == from) {
            screen.top_key = to.clone();
        }
        files.push(name);
    }

    let finished_at = Utc::now();
    let mut durations_ms = BTreeMap::new();
    durations_ms.insert("fetch_universe".to_string(), input.universe_duration_ms);
    durations_ms.insert(
        "fetch_bars".to_string(),
        batches.iter().map(|b| b.fetch_ms).sum(),
    );
    durations_ms.insert(
        "validate".to_string(),
        batches.iter().map(|b| b.validate_ms).sum(),
    );
    durations_ms.insert("screen".to_string(), input.screen.duration_ms);
    let manifest_key = keys::results_file(date, "manifest.json");
    let mut manifest = Manifest {
        date,
        run_id: run.run_id.clone(),
        notice: run.source.synthetic.then(|| {
            "SYNTHETIC DATA: these results come from the generated demo market, not real prices.".to_string()
        }),
        source: run.source.clone(),
        started_at: run.started_at,
        finished_at,
        counts: counts.clone(),
        rejections,
        repairs,
        no_data,
        refetched,
        failed_batches,
        screens,
        worst_drawdown: input.screen.worst_drawdown.clone(),
        durations_ms,
        files,
    };
    manifest
        .durations_ms
        .insert("publish".to_string(), started.elapsed().as_millis() as u64);
    // For people; a report that can't be made is logged and left out, never a failed run.
    if report::publish_report(deps, &manifest, &batches).await {
        manifest.files.push(report::FILE.into());
    }
    manifest.files.push("manifest.json".into());
    let body = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    deps.store
        .put(&manifest_key, body, "application/json")
        .await?;

    // Metrics are for dashboards: a metrics outage is logged, never a failed run.
    if let Err(error) = deps.metrics.publish(&business_metrics(&manifest)).await {
        tracing::error!(%error, "business metrics were not published");
    }

    let latest = LatestPointer {
        date,
        run_id: run.run_id.clone(),
        manifest_key: manifest_key.clone(),
        published_at: Utc::now(),
    };
    let body = serde_json::to_vec_pretty(&latest).expect("pointer serializes");
    deps.store
        .put(keys::LATEST, body, "application/json")
        .await?;
    tracing::info!(%date, run_id = %run.run_id, screened = counts.screened, "published");
    // After latest.json moved: alert failures are logged, never a failed run.
    alerts::after_publish(deps, &manifest).await;
    Ok(PublishOutput {
        run_date: date,
        manifest_key,
        results_prefix: keys::results_prefix(date),
        counts,
    })
}

async fn read_json<T: serde::de::DeserializeOwned>(deps: &Deps, key: &str) -> Result<T, StepError> {
    let bytes = deps.store.get(key).await?;
    serde_json::from_slice(&bytes).map_err(|e| StepError::CorruptData(format!("{key}: {e}")))
}

/// The business metrics of one run (namespace `StockScreener/Business`).
pub fn business_metrics(manifest: &Manifest) -> Vec<MetricDatum> {
    let c = &manifest.counts;
    let mut data = vec![
        MetricDatum::new(
            "SymbolsRequested",
            f64::from(c.requested),
            MetricUnit::Count,
        ),
        MetricDatum::new("SymbolsScreened", f64::from(c.screened), MetricUnit::Count),
        MetricDatum::new("SymbolsRejected", f64::from(c.rejected), MetricUnit::Count),
        MetricDatum::new("SymbolsFailed", f64::from(c.failed), MetricUnit::Count),
        MetricDatum::new(
            "SymbolsWithoutData",
            f64::from(c.no_data),
            MetricUnit::Count,
        ),
        MetricDatum::new(
            "RunDuration",
            (manifest.finished_at - manifest.started_at)
                .num_milliseconds()
                .max(0) as f64
                / 1000.0,
            MetricUnit::Seconds,
        ),
    ];
    if let Some(worst) = &manifest.worst_drawdown {
        data.push(MetricDatum::new(
            "WorstDrawdown",
            worst.drawdown_180d * 100.0,
            MetricUnit::Percent,
        ));
    }
    for screen in &manifest.screens {
        data.push(
            MetricDatum::new("Candidates", f64::from(screen.count), MetricUnit::Count)
                .with_dimension("Screen", &screen.name),
        );
    }
    data
}
