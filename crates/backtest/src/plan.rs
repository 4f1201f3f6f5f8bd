//! Screens compiled for the backtest: metric names resolved to positions in a bar's metric
//! row, each distinct sort metric stored once (it is also the screen's factor, S9).

use screener_analytics::{BAR_METRICS, INDICATOR_NAMES, N_METRICS, Op, Operand, ScreenSet};

use crate::error::BacktestError;

/// The name of the portfolio of every eligible symbol, beside the screens' portfolios.
pub const BENCHMARK: &str = "benchmark";

/// Where a metric's value comes from at a bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricRef {
    /// `open high low close volume`, by position in [`BAR_METRICS`].
    Bar(usize),
    /// An indicator, by position in [`INDICATOR_NAMES`].
    Indicator(usize),
}

impl MetricRef {
    fn resolve(name: &str) -> Option<MetricRef> {
        if let Some(k) = BAR_METRICS.iter().position(|m| *m == name) {
            return Some(MetricRef::Bar(k));
        }
        INDICATOR_NAMES
            .iter()
            .position(|m| *m == name)
            .map(MetricRef::Indicator)
    }

    /// The value at a bar (NaN = null): `bar` holds open, high, low, close, volume with
    /// non-finite values as NaN, `row` the indicators.
    #[inline]
    pub fn value(self, bar: &[f64; 5], row: &[f64; N_METRICS]) -> f64 {
        match self {
            MetricRef::Bar(k) => bar[k],
            MetricRef::Indicator(m) => row[m],
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Rhs {
    Value(f64),
    Metric(MetricRef),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct CompiledCondition {
    pub lhs: MetricRef,
    pub op: Op,
    pub rhs: Rhs,
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledScreen {
    pub name: String,
    pub conditions: Vec<CompiledCondition>,
    /// Index into [`Plan::keys`].
    pub key: usize,
    pub descending: bool,
    pub limit: usize,
}

impl CompiledScreen {
    /// Every condition holds (a null on either side makes a condition false).
    #[inline]
    pub fn passes(&self, bar: &[f64; 5], row: &[f64; N_METRICS]) -> bool {
        self.conditions.iter().all(|c| {
            let a = c.lhs.value(bar, row);
            let b = match c.rhs {
                Rhs::Value(v) => v,
                Rhs::Metric(m) => m.value(bar, row),
            };
            c.op.holds(a, b)
        })
    }
}

/// The screens, ready to evaluate at any bar.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub screens: Vec<CompiledScreen>,
    /// The distinct sort metrics, in order of first use.
    pub keys: Vec<MetricRef>,
}

fn valid_metrics() -> String {
    screener_analytics::metric_names()
        .collect::<Vec<_>>()
        .join(", ")
}

impl Plan {
    /// The indicators some condition or sort uses (the others need not be computed).
    pub fn wanted(&self) -> [bool; N_METRICS] {
        let mut wanted = [false; N_METRICS];
        let mut want = |m: MetricRef| {
            if let MetricRef::Indicator(i) = m {
                wanted[i] = true;
            }
        };
        for s in &self.screens {
            for c in &s.conditions {
                want(c.lhs);
                if let Rhs::Metric(m) = c.rhs {
                    want(m);
                }
            }
        }
        self.keys.iter().copied().for_each(want);
        wanted
    }

    /// Resolves every metric name; an unknown one is refused naming the screen and where.
    pub fn compile(set: &ScreenSet) -> Result<Plan, BacktestError> {
        if set.screens.is_empty() {
            return Err(BacktestError::NoScreens);
        }
        // The benchmark is a column of equity.csv and a portfolio of summary.json beside the
        // screens: a screen of that name would be indistinguishable from it.
        if let Some(s) = set.screens.iter().find(|s| s.name == BENCHMARK) {
            return Err(BacktestError::ReservedScreenName {
                name: s.name.clone(),
            });
        }
        let mut keys: Vec<MetricRef> = Vec::new();
        let mut screens = Vec::with_capacity(set.screens.len());
        for s in &set.screens {
            let unknown = |metric: &str, place: String| BacktestError::UnknownMetric {
                screen: s.name.clone(),
                metric: metric.to_string(),
                place,
                valid: valid_metrics(),
            };
            let mut conditions = Vec::with_capacity(s.conditions.len());
            for c in &s.conditions {
                let place = || format!("condition `{}`", c.text);
                let lhs =
                    MetricRef::resolve(&c.metric).ok_or_else(|| unknown(&c.metric, place()))?;
                let rhs = match &c.rhs {
                    Operand::Value(v) => Rhs::Value(*v),
                    Operand::Metric(m) => {
                        Rhs::Metric(MetricRef::resolve(m).ok_or_else(|| unknown(m, place()))?)
                    }
                };
                conditions.push(CompiledCondition { lhs, op: c.op, rhs });
            }
            let sort = MetricRef::resolve(&s.sort.metric)
                .ok_or_else(|| unknown(&s.sort.metric, "sort".to_string()))?;
            let key = match keys.iter().position(|k| *k == sort) {
                Some(k) => k,
                None => {
                    keys.push(sort);
                    keys.len() - 1
                }
            };
            screens.push(CompiledScreen {
                name: s.name.clone(),
                conditions,
                key,
                descending: s.sort.descending,
                limit: s.limit,
            });
        }
        Ok(Plan { screens, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use screener_analytics::{Condition, Screen, Sort};

    #[test]
    fn the_default_screens_compile_and_share_no_key_by_accident() {
        let set = ScreenSet::default_screens();
        let plan = Plan::compile(&set).unwrap();
        assert_eq!(plan.screens.len(), set.screens.len());
        assert!(plan.keys.len() <= plan.screens.len());
    }

    #[test]
    fn a_screen_named_benchmark_is_refused() {
        let set = ScreenSet::parse_toml(
            "[[screen]]\nname = \"benchmark\"\nconditions = [\"close > 1\"]\nsort = { metric = \"close\" }\n",
        )
        .unwrap();
        let err = Plan::compile(&set).unwrap_err().to_string();
        assert!(err.contains("`benchmark` is reserved"), "{err}");
    }

    #[test]
    fn only_the_indicators_a_screen_uses_are_wanted() {
        let set = ScreenSet::parse_toml(
            "[[screen]]\nname = \"s\"\nconditions = [\"close > sma_200\", \"rsi_14 < 30\"]\nsort = { metric = \"ret_5d\" }\n",
        )
        .unwrap();
        let wanted = Plan::compile(&set).unwrap().wanted();
        let names: Vec<&str> = INDICATOR_NAMES
            .iter()
            .zip(wanted)
            .filter(|(_, w)| *w)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, ["sma_200", "rsi_14", "ret_5d"]);
    }

    #[test]
    fn an_unknown_metric_in_a_hand_built_screen_is_refused_naming_it() {
        let set = ScreenSet {
            screens: vec![Screen {
                name: "mine".into(),
                description: String::new(),
                conditions: vec![Condition {
                    text: "rsi_15 < 30".into(),
                    metric: "rsi_15".into(),
                    op: Op::Lt,
                    rhs: Operand::Value(30.0),
                }],
                sort: Sort {
                    metric: "close".into(),
                    descending: false,
                },
                limit: 5,
            }],
        };
        let err = Plan::compile(&set).unwrap_err().to_string();
        assert!(
            err.starts_with("screen `mine`: unknown metric `rsi_15` in condition `rsi_15 < 30`"),
            "{err}"
        );
        let mut set2 = set.clone();
        set2.screens[0].conditions[0].metric = "close".into();
        set2.screens[0].sort.metric = "closing".into();
        let err = Plan::compile(&set2).unwrap_err().to_string();
        assert!(err.contains("unknown metric `closing` in sort"), "{err}");
    }
}
