//! `Fail`: stops the execution with an error name and cause, fixed or read by path.

use serde::Deserialize;
use serde_json::Value;

use crate::definition::Common;
use crate::error::Fault;
use crate::execution::{StateCtx, Transition};
use crate::io::{self, PathResolver};

#[derive(Debug, Clone, Deserialize)]
pub struct FailState {
    #[serde(flatten)]
    pub common: Common,
    #[serde(rename = "Error", default)]
    pub error: Option<String>,
    #[serde(rename = "ErrorPath", default)]
    pub error_path: Option<String>,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
    #[serde(rename = "CausePath", default)]
    pub cause_path: Option<String>,
}

impl FailState {
    pub(crate) fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        if ctx.language == crate::definition::QueryLanguage::JSONPath {
            ctx.inspect("afterInputPath", || input.clone());
        }
        let read = |path: &str, field: &str| -> Result<Option<String>, Fault> {
            let resolver = PathResolver {
                ctx,
                input: &input,
                field: field.to_owned(),
            };
            match io::evaluate(&resolver, path)? {
                Value::String(s) => Ok(Some(s)),
                Value::Null => Ok(None),
                other => Ok(Some(other.to_string())),
            }
        };
        let (error, cause) = if ctx.language == crate::definition::QueryLanguage::JSONata {
            let states = crate::jsonata::states_var(ctx, &input, None, None);
            let eval = |v: &Option<String>, field: &str| -> Result<Option<String>, Fault> {
                let Some(text) = v else { return Ok(None) };
                Ok(
                    match crate::jsonata::template(
                        ctx,
                        &Value::String(text.clone()),
                        field,
                        &states,
                    )? {
                        Value::String(s) => Some(s),
                        Value::Null => None,
                        other => Some(other.to_string()),
                    },
                )
            };
            (eval(&self.error, "Error")?, eval(&self.cause, "Cause")?)
        } else {
            let error = match &self.error_path {
                Some(p) => read(p, "ErrorPath")?,
                None => self.error.clone(),
            };
            let cause = match &self.cause_path {
                Some(p) => read(p, "CausePath")?,
                None => self.cause.clone(),
            };
            (error, cause)
        };
        Err(Fault { error, cause })
    }
}
