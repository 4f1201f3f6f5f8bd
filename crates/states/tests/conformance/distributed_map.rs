//! The Distributed Map cases recorded against AWS with their S3 objects
//! (`distributed-map-cases.jsonl`; its README says how to run them): each
//! case's objects go into an in-memory object store under the bucket
//! placeholder's own name, the state machine runs on a virtual clock at the
//! recording time, and the result is compared with AWS's as that README says:
//! status; the output as JSON values with object key order ignored and every
//! `<...>` redaction a wildcard; error and cause as AWS wrote them; and the
//! event history's types, order, state names, inputs, outputs, errors and
//! causes. The listObjectsV2 case compares items projected onto the five keys
//! its test kept, sorted by Key.
//!
//! The cases are found at `ASL_DISTRIBUTED_MAP_CASES`, else beside
//! `ASL_CONFORMANCE_CASES`, else in `../shared/asl-conformance` beside the
//! repository; without them the test says so and passes. At least
//! [`REQUIRED`] of the 43 must agree with AWS, and every case must have the
//! verdict `distributed-map-expected.txt` gives it (`ASL_CONFORMANCE_UPDATE=1`
//! rewrites that file).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use screener_states::{ExecutionOptions, ExecutionStatus, MemoryStore, StateMachine};
use serde_json::{Map, Value};

use super::{
    Outcome, Replay, cause_matches, changes, expected_file, fail, matches, parse_expected, pass,
    recording_clock,
};

/// How many of the 43 cases must agree with AWS.
const REQUIRED: usize = 42;

const EXPECTED: &str = include_str!("../distributed-map-expected.txt");
const EXPECTED_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/distributed-map-expected.txt"
);
const EXPECTED_HEADER: &str = "# Distributed Map cases (distributed-map-cases.jsonl) that do not agree with AWS,\n\
     # and those whose event history differs, with the reason at the last run. Every\n\
     # other case must agree: tests/conformance/distributed_map.rs fails, by id, on any\n\
     # case that differs from this list. Regenerate with ASL_CONFORMANCE_UPDATE=1.\n";

fn cases_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ASL_DISTRIBUTED_MAP_CASES") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("ASL_CONFORMANCE_CASES") {
        return PathBuf::from(p).with_file_name("distributed-map-cases.jsonl");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/asl-conformance/distributed-map-cases.jsonl")
}

#[test]
fn distributed_map_cases_agree_with_recorded_aws_behaviour() {
    let path = cases_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!(
            "distributed map conformance skipped: cannot read {} (set ASL_DISTRIBUTED_MAP_CASES, or put ../shared beside the repository)",
            path.display()
        );
        return;
    };
    let filter = std::env::var("ASL_CONFORMANCE_FILTER").ok();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut verdicts: BTreeMap<String, (&str, String)> = BTreeMap::new();
    let (mut agreed, mut total) = (0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("each line is JSON");
        let id = case["id"].as_str().unwrap_or("?").to_owned();
        if filter.as_ref().is_some_and(|f| !id.contains(f.as_str())) {
            continue;
        }
        total += 1;
        let outcome = run_case(&case, &rt);
        let verdict = match outcome.verdict {
            super::Verdict::Pass => "pass",
            super::Verdict::Fail => "fail",
            super::Verdict::Skip => "skip",
        };
        let history_agrees = !matches!(outcome.history, Some(Err(_)));
        if verdict == "pass" && history_agrees {
            agreed += 1;
        } else if verdict != "pass" {
            println!("  {id}\n      {verdict}: {}", outcome.reason);
        }
        if let Some(Err(why)) = &outcome.history {
            println!("  {id}\n      history: {why}");
            verdicts.insert(format!("history {id}"), ("history", why.clone()));
        }
        verdicts.insert(id, (verdict, outcome.reason));
    }
    println!(
        "\ndistributed map conformance: {agreed} of {total} agree with AWS (result and history)"
    );
    if filter.is_some() {
        return;
    }
    if std::env::var_os("ASL_CONFORMANCE_UPDATE").is_some() {
        std::fs::write(EXPECTED_PATH, expected_file(EXPECTED_HEADER, &verdicts))
            .expect("write the expected verdicts");
        println!("wrote {EXPECTED_PATH}");
        return;
    }
    assert!(
        agreed >= REQUIRED.min(total),
        "only {agreed} of {total} Distributed Map cases agree with AWS; at least {REQUIRED} must"
    );
    let changed = changes(&parse_expected(EXPECTED), &verdicts);
    assert!(
        changed.is_empty(),
        "{} cases changed verdict against tests/distributed-map-expected.txt \
         (fix the regression, or update the file if the change is right):\n{}",
        changed.len(),
        changed.join("\n")
    );
}

