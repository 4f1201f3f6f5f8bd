//! Input and output processing for JSONPath states: InputPath, Parameters
//! (payload templates with `.$` keys), ResultSelector, ResultPath, OutputPath.

use serde_json::{Map, Value};

use crate::definition::{NullablePath, QueryLanguage};
use crate::error::Fault;
use crate::execution::StateCtx;
use crate::intrinsics;
use crate::jsonata;
use crate::key_order;
use crate::paths::{self, QueryError, ReferencePath};

/// Resolves `$`, `$$` and `$var` paths for templates and intrinsics.
pub(crate) struct PathResolver<'a> {
    pub ctx: &'a StateCtx<'a>,
    pub input: &'a Value,
    /// The template field being evaluated, for causes (`value.$`).
    pub field: String,
}

impl PathResolver<'_> {
    fn not_found(&self, path: &str) -> Fault {
        self.ctx.runtime(format!(
            "The JSONPath '{path}' specified for the field '{}' could not be found in the input '{}'",
            self.field, self.input
        ))
    }
}

impl intrinsics::Resolver for PathResolver<'_> {
    fn resolve(&self, path: &str) -> Result<Value, Fault> {
        let result = if let Some(rest) = path.strip_prefix("$$") {
            paths::query(&format!("${rest}"), &self.ctx.context_object())
        } else if path.starts_with("$.") || path.starts_with("$[") || path == "$" {
            paths::query(path, self.input)
        } else if let Some(var) = path.strip_prefix('$') {
            let end = var.find(['.', '[']).unwrap_or(var.len());
            let (name, rest) = var.split_at(end);
            let vars = self.ctx.scope.variables();
            match vars.get(name) {
                Some(v) => paths::query(&format!("${rest}"), v),
                None => Err(QueryError::NoResults(path.to_owned())),
            }
        } else {
            Err(QueryError::Invalid(path.to_owned()))
        };
        result.map_err(|e| match e {
            QueryError::NoResults(_) | QueryError::MissingProperty(_) => self.not_found(path),
            QueryError::Invalid(msg) => self
                .ctx
                .runtime(format!("Invalid JSONPath '{path}': {msg}")),
        })
    }
}

/// Apply InputPath (or OutputPath): absent = whole value, null = `{}`.
pub(crate) fn select_path(
    ctx: &StateCtx<'_>,
    path: &NullablePath,
    value: Value,
) -> Result<Value, Fault> {
    match path {
        None => Ok(value),
        Some(None) => Ok(Value::Object(Map::new())),
        Some(Some(p)) if p == "$" => Ok(value),
        Some(Some(p)) => {
            let resolver = PathResolver {
                ctx,
                input: &value,
                field: String::new(),
            };
            if p.starts_with("$$") || !(p.starts_with("$.") || p.starts_with("$[")) {
                return intrinsics::Resolver::resolve(&resolver, p);
            }
            paths::query(p, &value).map_err(|e| match e {
                QueryError::NoResults(n) => {
                    ctx.runtime(format!("Invalid path '{p}' : No results for path: {n}"))
                }
                QueryError::MissingProperty(n) => {
                    ctx.runtime(format!("Invalid path '{p}' : Missing property in path {n}"))
                }
                QueryError::Invalid(m) => ctx.runtime(format!("Invalid path '{p}' : {m}")),
            })
        }
    }
}

