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
        ctx.inspect("afterInputPath", || input.clone());
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
        let error = match &self.error_path {
            Some(p) => read(p, "ErrorPath")?,
            None => self.error.clone(),
        };
        let cause = match &self.cause_path {
            Some(p) => read(p, "CausePath")?,
            None => self.cause.clone(),
        };
        Err(Fault {
            error: error.unwrap_or_default(),
            cause,
        })
    }
}
