//! `ItemReader`: a Distributed Map's items from the object store.
//!
//! `arn:aws:states:::s3:getObject` reads one object as CSV, JSON, JSON Lines
//! or an S3 inventory manifest (`ReaderConfig.InputType`);
//! `arn:aws:states:::s3:listObjectsV2` lists a bucket. `ReaderConfig.MaxItems`
//! (or `MaxItemsPath`) keeps the first items; 0 means all.
//!
//! What AWS did, as recorded in the conformance corpus: CSV values are always
//! strings; header names are used verbatim (`0`, `True`, even the empty
//! string); a row's extra fields are dropped and missing ones become `""`;
//! single quotes are ordinary characters; a whitespace-only line is a row;
//! duplicate headers fail with `States.ItemReaderFailed`; each row's keys
//! come out in Java `HashMap` order. A JSON object where an array is expected
//! fails with "Attempting to map over non-iterable node.". A negative
//! `MaxItemsPath` value fails inside the Map Run, a non-integer one before it.
//!
//! Not recorded there, so taken from the AWS Step Functions developer guide
//! ("ItemReader (Map)"): `CSVDelimiter` (COMMA, PIPE, SEMICOLON, SPACE, TAB),
//! JSONL (one JSON value per line), and MANIFEST (an S3 inventory
//! `manifest.json` whose CSV inventory files, gzipped or not, list objects;
//! each row becomes an object keyed by the manifest's `fileSchema`, values
//! as strings), and the shape of a `listObjectsV2` item
//! (`Etag`, `Key`, `LastModified` in epoch seconds, `Size`, `StorageClass`).

use std::io::Read as _;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::definition::QueryLanguage;
use crate::error::{Fault, names};
use crate::execution::StateCtx;
use crate::io;
use crate::jsonata;
use crate::key_order;
use crate::store::{ObjectStore, StoreError};

pub const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
pub const LIST_OBJECTS_V2: &str = "arn:aws:states:::s3:listObjectsV2";

