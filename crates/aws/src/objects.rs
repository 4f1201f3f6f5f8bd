//! [`ObjectStore`] on S3 through the SDK: what the local ASL interpreter's Distributed Map
//! (`ItemReader`, `ResultWriter`) reads and writes when the run's store is in S3. Unlike
//! [`S3Store`](crate::S3Store) it is not tied to one bucket prefix: the state machine names
//! the bucket and the full key, as it does in AWS.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use screener_states::{ObjectStore, ObjectSummary, StoreError};

use crate::sdk_error;

/// Any bucket the credentials reach, as the interpreter's object store.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(client: Client) -> Self {
        S3Objects { client }
    }

    /// A client from `config`, path-style addressed when `config` points at a custom endpoint
    /// (as [`S3Store::from_config`](crate::S3Store::from_config)). No network I/O.
    pub fn from_config(config: &SdkConfig) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(crate::custom_endpoint(config))
            .build();
        Self::new(Client::from_conf(s3_config))
    }
}

/// An SDK failure as the interpreter's error: S3's own "no such bucket/key" keep their names
/// (the Map's `States.ItemReaderFailed`/`ResultWriterFailed` causes quote them), anything else
/// carries the SDK's description.
fn object_error<E>(
    bucket: &str,
    key: &str,
    operation: &str,
    err: &SdkError<E, HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match sdk_error::code(err) {
        Some("NoSuchBucket") => StoreError::NoSuchBucket {
            bucket: bucket.to_string(),
        },
        Some("NoSuchKey" | "NotFound") => StoreError::NoSuchKey {
            bucket: bucket.to_string(),
            key: key.to_string(),
        },
        _ => StoreError::Io {
            path: format!("s3://{bucket}/{key}").into(),
            source: std::io::Error::other(sdk_error::describe(operation, err)),
        },
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Objects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| object_error(bucket, key, "GetObject", &err))?;
        let body = output.body.collect().await.map_err(|err| StoreError::Io {
            path: format!("s3://{bucket}/{key}").into(),
            source: std::io::Error::other(format!("GetObject body: {err}")),
        })?;
        Ok(body.into_bytes().to_vec())
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| object_error(bucket, key, "PutObject", &err))?;
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectSummary>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| object_error(bucket, prefix, "ListObjectsV2", &err))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let last_modified = object
                    .last_modified()
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
                    .unwrap_or_default();
                out.push(ObjectSummary {
                    key: key.to_string(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    etag: object.e_tag().unwrap_or_default().to_string(),
                    last_modified,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
