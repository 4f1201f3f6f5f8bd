//! `screener remote start|status|redrive`, the real binary, against a loopback Step Functions
//! API: moto (the state machine is created with the SDK; moto keeps executions RUNNING, which is
//! all these tests need), and, for a redrive that succeeds (moto has no RedriveExecution), a
//! one-request fake that records what the binary sent.
//!
//! The moto tests need `SCREENER_TEST_AWS_ENDPOINT` (`scripts/test` starts moto and sets it);
//! without it they say so and pass without checking anything. The endpoint and fake
//! credentials go into the child's environment, never this process's.

use crate::support::unique;
use std::io::Write;
use std::process::{Command, Output};
use std::sync::Once;
use std::sync::{Arc, Mutex};

use aws_sdk_sfn::config::{Credentials, Region, SharedCredentialsProvider};
use chrono::{NaiveDate, Utc};
use screener_aws::SfnClient;
use screener_test_support::LoopbackServer;
use screener_test_support::loopback::{self, StatusCode};
use serde_json::Value;

const ENDPOINT_VARIABLE: &str = "SCREENER_TEST_AWS_ENDPOINT";
const ROLE: &str = "arn:aws:iam::123456789012:role/screener-test";
const DEFINITION: &str =
    r#"{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}"#;

fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_string()),
        _ => {
            static SAY: Once = Once::new();
            SAY.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "screener remote tests against moto skipped: {ENDPOINT_VARIABLE} is not set \
                     (scripts/test sets it; or bash scripts/moto-server.sh start && \
                     export {ENDPOINT_VARIABLE}=$(cat target/moto-endpoint))"
                );
            });
            None
        }
    }
}

async fn sfn(endpoint: &str) -> SfnClient {
    let config = screener_aws::aws_config(Some(endpoint))
        .await
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "moto",
        )))
        .region(Region::new("us-east-1"))
        .build();
    SfnClient::from_config(&config)
}

/// A fresh state machine in moto: (client, its ARN).
async fn state_machine(endpoint: &str) -> (SfnClient, String) {
    let sfn = sfn(endpoint).await;
    let created = sfn
        .client()
        .create_state_machine()
        .name(unique("screener"))
        .definition(DEFINITION)
        .role_arn(ROLE)
        .send()
        .await
        .expect("create the test state machine");
    let arn = created.state_machine_arn().to_string();
    (sfn, arn)
}

/// `screener remote ARGS` with the loopback endpoint, fake credentials and, when given,
/// `SCREENER_STATE_MACHINE_ARN`.
fn screener(endpoint: &str, machine_env: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_screener"));
    command
        .arg("remote")
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("SCREENER_STATE_MACHINE_ARN");
    if let Some(arn) = machine_env {
        command.env("SCREENER_STATE_MACHINE_ARN", arn);
    }
    command.output().expect("run the screener binary")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn start_names_the_run_after_its_date_and_a_second_start_reports_the_first() {
    let Some(endpoint) = endpoint() else { return };
    let (sfn, machine) = state_machine(&endpoint).await;

    let first = screener(
        &endpoint,
        None,
        &["start", "--date", "2025-06-13", "--state-machine", &machine],
    );
    let (out, err) = text(&first);
    assert_eq!(first.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("started manual-2025-06-13"), "{out}");
    let runs = sfn.list_executions(&machine, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].name, "manual-2025-06-13");
    assert!(out.contains(&runs[0].execution_arn), "{out}");
    let described = sfn
        .describe_execution(&runs[0].execution_arn)
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input.as_deref().unwrap()).unwrap();
    assert_eq!(input, serde_json::json!({"date": "2025-06-13"}));

    // The double click: nothing new starts, the first run is reported, and it is not an error.
    let second = screener(
        &endpoint,
        Some(&machine),
        &["start", "--date", "2025-06-13"],
    );
    let (out, err) = text(&second);
    assert_eq!(second.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains("not started") && out.contains("already exists (RUNNING)"),
        "{out}"
    );
    assert!(out.contains(&runs[0].execution_arn), "{out}");
    assert_eq!(sfn.list_executions(&machine, 10).await.unwrap().len(), 1);

    // Another day is another run; the workflow input carries the options.
    let other = screener(
        &endpoint,
        Some(&machine),
        &[
            "start",
            "--date",
            "2025-06-12",
            "--max-symbols",
            "50",
            "--symbols",
            "AAPL,MSFT",
        ],
    );
    assert_eq!(other.status.code(), Some(0), "{:?}", text(&other));
    let runs = sfn.list_executions(&machine, 10).await.unwrap();
    let run = runs
        .iter()
        .find(|e| e.name == "manual-2025-06-12")
        .expect("the second day's run");
    let described = sfn.describe_execution(&run.execution_arn).await.unwrap();
    let input: Value = serde_json::from_str(described.input.as_deref().unwrap()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"date": "2025-06-12", "max_symbols": 50, "symbols": ["AAPL", "MSFT"]})
    );
}

