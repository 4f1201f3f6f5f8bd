//! `Parallel`: runs every branch on the same input at once; the result is the
//! array of branch outputs. The first branch failure fails the state (the
//! others are cancelled) with that branch's error. A redrive runs only the
//! branches that did not succeed.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::concurrency::{BoxFuture, join_until};
use crate::definition::{Common, Program};
use crate::error::Fault;
use crate::execution::{Scope, StateCtx, Transition, run_program};
use crate::{io, retry};

#[derive(Debug, Clone, Deserialize)]
pub struct ParallelState {
    #[serde(flatten)]
    pub common: Common,
    #[serde(rename = "Branches")]
    pub branches: Vec<Program>,
}

impl ParallelState {
    pub(crate) async fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        if let Some(mock) = ctx.mock() {
            // Under TestState a mock stands in for the branches and their input processing.
            return match mock.outcome() {
                Ok(r) => io::finish(ctx, &self.common, input, r),
                Err(f) => retry::catch(ctx, &self.common.catch, f.into(), input),
            };
        }
        let effective = match io::effective_input(ctx, &self.common, &input) {
            Ok(v) => v,
            Err(f) => return retry::catch(ctx, &self.common.catch, f, input),
        };
        let result =
            retry::with_retry(ctx, &self.common.retry, || self.attempt(ctx, &effective)).await;
        match result {
            Ok(r) => io::finish(ctx, &self.common, input, r),
            Err(f) => {
                if !f.is_terminal() {
                    ctx.record("ParallelStateFailed", Value::Null);
                }
                retry::catch(ctx, &self.common.catch, f, input)
            }
        }
    }

    async fn attempt(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Value, Fault> {
        let done = ctx.take_prior().unwrap_or_default().completed;
        let started = ctx.record("ParallelStateStarted", Value::Null);
        let scopes: Vec<Scope> = self
            .branches
            .iter()
            .map(|b| {
                let language = b.query_language.unwrap_or(ctx.language);
                Scope::new(ctx.scope.variables(), started, language)
            })
            .collect();
        let futures: Vec<BoxFuture<'_, Result<Value, Fault>>> = self
            .branches
            .iter()
            .zip(&scopes)
            .enumerate()
            .map(|(index, (branch, scope))| {
                let earlier = done.get(&index).cloned();
                let fut: BoxFuture<'_, Result<Value, Fault>> = Box::pin(async move {
                    let output = match earlier {
                        Some(output) => output,
                        None => run_program(ctx.engine, branch, input.clone(), scope).await?,
                    };
                    if ctx.scope.top {
                        ctx.engine.note_completed(index, &output);
                    }
                    Ok(output)
                });
                fut
            })
            .collect();
        let outputs = join_until(futures, |_, r| r.is_err()).await;
        ctx.scope.cursor.store(
            ctx.engine.recorder.last_id(),
            std::sync::atomic::Ordering::SeqCst,
        );
        let mut results = Vec::with_capacity(outputs.len());
        for out in outputs {
            match out {
                Some(Ok(v)) => results.push(v),
                Some(Err(f)) => return Err(f),
                None => {}
            }
        }
        if results.len() != self.branches.len() {
            return Err(Fault::new(
                crate::error::names::BRANCH_FAILED,
                "A branch was cancelled",
            ));
        }
        Ok(json!(results))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::run;

    #[tokio::test]
    async fn parallel_collects_branch_outputs_in_branch_order() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.x", "End": true}}}]}}}"#;
        let run = run(def, json!({"x": 1})).await;
        assert_eq!(run.output, Some(json!(["a", 1])));
    }

    #[tokio::test]
    async fn a_failing_branch_fails_the_parallel_state_and_can_be_caught() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "Next": "Ok",
            "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "Caught"}], "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "Boom", "Cause": "b"}}}]},
            "Ok": {"Type": "Succeed"}, "Caught": {"Type": "Pass", "End": true}}}"#;
        let run = run(def, json!({})).await;
        assert_eq!(
            run.output,
            Some(json!({"err": {"Error": "Boom", "Cause": "b"}}))
        );
        assert!(
            run.history
                .iter()
                .any(|e| e.event_type == "ParallelStateFailed")
        );
    }
}
