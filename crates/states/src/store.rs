//! Object storage for Distributed Map: the port its `ItemReader` reads from
//! and its `ResultWriter` writes to, and two local adapters.
//!
//! In AWS these are S3 calls (`s3:getObject`, `s3:listObjectsV2`,
//! `s3:putObject`). The interpreter depends on no AWS crate, so it takes an
//! [`ObjectStore`] from its caller ([`crate::ExecutionOptions::object_store`]):
//! [`DirectoryStore`] stands in for S3 with a directory (`s3://BUCKET/KEY` is
//! `ROOT/BUCKET/KEY`), [`MemoryStore`] keeps objects in memory for tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// What a listing says about one object, as `ListObjectsV2` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    /// S3's ETag for a single-part upload: the MD5 of the body in hex, quoted.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("The specified bucket does not exist: {bucket}")]
    NoSuchBucket { bucket: String },
    #[error("The specified key does not exist: s3://{bucket}/{key}")]
    NoSuchKey { bucket: String, key: String },
    /// A bucket or key that would leave the store's root (`..`, an absolute path).
    #[error("not a valid object name: s3://{bucket}/{key}")]
    InvalidName { bucket: String, key: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reads, writes and lists objects by bucket and key.
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError>;
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
    /// Every object whose key starts with `prefix`, sorted by key (S3 lists in
    /// UTF-8 binary order, which is `String`'s).
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectSummary>, StoreError>;
}

/// The quoted MD5 hex digest S3 reports as the ETag of a single-part object.
pub fn etag(body: &[u8]) -> String {
    use md5::Digest;
    format!("\"{}\"", hex::encode(md5::Md5::digest(body)))
}

/// S3 in a directory: `s3://BUCKET/KEY` is the file `ROOT/BUCKET/KEY`, and a
/// bucket exists when its directory does.
#[derive(Debug, Clone)]
pub struct DirectoryStore {
    root: PathBuf,
}

impl DirectoryStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectoryStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file for an object; names with `..`, empty or absolute parts are
    /// refused so that no key reaches outside the root.
    fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        let invalid = || StoreError::InvalidName {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
        let plain = |part: &str| !part.is_empty() && part != "." && part != "..";
        if !plain(bucket) || bucket.contains(['/', '\\']) {
            return Err(invalid());
        }
        let mut path = self.root.join(bucket);
        for part in key.split('/') {
            if !plain(part) || part.contains('\\') {
                return Err(invalid());
            }
            path.push(part);
        }
        Ok(path)
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, StoreError> {
        if bucket.is_empty() || bucket.contains(['/', '\\']) || bucket == ".." || bucket == "." {
            return Err(StoreError::InvalidName {
                bucket: bucket.to_owned(),
                key: String::new(),
            });
        }
        let dir = self.root.join(bucket);
        if !dir.is_dir() {
            return Err(StoreError::NoSuchBucket {
                bucket: bucket.to_owned(),
            });
        }
        Ok(dir)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Every file under `dir`, as keys relative to `bucket_dir` with `/` separators.
fn walk(bucket_dir: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io(&path))?.is_dir() {
            walk(bucket_dir, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(bucket_dir) {
            let key: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((key.join("/"), path));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl ObjectStore for DirectoryStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(bucket, key)?;
        match tokio::fs::read(&path).await {
            Ok(body) => Ok(body),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.bucket_dir(bucket)?;
                Err(StoreError::NoSuchKey {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path(bucket, key)?;
        // S3 has no directories to create first; a key names the whole path.
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io(parent))?;
        }
        tokio::fs::write(&path, body).await.map_err(io(&path))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectSummary>, StoreError> {
        let dir = self.bucket_dir(bucket)?;
        let mut files = Vec::new();
        walk(&dir, &dir, &mut files)?;
        let mut out = Vec::new();
        for (key, path) in files.into_iter().filter(|(k, _)| k.starts_with(prefix)) {
            let body = tokio::fs::read(&path).await.map_err(io(&path))?;
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(io(&path))?;
            out.push(ObjectSummary {
                key,
                size: body.len() as u64,
                etag: etag(&body),
                last_modified: modified.into(),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// Objects in memory, for tests: buckets exist once something is put in them
/// or [`MemoryStore::create_bucket`] makes them.
#[derive(Debug, Default)]
pub struct MemoryStore {
    buckets: Mutex<Buckets>,
}

/// Bucket name -> key -> (body, last modified).
type Buckets = BTreeMap<String, BTreeMap<String, (Vec<u8>, DateTime<Utc>)>>;

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.lock().entry(bucket.to_owned()).or_default();
    }

    /// Put an object without awaiting (for setting up tests).
    pub fn insert(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.lock()
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), (body.into(), Utc::now()));
    }

    /// Every key in a bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl ObjectStore for MemoryStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
        let buckets = self.lock();
        let objects = buckets
            .get(bucket)
            .ok_or_else(|| StoreError::NoSuchBucket {
                bucket: bucket.to_owned(),
            })?;
        objects
            .get(key)
            .map(|(body, _)| body.clone())
            .ok_or_else(|| StoreError::NoSuchKey {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.insert(bucket, key, body);
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectSummary>, StoreError> {
        let buckets = self.lock();
        let objects = buckets
            .get(bucket)
            .ok_or_else(|| StoreError::NoSuchBucket {
                bucket: bucket.to_owned(),
            })?;
        Ok(objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(key, (body, modified))| ObjectSummary {
                key: key.clone(),
                size: body.len() as u64,
                etag: etag(body),
                last_modified: *modified,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_store_maps_bucket_and_key_to_a_path_below_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirectoryStore::new(dir.path());
        store
            .put("bucket", "a/b/c.json", b"[1]".to_vec())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("bucket/a/b/c.json")).unwrap(),
            b"[1]"
        );
        assert_eq!(store.get("bucket", "a/b/c.json").await.unwrap(), b"[1]");
        store.put("bucket", "z.txt", b"zz".to_vec()).await.unwrap();
        let listed = store.list("bucket", "").await.unwrap();
        let keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/b/c.json", "z.txt"]);
        assert_eq!(listed[1].size, 2);
        assert_eq!(listed[1].etag, etag(b"zz"));
        assert_eq!(store.list("bucket", "a/").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_missing_bucket_or_key_and_a_key_leaving_the_root_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirectoryStore::new(dir.path());
        assert!(matches!(
            store.get("nope", "k").await,
            Err(StoreError::NoSuchBucket { .. })
        ));
        std::fs::create_dir(dir.path().join("b")).unwrap();
        assert!(matches!(
            store.get("b", "k").await,
            Err(StoreError::NoSuchKey { .. })
        ));
        assert!(matches!(
            store.put("b", "../escape", Vec::new()).await,
            Err(StoreError::InvalidName { .. })
        ));
        assert!(matches!(
            store.get("..", "k").await,
            Err(StoreError::InvalidName { .. })
        ));
    }

    #[test]
    fn an_etag_is_the_quoted_md5_of_the_body() {
        assert_eq!(etag(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    }

    #[tokio::test]
    async fn a_memory_store_lists_by_prefix_in_key_order() {
        let store = MemoryStore::new();
        store.insert("b", "x/2", "two");
        store.insert("b", "x/1", "one");
        store.insert("b", "y", "y");
        let keys: Vec<String> = store
            .list("b", "x/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(keys, ["x/1", "x/2"]);
        assert!(matches!(
            store.get("c", "x").await,
            Err(StoreError::NoSuchBucket { .. })
        ));
    }
}
