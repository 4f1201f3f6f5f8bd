//! What the pages read from the store, and the caches that keep a page fast: a published
//! run's files never change while its run id stays the same, so tables and digests are cached
//! per (date, run id); the list of runs and `latest.json` are read fresh on every request.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use screener_core::bar::{Bar, read_symbol_bars_csv};
use screener_core::digest::{DIGEST_FILE, RunDigest};
use screener_core::ports::{Store, StoreError};
use screener_core::results::ResultsTable;
use screener_core::workflow::{LatestPointer, Manifest, keys};
use serde_json::Value;

/// Why a page's data could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("nothing found: {0}")]
    NotFound(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored file is unreadable: {0}")]
    Corrupt(String),
}

impl From<StoreError> for DataError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { key } => DataError::NotFound(key),
            other => DataError::Unavailable(other.to_string()),
        }
    }
}

/// Backtest file names the dashboard offers.
pub const BACKTEST_FILES: [&str; 4] = [
    "summary.json",
    "equity.csv",
    "selections.csv",
    "report.html",
];

/// Entries kept per cache before it is emptied (a container serves a few hundred runs at most).
const CACHE_LIMIT: usize = 512;

type RunKey = (NaiveDate, String);

/// Reads over the store, with caches of what a run id makes immutable.
pub struct Data {
    store: Arc<dyn Store>,
    tables: Mutex<HashMap<RunKey, Arc<ResultsTable>>>,
    digests: Mutex<HashMap<RunKey, Arc<RunDigest>>>,
    manifests: Mutex<HashMap<NaiveDate, Arc<Manifest>>>,
    /// The run dates, with the `latest.json` they were listed under.
    dates: Mutex<Option<(LatestPointer, Arc<Vec<NaiveDate>>)>>,
}

fn cached<K: std::hash::Hash + Eq + Clone, V>(
    cache: &Mutex<HashMap<K, Arc<V>>>,
    key: &K,
) -> Option<Arc<V>> {
    cache.lock().unwrap().get(key).cloned()
}

fn remember<K: std::hash::Hash + Eq, V>(cache: &Mutex<HashMap<K, Arc<V>>>, key: K, value: Arc<V>) {
    let mut map = cache.lock().unwrap();
    if map.len() >= CACHE_LIMIT {
        map.clear();
    }
    map.insert(key, value);
}

impl Data {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Data {
            store,
            tables: Mutex::default(),
            digests: Mutex::default(),
            manifests: Mutex::default(),
            dates: Mutex::default(),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, DataError> {
        let bytes = self.store.get(key).await?;
        serde_json::from_slice(&bytes).map_err(|e| DataError::Corrupt(format!("{key}: {e}")))
    }

    pub async fn latest(&self) -> Result<LatestPointer, DataError> {
        self.json(keys::LATEST).await
    }

    /// Every date with a published manifest, oldest first. Listing them is the costliest read of
    /// a page (a store walk locally, paged ListObjectsV2 calls in S3), and every publish moves
    /// `latest.json` (a re-run of an old date too), so the list is kept until it moves.
    pub async fn run_dates(&self) -> Result<Arc<Vec<NaiveDate>>, DataError> {
        let latest = self.latest_if_any().await?;
        self.run_dates_under(latest).await
    }

