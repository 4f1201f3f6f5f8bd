//! Screen: computes every metric on each valid symbol's latest bar (with polars, in
//! `screener-analytics`), applies the screens, and writes the results and each screen's top
//! list under the run's prefix for Publish to release.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use futures::stream::{self, StreamExt};

use screener_analytics::polars::prelude::{Column, DataFrame};
use screener_analytics::{
    PartsScreener, ScreenOutcome, ScreenSet, read_bars_parquet_frame, write_csv, write_parquet,
};
use screener_core::Deps;
use screener_core::workflow::{
    BatchResult, BatchStatus, CHARTED_PER_SCREEN, ChartHistory, ScreenCount, ScreenInput,
    ScreenOutput, StepError, WorstDrawdown, keys,
};

/// Batch files read from the store ahead of the one being screened (each a few MB at most).
pub const BATCHES_READ_AHEAD: usize = 8;

pub async fn handle(input: ScreenInput, deps: &Deps) -> Result<ScreenOutput, StepError> {
    let started = Instant::now();
    let run = &input.run;
    let screens = load_screens(deps)?;

    // Batch by batch (validate's Parquet files): each batch holds every bar of its symbols,
    // so memory is the batches read ahead plus the latest-bar results, whatever the market's size.
    let mut screener = PartsScreener::new(&screens, Some(run.run_date));
    let usable_batches: Vec<&BatchResult> = input
        .batches
        .iter()
        .filter(|b| b.status == BatchStatus::Ok && b.valid > 0 && b.valid_key.is_some())
        .collect();
    let usable: u32 = usable_batches.iter().map(|b| b.valid).sum();
    let keys: Vec<String> = usable_batches
        .iter()
        .filter_map(|b| b.valid_key.clone())
        .collect();
    // The next batches are read, each in its own task, while one is screened: on S3 a read
    // is tens of milliseconds of waiting, which would otherwise add up batch after batch.
    let store = deps.store.clone();
    let mut reads = stream::iter(keys)
        .map(move |key: String| {
            let store = store.clone();
            tokio::spawn(async move {
                let bytes = store.get(&key).await;
                (key, bytes)
            })
        })
        .buffered(BATCHES_READ_AHEAD);
    // Which batch file holds each symbol, to read back only the charted symbols' batches.
    let mut batch_of: HashMap<String, String> = HashMap::new();
    while let Some(read) = reads.next().await {
        let (key, bytes) = read.expect("a store read does not panic");
        let bytes = bytes?;
        let bars = read_bars_parquet_frame(&bytes)
            .map_err(|e| StepError::CorruptData(format!("valid bars {key}: {e}")))?;
        note_symbols(&bars, &key, &mut batch_of);
        screener
            .add(bars, &key)
            .map_err(|e| StepError::CorruptData(format!("screening {key}: {e}")))?;
    }
    if usable == 0 {
        let failed = input
            .batches
            .iter()
            .filter(|b| b.status == BatchStatus::Failed)
            .count();
        return Err(StepError::NothingValid(format!(
            "no symbol passed validation ({} batches, {failed} failed); see the batches' validation reports",
            input.batches.len()
        )));
    }
    let outcome = screener
        .finish()
        .map_err(|e| StepError::CorruptData(format!("screening: {e}")))?;
    let worst_drawdown = worst_drawdown(&outcome);
    let ScreenOutcome {
        mut results,
        screens: mut summaries,
        ..
    } = outcome;
    // Every file says where its numbers come from, so synthetic data is never mistaken for real.
    let source_label = if run.source.synthetic {
        "SYNTHETIC"
    } else {
        run.source.kind.as_str()
    };
    label_source(&mut results, source_label)?;
    for summary in &mut summaries {
        label_source(&mut summary.top, source_label)?;
    }

    let put = |name: &str, body: Vec<u8>, content_type: &'static str| {
        let key = keys::run_screen_file(&run.run_id, name);
        async move { deps.store.put(&key, body, content_type).await.map(|_| key) }
    };
    let analytics = |e: screener_analytics::AnalyticsError| {
        StepError::CorruptData(format!("writing results: {e}"))
    };
    let results_csv_key = put(
        "results.csv",
        write_csv(&mut results).map_err(analytics)?,
        "text/csv",
    )
    .await?;
    let results_parquet_key = put(
        "results.parquet",
        write_parquet(&mut results).map_err(analytics)?,
        "application/vnd.apache.parquet",
    )
    .await?;
    let charted: BTreeSet<String> = summaries
        .iter()
        .flat_map(|summary| first_symbols(&summary.top, CHARTED_PER_SCREEN))
        .collect();
    let charts = chart_history(deps, &charted, &batch_of).await?;
    let charts_key = put(
        "charts.json",
        serde_json::to_vec(&charts).expect("chart history serializes"),
        "application/json",
    )
    .await?;
    let mut counts = Vec::new();
    for mut summary in summaries {
        let file = keys::top_file_name(&summary.name);
        let top_key = put(
            &file,
            write_csv(&mut summary.top).map_err(analytics)?,
            "text/csv",
        )
        .await?;
        counts.push(ScreenCount {
            name: summary.name,
            description: summary.description,
            count: summary.count as u32,
            top_key,
        });
    }
    tracing::info!(
        screened = results.height(),
        screens = counts.len(),
        "screened"
    );
    Ok(ScreenOutput {
        screened: results.height() as u32,
        results_csv_key,
        results_parquet_key,
        charts_key: Some(charts_key),
        screens: counts,
        worst_drawdown,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// Records `key` as the batch file of every symbol in `bars` (a batch's rows come symbol by
/// symbol, so only changes of symbol are looked up).
fn note_symbols(bars: &DataFrame, key: &str, batch_of: &mut HashMap<String, String>) {
    let Ok(symbols) = bars.column("symbol").and_then(|c| c.str()) else {
        return;
    };
    let mut last: Option<&str> = None;
    for symbol in symbols.iter().flatten() {
        if last != Some(symbol) {
            batch_of.insert(symbol.to_string(), key.to_string());
            last = Some(symbol);
        }
    }
}

/// The first `n` symbols of a top list, in rank order.
fn first_symbols(top: &DataFrame, n: usize) -> Vec<String> {
    top.column("symbol")
        .and_then(|c| c.str())
        .map(|c| c.iter().flatten().take(n).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The closes of `charted`, read back from the batch files that hold them (a few of the run's
/// batches, not all of them).
async fn chart_history(
    deps: &Deps,
    charted: &BTreeSet<String>,
    batch_of: &HashMap<String, String>,
) -> Result<ChartHistory, StepError> {
    // Days from 0001-01-01 to 1970-01-01: polars' Date counts from the latter.
    const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;
    let files: BTreeSet<&String> = charted.iter().filter_map(|s| batch_of.get(s)).collect();
    let mut charts = ChartHistory::default();
    for key in files {
        let bars = read_bars_parquet_frame(&deps.store.get(key).await?)
            .map_err(|e| StepError::CorruptData(format!("valid bars {key}: {e}")))?;
        let columns = (|| {
            Ok::<_, screener_analytics::polars::prelude::PolarsError>((
                bars.column("symbol")?.str()?.clone(),
                bars.column("date")?.date()?.phys.clone(),
                bars.column("close")?.f64()?.clone(),
            ))
        })()
        .map_err(|e| StepError::CorruptData(format!("valid bars {key}: {e}")))?;
        let (symbols, dates, closes) = columns;
        for ((symbol, date), close) in symbols.iter().zip(dates.iter()).zip(closes.iter()) {
            let (Some(symbol), Some(date), Some(close)) = (symbol, date, close) else {
                continue;
            };
            if !charted.contains(symbol) {
                continue;
            }
            let Some(date) =
                chrono::NaiveDate::from_num_days_from_ce_opt(date + UNIX_EPOCH_DAYS_FROM_CE)
            else {
                continue;
            };
            charts
                .closes
                .entry(symbol.to_string())
                .or_default()
                .push((date, close));
        }
    }
    for points in charts.closes.values_mut() {
        points.sort_by_key(|(date, _)| *date);
    }
    Ok(charts)
}

fn label_source(frame: &mut DataFrame, label: &str) -> Result<(), StepError> {
    let column = Column::new("data_source".into(), vec![label; frame.height()]);
    frame
        .with_column(column)
        .map(|_| ())
        .map_err(|e| StepError::CorruptData(format!("labelling results: {e}")))
}

fn load_screens(deps: &Deps) -> Result<ScreenSet, StepError> {
    match &deps.settings.screens_file {
        None => Ok(ScreenSet::default_screens()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| StepError::Config(format!("screens file {}: {e}", path.display())))?;
            ScreenSet::parse_toml(&text)
                .map_err(|e| StepError::Config(format!("screens file {}: {e}", path.display())))
        }
    }
}

/// The symbol furthest below its 180-day high: the old system's headline metric.
fn worst_drawdown(outcome: &ScreenOutcome) -> Option<WorstDrawdown> {
    let symbols = outcome.results.column("symbol").ok()?.str().ok()?.clone();
    let drawdowns = outcome
        .results
        .column("drawdown_180d")
        .ok()?
        .f64()
        .ok()?
        .clone();
    symbols
        .iter()
        .zip(drawdowns.iter())
        .filter_map(|(s, d)| Some((s?, d?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(symbol, drawdown_180d)| WorstDrawdown {
            symbol: symbol.to_string(),
            drawdown_180d,
        })
}
