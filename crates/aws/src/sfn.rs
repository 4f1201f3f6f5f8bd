//! A small Step Functions client for manual runs of the deployed workflow: start one under a
//! chosen name (and say so, rather than fail, when a run with that name exists), look at runs,
//! and redrive a failed one from where it failed.

use aws_config::SdkConfig;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::primitives::DateTime as SdkDateTime;
use chrono::{DateTime, Utc};

use crate::sdk_error;

/// What [`SfnClient::start_execution`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution started.
    Started { execution_arn: String },
    /// An execution with this name already exists, so none was started. `status` is its
    /// current status: `RUNNING`, or a finished one (`SUCCEEDED`, `FAILED`, ...), since Step
    /// Functions keeps a name taken for 90 days after its run ends.
    AlreadyRunning {
        execution_arn: String,
        status: String,
    },
}

/// One execution, from [`SfnClient::describe_execution`] (all fields) or
/// [`SfnClient::list_executions`] (`input`, `output`, `error`, `cause` are `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub execution_arn: String,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    pub start: Option<DateTime<Utc>>,
    pub stop: Option<DateTime<Utc>>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Execution {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SfnError {
    #[error("state machine {arn} does not exist (or is being deleted)")]
    StateMachineNotFound { arn: String },
    #[error("execution {arn} does not exist")]
    ExecutionNotFound { arn: String },
    #[error("execution {arn} cannot be redriven: {message}")]
    NotRedrivable { arn: String, message: String },
    #[error("too many open executions; wait for some to finish: {message}")]
    LimitExceeded { message: String },
    #[error("Step Functions refused the request as invalid: {message}")]
    Invalid { message: String },
    #[error("Step Functions unavailable: {message}")]
    Unavailable { message: String },
}

/// Step Functions, for manual runs. Cheap to build (no network I/O), cheap to clone.
#[derive(Debug, Clone)]
pub struct SfnClient {
    client: Client,
}

impl SfnClient {
    pub fn new(client: Client) -> Self {
        SfnClient { client }
    }

    /// A client of its own from `config`. No network I/O.
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Starts `state_machine_arn` as the execution `name` with `input_json`.
    ///
    /// If an execution of that name exists (still running, or finished in the last 90 days)
    /// this starts nothing and answers [`StartOutcome::AlreadyRunning`] with its ARN and status.
    /// That includes Step Functions' idempotent case (same name and input as a running
    /// execution), which its API would otherwise answer like a fresh start.
    pub async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input_json: &str,
    ) -> Result<StartOutcome, SfnError> {
        if let Some(arn) = execution_arn(state_machine_arn, name) {
            // A missing execution is the normal case; any other failure here will show again,
            // with its own reason, when we try to start.
            if let Ok(existing) = self.describe_execution(&arn).await {
                return Ok(StartOutcome::AlreadyRunning {
                    execution_arn: existing.execution_arn,
                    status: existing.status,
                });
            }
        }
        let result = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input_json)
            .send()
            .await;
        match result {
            Ok(output) => Ok(StartOutcome::Started {
                execution_arn: output.execution_arn().to_string(),
            }),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                // Lost a race with another start of the same name.
                let arn = err
                    .as_service_error()
                    .and_then(|e| e.message())
                    .and_then(arn_in_message)
                    .or_else(|| execution_arn(state_machine_arn, name))
                    .ok_or_else(|| SfnError::Unavailable {
                        message: format!(
                            "an execution named {name:?} exists, but its ARN could not be worked out: {}",
                            sdk_error::describe("StartExecution", &err)
                        ),
                    })?;
                let existing = self.describe_execution(&arn).await?;
                Ok(StartOutcome::AlreadyRunning {
                    execution_arn: existing.execution_arn,
                    status: existing.status,
                })
            }
            Err(err) => Err(classify("StartExecution", state_machine_arn, &err)),
        }
    }

    pub async fn describe_execution(&self, execution_arn: &str) -> Result<Execution, SfnError> {
        let output = self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|err| classify("DescribeExecution", execution_arn, &err))?;
        Ok(Execution {
            execution_arn: output.execution_arn().to_string(),
            name: output.name().unwrap_or_default().to_string(),
            status: output.status().as_str().to_string(),
            start: utc(output.start_date()),
            stop: output.stop_date().and_then(utc),
            input: output.input().map(str::to_string),
            output: output.output().map(str::to_string),
            error: output.error().map(str::to_string),
            cause: output.cause().map(str::to_string),
        })
    }

    /// The newest `limit` executions of `state_machine_arn`, newest first.
    pub async fn list_executions(
        &self,
        state_machine_arn: &str,
        limit: usize,
    ) -> Result<Vec<Execution>, SfnError> {
        let mut executions = Vec::new();
        let mut next_token = None;
        while executions.len() < limit {
            // The API's page size is 1..=1000.
            let page_size = (limit - executions.len()).min(1000) as i32;
            let output = self
                .client
                .list_executions()
                .state_machine_arn(state_machine_arn)
                .max_results(page_size)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| classify("ListExecutions", state_machine_arn, &err))?;
            executions.extend(output.executions().iter().map(|item| Execution {
                execution_arn: item.execution_arn().to_string(),
                name: item.name().to_string(),
                status: item.status().as_str().to_string(),
                start: utc(item.start_date()),
                stop: item.stop_date().and_then(utc),
                input: None,
                output: None,
                error: None,
                cause: None,
            }));
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
        executions.truncate(limit);
        Ok(executions)
    }

    /// Restarts a failed, timed-out or aborted execution from the states that did not succeed.
    /// Answers when the redrive was accepted.
    pub async fn redrive_execution(
        &self,
        execution_arn: &str,
    ) -> Result<Option<DateTime<Utc>>, SfnError> {
        let output = self
            .client
            .redrive_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|err| classify("RedriveExecution", execution_arn, &err))?;
        Ok(utc(output.redrive_date()))
    }
}

