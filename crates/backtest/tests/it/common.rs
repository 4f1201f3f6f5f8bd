//! Hand-made markets for the tests: bars written row by row, run through the engine.

use screener_analytics::ScreenSet;
use screener_analytics::polars::prelude::*;
use screener_backtest::{BacktestResult, Settings, backtest_frame};
use screener_test_support::rng::XorShift64Star;

/// One bar: symbol, date, open, high, low, close, volume (NaN open: an empty cell).
#[derive(Clone, Debug)]
pub struct Bar {
    pub symbol: String,
    pub date: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

pub fn frame(bars: &[Bar]) -> DataFrame {
    let col = |f: fn(&Bar) -> f64| -> Vec<Option<f64>> {
        bars.iter()
            .map(|b| Some(f(b)).filter(|x| !x.is_nan()))
            .collect()
    };
    DataFrame::new(
        bars.len(),
        vec![
            Column::new(
                "symbol".into(),
                bars.iter().map(|b| b.symbol.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "date".into(),
                bars.iter().map(|b| b.date.clone()).collect::<Vec<_>>(),
            ),
            Column::new("open".into(), col(|b| b.open)),
            Column::new("high".into(), col(|b| b.high)),
            Column::new("low".into(), col(|b| b.low)),
            Column::new("close".into(), col(|b| b.close)),
            Column::new("volume".into(), col(|b| b.volume)),
        ],
    )
    .expect("frame")
}

/// A hand-made market on weekdays from 2020-01-06. In the edge-case tests, `volume` says
/// whether a symbol passes (`volume >= 2`) and `high` is the sort key: both are bar metrics,
/// so selections do not depend on indicator warm-up.
pub struct Market {
    pub days: Vec<String>,
    pub bars: Vec<Bar>,
}

impl Market {
    pub fn new(sessions: usize) -> Self {
        Market {
            days: weekdays(sessions),
            bars: Vec::new(),
        }
    }

    /// Adds a bar on session `day`.
    pub fn bar(&mut self, symbol: &str, day: usize, open: f64, close: f64, volume: f64, high: f64) {
        self.bars.push(Bar {
            symbol: symbol.to_string(),
            date: self.days[day].clone(),
            open,
            high,
            low: if open.is_nan() {
                close
            } else {
                open.min(close)
            },
            close,
            volume,
        });
    }

    /// Bars at open = close = `price` on each of `days`, volume and key as given.
    pub fn flat(
        &mut self,
        symbol: &str,
        days: impl IntoIterator<Item = usize>,
        price: f64,
        volume: f64,
        high: f64,
    ) {
        for d in days {
            self.bar(symbol, d, price, price, volume, high);
        }
    }

    pub fn date(&self, day: usize) -> chrono::NaiveDate {
        self.days[day].parse().unwrap()
    }

    /// Settings from session `start`, every `every`, fees `cost_bps`, horizon 1.
    pub fn settings(&self, start: usize, every: usize, cost_bps: f64) -> Settings {
        let mut s = Settings::new(self.date(start));
        s.every = every;
        s.cost_bps = cost_bps;
        s.horizons = vec![1];
        s
    }

    pub fn run(&self, screens_toml: &str, settings: &Settings) -> BacktestResult {
        let screens = ScreenSet::parse_toml(screens_toml).expect("screens");
        backtest_frame(frame(&self.bars), &screens, settings).expect("backtest")
    }
}

/// One screen: `volume >= 2`, sorted by `high` (`desc` or `asc`), keeping `limit`.
pub fn pick(direction: &str, limit: usize) -> String {
    format!(
        "[[screen]]\nname = \"pick\"\nconditions = [\"volume >= 2\"]\nsort = {{ metric = \"high\", direction = \"{direction}\" }}\nlimit = {limit}\n"
    )
}

/// The selections of a portfolio as symbol names.
pub fn names(r: &BacktestResult, selections: &[Vec<u32>]) -> Vec<Vec<String>> {
    selections
        .iter()
        .map(|s| s.iter().map(|&i| r.symbols[i as usize].clone()).collect())
        .collect()
}

pub fn strings(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter()
        .map(|s| s.iter().map(|x| x.to_string()).collect())
        .collect()
}

/// `a` and `b` agree to 1e-12 relative, element by element.
pub fn assert_close(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths {a:?} {b:?}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
            "{what}[{i}]: {x} vs {y} (all: {a:?} vs {b:?})"
        );
    }
}

/// Weekdays from 2020-01-06 (a Monday), `n` of them, as `YYYY-MM-DD`.
pub fn weekdays(n: usize) -> Vec<String> {
    let mut d = chrono::NaiveDate::from_ymd_opt(2020, 1, 6).unwrap();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        use chrono::Datelike;
        if d.weekday().num_days_from_monday() < 5 {
            out.push(d.to_string());
        }
        d = d.succ_opt().unwrap();
    }
    out
}

/// A synthetic market as CSV text: `symbols` random walks over `sessions` weekdays from
/// 2020-01-06, with late listings (a fifth of the symbols), delistings (a tenth), missing
/// bars (2% of the rows, and a whole missing week for some symbols) and bars without an
/// open (0.5%). Prices in cents, volumes whole.
pub fn synthetic_market_csv(symbols: usize, sessions: usize, seed: u64) -> String {
    let days = weekdays(sessions);
    let mut rng = XorShift64Star::new(seed);
    let mut out = String::from("symbol,date,open,high,low,close,volume\n");
    for s in 0..symbols {
        // Names with a dot and different lengths, so byte order matters.
        let name = match s % 7 {
            0 => format!("S{s:02}.B"),
            1 => format!("A{s}"),
            _ => format!("S{s:02}"),
        };
        let first = if rng.unit() < 0.2 {
            30 + (rng.unit() * (sessions as f64 - 80.0)) as usize
        } else {
            0
        };
        let last = if rng.unit() < 0.1 {
            first + 40 + (rng.unit() * (sessions - first - 40) as f64) as usize
        } else {
            sessions
        };
        let gap_week = (rng.unit() < 0.15).then(|| (rng.unit() * sessions as f64) as usize);
        let mut price = 5.0 + rng.unit() * 150.0;
        let drift = (rng.unit() - 0.5) * 0.002;
        let base_volume = 2e5 + rng.unit() * 4e6;
        for (i, day) in days.iter().enumerate().take(last).skip(first) {
            let prev = price;
            price *= 1.0 + drift + (rng.unit() - 0.5) * 0.06;
            price = price.max(0.5);
            let missing = rng.unit() < 0.02 || gap_week.is_some_and(|g| i >= g && i < g + 5);
            let no_open = rng.unit() < 0.005;
            if missing {
                continue;
            }
            let cents = |x: f64| (x * 100.0).round() / 100.0;
            let open = cents(prev * (1.0 + (rng.unit() - 0.5) * 0.02));
            let close = cents(price);
            let high = cents(open.max(close) * (1.0 + rng.unit() * 0.01));
            let low = cents(open.min(close) * (1.0 - rng.unit() * 0.01));
            let volume = (base_volume * (0.3 + rng.unit() * 1.4)).round();
            let open = if no_open {
                String::new()
            } else {
                open.to_string()
            };
            out.push_str(&format!(
                "{name},{day},{open},{high},{low},{close},{volume}\n"
            ));
        }
    }
    out
}
