//! The embedded default market: a deterministic synthetic US equity market, so that everything
//! runs offline. NOT real prices; every output that uses it says so.
//!
//! Model, per trading day (NYSE calendar) over the history window (3 years by default, ending
//! at the requested end date):
//! * a market factor with volatility clustering, 11 sector factors, and an idiosyncratic part
//!   whose volatility follows a mean-reverting log process (stochastic volatility);
//! * jumps (about 2 a year, skewed down); each symbol has its own drift, beta and volatility;
//! * about 8% of names are in a crash regime over their last months (deep drawdowns); about 2%
//!   listed recently (short history), 1% stopped trading weeks ago (stale), 2% had a split,
//!   already adjusted (continuous prices, volume before the split scaled by the ratio).
//!
//! Deliberate data faults, so validation has real work: for each of the five kinds (a missing
//! day, a zero-volume bar, a bar with high < low, a duplicated date, a non-positive close),
//! 0.6% of the symbols (at least one each once there are 20 symbols) get one such bar on a day
//! within their last 200 sessions. [`SyntheticMarket::injected_faults`] lists them.
//!
//! Same seed, same symbols, same end date: same bytes. The generator is our own
//! [`SplitMix64`](crate::splitmix::SplitMix64), so no dependency upgrade can change the data.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::bar::{Bar, BarsBySymbol};
use crate::calendar;
use crate::ports::{Asset, DataSourceInfo, MarketData, MarketDataError};
use crate::splitmix::SplitMix64;
use crate::symbol::Symbol;

pub const DEFAULT_SEED: u64 = 20_240_501;
pub const DEFAULT_SYMBOLS: usize = 500;
pub const MAX_SYMBOLS: usize = 50_000;
const HISTORY_YEARS: i64 = 3;
const FAULT_RATE: f64 = 0.006;

