//! One test per row of the spec's edge-case table (shared/specs/backtest.md), each on a
//! small hand-made market whose expected numbers are worked out by hand in the test.
//!
//! Unless a test says otherwise: sessions are weekdays from 2020-01-06 (day 0), the screen
//! is `pick` (passes when `volume >= 2`, sorted by `high`), fees are 0, and open = close.

use screener_analytics::DEFAULT_SCREENS_TOML;

use crate::common::{Market, assert_close, names, pick, strings};

#[test]
fn a_symbol_without_a_bar_on_a_rebalance_date_is_not_eligible_and_if_held_is_sold_at_the_next_open()
{
    // Rebalances on days 0, 2, 4 (every 2); fills on 1, 3, 5.
    let mut m = Market::new(6);
    // A passes on day 0 and has no bar on day 2; B passes on day 2.
    m.bar("A", 0, 10.0, 10.0, 2.0, 1.0);
    m.bar("A", 1, 10.0, 11.0, 1.0, 1.0);
    m.bar("A", 3, 12.0, 12.0, 1.0, 1.0);
    m.bar("A", 4, 12.0, 13.0, 1.0, 1.0);
    m.bar("A", 5, 13.0, 13.0, 1.0, 1.0);
    m.bar("B", 0, 20.0, 20.0, 1.0, 1.0);
    m.bar("B", 1, 20.0, 20.0, 1.0, 1.0);
    m.bar("B", 2, 20.0, 20.0, 2.0, 1.0);
    m.bar("B", 3, 20.0, 21.0, 1.0, 1.0);
    m.bar("B", 4, 21.0, 22.0, 1.0, 1.0);
    m.bar("B", 5, 22.0, 22.0, 1.0, 1.0);
    let r = m.run(&pick("desc", 1), &m.settings(0, 2, 0.0));
    let p = &r.screens[0];
    assert_eq!(names(&r, &p.selections), strings(&[&["A"], &["B"], &[]]));
    // Not eligible on day 2, so not in the benchmark there either.
    assert_eq!(
        names(&r, &r.benchmark.selections),
        strings(&[&["A", "B"], &["B"], &["A", "B"]])
    );
    // Day 1: 1.0 buys 0.1 A at 10. Day 2: A has no bar, valued at its last close 11.
    // Day 3: V = 0.1 x 12 = 1.2; A sold in full at the open, 1.2 / 20 = 0.06 B bought.
    // Day 5: nothing selected on day 4, B sold at 22: cash 1.32.
    assert_close(
        "equity",
        &p.equity,
        &[1.0, 1.1, 1.1, 0.06 * 21.0, 0.06 * 22.0, 1.32],
    );
    assert_eq!(p.metrics.n_orders, 4);
    assert_eq!(p.metrics.n_closed_positions, 2);
    assert_eq!(p.metrics.win_rate_closed_positions, Some(1.0));
    assert_close(
        "V",
        &p.fills.iter().map(|f| f.value).collect::<Vec<_>>(),
        &[1.0, 1.2, 1.32],
    );
}

#[test]
fn a_symbol_listed_late_is_eligible_from_its_first_bar_and_its_null_indicators_fail_conditions() {
    // 30 sessions; L is listed on day 10. Rebalances every 5 from day 5.
    let mut m = Market::new(30);
    m.flat("A", 0..30, 10.0, 1.0, 1.0);
    m.flat("L", 10..30, 20.0, 1.0, 1.0);
    // sma_20 is null until a symbol's 20th bar: A's day 19, L's day 29 (not a rebalance).
    // `!=` on a null is false too.
    let screens = r#"
[[screen]]
name = "above"
conditions = ["sma_20 > 0"]
sort = { metric = "close", direction = "asc" }

[[screen]]
name = "not_minus_one"
conditions = ["sma_20 != -1"]
sort = { metric = "close", direction = "asc" }
"#;
    let r = m.run(screens, &m.settings(5, 5, 0.0));
    let expected = strings(&[&[], &[], &[], &["A"], &["A"]]);
    assert_eq!(names(&r, &r.screens[0].selections), expected);
    assert_eq!(names(&r, &r.screens[1].selections), expected);
    // In the benchmark from its first bar (day 10), bought at the fill on day 11.
    assert_eq!(
        names(&r, &r.benchmark.selections),
        strings(&[&["A"], &["A", "L"], &["A", "L"], &["A", "L"], &["A", "L"]])
    );
    let fills = &r.benchmark.fills;
    assert_eq!(fills[0].n_orders, 1, "day 6: A alone");
    // Day 11: V = 1.0 (flat prices); A sells half, L buys half.
    assert_eq!(fills[1].n_orders, 2);
    assert_close("turnover", &[fills[1].turnover], &[1.0]);
}

