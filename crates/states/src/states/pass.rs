//! `Pass`: passes its input to its output, optionally injecting a fixed `Result`.

use serde::Deserialize;
use serde_json::Value;

use crate::definition::{Common, QueryLanguage};
use crate::error::Fault;
use crate::execution::{StateCtx, Transition};
use crate::io;

#[derive(Debug, Clone, Deserialize)]
pub struct PassState {
    #[serde(flatten)]
    pub common: Common,
    #[serde(rename = "Result", default, deserialize_with = "super::present")]
    pub result: Option<Value>,
}

impl PassState {
    pub(crate) fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        if ctx.language == QueryLanguage::JSONata {
            return io::finish_jsonata(ctx, &self.common, input, None);
        }
        // A fixed Result replaces the processed input, so it is not computed.
        let result = match &self.result {
            Some(r) => {
                ctx.inspect("result", || r.clone());
                r.clone()
            }
            None => io::effective_input(ctx, &self.common, &input)?,
        };
        ctx.inspect("afterResultSelector", || result.clone());
        let assigned = io::assign(ctx, self.common.assign.as_ref(), &result)?;
        let placed = io::apply_result_path(ctx, &self.common.result_path, input, result)?;
        ctx.inspect("afterResultPath", || placed.clone());
        let output = io::select_path(ctx, &self.common.output_path, placed)?;
        Ok(Transition {
            output,
            next: self.common.next.clone(),
            assigned,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::run;

    #[tokio::test]
    async fn result_path_places_the_result_inside_the_input_creating_objects() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 1}, "ResultPath": "$.a.b", "End": true}}}"#;
        assert_eq!(
            run(def, json!({"x": 0})).await.output,
            Some(json!({"x": 0, "a": {"b": {"v": 1}}}))
        );
    }

    #[tokio::test]
    async fn result_path_null_keeps_the_input() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": null, "End": true}}}"#;
        assert_eq!(
            run(def, json!({"x": 0})).await.output,
            Some(json!({"x": 0}))
        );
    }

    #[tokio::test]
    async fn parameters_evaluate_paths_context_and_intrinsics() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
            "greeting.$": "States.Format('Hello {}', $.name)", "state.$": "$$.State.Name", "static": {"k": [1]},
            "n.$": "$.nums[1]"}, "End": true}}}"#;
        let out = run(def, json!({"name": "Ann", "nums": [5, 6]}))
            .await
            .output;
        assert_eq!(
            out,
            Some(json!({"greeting": "Hello Ann", "state": "P", "static": {"k": [1]}, "n": 6}))
        );
    }

    #[tokio::test]
    async fn a_path_that_matches_nothing_is_a_runtime_error_naming_state_and_field() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$.missing"}, "End": true}}}"#;
        let r = run(def, json!({"a": 1})).await;
        assert_eq!(r.error.as_deref(), Some("States.Runtime"));
        assert_eq!(
            r.cause.as_deref(),
            Some(
                "An error occurred while executing the state 'P' (entered at the event id #2). The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input '{\"a\":1}'"
            )
        );
    }

    #[tokio::test]
    async fn an_input_path_that_matches_nothing_is_a_runtime_error() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": true}}}"#;
        let r = run(def, json!({})).await;
        assert_eq!(
            r.cause.as_deref(),
            Some(
                "An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.nope' : No results for path: $['nope']"
            )
        );
    }

    #[tokio::test]
    async fn an_output_over_256_kib_fails_with_data_limit_exceeded() {
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": true}}}"#;
        let r = run(def, json!({"s": "x".repeat(140 * 1024)})).await;
        assert_eq!(r.error.as_deref(), Some("States.DataLimitExceeded"));
    }
}
