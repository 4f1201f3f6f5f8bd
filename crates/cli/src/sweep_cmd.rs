//! `screener backtest --sweep FILE`: the backtest workflow (`statemachine/backtest.asl.json`)
//! run locally by the project's ASL interpreter on the local store: the plan, a Distributed
//! Map whose children run the shard concurrently (each shard's engine uses every core), and
//! combine; progress on stderr; the ranking table and the report's path at the end.
//! The Distributed Map's `s3://BUCKET/KEY` reader and writer are mapped onto the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use async_trait::async_trait;
use screener_backtest::sweep::{SweepSummary, ranking_table};
use screener_core::Deps;
use screener_core::backtest::{CombineOutput, SweepRequest};
use screener_core::config::Config;
use screener_core::ports::{Store, StoreError as PortError};
use screener_states::{
    ExecutionOptions, ExecutionStatus, ObjectStore, ObjectSummary, StateMachine,
    StoreError as ObjectError, TaskCall, TaskFailure, TaskInvoker,
};
use serde_json::Value;

use crate::DataError;
use crate::runner::load_definition;
use crate::steps::LocalInvoker;

/// The backtest workflow, built into the binary so that `screener backtest --sweep` works
/// from anywhere.
pub const BACKTEST_ASL: &str = include_str!("../../../statemachine/backtest.asl.json");

/// Reads a sweep file (TOML, `events/backtest-sweep.toml`).
pub fn read_sweep(path: &Path) -> anyhow::Result<SweepRequest> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the sweep file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| DataError(anyhow::anyhow!("{}: {e}", path.display())).into())
}

/// Uploads a local bars file to `uploads/<name>` in the store; returns the key.
pub async fn upload_bars(store: &dyn Store, file: &Path) -> anyhow::Result<String> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .context("the bars file has no name")?;
    let key = format!("uploads/{name}");
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    store
        .put(&key, body, "application/octet-stream")
        .await
        .with_context(|| format!("uploading {} to {}", file.display(), store.locate(&key)))?;
    Ok(key)
}

/// `screener backtest --sweep FILE [--bars FILE] [--store DIR]`.
pub async fn run_sweep(
    sweep: &Path,
    bars: Option<&Path>,
    store: Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut request = read_sweep(sweep)?;
    let config = crate::config_with(&[("SCREENER_STORE", store)])?;
    let deps = screener_composition::build_deps(&config).await?;
    if request.max_concurrency == 0 {
        // Locally: one shard per core (each engine pass also spreads over the cores).
        request.max_concurrency = std::thread::available_parallelism().map_or(1, |n| n.get());
    }
    // A request that cannot be planned is refused before anything runs.
    let planned = request
        .plan("check")
        .map_err(|e| DataError(anyhow::anyhow!("{}: {e}", sweep.display())))?;
    if let Some(bars) = bars {
        request.bars = upload_bars(deps.store.as_ref(), bars).await?;
    }
    let name = request.name.clone().unwrap_or_else(|| "sweep".into());
    let execution_name = format!(
        "{}-{}",
        screener_backtest_plan_id(&name),
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ")
    );
    eprintln!(
        "sweep {execution_name}: {} variants x {} periods = {} items, {} per batch, {} at a time, on {}",
        planned.variants.len(),
        planned.periods.len(),
        planned.items.len(),
        request.items_per_batch,
        request.max_concurrency,
        deps.store.locate(&request.bars)
    );
    let progress = Arc::new(SweepProgress {
        started: Instant::now(),
        batches: planned.items.len().div_ceil(request.items_per_batch),
        done: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        timing: Mutex::new(Timing::default()),
    });
    let invoker = Arc::new(ProgressInvoker {
        inner: LocalInvoker { deps: deps.clone() },
        progress: progress.clone(),
    });
    let execution =
        run_backtest_workflow(&config, &deps, &request, &execution_name, invoker).await?;
    if execution.status != ExecutionStatus::Succeeded {
        eprintln!(
            "sweep FAILED after {:.1} s: {}: {}",
            progress.started.elapsed().as_secs_f64(),
            execution.error.as_deref().unwrap_or("?"),
            execution.cause.as_deref().unwrap_or("?")
        );
        return Ok(ExitCode::from(1));
    }
    let output: CombineOutput = serde_json::from_value(execution.output.unwrap_or(Value::Null))
        .context("the workflow's output")?;
    let summary: SweepSummary = serde_json::from_slice(&deps.store.get(&output.summary_key).await?)
        .with_context(|| format!("reading {}", output.summary_key))?;
    eprintln!(
        "sweep done in {:.1} s: {} items, {} failed",
        progress.started.elapsed().as_secs_f64(),
        output.items,
        output.failed_items
    );
    eprintln!("{}", progress.timing_line(request.max_concurrency));
    print!("{}", ranking_table(&summary));
    println!("\nreport: {}", output.report);
    Ok(ExitCode::SUCCESS)
}

/// The execution name's stem from the sweep's name: what a store key and an execution name take.
fn screener_backtest_plan_id(name: &str) -> String {
    let stem: String = backtest_plan::sweep_id(name).chars().take(40).collect();
    if stem.is_empty() {
        "sweep".into()
    } else {
        stem
    }
}

/// Runs `statemachine/backtest.asl.json` on `request` in-process as `execution_name`, its
/// Distributed Map on the store's objects: `screener backtest --sweep` and the local bot's
/// `/backtest`.
pub(crate) async fn run_backtest_workflow(
    config: &Config,
    deps: &Deps,
    request: &SweepRequest,
    execution_name: &str,
    invoker: Arc<dyn TaskInvoker>,
) -> anyhow::Result<screener_states::Execution> {
    let definition: StateMachine = load_definition(BACKTEST_ASL)?;
    let options = ExecutionOptions {
        execution_name: execution_name.to_string(),
        state_machine_name: "screener-backtest".into(),
        object_store: Some(object_store(config, deps.store.clone()).await),
        ..Default::default()
    };
    let input = serde_json::to_value(request)?;
    Ok(screener_states::execute(&definition, input, invoker, options).await)
}

