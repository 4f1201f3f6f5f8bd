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
//!   list and redrive state machine executions.
//! * [`aws_config`]: the shared SDK configuration, with an optional endpoint override (a
//!   loopback server in tests).
//!
//! Building a client does no network I/O, so a Lambda's init stays short; credentials are
//! resolved on the first call.

mod cloudwatch;
mod s3;
mod sdk_error;
mod sfn;
mod ssm;

pub use cloudwatch::{CloudWatchMetrics, ENVIRONMENT_DIMENSION, MAX_DATA_PER_CALL};
pub use s3::S3Store;
pub use sfn::{Execution, SfnClient, SfnError, StartOutcome};
pub use ssm::SsmSecrets;

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};

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
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
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
}
