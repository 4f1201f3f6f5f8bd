//! `lambda-bench`: cold start, peak memory and deployment size of every function binary.
//!
//! ```text
//! cargo build --release -p fetch-universe -p fetch-bars -p validate -p screen -p publish -p bot \
//!     -p web -p backtest-plan -p backtest-shard -p backtest-combine
//! cargo run --release -p screener-lambda-harness -- --bin-dir target/release
//! cargo run --release -p screener-lambda-harness -- --bin-dir target/release --aws-endpoint http://127.0.0.1:PORT
//! ```
//!
//! Each function binary (the five steps, the Telegram bot, the dashboard and the three backtest
//! functions) is started `--runs` times as a fresh process (a cold start every time) behind a
//! loopback Lambda Runtime API and given its `events/` file; the bot gets `bot-apigw.json` and
//! answers from what the steps published; the backtest functions run on a 30-symbol bars file
//! put at `uploads/bars.csv`.
//! Measured per start:
//!
//! * init: from spawning the process to its first `GET .../invocation/next`;
//! * first response: from spawning the process to its `POST .../response`;
//! * peak RSS: the process's `VmHWM` right after it answered.
//!
//! The table shows medians (and the slowest start). Sizes are the binary as built (the
//! release profile strips it) and a zip holding it as `bootstrap`, as `cargo lambda build
//! --output-format zip` packs it.
//!
//! Without `--aws-endpoint` the store is a local directory and metrics go to the log. With it
//! (a moto server, `scripts/moto-server.sh`), the functions run as deployed: `SCREENER_STORE`
//! is an `s3://` bucket there, metrics go to CloudWatch and secrets come from SSM, so init
//! includes loading the AWS SDK configuration. The first response then includes moto's
//! latency, which is slower than S3 from inside a region.
//!
//! A benchmark, not a test: it prints numbers and checks only that every start answered.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use screener_lambda_harness::function::{
    BACKTEST_STEPS, BIN_DIR_VARIABLE, BOT, FUNCTIONS, FunctionProcess, WEB, binary,
    bot_environment, event_file,
};
use screener_lambda_harness::runtime_api::Outcome;
use serde_json::Value;

const USAGE: &str = "usage: lambda-bench [--bin-dir DIR] [--runs N] [--events DIR] [--aws-endpoint URL] [--only STEP]...";

struct Options {
    bin_dir: PathBuf,
    runs: usize,
    events: PathBuf,
    aws_endpoint: Option<String>,
    only: Vec<String>,
}

