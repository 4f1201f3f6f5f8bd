//! The published results, in memory: `results/latest.json` -> its manifest -> `results.csv`,
//! parsed once into an index (rows, symbol lookup, each screen's members in rank order, the
//! drawdown order) and kept per container. The index is reloaded when `latest.json` changes;
//! `latest.json` itself is re-read at most once per `check_interval`, so a warm request costs
//! no store round trip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use screener_core::ports::{Store, StoreError};
use screener_core::results::{ResultsError, ResultsTable};
use screener_core::workflow::{LatestPointer, Manifest, keys};
use tokio::time::Instant;

/// One screen's members, best first.
#[derive(Debug, Clone)]
pub struct ScreenMembers {
    pub name: String,
    pub description: String,
    /// Row indexes, in rank order.
    pub members: Vec<usize>,
}

/// Everything the bot answers from: one published run.
#[derive(Debug)]
pub struct ResultsIndex {
    pub pointer: LatestPointer,
    pub manifest: Manifest,
    pub table: ResultsTable,
    pub by_symbol: HashMap<String, usize>,
    /// In the manifest's screen order.
    pub screens: Vec<ScreenMembers>,
    /// Rows with a `drawdown_180d`, deepest first.
    pub by_drawdown: Vec<usize>,
}

impl ResultsIndex {
    pub fn build(pointer: LatestPointer, manifest: Manifest, table: ResultsTable) -> Self {
        let by_symbol = table
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        let screens = manifest
            .screens
            .iter()
            .map(|s| ScreenMembers {
                name: s.name.clone(),
                description: s.description.clone(),
                members: table.passing(&s.name),
            })
            .collect();
        let mut by_drawdown: Vec<usize> = match table.metric_index("drawdown_180d") {
            Some(m) => (0..table.len())
                .filter(|&r| !table.value(r, m).is_nan())
                .collect(),
            None => Vec::new(),
        };
        if let Some(m) = table.metric_index("drawdown_180d") {
            by_drawdown.sort_by(|&a, &b| table.value(a, m).total_cmp(&table.value(b, m)));
        }
        ResultsIndex {
            pointer,
            manifest,
            table,
            by_symbol,
            screens,
            by_drawdown,
        }
    }

    pub fn screen(&self, name: &str) -> Option<&ScreenMembers> {
        self.screens.iter().find(|s| s.name == name)
    }

    /// Loads the run `latest_bytes` (the body of `results/latest.json`) points at.
    pub async fn load(store: &dyn Store, latest_bytes: &[u8]) -> Result<Self, ResultsError> {
        let pointer: LatestPointer = serde_json::from_slice(latest_bytes)
            .map_err(|e| ResultsError::Corrupt(format!("{}: {e}", keys::LATEST)))?;
        let manifest: Manifest =
            serde_json::from_slice(&store.get(&pointer.manifest_key).await?)
                .map_err(|e| ResultsError::Corrupt(format!("{}: {e}", pointer.manifest_key)))?;
        let csv = store
            .get(&keys::results_file(manifest.date, "results.csv"))
            .await?;
        let table = ResultsTable::parse(&csv)?;
        Ok(ResultsIndex::build(pointer, manifest, table))
    }
}

struct Cached {
    latest_bytes: Vec<u8>,
    index: Arc<ResultsIndex>,
    checked: Instant,
}

/// The per-container cache of the latest results.
pub struct ResultsCache {
    check_interval: Duration,
    current: Mutex<Option<Cached>>,
    /// One reload at a time; others wait for it rather than reloading too.
    reloading: tokio::sync::Mutex<()>,
}

impl ResultsCache {
    pub fn new(check_interval: Duration) -> Self {
        ResultsCache {
            check_interval,
            current: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Arc<ResultsIndex>> {
        let current = self.current.lock().unwrap();
        current
            .as_ref()
            .filter(|c| c.checked.elapsed() < self.check_interval)
            .map(|c| c.index.clone())
    }

    /// The latest results: from memory when checked recently, else after re-reading
    /// `latest.json` (and reloading everything when it changed). When the store fails but an
    /// index is already held, that index is answered (and the failure logged).
    pub async fn get(&self, store: &dyn Store) -> Result<Arc<ResultsIndex>, ResultsError> {
        if let Some(index) = self.fresh() {
            return Ok(index);
        }
        let _reload = self.reloading.lock().await;
        if let Some(index) = self.fresh() {
            return Ok(index);
        }
        let held = self
            .current
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| c.index.clone());
        let latest = match store.get(keys::LATEST).await {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound { .. }) => return Err(ResultsError::NoResults),
            Err(e) => {
                return match held {
                    Some(index) => {
                        tracing::error!(error = %e, "could not re-read latest.json; answering from the results held");
                        Ok(index)
                    }
                    None => Err(e.into()),
                };
            }
        };
        {
            let mut current = self.current.lock().unwrap();
            if let Some(cached) = current.as_mut().filter(|c| c.latest_bytes == latest) {
                cached.checked = Instant::now();
                return Ok(cached.index.clone());
            }
        }
        match ResultsIndex::load(store, &latest).await {
            Ok(index) => {
                let index = Arc::new(index);
                tracing::info!(
                    date = %index.manifest.date,
                    rows = index.table.len(),
                    "results loaded"
                );
                *self.current.lock().unwrap() = Some(Cached {
                    latest_bytes: latest,
                    index: index.clone(),
                    checked: Instant::now(),
                });
                Ok(index)
            }
            Err(e) => match held {
                Some(index) => {
                    tracing::error!(error = %e, "could not load the new results; answering from the results held");
                    Ok(index)
                }
                None => Err(e),
            },
        }
    }
}
