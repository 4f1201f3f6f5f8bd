//! The engine: settings and screens checked, the calendar built, each symbol reduced to
//! what the backtest needs ([`Backtest::extract`], independent per symbol, so callers run it
//! in parallel or over a stream), then the cross-section, the simulation and the factor
//! analysis ([`Backtest::finish`]). No I/O: bars come in as slices, a result goes out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use screener_analytics::{ScreenSet, SymbolBars};

use crate::calendar::{Calendar, date, days};
use crate::error::BacktestError;
use crate::factor::{self, FactorSpec, FactorStats, ForwardStats};
use crate::panel::{self, Panel, SymbolData};
use crate::plan::Plan;
use crate::portfolio::{self, Simulation};
use crate::result::{
    Arguments, BacktestResult, CalendarFacts, Factor, Fill, ForwardReturn, ForwardReturns, Metrics,
    Portfolio, ScreenArguments, finite,
};
use crate::select::{self, Selections};
use crate::settings::Settings;
use crate::stats::{self, ANNUALIZATION};

/// One backtest run over one set of screens.
#[derive(Clone, Debug)]
pub struct Backtest {
    settings: Settings,
    screens: ScreenSet,
    plan: Plan,
    calendar: Calendar,
}

/// Called with each phase's name and wall time as it ends (progress on long runs).
pub type Progress<'a> = &'a (dyn Fn(&str, Duration) + Sync);

/// Phase timer.
pub(crate) struct Phases<'a> {
    last: Instant,
    pub done: Vec<(&'static str, Duration)>,
    progress: Option<Progress<'a>>,
}

impl<'a> Phases<'a> {
    pub fn new(progress: Option<Progress<'a>>) -> Self {
        Phases {
            last: Instant::now(),
            done: Vec::new(),
            progress,
        }
    }

    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.record(name, now - self.last);
        self.last = now;
    }

    /// Records a phase timed elsewhere.
    pub fn record(&mut self, name: &'static str, took: Duration) {
        self.done.push((name, took));
        if let Some(progress) = self.progress {
            progress(name, took);
        }
    }
}

impl Backtest {
    /// Checks the settings and the screens: everything that can be refused without bars.
    pub fn check(settings: &Settings, screens: &ScreenSet) -> Result<(), BacktestError> {
        settings.validate()?;
        Plan::compile(screens)?;
        Ok(())
    }

