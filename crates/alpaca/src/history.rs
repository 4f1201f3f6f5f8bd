//! The bar history kept in the store, and the incremental fetch that keeps it current.
//!
//! Layout: `history/<source>/feed=<feed>/adjustment=<adjustment>/symbol=<SYMBOL>/year=<YYYY>.json`,
//! one small JSON file per symbol and calendar year (about 250 bars, ~15 KB). A daily run
//! rewrites only the current year's file of each symbol: older years are written once, by the
//! backfill, and again only when a refetch replaces them. Feed and adjustment are part of the
//! path, so changing either starts a new history instead of mixing prices.
//!
//! Why not Parquet: this runs in the fetch-bars Lambda, which must stay small and fast to
//! build; Parquet means the arrow/parquet crates (or polars) for files of a few hundred rows,
//! where it saves nothing. The files carry their own metadata (`covered_from`,
//! `fetched_through`), which a bare columnar file would need a side file for.
//!
//! Each file records the span of dates the history is known to be complete for:
//! `covered_from..=fetched_through` (fetched, whether or not the symbol traded). A run for
//! `end` with a window starting at `window_start`, per symbol:
//! * nothing stored, or stored from later than `window_start`: backfill the window;
//! * `fetched_through >= end`: serve from the store (a re-run or a backdated run);
//! * otherwise fetch from [`OVERLAP_SESSIONS`] sessions before `fetched_through`. If the fresh
//!   bars on those overlap days differ from the stored ones, the history is refetched in full
//!   and reported as a [`Refetch`].
//!
//! Symbols sharing a start date share requests, so a normal day is one request group per batch.
//!
//! [`StoredHistory`] is this as the [`BarSource`] port, which the composition root gives the
//! fetch-bars step when the source is Alpaca.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use screener_core::bar::BarsBySymbol;
use screener_core::calendar;
use screener_core::ports::{BarSource, DataSourceInfo, FetchedBars, MarketData, Store, StoreError};
use screener_core::workflow::{Refetch, StepError};
use screener_core::{Bar, Symbol};

/// Sessions re-fetched before the last stored date to catch corrections and new adjustments.
pub const OVERLAP_SESSIONS: usize = 3;
/// Store requests in flight at once.
const STORE_CONCURRENCY: usize = 32;
/// Relative tolerance when comparing stored and fresh values (both come from the same JSON
/// numbers, so they are normally bit-identical).
const TOLERANCE: f64 = 1e-9;

/// Where a source's history lives in the store.
pub fn history_prefix(source: &DataSourceInfo) -> String {
    format!(
        "history/{}/feed={}/adjustment={}/",
        source.kind,
        source.feed.as_deref().unwrap_or("default"),
        source.adjustment
    )
}

pub fn partition_key(prefix: &str, symbol: &Symbol, year: i32) -> String {
    format!("{prefix}symbol={symbol}/year={year}.json")
}

/// One `year=YYYY.json` file. `bars` rows are
/// `[date, open, high, low, close, volume, vwap|null, trade_count|null]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Partition {
    symbol: Symbol,
    year: i32,
    covered_from: NaiveDate,
    fetched_through: NaiveDate,
    bars: Vec<Row>,
}

type Row = (NaiveDate, f64, f64, f64, f64, f64, Option<f64>, Option<u64>);

fn to_row(b: &Bar) -> Row {
    (
        b.date,
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
        b.vwap,
        b.trade_count,
    )
}

fn from_row(r: &Row) -> Bar {
    Bar {
        date: r.0,
        open: r.1,
        high: r.2,
        low: r.3,
        close: r.4,
        volume: r.5,
        vwap: r.6,
        trade_count: r.7,
    }
}

/// A symbol's stored history: complete for `covered_from..=fetched_through`.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolHistory {
    pub covered_from: NaiveDate,
    pub fetched_through: NaiveDate,
    pub bars: Vec<Bar>,
}

/// What one incremental fetch did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fetched {
    /// Bars dated within the window, per symbol (symbols without any are absent).
    pub bars: BarsBySymbol,
    pub refetched: Vec<Refetch>,
    pub backfilled: usize,
    pub incremental: usize,
    pub from_store: usize,
    /// `daily_bars` calls made (each may be several HTTP requests).
    pub groups: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    Backfill,
    FromStore,
    Incremental { start: NaiveDate },
}