/// Counts shards as they end and says so.
struct SweepProgress {
    started: Instant,
    batches: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    timing: Mutex<Timing>,
}

/// Where a run's time went: seconds since the start at each step's edges, and the shards'
/// own time (store reads and writes and the engine), summed.
#[derive(Default)]
struct Timing {
    plan_done: f64,
    combine_started: f64,
    combine_done: f64,
    shard_seconds: f64,
}

impl SweepProgress {
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// One line for people and for `scripts/bench-sweep`: the Map's wall time, children per
    /// second, and the share of the shards' slots (concurrency x Map time) spent in the
    /// shards; the rest is the interpreter's (scheduling, histories, reader and writer).
    fn timing_line(&self, concurrency: usize) -> String {
        let t = self.timing.lock().expect("timing lock");
        let map = (t.combine_started - t.plan_done).max(f64::EPSILON);
        let children = self.done.load(Ordering::SeqCst);
        let slots = map * concurrency.max(1) as f64;
        format!(
            "timing: wall {:.2} s; plan {:.2} s; map {:.2} s, {children} children, {:.2} children/s, shards busy {:.2} s of {:.2} slot-s ({:.1}%); combine {:.2} s",
            self.now(),
            t.plan_done,
            map,
            children as f64 / map,
            t.shard_seconds,
            slots,
            100.0 * t.shard_seconds / slots,
            t.combine_done - t.combine_started,
        )
    }

    fn say(&self, line: String) {
        eprintln!("[{:>7.2}s] {line}", self.started.elapsed().as_secs_f64());
    }
}

struct ProgressInvoker {
    inner: LocalInvoker,
    progress: Arc<SweepProgress>,
}

#[async_trait]
impl TaskInvoker for ProgressInvoker {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        let step = crate::steps::step_for_resource(&call.resource).unwrap_or("?");
        let p = &self.progress;
        let started = p.now();
        if step == "backtest-combine" {
            p.timing.lock().expect("timing lock").combine_started = started;
            p.say("combining: ranking the variants, writing the report".into());
        }
        let result = self.inner.invoke(call).await;
        {
            let ended = p.now();
            let mut t = p.timing.lock().expect("timing lock");
            match step {
                "backtest-plan" => t.plan_done = ended,
                "backtest-shard" => {
                    t.shard_seconds += ended - started;
                }
                "backtest-combine" => t.combine_done = ended,
                _ => {}
            }
        }
        match (step, &result) {
            ("backtest-plan", Ok(out)) => p.say(format!(
                "planned {} items of {} variants",
                out["item_count"], out["variant_count"]
            )),
            ("backtest-shard", Ok(out)) => {
                let done = p.done.fetch_add(1, Ordering::SeqCst) + 1;
                p.say(format!(
                    "batch {done}/{} done: {} items in {} engine pass(es), {:.2} s",
                    p.batches,
                    out["items"].as_array().map_or(0, Vec::len),
                    out["engine_runs"],
                    out["seconds"].as_f64().unwrap_or(0.0)
                ));
            }
            ("backtest-shard", Err(e)) => {
                let done = p.done.fetch_add(1, Ordering::SeqCst) + 1;
                p.failed.fetch_add(1, Ordering::SeqCst);
                p.say(format!(
                    "batch {done}/{} FAILED: {}: {}",
                    p.batches, e.error, e.cause
                ));
            }
            _ => {}
        }
        result
    }
}

/// Where the Distributed Map reads and writes `s3://BUCKET/KEY`: S3 itself through the SDK when
/// the store is in S3 (the plan names the store's bucket and full keys, as in AWS), else the
/// local store.
async fn object_store(
    config: &screener_core::config::Config,
    store: Arc<dyn Store>,
) -> Arc<dyn ObjectStore> {
    match config.store {
        screener_core::config::StoreLocation::S3 { .. } => Arc::new(
            screener_aws::S3Objects::from_config(screener_composition::aws().await),
        ),
        screener_core::config::StoreLocation::Dir(_) => Arc::new(StoreObjects { store }),
    }
}

/// The Distributed Map's S3 on a local directory store: any bucket is the store (a local plan
/// names `screener_core::backtest::LOCAL_BUCKET`).
struct StoreObjects {
    store: Arc<dyn Store>,
}

fn object_error(bucket: &str, key: &str, e: PortError) -> ObjectError {
    match e {
        PortError::NotFound { .. } => ObjectError::NoSuchKey {
            bucket: bucket.into(),
            key: key.into(),
        },
        other => ObjectError::Io {
            path: PathBuf::from(format!("{bucket}/{key}")),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

#[async_trait]
impl ObjectStore for StoreObjects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        self.store
            .get(key)
            .await
            .map_err(|e| object_error(bucket, key, e))
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), ObjectError> {
        self.store
            .put(key, body, "application/json")
            .await
            .map_err(|e| object_error(bucket, key, e))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectSummary>, ObjectError> {
        let keys = self
            .store
            .list(prefix)
            .await
            .map_err(|e| object_error(bucket, prefix, e))?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let body = self.get(bucket, &key).await?;
            out.push(ObjectSummary {
                size: body.len() as u64,
                etag: screener_states::etag(&body),
                last_modified: chrono::Utc::now(),
                key,
            });
        }
        Ok(out)
    }
}