/// Evaluate a payload template (Parameters, ResultSelector, ItemSelector):
/// keys ending in `.$` take a path or intrinsic result; others are copied.
/// As in AWS, the copied fields come first in template order and the `.$`
/// fields follow in Java `HashMap` order (see [`key_order`]).
pub(crate) fn payload(ctx: &StateCtx<'_>, template: &Value, input: &Value) -> Result<Value, Fault> {
    match template {
        Value::Object(m) => {
            let mut out = Map::new();
            let mut dynamic = Vec::new();
            for (k, v) in m {
                if let Some(name) = k.strip_suffix(".$") {
                    let Value::String(expr) = v else {
                        return Err(
                            ctx.runtime(format!("The value for the field '{k}' must be a STRING"))
                        );
                    };
                    let resolver = PathResolver {
                        ctx,
                        input,
                        field: k.clone(),
                    };
                    dynamic.push((name.to_owned(), evaluate(&resolver, expr)?));
                } else {
                    out.insert(k.clone(), payload(ctx, v, input)?);
                }
            }
            out.extend(key_order::java_hash_map(dynamic));
            Ok(Value::Object(out))
        }
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .map(|v| payload(ctx, v, input))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}

/// A `.$` value: an intrinsic call or a path.
pub(crate) fn evaluate(resolver: &PathResolver<'_>, expr: &str) -> Result<Value, Fault> {
    if intrinsics::looks_like_call(expr) {
        let parsed = intrinsics::parse(expr)
            .map_err(|e| Fault::intrinsic(format!("Invalid intrinsic '{expr}': {e}")))?;
        intrinsics::eval(&parsed, resolver)
    } else {
        intrinsics::Resolver::resolve(resolver, expr)
    }
}

/// Place `result` into `raw_input` by ResultPath: absent = `$` (result replaces
/// input), null = discard result and keep the input.
pub(crate) fn apply_result_path(
    ctx: &StateCtx<'_>,
    path: &NullablePath,
    raw_input: Value,
    result: Value,
) -> Result<Value, Fault> {
    match path {
        None => Ok(result),
        Some(None) => Ok(raw_input),
        Some(Some(p)) => {
            let reference = ReferencePath::parse(p)
                .ok_or_else(|| ctx.runtime(format!("Invalid path '{p}' : not a reference path")))?;
            reference.set(raw_input, result).map_err(|missing| {
                ctx.runtime(format!(
                    "Invalid path '{p}' : Missing property in path {missing}"
                ))
            })
        }
    }
}

/// The effective input: InputPath, then Parameters (JSONata: Arguments).
pub(crate) fn effective_input(
    ctx: &StateCtx<'_>,
    common: &crate::definition::Common,
    raw_input: &Value,
) -> Result<Value, Fault> {
    if ctx.language == QueryLanguage::JSONata {
        let args = match &common.arguments {
            Some(t) => {
                let states = jsonata::states_var(ctx, raw_input, None, None);
                jsonata::template(ctx, t, "Arguments", &states)?
            }
            None => raw_input.clone(),
        };
        ctx.inspect("afterArguments", || args.clone());
        return Ok(args);
    }
    let selected = select_path(ctx, &common.input_path, raw_input.clone())?;
    ctx.inspect("afterInputPath", || selected.clone());
    let effective = match &common.parameters {
        Some(template) => payload(ctx, template, &selected)?,
        None => selected,
    };
    ctx.inspect("afterParameters", || effective.clone());
    Ok(effective)
}

/// Finish a Task/Map/Parallel state from its result: ResultSelector, then
/// Assign (against the selected result), ResultPath and OutputPath.
pub(crate) fn finish(
    ctx: &StateCtx<'_>,
    common: &crate::definition::Common,
    raw_input: Value,
    result: Value,
) -> Result<crate::execution::Transition, Fault> {
    if ctx.language == QueryLanguage::JSONata {
        return finish_jsonata(ctx, common, raw_input, Some(result));
    }
    let selected = match &common.result_selector {
        Some(template) => payload(ctx, template, &result)?,
        None => result,
    };
    ctx.inspect("afterResultSelector", || selected.clone());
    let assigned = assign(ctx, common.assign.as_ref(), &selected)?;
    let placed = apply_result_path(ctx, &common.result_path, raw_input, selected)?;
    ctx.inspect("afterResultPath", || placed.clone());
    let output = select_path(ctx, &common.output_path, placed)?;
    Ok(crate::execution::Transition {
        output,
        next: common.next.clone(),
        assigned,
    })
}

/// Evaluate an `Assign` block: literal values as they are, `name.$` keys as
/// paths or intrinsics against `input` (the state's result).
pub(crate) fn assign(
    ctx: &StateCtx<'_>,
    template: Option<&Value>,
    input: &Value,
) -> Result<Option<Map<String, Value>>, Fault> {
    let Some(template) = template else {
        return Ok(None);
    };
    match payload(ctx, template, input)? {
        Value::Object(m) => Ok(Some(m)),
        _ => Ok(None),
    }
}

/// Finish a JSONata state: `Assign` then `Output` (default: the result, or
/// the input for states without one), both seeing `$states.result`.
pub(crate) fn finish_jsonata(
    ctx: &StateCtx<'_>,
    common: &crate::definition::Common,
    raw_input: Value,
    result: Option<Value>,
) -> Result<crate::execution::Transition, Fault> {
    let states = jsonata::states_var(ctx, &raw_input, result.as_ref(), None);
    let assigned = jsonata::assign(ctx, common.assign.as_ref(), &states)?;
    let output = match &common.output {
        Some(t) => jsonata::template(ctx, t, "Output", &states)?,
        None => result.unwrap_or(raw_input),
    };
    Ok(crate::execution::Transition {
        output,
        next: common.next.clone(),
        assigned,
    })
}