#[test]
fn no_bar_on_the_fill_day_means_no_order_shares_kept_at_their_last_close_and_the_cash_stays() {
    // Rebalances on days 0, 2, 4, 6; fills on 1, 3, 5. A is flat at 10; B has no bar on
    // days 1 and 5.
    let mut m = Market::new(7);
    m.flat("A", [0, 2], 10.0, 2.0, 1.0);
    m.flat("A", [1, 3, 5, 6], 10.0, 1.0, 1.0);
    m.flat("A", [4], 10.0, 2.0, 1.0);
    m.bar("B", 0, 20.0, 20.0, 2.0, 2.0);
    m.bar("B", 2, 20.0, 20.0, 2.0, 2.0);
    m.bar("B", 3, 20.0, 21.0, 1.0, 2.0);
    m.bar("B", 4, 21.0, 22.0, 1.0, 2.0);
    m.bar("B", 6, 22.0, 23.0, 1.0, 2.0);
    let r = m.run(&pick("desc", 2), &m.settings(0, 2, 0.0));
    let p = &r.screens[0];
    assert_eq!(
        names(&r, &p.selections),
        strings(&[&["B", "A"], &["B", "A"], &["A"], &[]])
    );
    // Day 1: V = 1; A buys 0.5 / 10 = 0.05; B has no open: no order, its 0.5 stays cash.
    // Day 3: V = 0.5 + 0.05 x 10 = 1; A is on target (no order); B buys 0.5 / 20 = 0.025.
    // Day 5: B has no bar: it keeps its 0.025 (valued at day 4's close 22, for V too:
    // V = 0.5 + 0.55 = 1.05) and the cash is 0, so A's top-up cannot be bought.
    assert_close(
        "equity",
        &p.equity,
        &[
            1.0,
            0.5 + 0.5,
            1.0,
            0.5 + 0.025 * 21.0,
            0.5 + 0.025 * 22.0,
            0.5 + 0.025 * 22.0,
            0.5 + 0.025 * 23.0,
        ],
    );
    let skipped: Vec<usize> = p.fills.iter().map(|f| f.n_skipped_no_open).collect();
    assert_eq!(skipped, vec![1, 0, 1]);
    assert_eq!(p.metrics.n_orders_skipped_no_open, 2);
    let orders: Vec<usize> = p.fills.iter().map(|f| f.n_orders).collect();
    assert_eq!(orders, vec![1, 1, 0]);
    assert_close(
        "V",
        &p.fills.iter().map(|f| f.value).collect::<Vec<_>>(),
        &[1.0, 1.0, 1.05],
    );
}

#[test]
fn when_nothing_is_selected_the_portfolio_sells_everything_at_the_next_open_and_holds_cash() {
    // Rebalances on days 0, 2, 4; A passes on days 0 and 4 only.
    let mut m = Market::new(6);
    m.bar("A", 0, 10.0, 10.0, 2.0, 1.0);
    m.bar("A", 1, 10.0, 12.0, 1.0, 1.0);
    m.bar("A", 2, 12.0, 11.0, 1.0, 1.0);
    m.bar("A", 3, 15.0, 16.0, 1.0, 1.0);
    m.bar("A", 4, 16.0, 8.0, 2.0, 1.0);
    m.bar("A", 5, 10.0, 9.0, 1.0, 1.0);
    let r = m.run(&pick("desc", 5), &m.settings(0, 2, 0.0));
    let p = &r.screens[0];
    assert_eq!(names(&r, &p.selections), strings(&[&["A"], &[], &["A"]]));
    // 0.1 A from day 1; sold at day 3's open 15: cash 1.5, held through day 4's fall to 8;
    // day 5 buys 1.5 / 10 = 0.15 A, worth 1.35 at the close.
    assert_close("equity", &p.equity, &[1.0, 1.2, 1.1, 1.5, 1.5, 0.15 * 9.0]);
    assert_eq!(p.metrics.n_rebalances_empty, 1);
    assert_eq!(p.metrics.avg_selected, Some(2.0 / 3.0));
    // Holdings at the closes after t0: 1, 1, 0, 0, 1.
    assert_eq!(p.metrics.avg_holdings, Some(3.0 / 5.0));
}

