//! The real Lambda binaries, each started as its own process behind a loopback Lambda Runtime
//! API (`screener_lambda_harness::runtime_api`), fed its `events/` file; the steps' answers must be what
//! the same handler returns in-process, their errors must carry the names the state machine's
//! `Retry`/`Catch` match, and the bot must answer an API Gateway HTTP API event wrapping a
//! Telegram update from what the steps published.
//!
//! The binaries come from `SCREENER_LAMBDA_BIN_DIR` (a cargo profile directory such as
//! `target/debug`). `scripts/test` builds every package under `functions/` and sets it; by hand:
//!
//! ```text
//! cargo build -p fetch-universe -p fetch-bars -p validate -p screen -p publish -p bot \
//!   -p backtest-plan -p backtest-shard -p backtest-combine
//! SCREENER_LAMBDA_BIN_DIR=target/debug cargo test -p screener-cli --test integration lambda_runtime
//! ```
//!
//! Without the variable these tests say so and pass without checking anything; with it, a
//! missing binary fails them. (An integration test cannot get another package's binary from
//! cargo, and building it from inside `cargo test` would wait on cargo's own build lock.)

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use screener_cli::runner::{SCREENER_ASL, load_definition};
use screener_cli::steps::invoke_step;
use screener_core::config::Config;
use screener_core::workflow::{error_names, keys};
use screener_lambda_harness::function::{
    BACKTEST_STEPS, BIN_DIR_VARIABLE, BOT, FUNCTIONS, FunctionProcess, STEPS, WEB, bot_environment,
    event_file,
};
use screener_lambda_harness::runtime_api::{Completion, Outcome, ReportedError};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The directory with the function binaries, or `None` (said once) when skipped.
fn bin_dir() -> Option<PathBuf> {
    match std::env::var_os(BIN_DIR_VARIABLE) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            static SAY: Once = Once::new();
            SAY.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "Lambda binary tests skipped: {BIN_DIR_VARIABLE} is not set (scripts/test \
                     builds the functions and sets it; or cargo build -p {} and set it to \
                     target/debug)",
                    FUNCTIONS.join(" -p ")
                );
            });
            None
        }
    }
}