/// The ARN Step Functions gives execution `name` of a (standard) state machine:
/// `arn:aws:states:REGION:ACCOUNT:stateMachine:MACHINE` becomes
/// `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME`. `None` for a version or alias ARN.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (head, machine) = state_machine_arn.split_once(":stateMachine:")?;
    if machine.is_empty() || machine.contains(':') || name.is_empty() {
        return None;
    }
    Some(format!("{head}:execution:{machine}:{name}"))
}

/// The ARN quoted in `Execution Already Exists: 'arn:...'`.
fn arn_in_message(message: &str) -> Option<String> {
    let start = message.find("'arn:")? + 1;
    let end = start + message[start..].find('\'')?;
    Some(message[start..end].to_string())
}

fn utc(time: &SdkDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

fn classify<E>(operation: &str, arn: &str, err: &SdkError<E, HttpResponse>) -> SfnError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = sdk_error::describe(operation, err);
    let arn = arn.to_string();
    match sdk_error::code(err) {
        Some("StateMachineDoesNotExist" | "StateMachineDeleting") => {
            SfnError::StateMachineNotFound { arn }
        }
        Some("ExecutionDoesNotExist") => SfnError::ExecutionNotFound { arn },
        Some("ExecutionNotRedrivable") => SfnError::NotRedrivable { arn, message },
        Some("ExecutionLimitExceeded") => SfnError::LimitExceeded { message },
        Some(
            "InvalidArn"
            | "InvalidName"
            | "InvalidExecutionInput"
            | "InvalidToken"
            | "ValidationException",
        ) => SfnError::Invalid { message },
        _ => SfnError::Unavailable { message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_arn_is_derived_from_its_state_machine_arn_and_name() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:screener",
                "manual-2026-11-23"
            )
            .as_deref(),
            Some("arn:aws:states:us-east-1:123456789012:execution:screener:manual-2026-11-23")
        );
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:screener:live",
                "x"
            ),
            None
        );
        assert_eq!(execution_arn("not-an-arn", "x"), None);
    }

    #[test]
    fn the_arn_is_read_from_an_already_exists_message() {
        assert_eq!(
            arn_in_message("Execution Already Exists: 'arn:aws:states:us-east-1:1:execution:m:n'")
                .as_deref(),
            Some("arn:aws:states:us-east-1:1:execution:m:n")
        );
        assert_eq!(arn_in_message("Execution Already Exists"), None);
    }
}