#[test]
fn a_screen_that_never_selects_anything_has_flat_equity_zero_volatility_and_null_ratios() {
    let mut m = Market::new(12);
    m.flat("A", 0..12, 10.0, 1.0, 1.0);
    let mut b = 20.0;
    for d in 0..12 {
        b *= if d % 2 == 0 { 1.05 } else { 0.97 };
        m.bar("B", d, b, b, 1.0, 1.0);
    }
    let r = m.run(&pick("desc", 5), &m.settings(0, 3, 10.0));
    let p = &r.screens[0];
    assert!(p.selections.iter().all(|s| s.is_empty()));
    assert!(p.equity.iter().all(|&e| e == 1.0), "{:?}", p.equity);
    let x = &p.metrics;
    assert_eq!(x.total_return, Some(0.0));
    assert_eq!(x.cagr, Some(0.0));
    assert_eq!(x.annual_volatility, Some(0.0));
    assert_eq!(x.max_drawdown, Some(0.0));
    assert_eq!((x.sharpe, x.sortino, x.calmar), (None, None, None));
    assert_eq!(x.win_rate_closed_positions, None);
    assert_eq!(x.n_orders, 0);
    assert_eq!(x.n_rebalances_empty, x.n_rebalances);
    assert_eq!(x.turnover_mean, Some(0.0));
    assert_eq!(x.fees_paid, Some(0.0));
    // Null, never NaN, in JSON.
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"sharpe\":null"), "{json}");
    assert!(!json.contains("NaN") && !json.contains("inf"));
}

#[test]
fn ties_in_the_sort_metric_go_to_the_symbol_first_in_byte_order() {
    // Equal keys; byte order puts "A.X" < "AB" < "B" < "a".
    let mut m = Market::new(3);
    for s in ["a", "B", "AB", "A.X"] {
        m.flat(s, 0..3, 10.0, 2.0, 7.0);
    }
    m.flat("C", 0..3, 10.0, 2.0, 6.0);
    for direction in ["desc", "asc"] {
        let r = m.run(&pick(direction, 3), &m.settings(0, 2, 0.0));
        let first = &names(&r, &r.screens[0].selections)[0];
        let expected: &[&str] = if direction == "desc" {
            &["A.X", "AB", "B"]
        } else {
            &["C", "A.X", "AB"]
        };
        assert_eq!(first, &strings(&[expected])[0], "{direction}");
    }
}

#[test]
fn a_passing_symbol_with_a_null_sort_metric_ranks_after_every_non_null_one() {
    // 25 sessions, one rebalance on day 24 (the last). Y is listed on day 10: its sma_20
    // is null there; X and Z have values 10 and 30 (flat prices).
    let mut m = Market::new(25);
    m.flat("X", 0..25, 10.0, 2.0, 1.0);
    m.flat("Y", 10..25, 50.0, 2.0, 1.0);
    m.flat("Z", 0..25, 30.0, 2.0, 1.0);
    for (direction, expected) in [("desc", ["Z", "X", "Y"]), ("asc", ["X", "Z", "Y"])] {
        let screens = format!(
            "[[screen]]\nname = \"s\"\nconditions = [\"volume >= 2\"]\nsort = {{ metric = \"sma_20\", direction = \"{direction}\" }}\n"
        );
        let r = m.run(&screens, &m.settings(24, 5, 0.0));
        assert_eq!(
            names(&r, &r.screens[0].selections),
            strings(&[&expected]),
            "{direction}"
        );
    }
}

