//! A published run made up for tests and the latency benchmark: `results.csv` with the real
//! column layout (every metric, `pass_*`/`rank_*` per screen), its manifest and
//! `results/latest.json`, for any number of symbols. Values are deterministic pseudo-random,
//! not market data. Behind the `fixtures` feature: the bot's tests and benchmark turn it on,
//! no production build has it.

use chrono::{DateTime, NaiveDate, Utc};
use screener_core::ports::{Store, StoreError};
use screener_core::workflow::{LatestPointer, keys};
use screener_core::{SplitMix64, catalogue};
use serde_json::json;

/// The metric columns of `results.csv`, as the screen step writes them: the catalogue's.
pub const METRICS: [&str; catalogue::METRICS.len()] = {
    let mut names = [""; catalogue::METRICS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = catalogue::METRICS[i].name;
        i += 1;
    }
    names
};

/// The screens of the fixture, with the share of symbols passing each.
pub const SCREENS: [(&str, &str); 4] = [
    (
        "deepest_drawdown",
        "Contrarian: the deepest falls from the 180-day high among liquid names",
    ),
    (
        "oversold_uptrend",
        "Oversold while above the 200-day average",
    ),
    ("new_high_heavy_volume", "New 52-week highs on heavy volume"),
    ("golden_cross_trend", "Golden-cross trend"),
];

/// The fixture's symbol number `i`: `S0`, `S1`, ... plus a few shaped like real tickers.
pub fn symbol(i: usize) -> String {
    match i {
        0 => "AAPL".into(),
        1 => "BRK.B".into(),
        _ => format!("S{i}"),
    }
}

