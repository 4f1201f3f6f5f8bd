//! The backtest workflow's contracts (`statemachine/backtest.asl.json`): the sweep request a
//! user sends, the variants and work items the plan expands it into, each step's input and
//! output, and where everything lives in the store. The CLI, the functions and the tests
//! share these types; the backtest engine itself is `screener-backtest`.
//!
//! A *variant* is one screen with one choice of thresholds, rebalance interval and costs; a
//! *work item* is one variant backtested over one period (the whole range, or the in-sample or
//! out-of-sample half of a walk-forward window). Items travel as JSON Lines in the store,
//! read by the Distributed Map's `ItemReader`; each shard writes its items' results back to
//! the store and returns only counts.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Keys under `backtests/<id>/`.
pub mod keys {
    pub fn prefix(sweep_id: &str) -> String {
        format!("backtests/{sweep_id}/")
    }
    /// The plan: request, variants and items as one JSON document (what combine reads).
    pub fn plan(sweep_id: &str) -> String {
        format!("backtests/{sweep_id}/plan.json")
    }
    /// The work items, one JSON object per line (what the Distributed Map reads).
    pub fn items(sweep_id: &str) -> String {
        format!("backtests/{sweep_id}/items.jsonl")
    }
    /// Where shards write one item's result.
    pub fn item_result(sweep_id: &str, item_id: &str) -> String {
        format!("backtests/{sweep_id}/items/{item_id}.json")
    }
    pub fn item_results_prefix(sweep_id: &str) -> String {
        format!("backtests/{sweep_id}/items/")
    }
    /// The Distributed Map's `ResultWriter` prefix (manifest.json, SUCCEEDED/FAILED files).
    pub fn map_results_prefix(sweep_id: &str) -> String {
        format!("backtests/{sweep_id}/map-run")
    }
    pub fn file(sweep_id: &str, name: &str) -> String {
        format!("backtests/{sweep_id}/{name}")
    }
}

// ---------------------------------------------------------------------------------------------
// The request

/// A sweep: screens (and a grid over their condition thresholds) backtested over a period,
/// optionally in walk-forward windows. The TOML file `screener backtest --sweep FILE` reads and
/// the JSON input of the backtest state machine are this type (`events/backtest-sweep.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// A label for people (`backtests/<id>/` is named from it and the start time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Store key of the bars file (`.csv`, `.csv.gz` or `.parquet`) the sweep runs on.
    pub bars: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Rebalance intervals to try, in sessions.
    #[serde(default = "default_every")]
    pub every: Vec<usize>,
    /// Costs to try, in basis points per order.
    #[serde(default = "default_cost_bps")]
    pub cost_bps: Vec<f64>,
    /// Forward-return horizons in sessions.
    #[serde(default = "default_horizons")]
    pub horizons: Vec<usize>,
    /// Walk-forward windows: the range is cut into `walk_forward + 1` equal stretches and
    /// window `w` is in-sample on stretch `w - 1`, out-of-sample on stretch `w`. 0 runs the
    /// whole range once.
    #[serde(default)]
    pub walk_forward: usize,
    /// The metric variants are ranked by.
    #[serde(default)]
    pub rank_by: RankMetric,
    /// Share of work items that may fail before the sweep does (the Map Run's
    /// `ToleratedFailurePercentage`).
    #[serde(default = "default_tolerated")]
    pub tolerated_failure_percent: f64,
    /// Work items per shard invocation (`ItemBatcher`).
    #[serde(default = "default_items_per_batch")]
    pub items_per_batch: usize,
    /// Shards running at once (`MaxConcurrency`; 0 lets Step Functions choose).
    #[serde(default)]
    pub max_concurrency: usize,
    pub screen: Vec<ScreenSpec>,
    /// Thresholds to sweep; a screen without a grid runs as written.
    #[serde(default)]
    pub grid: Vec<GridAxis>,
    /// A Telegram chat told how the sweep ended (the bot's `/backtest` sets it): combine sends
    /// the ranking and the report's link, a failure its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_chat: Option<i64>,
}

fn default_every() -> Vec<usize> {
    vec![5]
}
fn default_cost_bps() -> Vec<f64> {
    vec![10.0]
}
fn default_horizons() -> Vec<usize> {
    vec![1, 5, 21, 63]
}
fn default_tolerated() -> f64 {
    5.0
}
fn default_items_per_batch() -> usize {
    4
}

/// A screen as `screens.toml` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub conditions: Vec<String>,
    pub sort: SortSpec,
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    25
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortSpec {
    pub metric: String,
    #[serde(default = "default_direction")]
    pub direction: String,
}

