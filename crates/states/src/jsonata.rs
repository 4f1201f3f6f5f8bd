//! JSONata for states with `"QueryLanguage": "JSONata"`: `{% expr %}`
//! templates evaluated with `$states` (input, context, result, errorOutput)
//! and the execution's variables bound, through the `jsonata-rs` engine,
//! plus the functions AWS adds (`$partition`, `$range`, `$hash`, `$random`,
//! `$uuid`, `$parse`).

use std::collections::BTreeMap;

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, FunctionContext, JsonAta, Value as JValue};
use serde_json::{Map, Value};

use crate::error::{Fault, names};
use crate::execution::StateCtx;

mod order;

/// The expression inside a `{% ... %}` string, if it is one.
pub fn expression(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}").map(str::trim)
}

/// Why an expression produced no usable value.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    Undefined,
    /// A function value, which cannot leave JSONata.
    Unsupported,
    /// JSONata's own error, as `CODE: message`.
    Failed(String),
}

/// Evaluate one JSONata expression with `$states` and variables bound.
pub fn evaluate(
    expr: &str,
    states: &Value,
    variables: &BTreeMap<String, Value>,
) -> Result<Value, EvalError> {
    let arena = Bump::new();
    // The engine binds its own zero-argument `$random` last; AWS's takes a seed.
    let expr = seeded_random(expr);
    let program = JsonAta::new(&expr, &arena).map_err(|e| EvalError::Failed(describe(&e)))?;
    register_aws_functions(&program);
    let _order = order::Scope::enter(&expr);
    program.assign_var("states", order::from_json(&arena, states));
    for (k, v) in variables {
        program.assign_var(k, order::from_json(&arena, v));
    }
    let out = program
        .evaluate(None, None)
        .map_err(|e| EvalError::Failed(describe(&e)))?;
    if out.is_undefined() {
        return Err(EvalError::Undefined);
    }
    if out.is_function() {
        return Err(EvalError::Unsupported);
    }
    order::to_json(out).map_err(EvalError::Failed)
}