fn options() -> anyhow::Result<Options> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let default_bin_dir = std::env::var_os(BIN_DIR_VARIABLE)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("target"))
                .join("release")
        });
    let mut options = Options {
        bin_dir: default_bin_dir,
        runs: 20,
        events: workspace.join("events"),
        aws_endpoint: None,
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--bin-dir" => options.bin_dir = PathBuf::from(value()?),
            "--runs" => options.runs = value()?.parse().context("--runs")?,
            "--events" => options.events = PathBuf::from(value()?),
            "--aws-endpoint" => options.aws_endpoint = Some(value()?),
            "--only" => options.only.push(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    ensure!(options.runs > 0, "--runs must be at least 1");
    Ok(options)
}

/// One start of one function.
struct Sample {
    init: Duration,
    first_response: Duration,
    peak_rss_kib: u64,
}

struct Row {
    function: String,
    samples: Vec<Sample>,
    binary_bytes: u64,
    zipped_bytes: u64,
}

/// The bars file the backtest functions' events name (`events/backtest-plan.json`), as the
/// Lambda binary tests write it.
const BARS_KEY: &str = "uploads/bars.csv";
const BARS_SYMBOLS: usize = 30;
const BARS_DAYS: usize = 500;

/// Every function binary: the daily workflow's, the bot, the dashboard, then the backtest
/// workflow's, each group in the order its `events/` files chain.
fn all_functions() -> Vec<&'static str> {
    FUNCTIONS
        .iter()
        .chain(BACKTEST_STEPS.iter())
        .copied()
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let store_dir = tempfile::tempdir()?;
    let everything = all_functions();
    // Every function's environment: the same except the bot's secrets.
    let env: BTreeMap<&str, BTreeMap<String, String>> = match &options.aws_endpoint {
        None => {
            let env = local_env(store_dir.path());
            std::fs::create_dir_all(store_dir.path().join("uploads"))?;
            screener_test_support::bars::write_bars_csv(
                &store_dir.path().join(BARS_KEY),
                BARS_SYMBOLS,
                BARS_DAYS,
            );
            everything
                .iter()
                .copied()
                .map(|f| {
                    let mut env = env.clone();
                    if f == BOT || f == WEB {
                        env.extend(bot_environment());
                    }
                    (f, env)
                })
                .collect()
        }
        Some(endpoint) => {
            let env = aws_env(endpoint).await?;
            everything.iter().map(|f| (*f, env.clone())).collect()
        }
    };
    let store = env[BOT]["SCREENER_STORE"].clone();
    let mut functions: Vec<&str> = everything.clone();
    if !options.only.is_empty() {
        functions.retain(|s| options.only.iter().any(|o| o == s));
    }
    let mut binaries = BTreeMap::new();
    for &function in &everything {
        let path = binary(&options.bin_dir, function).with_context(|| {
            format!(
                "no {function} binary in {}; build them first: cargo build --release -p {}",
                options.bin_dir.display(),
                everything.join(" -p ")
            )
        })?;
        binaries.insert(function, path);
    }

    // One pass through the chain leaves in the store what every event reads.
    eprintln!(
        "lambda-bench: {} (store: {})",
        options.bin_dir.display(),
        store
    );
    for &function in &everything {
        let event = event(&options.events, function)?;
        start_once(&binaries[function], function, &env[function], event).await?;
    }

    let mut rows = Vec::new();
    for function in functions {
        let event = event(&options.events, function)?;
        let mut samples = Vec::new();
        for _ in 0..options.runs {
            let binary = &binaries[function];
            samples.push(start_once(binary, function, &env[function], event.clone()).await?);
        }
        let bytes = std::fs::read(&binaries[function])?;
        rows.push(Row {
            function: function.to_string(),
            samples,
            binary_bytes: bytes.len() as u64,
            zipped_bytes: zipped_size(&bytes)?,
        });
        eprint!(".");
        let _ = std::io::stderr().flush();
    }
    eprintln!();
    print_table(&rows, &options, &store);
    Ok(())
}