fn default_direction() -> String {
    "asc".into()
}

impl ScreenSpec {
    /// The screen as a one-screen `screens.toml` (what the engine parses and checks).
    pub fn to_toml(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).expect("strings serialise");
        let conditions: Vec<String> = self.conditions.iter().map(|c| q(c)).collect();
        format!(
            "[[screen]]\nname = {}\ndescription = {}\nconditions = [{}]\nsort = {{ metric = {}, direction = {} }}\nlimit = {}\n",
            q(&self.name),
            q(&self.description),
            conditions.join(", "),
            q(&self.sort.metric),
            q(&self.sort.direction),
            self.limit
        )
    }
}

/// One axis of the grid: the threshold of `screen`'s first condition on `metric` that
/// compares it with a number takes each of `values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridAxis {
    pub screen: String,
    pub metric: String,
    pub values: Vec<f64>,
}

/// What variants are ranked by: a field of the engine's metrics, higher is better
/// (`max_drawdown` is negative, so higher is a shallower drawdown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankMetric {
    #[default]
    Sharpe,
    Sortino,
    Cagr,
    TotalReturn,
    Calmar,
    MaxDrawdown,
}

impl RankMetric {
    /// The field's name in the engine's `Metrics` (and `summary.json`).
    pub fn field(self) -> &'static str {
        match self {
            RankMetric::Sharpe => "sharpe",
            RankMetric::Sortino => "sortino",
            RankMetric::Cagr => "cagr",
            RankMetric::TotalReturn => "total_return",
            RankMetric::Calmar => "calmar",
            RankMetric::MaxDrawdown => "max_drawdown",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Variants and work items

/// Which stretch of history an item covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The whole range (no walk-forward).
    Full,
    InSample,
    OutOfSample,
}

impl Phase {
    pub fn short(self) -> &'static str {
        match self {
            Phase::Full => "full",
            Phase::InSample => "is",
            Phase::OutOfSample => "oos",
        }
    }
}

/// One stretch of history: a walk-forward window's half, or the whole range (window 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub window: usize,
    pub phase: Phase,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// One screen with one choice of thresholds, rebalance interval and costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// `v001`, ...: stable within the sweep.
    pub id: String,
    /// The screen it varies.
    pub screen: String,
    /// The threshold chosen on each grid axis (metric -> value); empty without a grid.
    pub thresholds: BTreeMap<String, f64>,
    pub every: usize,
    pub cost_bps: f64,
    /// The screen as the engine runs it: renamed `<screen>_<id>` so variants of one screen
    /// can share an engine pass, thresholds substituted.
    pub spec: ScreenSpec,
}

impl Variant {
    /// `rsi_14=30 every=5 cost=10` for tables.
    pub fn label(&self) -> String {
        let mut parts: Vec<String> = self
            .thresholds
            .iter()
            .map(|(m, v)| format!("{m}={v}"))
            .collect();
        parts.push(format!("every={}", self.every));
        parts.push(format!("cost={}", self.cost_bps));
        parts.join(" ")
    }
}

/// One line of `items.jsonl`: a variant over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkItem {
    /// `v001-w1-is`: the result's file name.
    pub id: String,
    pub variant: String,
    pub window: usize,
    pub phase: Phase,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub every: usize,
    pub cost_bps: f64,
    pub screen: ScreenSpec,
}

/// What the shards of one sweep share (the `ItemBatcher`'s `BatchInput`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardContext {
    pub sweep_id: String,
    pub bars: String,
    pub horizons: Vec<usize>,
}

/// `plan.json`: everything combine needs to rank what the shards wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    pub sweep_id: String,
    pub request: SweepRequest,
    pub periods: Vec<Period>,
    pub variants: Vec<Variant>,
    pub items: Vec<WorkItem>,
}

/// An S3 location as the Distributed Map's reader and writer take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLocation {
    pub bucket: String,
    pub key: String,
}

/// The bucket name a local run's reader and writer use: the local store stands in for it.
pub const LOCAL_BUCKET: &str = "screener-store";