#[test]
fn a_rebalance_date_on_the_last_session_gets_signals_but_no_fill() {
    // Five sessions, every 2: rebalances on days 0, 2 and 4 = last.
    let mut m = Market::new(5);
    m.flat("A", 0..5, 10.0, 2.0, 1.0);
    let r = m.run(&pick("desc", 1), &m.settings(0, 2, 0.0));
    assert_eq!(r.calendar.n_rebalance_dates, 3);
    assert_eq!(r.calendar.n_fills, 2);
    let p = &r.screens[0];
    assert_eq!(p.selections.len(), 3, "the last date has its selection");
    assert_eq!(p.fills.len(), 2);
    assert_eq!(p.metrics.n_rebalances, 2);
    // Its factor row counts as offered data but has no forward return (t + 1 > last).
    let f = p.factor.as_ref().unwrap();
    assert_eq!(f.n_factor_rows, 3);
    assert_eq!(p.forward_returns.selected[&1].n, 2);
}

#[test]
fn fees_come_on_top_of_the_targets_and_cut_the_last_buys() {
    // One symbol, 10 bps: the first fill from cash invests V / (1 + f).
    let mut m = Market::new(4);
    m.flat("A", 0..4, 10.0, 2.0, 1.0);
    let r = m.run(&pick("desc", 1), &m.settings(0, 2, 10.0));
    let x = &r.screens[0].metrics;
    assert_close(
        "turnover_first",
        &[x.turnover_first.unwrap()],
        &[1.0 / 1.001],
    );
    assert_close("fees", &[x.fees_paid.unwrap()], &[1.0 - 1.0 / 1.001]);
    assert_close("final", &[x.final_value.unwrap()], &[1.0 / 1.001]);

    // Four symbols at 4,000 bps: n x f = 1.6 > 1. Equal targets of 0.25 and nothing held:
    // equal order values, so the buys go in symbol order. A and B cost 0.25 + 0.10 each,
    // C gets what is left, 0.30 / 1.4 of stock, D nothing.
    let mut m = Market::new(3);
    for s in ["A", "B", "C", "D"] {
        m.flat(s, 0..3, 10.0, 2.0, 1.0);
    }
    let r = m.run(&pick("desc", 4), &m.settings(0, 2, 4000.0));
    let p = &r.screens[0];
    let fill = &p.fills[0];
    assert_eq!(fill.n_orders, 3, "D gets nothing");
    let c = 0.30 / 1.4;
    assert_close("traded", &[fill.traded], &[0.25 + 0.25 + c]);
    assert_close("fees", &[fill.fees], &[0.1 + 0.1 + (0.30 - c)]);
    assert_close("equity", &p.equity, &[1.0, 0.5 + c, 0.5 + c]);
    assert_eq!(p.metrics.avg_holdings, Some(3.0));
}

#[test]
fn a_held_symbol_not_selected_any_more_is_sold_in_full_at_the_next_open() {
    // A passes on day 0, B on day 2 (A still eligible, no longer passing).
    let mut m = Market::new(4);
    m.bar("A", 0, 10.0, 10.0, 2.0, 1.0);
    m.bar("A", 1, 10.0, 10.0, 1.0, 1.0);
    m.bar("A", 2, 10.0, 10.0, 1.0, 1.0);
    m.bar("A", 3, 8.0, 50.0, 1.0, 1.0);
    m.flat("B", [0, 1], 5.0, 1.0, 1.0);
    m.flat("B", [2], 5.0, 2.0, 1.0);
    m.bar("B", 3, 4.0, 6.0, 1.0, 1.0);
    let r = m.run(&pick("desc", 1), &m.settings(0, 2, 0.0));
    let p = &r.screens[0];
    assert_eq!(names(&r, &p.selections), strings(&[&["A"], &["B"]]));
    // Day 3: 0.1 A sold at 8 (A's jump to 50 at the close is not held), 0.8 / 4 = 0.2 B
    // bought, worth 1.2 at 6.
    assert_close("equity", &p.equity, &[1.0, 1.0, 1.0, 1.2]);
    assert_close("traded", &[p.fills[1].traded], &[0.8 + 0.8]);
    assert_close("turnover", &[p.fills[1].turnover], &[2.0]);
    assert_eq!(p.metrics.n_closed_positions, 1);
    assert_eq!(p.metrics.win_rate_closed_positions, Some(0.0));
}

