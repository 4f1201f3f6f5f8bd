//! The whole workflow on the AWS adapters, against a loopback AWS API (moto): the S3 store
//! publishes exactly what the local directory store does, in-process and through the real
//! `screener run --store s3://...` binary; the interpreter's Distributed Map reads and writes
//! S3 through the SDK (`screener states run --s3`, `screener backtest --sweep --store s3://`).
//!
//! Needs `SCREENER_TEST_AWS_ENDPOINT` (`scripts/test` starts moto and sets it; by hand:
//! `bash scripts/moto-server.sh start && SCREENER_TEST_AWS_ENDPOINT=$(cat target/moto-endpoint)
//! cargo test -p screener-cli --test integration aws`). Without it these tests say so and pass
//! without checking anything.
//!
//! Credentials and endpoint are set on the SDK configuration (in-process) or in the child's
//! environment (the binary), never in this process's environment, which the other tests share.

use crate::support::{run_succeeding, unique};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Once};
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};
use chrono::NaiveDate;
use screener_aws::S3Store;
use screener_core::Deps;
use screener_core::config::Settings;
use screener_core::local::{DirStore, EnvSecrets, MarketBars, MemoryMetrics, MemoryNotifier};
use screener_core::ports::Store;
use screener_core::synthetic::SyntheticMarket;
use screener_core::validation::ValidationRules;
use screener_core::workflow::{Manifest, keys};
use serde_json::Value;

const ENDPOINT_VARIABLE: &str = "SCREENER_TEST_AWS_ENDPOINT";
const SEED: u64 = 42;
const SYMBOLS: usize = 120;
const BATCH: usize = 25;

fn run_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 13).unwrap()
}

/// The loopback endpoint, or `None` (said once) when these tests are skipped.
fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_string()),
        _ => {
            static SAY: Once = Once::new();
            SAY.call_once(|| {
                // Straight to stderr: the harness captures print! of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "workflow-on-AWS tests skipped: {ENDPOINT_VARIABLE} is not set \
                     (scripts/test sets it; or bash scripts/moto-server.sh start && \
                     export {ENDPOINT_VARIABLE}=$(cat target/moto-endpoint))"
                );
            });
            None
        }
    }
}

/// The SDK configuration for the loopback server, with fake credentials set on it.
async fn sdk_config(endpoint: &str) -> SdkConfig {
    screener_aws::aws_config(Some(endpoint))
        .await
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "moto",
        )))
        .region(Region::new("us-east-1"))
        .build()
}

async fn create_bucket(config: &SdkConfig) -> String {
    let bucket = unique("screener-e2e");
    S3Store::from_config(config, &bucket, "")
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the test bucket");
    bucket
}

fn deps(store: Arc<dyn Store>) -> Deps {
    let market = Arc::new(SyntheticMarket::new(SEED, SYMBOLS).unwrap());
    Deps {
        store,
        bars: Arc::new(MarketBars(market.clone())),
        market,
        metrics: Arc::new(MemoryMetrics::default()),
        secrets: Arc::new(EnvSecrets::new(BTreeMap::new())),
        notifier: Arc::new(MemoryNotifier::default()),
        settings: Settings {
            batch_size: BATCH,
            lookback_days: 400,
            validation: ValidationRules::default(),
            environment: "test".into(),
            screens_file: None,
        },
    }
}

