//! Conformance against AWS Step Functions: runs the recorded corpus (see the
//! corpus README) through the interpreter and compares with what AWS did.
//!
//! The corpus is not part of the repository: point `ASL_CONFORMANCE_CASES` at
//! `cases.jsonl`. Without it the suite prints why it was skipped and passes.
//! `ASL_CONFORMANCE_FILTER=substr` limits the run to matching case ids and
//! `ASL_CONFORMANCE_SHOW=N` lists up to N failures (default 40).
//!
//! Outputs compare as JSON values with numbers compared numerically and
//! object keys in AWS's order (the corpus keeps it), strings exactly.
//!
//! Each case runs on a virtual clock set to when AWS recorded it, so no case
//! changes its answer as the calendar moves (a Wait timestamp just past
//! AWS's 2^31-second limit once did). Every case must pass, and every
//! recorded history must match, except the ones `conformance-expected.txt`
//! lists with the verdict they have: any case whose verdict differs from
//! that file fails the suite, by id. `ASL_CONFORMANCE_UPDATE=1` rewrites the
//! file from the run.
//!
//! Run: `ASL_CONFORMANCE_CASES=/path/cases.jsonl cargo test -p screener-states --test conformance -- --nocapture`
//!
//! The Distributed Map cases with S3 items (`distributed-map-cases.jsonl`,
//! beside `cases.jsonl`) run in [`distributed_map`], found without any
//! variable when `../shared` sits beside the repository.

#[path = "conformance/distributed_map.rs"]
mod distributed_map;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use screener_states::{
    Clock, ExecutionOptions, ExecutionStatus, StateMachine, TaskCall, TaskFailure, TaskInvoker,
    VirtualClock,
};
use serde_json::Value;

/// The cases that do not pass, or whose history differs, as `verdict id` lines.
const EXPECTED: &str = include_str!("conformance-expected.txt");
const EXPECTED_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/conformance-expected.txt"
);

