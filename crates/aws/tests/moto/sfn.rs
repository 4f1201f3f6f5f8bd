//! `SfnClient` against moto's Step Functions. Moto keeps executions RUNNING (it does not run
//! states unless told to), which is what these tests want: API behaviour only.

use aws_config::SdkConfig;
use screener_aws::{SfnClient, SfnError, StartOutcome};

const DEFINITION: &str =
    r#"{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}"#;
const ROLE: &str = "arn:aws:iam::123456789012:role/screener-test";

/// A client and a fresh state machine's ARN.
async fn state_machine(config: &SdkConfig) -> (SfnClient, String) {
    let sfn = SfnClient::from_config(config);
    let created = sfn
        .client()
        .create_state_machine()
        .name(crate::unique("screener"))
        .definition(DEFINITION)
        .role_arn(ROLE)
        .send()
        .await
        .expect("create the test state machine");
    (sfn, created.state_machine_arn().to_string())
}

fn started(outcome: StartOutcome) -> String {
    match outcome {
        StartOutcome::Started { execution_arn } => execution_arn,
        other => panic!("expected a new execution, got {other:?}"),
    }
}

#[tokio::test]
async fn an_execution_starts_and_can_be_described_and_listed() {
    let Some(config) = crate::config().await else {
        return;
    };
    let (sfn, machine) = state_machine(&config).await;
    let input = r#"{"date":"2026-11-23"}"#;
    let first = started(sfn.start_execution(&machine, "run-1", input).await.unwrap());
    assert!(first.ends_with(":run-1"), "{first}");

    let described = sfn.describe_execution(&first).await.unwrap();
    assert_eq!(described.name, "run-1");
    assert_eq!(described.execution_arn, first);
    assert!(described.is_running(), "{described:?}");
    assert_eq!(described.input.as_deref(), Some(input));
    assert!(described.start.is_some() && described.stop.is_none());

    let second = started(sfn.start_execution(&machine, "run-2", "{}").await.unwrap());
    let third = started(sfn.start_execution(&machine, "run-3", "{}").await.unwrap());
    let all = sfn.list_executions(&machine, 10).await.unwrap();
    let mut arns: Vec<&str> = all.iter().map(|e| e.execution_arn.as_str()).collect();
    arns.sort();
    let mut expected = vec![first.as_str(), second.as_str(), third.as_str()];
    expected.sort();
    assert_eq!(arns, expected);
    assert!(
        all.iter()
            .all(|e| e.status == "RUNNING" && e.start.is_some())
    );
    assert_eq!(sfn.list_executions(&machine, 2).await.unwrap().len(), 2);
    assert!(sfn.list_executions(&machine, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn starting_a_name_that_exists_reports_that_run_instead_of_failing() {
    let Some(config) = crate::config().await else {
        return;
    };
    let (sfn, machine) = state_machine(&config).await;
    let arn = started(
        sfn.start_execution(&machine, "manual-2026-11-23", r#"{"a":1}"#)
            .await
            .unwrap(),
    );
    let expected = StartOutcome::AlreadyRunning {
        execution_arn: arn.clone(),
        status: "RUNNING".into(),
    };
    // Same input (which Step Functions itself would answer like a fresh start) and another.
    for input in [r#"{"a":1}"#, r#"{"a":2}"#] {
        assert_eq!(
            sfn.start_execution(&machine, "manual-2026-11-23", input)
                .await
                .unwrap(),
            expected
        );
    }
    // A finished run keeps its name taken; its status says it is over.
    sfn.client()
        .stop_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    match sfn
        .start_execution(&machine, "manual-2026-11-23", "{}")
        .await
        .unwrap()
    {
        StartOutcome::AlreadyRunning {
            execution_arn,
            status,
        } => {
            assert_eq!(execution_arn, arn);
            assert_eq!(status, "ABORTED");
        }
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    assert_eq!(sfn.list_executions(&machine, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_starts_of_one_name_start_exactly_one_execution() {
    let Some(config) = crate::config().await else {
        return;
    };
    let (sfn, machine) = state_machine(&config).await;
    let mut starts = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (sfn, machine) = (sfn.clone(), machine.clone());
        starts.spawn(async move {
            sfn.start_execution(&machine, "nightly", &format!(r#"{{"attempt":{i}}}"#))
                .await
        });
    }
    let mut new = Vec::new();
    let mut existing = Vec::new();
    while let Some(outcome) = starts.join_next().await {
        match outcome.unwrap().unwrap() {
            StartOutcome::Started { execution_arn } => new.push(execution_arn),
            StartOutcome::AlreadyRunning { execution_arn, .. } => existing.push(execution_arn),
        }
    }
    assert_eq!(new.len(), 1, "started {new:?}");
    assert_eq!(existing.len(), 7);
    assert!(existing.iter().all(|arn| arn == &new[0]));
}

#[tokio::test]
async fn unknown_machines_and_executions_are_typed_errors_that_name_them() {
    let Some(config) = crate::config().await else {
        return;
    };
    let (sfn, machine) = state_machine(&config).await;
    let gone = machine.replace(":stateMachine:", ":stateMachine:absent-");
    let err = sfn.start_execution(&gone, "x", "{}").await.unwrap_err();
    assert!(
        matches!(&err, SfnError::StateMachineNotFound { arn } if arn == &gone),
        "{err:?}"
    );
    assert!(err.to_string().contains(&gone));

    let execution = format!(
        "{}:never-started",
        machine.replace(":stateMachine:", ":execution:")
    );
    let err = sfn.describe_execution(&execution).await.unwrap_err();
    assert!(
        matches!(&err, SfnError::ExecutionNotFound { arn } if arn == &execution),
        "{err:?}"
    );
    assert!(err.to_string().contains("never-started"));
}

#[tokio::test]
async fn a_failed_redrive_says_which_execution_and_why() {
    let Some(config) = crate::config().await else {
        return;
    };
    let (sfn, machine) = state_machine(&config).await;
    let arn = started(
        sfn.start_execution(&machine, "to-redrive", "{}")
            .await
            .unwrap(),
    );
    // A running execution cannot be redriven (moto may not implement RedriveExecution at all;
    // either way the answer must be an error that says what failed, not a Debug dump).
    let err = sfn.redrive_execution(&arn).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&arn) || message.contains("RedriveExecution"),
        "{message}"
    );
    assert!(!message.contains("ServiceError {"), "{message}");
}

/// The bot's `/backtest` on Step Functions: the sweep request is the execution's input, the
/// state follows the execution, and a name already taken is refused.
#[tokio::test]
async fn backtests_start_with_the_request_as_input_and_follow_the_execution() {
    use chrono::NaiveDate;
    use screener_aws::SfnBacktests;
    use screener_core::backtest::{DEFAULT_SCREENS_TOML, SweepRequest, screen_specs};
    use screener_core::ports::{BacktestError, BacktestState, Backtests};

    let Some(config) = crate::config().await else {
        return;
    };
    let (sfn, machine) = state_machine(&config).await;
    let backtests = SfnBacktests {
        client: sfn.clone(),
        state_machine_arn: machine.clone(),
    };
    let screen = screen_specs(DEFAULT_SCREENS_TOML).unwrap().remove(0);
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let mut request = SweepRequest::for_screen(
        screen,
        "uploads/bars.csv".into(),
        day(2014, 1, 2),
        day(2018, 12, 31),
    );
    request.notify_chat = Some(77);

    let arn = backtests.start("bot-77-x", &request).await.unwrap();
    assert!(arn.ends_with(":bot-77-x"), "{arn}");
    let described = sfn.describe_execution(&arn).await.unwrap();
    let input: SweepRequest = serde_json::from_str(described.input.as_deref().unwrap()).unwrap();
    assert_eq!(input, request);
    assert_eq!(
        backtests.state("bot-77-x").await.unwrap(),
        BacktestState::Running
    );

    assert!(matches!(
        backtests.start("bot-77-x", &request).await,
        Err(BacktestError::AlreadyExists(name)) if name == "bot-77-x"
    ));
    assert!(matches!(
        backtests.state("never-started").await,
        Err(BacktestError::Failed(_))
    ));
}