/// Everything a run left in a store, keyed with its run id replaced by `RUN`. The files that
/// carry timestamps, run ids and durations (the manifest, `latest.json`, `report.html`'s header
/// and step durations) are
/// kept with those parts removed; every other object as its bytes.
async fn contents(store: &dyn Store, run_id: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let keys = store.list("").await.unwrap();
    assert!(!keys.is_empty(), "{} is empty", store.locate(""));
    for key in keys {
        if key.ends_with("/execution.json") {
            // `screener run`'s record for a redrive (history with timestamps), which the
            // in-process runs do not keep; tests/states_cli.rs covers it.
            continue;
        }
        let bytes = store.get(&key).await.unwrap();
        let value = if key == keys::LATEST {
            let mut latest: Value = serde_json::from_slice(&bytes).unwrap();
            let latest = latest.as_object_mut().unwrap();
            latest.remove("run_id");
            latest.remove("published_at");
            Value::Object(latest.clone())
        } else if key.ends_with("/report.html") {
            // Same for the report's header (run id, finish time) and step durations table.
            let html = String::from_utf8(bytes).unwrap();
            let html = without_between(&html, "<p>Run <code>", "</p></header>");
            let html = without_between(&html, "<h3>Step durations</h3>", "<h3>Failed batches");
            Value::String(format!("report: {:?}", hash(html.as_bytes())))
        } else if key.ends_with("/digest.json") {
            // The dashboard's digest names the run and its kept bar files (`chart-bars/.../<id>/`).
            let text = String::from_utf8(bytes).unwrap().replace(run_id, "RUN");
            let mut digest: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(digest["run_id"], "RUN", "{key}");
            digest.as_object_mut().unwrap().remove("run_id");
            digest
        } else if key.ends_with("/manifest.json") {
            // Typed first: the manifest must parse as one.
            let manifest: Manifest = serde_json::from_slice(&bytes).unwrap();
            let mut value = serde_json::to_value(manifest).unwrap();
            let manifest = value.as_object_mut().unwrap();
            for field in ["run_id", "started_at", "finished_at", "durations_ms"] {
                manifest.remove(field);
            }
            value
        } else {
            Value::String(format!("{} bytes: {:?}", bytes.len(), hash(&bytes)))
        };
        // The run id is a folder of runs/ and of chart-bars/date=D/.
        out.insert(key.replace(&format!("/{run_id}/"), "/RUN/"), value);
    }
    out
}

/// `text` without the first span from `start` to the next `end` (both kept as markers); the
/// span must be there, so a change to the report's layout fails loudly here.
fn without_between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let to = from
        + text[from..]
            .find(end)
            .unwrap_or_else(|| panic!("no {end:?}"));
    format!("{}{}", &text[..from], &text[to..])
}

/// A digest, to compare objects without holding both copies in the assertion message.
fn hash(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

/// The published files a person reads, as text, for a readable diff when they differ.
async fn published_text(store: &dyn Store) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for key in store.list(&keys::results_prefix(run_date())).await.unwrap() {
        if key.ends_with(".csv") {
            let bytes = store.get(&key).await.unwrap();
            out.insert(key, String::from_utf8(bytes).unwrap());
        }
    }
    out
}

async fn assert_same_results(s3: &dyn Store, s3_run: &str, dir: &dyn Store, dir_run: &str) {
    // results.csv and every top list, as text first (the diff a person would want to see).
    let (from_s3, from_dir) = (published_text(s3).await, published_text(dir).await);
    assert!(
        from_dir.keys().any(|k| k.ends_with("/results.csv"))
            && from_dir.keys().any(|k| k.contains("/top-")),
        "{:?}",
        from_dir.keys()
    );
    assert_eq!(from_s3, from_dir);
    // Then every object of the run, byte for byte, and the manifests' counts, rejections,
    // repairs, failed batches and screens.
    let (from_s3, from_dir) = (contents(s3, s3_run).await, contents(dir, dir_run).await);
    assert_eq!(
        from_s3.keys().collect::<Vec<_>>(),
        from_dir.keys().collect::<Vec<_>>()
    );
    for (key, value) in &from_dir {
        assert_eq!(&from_s3[key], value, "{key} differs");
    }
}

async fn manifest(store: &dyn Store) -> Manifest {
    let key = keys::results_file(run_date(), "manifest.json");
    serde_json::from_slice(&store.get(&key).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_on_s3_publishes_exactly_what_the_directory_run_publishes() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let config = sdk_config(&endpoint).await;
    let bucket = create_bucket(&config).await;
    let s3 = Arc::new(S3Store::from_config(&config, &bucket, "screener/e2e"));
    let s3_deps = deps(s3.clone());
    run_succeeding(&s3_deps, run_date(), "s3-run").await;

    let dir = tempfile::tempdir().unwrap();
    let dir_deps = deps(Arc::new(DirStore::new(dir.path())));
    run_succeeding(&dir_deps, run_date(), "dir-run").await;

    assert_same_results(&*s3_deps.store, "s3-run", &*dir_deps.store, "dir-run").await;
    let counts = manifest(&*s3_deps.store).await.counts;
    assert_eq!(counts.requested as usize, SYMBOLS);
    assert!(counts.screened > 0 && counts.rejected > 0, "{counts:?}");

    // The objects really are in the bucket, under the prefix and nowhere else.
    let listed = s3
        .client()
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(
        keys.contains(&"screener/e2e/results/latest.json"),
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| k.starts_with("screener/e2e/")),
        "{keys:?}"
    );
    assert_eq!(keys.len(), s3.list("").await.unwrap().len());
}