const SECTORS: [&str; 11] = [
    "Technology",
    "Health Care",
    "Financials",
    "Consumer Discretionary",
    "Communication Services",
    "Industrials",
    "Consumer Staples",
    "Energy",
    "Utilities",
    "Real Estate",
    "Materials",
];
const EXCHANGES: [&str; 3] = ["NYSE", "NASDAQ", "ARCA"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    MissingDay,
    ZeroVolume,
    HighBelowLow,
    DuplicateDate,
    NonPositivePrice,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::MissingDay,
        FaultKind::ZeroVolume,
        FaultKind::HighBelowLow,
        FaultKind::DuplicateDate,
        FaultKind::NonPositivePrice,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InjectedFault {
    pub symbol: Symbol,
    pub kind: FaultKind,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Regime {
    Normal,
    Crash,
    RecentListing { sessions: usize },
    Stale { sessions_ago: usize },
}

#[derive(Debug, Clone)]
struct Profile {
    asset: Asset,
    sector_index: usize,
    stream: u64,
    start_price: f64,
    annual_drift: f64,
    annual_vol: f64,
    beta: f64,
    base_volume: f64,
    regime: Regime,
    split: Option<(usize, f64)>,       // (sessions before the end, ratio)
    fault: Option<(FaultKind, usize)>, // (kind, sessions before the last bar)
}

/// A deterministic synthetic market of `symbol_count` symbols.
pub struct SyntheticMarket {
    seed: u64,
    profiles: Vec<Profile>,
    by_symbol: HashMap<Symbol, usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("synthetic market: {0}")]
pub struct SyntheticConfigError(String);

impl SyntheticMarket {
    pub fn new(seed: u64, symbol_count: usize) -> Result<Self, SyntheticConfigError> {
        if symbol_count == 0 || symbol_count > MAX_SYMBOLS {
            return Err(SyntheticConfigError(format!(
                "symbol count must be 1..={MAX_SYMBOLS}, got {symbol_count}"
            )));
        }
        let mut rng = SplitMix64::new(seed ^ 0x0005_EED0_F5E7);
        let tickers = unique_tickers(&mut rng, symbol_count);
        let mut profiles: Vec<Profile> = tickers
            .into_iter()
            .enumerate()
            .map(|(index, ticker)| {
                let sector_index = rng.below(SECTORS.len());
                let exchange = EXCHANGES[rng.below(EXCHANGES.len())];
                let regime = match rng.uniform() {
                    u if u < 0.08 => Regime::Crash,
                    u if u < 0.10 => Regime::RecentListing {
                        sessions: 30 + rng.below(100),
                    },
                    u if u < 0.11 => Regime::Stale {
                        sessions_ago: 10 + rng.below(20),
                    },
                    _ => Regime::Normal,
                };
                let split = (rng.uniform() < 0.02).then(|| {
                    let ratios = [2.0, 3.0, 4.0, 0.1];
                    (20 + rng.below(500), ratios[rng.below(ratios.len())])
                });
                Profile {
                    asset: Asset {
                        symbol: Symbol::parse(&ticker).expect("generated tickers are valid"),
                        name: format!("{} {} Corp (synthetic)", ticker, SECTORS[sector_index]),
                        exchange: exchange.to_string(),
                        sector: Some(SECTORS[sector_index].to_string()),
                    },
                    sector_index,
                    stream: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64 + 1),
                    start_price: (3.0 + rng.normal() * 0.9).exp().clamp(2.0, 900.0),
                    annual_drift: 0.08 + 0.12 * rng.normal(),
                    annual_vol: 0.15 + 0.45 * rng.uniform(),
                    beta: 0.5 + rng.uniform(),
                    base_volume: (14.0 + 1.5 * rng.normal()).exp().clamp(5_000.0, 8e7),
                    regime,
                    split,
                    fault: None,
                }
            })
            .collect();

        // Faults: a fixed share of symbols per kind, distinct symbols, at least one of each
        // kind once the market is big enough for that to be a low rate.
        let per_kind = ((symbol_count as f64 * FAULT_RATE).round() as usize)
            .max(usize::from(symbol_count >= 20));
        let mut order: Vec<usize> = (0..symbol_count).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let eligible: Vec<usize> = order
            .into_iter()
            .filter(|&i| matches!(profiles[i].regime, Regime::Normal | Regime::Crash))
            .collect();
        let mut candidates = eligible.into_iter();
        for kind in FaultKind::ALL {
            for _ in 0..per_kind {
                if let Some(i) = candidates.next() {
                    profiles[i].fault = Some((kind, 2 + rng.below(198)));
                }
            }
        }

        let by_symbol = profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (p.asset.symbol.clone(), i))
            .collect();
        Ok(SyntheticMarket {
            seed,
            profiles,
            by_symbol,
        })
    }

    pub fn symbol_count(&self) -> usize {
        self.profiles.len()
    }

    /// The faults injected in the bars of a history ending on `end`.
    pub fn injected_faults(&self, end: NaiveDate) -> Vec<InjectedFault> {
        let days = history_days(end);
        self.profiles
            .iter()
            .filter_map(|p| {
                let (kind, back) = p.fault?;
                let last = last_session_index(p, days.len())?;
                let index = last.checked_sub(back)?;
                Some(InjectedFault {
                    symbol: p.asset.symbol.clone(),
                    kind,
                    date: days[index],
                })
            })
            .collect()
    }

    /// The whole history of one symbol ending on `end`, faults included.
    fn history(&self, profile: &Profile, days: &[NaiveDate], factors: &Factors) -> Vec<Bar> {
        let mut rng = SplitMix64::new(profile.stream);
        let n = days.len();
        let Some(last) = last_session_index(profile, n) else {
            return Vec::new();
        };
        let first = match profile.regime {
            Regime::RecentListing { sessions } => n.saturating_sub(sessions),
            _ => 0,
        };
        let crash_from = n.saturating_sub(60 + (profile.stream % 90) as usize);
        let daily_vol = profile.annual_vol / 252f64.sqrt();
        let mut log_vol = 0.0f64;
        let mut close = profile.start_price;
        let mut bars = Vec::with_capacity(n);
        for (t, day) in days.iter().enumerate() {
            // Draw every day's randomness even outside the listed range, so a symbol's path
            // does not depend on its regime's cut-offs.
            let (z_idio, z_vol, z_gap, z_range, z_volume, u_jump, z_jump) = (
                rng.normal(),
                rng.normal(),
                rng.normal(),
                rng.normal().abs(),
                rng.normal(),
                rng.uniform(),
                rng.normal(),
            );
            log_vol = 0.97 * log_vol + 0.12 * z_vol;
            let sigma = daily_vol * log_vol.exp();
            let drift = match profile.regime {
                Regime::Crash if t >= crash_from => -1.6 / 252.0,
                _ => profile.annual_drift / 252.0,
            };
            let jump = if u_jump < 2.0 / 252.0 {
                -0.02 + 0.08 * z_jump
            } else {
                0.0
            };
            let ret = drift - 0.5 * sigma * sigma
                + profile.beta * factors.market[t]
                + factors.sector[profile.sector_index][t]
                + sigma * z_idio
                + jump;
            let previous = close;
            close = (close * ret.exp()).max(0.05);
            if t < first || t > last {
                continue;
            }
            let open = previous * (0.3 * sigma * z_gap).exp();
            let high = open.max(close) * (1.0 + 0.6 * sigma * z_range);
            let low = open.min(close) * (1.0 - 0.6 * sigma * z_range).max(0.5);
            let mut volume =
                profile.base_volume * (0.35 * z_volume).exp() * (1.0 + 20.0 * ret.abs());
            if let Some((back, ratio)) = profile.split {
                // Adjusted history: before the split, volume is scaled by the ratio.
                if t + back < last {
                    volume *= ratio;
                }
            }
            bars.push(Bar {
                date: *day,
                open: cents(open),
                high: cents(high),
                low: cents(low),
                close: cents(close),
                volume: volume.round().max(100.0),
                vwap: Some(cents((open + high + low + close) / 4.0)),
                trade_count: Some((volume / 120.0).round().max(1.0) as u64),
            });
        }
        if let Some((kind, back)) = profile.fault
            && let Some(i) = bars.len().checked_sub(1 + back)
        {
            inject(&mut bars, i, kind);
        }
        bars
    }
}