/// Loads the stored history of `symbol` for the years `from_year..=to_year`.
pub async fn load(
    store: &dyn Store,
    prefix: &str,
    symbol: &Symbol,
    from_year: i32,
    to_year: i32,
) -> Result<Option<SymbolHistory>, StepError> {
    let mut partitions = Vec::new();
    for year in from_year..=to_year {
        let key = partition_key(prefix, symbol, year);
        match store.get(&key).await {
            Ok(bytes) => {
                let partition: Partition = serde_json::from_slice(&bytes)
                    .map_err(|e| StepError::CorruptData(format!("{key}: {e}")))?;
                partitions.push(partition);
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The newest file speaks for the history; older files contribute the bars it covers.
    let Some(newest) = partitions.iter().max_by_key(|p| p.fetched_through) else {
        return Ok(None);
    };
    let (covered_from, fetched_through) = (newest.covered_from, newest.fetched_through);
    let mut bars: Vec<Bar> = partitions
        .iter()
        .flat_map(|p| p.bars.iter().map(from_row))
        .filter(|b| b.date >= covered_from && b.date <= fetched_through)
        .collect();
    bars.sort_by_key(|b| b.date);
    Ok(Some(SymbolHistory {
        covered_from,
        fetched_through,
        bars,
    }))
}

/// Writes the years `from_year..=history.fetched_through.year()` of a symbol's history.
pub async fn save(
    store: &dyn Store,
    prefix: &str,
    symbol: &Symbol,
    history: &SymbolHistory,
    from_year: i32,
) -> Result<(), StepError> {
    let mut by_year: BTreeMap<i32, Vec<Row>> = BTreeMap::new();
    for bar in &history.bars {
        by_year
            .entry(bar.date.year())
            .or_default()
            .push(to_row(bar));
    }
    for year in from_year..=history.fetched_through.year() {
        let partition = Partition {
            symbol: symbol.clone(),
            year,
            covered_from: history.covered_from,
            fetched_through: history.fetched_through,
            bars: by_year.remove(&year).unwrap_or_default(),
        };
        let body = serde_json::to_vec(&partition).expect("partitions serialize");
        store
            .put(
                &partition_key(prefix, symbol, year),
                body,
                "application/json",
            )
            .await?;
    }
    Ok(())
}

/// Daily bars of `symbols` for `window_start..=end`, fetched incrementally against the history
/// under `prefix`, which is brought up to `end`.
pub async fn fetch_incremental(
    store: Arc<dyn Store>,
    market: &dyn MarketData,
    prefix: &str,
    symbols: &[Symbol],
    window_start: NaiveDate,
    end: NaiveDate,
) -> Result<Fetched, StepError> {
    let stored = load_all(&store, prefix, symbols, window_start.year(), end.year()).await?;
    let mut result = Fetched::default();

    // Plan each symbol, and group the fetches by start date.
    let mut plans: HashMap<&Symbol, Plan> = HashMap::new();
    let mut groups: BTreeMap<NaiveDate, Vec<Symbol>> = BTreeMap::new();
    for symbol in symbols {
        let plan = match stored.get(symbol) {
            Some(h) if h.covered_from <= window_start && h.fetched_through >= end => {
                Plan::FromStore
            }
            Some(h) if h.covered_from <= window_start => {
                let start = calendar::trading_days_before(h.fetched_through, OVERLAP_SESSIONS - 1)
                    .max(window_start);
                Plan::Incremental { start }
            }
            _ => Plan::Backfill,
        };
        match plan {
            Plan::Backfill => groups.entry(window_start).or_default().push(symbol.clone()),
            Plan::Incremental { start } => groups.entry(start).or_default().push(symbol.clone()),
            Plan::FromStore => {}
        }
        plans.insert(symbol, plan);
    }
    let mut fresh = BarsBySymbol::new();
    for (start, group) in &groups {
        result.groups += 1;
        let mut bars = market.daily_bars(group, *start, end).await?;
        for symbol in group {
            if let Some(list) = bars.remove(symbol) {
                fresh.insert(symbol.clone(), list);
            }
        }
    }

    // Compare the overlaps; whoever disagrees is fetched again in full.
    let mut refetch: Vec<Symbol> = Vec::new();
    for symbol in symbols {
        if let (Some(Plan::Incremental { start }), Some(h)) =
            (plans.get(symbol), stored.get(symbol))
        {
            let empty = Vec::new();
            let new = fresh.get(symbol).unwrap_or(&empty);
            if let Some(reason) = disagreement(&h.bars, new, *start, h.fetched_through) {
                tracing::info!(%symbol, %reason, "stored history disagrees with fresh bars: refetching it in full");
                result.refetched.push(Refetch {
                    symbol: symbol.clone(),
                    reason,
                });
                refetch.push(symbol.clone());
            }
        }
    }
    let mut replaced = BarsBySymbol::new();
    if !refetch.is_empty() {
        result.groups += 1;
        replaced = market.daily_bars(&refetch, window_start, end).await?;
    }

    // New histories, written back; the window's bars go to the caller.
    let mut updates: Vec<(Symbol, SymbolHistory, i32)> = Vec::new();
    for symbol in symbols {
        let history = match plans[symbol] {
            Plan::FromStore => {
                result.from_store += 1;
                stored[symbol].clone()
            }
            Plan::Backfill => {
                result.backfilled += 1;
                let history = SymbolHistory {
                    covered_from: window_start,
                    fetched_through: end,
                    bars: sorted(fresh.remove(symbol).unwrap_or_default()),
                };
                updates.push((symbol.clone(), history.clone(), window_start.year()));
                history
            }
            Plan::Incremental { start } => {
                let old = &stored[symbol];
                if refetch.contains(symbol) {
                    let history = SymbolHistory {
                        covered_from: window_start,
                        fetched_through: end,
                        bars: sorted(replaced.remove(symbol).unwrap_or_default()),
                    };
                    updates.push((symbol.clone(), history.clone(), window_start.year()));
                    history
                } else {
                    result.incremental += 1;
                    let new = sorted(fresh.remove(symbol).unwrap_or_default());
                    let mut bars: Vec<Bar> = old
                        .bars
                        .iter()
                        .filter(|b| b.date < start)
                        .cloned()
                        .collect();
                    bars.extend(new);
                    bars.extend(old.bars.iter().filter(|b| b.date > end).cloned());
                    let history = SymbolHistory {
                        covered_from: old.covered_from,
                        fetched_through: end.max(old.fetched_through),
                        bars,
                    };
                    updates.push((symbol.clone(), history.clone(), start.year()));
                    history
                }
            }
        };
        let in_window: Vec<Bar> = history
            .bars
            .into_iter()
            .filter(|b| b.date >= window_start && b.date <= end)
            .collect();
        if !in_window.is_empty() {
            result.bars.insert(symbol.clone(), in_window);
        }
    }
    save_all(&store, prefix, updates).await?;
    Ok(result)
}

fn sorted(mut bars: Vec<Bar>) -> Vec<Bar> {
    bars.sort_by_key(|b| b.date);
    bars
}

async fn load_all(
    store: &Arc<dyn Store>,
    prefix: &str,
    symbols: &[Symbol],
    from_year: i32,
    to_year: i32,
) -> Result<HashMap<Symbol, SymbolHistory>, StepError> {
    let permits = Arc::new(Semaphore::new(STORE_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for symbol in symbols.iter().cloned() {
        let (store, prefix, permits) = (store.clone(), prefix.to_string(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let loaded = load(store.as_ref(), &prefix, &symbol, from_year, to_year).await;
            (symbol, loaded)
        });
    }
    let mut out = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (symbol, loaded) =
            joined.map_err(|e| StepError::CorruptData(format!("history load task: {e}")))?;
        if let Some(history) = loaded? {
            out.insert(symbol, history);
        }
    }
    Ok(out)
}

async fn save_all(
    store: &Arc<dyn Store>,
    prefix: &str,
    updates: Vec<(Symbol, SymbolHistory, i32)>,
) -> Result<(), StepError> {
    let permits = Arc::new(Semaphore::new(STORE_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (symbol, history, from_year) in updates {
        let (store, prefix, permits) = (store.clone(), prefix.to_string(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            save(store.as_ref(), &prefix, &symbol, &history, from_year).await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| StepError::CorruptData(format!("history save task: {e}")))??;
    }
    Ok(())
}

/// The first difference between stored and fresh bars dated `from..=through`, if any.
pub fn disagreement(
    stored: &[Bar],
    fresh: &[Bar],
    from: NaiveDate,
    through: NaiveDate,
) -> Option<String> {
    let pick = |bars: &[Bar]| -> Vec<Bar> {
        sorted(
            bars.iter()
                .filter(|b| b.date >= from && b.date <= through)
                .cloned()
                .collect(),
        )
    };
    let (old, new) = (pick(stored), pick(fresh));
    let mut i = 0;
    loop {
        match (old.get(i), new.get(i)) {
            (None, None) => return None,
            (Some(a), None) => {
                return Some(format!("{}: stored, missing from the fresh data", a.date));
            }
            (None, Some(b)) => return Some(format!("{}: in the fresh data, not stored", b.date)),
            (Some(a), Some(b)) if a.date < b.date => {
                return Some(format!("{}: stored, missing from the fresh data", a.date));
            }
            (Some(a), Some(b)) if a.date > b.date => {
                return Some(format!("{}: in the fresh data, not stored", b.date));
            }
            (Some(a), Some(b)) => {
                let fields = [
                    ("open", a.open, b.open),
                    ("high", a.high, b.high),
                    ("low", a.low, b.low),
                    ("close", a.close, b.close),
                    ("volume", a.volume, b.volume),
                ];
                for (name, x, y) in fields {
                    if (x - y).abs() > TOLERANCE * x.abs().max(y.abs()).max(1.0) {
                        let ratio = if x != 0.0 { y / x } else { f64::NAN };
                        return Some(format!(
                            "{}: {name} {x} stored, {y} now (x{ratio:.4})",
                            a.date
                        ));
                    }
                }
            }
        }
        i += 1;
    }
}

/// The [`BarSource`] port over the history kept in `store` for `market`'s source (feed and
/// adjustment included, [`history_prefix`]): each call brings the history of its symbols up to
/// `end` with [`fetch_incremental`].
pub struct StoredHistory {
    store: Arc<dyn Store>,
    market: Arc<dyn MarketData>,
    prefix: String,
}

impl StoredHistory {
    pub fn new(store: Arc<dyn Store>, market: Arc<dyn MarketData>) -> Self {
        let prefix = history_prefix(&market.source());
        StoredHistory {
            store,
            market,
            prefix,
        }
    }
}

#[async_trait]
impl BarSource for StoredHistory {
    async fn daily_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<FetchedBars, StepError> {
        let fetched = fetch_incremental(
            self.store.clone(),
            self.market.as_ref(),
            &self.prefix,
            symbols,
            start,
            end,
        )
        .await?;
        tracing::info!(
            backfilled = fetched.backfilled,
            incremental = fetched.incremental,
            from_store = fetched.from_store,
            refetched = fetched.refetched.len(),
            request_groups = fetched.groups,
            "history updated"
        );
        Ok(FetchedBars {
            bars: fetched.bars,
            refetched: fetched.refetched,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(date: &str, close: f64) -> Bar {
        Bar {
            date: date.parse().unwrap(),
            open: close,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 1000.0,
            vwap: None,
            trade_count: Some(7),
        }
    }
    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn equal_overlaps_agree_and_a_split_is_described() {
        let stored = vec![bar("2025-06-10", 100.0), bar("2025-06-11", 102.0)];
        let same = stored.clone();
        assert_eq!(
            disagreement(&stored, &same, d("2025-06-10"), d("2025-06-11")),
            None
        );
        let split = vec![bar("2025-06-10", 50.0), bar("2025-06-11", 51.0)];
        let reason = disagreement(&stored, &split, d("2025-06-10"), d("2025-06-11")).unwrap();
        assert!(
            reason.starts_with("2025-06-10: open 100 stored, 50 now (x0.5000)"),
            "{reason}"
        );
        // Bars outside the overlap are not compared.
        let newer = vec![
            bar("2025-06-10", 100.0),
            bar("2025-06-11", 102.0),
            bar("2025-06-12", 1.0),
        ];
        assert_eq!(
            disagreement(&stored, &newer, d("2025-06-10"), d("2025-06-11")),
            None
        );
        let missing = vec![bar("2025-06-11", 102.0)];
        assert!(
            disagreement(&stored, &missing, d("2025-06-10"), d("2025-06-11"))
                .unwrap()
                .contains("missing")
        );
    }

    #[tokio::test]
    async fn partitions_round_trip_and_older_bars_than_the_coverage_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = screener_core::local::DirStore::new(dir.path());
        let symbol = Symbol::parse("AAPL").unwrap();
        let history = SymbolHistory {
            covered_from: d("2024-12-30"),
            fetched_through: d("2025-01-03"),
            bars: vec![
                bar("2024-12-30", 1.0),
                bar("2024-12-31", 2.0),
                bar("2025-01-02", 3.0),
                bar("2025-01-03", 4.0),
            ],
        };
        save(&store, "h/", &symbol, &history, 2024).await.unwrap();
        assert!(store.get("h/symbol=AAPL/year=2024.json").await.is_ok());
        let back = load(&store, "h/", &symbol, 2024, 2025)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, history);
        // A later refetch covering only 2025 on: the 2024 file's bars drop out.
        let newer = SymbolHistory {
            covered_from: d("2025-01-02"),
            fetched_through: d("2025-01-06"),
            bars: vec![
                bar("2025-01-02", 30.0),
                bar("2025-01-03", 40.0),
                bar("2025-01-06", 50.0),
            ],
        };
        save(&store, "h/", &symbol, &newer, 2025).await.unwrap();
        let back = load(&store, "h/", &symbol, 2024, 2025)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, newer);
    }
}