/// When AWS recorded the case: `source.recorded_date` (`DD-MM-YYYY, HH:MM:SS`,
/// the recorder's local time, taken as UTC), else `last_validated_date`.
fn recorded_at(case: &Value) -> Option<DateTime<Utc>> {
    let source = &case["source"];
    if let Some(t) = source["recorded_date"]
        .as_str()
        .and_then(|s| NaiveDateTime::parse_from_str(s, "%d-%m-%Y, %H:%M:%S").ok())
    {
        return Some(t.and_utc());
    }
    source["last_validated_date"]
        .as_str()
        .or(case["last_validated_date"].as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A virtual clock at the case's recording time.
fn recording_clock(case: &Value) -> Result<Arc<VirtualClock>, Outcome> {
    recorded_at(case)
        .map(|t| Arc::new(VirtualClock::new(t)))
        .ok_or_else(|| fail("no recording date (source.recorded_date or last_validated_date)"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Skip,
}

struct Outcome {
    verdict: Verdict,
    reason: String,
    /// For executions with a recorded history: whether our event sequence
    /// (types and state names) equals AWS's, and the first difference.
    history: Option<Result<(), String>>,
}

fn pass() -> Outcome {
    Outcome {
        verdict: Verdict::Pass,
        reason: String::new(),
        history: None,
    }
}

fn fail(reason: impl Into<String>) -> Outcome {
    Outcome {
        verdict: Verdict::Fail,
        reason: reason.into(),
        history: None,
    }
}

fn skip(reason: impl Into<String>) -> Outcome {
    Outcome {
        verdict: Verdict::Skip,
        reason: reason.into(),
        history: None,
    }
}

/// Replays `recorded_task_results` in order, whatever the resource.
struct Replay {
    results: Mutex<VecDeque<Value>>,
    clock: Arc<VirtualClock>,
}

/// Python's `json.dumps` layout (", " and ": "), which AWS causes from Python Lambdas use.
fn python_json(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

#[async_trait::async_trait]
impl TaskInvoker for Replay {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        let next = self.results.lock().unwrap().pop_front();
        let Some(r) = next else {
            return Err(TaskFailure::new(
                "Conformance.NoRecordedResult",
                format!("no recorded result left for {}", call.resource),
            ));
        };
        let kind = r["result_type"].as_str().unwrap_or("");
        if kind.ends_with("Succeeded") {
            // A Lambda's raw response is recorded as its JSON text.
            return Ok(match &r["output"] {
                Value::String(s) if kind.starts_with("Lambda") => {
                    serde_json::from_str(s).unwrap_or(Value::String(s.clone()))
                }
                other => other.clone(),
            });
        }
        if r["error"] == "States.DataLimitExceeded" {
            // The function answered with too much data; let the interpreter notice.
            return Ok(Value::String("x".repeat(300 * 1024)));
        }
        if kind.ends_with("TimedOut") {
            // Take "forever" so that the state's TimeoutSeconds fires first.
            self.clock
                .sleep(Duration::from_secs(10 * 365 * 24 * 3600))
                .await;
            return Err(TaskFailure::new("States.Timeout", ""));
        }
        // Lambda's own events carry the Python runtime's JSON; the lambda:invoke
        // integration re-serializes it compactly.
        let cause = match &r["cause"] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other if kind.starts_with("Lambda") => python_json(other),
            other => other.to_string(),
        };
        Err(TaskFailure::new(r["error"].as_str().unwrap_or(""), cause))
    }
}

/// Does `actual` match `pattern`, where each `<...>` placeholder is a wildcard?
fn placeholder_match(pattern: &str, actual: &str) -> bool {
    // Split the pattern into literal pieces around placeholders.
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('<') {
        match rest[start..].find('>') {
            Some(len) if len > 1 && !rest[start + 1..start + len].contains(' ') => {
                pieces.push(&rest[..start]);
                rest = &rest[start + len + 1..];
            }
            _ => break,
        }
    }
    if pieces.is_empty() {
        return pattern == actual;
    }
    pieces.push(rest);
    let mut pos = 0;
    let last = pieces.len() - 1;
    for (i, piece) in pieces.iter().enumerate() {
        if i == 0 {
            if !actual.starts_with(piece) {
                return false;
            }
            pos = piece.len();
        } else if i == last {
            return actual.len() >= pos + piece.len() && actual[pos..].ends_with(piece);
        } else {
            match actual[pos..].find(piece) {
                Some(at) => pos += at + piece.len(),
                None => return false,
            }
        }
    }
    true
}

/// The corpus replaces some timestamps with these words instead of `<...>` placeholders.
fn is_date_redaction(s: &str) -> bool {
    matches!(s, "date" | "start-date" | "timestamp")
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
}

/// Compare JSON values: numbers numerically, placeholder strings as wildcards.
fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(e), _) if e.starts_with('<') && e.ends_with('>') && !e.contains(' ') => {
            Ok(())
        }
        // The corpus redacts timestamps to "date".
        (Value::String(e), Value::String(a)) if is_date_redaction(e) && looks_like_date(a) => {
            Ok(())
        }
        (Value::String(e), Value::String(a)) => {
            if placeholder_match(e, a) {
                Ok(())
            } else {
                Err(format!("{path}: expected {e:?}, got {a:?}"))
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.as_f64() == a.as_f64() {
                Ok(())
            } else {
                Err(format!("{path}: expected {e}, got {a}"))
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}: {}",
                    e.len(),
                    a.len(),
                    short(actual)
                ));
            }
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                matches(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(w) => matches(v, w, &format!("{path}.{k}"))?,
                    None => return Err(format!("{path}: missing key {k:?} in {}", short(actual))),
                }
            }
            if let Some(k) = a.keys().find(|k| !e.contains_key(*k)) {
                return Err(format!("{path}: unexpected key {k:?}"));
            }
            // AWS keeps the insertion order of object keys; so must we.
            if !e.keys().eq(a.keys()) {
                return Err(format!(
                    "{path}: key order {:?}, expected {:?}",
                    a.keys().collect::<Vec<_>>(),
                    e.keys().collect::<Vec<_>>()
                ));
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!(
            "{path}: expected {}, got {}",
            short(expected),
            short(actual)
        )),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        format!("{}…", &s[..s.floor_char_boundary(160)])
    } else {
        s
    }
}

/// Compare an expected cause (a string, or the parsed JSON of one) with ours.
fn cause_matches(expected: &Value, actual: Option<&str>) -> Result<(), String> {
    match (expected, actual) {
        (Value::Null, None) => Ok(()),
        (Value::Null, Some(a)) => Err(format!("cause: expected none, got {a:?}")),
        (e, None) => Err(format!("cause: expected {}, got none", short(e))),
        (Value::String(e), Some(a)) => matches(
            &Value::String(e.clone()),
            &Value::String(a.to_owned()),
            "cause",
        ),
        (e, Some(a)) => match serde_json::from_str::<Value>(a) {
            Ok(parsed) => matches(e, &parsed, "cause"),
            Err(_) => Err(format!("cause: expected {}, got {a:?}", short(e))),
        },
    }
}