fn inject(bars: &mut Vec<Bar>, i: usize, kind: FaultKind) {
    match kind {
        FaultKind::MissingDay => {
            bars.remove(i);
        }
        FaultKind::ZeroVolume => bars[i].volume = 0.0,
        FaultKind::HighBelowLow => {
            let bar = &mut bars[i];
            std::mem::swap(&mut bar.high, &mut bar.low);
        }
        FaultKind::DuplicateDate => {
            let copy = bars[i].clone();
            bars.insert(i + 1, copy);
        }
        FaultKind::NonPositivePrice => bars[i].close = 0.0,
    }
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn history_days(end: NaiveDate) -> Vec<NaiveDate> {
    let end = calendar::last_trading_day_on_or_before(end);
    calendar::trading_days(end - Duration::days(365 * HISTORY_YEARS), end)
}

fn last_session_index(profile: &Profile, sessions: usize) -> Option<usize> {
    let back = match profile.regime {
        Regime::Stale { sessions_ago } => sessions_ago,
        _ => 0,
    };
    sessions.checked_sub(1 + back)
}

struct Factors {
    market: Vec<f64>,
    sector: Vec<Vec<f64>>,
}

impl Factors {
    fn new(seed: u64, sessions: usize) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0xFAC7_0125);
        let mut variance = 0.0001f64;
        let market = (0..sessions)
            .map(|_| {
                // GARCH(1,1)-like clustering around 16% annual volatility.
                let shock = variance.sqrt() * rng.normal();
                variance = 0.000_005 + 0.08 * shock * shock + 0.9 * variance;
                0.0003 + shock
            })
            .collect();
        let sector = (0..SECTORS.len())
            .map(|_| (0..sessions).map(|_| 0.006 * rng.normal()).collect())
            .collect();
        Factors { market, sector }
    }
}

#[async_trait]
impl MarketData for SyntheticMarket {
    fn source(&self) -> DataSourceInfo {
        DataSourceInfo {
            kind: "synthetic".into(),
            description: format!(
                "SYNTHETIC market (seed {}, {} symbols): generated prices, not real market data",
                self.seed,
                self.profiles.len()
            ),
            synthetic: true,
            feed: None,
            adjustment: "all".into(),
        }
    }

    async fn universe(&self) -> Result<Vec<Asset>, MarketDataError> {
        let mut assets: Vec<Asset> = self.profiles.iter().map(|p| p.asset.clone()).collect();
        assets.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(assets)
    }

    async fn daily_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<BarsBySymbol, MarketDataError> {
        MarketDataError::check_range(start, end)?;
        let days = history_days(end);
        let factors = Factors::new(self.seed, days.len());
        let mut out = BarsBySymbol::new();
        for symbol in symbols {
            let Some(&index) = self.by_symbol.get(symbol) else {
                continue;
            };
            let bars: Vec<Bar> = self
                .history(&self.profiles[index], &days, &factors)
                .into_iter()
                .filter(|b| b.date >= start)
                .collect();
            if !bars.is_empty() {
                out.insert(symbol.clone(), bars);
            }
        }
        Ok(out)
    }
}