    /// Checks the settings and screens and builds the calendar from every bar's date
    /// (in any order, in chunks).
    pub fn new(
        settings: Settings,
        screens: &ScreenSet,
        dates: &[&[i32]],
    ) -> Result<Backtest, BacktestError> {
        settings.validate()?;
        let plan = Plan::compile(screens)?;
        let calendar = Calendar::from_dates(dates, &settings)?;
        Ok(Backtest {
            settings,
            screens: screens.clone(),
            plan,
            calendar,
        })
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// True if the symbol has a bar on or before the end (it counts in `n_symbols`).
    pub fn counts(&self, bars: &SymbolBars<'_>) -> bool {
        bars.dates
            .first()
            .is_some_and(|&d| d <= self.calendar.sessions[self.calendar.last])
    }

    /// Reduces one symbol's whole history (bars sorted by strictly increasing date) to what
    /// the backtest keeps; `None` if it has no bar from `t0` to `last`. Pure and independent
    /// per symbol.
    pub fn extract(&self, name: &str, bars: &SymbolBars<'_>) -> Option<SymbolData> {
        panel::extract(name, bars, &self.calendar, &self.plan)
    }

    /// Everything after the per-symbol pass. `symbols` may come in any order; `n_symbols`
    /// is how many symbols had a bar on or before the end (see [`Backtest::counts`]).
    pub fn finish(
        &self,
        mut symbols: Vec<SymbolData>,
        n_symbols: usize,
    ) -> Result<BacktestResult, BacktestError> {
        self.finish_timed(&mut symbols, n_symbols, Phases::new(None))
    }

    pub(crate) fn finish_timed(
        &self,
        symbols: &mut Vec<SymbolData>,
        n_symbols: usize,
        mut phases: Phases<'_>,
    ) -> Result<BacktestResult, BacktestError> {
        if !symbols.windows(2).all(|w| w[0].name < w[1].name) {
            symbols.sort_unstable_by(|a, b| a.name.cmp(&b.name));
            if let Some(w) = symbols.windows(2).find(|w| w[0].name == w[1].name) {
                return Err(BacktestError::DuplicateSymbol {
                    symbol: w[0].name.clone(),
                });
            }
        }
        let cal = &self.calendar;
        let panel = Panel::new(std::mem::take(symbols), cal, &self.plan);
        let panel = &panel;
        phases.mark("lay out by date");
        let n_rebal = cal.rebalances.len();
        let eligible = select::eligible(panel, n_rebal);
        let selections: Vec<Selections> = self
            .plan
            .screens
            .iter()
            .enumerate()
            .map(|(i, s)| select::screen(s, i, panel, &eligible))
            .collect();
        phases.mark("signals");

        let f = self.settings.fee_rate();
        let portfolios: Vec<&Selections> = selections
            .iter()
            .chain(std::iter::once(&eligible))
            .collect();
        let sims: Vec<Simulation> = std::thread::scope(|scope| {
            let handles: Vec<_> = portfolios
                .iter()
                .map(|sel| scope.spawn(move || portfolio::simulate(cal, panel, sel, f)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("simulation threads do not panic"))
                .collect()
        });
        phases.mark("simulation");

        let horizons = &self.settings.horizons;
        let eligible_forward = factor::forward_returns(cal, panel, &eligible, horizons);
        let specs: Vec<FactorSpec> = self
            .plan
            .screens
            .iter()
            .map(|s| FactorSpec {
                key: s.key,
                descending: s.descending,
            })
            .collect();
        let factor_stats = factor::factors(cal, panel, &eligible, &specs, horizons);
        let events =
            crate::event_study::Events::new(&panel.close, panel.n, &cal.rebalances, &eligible);
        let mut reports = Vec::with_capacity(portfolios.len());
        for (i, (sel, sim)) in portfolios.iter().zip(sims).enumerate() {
            let (name, forward, fac) = match self.plan.screens.get(i) {
                Some(screen) => {
                    let forward = factor::forward_returns(cal, panel, sel, horizons);
                    let factor = self.factor_report(i, &factor_stats[i]);
                    (screen.name.clone(), forward, Some(factor))
                }
                None => (
                    crate::plan::BENCHMARK.to_string(),
                    eligible_forward.clone(),
                    None,
                ),
            };
            reports.push(Portfolio {
                name,
                metrics: metrics(&sim, cal.n_fills),
                forward_returns: ForwardReturns {
                    selected: by_horizon(horizons, &forward),
                    eligible: by_horizon(horizons, &eligible_forward),
                },
                factor: fac,
                fills: sim
                    .fills
                    .iter()
                    .enumerate()
                    .map(|(k, f)| Fill {
                        date: cal.panel_date(cal.fill_position(k)),
                        selected: f.selected,
                        value: f.value,
                        traded: f.traded,
                        turnover: f.turnover(),
                        fees: f.fees,
                        n_orders: f.orders,
                        n_skipped_no_open: f.skipped,
                    })
                    .collect(),
                equity: sim.equity,
                selections: (*sel).clone(),
                event_study: self.plan.screens.get(i).map(|_| events.of(sel)),
            });
        }
        phases.mark("factor analysis");
        let benchmark = reports.pop().expect("the benchmark is last");
        Ok(BacktestResult {
            arguments: self.arguments(),
            calendar: CalendarFacts {
                first_session: date(cal.sessions[0]),
                last_session: date(cal.sessions[cal.last]),
                t0: date(cal.sessions[cal.t0]),
                n_sessions: cal.sessions.len(),
                n_returns: cal.panel_len() - 1,
                n_rebalance_dates: n_rebal,
                n_fills: cal.n_fills,
                rebalance_dates: cal.rebalances.iter().map(|&p| cal.panel_date(p)).collect(),
                equity_dates: (0..cal.panel_len()).map(|p| cal.panel_date(p)).collect(),
                n_symbols,
                n_symbols_in_range: panel.n,
            },
            symbols: panel.names.clone(),
            screens: reports,
            benchmark,
            phases: phases.done,
        })
    }

    fn arguments(&self) -> Arguments {
        let s = &self.settings;
        Arguments {
            start: s.start,
            end: s.end,
            every: s.every,
            cost_bps: s.cost_bps,
            horizons: s.horizons.clone(),
            screens: self
                .screens
                .screens
                .iter()
                .map(|sc| ScreenArguments {
                    name: sc.name.clone(),
                    description: sc.description.clone(),
                    conditions: sc.conditions.iter().map(|c| c.text.clone()).collect(),
                    sort_metric: sc.sort.metric.clone(),
                    sort_direction: if sc.sort.descending { "desc" } else { "asc" }.into(),
                    limit: sc.limit,
                })
                .collect(),
        }
    }

    fn factor_report(&self, screen: usize, stats: &FactorStats) -> Factor {
        let sc = &self.screens.screens[screen];
        let horizons = &self.settings.horizons;
        let per =
            |f: &dyn Fn(&factor::HorizonFactor) -> Option<f64>| -> BTreeMap<usize, Option<f64>> {
                horizons
                    .iter()
                    .zip(&stats.horizons)
                    .map(|(&h, x)| (h, f(x)))
                    .collect()
            };
        Factor {
            metric: sc.sort.metric.clone(),
            negated: !sc.sort.descending,
            quantiles: factor::QUANTILES,
            mean_ic: per(&|x| finite(x.mean_ic)),
            ic_n_dates: horizons
                .iter()
                .zip(&stats.horizons)
                .map(|(&h, x)| (h, x.ic_n_dates))
                .collect(),
            mean_return_by_quantile: horizons
                .iter()
                .zip(&stats.horizons)
                .map(|(&h, x)| (h, x.mean_return_by_quantile.map(finite)))
                .collect(),
            mean_return_by_quantile_demeaned: horizons
                .iter()
                .zip(&stats.horizons)
                .map(|(&h, x)| (h, x.mean_return_by_quantile_demeaned.map(finite)))
                .collect(),
            spread_top_minus_bottom: per(&|x| finite(x.spread_top_minus_bottom)),
            spread_alphalens_halved: per(&|x| finite(x.spread_alphalens_halved)),
            count_by_quantile: stats.counts,
            n_factor_rows: stats.n_factor_rows,
            n_rows: stats.n_rows,
            n_dates: stats.n_dates,
            n_dates_offered: stats.n_dates_offered,
            ic_dates: stats
                .dates
                .iter()
                .map(|&k| self.calendar.panel_date(self.calendar.rebalances[k]))
                .collect(),
            ic_by_date: horizons
                .iter()
                .zip(&stats.horizons)
                .map(|(&h, x)| (h, x.ic.iter().map(|&v| finite(v)).collect()))
                .collect(),
        }
    }
}

fn by_horizon(horizons: &[usize], stats: &[ForwardStats]) -> BTreeMap<usize, ForwardReturn> {
    horizons
        .iter()
        .zip(stats)
        .map(|(&h, s)| {
            (
                h,
                ForwardReturn {
                    mean: finite(s.mean),
                    hit_rate: finite(s.hit_rate),
                    n: s.n,
                },
            )
        })
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v;
        n += 1;
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// S7 from a simulation.
fn metrics(sim: &Simulation, n_fills: usize) -> Metrics {
    let r = stats::return_stats(&sim.equity);
    let n_returns = sim.equity.len() - 1;
    let turnover: Vec<f64> = sim.fills.iter().map(|f| f.turnover()).collect();
    let turnover_sum: f64 = turnover.iter().sum();
    Metrics {
        total_return: finite(r.total_return),
        cagr: finite(r.cagr),
        annual_volatility: finite(r.annual_volatility),
        sharpe: finite(r.sharpe),
        sortino: finite(r.sortino),
        max_drawdown: finite(r.max_drawdown),
        calmar: finite(r.calmar),
        final_value: finite(*sim.equity.last().expect("t0")),
        n_rebalances: n_fills,
        n_rebalances_empty: sim.fills.iter().filter(|f| f.selected == 0).count(),
        avg_selected: finite(mean(sim.fills.iter().map(|f| f.selected as f64))),
        avg_holdings: finite(sim.holdings_sum as f64 / n_returns as f64),
        turnover_first: turnover.first().copied().and_then(finite),
        turnover_mean: finite(mean(turnover.iter().copied())),
        turnover_mean_after_first: finite(mean(turnover.iter().skip(1).copied())),
        turnover_annual: finite(turnover_sum * ANNUALIZATION / n_returns as f64),
        fees_paid: finite(sim.fees_paid),
        n_orders: sim.n_orders,
        n_orders_skipped_no_open: sim.n_orders_skipped_no_open,
        n_closed_positions: sim.n_closed_positions,
        win_rate_closed_positions: if sim.n_closed_positions == 0 {
            None
        } else {
            finite(sim.n_winning_positions as f64 / sim.n_closed_positions as f64)
        },
    }
}

/// Days since 1970-01-01 of a date (re-exported helper for adapters).
pub fn day_number(d: chrono::NaiveDate) -> i32 {
    days(d)
}