fn run_execution(case: &Value, rt: &tokio::runtime::Runtime) -> Outcome {
    let class = &case["classification"];
    let tier = class["tier"].as_str().unwrap_or("");
    if tier != "pure" && tier != "fake_lambda" {
        return skip(format!("tier {tier}"));
    }
    let recorded = case["recorded_task_results"].as_array().map_or(0, Vec::len);
    if tier == "fake_lambda" && recorded == 0 {
        return skip("no recorded task results to replay (the calls ran in child executions)");
    }
    let machine = match StateMachine::from_value(&case["definition"]) {
        Ok(m) => m,
        Err(e) => {
            return fail(format!(
                "rejected a valid definition: {}",
                e.problems
                    .first()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            ));
        }
    };
    let clock = match recording_clock(case) {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let results: VecDeque<Value> = case["recorded_task_results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into();
    let invoker = Arc::new(Replay {
        results: Mutex::new(results),
        clock: clock.clone(),
    });
    let options = ExecutionOptions {
        clock: clock.clone(),
        jitter_seed: Some(7),
        ..Default::default()
    };
    let input = case["input"].clone();
    let execution = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            screener_states::execute(&machine, input, invoker, options),
        )
        .await
    });
    let Ok(execution) = execution else {
        return fail("did not finish within 20 s of real time");
    };
    let history = compare_history(case, &execution.history);
    let mut outcome = judge(case, execution);
    outcome.history = history;
    outcome
}

