//! The local task registry: maps the state machines' Task resources to the step handlers, the
//! very functions the Lambda binaries run, called in-process (the daily workflow's and the
//! backtest workflow's).

use std::collections::BTreeMap;

use async_trait::async_trait;
use screener_core::Deps;
use screener_core::workflow::{StepError, parse_input};
use screener_states::{TaskCall, TaskFailure, TaskInvoker};
use serde_json::Value;

/// Every workflow step: its name (as in `functions/` and `screener invoke`) and the
/// `DefinitionSubstitutions` key its ARN is given under in `template.yaml`.
pub const STEPS: [(&str, &str); 5] = [
    ("fetch-universe", "FetchUniverseFunctionArn"),
    ("fetch-bars", "FetchBarsFunctionArn"),
    ("validate", "ValidateFunctionArn"),
    ("screen", "ScreenFunctionArn"),
    ("publish", "PublishFunctionArn"),
];

/// The backtest workflow's steps (`statemachine/backtest.asl.json`), as [`STEPS`].
pub const BACKTEST_STEPS: [(&str, &str); 3] = [
    ("backtest-plan", "BacktestPlanFunctionArn"),
    ("backtest-shard", "BacktestShardFunctionArn"),
    ("backtest-combine", "BacktestCombineFunctionArn"),
];

/// Every step of both workflows.
fn all_steps() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    STEPS.iter().chain(BACKTEST_STEPS.iter())
}

const LOCAL_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:screener-";

/// The substitutions a local run applies to a definition: each step's ARN.
pub fn local_substitutions() -> BTreeMap<String, String> {
    all_steps()
        .map(|(step, key)| (key.to_string(), format!("{LOCAL_ARN_PREFIX}{step}")))
        .collect()
}

/// The step a Task resource names, if it is one of ours.
pub fn step_for_resource(resource: &str) -> Option<&'static str> {
    let name = resource.strip_prefix(LOCAL_ARN_PREFIX)?;
    all_steps()
        .map(|(step, _)| *step)
        .find(|step| *step == name)
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error(
        "unknown step {0:?}; the steps are fetch-universe, fetch-bars, validate, screen, publish, backtest-plan, backtest-shard, backtest-combine"
    )]
    UnknownStep(String),
    #[error(transparent)]
    Step(#[from] StepError),
}

/// Runs one step handler on a JSON event, as its Lambda would.
pub async fn invoke_step(step: &str, event: Value, deps: &Deps) -> Result<Value, InvokeError> {
    fn out<T: serde::Serialize>(value: T) -> Value {
        serde_json::to_value(value).expect("step outputs serialize")
    }
    Ok(match step {
        "fetch-universe" => out(fetch_universe::handle(parse_input(step, event)?, deps).await?),
        "fetch-bars" => out(fetch_bars::handle(parse_input(step, event)?, deps).await?),
        "validate" => out(validate::handle(parse_input(step, event)?, deps).await?),
        "screen" => out(screen::handle(parse_input(step, event)?, deps).await?),
        "publish" => out(publish::handle(parse_input(step, event)?, deps).await?),
        "backtest-plan" => out(backtest_plan::handle(parse_input(step, event)?, deps).await?),
        "backtest-shard" => out(backtest_shard::handle(parse_input(step, event)?, deps).await?),
        "backtest-combine" => out(backtest_combine::handle(parse_input(step, event)?, deps).await?),
        other => return Err(InvokeError::UnknownStep(other.to_string())),
    })
}

/// The interpreter's view of the step handlers.
pub struct LocalInvoker {
    pub deps: Deps,
}

#[async_trait]
impl TaskInvoker for LocalInvoker {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        let Some(step) = step_for_resource(&call.resource) else {
            return Err(TaskFailure::new(
                "States.TaskFailed",
                format!(
                    "resource {:?} (state {}) is not one of this project's functions; a local run can call only {}",
                    call.resource,
                    call.state_name,
                    all_steps().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        invoke_step(step, call.input, &self.deps)
            .await
            .map_err(|error| match error {
                InvokeError::Step(e) => TaskFailure::new(e.name(), e.to_string()),
                InvokeError::UnknownStep(s) => TaskFailure::new("States.TaskFailed", s),
            })
    }
}
