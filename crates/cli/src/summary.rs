//! What `screener run` prints at the end: the counts, the top candidates, and the paths written.

use std::fmt::Write;

use screener_core::Deps;
use screener_core::catalogue;
use screener_core::workflow::{LatestPointer, Manifest, keys};

/// A short report of the published run `latest` points at, or an explanation of why not.
pub async fn published_summary(deps: &Deps, top_rows: usize) -> Result<String, String> {
    let store = &deps.store;
    let latest: LatestPointer = serde_json::from_slice(
        &store
            .get(keys::LATEST)
            .await
            .map_err(|e| format!("reading {}: {e}", keys::LATEST))?,
    )
    .map_err(|e| format!("{}: {e}", keys::LATEST))?;
    let manifest: Manifest = serde_json::from_slice(
        &store
            .get(&latest.manifest_key)
            .await
            .map_err(|e| format!("reading the manifest: {e}"))?,
    )
    .map_err(|e| format!("{}: {e}", latest.manifest_key))?;

    let mut out = String::new();
    let c = &manifest.counts;
    if let Some(notice) = &manifest.notice {
        let _ = writeln!(out, "*** {notice} ***");
    }
    let _ = writeln!(
        out,
        "Run {} for {} ({})",
        manifest.run_id, manifest.date, manifest.source.description
    );
    let _ = writeln!(
        out,
        "Symbols: {} requested, {} fetched, {} valid ({} repaired), {} rejected, {} without data, {} in failed batches; {} screened",
        c.requested, c.fetched, c.valid, c.repaired, c.rejected, c.no_data, c.failed, c.screened
    );
    for failed in &manifest.failed_batches {
        let _ = writeln!(
            out,
            "Failed batch {} ({} symbols): {}: {}",
            failed.index,
            failed.symbols.len(),
            failed.error,
            failed.cause
        );
    }
    let _ = writeln!(out, "Screens:");
    for screen in &manifest.screens {
        let _ = writeln!(
            out,
            "  {:<24} {:>5} passing  {}",
            screen.name, screen.count, screen.description
        );
    }
    if let Some(first) = manifest.screens.first() {
        let top = store.get(&first.top_key).await.map_err(|e| e.to_string())?;
        let _ = writeln!(
            out,
            "\nTop {} of {}:",
            top_rows.min(first.count as usize),
            first.name
        );
        out.push_str(&top_table(&top, top_rows));
    }
    let _ = writeln!(out, "\nWritten:");
    for file in &manifest.files {
        let _ = writeln!(
            out,
            "  {}",
            store.locate(&keys::results_file(manifest.date, file))
        );
    }
    let _ = writeln!(out, "  {}", store.locate(keys::LATEST));
    Ok(out)
}

/// A fixed-width table of the leading columns of a top-list CSV.
fn top_table(csv_bytes: &[u8], rows: usize) -> String {
    const WANTED: [&str; 6] = [
        "rank",
        "symbol",
        "close",
        "drawdown_180d",
        "days_since_peak_180d",
        "avg_volume_20",
    ];
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let Ok(headers) = reader.headers().cloned() else {
        return String::new();
    };
    let columns: Vec<(usize, &str)> = WANTED
        .iter()
        .filter_map(|w| headers.iter().position(|h| h == *w).map(|i| (i, *w)))
        .collect();
    let mut out = String::new();
    // Metric columns by their catalogue label; rank and symbol are not metrics and keep their names.
    for (_, name) in &columns {
        let _ = write!(out, "{:>22}", catalogue::label(name));
    }
    out.push('\n');
    for record in reader.records().flatten().take(rows) {
        for (i, name) in &columns {
            let cell = record.get(*i).unwrap_or("");
            // Metrics read as the report and the bot show them (screener_core::catalogue).
            let shown = match (catalogue::metric(name), cell.parse::<f64>()) {
                (Some(metric), Ok(v)) => metric.format.show(Some(v)),
                _ => cell.to_string(),
            };
            let _ = write!(out, "{shown:>22}");
        }
        out.push('\n');
    }
    out
}