/// Event types and state names, in order, against AWS's recorded history.
fn compare_history(
    case: &Value,
    ours: &[screener_states::HistoryEvent],
) -> Option<Result<(), String>> {
    let expected = case["expected_history"].as_array()?;
    if expected.is_empty()
        || !case["classification"]["nondeterministic"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        return None;
    }
    let theirs: Vec<(String, String)> = expected
        .iter()
        .map(|e| {
            let t = e["type"].as_str().unwrap_or("").to_owned();
            let name = e
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")))
                .and_then(|(_, d)| d["name"].as_str())
                .unwrap_or("")
                .to_owned();
            (t, name)
        })
        .collect();
    let ours: Vec<(String, String)> = ours
        .iter()
        .map(|e| {
            (
                e.event_type.clone(),
                e.state_name().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
        if t != o && !placeholder_match(&t.1, &o.1) || t.0 != o.0 {
            return Some(Err(format!(
                "event {}: expected {} {:?}, got {} {:?}",
                i + 1,
                t.0,
                t.1,
                o.0,
                o.1
            )));
        }
    }
    if theirs.len() != ours.len() {
        return Some(Err(format!(
            "expected {} events, got {}",
            theirs.len(),
            ours.len()
        )));
    }
    Some(Ok(()))
}

fn judge(case: &Value, execution: screener_states::Execution) -> Outcome {
    let class = &case["classification"];
    let expected = &case["expected"];
    let status = match execution.status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
    };
    let want = expected["status"].as_str().unwrap_or("");
    if status != want {
        let detail = match &execution.error {
            Some(e) => format!(
                " ({e}: {})",
                execution
                    .cause
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
            None => String::new(),
        };
        return fail(format!("status {status}{detail}, expected {want}"));
    }
    let deterministic = class["nondeterministic"]
        .as_array()
        .is_none_or(Vec::is_empty);
    match want {
        "SUCCEEDED" if deterministic => {
            let output = execution.output.unwrap_or(Value::Null);
            match matches(&expected["output"], &output, "output") {
                Ok(()) => pass(),
                Err(e) => fail(e),
            }
        }
        "FAILED" | "TIMED_OUT" => {
            let want_error = expected["error"].as_str();
            if want_error != execution.error.as_deref() {
                return fail(format!(
                    "error {:?}, expected {:?}",
                    execution.error, want_error
                ));
            }
            if !deterministic {
                return pass();
            }
            match cause_matches(&expected["cause"], execution.cause.as_deref()) {
                Ok(()) => pass(),
                Err(e) => fail(e),
            }
        }
        _ => pass(),
    }
}

fn run_create_rejected(case: &Value) -> Outcome {
    let recorded = case["expected"]["recorded"].to_string();
    if recorded.contains("Version description can only be set when publish is true") {
        return skip("rejected for a CreateStateMachine argument, not for its definition");
    }
    match StateMachine::from_value(&case["definition"]) {
        Err(_) => pass(),
        Ok(_) => {
            let recorded = &case["expected"]["recorded"];
            let msg = recorded["message"]
                .as_str()
                .or(recorded.as_str())
                .unwrap_or("");
            fail(format!(
                "accepted; AWS said: {}",
                msg.chars().take(220).collect::<String>()
            ))
        }
    }
}

/// AWS returns inspection values as JSON text; the corpus keeps some parsed and
/// some as text, so a textual expectation is compared by its parsed value.
fn matches_lenient(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    if let Value::String(text) = expected
        && !actual.is_string()
        && let Ok(parsed) = serde_json::from_str::<Value>(text)
    {
        return matches(&parsed, actual, path);
    }
    matches(expected, actual, path)
}

fn run_test_state(case: &Value, rt: &tokio::runtime::Runtime) -> Outcome {
    use screener_states::{InspectionLevel, Mock, TestStateRequest, TestStatus};
    let def = &case["definition"];
    let args = &case["test_state_args"];
    let mock = match (&args["mock"]["result"], &args["mock"]["errorOutput"]) {
        (Value::String(text), _) => match serde_json::from_str(text) {
            Ok(v) => Some(Mock::Result(v)),
            Err(_) => return skip("mock result is not JSON"),
        },
        (_, Value::Object(e)) => Some(Mock::Error {
            error: e
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            cause: e
                .get("cause")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        }),
        _ => None,
    };
    if mock.is_none() && def.to_string().contains("\"Task\"") {
        return skip("calls a real service with no mock or recorded result");
    }
    let config = &args["stateConfiguration"];
    if config
        .get("mapIterationFailureCount")
        .is_some_and(|n| n.as_u64() != Some(0))
        && mock.is_none()
    {
        return skip("simulated Map iteration failures without a mock");
    }
    let request = TestStateRequest {
        definition: def.clone(),
        state_name: args["stateName"].as_str().map(str::to_owned),
        input: case["input"].clone(),
        inspection_level: match args["inspectionLevel"].as_str() {
            Some("DEBUG") => InspectionLevel::Debug,
            Some("TRACE") => InspectionLevel::Trace,
            _ => InspectionLevel::Info,
        },
        mock,
        context: args["context"]
            .as_str()
            .and_then(|c| serde_json::from_str(c).ok()),
        variables: args["variables"]
            .as_str()
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default(),
        retrier_retry_count: config["retrierRetryCount"].as_u64().unwrap_or(0) as u32,
        map_iteration_failure_count: config["mapIterationFailureCount"]
            .as_u64()
            .map(|n| n as u32),
    };
    let clock = match recording_clock(case) {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let invoker = Arc::new(Replay {
        results: Mutex::new(VecDeque::new()),
        clock: clock.clone(),
    });
    let options = ExecutionOptions {
        clock: clock.clone(),
        account_id: "111111111111".into(),
        role_arn: "arn:aws:iam::111111111111:role/test-state-role".into(),
        ..Default::default()
    };
    let result = match rt.block_on(screener_states::test_state(request, invoker, options)) {
        Ok(r) => r,
        Err(e) => {
            return fail(format!(
                "rejected: {}",
                e.problems
                    .first()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            ));
        }
    };
    let expected = &case["expected"];
    let status = match result.status {
        TestStatus::Succeeded => "SUCCEEDED",
        TestStatus::Failed => "FAILED",
        TestStatus::CaughtError => "CAUGHT_ERROR",
        TestStatus::Retriable => "RETRIABLE",
    };
    if expected["status"] != status {
        return fail(format!(
            "status {status} ({:?}: {:?}), expected {}",
            result.error, result.cause, expected["status"]
        ));
    }
    let actual = serde_json::json!({
        "output": result.output,
        "error": result.error,
        "cause": result.cause,
        "nextState": result.next_state,
        "inspectionData": result.inspection_data,
    });
    let deterministic = case["classification"]["nondeterministic"]
        .as_array()
        .is_none_or(Vec::is_empty);
    for key in ["output", "error", "cause", "nextState", "inspectionData"] {
        let want = expected.get(key).cloned().unwrap_or(Value::Null);
        let got = if key == "inspectionData"
            && want.is_null()
            && actual[key].as_object().is_some_and(|m| m.is_empty())
        {
            Value::Null
        } else {
            actual[key].clone()
        };
        if !deterministic && key != "error" {
            continue;
        }
        let check = match (&want, &got) {
            (Value::Object(w), Value::Object(g)) if key == "inspectionData" => {
                let mut r = Ok(());
                for (k, v) in w {
                    r = r.and_then(|()| {
                        matches_lenient(
                            v,
                            g.get(k).unwrap_or(&Value::Null),
                            &format!("inspectionData.{k}"),
                        )
                    });
                }
                if let Some(extra) = g.keys().find(|k| !w.contains_key(*k)) {
                    r = r.and_then(|()| Err(format!("inspectionData: unexpected key {extra:?}")));
                }
                r
            }
            _ => matches_lenient(&want, &got, key),
        };
        if let Err(e) = check {
            return fail(e);
        }
    }
    pass()
}

fn labels(case: &Value) -> Vec<String> {
    let class = &case["classification"];
    let mut out = vec![
        format!("kind:{}", case["kind"].as_str().unwrap_or("?")),
        format!("lang:{}", class["query_language"].as_str().unwrap_or("?")),
        format!("tier:{}", class["tier"].as_str().unwrap_or("?")),
    ];
    for (key, prefix) in [
        ("state_types", "state:"),
        ("features", ""),
        ("intrinsics", ""),
        ("choice_operators", "choice:"),
    ] {
        for f in class[key].as_array().into_iter().flatten() {
            if let Some(s) = f.as_str() {
                out.push(format!("{prefix}{s}"));
            }
        }
    }
    out
}

#[test]
fn conformance_against_recorded_aws_behaviour() {
    let Ok(path) = std::env::var("ASL_CONFORMANCE_CASES") else {
        println!("conformance suite skipped: ASL_CONFORMANCE_CASES is not set");
        return;
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("conformance suite skipped: cannot read {path}");
        return;
    };
    let filter = std::env::var("ASL_CONFORMANCE_FILTER").ok();
    let show: usize = std::env::var("ASL_CONFORMANCE_SHOW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut table: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    let mut totals = [0usize; 3];
    let mut failures = Vec::new();
    let mut skip_reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut history_mismatches = Vec::new();
    let mut histories = [0usize; 2];
    // Each case's verdict (and history verdict) by id, with the reason.
    let mut verdicts: BTreeMap<String, (&str, String)> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("each line is JSON");
        let id = case["id"].as_str().unwrap_or("?").to_owned();
        if filter.as_ref().is_some_and(|f| !id.contains(f.as_str())) {
            continue;
        }
        let outcome = match case["kind"].as_str() {
            Some("execution") => run_execution(&case, &rt),
            Some("create_rejected") => run_create_rejected(&case),
            Some("test_state") => run_test_state(&case, &rt),
            Some(other) => skip(format!("kind {other}")),
            None => skip("no kind"),
        };
        let slot = match outcome.verdict {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Skip => 2,
        };
        totals[slot] += 1;
        for label in labels(&case) {
            table.entry(label).or_default()[slot] += 1;
        }
        match &outcome.history {
            Some(Ok(())) => histories[0] += 1,
            Some(Err(why)) => {
                histories[1] += 1;
                history_mismatches.push((id.clone(), why.clone()));
                verdicts.insert(format!("history {id}"), ("history", why.clone()));
            }
            None => {}
        }
        let verdict = match outcome.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        };
        verdicts.insert(id.clone(), (verdict, outcome.reason.clone()));
        if outcome.verdict == Verdict::Skip {
            *skip_reasons.entry(outcome.reason.clone()).or_default() += 1;
        }
        if outcome.verdict == Verdict::Fail {
            failures.push((id, outcome.reason));
        }
    }

    println!(
        "\n{:<44} {:>6} {:>6} {:>6}",
        "feature", "pass", "fail", "skip"
    );
    for (label, [p, f, s]) in &table {
        println!("{label:<44} {p:>6} {f:>6} {s:>6}");
    }
    println!(
        "{:<44} {:>6} {:>6} {:>6}",
        "TOTAL", totals[0], totals[1], totals[2]
    );
    if !failures.is_empty() {
        println!(
            "\nfirst {} of {} failing cases:",
            show.min(failures.len()),
            failures.len()
        );
        for (id, reason) in failures.iter().take(show) {
            println!("  {id}\n      {reason}");
        }
    }
    println!("\nskipped, by reason:");
    for (reason, n) in &skip_reasons {
        println!("  {n:>5}  {reason}");
    }
    println!(
        "\nhistory event sequences: {} match AWS, {} differ",
        histories[0], histories[1]
    );
    for (id, why) in history_mismatches.iter().take(show) {
        println!("  {id}\n      {why}");
    }
    println!(
        "\nconformance: {} passed, {} failed, {} skipped",
        totals[0], totals[1], totals[2]
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
    let changed = changes(&parse_expected(EXPECTED), &verdicts);
    assert!(
        changed.is_empty(),
        "{} cases changed verdict against tests/conformance-expected.txt \
         (fix the regression, or update the file if the change is right):\n{}",
        changed.len(),
        changed.join("\n")
    );
}

/// `conformance-expected.txt`: `verdict id` per line, `#` comments. A case
/// not listed is expected to pass; `history id` lists a differing history.
fn parse_expected(text: &str) -> BTreeMap<String, &str> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (verdict, id) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("not `verdict id`: {l:?}"));
            let key = if verdict == "history" {
                format!("history {id}")
            } else {
                id.to_owned()
            };
            (key, verdict)
        })
        .collect()
}

