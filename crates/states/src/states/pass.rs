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

    /// The execution output as AWS would print it: compact, keys in order.
    async fn output_text(def: &str, input: &str) -> String {
        let input: serde_json::Value = serde_json::from_str(input).unwrap();
        serde_json::to_string(&run(def, input).await.output.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn parameters_put_literal_fields_first_and_path_fields_in_aws_order() {
        // Recorded from AWS: test_base_scenarios.py::test_map_state_legacy_reentrant.
        let def = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"Iterations": 3, "Values.$": "States.ArrayRange(0, 3, 1)"}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"Iterations.$": "States.MathAdd($.Iterations, -1)", "Values.$": "$.Values"}, "Next": "C"},
            "C": {"Type": "Pass", "Parameters": {"z": 1, "x.$": "$.Iterations", "y": {"b": 1, "a": 2}}, "ResultPath": "$.r", "End": true}}}"#;
        assert_eq!(
            output_text(def, "{}").await,
            r#"{"Values":[0,1,2,3],"Iterations":2,"r":{"z":1,"y":{"b":1,"a":2},"x":2}}"#
        );
    }

    #[tokio::test]
    async fn result_path_replaces_a_key_in_place_and_appends_a_new_one() {
        let replace = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 0, "ResultPath": "$.b", "End": true}}}"#;
        let append = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 0, "ResultPath": "$.a.c", "End": true}}}"#;
        let input = r#"{"b": 1, "a": {"z": 2, "y": 3}, "x": 4}"#;
        assert_eq!(
            output_text(replace, input).await,
            r#"{"b":0,"a":{"z":2,"y":3},"x":4}"#
        );
        assert_eq!(
            output_text(append, input).await,
            r#"{"b":1,"a":{"z":2,"y":3,"c":0},"x":4}"#
        );
    }

    #[tokio::test]
    async fn json_to_string_hash_and_base64_see_the_keys_in_input_order() {
        // Hand-checked: JSON.stringify order, then sha256sum / md5sum / base64.
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"all": {
            "text.$": "States.JsonToString($.o)",
            "sha256.$": "States.Hash(States.JsonToString($.o), 'SHA-256')",
            "md5.$": "States.Hash(States.JsonToString($.o), 'MD5')",
            "base64.$": "States.Base64Encode(States.JsonToString($.o))"}}, "OutputPath": "$.all", "End": true}}}"#;
        let input = json!({"o": {"b": 1, "a": [2, {"d": true, "c": null}]}});
        let out = run(def, input).await.output.unwrap();
        assert_eq!(out["text"], r#"{"b":1,"a":[2,{"d":true,"c":null}]}"#);
        assert_eq!(
            out["sha256"],
            "01fda334bb882569b3a099631a57ca076c419301059d09acb0aeec190801df71"
        );
        assert_eq!(out["md5"], "120f5eefaa2bb919a43d149052e00ba9");
        assert_eq!(
            out["base64"],
            "eyJiIjoxLCJhIjpbMix7ImQiOnRydWUsImMiOm51bGx9XX0="
        );
    }

    #[tokio::test]
    async fn string_to_json_and_json_merge_order_keys_as_aws_does() {
        // Recorded from AWS: test_json_manipulation.py::test_json_merge_escaped_argument
        // (JsonMerge comes out in Java HashMap order) and test_string_to_json.
        let def = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
            "merged.$": "States.JsonMerge(States.StringToJson('{\"constant_in_literal\": \"false\"}'), $.input_field, false)",
            "parsed.$": "States.StringToJson($.text)"}, "End": true}}}"#;
        let input = r#"{"input_field": {"constant_input_field": "constant_value"}, "text": "{\"z\": 1, \"y\": {\"b\": 2, \"a\": 3}}"}"#;
        assert_eq!(
            output_text(def, input).await,
            r#"{"merged":{"constant_input_field":"constant_value","constant_in_literal":"false"},"parsed":{"z":1,"y":{"b":2,"a":3}}}"#
        );
    }
}
