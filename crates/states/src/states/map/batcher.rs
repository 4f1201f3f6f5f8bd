//! `ItemBatcher`: groups a Distributed Map's items so that one child
//! execution processes several. Each child's input is
//! `{"BatchInput": ..., "Items": [...]}`, without `BatchInput` when none is
//! declared (both recorded from AWS). A batch holds at most
//! `MaxItemsPerBatch` items and at most `MaxInputBytesPerBatch` bytes of
//! input; the limits may come from paths, whose numeric strings count.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::definition::QueryLanguage;
use crate::error::Fault;
use crate::execution::{StateCtx, serialized_len};
use crate::io;
use crate::jsonata;

#[derive(Debug, Clone, Deserialize)]
pub struct ItemBatcher {
    #[serde(rename = "MaxItemsPerBatch", default)]
    pub max_items_per_batch: Option<Value>,
    #[serde(rename = "MaxItemsPerBatchPath", default)]
    pub max_items_per_batch_path: Option<String>,
    #[serde(rename = "MaxInputBytesPerBatch", default)]
    pub max_input_bytes_per_batch: Option<Value>,
    #[serde(rename = "MaxInputBytesPerBatchPath", default)]
    pub max_input_bytes_per_batch_path: Option<String>,
    #[serde(rename = "BatchInput", default)]
    pub batch_input: Option<Value>,
}

/// The batcher's limits and BatchInput, resolved against the state input.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Batching {
    max_items: Option<usize>,
    max_bytes: Option<usize>,
    batch_input: Option<Value>,
}

/// One child's input and how many items it carries.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Batch {
    pub input: Value,
    pub items: usize,
}

impl ItemBatcher {
    pub(super) fn resolve(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Batching, Fault> {
        let limit =
            |literal: &Option<Value>, path: &Option<String>, field: &str| match super::read_int(
                ctx, input, literal, path, field,
            )? {
                Some(n) if n <= 0 => Err(ctx.runtime(format!("{field} must be greater than 0."))),
                Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
                None => Ok(None),
            };
        let max_items = limit(
            &self.max_items_per_batch,
            &self.max_items_per_batch_path,
            "MaxItemsPerBatch",
        )?;
        let max_bytes = limit(
            &self.max_input_bytes_per_batch,
            &self.max_input_bytes_per_batch_path,
            "MaxInputBytesPerBatch",
        )?;
        let batch_input = match &self.batch_input {
            None => None,
            Some(t) if ctx.language == QueryLanguage::JSONata => {
                let states = jsonata::states_var(ctx, input, None, None);
                Some(jsonata::template(
                    ctx,
                    t,
                    "ItemBatcher/BatchInput",
                    &states,
                )?)
            }
            Some(t) => Some(io::payload(ctx, t, input)?),
        };
        Ok(Batching {
            max_items,
            max_bytes,
            batch_input,
        })
    }
}

impl Batching {
    /// Group `items` in order: a batch closes when one more item would pass
    /// either limit. An item larger than the byte limit on its own still gets
    /// a batch (AWS's behaviour there is not recorded).
    pub(super) fn batches(&self, items: Vec<Value>) -> Vec<Batch> {
        let mut out = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        for item in items {
            if !current.is_empty() {
                let full = self.max_items.is_some_and(|n| current.len() >= n);
                let too_big = self.max_bytes.is_some_and(|limit| {
                    current.push(item.clone());
                    let size = serialized_len(&self.input(&current));
                    current.pop();
                    size > limit
                });
                if full || too_big {
                    out.push(self.close(std::mem::take(&mut current)));
                }
            }
            current.push(item);
        }
        if !current.is_empty() {
            out.push(self.close(current));
        }
        out
    }

    fn close(&self, items: Vec<Value>) -> Batch {
        Batch {
            items: items.len(),
            input: self.input(&items),
        }
    }

    fn input(&self, items: &[Value]) -> Value {
        let mut m = Map::new();
        if let Some(b) = &self.batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(items.to_vec()));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batching(max_items: Option<usize>, max_bytes: Option<usize>) -> Batching {
        Batching {
            max_items,
            max_bytes,
            batch_input: None,
        }
    }

    #[test]
    fn items_are_grouped_by_count_in_order() {
        let b = batching(Some(2), None).batches(vec![json!(1), json!(2), json!(3)]);
        assert_eq!(
            b.iter().map(|b| b.input.clone()).collect::<Vec<_>>(),
            vec![json!({"Items": [1, 2]}), json!({"Items": [3]})]
        );
        assert_eq!(b[1].items, 1);
    }

    #[test]
    fn a_batch_closes_before_it_passes_the_byte_limit() {
        // {"Items":["aaaa","bbbb"]} is 25 bytes; with a third item 32.
        let items = vec![json!("aaaa"), json!("bbbb"), json!("cccc")];
        let b = batching(None, Some(25)).batches(items);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].input, json!({"Items": ["aaaa", "bbbb"]}));
    }

    #[test]
    fn batch_input_comes_first_in_every_batch() {
        let mut b = batching(Some(5), None);
        b.batch_input = Some(json!({"run": 7}));
        let out = b.batches(vec![json!(1)]);
        let keys: Vec<&String> = out[0].input.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["BatchInput", "Items"]);
    }
}