/// Every case whose verdict differs from the expected one, as a line.
fn changes(
    expected: &BTreeMap<String, &str>,
    actual: &BTreeMap<String, (&str, String)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, (verdict, reason)) in actual {
        let history = key.starts_with("history ");
        let want =
            expected
                .get(key)
                .copied()
                .unwrap_or(if history { "matching history" } else { "pass" });
        if want != *verdict {
            let why = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            out.push(format!(
                "  {key}\n      expected {want}, got {verdict}{why}"
            ));
        }
    }
    for (key, verdict) in expected {
        let history = key.starts_with("history ");
        match actual.get(key) {
            None if history => out.push(format!(
                "  {key}\n      expected {verdict}, now matches AWS"
            )),
            None => out.push(format!(
                "  {key}\n      expected {verdict}, not in the corpus"
            )),
            Some(_) => {}
        }
    }
    out
}

const EXPECTED_HEADER: &str = "# Conformance cases (cases.jsonl) that do not pass, and executions whose event\n\
     # sequence differs from AWS's, with the reason at the last run. Every other case\n\
     # must pass: tests/conformance.rs fails, by id, on any case that differs from\n\
     # this list. Regenerate with ASL_CONFORMANCE_UPDATE=1.\n";

/// The verdicts file: `header`, then each case that does not pass with its reason.
fn expected_file(header: &str, verdicts: &BTreeMap<String, (&str, String)>) -> String {
    let mut out = String::from(header);
    for (key, (verdict, reason)) in verdicts {
        if *verdict == "pass" {
            continue;
        }
        let id = key.strip_prefix("history ").unwrap_or(key);
        out.push_str(&format!(
            "# {}\n{verdict} {id}\n",
            reason.replace('\n', " ")
        ));
    }
    out
}