impl ObjectLocation {
    /// Where the Distributed Map finds `key` of the store, from the store's own
    /// [`crate::ports::Store::locate`]: `s3://BUCKET/PREFIX/KEY` in AWS; locally the key in
    /// [`LOCAL_BUCKET`].
    pub fn of(located: &str, key: &str) -> ObjectLocation {
        match located
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
        {
            Some((bucket, full_key)) => ObjectLocation {
                bucket: bucket.into(),
                key: full_key.into(),
            },
            None => ObjectLocation {
                bucket: LOCAL_BUCKET.into(),
                key: key.into(),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

/// Why a sweep request cannot be planned (before any backtest runs).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    #[error("end {end} is before start {start}")]
    EndBeforeStart { start: NaiveDate, end: NaiveDate },
    #[error("the sweep names no screen")]
    NoScreens,
    #[error("screen `{0}` is given twice")]
    DuplicateScreen(String),
    #[error("grid: no screen `{screen}` (screens: {known})")]
    UnknownGridScreen { screen: String, known: String },
    #[error("grid: screen `{screen}` has no condition comparing `{metric}` with a number")]
    NoSuchThreshold { screen: String, metric: String },
    #[error("grid: `{screen}` `{metric}` has no values")]
    EmptyAxis { screen: String, metric: String },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error(
        "walk_forward = {windows}: the range {start} to {end} is too short to cut into {stretches} stretches"
    )]
    RangeTooShort {
        windows: usize,
        start: NaiveDate,
        end: NaiveDate,
        stretches: usize,
    },
    #[error("{field} = {value}: {problem}")]
    Bad {
        field: &'static str,
        value: String,
        problem: &'static str,
    },
}

/// `metric op number` split, if the condition is one.
fn threshold_of(condition: &str) -> Option<(&str, &str, f64)> {
    let mut parts = condition.split_whitespace();
    let (metric, op, rhs) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    rhs.parse::<f64>().ok().map(|v| (metric, op, v))
}

/// The sweep's id: the execution's name, kept to the characters a store key and an S3
/// prefix take without escaping.
pub fn sweep_id(execution_name: &str) -> String {
    execution_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

impl SweepRequest {
    /// A backtest of one screen as written, with the defaults a sweep file would get: the
    /// request the bot's `/backtest` sends.
    pub fn for_screen(screen: ScreenSpec, bars: String, start: NaiveDate, end: NaiveDate) -> Self {
        SweepRequest {
            name: Some(screen.name.clone()),
            bars,
            start,
            end,
            every: default_every(),
            cost_bps: default_cost_bps(),
            horizons: default_horizons(),
            walk_forward: 0,
            rank_by: RankMetric::default(),
            tolerated_failure_percent: default_tolerated(),
            items_per_batch: default_items_per_batch(),
            max_concurrency: 0,
            screen: vec![screen],
            grid: Vec::new(),
            notify_chat: None,
        }
    }

    /// The periods items run over: the whole range, or each walk-forward window's halves.
    pub fn periods(&self) -> Result<Vec<Period>, SweepError> {
        if self.end < self.start {
            return Err(SweepError::EndBeforeStart {
                start: self.start,
                end: self.end,
            });
        }
        if self.walk_forward == 0 {
            return Ok(vec![Period {
                window: 0,
                phase: Phase::Full,
                start: self.start,
                end: self.end,
            }]);
        }
        let stretches = self.walk_forward + 1;
        let days = (self.end - self.start).num_days() + 1;
        // Two weeks per stretch at least, so each holds a few sessions.
        if days < 14 * stretches as i64 {
            return Err(SweepError::RangeTooShort {
                windows: self.walk_forward,
                start: self.start,
                end: self.end,
                stretches,
            });
        }
        let bound =
            |i: usize| self.start + chrono::Duration::days(days * i as i64 / stretches as i64);
        let stretch = |i: usize| (bound(i), bound(i + 1) - chrono::Duration::days(1));
        let mut periods = Vec::new();
        for w in 1..=self.walk_forward {
            let (is_start, is_end) = stretch(w - 1);
            let (oos_start, oos_end) = stretch(w);
            periods.push(Period {
                window: w,
                phase: Phase::InSample,
                start: is_start,
                end: is_end,
            });
            periods.push(Period {
                window: w,
                phase: Phase::OutOfSample,
                start: oos_start,
                end: oos_end,
            });
        }
        Ok(periods)
    }

    /// Every variant: per screen, the product of its grid axes' values, times every
    /// rebalance interval and cost.
    pub fn variants(&self) -> Result<Vec<Variant>, SweepError> {
        if self.screen.is_empty() {
            return Err(SweepError::NoScreens);
        }
        if self.every.is_empty() {
            return Err(SweepError::Empty { field: "every" });
        }
        if self.cost_bps.is_empty() {
            return Err(SweepError::Empty { field: "cost_bps" });
        }
        if self.items_per_batch == 0 {
            return Err(SweepError::Bad {
                field: "items_per_batch",
                value: "0".into(),
                problem: "a batch holds at least one item",
            });
        }
        if !(0.0..=100.0).contains(&self.tolerated_failure_percent) {
            return Err(SweepError::Bad {
                field: "tolerated_failure_percent",
                value: self.tolerated_failure_percent.to_string(),
                problem: "a percentage from 0 to 100",
            });
        }
        for (i, s) in self.screen.iter().enumerate() {
            if self.screen[..i].iter().any(|t| t.name == s.name) {
                return Err(SweepError::DuplicateScreen(s.name.clone()));
            }
        }
        for axis in &self.grid {
            let Some(screen) = self.screen.iter().find(|s| s.name == axis.screen) else {
                return Err(SweepError::UnknownGridScreen {
                    screen: axis.screen.clone(),
                    known: self
                        .screen
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            if axis.values.is_empty() {
                return Err(SweepError::EmptyAxis {
                    screen: axis.screen.clone(),
                    metric: axis.metric.clone(),
                });
            }
            if !screen
                .conditions
                .iter()
                .any(|c| threshold_of(c).is_some_and(|(m, _, _)| m == axis.metric))
            {
                return Err(SweepError::NoSuchThreshold {
                    screen: axis.screen.clone(),
                    metric: axis.metric.clone(),
                });
            }
        }
        let mut variants = Vec::new();
        for screen in &self.screen {
            let axes: Vec<&GridAxis> = self
                .grid
                .iter()
                .filter(|a| a.screen == screen.name)
                .collect();
            // The product of the axes' values, first axis slowest.
            let mut choices: Vec<Vec<f64>> = vec![Vec::new()];
            for axis in &axes {
                choices = choices
                    .into_iter()
                    .flat_map(|c| {
                        axis.values
                            .iter()
                            .map(move |v| [c.clone(), vec![*v]].concat())
                    })
                    .collect();
            }
            for choice in &choices {
                for &every in &self.every {
                    for &cost_bps in &self.cost_bps {
                        let id = format!("v{:03}", variants.len() + 1);
                        let mut spec = screen.clone();
                        spec.name = format!("{}_{id}", screen.name);
                        let mut thresholds = BTreeMap::new();
                        for (axis, value) in axes.iter().zip(choice) {
                            let at = spec
                                .conditions
                                .iter()
                                .position(|c| {
                                    threshold_of(c).is_some_and(|(m, _, _)| m == axis.metric)
                                })
                                .expect("checked above");
                            let (metric, op, _) =
                                threshold_of(&spec.conditions[at]).expect("checked above");
                            spec.conditions[at] = format!("{metric} {op} {value}");
                            thresholds.insert(axis.metric.clone(), *value);
                        }
                        variants.push(Variant {
                            id,
                            screen: screen.name.clone(),
                            thresholds,
                            every,
                            cost_bps,
                            spec,
                        });
                    }
                }
            }
        }
        Ok(variants)
    }

    /// The plan: variants times periods, items ordered so that those sharing a period and
    /// settings sit together (a shard runs them in one engine pass).
    pub fn plan(&self, sweep_id: &str) -> Result<SweepPlan, SweepError> {
        let periods = self.periods()?;
        let variants = self.variants()?;
        let mut items = Vec::new();
        for p in &periods {
            for &every in &self.every {
                for &cost_bps in &self.cost_bps {
                    for v in variants
                        .iter()
                        .filter(|v| v.every == every && v.cost_bps == cost_bps)
                    {
                        let window = if p.window == 0 {
                            String::new()
                        } else {
                            format!("-w{}", p.window)
                        };
                        items.push(WorkItem {
                            id: format!("{}{window}-{}", v.id, p.phase.short()),
                            variant: v.id.clone(),
                            window: p.window,
                            phase: p.phase,
                            start: p.start,
                            end: p.end,
                            every,
                            cost_bps,
                            screen: v.spec.clone(),
                        });
                    }
                }
            }
        }
        Ok(SweepPlan {
            sweep_id: sweep_id.into(),
            request: self.clone(),
            periods,
            variants,
            items,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Step contracts

/// BacktestPlan's input: the request and facts from the context object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanInput {
    pub request: SweepRequest,
    pub execution_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOutput {
    pub sweep_id: String,
    pub plan_key: String,
    /// `items.jsonl` for the `ItemReader`.
    pub items: ObjectLocation,
    /// Bucket and prefix for the `ResultWriter`.
    pub results: ObjectLocation,
    pub shard: ShardContext,
    pub variant_count: usize,
    pub item_count: usize,
    pub items_per_batch: usize,
    pub tolerated_failure_percent: f64,
    pub max_concurrency: usize,
    /// The request's [`SweepRequest::notify_chat`], for combine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_chat: Option<i64>,
}

/// BacktestShard's input: a batch of items (`ItemBatcher`'s shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardInput {
    #[serde(rename = "BatchInput")]
    pub context: ShardContext,
    #[serde(rename = "Items")]
    pub items: Vec<WorkItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardOutput {
    pub items: Vec<String>,
    /// Engine passes run (items sharing a period and settings share one).
    pub engine_runs: usize,
    pub seconds: f64,
}

/// One item's result, written by a shard to [`keys::item_result`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub item: String,
    pub variant: String,
    pub window: usize,
    pub phase: Phase,
    /// The engine's metrics of the variant's portfolio (`summary.json`'s names).
    pub metrics: serde_json::Value,
    /// Mean IC of the sort metric by horizon.
    pub mean_ic: BTreeMap<usize, Option<f64>>,
    /// The benchmark's metrics over the same period.
    pub benchmark: serde_json::Value,
    pub equity_dates: Vec<NaiveDate>,
    pub equity: Vec<f64>,
    pub benchmark_equity: Vec<f64>,
}

/// BacktestCombine's input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CombineInput {
    pub plan: PlanOutput,
    /// The Map Run's output (`MapRunArn`, `ResultWriterDetails`), kept for the record.
    #[serde(default)]
    pub map_run: serde_json::Value,
}

/// What the state machine's failure path gives combine (`TellFailure`): the chat to tell, the
/// execution, and the `Catch`'s error output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureNotice {
    pub notify_chat: i64,
    pub execution_name: String,
    pub failure: CaughtError,
}

/// A `Catch`'s error output (`ResultPath` of a caught error).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// BacktestCombine's input: the Map Run to combine, or (on the failure path) a chat to tell.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CombineRequest {
    Combine(Box<CombineInput>),
    TellFailure(FailureNotice),
}

/// Picks the variant by its key (`failure` is only in the failure notice) instead of serde's
/// untagged trial, whose error ("data did not match any variant") names no field.
impl<'de> Deserialize<'de> for CombineRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.get("failure").is_some() {
            FailureNotice::deserialize(value)
                .map(CombineRequest::TellFailure)
                .map_err(|e| D::Error::custom(format!("BacktestCombine's failure notice: {e}")))
        } else {
            CombineInput::deserialize(value)
                .map(|input| CombineRequest::Combine(Box::new(input)))
                .map_err(|e| {
                    D::Error::custom(format!(
                        "BacktestCombine's input (a Map Run to combine, or a failure notice \
                         with `failure`): {e}"
                    ))
                })
        }
    }
}

/// BacktestCombine's answer: the combined sweep, or that the chat was told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CombineAnswer {
    Combined(CombineOutput),
    Told { told: i64 },
}

/// The default screens (`screens.toml` at the repository's top), embedded for the bot's
/// `/backtest`, which links no polars. `screener_analytics::DEFAULT_SCREENS_TOML` embeds the
/// same file for the screen step (analytics depends on no crate of ours).
pub const DEFAULT_SCREENS_TOML: &str = include_str!("../../../screens.toml");

/// The embedded default screens, parsed once per process.
pub fn default_screen_specs() -> &'static [ScreenSpec] {
    static SPECS: std::sync::OnceLock<Vec<ScreenSpec>> = std::sync::OnceLock::new();
    SPECS.get_or_init(|| {
        screen_specs(DEFAULT_SCREENS_TOML).expect("the embedded screens.toml parses")
    })
}

/// The screens of a `screens.toml`.
pub fn screen_specs(text: &str) -> Result<Vec<ScreenSpec>, String> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        screen: Vec<ScreenSpec>,
    }
    toml::from_str::<File>(text)
        .map(|f| f.screen)
        .map_err(|e| e.to_string())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombineOutput {
    pub sweep_id: String,
    pub variants: usize,
    pub items: usize,
    pub failed_items: usize,
    /// The best variant by the ranking (mean out-of-sample metric with walk-forward).
    pub best: Option<String>,
    pub summary_key: String,
    pub report_key: String,
    /// Where the report is, for people (a file path or an `s3://` URL).
    pub report: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_store_location_splits_into_bucket_and_full_key() {
        let loc = ObjectLocation::of("s3://data/screener/backtests/x/items.jsonl", "ignored");
        assert_eq!(loc.bucket, "data");
        assert_eq!(loc.key, "screener/backtests/x/items.jsonl");
        let local = ObjectLocation::of(
            "/tmp/store/backtests/x/items.jsonl",
            "backtests/x/items.jsonl",
        );
        assert_eq!(local.bucket, LOCAL_BUCKET);
        assert_eq!(local.key, "backtests/x/items.jsonl");
    }

    fn request() -> SweepRequest {
        toml_like(
            r#"{"bars": "uploads/bars.csv", "start": "2020-01-01", "end": "2022-12-31",
                "every": [5, 10], "walk_forward": 2,
                "screen": [{"name": "cheap", "conditions": ["close > sma_50", "rsi_14 < 30"],
                            "sort": {"metric": "rsi_14"}}],
                "grid": [{"screen": "cheap", "metric": "rsi_14", "values": [20, 30, 40]}]}"#,
        )
    }