#[derive(Debug, Clone, Deserialize)]
pub struct ItemReader {
    #[serde(rename = "Resource")]
    pub resource: String,
    #[serde(rename = "Parameters", default)]
    pub parameters: Option<Value>,
    #[serde(rename = "Arguments", default)]
    pub arguments: Option<Value>,
    #[serde(rename = "ReaderConfig", default)]
    pub reader_config: Option<ReaderConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReaderConfig {
    #[serde(rename = "InputType", default)]
    pub input_type: Option<String>,
    #[serde(rename = "CSVHeaderLocation", default)]
    pub csv_header_location: Option<String>,
    #[serde(rename = "CSVHeaders", default)]
    pub csv_headers: Option<Vec<String>>,
    #[serde(rename = "CSVDelimiter", default)]
    pub csv_delimiter: Option<String>,
    #[serde(rename = "MaxItems", default)]
    pub max_items: Option<Value>,
    #[serde(rename = "MaxItemsPath", default)]
    pub max_items_path: Option<String>,
}

/// The field delimiter a `CSVDelimiter` name stands for.
pub fn csv_delimiter(name: &str) -> Option<u8> {
    match name {
        "COMMA" => Some(b','),
        "PIPE" => Some(b'|'),
        "SEMICOLON" => Some(b';'),
        "SPACE" => Some(b' '),
        "TAB" => Some(b'\t'),
        _ => None,
    }
}

/// A read resolved against the state input, done once the Map Run has started.
#[derive(Debug)]
pub(super) struct Reading {
    resource: String,
    parameters: Value,
    config: ReaderConfig,
    max_items: Option<i64>,
}

impl ItemReader {
    /// Evaluate Parameters (JSONata: Arguments) and MaxItems against the
    /// state input; a bad MaxItemsPath value is a `States.Runtime` error here,
    /// before the Map Run starts, as in AWS.
    pub(super) fn resolve(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<Reading, Fault> {
        let parameters = match ctx.language {
            QueryLanguage::JSONata => match &self.arguments {
                Some(t) => {
                    let states = jsonata::states_var(ctx, input, None, None);
                    jsonata::template(ctx, t, "ItemReader/Arguments", &states)?
                }
                None => json!({}),
            },
            QueryLanguage::JSONPath => match &self.parameters {
                Some(t) => io::payload(ctx, t, input)?,
                None => json!({}),
            },
        };
        let config = self.reader_config.clone().unwrap_or_default();
        let max_items = super::read_int(
            ctx,
            input,
            &config.max_items,
            &config.max_items_path,
            "MaxItems",
        )?;
        Ok(Reading {
            resource: self.resource.clone(),
            parameters,
            config,
            max_items,
        })
    }
}

fn reader_failed(cause: impl Into<String>) -> Fault {
    Fault::new(names::ITEM_READER_FAILED, cause)
}

fn store_failed(e: StoreError) -> Fault {
    reader_failed(e.to_string())
}

impl Reading {
    /// Read the items (`States.ItemReaderFailed` when that fails).
    pub(super) async fn items(&self, store: Option<&dyn ObjectStore>) -> Result<Vec<Value>, Fault> {
        let limit = match self.max_items {
            Some(n) if n < 0 => return Err(reader_failed("field MaxItems must be positive")),
            Some(n) if n > 0 => Some(n as usize),
            _ => None,
        };
        let store = store.ok_or_else(|| {
            reader_failed(
                "no object store: the local interpreter reads ItemReader objects from the store its caller gives it (screener states run --s3-root DIR, or --s3 for S3 itself)",
            )
        })?;
        let bucket = self.parameter("Bucket")?;
        let mut items = match self.resource.as_str() {
            LIST_OBJECTS_V2 => {
                let prefix = self.parameters["Prefix"].as_str().unwrap_or("");
                list_objects(store, &bucket, prefix).await?
            }
            GET_OBJECT => {
                let key = self.parameter("Key")?;
                let body = store.get(&bucket, &key).await.map_err(store_failed)?;
                self.parse(store, &bucket, &body).await?
            }
            other => {
                return Err(reader_failed(format!(
                    "ItemReader resource {other} is not supported"
                )));
            }
        };
        if let Some(n) = limit {
            items.truncate(n);
        }
        Ok(items)
    }

    fn parameter(&self, name: &str) -> Result<String, Fault> {
        self.parameters[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| reader_failed(format!("ItemReader needs a string {name} parameter")))
    }

    async fn parse(
        &self,
        store: &dyn ObjectStore,
        bucket: &str,
        body: &[u8],
    ) -> Result<Vec<Value>, Fault> {
        let input_type = self.config.input_type.as_deref().unwrap_or("JSON");
        match input_type {
            "JSON" => json_items(body),
            "JSONL" => jsonl_items(body),
            "CSV" => {
                let delimiter = match self.config.csv_delimiter.as_deref() {
                    None => b',',
                    Some(name) => csv_delimiter(name).ok_or_else(|| {
                        reader_failed(format!("CSVDelimiter {name} is not supported"))
                    })?,
                };
                let headers = match self.config.csv_header_location.as_deref() {
                    Some("GIVEN") => Some(self.config.csv_headers.clone().unwrap_or_default()),
                    _ => None,
                };
                csv_items(body, delimiter, headers)
            }
            "MANIFEST" => manifest_items(store, bucket, body).await,
            other => Err(reader_failed(format!(
                "ItemReader InputType {other} is not supported by the local interpreter"
            ))),
        }
    }
}

/// A JSON array: one item per element.
fn json_items(body: &[u8]) -> Result<Vec<Value>, Fault> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| reader_failed(format!("The object is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(reader_failed("Attempting to map over non-iterable node.")),
    }
}

/// JSON Lines: one item per non-empty line.
fn jsonl_items(body: &[u8]) -> Result<Vec<Value>, Fault> {
    let text = std::str::from_utf8(body)
        .map_err(|e| reader_failed(format!("The object is not UTF-8 text: {e}")))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| {
                reader_failed(format!(
                    "Line {} of the JSONL object is not JSON: {e}",
                    n + 1
                ))
            })
        })
        .collect()
}