fn run_case(case: &Value, rt: &tokio::runtime::Runtime) -> Outcome {
    let machine = match StateMachine::from_value(&case["definition"]) {
        Ok(m) => m,
        Err(e) => return fail(format!("rejected a valid definition: {e}")),
    };
    let clock = match recording_clock(case) {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let store = MemoryStore::new();
    if let Some(bucket) = case["bucket_placeholder"].as_str() {
        store.create_bucket(bucket);
    }
    for object in case["s3_objects"].as_array().into_iter().flatten() {
        store.insert(
            object["bucket"].as_str().unwrap_or(""),
            object["key"].as_str().unwrap_or(""),
            object["content"].as_str().unwrap_or("").as_bytes(),
        );
    }
    let options = ExecutionOptions {
        clock: clock.clone(),
        jitter_seed: Some(7),
        account_id: "111111111111".into(),
        object_store: Some(Arc::new(store)),
        ..Default::default()
    };
    // Every item processor is a Pass state: no task is ever invoked.
    let invoker = Arc::new(Replay {
        results: Default::default(),
        clock,
    });
    let run = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            screener_states::execute(&machine, case["input"].clone(), invoker, options),
        )
        .await
    });
    let Ok(run) = run else {
        return fail("did not finish within 20 s of real time");
    };
    let project = is_list_objects(case);
    let history = Some(compare_history(case, &run.history, project));
    let expected = &case["expected"];
    let status = match run.status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
    };
    let mut outcome = if expected["status"] != status {
        fail(format!(
            "status {status} ({:?}: {:?}), expected {}",
            run.error, run.cause, expected["status"]
        ))
    } else if status == "SUCCEEDED" {
        let output = run.output.clone().unwrap_or(Value::Null);
        let output = if project { projected(&output) } else { output };
        match same(&expected["output"], &output, "output") {
            Ok(()) => pass(),
            Err(e) => fail(e),
        }
    } else if expected["error"].as_str() != run.error.as_deref() {
        fail(format!(
            "error {:?}, expected {}",
            run.error, expected["error"]
        ))
    } else {
        match cause_matches(&expected["cause"], run.cause.as_deref()) {
            Ok(()) => pass(),
            Err(e) => fail(e),
        }
    };
    outcome.history = history;
    outcome
}

fn is_list_objects(case: &Value) -> bool {
    case["features"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| f == "ItemReader.Resource=s3:listObjectsV2")
}

/// The listObjectsV2 test's rewrite of AWS's output: each item reduced to
/// five keys, the list sorted by Key.
fn projected(output: &Value) -> Value {
    let Some(items) = output.as_array() else {
        return output.clone();
    };
    let mut items: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut m = Map::new();
            for k in ["Etag", "LastModified", "Key", "Size", "StorageClass"] {
                if let Some(v) = item.get(k) {
                    m.insert(k.to_owned(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    items.sort_by(|a, b| a["Key"].as_str().cmp(&b["Key"].as_str()));
    Value::Array(items)
}

/// Object keys sorted at every level, so that key order does not count.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// JSON values equal with key order ignored; the expectation may be JSON
/// text (the recorded history keeps some outputs as text).
fn same(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    let expected = match expected {
        Value::String(text) if !actual.is_string() => {
            serde_json::from_str(text).unwrap_or_else(|_| expected.clone())
        }
        other => other.clone(),
    };
    matches(&sorted(&expected), &sorted(actual), path)
}

/// Event types in order, and each event's details (state name, input,
/// output, error, cause, length, map run ARN, ...), against AWS's history.
fn compare_history(
    case: &Value,
    ours: &[screener_states::HistoryEvent],
    project: bool,
) -> Result<(), String> {
    let theirs = case["expected_history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, (want, got)) in theirs.iter().zip(ours).enumerate() {
        let kind = want["type"].as_str().unwrap_or("");
        if kind != got.event_type {
            return Err(format!(
                "event {}: expected {kind}, got {}",
                i + 1,
                got.event_type
            ));
        }
        let Some(details) = want
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")))
            .and_then(|(_, d)| d.as_object())
        else {
            continue;
        };
        // Every recorded field but the role, which the corpus redacts.
        for (field, expected) in details.iter().filter(|(k, _)| *k != "roleArn") {
            let actual = got.details.get(field).cloned().unwrap_or(Value::Null);
            let actual = if project && field.as_str() == "output" {
                projected(&actual)
            } else {
                actual
            };
            same(
                expected,
                &actual,
                &format!("event {} {kind} {field}", i + 1),
            )?;
        }
    }
    if theirs.len() != ours.len() {
        return Err(format!(
            "expected {} events, got {}: {:?}",
            theirs.len(),
            ours.len(),
            ours.iter()
                .map(|e| e.event_type.as_str())
                .collect::<Vec<_>>()
        ));
    }
    Ok(())
}
