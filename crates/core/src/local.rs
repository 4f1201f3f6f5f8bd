//! Local adapters: a directory as the store, bars straight from the market, environment
//! variables as secrets, log lines as metrics, a made-up brokerage for demos, and the "not
//! configured here" stand-ins of the brokerage and re-runs. In-memory metrics and notifier for
//! tests are in `local/doubles.rs` (the `test-doubles` feature).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::ports::{
    Account, BarSource, Brokerage, BrokerageError, FetchedBars, MarketData, MetricDatum, Metrics,
    MetricsError, Position, Rerun, RerunError, RerunOutcome, SecretString, Secrets, SecretsError,
    Store, StoreError, WriteCondition,
};
use crate::symbol::Symbol;
use crate::workflow::StepError;

#[cfg(any(test, feature = "test-doubles"))]
mod doubles;
#[cfg(any(test, feature = "test-doubles"))]
pub use doubles::{MemoryMetrics, MemoryNotifier};

/// A directory standing in for an S3 bucket prefix. Writes go to a temporary file first and
/// are renamed into place, so a reader never sees half an object.
pub struct DirStore {
    root: PathBuf,
    // Conditional writes are check-then-write; this makes them atomic within one process.
    conditional: tokio::sync::Mutex<()>,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirStore {
            root: root.into(),
            conditional: tokio::sync::Mutex::new(()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let relative = Path::new(key);
        let safe = !key.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(StoreError::Unavailable {
                key: key.to_string(),
                message: "keys must be relative paths without '..'".into(),
            });
        }
        Ok(self.root.join(relative))
    }

