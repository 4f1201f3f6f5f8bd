//! `ResultWriter`: what a Distributed Map returns, and its export to the store.
//!
//! The conformance corpus has no AWS recording of a ResultWriter, so this
//! follows the AWS Step Functions developer guide ("ResultWriter (Map)"):
//!
//! - With `Resource` (`arn:aws:states:::s3:putObject`) and a Bucket/Prefix,
//!   the results go to `PREFIX/MAP_RUN_ID/`: `SUCCEEDED_n.json`,
//!   `FAILED_n.json` (failed, timed-out and aborted children) and
//!   `PENDING_n.json` (children never started), each file at most 5 GB, and a
//!   `manifest.json` listing them (`DestinationBucket`, `MapRunArn`,
//!   `ResultFiles.{FAILED,PENDING,SUCCEEDED}` of `{Key, Size}`). The state's
//!   output is then `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.
//! - `WriterConfig.Transformation`: `NONE` gives each child's execution
//!   record (ARN, name, input and output as JSON text, status, dates; the
//!   default when exporting), `COMPACT` its output (the default without a
//!   ResultWriter), `FLATTEN` its output with arrays spread out. A failed
//!   child is always given as its record. `OutputType` `JSONL` writes one
//!   record per line; the guide shows no other file names, so they stay
//!   `*.json`.
//! - Without `Resource`, WriterConfig shapes the state's output.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::definition::QueryLanguage;
use crate::error::Fault;
use crate::execution::{StateCtx, timestamp};
use crate::io;
use crate::jsonata;
use crate::map_run::{ChildExecution, ChildStatus, MapRun};
use crate::store::ObjectStore;

pub const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

/// AWS splits a result file at 5 GB.
const MAX_RESULT_FILE_BYTES: usize = 5 * 1024 * 1024 * 1024;

const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