    /// `latest.json`, or `None` before the first publish.
    pub async fn latest_if_any(&self) -> Result<Option<LatestPointer>, DataError> {
        match self.latest().await {
            Ok(latest) => Ok(Some(latest)),
            Err(DataError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`run_dates`](Self::run_dates) for a page that has read `latest.json` already.
    pub async fn run_dates_under(
        &self,
        latest: Option<LatestPointer>,
    ) -> Result<Arc<Vec<NaiveDate>>, DataError> {
        if let (Some(latest), Some((listed_under, dates))) = (&latest, &*self.dates.lock().unwrap())
            && listed_under == latest
        {
            return Ok(dates.clone());
        }
        let keys = self.store.list("results/date=").await?;
        let mut dates: Vec<NaiveDate> = keys
            .iter()
            .filter_map(|k| {
                k.strip_prefix("results/date=")?
                    .strip_suffix("/manifest.json")
            })
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .collect();
        dates.sort();
        dates.dedup();
        let dates = Arc::new(dates);
        if let Some(latest) = latest {
            *self.dates.lock().unwrap() = Some((latest, dates.clone()));
        }
        Ok(dates)
    }

    /// A date's manifest. A date's manifest is replaced when the day is re-run, so it is cached
    /// only briefly: by the `latest.json` it was read with (see [`Data::forget_manifests`]).
    pub async fn manifest(&self, date: NaiveDate) -> Result<Arc<Manifest>, DataError> {
        if let Some(m) = cached(&self.manifests, &date) {
            return Ok(m);
        }
        let manifest: Arc<Manifest> = Arc::new(
            self.json(&keys::results_file(date, "manifest.json"))
                .await?,
        );
        remember(&self.manifests, date, manifest.clone());
        Ok(manifest)
    }

    /// Forgets cached manifests (called when `latest.json` points at a run not seen before: a
    /// new run or a re-run has been published).
    pub fn forget_manifests(&self) {
        self.manifests.lock().unwrap().clear();
    }

    pub async fn results(&self, manifest: &Manifest) -> Result<Arc<ResultsTable>, DataError> {
        let key = (manifest.date, manifest.run_id.clone());
        if let Some(t) = cached(&self.tables, &key) {
            return Ok(t);
        }
        let bytes = self
            .store
            .get(&keys::results_file(manifest.date, "results.csv"))
            .await?;
        let table =
            Arc::new(ResultsTable::parse(&bytes).map_err(|e| DataError::Corrupt(e.to_string()))?);
        remember(&self.tables, key, table.clone());
        Ok(table)
    }

    /// The run's digest; for a run published before digests existed, made from its results.
    pub async fn digest(&self, manifest: &Manifest) -> Result<Arc<RunDigest>, DataError> {
        let key = (manifest.date, manifest.run_id.clone());
        if let Some(d) = cached(&self.digests, &key) {
            return Ok(d);
        }
        let digest = match self
            .json::<RunDigest>(&keys::results_file(manifest.date, DIGEST_FILE))
            .await
        {
            Ok(d) => d,
            Err(DataError::NotFound(_)) => {
                let table = self.results(manifest).await?;
                RunDigest::from_results(
                    manifest.date,
                    &manifest.run_id,
                    manifest.source.synthetic,
                    &table,
                    Vec::new(),
                )
            }
            Err(e) => return Err(e),
        };
        let digest = Arc::new(digest);
        remember(&self.digests, key, digest.clone());
        Ok(digest)
    }

    /// Manifests of the last `n` runs (newest last), read concurrently.
    pub async fn recent_manifests(&self, dates: &[NaiveDate], n: usize) -> Vec<Arc<Manifest>> {
        let recent = &dates[dates.len().saturating_sub(n)..];
        let reads = recent.iter().map(|&d| self.manifest(d));
        futures::future::join_all(reads)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }

    pub async fn digests(&self, manifests: &[Arc<Manifest>]) -> Vec<Arc<RunDigest>> {
        let reads = manifests.iter().map(|m| self.digest(m));
        futures::future::join_all(reads)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }

    /// One symbol's daily bars from the run's kept batches (`chart-bars/`, CSV); `None` when the
    /// run's bars are gone (expired, or a digest from before they were kept, which points at
    /// `runs/` Parquet) or the run kept none for it.
    pub async fn bars(
        &self,
        digest: &RunDigest,
        symbol: &str,
    ) -> Result<Option<Vec<Bar>>, DataError> {
        for batch in digest
            .batches_for(symbol)
            .filter(|b| b.key.ends_with(".csv"))
        {
            let bytes = match self.store.get(&batch.key).await {
                Ok(b) => b,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let bars = read_symbol_bars_csv(&bytes, symbol)
                .map_err(|e| DataError::Corrupt(format!("{}: {e}", batch.key)))?;
            if bars.is_some() {
                return Ok(bars);
            }
        }
        Ok(None)
    }

    /// Backtest ids in the store (`backtests/<id>/summary.json`), sorted.
    pub async fn backtest_ids(&self) -> Result<Vec<String>, DataError> {
        let keys = self.store.list("backtests/").await?;
        Ok(keys
            .iter()
            .filter_map(|k| k.strip_prefix("backtests/")?.strip_suffix("/summary.json"))
            .filter(|id| !id.contains('/'))
            .map(str::to_string)
            .collect())
    }

    pub async fn backtest_summary(&self, id: &str) -> Result<Value, DataError> {
        self.json(&format!("backtests/{id}/summary.json")).await
    }

    /// `equity.csv`: the dates and one series per column (screens, then `benchmark`).
    pub async fn backtest_equity(
        &self,
        id: &str,
    ) -> Result<(Vec<String>, BTreeMap<String, Vec<Option<f64>>>), DataError> {
        let key = format!("backtests/{id}/equity.csv");
        let bytes = self.store.get(&key).await?;
        let corrupt = |e: csv::Error| DataError::Corrupt(format!("{key}: {e}"));
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let headers: Vec<String> = reader
            .headers()
            .map_err(corrupt)?
            .iter()
            .map(str::to_string)
            .collect();
        let mut dates = Vec::new();
        let mut series: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
        for record in reader.records() {
            let record = record.map_err(corrupt)?;
            for (i, field) in record.iter().enumerate() {
                if i == 0 {
                    dates.push(field.to_string());
                } else if let Some(name) = headers.get(i) {
                    series
                        .entry(name.clone())
                        .or_default()
                        .push(field.parse::<f64>().ok().filter(|v| v.is_finite()));
                }
            }
        }
        Ok((dates, series))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use screener_core::local::DirStore;

    use super::*;

    async fn publish(store: &DirStore, date: &str, move_latest: bool) {
        let date: NaiveDate = date.parse().unwrap();
        let manifest_key = keys::results_file(date, "manifest.json");
        store
            .put(&manifest_key, b"{}".to_vec(), "application/json")
            .await
            .unwrap();
        if move_latest {
            let latest = LatestPointer {
                date,
                run_id: format!("run-{date}"),
                manifest_key,
                published_at: Utc::now(),
            };
            let body = serde_json::to_vec(&latest).unwrap();
            store
                .put(keys::LATEST, body, "application/json")
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn run_dates_are_listed_again_when_latest_json_moves() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::new(dir.path()));
        let data = Data::new(store.clone());
        assert!(data.run_dates().await.unwrap().is_empty());
        publish(&store, "2025-06-12", true).await;
        let dates = |list: &[NaiveDate]| list.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        assert_eq!(dates(&data.run_dates().await.unwrap()), ["2025-06-12"]);
        // A manifest whose publish has not moved latest.json (yet): the kept list stands.
        publish(&store, "2025-06-13", false).await;
        assert_eq!(dates(&data.run_dates().await.unwrap()), ["2025-06-12"]);
        // latest.json moved: listed again.
        publish(&store, "2025-06-16", true).await;
        assert_eq!(
            dates(&data.run_dates().await.unwrap()),
            ["2025-06-12", "2025-06-13", "2025-06-16"]
        );
    }
}