/// Route `$random(seed)` (with an argument) to AWS's seeded variant.
fn seeded_random(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(i) = rest.find("$random(") {
        let after = &rest[i + "$random(".len()..];
        out.push_str(&rest[..i]);
        if after.trim_start().starts_with(')') {
            out.push_str("$random(");
        } else {
            out.push_str("$__awsRandomSeeded(");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Whether an expression parses (the validator's check); the error as AWS words it.
pub fn check_syntax(expr: &str) -> Result<(), String> {
    let arena = Bump::new();
    JsonAta::new(&seeded_random(expr), &arena)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// `T1006 @ 12: Attempted ...` becomes AWS's `T1006: Attempted ...`.
fn describe(e: &jsonata_rs::Error) -> String {
    let text = e.to_string();
    let rest = text.split_once(" @ ").map_or(text.as_str(), |(_, r)| r);
    let message = rest.split_once(": ").map_or(rest, |(_, m)| m);
    format!("{}: {message}", e.code())
}

/// The `$states` object.
pub(crate) fn states_var(
    ctx: &StateCtx<'_>,
    input: &Value,
    result: Option<&Value>,
    error_output: Option<&Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("input".into(), input.clone());
    m.insert("context".into(), ctx.context_object());
    if let Some(r) = result {
        m.insert("result".into(), r.clone());
    }
    if let Some(e) = error_output {
        m.insert("errorOutput".into(), e.clone());
    }
    Value::Object(m)
}

/// Evaluate a template: `{% %}` strings anywhere inside objects and arrays
/// are replaced by their values; everything else is kept. `field` names the
/// place for causes (`Output/result`).
pub(crate) fn template(
    ctx: &StateCtx<'_>,
    value: &Value,
    field: &str,
    states: &Value,
) -> Result<Value, Fault> {
    let variables = ctx.scope.variables();
    template_with(ctx, value, field, states, &variables)
}

fn template_with(
    ctx: &StateCtx<'_>,
    value: &Value,
    field: &str,
    states: &Value,
    variables: &BTreeMap<String, Value>,
) -> Result<Value, Fault> {
    match value {
        Value::String(s) => match expression(s) {
            Some(expr) => {
                evaluate(expr, states, variables).map_err(|e| query_error(ctx, expr, field, &e))
            }
            None => Ok(value.clone()),
        },
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(
                    k.clone(),
                    template_with(ctx, v, &format!("{field}/{k}"), states, variables)?,
                );
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .map(|v| template_with(ctx, v, field, states, variables))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}

/// The `States.QueryEvaluationError` AWS raises for a failed expression.
pub(crate) fn query_error(ctx: &StateCtx<'_>, expr: &str, field: &str, e: &EvalError) -> Fault {
    let what = match e {
        EvalError::Undefined => "returned nothing (undefined).".to_owned(),
        EvalError::Unsupported => "returned an unsupported result type.".to_owned(),
        EvalError::Failed(m) => format!("threw an error during evaluation. {m}"),
    };
    query_fault(
        ctx,
        Some(field),
        format!("The JSONata expression '{expr}' specified for the field '{field}' {what}"),
    )
}

/// A `States.QueryEvaluationError` with a free-form detail, recorded as an
/// `EvaluationFailed` event (with the field at fault as its `location`).
pub(crate) fn query_fault(
    ctx: &StateCtx<'_>,
    location: Option<&str>,
    detail: impl AsRef<str>,
) -> Fault {
    let fault = Fault::new(
        names::QUERY_EVALUATION_ERROR,
        format!("{} {}", ctx.runtime_prefix(), detail.as_ref()),
    );
    let mut details =
        serde_json::json!({"error": fault.error, "cause": fault.cause, "state": ctx.name});
    if let Some(l) = location {
        details["location"] = Value::String(l.to_owned());
    }
    ctx.record("EvaluationFailed", details);
    fault
}

/// Evaluate an `Assign` block.
pub(crate) fn assign(
    ctx: &StateCtx<'_>,
    assign: Option<&Value>,
    states: &Value,
) -> Result<Option<Map<String, Value>>, Fault> {
    let Some(Value::Object(m)) = assign else {
        return Ok(None);
    };
    let variables = ctx.scope.variables();
    let mut out = Map::new();
    for (k, v) in m {
        out.insert(
            k.clone(),
            template_with(ctx, v, &format!("Assign/{k}"), states, &variables)?,
        );
    }
    Ok(Some(out))
}

/// A JSON type name as AWS prints it in causes.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn register_aws_functions<'a>(program: &JsonAta<'a>) {
    program.register_function("partition", 2, fn_partition);
    program.register_function("range", 3, fn_range);
    program.register_function("hash", 2, fn_hash);
    program.register_function("__awsRandomSeeded", 1, fn_random);
    program.register_function("uuid", 0, fn_uuid);
    program.register_function("parse", 1, fn_parse);
}

/// Run an intrinsic on JSON arguments and hand the result back to JSONata.
fn via_intrinsic<'a>(
    context: &FunctionContext<'a, '_>,
    intrinsic: &str,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let json_args = args
        .iter()
        .map(|a| order::to_json(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(jsonata_rs::Error::D3137Error)?;
    match crate::intrinsics::call(intrinsic, json_args) {
        Ok(v) => Ok(order::from_json(context.arena, &v)),
        Err(f) => Err(jsonata_rs::Error::D3137Error(
            f.cause.or(f.error).unwrap_or_default(),
        )),
    }
}

fn fn_partition<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    via_intrinsic(&context, "States.ArrayPartition", args)
}

/// `$range` returns a sequence, so a single number comes back unwrapped.
fn fn_range<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let json_args = args
        .iter()
        .map(|a| order::to_json(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(jsonata_rs::Error::D3137Error)?;
    match crate::intrinsics::call("States.ArrayRange", json_args) {
        Ok(Value::Array(items)) => {
            let seq = JValue::array_with_capacity(context.arena, items.len(), ArrayFlags::SEQUENCE);
            for x in &items {
                seq.push(order::from_json(context.arena, x));
            }
            Ok(seq)
        }
        Ok(other) => Ok(order::from_json(context.arena, &other)),
        Err(f) => Err(jsonata_rs::Error::D3137Error(
            f.cause.or(f.error).unwrap_or_default(),
        )),
    }
}

fn fn_hash<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    via_intrinsic(&context, "States.Hash", args)
}

fn fn_uuid<'a>(
    context: FunctionContext<'a, '_>,
    _args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    Ok(JValue::string(
        context.arena,
        &uuid::Uuid::new_v4().to_string(),
    ))
}

/// `$random([seed])`: a number in [0, 1), repeatable for a given seed.
fn fn_random<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let seed = match args.first() {
        Some(s) if s.is_number() => s.as_f64() as u64,
        _ => fastrand::u64(..),
    };
    let x = fastrand::Rng::with_seed(seed).f64();
    Ok(JValue::number(context.arena, x))
}

fn fn_parse<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let text = args
        .first()
        .map(|a| a.as_str().into_owned())
        .unwrap_or_default();
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => Ok(order::from_json(context.arena, &v)),
        Err(e) => Err(jsonata_rs::Error::D3137Error(format!("$parse: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str, states: Value) -> Result<Value, EvalError> {
        evaluate(expr, &states, &BTreeMap::new())
    }

    #[test]
    fn expressions_see_states_and_variables() {
        let vars = BTreeMap::from([("limit".to_owned(), json!(2))]);
        let out = evaluate(
            "$count($states.input.xs[$ > $limit])",
            &json!({"input": {"xs": [1, 2, 3, 4]}}),
            &vars,
        );
        assert_eq!(out, Ok(json!(2)));
    }

    #[test]
    fn aws_functions_are_available() {
        assert_eq!(
            eval("$partition([1,2,3], 2)", json!({})),
            Ok(json!([[1, 2], [3]]))
        );
        assert_eq!(eval("$range(0, 6, 3)", json!({})), Ok(json!([0, 3, 6])));
        assert_eq!(eval("$parse('{\"a\": 1}')", json!({})), Ok(json!({"a": 1})));
        assert_eq!(eval("$random(7) = $random(7)", json!({})), Ok(json!(true)));
        assert_eq!(eval("$length($uuid())", json!({})), Ok(json!(36)));
    }

    #[test]
    fn undefined_and_errors_are_reported_as_aws_does() {
        assert_eq!(eval("$nothing", json!({})), Err(EvalError::Undefined));
        assert_eq!(
            eval("$f := function($x){$x}", json!({})),
            Err(EvalError::Unsupported)
        );
        assert_eq!(
            eval("$nope(1)", json!({})),
            Err(EvalError::Failed(
                "T1006: Attempted to invoke a non-function".into()
            ))
        );
    }

    fn eval_text(expr: &str, states: &str) -> String {
        let states: Value = serde_json::from_str(states).unwrap();
        serde_json::to_string(&eval(expr, states).unwrap()).unwrap()
    }

    #[test]
    fn objects_keep_their_key_order_through_the_engine() {
        let states = r#"{"input": {"z": 1, "y": {"b": 2, "a": 3}, "x": [{"q": 1, "p": 2}]}}"#;
        // Passed through unchanged, whole or in part.
        assert_eq!(
            eval_text("$states.input", states),
            r#"{"z":1,"y":{"b":2,"a":3},"x":[{"q":1,"p":2}]}"#
        );
        assert_eq!(eval_text("$states.input.x", states), r#"[{"q":1,"p":2}]"#);
        // Built by the expression: the constructor's order.
        assert_eq!(
            eval_text(
                r#"{"m": 1, "k": $states.input.y, "l": {"o": 2, "n": 3}}"#,
                states
            ),
            r#"{"m":1,"k":{"b":2,"a":3},"l":{"o":2,"n":3}}"#
        );
        assert_eq!(
            eval_text(
                r#"{"a": $states.input.y.a, "b": $states.input.y.b}"#,
                states
            ),
            r#"{"a":3,"b":2}"#
        );
        // An undefined value drops its key, not the constructor's order.
        assert_eq!(
            eval_text(r#"{"q": $nothing, "x": 1, "y": 2}"#, states),
            r#"{"x":1,"y":2}"#
        );
        // Merged: the input's keys first, then the new ones (AWS: test_merge_with_dynamic_args).
        assert_eq!(
            eval_text(r#"$merge([$states.input.y, {"c": 4, "b": 5}])"#, states),
            r#"{"b":5,"a":3,"c":4}"#
        );
        assert_eq!(
            eval_text(r#"$merge([{"hello": "world"}, {"foo": "bar"}])"#, states),
            r#"{"hello":"world","foo":"bar"}"#
        );
        // Parsed or computed by the functions AWS adds.
        assert_eq!(
            eval_text(r#"$parse('{"Arg2": [], "Arg1": 1}')"#, states),
            r#"{"Arg2":[],"Arg1":1}"#
        );
        assert_eq!(
            eval_text("$partition($states.input.x, 1)", states),
            r#"[[{"q":1,"p":2}]]"#
        );
    }

    #[test]
    fn only_whole_percent_brace_strings_are_expressions() {
        assert_eq!(expression("{% 1 + 1 %}"), Some("1 + 1"));
        assert_eq!(
            expression(" {% 1 + 1 %} "),
            None,
            "surrounding spaces make it a literal"
        );
        assert_eq!(expression("{% partial"), None);
        assert_eq!(expression("$.path"), None);
    }
}