#[tokio::test]
async fn start_without_a_date_runs_the_last_completed_session() {
    let Some(endpoint) = endpoint() else { return };
    let (sfn, machine) = state_machine(&endpoint).await;
    let before = fetch_universe::last_completed_session(Utc::now());
    let output = screener(&endpoint, Some(&machine), &["start"]);
    let after = fetch_universe::last_completed_session(Utc::now());
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let runs = sfn.list_executions(&machine, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    // (Either side of the moment a session completes.)
    let expected = [format!("manual-{before}"), format!("manual-{after}")];
    assert!(expected.contains(&runs[0].name), "{}", runs[0].name);
    let date: NaiveDate = runs[0].name["manual-".len()..].parse().unwrap();
    let described = sfn
        .describe_execution(&runs[0].execution_arn)
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input.as_deref().unwrap()).unwrap();
    assert_eq!(input["date"], date.to_string());
}

#[tokio::test]
async fn status_lists_recent_runs_and_shows_one_in_detail() {
    let Some(endpoint) = endpoint() else { return };
    let (sfn, machine) = state_machine(&endpoint).await;

    let empty = screener(&endpoint, Some(&machine), &["status"]);
    let (out, _) = text(&empty);
    assert_eq!(empty.status.code(), Some(0));
    assert!(out.contains("no executions"), "{out}");

    for name in ["manual-2025-06-11", "manual-2025-06-12"] {
        sfn.start_execution(&machine, name, r#"{"date":"2025-06-12"}"#)
            .await
            .unwrap();
    }
    let listed = screener(&endpoint, Some(&machine), &["status"]);
    let (out, err) = text(&listed);
    assert_eq!(listed.status.code(), Some(0), "{out}{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{out}");
    for name in ["manual-2025-06-11", "manual-2025-06-12"] {
        assert!(
            rows.iter()
                .any(|row| row.starts_with(name) && row.contains("RUNNING")),
            "{name} missing: {out}"
        );
    }
    let limited = screener(&endpoint, Some(&machine), &["status", "--limit", "1"]);
    assert_eq!(text(&limited).0.lines().count(), 2, "{:?}", text(&limited));

    let one = screener(&endpoint, Some(&machine), &["status", "manual-2025-06-12"]);
    let (out, err) = text(&one);
    assert_eq!(one.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("name:    manual-2025-06-12"), "{out}");
    assert!(out.contains("status:  RUNNING"), "{out}");
    assert!(out.contains(r#"input:   {"date":"2025-06-12"}"#), "{out}");

    let missing = screener(&endpoint, Some(&machine), &["status", "manual-1999-01-01"]);
    let (out, err) = text(&missing);
    assert_eq!(missing.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("manual-1999-01-01") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn a_redrive_step_functions_refuses_says_which_execution_and_fails() {
    let Some(endpoint) = endpoint() else { return };
    let (sfn, machine) = state_machine(&endpoint).await;
    sfn.start_execution(&machine, "manual-2025-06-13", "{}")
        .await
        .unwrap();
    // Still running (and moto has no RedriveExecution): refused either way, and said so.
    let output = screener(&endpoint, Some(&machine), &["redrive", "manual-2025-06-13"]);
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(":execution:") && err.contains(":manual-2025-06-13"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_state_machine_is_an_error_not_a_start() {
    let Some(endpoint) = endpoint() else { return };
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine";
    let output = screener(&endpoint, Some(machine), &["start", "--date", "2025-06-13"]);
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("no-such-machine") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn without_a_state_machine_remote_commands_say_how_to_name_one() {
    // No AWS call is made: the endpoint is a closed port.
    for args in [
        &["start"][..],
        &["status"],
        &["redrive", "manual-2025-06-13"],
    ] {
        let output = screener("http://127.0.0.1:9", None, args);
        let (out, err) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {out}{err}");
        assert!(
            err.contains("--state-machine") && err.contains("SCREENER_STATE_MACHINE_ARN"),
            "{err}"
        );
    }
}

/// Each request a fake service received: its (X-Amz-Target, JSON body).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A loopback Step Functions API that answers every request with `body` and records each
/// request's (X-Amz-Target, JSON body).
fn fake_sfn(body: &'static str) -> (LoopbackServer, Received) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let server = LoopbackServer::start(move |request| {
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let json = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
        log.lock().unwrap().push((target, json));
        async move { loopback::with_type(StatusCode::OK, "application/x-amz-json-1.0", body) }
    });
    (server, received)
}

/// The one request a command made.
fn only_request(received: &Mutex<Vec<(String, Value)>>) -> (String, Value) {
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    received[0].clone()
}

#[test]
fn a_redrive_by_name_asks_for_that_execution_of_the_state_machine() {
    let (server, received) = fake_sfn(r#"{"redriveDate": 1749859200}"#);
    let machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:Screener-x1";
    let output = screener(
        &server.url(),
        None,
        &["redrive", "manual-2025-06-13", "--state-machine", machine],
    );
    let (out, err) = text(&output);
    let (target, request) = only_request(&received);
    assert_eq!(output.status.code(), Some(0), "{out}{err}");
    assert_eq!(target, "AWSStepFunctions.RedriveExecution");
    let arn = "arn:aws:states:eu-west-1:123456789012:execution:Screener-x1:manual-2025-06-13";
    assert_eq!(request["executionArn"], arn);
    assert!(
        out.contains("redrive accepted at 2025-06-14 00:00:00"),
        "{out}"
    );
    assert!(out.contains(arn), "{out}");
}
