//! [`Store`] on an S3 bucket prefix: the AWS twin of [`screener_core::local::DirStore`].
//!
//! Keys are the caller's, relative to the store's prefix; errors name the caller's key, not the
//! prefixed one. Versions for conditional writes are S3 ETags.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use screener_core::ports::{Store, StoreError, WriteCondition};

use crate::sdk_error;

/// Longest validity S3 accepts for a presigned URL (SigV4: 7 days).
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// An S3 bucket prefix as the store.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
}

impl S3Store {
    /// A store on `s3://bucket/prefix`. The prefix may be given with or without slashes around
    /// it (`runs`, `runs/`, `/runs/` are the same); an empty prefix is the bucket's top.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        S3Store {
            client,
            bucket: bucket.into(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        }
    }

    /// A store with its own client from `config`, path-style addressed when `config` points at
    /// a custom endpoint (a loopback server has no per-bucket host names). No network I/O.
    pub fn from_config(config: &SdkConfig, bucket: impl Into<String>, prefix: &str) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(crate::custom_endpoint(config))
            .build();
        Self::new(Client::from_conf(s3_config), bucket, prefix)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Empty, or ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key for a store key. Refuses what [`DirStore`](screener_core::local::DirStore)
    /// refuses (empty keys, absolute keys, `..`), so a key behaves the same on both stores.
    fn object_key(&self, key: &str) -> Result<String, StoreError> {
        let safe =
            !key.is_empty() && !key.starts_with('/') && key.split('/').all(|part| part != "..");
        if !safe {
            return Err(StoreError::Unavailable {
                key: key.to_string(),
                message: "keys must be relative paths without '..'".into(),
            });
        }
        Ok(format!("{}{key}", self.prefix))
    }

    async fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: Option<WriteCondition>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key)?)
            .body(ByteStream::from(body));
        if !content_type.is_empty() {
            request = request.content_type(content_type);
        }
        let conditional = condition.is_some();
        request = match condition {
            None => request,
            Some(WriteCondition::IfAbsent) => request.if_none_match("*"),
            Some(WriteCondition::IfVersion(etag)) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if conditional && refused(&err) => Err(StoreError::PreconditionFailed {
                key: key.to_string(),
            }),
            Err(err) => Err(self.unavailable(key, "PutObject", &err)),
        }
    }

    fn unavailable<E>(
        &self,
        key: &str,
        operation: &str,
        err: &SdkError<E, HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut message = sdk_error::describe(operation, err);
        if sdk_error::code(err) == Some("NoSuchBucket") {
            message.push_str(&format!(" (the bucket {:?} does not exist)", self.bucket));
        }
        StoreError::Unavailable {
            key: key.to_string(),
            message,
        }
    }
}

/// Whether S3 refused a conditional write: 412 PreconditionFailed (the condition did not hold),
/// 409 ConditionalRequestConflict (a concurrent write to the same key won), or 404 NoSuchKey
/// on `If-Match` (the version we hold was deleted).
fn refused<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        sdk_error::code(err),
        Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")
    ) || matches!(sdk_error::status(err), Some(412 | 409))
}

/// Whether S3 said the object is not there (a HEAD has no body, so only its 404 tells).
fn missing<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match sdk_error::code(err) {
        Some("NoSuchKey" | "NotFound") => true,
        Some(_) => false,
        None => sdk_error::status(err) == Some(404),
    }
}

#[async_trait]
impl Store for S3Store {
    fn locate(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.get_versioned(key).await.map(|(bytes, _)| bytes)
    }

    async fn get_versioned(&self, key: &str) -> Result<(Vec<u8>, String), StoreError> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key)?)
            .send()
            .await
            .map_err(|err| {
                if missing(&err) {
                    StoreError::NotFound {
                        key: key.to_string(),
                    }
                } else {
                    self.unavailable(key, "GetObject", &err)
                }
            })?;
        let etag = output.e_tag().map(str::to_string);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| StoreError::Unavailable {
                key: key.to_string(),
                message: format!("GetObject failed while reading the body: {err}"),
            })?
            .into_bytes()
            .to_vec();
        let etag = etag.ok_or_else(|| StoreError::Unavailable {
            key: key.to_string(),
            message: "GetObject answered without an ETag; conditional writes need one".into(),
        })?;
        Ok((bytes, etag))
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.put_object(key, body, content_type, None).await
    }

    async fn put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<(), StoreError> {
        self.put_object(key, body, content_type, Some(condition))
            .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{prefix}", self.prefix))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.unavailable(prefix, "ListObjectsV2", &err))?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    keys.push(key.to_string());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// A presigned GET URL. Like the local store, a missing object is
    /// [`StoreError::NotFound`] rather than a link that answers 404. With temporary credentials
    /// (a Lambda role) the link also stops working when those credentials expire.
    async fn download_link(&self, key: &str, valid_for: Duration) -> Result<String, StoreError> {
        let object_key = self.object_key(key)?;
        if valid_for > MAX_PRESIGN || valid_for.is_zero() {
            return Err(StoreError::Unavailable {
                key: key.to_string(),
                message: format!(
                    "a download link must be valid for between 1 second and 7 days, not {valid_for:?}"
                ),
            });
        }
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|err| {
                if missing(&err) {
                    StoreError::NotFound {
                        key: key.to_string(),
                    }
                } else {
                    self.unavailable(key, "HeadObject", &err)
                }
            })?;
        let presigning =
            PresigningConfig::expires_in(valid_for).map_err(|err| StoreError::Unavailable {
                key: key.to_string(),
                message: format!("could not presign: {err}"),
            })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .presigned(presigning)
            .await
            .map_err(|err| self.unavailable(key, "presigning GetObject", &err))?;
        Ok(request.uri().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(prefix: &str) -> S3Store {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        S3Store::new(Client::from_conf(config), "bucket", prefix)
    }

    #[test]
    fn the_prefix_is_normalised_to_end_with_one_slash() {
        assert_eq!(store("runs").prefix(), "runs/");
        assert_eq!(store("/runs/dev/").prefix(), "runs/dev/");
        assert_eq!(store("").prefix(), "");
        assert_eq!(store("/").prefix(), "");
    }

    #[test]
    fn keys_are_joined_under_the_prefix_and_located_as_s3_urls() {
        let store = store("runs");
        assert_eq!(store.object_key("a/b.csv").unwrap(), "runs/a/b.csv");
        assert_eq!(store.locate("a/b.csv"), "s3://bucket/runs/a/b.csv");
    }

    #[test]
    fn keys_the_local_store_refuses_are_refused_here_too() {
        let store = store("runs");
        for key in ["", "/etc/passwd", "../x", "a/../../b"] {
            assert!(
                matches!(store.object_key(key), Err(StoreError::Unavailable { .. })),
                "{key:?} was accepted"
            );
        }
    }
}