/// `results.csv` for `n` symbols on `date`. `seed` changes which symbols pass which screen.
pub fn results_csv(n: usize, date: NaiveDate, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed.wrapping_mul(2654435761).wrapping_add(7));
    let mut rows: Vec<(String, Vec<f64>)> = Vec::with_capacity(n);
    for i in 0..n {
        let close = 5.0 + rng.uniform() * 300.0;
        let drawdown = -rng.uniform() * 0.8;
        let mut values = Vec::with_capacity(METRICS.len());
        for metric in METRICS {
            let v = match metric {
                "close" => close,
                "open" | "high" | "low" | "sma_20" | "sma_50" | "sma_200" | "ema_12" | "ema_26" => {
                    close * (0.9 + rng.uniform() * 0.2)
                }
                "high_52w" => close / (1.0 + drawdown),
                "low_52w" => close * (0.5 + rng.uniform() * 0.5),
                "drawdown_180d" | "pct_from_high_52w" | "max_drawdown_252" => drawdown,
                "rsi_14" => rng.uniform() * 100.0,
                "days_since_peak_180d" => (rng.uniform() * 180.0).floor(),
                "volume" | "avg_volume_20" => (rng.uniform() * 2e7).floor(),
                "dollar_volume_20" => close * rng.uniform() * 2e7,
                "rel_volume" => rng.uniform() * 3.0,
                _ => rng.uniform() - 0.5,
            };
            values.push(v);
        }
        rows.push((symbol(i), values));
    }
    let idx = |name: &str| METRICS.iter().position(|m| *m == name).unwrap();
    let (dd, rsi, ret252, rel) = (
        idx("drawdown_180d"),
        idx("rsi_14"),
        idx("ret_252d"),
        idx("rel_volume"),
    );
    type Pass = Box<dyn Fn(&[f64]) -> bool>;
    let passes: Vec<Pass> = vec![
        Box::new(move |v| v[dd] < -0.45),
        Box::new(move |v| v[rsi] < 3.0),
        Box::new(move |v| v[rel] > 2.85),
        Box::new(move |v| v[ret252] > 0.1),
    ];
    // Rank: by drawdown (deepest first) for every screen, which is enough for a fixture.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| rows[a].1[dd].total_cmp(&rows[b].1[dd]));
    let mut ranks = vec![vec![None; n]; SCREENS.len()];
    for (s, pass) in passes.iter().enumerate() {
        let mut rank = 0u32;
        for &r in &order {
            if pass(&rows[r].1) {
                rank += 1;
                ranks[s][r] = Some(rank);
            }
        }
    }
    let mut out = String::with_capacity(n * 400);
    out.push_str("symbol,date");
    for m in METRICS {
        out.push(',');
        out.push_str(m);
    }
    // A text column, as the screen step writes one.
    out.push_str(",data_source");
    for (name, _) in SCREENS {
        out.push_str(&format!(",pass_{name},rank_{name}"));
    }
    out.push('\n');
    for (r, (symbol, values)) in rows.iter().enumerate() {
        out.push_str(symbol);
        out.push(',');
        out.push_str(&date.to_string());
        for v in values {
            out.push_str(&format!(",{v}"));
        }
        out.push_str(",synthetic");
        for ranks in &ranks {
            match ranks[r] {
                Some(k) => out.push_str(&format!(",true,{k}")),
                None => out.push_str(",false,"),
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// Writes a published run of `n` symbols for `date` (results.csv, manifest.json, an empty
/// report.html) and points `results/latest.json` at it. Answers the manifest's key.
pub async fn publish_run(
    store: &dyn Store,
    n: usize,
    date: NaiveDate,
    seed: u64,
    published_at: DateTime<Utc>,
) -> Result<String, StoreError> {
    let csv = results_csv(n, date, seed);
    let table = screener_core::results::ResultsTable::parse(&csv).expect("the fixture parses");
    store
        .put(&keys::results_file(date, "results.csv"), csv, "text/csv")
        .await?;
    store
        .put(
            &keys::results_file(date, "results.parquet"),
            b"PAR1 (fixture placeholder)".to_vec(),
            "application/vnd.apache.parquet",
        )
        .await?;
    store
        .put(
            &keys::results_file(date, "report.html"),
            b"<!DOCTYPE html><title>fixture</title>".to_vec(),
            "text/html",
        )
        .await?;
    let screens: Vec<serde_json::Value> = SCREENS
        .iter()
        .map(|(name, description)| {
            json!({
                "name": name,
                "description": description,
                "count": table.passing(name).len(),
                "top_key": keys::results_file(date, &keys::top_file_name(name)),
            })
        })
        .collect();
    let run_id = format!("fixture-{date}-{seed}");
    let manifest = json!({
        "date": date,
        "run_id": run_id,
        "notice": "SYNTHETIC DATA: fixture",
        "source": {"kind": "synthetic", "description": "fixture market <test>", "synthetic": true, "adjustment": "all"},
        "started_at": published_at - chrono::Duration::seconds(95),
        "finished_at": published_at,
        "counts": {"requested": n + 3, "fetched": n + 2, "valid": n, "repaired": 1, "rejected": 2,
                   "no_data": 1, "failed": 0, "screened": n},
        "rejections": [{"symbol": "REJ", "reason": "short_history: only 50 bars; at least 60 needed"},
                       {"symbol": "ZV", "reason": "zero_volume: volume is 0 on 2025-01-02"}],
        "repairs": [],
        "no_data": ["NODATA"],
        "failed_batches": [],
        "screens": screens,
        "worst_drawdown": {"symbol": symbol(0), "drawdown_180d": -0.8},
        "durations_ms": {"fetch_universe": 1200, "fetch_bars": 40000, "validate": 9000, "screen": 30000, "publish": 800},
        "files": ["results.csv", "results.parquet", "report.html", "manifest.json"],
    });
    let manifest_key = keys::results_file(date, "manifest.json");
    store
        .put(
            &manifest_key,
            serde_json::to_vec_pretty(&manifest).expect("json"),
            "application/json",
        )
        .await?;
    let latest = LatestPointer {
        date,
        run_id,
        manifest_key: manifest_key.clone(),
        published_at,
    };
    store
        .put(
            keys::LATEST,
            serde_json::to_vec_pretty(&latest).expect("json"),
            "application/json",
        )
        .await?;
    Ok(manifest_key)
}