/// CSV rows as objects of strings, keyed by `headers` or, without them, by the first row.
fn csv_items(
    body: &[u8],
    delimiter: u8,
    headers: Option<Vec<String>>,
) -> Result<Vec<Value>, Fault> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body);
    let mut rows = reader.records();
    let headers: Vec<String> = match headers {
        Some(h) => h,
        None => match rows.next() {
            Some(first) => first
                .map_err(|e| reader_failed(format!("The CSV object could not be read: {e}")))?
                .iter()
                .map(str::to_owned)
                .collect(),
            None => return Ok(Vec::new()),
        },
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h)) {
        return Err(reader_failed("CSV headers cannot contain duplicates."));
    }
    rows.map(|row| {
        let row =
            row.map_err(|e| reader_failed(format!("The CSV object could not be read: {e}")))?;
        let fields = headers.iter().enumerate().map(|(i, h)| {
            (
                h.clone(),
                Value::String(row.get(i).unwrap_or("").to_owned()),
            )
        });
        // AWS builds each row in a Java HashMap (the corpus shows its key order).
        Ok(Value::Object(key_order::java_hash_map(fields)))
    })
    .collect()
}

/// The objects an S3 inventory lists: `manifest.json` names CSV inventory
/// files (in its `destinationBucket`, else the manifest's own bucket) and
/// their columns (`fileSchema`).
async fn manifest_items(
    store: &dyn ObjectStore,
    bucket: &str,
    body: &[u8],
) -> Result<Vec<Value>, Fault> {
    let manifest: Value = serde_json::from_slice(body)
        .map_err(|e| reader_failed(format!("The manifest is not valid JSON: {e}")))?;
    if manifest["fileFormat"].as_str().unwrap_or("CSV") != "CSV" {
        return Err(reader_failed(format!(
            "S3 inventory format {} is not supported; Step Functions reads CSV inventories",
            manifest["fileFormat"]
        )));
    }
    let schema: Vec<String> = manifest["fileSchema"]
        .as_str()
        .ok_or_else(|| reader_failed("The manifest has no fileSchema"))?
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect();
    let files_bucket = manifest["destinationBucket"]
        .as_str()
        .map(|b| b.strip_prefix("arn:aws:s3:::").unwrap_or(b))
        .unwrap_or(bucket)
        .to_owned();
    let files = manifest["files"]
        .as_array()
        .ok_or_else(|| reader_failed("The manifest has no files"))?;
    let mut items = Vec::new();
    for file in files {
        let key = file["key"]
            .as_str()
            .ok_or_else(|| reader_failed("A manifest file entry has no key"))?;
        let raw = store.get(&files_bucket, key).await.map_err(store_failed)?;
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .map_err(|e| reader_failed(format!("{key}: not a readable gzip file: {e}")))?;
            out
        } else {
            raw
        };
        items.extend(csv_items(&text, b',', Some(schema.clone()))?);
    }
    Ok(items)
}