fn event(dir: &Path, function: &str) -> anyhow::Result<Value> {
    let path = dir.join(event_file(function));
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

async fn start_once(
    binary: &Path,
    function: &str,
    env: &BTreeMap<String, String>,
    event: Value,
) -> anyhow::Result<Sample> {
    let mut process = FunctionProcess::start(binary, &format!("screener-{function}"), env).await?;
    let completion = process.invoke(event, Duration::from_secs(120)).await?;
    // A step answers with its output; the bot and the dashboard with an HTTP response that must
    // be a 200.
    let answered = match &completion.outcome {
        Outcome::Response(response) if function == BOT || function == WEB => {
            response["statusCode"] == 200
        }
        Outcome::Response(_) => true,
        _ => false,
    };
    if !answered {
        bail!(
            "{function} did not answer its event: {:?}\n{}",
            completion.outcome,
            process.output()
        );
    }
    let sample = Sample {
        init: process.init_duration().context("no next request")?,
        first_response: process.since_start(completion.at),
        peak_rss_kib: process.peak_rss_kib().unwrap_or(0),
    };
    process.stop().await;
    Ok(sample)
}

fn base_env() -> BTreeMap<String, String> {
    [
        ("SCREENER_BATCH_SIZE", "25"),
        ("SCREENER_ENVIRONMENT", "bench"),
        ("RUST_LOG", "info"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn local_env(store: &Path) -> BTreeMap<String, String> {
    let mut env = base_env();
    env.insert("SCREENER_STORE".into(), store.display().to_string());
    env.insert("SCREENER_METRICS".into(), "log".into());
    env.insert("SCREENER_SECRETS".into(), "env".into());
    env
}

/// The deployed configuration (S3, CloudWatch, SSM: the Lambda defaults) on a moto server.
async fn aws_env(endpoint: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let bucket = format!("lambda-bench-{}", std::process::id());
    let mut env = base_env();
    for (name, value) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
    ] {
        env.insert(name.into(), value.into());
    }
    env.insert("SCREENER_STORE".into(), format!("s3://{bucket}/screener"));
    // Not set: SCREENER_METRICS and SCREENER_SECRETS, so the Lambda defaults apply.
    let config = screener_aws::aws_config(Some(endpoint)).await;
    let config = config
        .to_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "bench"),
        ))
        .build();
    screener_aws::S3Store::from_config(&config, &bucket, "")
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .with_context(|| format!("creating bucket {bucket} on {endpoint}"))?;
    // The backtest functions' bars file.
    screener_aws::S3Store::from_config(&config, &bucket, "")
        .client()
        .put_object()
        .bucket(&bucket)
        .key(format!("screener/{BARS_KEY}"))
        .body(aws_sdk_s3::primitives::ByteStream::from(
            screener_test_support::bars::bars_csv(BARS_SYMBOLS, BARS_DAYS).into_bytes(),
        ))
        .send()
        .await
        .with_context(|| format!("uploading {BARS_KEY} to {bucket}"))?;
    // The bot's secrets as SSM parameters, under the names it reads by default.
    let ssm = aws_sdk_ssm::Client::new(&config);
    for (variable, value) in bot_environment() {
        let name = match variable.as_str() {
            "TELEGRAM_SECRET_TOKEN" => "/screener/telegram/secret_token",
            "TELEGRAM_ALLOWED_CHAT_IDS" => "/screener/telegram/allowed_chat_ids",
            "TELEGRAM_BOT_TOKEN" => "/screener/telegram/bot_token",
            "SCREENER_DASHBOARD_KEY" => "/screener/telegram/dashboard_key",
            "TELEGRAM_API_URL" => {
                env.insert(variable, value);
                continue;
            }
            other => bail!("no SSM parameter for {other}"),
        };
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .with_context(|| format!("putting the SSM parameter {name}"))?;
    }
    Ok(env)
}

/// The size of a deployment zip holding `binary` as `bootstrap`: the deflated body (level 6,
/// as SAM packs it) and the zip's headers for one file (local header, central directory entry,
/// end record).
fn zipped_size(binary: &[u8]) -> anyhow::Result<u64> {
    const NAME: usize = "bootstrap".len();
    const HEADERS: usize = (30 + NAME) + (46 + NAME) + 22;
    let body = miniz_oxide::deflate::compress_to_vec(binary, 6);
    Ok((body.len() + HEADERS) as u64)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_table(rows: &[Row], options: &Options, store: &str) {
    println!(
        "{} starts per function; store {}; binaries from {}",
        options.runs,
        store,
        options.bin_dir.display()
    );
    println!();
    println!(
        "| function | init ms (median / max) | first response ms (median / max) | peak RSS MiB | binary MiB | zipped MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        let init: Vec<f64> = row.samples.iter().map(|s| ms(s.init)).collect();
        let first: Vec<f64> = row.samples.iter().map(|s| ms(s.first_response)).collect();
        let rss = row
            .samples
            .iter()
            .map(|s| s.peak_rss_kib)
            .max()
            .unwrap_or(0);
        println!(
            "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} | {:.1} | {:.2} |",
            row.function,
            median(init.clone()),
            init.iter().cloned().fold(0.0, f64::max),
            median(first.clone()),
            first.iter().cloned().fold(0.0, f64::max),
            rss as f64 / 1024.0,
            mib(row.binary_bytes),
            mib(row.zipped_bytes),
        );
    }
}