#[test]
fn a_case_runs_at_its_recording_time() {
    let case = serde_json::json!({"source": {
        "recorded_date": "13-12-2023, 07:09:17",
        "last_validated_date": "2023-12-13T06:09:17+00:00"}});
    assert_eq!(
        recorded_at(&case).map(|t| t.to_rfc3339()),
        Some("2023-12-13T07:09:17+00:00".to_owned())
    );
    let case = serde_json::json!({"source": {
        "recorded_date": null, "last_validated_date": "2024-03-10T16:23:46+01:00"}});
    assert_eq!(
        recorded_at(&case).map(|t| t.to_rfc3339()),
        Some("2024-03-10T15:23:46+00:00".to_owned())
    );
    assert_eq!(recorded_at(&serde_json::json!({"source": {}})), None);
}

#[test]
fn the_expected_verdicts_parse_and_every_change_is_named() {
    let expected = parse_expected("# why\nskip a b\nhistory c\n");
    let mut actual = BTreeMap::new();
    actual.insert("a b".to_owned(), ("pass", String::new()));
    actual.insert("d".to_owned(), ("fail", "broke".to_owned()));
    actual.insert("history d".to_owned(), ("history", "event 2".to_owned()));
    let changed = changes(&expected, &actual);
    assert_eq!(
        changed,
        [
            "  a b\n      expected skip, got pass",
            "  d\n      expected pass, got fail: broke",
            "  history d\n      expected matching history, got history: event 2",
            "  history c\n      expected history, now matches AWS",
        ]
    );
}