/// The `screener` binary with the loopback endpoint and fake credentials in its environment,
/// and only those: nothing of this process's SCREENER_* or AWS_* leaks in.
fn screener_on(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_screener"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

async fn output_of(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run the screener binary")
}

/// `screener states run --s3`: a Distributed Map reads its CSV from a bucket on the loopback
/// S3 through the SDK and writes AWS's ResultWriter layout back to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_run_reads_and_writes_a_distributed_maps_objects_in_s3() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let config = sdk_config(&endpoint).await;
    let bucket = create_bucket(&config).await;
    let s3 = S3Store::from_config(&config, &bucket, "");
    s3.put(
        "in/symbols.csv",
        crate::states_cli::SYMBOLS_CSV.into(),
        "text/csv",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sectors.asl.json"),
        crate::states_cli::DEFINITION,
    )
    .unwrap();
    let input = format!(r#"{{"bucket": "{bucket}", "key": "in/symbols.csv"}}"#);
    let mut command = screener_on(&endpoint);
    command.current_dir(dir.path()).args([
        "states",
        "run",
        "sectors.asl.json",
        "--s3",
        "--input",
        &input,
    ]);
    let output = output_of(command).await;
    crate::analytics_cli::assert_exit(&output, 0, "screener states run --s3");
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["ResultWriterDetails"]["Bucket"], bucket.as_str());
    let manifest_key = result["ResultWriterDetails"]["Key"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(&s3.get(manifest_key).await.unwrap()).unwrap();
    assert_eq!(manifest["DestinationBucket"], bucket.as_str());
    let succeeded = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .unwrap();
    let records: Value = serde_json::from_slice(&s3.get(succeeded).await.unwrap()).unwrap();
    let symbols: Vec<String> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let output: Value = serde_json::from_str(r["Output"].as_str().unwrap()).unwrap();
            output["symbol"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(symbols, ["AAPL", "XOM", "JPM"]);

    // A key that is not there fails the Map with S3's own words, not a panic.
    let missing = format!(r#"{{"bucket": "{bucket}", "key": "in/nothing.csv"}}"#);
    let mut command = screener_on(&endpoint);
    command.current_dir(dir.path()).args([
        "states",
        "run",
        "sectors.asl.json",
        "--s3",
        "--input",
        &missing,
    ]);
    let output = output_of(command).await;
    crate::analytics_cli::assert_exit(&output, 1, "screener states run --s3, missing key");
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(failure["Error"], "States.ItemReaderFailed");
    assert!(
        failure["Cause"]
            .as_str()
            .unwrap()
            .contains("in/nothing.csv"),
        "{failure}"
    );
}

/// `screener backtest --sweep --store s3://...`: the backtest workflow's Distributed Map reads
/// the plan's JSONL from S3 and writes its results there through the SDK, and the sweep ranks
/// exactly as the same sweep on a local directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screener_binary_runs_a_sweep_on_s3() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let config = sdk_config(&endpoint).await;
    let bucket = create_bucket(&config).await;
    let dir = tempfile::tempdir().unwrap();
    crate::sweep_cli::market(dir.path(), crate::sweep_cli::SWEEP);

    let sweep = |store: &str| {
        let mut command = screener_on(&endpoint);
        command.current_dir(dir.path()).args([
            "backtest",
            "--sweep",
            "sweep.toml",
            "--bars",
            "bars.csv",
            "--store",
            store,
        ]);
        output_of(command)
    };
    let on_s3 = sweep(&format!("s3://{bucket}/sweeps")).await;
    crate::analytics_cli::assert_exit(&on_s3, 0, "screener backtest --sweep on S3");
    let on_dir = sweep("store").await;
    crate::analytics_cli::assert_exit(&on_dir, 0, "screener backtest --sweep on a directory");
    // The ranking table (stdout without its last line, the report's location).
    let ranking = |output: &std::process::Output| {
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut lines: Vec<&str> = text.lines().collect();
        assert!(lines.pop().unwrap().starts_with("report: "), "{text}");
        lines.join("\n")
    };
    assert_eq!(ranking(&on_s3), ranking(&on_dir));
    assert!(
        String::from_utf8_lossy(&on_s3.stdout)
            .contains(&format!("report: s3://{bucket}/sweeps/backtests/")),
        "{}",
        String::from_utf8_lossy(&on_s3.stdout)
    );

    // Everything is under the store's prefix: the upload, the plan, the Map Run's
    // ResultWriter files and the published sweep.
    let whole = S3Store::from_config(&config, &bucket, "");
    let keys = whole.list("").await.unwrap();
    assert!(keys.iter().all(|k| k.starts_with("sweeps/")), "{keys:?}");
    for wanted in [
        "/items.jsonl",
        "/manifest.json",
        "/SUCCEEDED_0.json",
        "/summary.json",
        "/report.html",
    ] {
        assert!(
            keys.iter()
                .any(|k| k.starts_with("sweeps/backtests/") && k.ends_with(wanted)),
            "no {wanted} in {keys:?}"
        );
    }
    assert!(
        keys.contains(&"sweeps/uploads/bars.csv".to_string()),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screener_binary_runs_the_workflow_on_s3_and_cloudwatch() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let config = sdk_config(&endpoint).await;
    let bucket = create_bucket(&config).await;
    // The metrics' Environment dimension: unique, so the read-back sees only this run's.
    let environment = unique("e2e");

    let mut command = screener_on(&endpoint);
    command
        .args(["run", "--store", &format!("s3://{bucket}/cli")])
        .args(["--date", &run_date().to_string()])
        .args(["--symbols", &SYMBOLS.to_string()])
        .args(["--seed", &SEED.to_string()])
        .args(["--batch-size", &BATCH.to_string()])
        .args(["--name", "cli-run", "--quiet"])
        .env("SCREENER_SECRETS", "ssm")
        .env("SCREENER_METRICS", "cloudwatch")
        .env("SCREENER_ENVIRONMENT", &environment);
    let output = output_of(command).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "screener run failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("Run cli-run for {}", run_date())),
        "{stdout}"
    );

    // What the binary wrote to S3 is what an in-process run on a directory writes.
    let s3 = S3Store::from_config(&config, &bucket, "cli");
    let dir = tempfile::tempdir().unwrap();
    let dir_deps = deps(Arc::new(DirStore::new(dir.path())));
    run_succeeding(&dir_deps, run_date(), "dir-run").await;
    assert_same_results(&s3, "cli-run", &*dir_deps.store, "dir-run").await;

    // The business metrics landed in CloudWatch.
    let screened = manifest(&s3).await.counts.screened;
    assert!(screened > 0);
    assert_eq!(
        metric_sum(&config, "SymbolsScreened", &environment).await,
        Some(f64::from(screened))
    );
}

/// The sum of `metric`'s data points with `Environment=environment` over the last ten minutes.
async fn metric_sum(config: &SdkConfig, metric: &str, environment: &str) -> Option<f64> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = SystemTime::now();
    let statistics = aws_sdk_cloudwatch::Client::new(config)
        .get_metric_statistics()
        .namespace(screener_composition::METRICS_NAMESPACE)
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name(screener_aws::ENVIRONMENT_DIMENSION)
                .value(environment)
                .build(),
        )
        .start_time(DateTime::from(now - std::time::Duration::from_secs(600)))
        .end_time(DateTime::from(now + std::time::Duration::from_secs(600)))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect("GetMetricStatistics");
    let points = statistics.datapoints();
    (!points.is_empty()).then(|| points.iter().filter_map(|p| p.sum()).sum())
}