fn unique_tickers(rng: &mut SplitMix64, count: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        // Lengths 2..=5 (5 leaves room for 10,000s of names), now and then a share class.
        let len = 2 + rng.below(4);
        let mut ticker: String = (0..len)
            .map(|_| (b'A' + rng.below(26) as u8) as char)
            .collect();
        if rng.uniform() < 0.01 {
            ticker.push_str(if rng.uniform() < 0.5 { ".B" } else { "-A" });
        }
        if seen.insert(ticker.clone()) {
            out.push(ticker);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bar::write_bars_csv;

    fn end() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 13).unwrap()
    }

    async fn all_bars(market: &SyntheticMarket) -> BarsBySymbol {
        let symbols: Vec<Symbol> = market
            .universe()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.symbol)
            .collect();
        market
            .daily_bars(&symbols, end() - Duration::days(2000), end())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let a = write_bars_csv(&all_bars(&SyntheticMarket::new(7, 50).unwrap()).await);
        let b = write_bars_csv(&all_bars(&SyntheticMarket::new(7, 50).unwrap()).await);
        let c = write_bars_csv(&all_bars(&SyntheticMarket::new(8, 50).unwrap()).await);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[tokio::test]
    async fn history_covers_three_years_of_trading_days_only() {
        let market = SyntheticMarket::new(1, 40).unwrap();
        let bars = all_bars(&market).await;
        // The most common length is the full history (faults add or remove a bar).
        let mut lengths: HashMap<usize, usize> = HashMap::new();
        for list in bars.values() {
            *lengths.entry(list.len()).or_default() += 1;
        }
        let full = lengths
            .into_iter()
            .max_by_key(|(_, count)| *count)
            .unwrap()
            .0;
        let expected = history_days(end()).len();
        assert_eq!(full, expected);
        assert!((750..=760).contains(&expected), "{expected}");
        for list in bars.values() {
            assert!(list.iter().all(|b| calendar::is_trading_day(b.date)));
        }
    }

    #[tokio::test]
    async fn every_fault_kind_is_injected_where_it_says() {
        let market = SyntheticMarket::new(3, 200).unwrap();
        let faults = market.injected_faults(end());
        for kind in FaultKind::ALL {
            assert!(faults.iter().any(|f| f.kind == kind), "{kind:?} missing");
        }
        let bars = all_bars(&market).await;
        for fault in &faults {
            let list = &bars[&fault.symbol];
            let on_day: Vec<&Bar> = list.iter().filter(|b| b.date == fault.date).collect();
            match fault.kind {
                FaultKind::MissingDay => assert!(on_day.is_empty()),
                FaultKind::DuplicateDate => assert_eq!(on_day.len(), 2),
                FaultKind::ZeroVolume => assert_eq!(on_day[0].volume, 0.0),
                FaultKind::HighBelowLow => assert!(on_day[0].high < on_day[0].low),
                FaultKind::NonPositivePrice => assert!(on_day[0].close <= 0.0),
            }
        }
    }

    #[tokio::test]
    async fn clean_bars_are_consistent_and_some_names_are_in_deep_drawdown() {
        let market = SyntheticMarket::new(11, 300).unwrap();
        let faulty: std::collections::HashSet<Symbol> = market
            .injected_faults(end())
            .into_iter()
            .map(|f| f.symbol)
            .collect();
        let bars = all_bars(&market).await;
        let mut deep = 0;
        for (symbol, list) in &bars {
            if faulty.contains(symbol) {
                continue;
            }
            for b in list {
                assert!(
                    b.low <= b.open.min(b.close) && b.high >= b.open.max(b.close),
                    "{symbol} {b:?}"
                );
                assert!(b.low > 0.0 && b.volume > 0.0);
            }
            let peak = list
                .iter()
                .rev()
                .take(125)
                .map(|b| b.close)
                .fold(0.0, f64::max);
            if list.last().unwrap().close / peak - 1.0 < -0.4 {
                deep += 1;
            }
        }
        assert!(deep >= 5, "only {deep} names in a deep drawdown");
    }

    #[test]
    fn the_symbol_count_is_bounded() {
        assert!(SyntheticMarket::new(1, 0).is_err());
        assert!(SyntheticMarket::new(1, MAX_SYMBOLS + 1).is_err());
        assert_eq!(
            SyntheticMarket::new(1, 10_000).unwrap().symbol_count(),
            10_000
        );
    }

    #[tokio::test]
    async fn describes_itself_as_synthetic() {
        let source = SyntheticMarket::new(1, 5).unwrap().source();
        assert!(source.synthetic);
        assert!(source.description.contains("SYNTHETIC"));
    }
}