    async fn write(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let unavailable = |e: std::io::Error| StoreError::Unavailable {
            key: key.to_string(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(unavailable)?;
        }
        let temp = path.with_extension(format!(
            "tmp-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        tokio::fs::write(&temp, body).await.map_err(unavailable)?;
        tokio::fs::rename(&temp, &path).await.map_err(unavailable)
    }
}

/// A file's content version for conditional writes: the MD5 of its bytes in hex, as S3 gives
/// a single-part object's ETag, so a version reads the same in either store.
fn content_version(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

#[async_trait]
impl Store for DirStore {
    fn locate(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(key)?;
        tokio::fs::read(&path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound {
                key: key.to_string(),
            },
            _ => StoreError::Unavailable {
                key: key.to_string(),
                message: e.to_string(),
            },
        })
    }

    async fn get_versioned(&self, key: &str) -> Result<(Vec<u8>, String), StoreError> {
        let bytes = self.get(key).await?;
        let version = content_version(&bytes);
        Ok((bytes, version))
    }

    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        self.write(key, body).await
    }

    async fn put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
        condition: WriteCondition,
    ) -> Result<(), StoreError> {
        let _guard = self.conditional.lock().await;
        let current = match self.get(key).await {
            Ok(bytes) => Some(content_version(&bytes)),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let allowed = match (&condition, &current) {
            (WriteCondition::IfAbsent, None) => true,
            (WriteCondition::IfVersion(expected), Some(actual)) => expected == actual,
            _ => false,
        };
        if !allowed {
            return Err(StoreError::PreconditionFailed {
                key: key.to_string(),
            });
        }
        self.write(key, body).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        // Only the folder the prefix names (`results/` for `results/date=`) can hold its keys:
        // the walk starts there instead of at the root (runs/, chart-bars/ and history/ hold
        // far more files than results/).
        let start = match prefix.rsplit_once('/') {
            Some((folder, _)) if !folder.is_empty() => self.path(folder)?,
            _ => self.root.clone(),
        };
        let mut pending = vec![start];
        while let Some(dir) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(StoreError::Unavailable {
                        key: prefix.to_string(),
                        message: e.to_string(),
                    });
                }
            };
            while let Ok(Some(entry)) = entries.next_entry().await {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(relative) = path.strip_prefix(&self.root) {
                    let key = relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    if key.starts_with(prefix) && !key.contains(".tmp-") {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn download_link(&self, key: &str, _valid_for: Duration) -> Result<String, StoreError> {
        let path = self.path(key)?;
        if tokio::fs::metadata(&path).await.is_err() {
            return Err(StoreError::NotFound {
                key: key.to_string(),
            });
        }
        Ok(path.display().to_string())
    }
}

/// Bars straight from the market, read whole every time: what the offline sources (synthetic,
/// CSV) do, having nothing worth keeping.
pub struct MarketBars(pub Arc<dyn MarketData>);

#[async_trait]
impl BarSource for MarketBars {
    async fn daily_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<FetchedBars, StepError> {
        Ok(FetchedBars {
            bars: self.0.daily_bars(symbols, start, end).await?,
            refetched: Vec::new(),
        })
    }
}

/// Secrets from environment variables, mapped from parameter names: `/screener/alpaca/api_key`
/// is read from the variable given for it in `mapping`, else from `SCREENER_ALPACA_API_KEY`.
pub struct EnvSecrets {
    mapping: BTreeMap<String, String>,
}

impl EnvSecrets {
    pub fn new(mapping: BTreeMap<String, String>) -> Self {
        EnvSecrets { mapping }
    }

    pub fn variable_for(&self, name: &str) -> String {
        self.mapping.get(name).cloned().unwrap_or_else(|| {
            name.trim_matches('/')
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        })
    }
}

#[async_trait]
impl Secrets for EnvSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        let variable = self.variable_for(name);
        match std::env::var(&variable) {
            Ok(value) if !value.is_empty() => Ok(SecretString::new(value)),
            _ => Err(SecretsError::Missing {
                name: name.to_string(),
                hint: format!("set the environment variable {variable}"),
            }),
        }
    }
}

/// Metrics as structured log lines: what a local run "publishes".
pub struct LogMetrics {
    pub namespace: String,
    pub environment: String,
}

#[async_trait]
impl Metrics for LogMetrics {
    async fn publish(&self, data: &[MetricDatum]) -> Result<(), MetricsError> {
        for datum in data {
            tracing::info!(
                namespace = %self.namespace,
                environment = %self.environment,
                metric = %datum.name,
                value = datum.value,
                unit = datum.unit.as_str(),
                dimensions = ?datum.dimensions,
                "metric"
            );
        }
        Ok(())
    }
}

/// No brokerage: every call says how to configure one.
pub struct BrokerageNotConfigured(pub String);

#[async_trait]
impl Brokerage for BrokerageNotConfigured {
    async fn account(&self) -> Result<Account, BrokerageError> {
        Err(BrokerageError::NotConfigured(self.0.clone()))
    }
    async fn positions(&self) -> Result<Vec<Position>, BrokerageError> {
        Err(BrokerageError::NotConfigured(self.0.clone()))
    }
}

/// Made-up paper positions, for local demos (`SCREENER_BOT_FAKE_BROKERAGE=1`) and tests.
#[derive(Debug, Clone)]
pub struct FakeBrokerage {
    pub account: Account,
    pub positions: Vec<Position>,
}

impl FakeBrokerage {
    pub fn new(account: Account, positions: Vec<Position>) -> Self {
        FakeBrokerage { account, positions }
    }

    /// A small demo portfolio, clearly labelled fake in its account status.
    pub fn demo() -> Self {
        let position = |symbol: &str, qty: f64, entry: f64, price: f64| Position {
            symbol: symbol.into(),
            qty,
            avg_entry_price: entry,
            current_price: price,
            market_value: qty * price,
            unrealized_pl: qty * (price - entry),
            unrealized_plpc: price / entry - 1.0,
        };
        let positions = vec![
            position("AAA", 10.0, 50.0, 120.0),
            position("BBB", 5.0, 200.0, 260.0),
            position("CCC", 100.0, 8.0, 6.0),
            position("DDD", 20.0, 30.0, 75.0),
            position("EEE", 40.0, 12.5, 13.0),
            position("FFF", 3.0, 400.0, 390.0),
        ];
        let invested: f64 = positions.iter().map(|p| p.market_value).sum();
        FakeBrokerage {
            account: Account {
                status: "FAKE (local demo, not a real account)".into(),
                currency: "USD".into(),
                equity: invested + 10_000.0,
                cash: 10_000.0,
                buying_power: 20_000.0,
                last_equity: invested + 9_500.0,
                mode: "paper".into(),
            },
            positions,
        }
    }
}

#[async_trait]
impl Brokerage for FakeBrokerage {
    async fn account(&self) -> Result<Account, BrokerageError> {
        Ok(self.account.clone())
    }
    async fn positions(&self) -> Result<Vec<Position>, BrokerageError> {
        Ok(self.positions.clone())
    }
}

/// No way to re-run here.
pub struct RerunNotConfigured(pub String);

#[async_trait]
impl Rerun for RerunNotConfigured {
    async fn rerun(&self, _date: Option<NaiveDate>) -> Result<RerunOutcome, RerunError> {
        Err(RerunError::NotConfigured(self.0.clone()))
    }
}

/// Backtests where no workflow is configured: says why on every call.
#[derive(Debug, Clone)]
pub struct BacktestsNotConfigured(pub String);

#[async_trait]
impl crate::ports::Backtests for BacktestsNotConfigured {
    async fn start(
        &self,
        _name: &str,
        _request: &crate::backtest::SweepRequest,
    ) -> Result<String, crate::ports::BacktestError> {
        Err(crate::ports::BacktestError::NotConfigured(self.0.clone()))
    }

    async fn state(
        &self,
        _name: &str,
    ) -> Result<crate::ports::BacktestState, crate::ports::BacktestError> {
        Err(crate::ports::BacktestError::NotConfigured(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_key_is_a_typed_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        assert!(matches!(
            store.get("results/latest.json").await,
            Err(StoreError::NotFound { key }) if key == "results/latest.json"
        ));
    }

    #[tokio::test]
    async fn put_get_and_list_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        store
            .put("a/b/1.csv", b"one".to_vec(), "text/csv")
            .await
            .unwrap();
        store
            .put("a/c.csv", b"two".to_vec(), "text/csv")
            .await
            .unwrap();
        store
            .put("b/d.csv", b"three".to_vec(), "text/csv")
            .await
            .unwrap();
        assert_eq!(store.get("a/b/1.csv").await.unwrap(), b"one");
        assert_eq!(
            store.list("a/").await.unwrap(),
            vec!["a/b/1.csv", "a/c.csv"]
        );
    }

    #[tokio::test]
    async fn keys_escaping_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        assert!(store.put("../x", vec![], "").await.is_err());
        assert!(store.get("/etc/passwd").await.is_err());
    }

    #[tokio::test]
    async fn conditional_writes_refuse_to_overwrite_a_changed_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        store
            .put_if("k", b"v1".to_vec(), "", WriteCondition::IfAbsent)
            .await
            .unwrap();
        assert!(matches!(
            store
                .put_if("k", b"x".to_vec(), "", WriteCondition::IfAbsent)
                .await,
            Err(StoreError::PreconditionFailed { .. })
        ));
        let (_, version) = store.get_versioned("k").await.unwrap();
        store
            .put_if(
                "k",
                b"v2".to_vec(),
                "",
                WriteCondition::IfVersion(version.clone()),
            )
            .await
            .unwrap();
        // The version read before v2 no longer matches.
        assert!(matches!(
            store
                .put_if("k", b"v3".to_vec(), "", WriteCondition::IfVersion(version))
                .await,
            Err(StoreError::PreconditionFailed { .. })
        ));
        assert_eq!(store.get("k").await.unwrap(), b"v2");
    }

    #[tokio::test]
    async fn env_secrets_name_the_variable_to_set_and_hide_the_value() {
        let secrets = EnvSecrets::new(BTreeMap::new());
        let err = secrets
            .get("/screener/test/never_set_xyz")
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("SCREENER_TEST_NEVER_SET_XYZ"),
            "{err}"
        );
        let secret = SecretString::new("hunter2");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
    }
}
