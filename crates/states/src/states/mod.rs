//! One module per state type: each holds the serde struct for that type and
//! its `run`, which turns the state input into a transition (output and next
//! state) or a fault.

pub mod choice;
pub mod fail;
pub mod map;
pub mod parallel;
pub mod pass;
pub mod succeed;
pub mod task;
pub mod wait;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::definition::State;
use crate::error::Fault;
use crate::execution::{StateCtx, Transition};

/// Run one state on its raw input.
pub(crate) async fn run_state(
    state: &State,
    ctx: &StateCtx<'_>,
    input: Value,
) -> Result<Transition, Fault> {
    match state {
        State::Pass(s) => s.run(ctx, input),
        State::Task(s) => s.run(ctx, input).await,
        State::Choice(s) => s.run(ctx, input),
        State::Wait(s) => s.run(ctx, input).await,
        State::Succeed(s) => s.run(ctx, input),
        State::Fail(s) => s.run(ctx, input),
        State::Map(s) => s.run(ctx, input).await,
        State::Parallel(s) => s.run(ctx, input).await,
    }
}

/// Deserialize a field so that an explicit JSON `null` is `Some(Value::Null)`.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A number or a string field read as an integer, rejecting fractions.
pub(crate) fn as_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
}
