//! Publish: releases a run's results for people and tools. Copies the screen's files to
//! `results/date=YYYY-MM-DD/`, writes the manifest (every count, rejection, failed batch and
//! duration) and the run's digest (`digest.json`: passing symbols per screen and where the bars
//! are, for the dashboard), sends the business metrics, and only then moves
//! `results/latest.json`, so a run that fails anywhere before this point leaves the last good
//! result untouched.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use screener_core::digest::{BarBatch, DIGEST_FILE, RunDigest};
use screener_core::ports::{MetricDatum, MetricUnit};
use screener_core::results::ResultsTable;
use screener_core::validation::Verdict;
use screener_core::workflow::{
    BatchResult, BatchStatus, BatchValidationReport, FailedBatch, LatestPointer, Manifest,
    PublishInput, PublishOutput, Refetch, Rejection, Repair, RunContext, RunCounts, ScreenCount,
    ScreenOutput, StepError, keys,
};
use screener_core::{Deps, Symbol};

/// Telegram alerts, sent after `latest.json` has moved.
pub mod alerts;
/// `report.html` for people, written before the manifest lists it.
pub mod report;

/// The step, in the order that keeps the last good result safe: add up the batches, copy the
/// results, write the report and the manifest, send the metrics, move `latest.json`, and only
/// then send the alerts.
pub async fn handle(input: PublishInput, deps: &Deps) -> Result<PublishOutput, StepError> {
    let started = Instant::now();
    let run = &input.run;
    let date = run.run_date;
    let mut batches = input.batches.clone();
    batches.sort_by_key(|b| b.index);
    let mut tally = tally_batches(deps, run, &batches, input.screen.screened).await?;
    // Results first, manifest next, latest.json last.
    let (files, screens) = copy_results(deps, &input.screen, date).await?;
    let bar_batches = std::mem::take(&mut tally.bar_batches);
    let mut manifest = assemble_manifest(&input, &batches, tally, files, screens);
    write_digest(deps, &manifest, bar_batches).await?;
    manifest
        .durations_ms
        .insert("publish".to_string(), started.elapsed().as_millis() as u64);
    let manifest_key = write_manifest(deps, &mut manifest).await?;
    send_business_metrics(deps, &manifest).await;
    move_latest(deps, &manifest, &manifest_key).await?;
    tracing::info!(%date, run_id = %run.run_id, screened = manifest.counts.screened, "published");
    // After latest.json moved: alert failures are logged, never a failed run.
    alerts::after_publish(deps, &manifest).await;
    Ok(PublishOutput {
        run_date: date,
        manifest_key,
        results_prefix: keys::results_prefix(date),
        counts: manifest.counts,
    })
}

/// What the batches add up to: the counts, and who was rejected, repaired, without data,
/// refetched or lost with a failed batch.
#[derive(Default)]
struct Tally {
    counts: RunCounts,
    rejections: Vec<Rejection>,
    repairs: Vec<Repair>,
    no_data: Vec<Symbol>,
    refetched: Vec<Refetch>,
    failed_batches: Vec<FailedBatch>,
    /// Each validated batch's bars and its symbol range, for the digest.
    bar_batches: Vec<BarBatch>,
}

/// Adds up `batches` (in index order), reading each validation report and, for a failed
/// batch, its symbol list.
async fn tally_batches(
    deps: &Deps,
    run: &RunContext,
    batches: &[BatchResult],
    screened: u32,
) -> Result<Tally, StepError> {
    let mut tally = Tally {
        counts: RunCounts {
            screened,
            ..RunCounts::default()
        },
        ..Tally::default()
    };
    for batch in batches {
        tally.counts.requested += batch.requested;
        match batch.status {
            BatchStatus::Ok => {
                let counts = &mut tally.counts;
                counts.fetched += batch.fetched;
                counts.valid += batch.valid;
                counts.repaired += batch.repaired;
                counts.rejected += batch.rejected;
                counts.no_data += batch.no_data;
                counts.refetched += batch.refetched;
                if let Some(key) = &batch.report_key {
                    let report: BatchValidationReport = read_json(deps, key).await?;
                    if batch.valid_key.is_some() {
                        let key = keys::chart_bars(run.run_date, &run.run_id, batch.index);
                        tally.add_bar_batch(key, &report);
                    }
                    tally.add_report(report);
                }
            }
            BatchStatus::Failed => {
                tally.counts.failed += batch.requested;
                // The batch's symbol list says exactly who was lost; if even that is gone,
                // the count still is not.
                let symbols: Vec<String> = read_json(deps, &batch.symbols_key)
                    .await
                    .unwrap_or_default();
                tally.failed_batches.push(FailedBatch {
                    index: batch.index,
                    symbols,
                    error: batch.error.clone().unwrap_or_else(|| "Unknown".into()),
                    cause: batch.cause.clone().unwrap_or_default(),
                });
            }
        }
    }
    Ok(tally)
}

impl Tally {
    fn add_bar_batch(&mut self, key: String, report: &BatchValidationReport) {
        let kept = report
            .symbols
            .iter()
            .filter(|s| s.verdict != Verdict::Rejected)
            .map(|s| s.symbol.as_str());
        if let (Some(first), Some(last)) = (kept.clone().min(), kept.max()) {
            self.bar_batches.push(BarBatch {
                key,
                first: first.to_string(),
                last: last.to_string(),
            });
        }
    }