#[derive(Debug, Clone, Deserialize)]
pub struct ResultWriter {
    #[serde(rename = "Resource", default)]
    pub resource: Option<String>,
    #[serde(rename = "Parameters", default)]
    pub parameters: Option<Value>,
    #[serde(rename = "Arguments", default)]
    pub arguments: Option<Value>,
    #[serde(rename = "WriterConfig", default)]
    pub writer_config: Option<WriterConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WriterConfig {
    #[serde(rename = "Transformation", default)]
    pub transformation: Option<String>,
    #[serde(rename = "OutputType", default)]
    pub output_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transformation {
    None,
    Compact,
    Flatten,
}

/// Where and how a Map Run's results go, resolved against the state input.
#[derive(Debug, Clone)]
pub(super) struct Output {
    /// Bucket and prefix when exporting to the store.
    destination: Option<(Value, String)>,
    transformation: Transformation,
    lines: bool,
}

/// How the state's results are shaped when the definition has no ResultWriter.
pub(super) const DEFAULT: Output = Output {
    destination: None,
    transformation: Transformation::Compact,
    lines: false,
};

impl ResultWriter {
    pub(super) fn resolve(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Output, Fault> {
        let config = self.writer_config.clone().unwrap_or_default();
        let destination = match &self.resource {
            None => None,
            Some(_) => {
                let parameters = match ctx.language {
                    QueryLanguage::JSONata => match &self.arguments {
                        Some(t) => {
                            let states = jsonata::states_var(ctx, input, None, None);
                            jsonata::template(ctx, t, "ResultWriter/Arguments", &states)?
                        }
                        None => json!({}),
                    },
                    QueryLanguage::JSONPath => match &self.parameters {
                        Some(t) => io::payload(ctx, t, input)?,
                        None => json!({}),
                    },
                };
                let prefix = parameters["Prefix"].as_str().unwrap_or("").to_owned();
                Some((parameters["Bucket"].clone(), prefix))
            }
        };
        let transformation = match config.transformation.as_deref() {
            Some("NONE") => Transformation::None,
            Some("FLATTEN") => Transformation::Flatten,
            Some("COMPACT") => Transformation::Compact,
            _ if destination.is_some() => Transformation::None,
            _ => Transformation::Compact,
        };
        Ok(Output {
            destination,
            transformation,
            lines: config.output_type.as_deref() == Some("JSONL"),
        })
    }
}

impl Output {
    /// The state's result for a finished Map Run, after exporting it when
    /// there is a destination (`States.ResultWriterFailed` if that fails).
    pub(super) async fn finish(
        &self,
        run: &MapRun,
        store: Option<&dyn ObjectStore>,
    ) -> Result<Value, Fault> {
        let Some((bucket, prefix)) = &self.destination else {
            return Ok(Value::Array(self.shape(&run.children)));
        };
        let bucket = bucket.as_str().ok_or_else(|| {
            Fault::new(
                RESULT_WRITER_FAILED,
                "ResultWriter needs a string Bucket parameter",
            )
        })?;
        let store = store.ok_or_else(|| {
            Fault::new(
                RESULT_WRITER_FAILED,
                "no object store: the local interpreter writes ResultWriter objects to the store its caller gives it (screener states run --s3-root DIR, or --s3 for S3 itself)",
            )
        })?;
        let run_id = run.map_run_arn.rsplit(':').next().unwrap_or_default();
        let dir = match prefix.trim_end_matches('/') {
            "" => format!("{run_id}/"),
            p => format!("{p}/{run_id}/"),
        };
        let groups = [
            (
                "FAILED",
                self.group(run, |s| {
                    !matches!(s, ChildStatus::Succeeded | ChildStatus::Pending)
                }),
            ),
            ("PENDING", self.group(run, |s| s == ChildStatus::Pending)),
            (
                "SUCCEEDED",
                self.group(run, |s| s == ChildStatus::Succeeded),
            ),
        ];
        let mut files = Map::new();
        for (status, records) in groups {
            let mut listed = Vec::new();
            for (n, body) in self.files(&records).into_iter().enumerate() {
                let key = format!("{dir}{status}_{n}.json");
                listed.push(json!({"Key": key, "Size": body.len()}));
                put(store, bucket, &key, body).await?;
            }
            files.insert(status.to_owned(), Value::Array(listed));
        }
        let manifest = json!({
            "DestinationBucket": bucket,
            "MapRunArn": run.map_run_arn,
            "ResultFiles": files,
        });
        let key = format!("{dir}manifest.json");
        put(store, bucket, &key, manifest.to_string().into_bytes()).await?;
        Ok(json!({
            "MapRunArn": run.map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": key},
        }))
    }

    /// The children whose status passes `keep`, shaped for their file.
    fn group(&self, run: &MapRun, keep: impl Fn(ChildStatus) -> bool) -> Vec<Value> {
        let children: Vec<ChildExecution> = run
            .children
            .iter()
            .filter(|c| keep(c.status))
            .cloned()
            .collect();
        self.shape(&children)
    }

    /// Each child as the transformation gives it; a failed child is always its record.
    fn shape(&self, children: &[ChildExecution]) -> Vec<Value> {
        let mut out = Vec::new();
        for child in children {
            match (&child.output, child.status, self.transformation) {
                (Some(output), ChildStatus::Succeeded, Transformation::Compact) => {
                    out.push(output.clone())
                }
                (Some(Value::Array(a)), ChildStatus::Succeeded, Transformation::Flatten) => {
                    out.extend(a.iter().cloned())
                }
                (Some(output), ChildStatus::Succeeded, Transformation::Flatten) => {
                    out.push(output.clone())
                }
                _ => out.push(record(child)),
            }
        }
        out
    }

    /// File bodies: a JSON array (or JSON Lines) of `records`, split before 5 GB.
    fn files(&self, records: &[Value]) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut size = 2;
        for r in records {
            let text = r.to_string();
            if !current.is_empty() && size + text.len() + 1 > MAX_RESULT_FILE_BYTES {
                files.push(self.body(std::mem::take(&mut current)));
                size = 2;
            }
            size += text.len() + 1;
            current.push(text);
        }
        if !current.is_empty() {
            files.push(self.body(current));
        }
        files
    }

    fn body(&self, records: Vec<String>) -> Vec<u8> {
        if self.lines {
            records
                .iter()
                .map(|r| format!("{r}\n"))
                .collect::<String>()
                .into_bytes()
        } else {
            format!("[{}]", records.join(",")).into_bytes()
        }
    }
}

async fn put(store: &dyn ObjectStore, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), Fault> {
    store
        .put(bucket, key, body)
        .await
        .map_err(|e| Fault::new(RESULT_WRITER_FAILED, e.to_string()))
}

/// A child's execution record, as `Transformation: NONE` gives it.
pub(super) fn record(child: &ChildExecution) -> Value {
    let mut m = Map::new();
    m.insert("ExecutionArn".into(), json!(child.execution_arn));
    m.insert("Input".into(), json!(child.input.to_string()));
    m.insert("InputDetails".into(), json!({"Included": true}));
    m.insert("Name".into(), json!(child.name));
    match child.status {
        ChildStatus::Succeeded => {
            let output = child.output.clone().unwrap_or(Value::Null);
            m.insert("Output".into(), json!(output.to_string()));
            m.insert("OutputDetails".into(), json!({"Included": true}));
        }
        _ => {
            if let Some(e) = &child.error {
                m.insert("Error".into(), json!(e));
            }
            if let Some(c) = &child.cause {
                m.insert("Cause".into(), json!(c));
            }
        }
    }
    m.insert("RedriveCount".into(), json!(child.redrive_count));
    let (redrive, reason) = match child.status {
        ChildStatus::Succeeded => (
            "NOT_REDRIVABLE",
            Some("Execution is SUCCEEDED and cannot be redriven"),
        ),
        ChildStatus::Pending | ChildStatus::Running => ("NOT_REDRIVABLE", None),
        _ => ("REDRIVABLE_BY_MAP_RUN", None),
    };
    m.insert("RedriveStatus".into(), json!(redrive));
    if let Some(r) = reason {
        m.insert("RedriveStatusReason".into(), json!(r));
    }
    if let Some(t) = child.start_date {
        m.insert("StartDate".into(), json!(timestamp(t)));
    }
    m.insert("StateMachineArn".into(), json!(child.state_machine_arn));
    let status = serde_json::to_value(child.status).unwrap_or(Value::Null);
    m.insert("Status".into(), status);
    if let Some(t) = child.stop_date {
        m.insert("StopDate".into(), json!(timestamp(t)));
    }
    Value::Object(m)
}
