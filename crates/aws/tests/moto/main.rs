//! The AWS adapters against a real AWS wire API on loopback: a moto server.
//!
//! ```text
//! bash scripts/moto-server.sh start
//! SCREENER_TEST_AWS_ENDPOINT=$(cat target/moto-endpoint) cargo test -p screener-aws
//! bash scripts/moto-server.sh stop
//! ```
//!
//! Without `SCREENER_TEST_AWS_ENDPOINT` every test here passes without doing anything and the
//! binary says, once, that it skipped them. Each test uses its own bucket, parameter,
//! namespace or state machine, so they run in parallel and against a long-lived server.

mod cloudwatch;
mod s3;
mod sfn;
mod ssm;

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};

pub const ENDPOINT_VARIABLE: &str = "SCREENER_TEST_AWS_ENDPOINT";

/// The SDK configuration for the loopback server, or `None` (after saying so) when the tests
/// are to be skipped. Credentials and region are set on the configuration itself, not through
/// the process environment, which tests running in parallel would race on.
pub async fn config() -> Option<SdkConfig> {
    let endpoint = match std::env::var(ENDPOINT_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_string(),
        _ => {
            static SAY: Once = Once::new();
            SAY.call_once(|| {
                // Straight to stderr: cargo test captures print! and eprint! of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "AWS adapter tests skipped: {ENDPOINT_VARIABLE} is not set. To run them: \
                     bash scripts/moto-server.sh start && \
                     {ENDPOINT_VARIABLE}=$(cat target/moto-endpoint) cargo test -p screener-aws"
                );
            });
            return None;
        }
    };
    let config = screener_aws::aws_config(Some(&endpoint)).await;
    Some(
        config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "moto",
            )))
            .region(Region::new("us-east-1"))
            .build(),
    )
}

/// A name no other test (in this run or an earlier one against the same server) uses:
/// lowercase letters, digits and dashes, short enough for a bucket name.
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        % 1_000_000_000_000;
    format!(
        "{label}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