fn binary(dir: &Path, step: &str) -> PathBuf {
    screener_lambda_harness::function::binary(dir, step).unwrap_or_else(|| {
        panic!(
            "{BIN_DIR_VARIABLE}={} has no {step} binary: cargo build -p {step}",
            dir.display()
        )
    })
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn event(step: &str) -> Value {
    event_json(&format!("{step}.json"))
}

fn event_json(file: &str) -> Value {
    let path = events_dir().join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// What a function is configured with here: a directory store, log metrics, environment
/// secrets, and the batch size the `events/` files were made with.
fn function_env(store: &Path) -> BTreeMap<String, String> {
    [
        ("SCREENER_STORE", store.display().to_string()),
        ("SCREENER_METRICS", "log".into()),
        ("SCREENER_SECRETS", "env".into()),
        ("SCREENER_BATCH_SIZE", "25".into()),
        ("SCREENER_ENVIRONMENT", "test".into()),
        ("RUST_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Starts `step`'s binary, sends `event`, and returns the outcome with the still-running
/// process.
async fn invoke(
    dir: &Path,
    step: &str,
    env: &BTreeMap<String, String>,
    event: Value,
) -> (Completion, FunctionProcess) {
    let mut process = FunctionProcess::start(&binary(dir, step), &format!("screener-{step}"), env)
        .await
        .unwrap();
    let completion = process
        .invoke(event, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{step}: {e}"));
    (completion, process)
}

/// Removes what differs between two runs of the same step: how long it took.
fn without_timings(mut value: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("duration_ms");
                map.remove("validate_ms");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

fn reported_error(step: &str, completion: &Completion, process: &FunctionProcess) -> ReportedError {
    match &completion.outcome {
        Outcome::Error(error) => error.clone(),
        other => panic!(
            "{step}: expected an error, got {other:?}\n{}",
            process.output()
        ),
    }
}

/// The error names the deployed state machine's `Retry` and `Catch` blocks list.
fn matched_error_names() -> std::collections::BTreeSet<String> {
    load_definition(SCREENER_ASL)
        .unwrap()
        .matched_error_names()
        .into_iter()
        .map(|name| name.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_binary_answers_its_events_file_as_its_handler_does_in_process() {
    let Some(dir) = bin_dir() else {
        return;
    };
    // The binaries work on one store, the in-process handlers on another, configured alike.
    let lambda_store = tempfile::tempdir().unwrap();
    let local_store = tempfile::tempdir().unwrap();
    let env = function_env(lambda_store.path());
    let mut vars: std::collections::HashMap<String, String> =
        function_env(local_store.path()).into_iter().collect();
    vars.insert("AWS_LAMBDA_FUNCTION_NAME".into(), "in-process".into());
    let deps = screener_composition::build_deps(&Config::from_vars(&vars).unwrap())
        .await
        .unwrap();

    for step in STEPS {
        let (completion, mut process) = invoke(&dir, step, &env, event(step)).await;
        let Outcome::Response(answer) = &completion.outcome else {
            panic!(
                "{step}: {:?}\nits output:\n{}",
                completion.outcome,
                process.output()
            );
        };
        let expected = invoke_step(step, event(step), &deps).await.unwrap();
        assert_eq!(
            without_timings(answer.clone()),
            without_timings(expected),
            "{step}"
        );
        assert!(process.init_duration().is_some());
        assert!(
            process.is_running(),
            "{step} exited after its first answer:\n{}",
            process.output()
        );
        assert_eq!(process.api().violations(), Vec::<String>::new(), "{step}");
        // JSON logs, as CloudWatch wants them.
        let output = process.output();
        assert!(
            output
                .lines()
                .any(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["level"] == "INFO")),
            "{step} logged no JSON line:\n{output}"
        );
        process.stop().await;
    }
    for key in [keys::LATEST, "results/date=2025-06-13/results.csv"] {
        assert!(
            lambda_store.path().join(key).is_file(),
            "the Lambda run did not write {key}"
        );
    }

    // The bot, on what the binaries published: its webhook event answered with a sendMessage.
    let top = std::fs::read_to_string(
        lambda_store
            .path()
            .join("results/date=2025-06-13/top-deepest_drawdown.csv"),
    )
    .unwrap();
    let first_symbol = top
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap();
    let mut env = env.clone();
    env.extend(bot_environment());
    let (completion, mut bot) = invoke(&dir, BOT, &env, event_json(&event_file(BOT))).await;
    let answer = http_answer(&completion, &bot);
    assert_eq!(answer.0, 200, "{answer:?}\n{}", bot.output());
    assert_eq!(answer.1["method"], "sendMessage", "{answer:?}");
    assert_eq!(answer.1["chat_id"], 123456789);
    let text = answer.1["text"].as_str().unwrap_or("");
    assert!(
        text.contains("deepest_drawdown") && text.contains(first_symbol),
        "the reply does not list {first_symbol}: {text}"
    );
    // Warm: the same process answers a second event; a wrong secret is refused.
    let mut forged = event_json(&event_file(BOT));
    forged["headers"]["x-telegram-bot-api-secret-token"] = json!("forged");
    let completion = bot.invoke(forged, TIMEOUT).await.unwrap();
    assert_eq!(http_answer(&completion, &bot).0, 401);
    // One `next` per event, and one more waiting for the third.
    for _ in 0..100 {
        if bot.api().next_requests() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bot.api().next_requests(), 3);
    assert_eq!(bot.api().violations(), Vec::<String>::new());
    bot.stop().await;
}

/// The backtest workflow's binaries on their `events/` files: the plan's items are the shard's
/// event and its answer is combine's (the files cannot rot), and each binary answers as its
/// handler does in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backtest_function_binaries_answer_their_events_files_as_their_handlers_do() {
    let Some(dir) = bin_dir() else {
        return;
    };
    let lambda_store = tempfile::tempdir().unwrap();
    let local_store = tempfile::tempdir().unwrap();
    for store in [lambda_store.path(), local_store.path()] {
        std::fs::create_dir_all(store.join("uploads")).unwrap();
        crate::analytics_cli::write_bars_csv(&store.join("uploads/bars.csv"), 30, 500);
    }
    let env = function_env(lambda_store.path());
    let mut vars: std::collections::HashMap<String, String> =
        function_env(local_store.path()).into_iter().collect();
    vars.insert("AWS_LAMBDA_FUNCTION_NAME".into(), "in-process".into());
    let deps = screener_composition::build_deps(&Config::from_vars(&vars).unwrap())
        .await
        .unwrap();
    // What differs between two runs or two stores: timings and the report's path.
    let comparable = |mut v: Value| {
        if let Some(map) = v.as_object_mut() {
            map.remove("seconds");
            map.remove("report");
        }
        v
    };
    for step in BACKTEST_STEPS {
        let (completion, mut process) = invoke(&dir, step, &env, event(step)).await;
        let Outcome::Response(answer) = &completion.outcome else {
            panic!("{step}: {:?}\n{}", completion.outcome, process.output());
        };
        let expected = invoke_step(step, event(step), &deps).await.unwrap();
        assert_eq!(comparable(answer.clone()), comparable(expected), "{step}");
        assert!(process.is_running(), "{step} exited:\n{}", process.output());
        assert_eq!(process.api().violations(), Vec::<String>::new(), "{step}");
        process.stop().await;
        if step == "backtest-plan" {
            assert_eq!(
                answer,
                &event("backtest-combine")["plan"],
                "events/backtest-combine.json"
            );
            let items = std::fs::read_to_string(
                lambda_store
                    .path()
                    .join("backtests/event-sweep/items.jsonl"),
            )
            .unwrap();
            let items: Vec<Value> = items
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let shard = event("backtest-shard");
            assert_eq!(
                shard["Items"].as_array().unwrap(),
                &items[..2],
                "events/backtest-shard.json"
            );
            assert_eq!(shard["BatchInput"], answer["shard"]);
        }
    }
    assert!(
        lambda_store
            .path()
            .join("backtests/event-sweep/report.html")
            .is_file()
    );

    // A work item the engine refuses: Backtest.Failed, which the Map Run counts against its
    // tolerated failures (not retried).
    let mut broken = event("backtest-shard");
    broken["Items"][0]["screen"]["conditions"] = json!(["no_such_metric < 5"]);
    let (completion, process) = invoke(&dir, "backtest-shard", &env, broken).await;
    let error = reported_error("backtest-shard", &completion, &process);
    assert_eq!(
        error.error_type.as_deref(),
        Some(error_names::BACKTEST_FAILED),
        "{error:?}"
    );
    process.stop().await;

    // Combine's input without its plan: the error names the missing field.
    let (completion, process) =
        invoke(&dir, "backtest-combine", &env, json!({"map_run": {}})).await;
    let error = reported_error("backtest-combine", &completion, &process);
    assert_eq!(
        error.error_type.as_deref(),
        Some(error_names::INPUT_INVALID),
        "{error:?}"
    );
    let message = error.error_message.clone().unwrap_or_default();
    assert!(message.contains("missing field `plan`"), "{error:?}");
    process.stop().await;
}

/// A Lambda proxy response's status and its body parsed as JSON.
fn http_answer(completion: &Completion, process: &FunctionProcess) -> (u64, Value) {
    let Outcome::Response(response) = &completion.outcome else {
        panic!("{:?}\n{}", completion.outcome, process.output());
    };
    let status = response["statusCode"].as_u64().unwrap_or(0);
    let body = response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_function_reports_a_name_the_state_machine_matches() {
    let Some(dir) = bin_dir() else {
        return;
    };
    let matched = matched_error_names();
    let store = tempfile::tempdir().unwrap();

    // Every batch failed: the Screen Catch routes Screen.NothingValid to the Fail state.
    let mut screen_event = event("screen");
    for batch in screen_event["batches"].as_array_mut().unwrap() {
        batch["status"] = json!("failed");
    }
    // A store that cannot be written: Store.Unavailable, retried with back-off.
    let broken_store = function_env(Path::new("/dev/null/screener"));
    let cases = [
        (
            "screen",
            function_env(store.path()),
            screen_event,
            error_names::SCREEN_NOTHING_VALID,
        ),
        (
            "fetch-universe",
            broken_store,
            event("fetch-universe"),
            error_names::STORE_UNAVAILABLE,
        ),
    ];
    for (step, env, event, expected) in cases {
        let (completion, mut process) = invoke(&dir, step, &env, event).await;
        let error = reported_error(step, &completion, &process);
        assert_eq!(
            error.error_type.as_deref(),
            Some(expected),
            "{step}: {error:?}"
        );
        assert!(
            matched.contains(expected),
            "{expected} is not matched by any Retry/Catch: {matched:?}"
        );
        assert!(!error.error_message.unwrap_or_default().is_empty());
        assert!(error.header.is_some(), "{step}: no error-type header");
        assert!(
            process.is_running(),
            "{step} exited after a handled error:\n{}",
            process.output()
        );
        process.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_is_input_invalid_naming_the_step() {
    let Some(dir) = bin_dir() else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let (completion, process) = invoke(
        &dir,
        "fetch-bars",
        &function_env(store.path()),
        json!({"run": 1}),
    )
    .await;
    let error = reported_error("fetch-bars", &completion, &process);
    // Not retried: the Map iteration's Catch (States.ALL) records the batch as failed.
    assert_eq!(
        error.error_type.as_deref(),
        Some(error_names::INPUT_INVALID)
    );
    assert!(
        error
            .error_message
            .unwrap_or_default()
            .contains("fetch-bars"),
        "{:?}",
        error.body
    );
    process.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_cannot_start_reports_an_init_error_and_exits() {
    let Some(dir) = bin_dir() else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let mut env = function_env(store.path());
    env.insert("SCREENER_BATCH_SIZE".into(), "lots".into());
    let (completion, mut process) = invoke(&dir, "validate", &env, event("validate")).await;
    let Outcome::InitError(error) = &completion.outcome else {
        panic!("expected an init error, got {:?}", completion.outcome);
    };
    assert_eq!(
        error.error_type.as_deref(),
        Some(error_names::CONFIG_INVALID)
    );
    assert!(
        error
            .error_message
            .as_deref()
            .unwrap_or("")
            .contains("SCREENER_BATCH_SIZE"),
        "{error:?}"
    );
    assert_eq!(process.api().next_requests(), 0, "asked for work anyway");
    // And it exits rather than waiting for an event it cannot handle.
    for _ in 0..100 {
        if !process.is_running() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!process.is_running(), "still running after its init error");
}

/// The dashboard's binary behind the Runtime API: the sign-in page of `events/web-apigw.json`
/// (what lambda-bench starts it with), and a page without a session refused with 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_binary_serves_the_sign_in_page_and_refuses_pages_without_a_session() {
    let Some(dir) = bin_dir() else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let mut env = function_env(store.path());
    env.extend(bot_environment());
    let (completion, mut web) = invoke(&dir, WEB, &env, event_json(&event_file(WEB))).await;
    let Outcome::Response(response) = &completion.outcome else {
        panic!("{:?}\n{}", completion.outcome, web.output());
    };
    assert_eq!(response["statusCode"], 200, "{response}\n{}", web.output());
    let page = response["body"].as_str().unwrap_or_default();
    assert!(
        page.contains("<form") && page.contains("v1.bench"),
        "the sign-in form carries the link's token: {page}"
    );
    let mut today = event_json(&event_file(WEB));
    today["rawPath"] = json!("/app/");
    today["rawQueryString"] = json!("");
    today["queryStringParameters"] = json!({});
    today["requestContext"]["http"]["path"] = json!("/app/");
    let completion = web.invoke(today, TIMEOUT).await.unwrap();
    let Outcome::Response(response) = &completion.outcome else {
        panic!("{:?}\n{}", completion.outcome, web.output());
    };
    assert_eq!(response["statusCode"], 401, "{response}");
    assert_eq!(web.api().violations(), Vec::<String>::new());
    web.stop().await;
}
