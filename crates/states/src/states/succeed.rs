//! `Succeed`: ends the branch (or execution) successfully.

use serde::Deserialize;
use serde_json::Value;

use crate::definition::{Common, QueryLanguage};
use crate::error::Fault;
use crate::execution::{StateCtx, Transition};
use crate::io;

#[derive(Debug, Clone, Deserialize)]
pub struct SucceedState {
    #[serde(flatten)]
    pub common: Common,
}

impl SucceedState {
    pub(crate) fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        if ctx.language == QueryLanguage::JSONata {
            let mut t = io::finish_jsonata(ctx, &self.common, input, None)?;
            t.next = None;
            return Ok(t);
        }
        let selected = io::select_path(ctx, &self.common.input_path, input)?;
        if ctx.language == QueryLanguage::JSONPath {
            ctx.inspect("afterInputPath", || selected.clone());
        }
        let output = io::select_path(ctx, &self.common.output_path, selected)?;
        Ok(Transition {
            output,
            next: None,
            assigned: None,
        })
    }
}