#[test]
fn a_factor_date_with_tied_quantile_edges_is_dropped_from_the_factor_analysis_only() {
    // Ten symbols, rebalances on days 0 and 2, horizon 1. The factor is `high` (desc).
    // Day 0: keys 1..10, distinct. Day 2: keys 1, 1, 1, 4..10: the edges at 0 and 0.2
    // (positions 0 and 1.8) are both 1, so pandas' qcut refuses and the date is dropped.
    let mut m = Market::new(4);
    let names_: Vec<String> = (0..10).map(|i| format!("S{i}")).collect();
    for (i, s) in names_.iter().enumerate() {
        let key0 = (i + 1) as f64;
        let key2 = if i < 3 { 1.0 } else { key0 };
        // Day 1's close makes the forward return of S_i on day 0 equal (i + 1)%.
        m.bar(s, 0, 100.0, 100.0, 2.0, key0);
        m.bar(s, 1, 100.0, 100.0 + key0, 1.0, key0);
        m.bar(s, 2, 100.0, 100.0, 2.0, key2);
        m.bar(s, 3, 100.0, 100.0 + key0, 1.0, key0);
    }
    let r = m.run(&pick("desc", 3), &m.settings(0, 2, 0.0));
    let p = &r.screens[0];
    // The selection on the tied date is made as usual.
    assert_eq!(
        names(&r, &p.selections),
        strings(&[&["S9", "S8", "S7"], &["S9", "S8", "S7"]])
    );
    let f = p.factor.as_ref().unwrap();
    assert_eq!(f.n_dates_offered, 2);
    assert_eq!(f.n_dates, 1);
    assert_eq!(f.ic_dates, vec![m.date(0)]);
    assert_eq!(f.n_rows, 10);
    // Day 0: edges 2.8, 4.6, 6.4, 8.2 put two symbols in each quantile; returns are
    // (i+1)% for key i+1, so the IC is 1 and quantile q's mean is (2q - 0.5)%.
    assert_eq!(f.count_by_quantile, [2; 5]);
    assert_close("ic", &[f.mean_ic[&1].unwrap()], &[1.0]);
    let raw: Vec<f64> = f.mean_return_by_quantile[&1]
        .iter()
        .map(|x| x.unwrap())
        .collect();
    assert_close("by quantile", &raw, &[0.015, 0.035, 0.055, 0.075, 0.095]);
    let demeaned: Vec<f64> = f.mean_return_by_quantile_demeaned[&1]
        .iter()
        .map(|x| x.unwrap())
        .collect();
    assert_close("demeaned", &demeaned, &[-0.04, -0.02, 0.0, 0.02, 0.04]);
    assert_close("spread", &[f.spread_top_minus_bottom[&1].unwrap()], &[0.08]);
    assert_close("halved", &[f.spread_alphalens_halved[&1].unwrap()], &[0.04]);
    // Forward returns are not filtered by the factor: both dates count.
    assert_eq!(p.forward_returns.selected[&1].n, 6);
}

#[test]
fn bad_input_is_refused_before_any_work_naming_the_problem() {
    let mut m = Market::new(3);
    m.flat("A", 0..3, 10.0, 2.0, 1.0);
    let frame = crate::common::frame(&m.bars);
    let screens = screener_analytics::ScreenSet::parse_toml(DEFAULT_SCREENS_TOML).unwrap();
    // End before start.
    let mut s = m.settings(2, 1, 0.0);
    s.end = Some(m.date(0));
    let err = screener_backtest::backtest_frame(frame.clone(), &screens, &s).unwrap_err();
    assert_eq!(err.to_string(), "end 2020-01-06 is before start 2020-01-08");
    // No session in range.
    let s = screener_backtest::Settings::new("2021-01-01".parse().unwrap());
    let err = screener_backtest::backtest_frame(frame.clone(), &screens, &s)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("no session in range: on or after 2021-01-01"),
        "{err}"
    );
    // A file without the columns.
    let no_close = frame.drop("close").unwrap();
    let err =
        screener_backtest::backtest_frame(no_close, &screens, &m.settings(0, 1, 0.0)).unwrap_err();
    assert!(
        matches!(&err, screener_backtest::BacktestError::MissingColumn { column, .. } if column == "close"),
        "{err}"
    );
    assert!(err.to_string().contains("missing required column `close`"));
    // An unknown metric is refused by the screens parser and, for screens built in code,
    // by the engine (plan.rs's unit test).
}
