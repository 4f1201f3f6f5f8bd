//! `S3Store` against moto's S3: the same behaviour `DirStore`'s tests pin, plus what only S3
//! has (pagination, presigned links, ETags).

use std::time::Duration;

use aws_sdk_s3::Client;
use screener_aws::S3Store;
use screener_core::ports::{Store, StoreError, WriteCondition};

/// A store on a fresh bucket under `prefix`, or `None` when the tests are skipped.
async fn store(prefix: &str) -> Option<S3Store> {
    let config = crate::config().await?;
    let bucket = crate::unique("screener");
    let store = S3Store::from_config(&config, &bucket, prefix);
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the test bucket");
    Some(store)
}

async fn raw_get(client: &Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let output = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(output.body.collect().await.ok()?.into_bytes().to_vec())
}

#[tokio::test]
async fn objects_are_stored_under_the_prefix_and_listed_without_it() {
    let Some(store) = store("runs/dev").await else {
        return;
    };
    store
        .put("a/b/1.csv", b"one".to_vec(), "text/csv")
        .await
        .unwrap();
    store
        .put("a/c.csv", b"two".to_vec(), "text/csv")
        .await
        .unwrap();
    store
        .put("b/d.csv", b"three".to_vec(), "text/csv")
        .await
        .unwrap();
    // Outside the store's prefix, though it shares the caller's prefix "a/".
    store
        .client()
        .put_object()
        .bucket(store.bucket())
        .key("a/outside.csv")
        .body(b"no".to_vec().into())
        .send()
        .await
        .unwrap();

    assert_eq!(store.get("a/b/1.csv").await.unwrap(), b"one");
    assert_eq!(
        raw_get(store.client(), store.bucket(), "runs/dev/a/b/1.csv").await,
        Some(b"one".to_vec()),
        "the object should live under the prefix"
    );
    let head = store
        .client()
        .head_object()
        .bucket(store.bucket())
        .key("runs/dev/a/c.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/csv"));
    assert_eq!(
        store.list("a/").await.unwrap(),
        vec!["a/b/1.csv", "a/c.csv"]
    );
    assert_eq!(store.list("").await.unwrap().len(), 3);
    assert_eq!(store.list("zzz/").await.unwrap(), Vec::<String>::new());
    assert_eq!(
        store.locate("a/c.csv"),
        format!("s3://{}/runs/dev/a/c.csv", store.bucket())
    );
}

#[tokio::test]
async fn list_follows_continuation_tokens_past_the_first_page_of_1000() {
    let Some(store) = store("bars").await else {
        return;
    };
    let total = 1_050;
    let mut puts = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < total || !puts.is_empty() {
        while next < total && puts.len() < 16 {
            let store = store.clone();
            let key = format!("batch/{next:05}.csv");
            puts.spawn(async move { store.put(&key, vec![b'x'], "text/csv").await });
            next += 1;
        }
        puts.join_next().await.unwrap().unwrap().unwrap();
    }
    let keys = store.list("batch/").await.unwrap();
    assert_eq!(keys.len(), total, "S3 answers at most 1000 keys per page");
    assert_eq!(keys.first().map(String::as_str), Some("batch/00000.csv"));
    assert_eq!(keys.last().map(String::as_str), Some("batch/01049.csv"));
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys must be sorted");
}

#[tokio::test]
async fn a_missing_key_is_a_typed_not_found_naming_the_callers_key() {
    let Some(store) = store("runs").await else {
        return;
    };
    for result in [
        store.get("results/latest.json").await.map(|_| ()),
        store.get_versioned("results/latest.json").await.map(|_| ()),
        store
            .download_link("results/latest.json", Duration::from_secs(60))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(&result, Err(StoreError::NotFound { key }) if key == "results/latest.json"),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn conditional_writes_refuse_to_overwrite_a_changed_object() {
    let Some(store) = store("locks").await else {
        return;
    };
    store
        .put_if("k", b"v1".to_vec(), "", WriteCondition::IfAbsent)
        .await
        .unwrap();
    assert!(matches!(
        store
            .put_if("k", b"x".to_vec(), "", WriteCondition::IfAbsent)
            .await,
        Err(StoreError::PreconditionFailed { key }) if key == "k"
    ));
    let (bytes, version) = store.get_versioned("k").await.unwrap();
    assert_eq!(bytes, b"v1");
    store
        .put_if(
            "k",
            b"v2".to_vec(),
            "",
            WriteCondition::IfVersion(version.clone()),
        )
        .await
        .unwrap();
    // The version read before v2 no longer matches.
    assert!(matches!(
        store
            .put_if(
                "k",
                b"v3".to_vec(),
                "",
                WriteCondition::IfVersion(version.clone())
            )
            .await,
        Err(StoreError::PreconditionFailed { .. })
    ));
    assert_eq!(store.get("k").await.unwrap(), b"v2");
    // A version of an object that is gone matches nothing, as in the local store.
    assert!(matches!(
        store
            .put_if(
                "never-written",
                b"v".to_vec(),
                "",
                WriteCondition::IfVersion(version)
            )
            .await,
        Err(StoreError::PreconditionFailed { .. })
    ));
    assert!(matches!(
        store.get("never-written").await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_download_link_serves_the_object_over_plain_http() {
    let Some(store) = store("published").await else {
        return;
    };
    let body = b"symbol,score\nAAPL,0.9\n".to_vec();
    store
        .put("2026-11-23/results.csv", body.clone(), "text/csv")
        .await
        .unwrap();
    let link = store
        .download_link("2026-11-23/results.csv", Duration::from_secs(600))
        .await
        .unwrap();
    assert!(link.contains("X-Amz-Expires=600"), "{link}");
    assert!(link.contains("X-Amz-Signature="), "{link}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::get(&link).await.unwrap();
    assert_eq!(response.status(), 200, "{link}");
    assert_eq!(response.bytes().await.unwrap().to_vec(), body);
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable_with_a_message_that_names_it() {
    let Some(config) = crate::config().await else {
        return;
    };
    let bucket = crate::unique("screener-absent");
    let store = S3Store::from_config(&config, &bucket, "runs");
    let err = store.get("k").await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(message.contains("GetObject failed"), "{message}");
    assert!(message.contains("NoSuchBucket"), "{message}");
    assert!(message.contains(&bucket), "{message}");
    assert!(
        !message.contains("ServiceError {"),
        "a raw SDK Debug: {message}"
    );
}