/// One item per object: what `ListObjectsV2` says about it.
async fn list_objects(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Value>, Fault> {
    let objects = store.list(bucket, prefix).await.map_err(store_failed)?;
    Ok(objects
        .into_iter()
        .map(|o| {
            let mut m = Map::new();
            m.insert("Etag".into(), Value::String(o.etag));
            m.insert("Key".into(), Value::String(o.key));
            m.insert("LastModified".into(), json!(o.last_modified.timestamp()));
            m.insert("Size".into(), json!(o.size));
            m.insert("StorageClass".into(), json!("STANDARD"));
            Value::Object(m)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn csv_rows_are_strings_keyed_by_the_first_row_padding_and_dropping_fields() {
        let items = csv_items(b"a,b,c\n1,2,3\n,,,\nx,y\n   \n", b',', None).unwrap();
        assert_eq!(
            items,
            vec![
                json!({"a": "1", "b": "2", "c": "3"}),
                json!({"a": "", "b": "", "c": ""}),
                json!({"a": "x", "b": "y", "c": ""}),
                json!({"a": "   ", "b": "", "c": ""}),
            ]
        );
    }

    #[test]
    fn csv_row_keys_come_in_java_hash_map_order_as_aws_records_them() {
        let items = csv_items(b"0,True,{}\nA,B,C\n", b',', None).unwrap();
        assert_eq!(keys(&items[0]), ["0", "{}", "True"]);
    }

    #[test]
    fn a_csv_delimiter_splits_fields_and_quotes_still_group_them() {
        let items = csv_items(b"a|b\n\"x|y\"|z\n", b'|', None).unwrap();
        assert_eq!(items, vec![json!({"a": "x|y", "b": "z"})]);
        let items = csv_items(b"1\t2\n", b'\t', Some(vec!["p".into(), "q".into()])).unwrap();
        assert_eq!(items, vec![json!({"p": "1", "q": "2"})]);
        assert_eq!(csv_delimiter("SEMICOLON"), Some(b';'));
        assert_eq!(csv_delimiter("COLON"), None);
    }

    #[test]
    fn duplicate_csv_headers_fail_the_read() {
        let e = csv_items(b"1,2\n", b',', Some(vec!["H".into(), "H".into()])).unwrap_err();
        assert_eq!(e.error.as_deref(), Some("States.ItemReaderFailed"));
        assert_eq!(
            e.cause.as_deref(),
            Some("CSV headers cannot contain duplicates.")
        );
    }

    #[test]
    fn json_lines_give_one_item_per_line_and_a_bad_line_fails() {
        assert_eq!(
            jsonl_items(b"{\"a\":1}\n\n[2]\r\n\"s\"").unwrap(),
            vec![json!({"a": 1}), json!([2]), json!("s")]
        );
        let e = jsonl_items(b"1\n{oops\n").unwrap_err();
        assert!(e.cause.unwrap().starts_with("Line 2 "));
    }

    #[test]
    fn a_json_object_is_not_a_list_of_items() {
        let e = json_items(br#"{"Hello": "world"}"#).unwrap_err();
        assert_eq!(
            e.cause.as_deref(),
            Some("Attempting to map over non-iterable node.")
        );
    }

    #[tokio::test]
    async fn a_manifest_lists_the_rows_of_its_gzipped_inventory_files() {
        use std::io::Write;
        let store = crate::store::MemoryStore::new();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"\"src\",\"a.csv\",\"10\",\"2024-01-02T03:04:05.000Z\"\n\"src\",\"b.csv\",\"20\",\"2024-01-02T03:04:06.000Z\"\n")
            .unwrap();
        store.insert("inv", "data/1.csv.gz", gz.finish().unwrap());
        store.insert(
            "inv",
            "data/2.csv",
            "\"src\",\"c.csv\",\"30\",\"2024-01-02T03:04:07.000Z\"\n",
        );
        let manifest = json!({
            "sourceBucket": "src",
            "destinationBucket": "arn:aws:s3:::inv",
            "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, Size, LastModifiedDate",
            "files": [{"key": "data/1.csv.gz", "size": 1}, {"key": "data/2.csv", "size": 1}]
        });
        let items = manifest_items(&store, "inv", manifest.to_string().as_bytes())
            .await
            .unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0],
            json!({"Bucket": "src", "Key": "a.csv", "Size": "10", "LastModifiedDate": "2024-01-02T03:04:05.000Z"})
        );
        assert_eq!(items[2]["Key"], "c.csv");
    }
}