    fn add_report(&mut self, report: BatchValidationReport) {
        for symbol in report.symbols {
            match symbol.verdict {
                Verdict::Rejected => self.rejections.push(Rejection {
                    symbol: symbol.symbol,
                    reason: symbol.reason.unwrap_or_default(),
                }),
                Verdict::Repaired => self.repairs.push(Repair {
                    symbol: symbol.symbol,
                    notes: symbol.findings.into_iter().map(|f| f.detail).collect(),
                }),
                Verdict::Valid => {}
            }
        }
        self.no_data.extend(report.no_data);
        self.refetched.extend(report.refetched);
    }
}

/// Copies the screen's files to `results/date=D/`; answers their names and the screens with
/// their top lists' new keys.
async fn copy_results(
    deps: &Deps,
    screen: &ScreenOutput,
    date: NaiveDate,
) -> Result<(Vec<String>, Vec<ScreenCount>), StepError> {
    let mut copies = vec![
        (
            screen.results_csv_key.clone(),
            "results.csv".to_string(),
            "text/csv",
        ),
        (
            screen.results_parquet_key.clone(),
            "results.parquet".to_string(),
            "application/vnd.apache.parquet",
        ),
    ];
    for s in &screen.screens {
        copies.push((s.top_key.clone(), keys::top_file_name(&s.name), "text/csv"));
    }
    if let Some(charts) = &screen.charts_key {
        copies.push((
            charts.clone(),
            report::CHARTS_FILE.to_string(),
            "application/json",
        ));
    }
    let mut files = Vec::new();
    let mut screens = screen.screens.clone();
    for (from, name, content_type) in copies {
        let body = deps.store.get(&from).await?;
        let to = keys::results_file(date, &name);
        deps.store.put(&to, body, content_type).await?;
        for screen in screens.iter_mut().filter(|s| s.top_key == from) {
            screen.top_key = to.clone();
        }
        files.push(name);
    }
    Ok((files, screens))
}

/// The manifest of the run, finished now; `publish` is the one duration not in it yet.
fn assemble_manifest(
    input: &PublishInput,
    batches: &[BatchResult],
    tally: Tally,
    files: Vec<String>,
    screens: Vec<ScreenCount>,
) -> Manifest {
    let run = &input.run;
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
    Manifest {
        date: run.run_date,
        run_id: run.run_id.clone(),
        notice: run.source.synthetic.then(|| {
            "SYNTHETIC DATA: these results come from the generated demo market, not real prices.".to_string()
        }),
        source: run.source.clone(),
        started_at: run.started_at,
        finished_at: Utc::now(),
        counts: tally.counts,
        rejections: tally.rejections,
        repairs: tally.repairs,
        no_data: tally.no_data,
        refetched: tally.refetched,
        failed_batches: tally.failed_batches,
        screens,
        worst_drawdown: input.screen.worst_drawdown.clone(),
        durations_ms,
        files,
    }
}

/// Writes `report.html` (for people; a report that can't be made is logged and left out,
/// never a failed run), then the manifest listing it; answers the manifest's key.
async fn write_manifest(deps: &Deps, manifest: &mut Manifest) -> Result<String, StepError> {
    if report::publish_report(deps, manifest).await {
        manifest.files.push(report::FILE.into());
    }
    manifest.files.push("manifest.json".into());
    let key = keys::results_file(manifest.date, "manifest.json");
    let body = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
    deps.store.put(&key, body, "application/json").await?;
    Ok(key)
}

/// Writes `digest.json` from the published `results.csv` (before `latest.json` moves, so a
/// page that finds the run finds its digest).
async fn write_digest(
    deps: &Deps,
    manifest: &Manifest,
    bar_batches: Vec<BarBatch>,
) -> Result<(), StepError> {
    let csv = deps
        .store
        .get(&keys::results_file(manifest.date, "results.csv"))
        .await?;
    let table = ResultsTable::parse(&csv).map_err(|e| StepError::CorruptData(e.to_string()))?;
    let digest = RunDigest::from_results(
        manifest.date,
        &manifest.run_id,
        manifest.source.synthetic,
        &table,
        bar_batches,
    );
    let body = serde_json::to_vec(&digest).expect("digest serializes");
    deps.store
        .put(
            &keys::results_file(manifest.date, DIGEST_FILE),
            body,
            "application/json",
        )
        .await?;
    Ok(())
}

/// Metrics are for dashboards: a metrics outage is logged, never a failed run.
async fn send_business_metrics(deps: &Deps, manifest: &Manifest) {
    if let Err(error) = deps.metrics.publish(&business_metrics(manifest)).await {
        tracing::error!(%error, "business metrics were not published");
    }
}

/// Points `results/latest.json` at the manifest: the last write of a publish.
async fn move_latest(
    deps: &Deps,
    manifest: &Manifest,
    manifest_key: &str,
) -> Result<(), StepError> {
    let latest = LatestPointer {
        date: manifest.date,
        run_id: manifest.run_id.clone(),
        manifest_key: manifest_key.to_string(),
        published_at: Utc::now(),
    };
    let body = serde_json::to_vec_pretty(&latest).expect("pointer serializes");
    deps.store
        .put(keys::LATEST, body, "application/json")
        .await?;
    Ok(())
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
