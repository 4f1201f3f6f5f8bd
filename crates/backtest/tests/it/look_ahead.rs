//! No look-ahead: changing everything after a date t (prices, volumes, symbols listed and
//! delisted, even new sessions) changes no selection, fill or equity value up to t.

use screener_analytics::DEFAULT_SCREENS_TOML;
use screener_backtest::{BacktestResult, Settings};

use screener_test_support::rng::XorShift64Star;

use crate::common::{Bar, frame, synthetic_market_csv, weekdays};

fn parse(csv: &str) -> Vec<Bar> {
    csv.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            Bar {
                symbol: f[0].to_string(),
                date: f[1].to_string(),
                open: num(f[2]),
                high: num(f[3]),
                low: num(f[4]),
                close: num(f[5]),
                volume: num(f[6]),
            }
        })
        .collect()
}

const SCREENS: &str = r#"
[[screen]]
name = "losers"
conditions = ["ret_5d < 0", "close >= 5"]
sort = { metric = "ret_5d", direction = "asc" }
limit = 5

[[screen]]
name = "all_by_rsi"
conditions = ["close > 0"]
sort = { metric = "rsi_14", direction = "desc" }
limit = 30
"#;

fn run(bars: &[Bar], settings: &Settings) -> BacktestResult {
    let toml = format!("{DEFAULT_SCREENS_TOML}\n{SCREENS}");
    let screens = screener_analytics::ScreenSet::parse_toml(&toml).unwrap();
    screener_backtest::backtest_frame(frame(bars), &screens, settings).unwrap()
}

#[test]
fn changing_every_bar_after_t_changes_nothing_up_to_t() {
    let sessions = 400;
    let days = weekdays(sessions);
    let bars = parse(&synthetic_market_csv(60, sessions, 11));
    let settings = Settings::new(days[260].parse().unwrap());
    let t = days[330].clone();

    // After t: every price and volume changed, a third of the symbols delisted, new
    // symbols listed (one also trading on a Saturday, a new session), bars reordered.
    let mut rng = XorShift64Star::new(99);
    let mut changed: Vec<Bar> = Vec::new();
    for b in &bars {
        if b.date <= t {
            changed.push(b.clone());
            continue;
        }
        if b.symbol.len() % 3 == 0 {
            continue;
        }
        let k = 0.5 + rng.unit();
        let mut c = b.clone();
        c.open *= k;
        c.high *= k * 1.1;
        c.low *= k * 0.9;
        c.close *= 0.5 + rng.unit();
        c.volume = (c.volume * 3.0 * rng.unit()).round();
        changed.push(c);
    }
    for (i, d) in days.iter().enumerate().skip(331) {
        for s in ["NEW1", "ANEW", "S00.A"] {
            let p = 20.0 + i as f64 * 0.1;
            changed.push(Bar {
                symbol: s.to_string(),
                date: d.clone(),
                open: p,
                high: p * 1.01,
                low: p * 0.99,
                close: p,
                volume: 9e6,
            });
        }
    }
    // A Saturday after t: a session no other symbol has.
    let mut saturday: chrono::NaiveDate = days[350].parse().unwrap();
    while chrono::Datelike::weekday(&saturday) != chrono::Weekday::Sat {
        saturday = saturday.succ_opt().unwrap();
    }
    changed.push(Bar {
        symbol: "NEW1".into(),
        date: saturday.to_string(),
        open: 30.0,
        high: 31.0,
        low: 29.0,
        close: 30.5,
        volume: 9e6,
    });
    changed.reverse();

    let a = run(&bars, &settings);
    let b = run(&changed, &settings);
    let up_to_t = a
        .calendar
        .equity_dates
        .iter()
        .filter(|d| d.to_string() <= t)
        .count();
    assert!(up_to_t > 50, "t is well inside the run");
    assert_eq!(
        a.calendar.equity_dates[..up_to_t],
        b.calendar.equity_dates[..up_to_t]
    );
    let rebalances = a
        .calendar
        .rebalance_dates
        .iter()
        .filter(|d| d.to_string() <= t)
        .count();
    let mut compared = 0;
    for (pa, pb) in a.portfolios().zip(b.portfolios()) {
        assert_eq!(pa.name, pb.name);
        // Bit for bit, not within a tolerance.
        assert_eq!(pa.equity[..up_to_t], pb.equity[..up_to_t], "{}", pa.name);
        let sel = |r: &BacktestResult, s: &[Vec<u32>]| -> Vec<Vec<String>> {
            s.iter()
                .map(|x| x.iter().map(|&i| r.symbols[i as usize].clone()).collect())
                .collect()
        };
        assert_eq!(
            sel(&a, &pa.selections[..rebalances]),
            sel(&b, &pb.selections[..rebalances]),
            "{}",
            pa.name
        );
        let fills_a: Vec<_> = pa
            .fills
            .iter()
            .filter(|f| f.date.to_string() <= t)
            .collect();
        let fills_b: Vec<_> = pb
            .fills
            .iter()
            .filter(|f| f.date.to_string() <= t)
            .collect();
        assert_eq!(fills_a, fills_b, "{}", pa.name);
        compared += up_to_t + rebalances + fills_a.len();
    }
    // And the runs do differ after t.
    assert_ne!(a.benchmark.equity.last(), b.benchmark.equity.last());
    assert!(compared > 500);
}