    fn toml_like(json: &str) -> SweepRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_combine_request_error_names_the_missing_field() {
        let err = serde_json::from_str::<CombineRequest>(r#"{"map_run": {}}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `plan`"), "{err}");
        let err = serde_json::from_str::<CombineRequest>(
            r#"{"failure": {"Error": "X"}, "execution_name": "e"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("failure notice"), "{err}");
        assert!(
            err.to_string().contains("missing field `notify_chat`"),
            "{err}"
        );
        let told = serde_json::from_str::<CombineRequest>(
            r#"{"failure": {"Error": "X", "Cause": "y"}, "execution_name": "e", "notify_chat": 7}"#,
        )
        .unwrap();
        assert!(matches!(told, CombineRequest::TellFailure(n) if n.notify_chat == 7));
    }

    #[test]
    fn walk_forward_windows_are_consecutive_stretches_in_then_out_of_sample() {
        let periods = request().periods().unwrap();
        assert_eq!(periods.len(), 4);
        let (w1_is, w1_oos, w2_is, w2_oos) = (periods[0], periods[1], periods[2], periods[3]);
        assert_eq!(w1_is.start, "2020-01-01".parse().unwrap());
        assert_eq!(w1_oos.start, w1_is.end.succ_opt().unwrap());
        assert_eq!((w2_is.start, w2_is.end), (w1_oos.start, w1_oos.end));
        assert_eq!(w2_oos.end, "2022-12-31".parse().unwrap());
        assert_eq!((w2_oos.window, w2_oos.phase), (2, Phase::OutOfSample));
    }

    #[test]
    fn each_grid_value_replaces_the_threshold_and_multiplies_with_every_and_cost() {
        let plan = request().plan("s").unwrap();
        assert_eq!(plan.variants.len(), 6);
        assert_eq!(plan.items.len(), 24);
        let v = &plan.variants[2];
        assert_eq!(v.spec.name, "cheap_v003");
        assert_eq!(v.spec.conditions, ["close > sma_50", "rsi_14 < 30"]);
        assert_eq!((v.every, v.thresholds["rsi_14"]), (5, 30.0));
        // Items of one period and settings sit together, so a batch shares an engine pass.
        let first: Vec<&str> = plan.items[..3].iter().map(|i| i.id.as_str()).collect();
        assert_eq!(first, ["v001-w1-is", "v003-w1-is", "v005-w1-is"]);
    }

    #[test]
    fn a_grid_on_a_threshold_the_screen_lacks_is_refused_naming_it() {
        let mut r = request();
        r.grid[0].metric = "sma_50".into();
        assert_eq!(
            r.plan("s").unwrap_err().to_string(),
            "grid: screen `cheap` has no condition comparing `sma_50` with a number"
        );
        let mut r = request();
        r.end = "2020-01-20".parse().unwrap();
        assert!(matches!(r.plan("s"), Err(SweepError::RangeTooShort { .. })));
    }

    #[test]
    fn a_screen_spec_becomes_a_screens_file_with_its_strings_quoted() {
        let spec = ScreenSpec {
            name: "cheap".into(),
            description: "say \"cheap\"".into(),
            conditions: vec!["close < 15".into()],
            sort: SortSpec {
                metric: "close".into(),
                direction: "asc".into(),
            },
            limit: 3,
        };
        let text = spec.to_toml();
        assert!(
            text.contains("description = \"say \\\"cheap\\\"\""),
            "{text}"
        );
        assert!(text.contains("conditions = [\"close < 15\"]"), "{text}");
    }
}
