//! The screener's AWS adapters: the real implementations of the ports in
//! [`screener_core::ports`], and a small Step Functions client for manual re-runs.
//!
//! * [`S3Store`]: [`Store`](screener_core::ports::Store) on an S3 bucket prefix, with
//!   conditional writes (`If-None-Match: *`, `If-Match: ETag`) and presigned download links.
//! * [`SsmSecrets`]: [`Secrets`](screener_core::ports::Secrets) from SSM Parameter Store
//!   (SecureString, decrypted), read once per container.
//! * [`CloudWatchMetrics`]: [`Metrics`](screener_core::ports::Metrics) as `PutMetricData` calls,
//!   batched, each datum tagged with the `Environment` dimension.
//! * [`SfnClient`]: start (reporting a run that already exists instead of failing), describe,
//!   list and redrive state machine executions; [`SfnRerun`], the bot's
//!   [`Rerun`](screener_core::ports::Rerun) on it.
//! * [`S3Objects`] (feature `object-store`): the ASL interpreter's object store on S3, for the
//!   CLI's Distributed Map reader and writer.
//! * [`aws_config`]: the shared SDK configuration, with an optional endpoint override (a
//!   loopback server in tests).
//!
//! Building a client does no network I/O, so a Lambda's init stays short; credentials are
//! resolved on the first call.

mod cloudwatch;
#[cfg(feature = "object-store")]
mod objects;
mod rerun;
mod s3;
mod sdk_error;
mod sfn;
mod ssm;

pub use cloudwatch::{CloudWatchMetrics, ENVIRONMENT_DIMENSION, MAX_DATA_PER_CALL};
#[cfg(feature = "object-store")]
pub use objects::S3Objects;
pub use rerun::{SfnBacktests, SfnRerun};
pub use s3::S3Store;
pub use sfn::{Execution, SfnClient, SfnError, StartOutcome, execution_arn};
pub use ssm::SsmSecrets;

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The region used when neither the environment nor the profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The SDK configuration every adapter is built from.
///
/// * The endpoint is `endpoint_url` when given, else whatever the SDK finds itself
///   (`AWS_ENDPOINT_URL`, the profile's `endpoint_url`), else the real AWS endpoints. When an
///   endpoint is set, [`S3Store::from_config`] switches to path-style addressing.
/// * The region comes from `AWS_REGION`/`AWS_DEFAULT_REGION` or the profile, else
///   [`DEFAULT_REGION`]. The instance metadata service is never asked (that would stall a
///   laptop with no region configured for seconds).
/// * Credentials come from the default chain (in Lambda: the environment) and are resolved
///   lazily, on the first request.
pub async fn aws_config(endpoint_url: Option<&str>) -> SdkConfig {
    let region = RegionProviderChain::first_try(
        aws_config::environment::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::profile::ProfileFileRegionProvider::new())
    .or_else(Region::new(DEFAULT_REGION));
    // The SDK's HTTPS client (hyper + rustls) with ring as its crypto provider and the
    // system's root certificates; plain HTTP (a loopback endpoint) goes through it too.
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .http_client(https);
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// True when requests go to a custom endpoint (a loopback server, not AWS).
fn custom_endpoint(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_explicit_endpoint_is_used_and_a_region_is_always_set() {
        let config = aws_config(Some("http://127.0.0.1:9")).await;
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:9"));
        assert!(config.region().is_some());
        assert!(custom_endpoint(&config));
    }

    /// The SDK's HTTPS client really speaks TLS with the ring provider (no aws-lc-rs is
    /// linked): against a loopback listener, the first bytes of an `https://` request are a
    /// TLS ClientHello. (No certificate is presented, so the request itself fails.)
    #[tokio::test]
    async fn https_requests_open_with_a_tls_client_hello() {
        use screener_core::ports::Store;
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        );
        let first_bytes = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 6];
            socket.read_exact(&mut head).await.unwrap();
            head
        });
        let config = aws_config(Some(&url)).await;
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .force_path_style(true)
            .build();
        let store = S3Store::new(aws_sdk_s3::Client::from_conf(s3), "bucket", "");
        let request = tokio::spawn(async move { store.get("any").await });
        let head = first_bytes.await.unwrap();
        // Record type 22 (handshake), TLS 1.x, then message type 1 (ClientHello).
        assert_eq!((head[0], head[1], head[5]), (0x16, 0x03, 0x01), "{head:?}");
        assert!(request.await.unwrap().is_err());
    }
}
