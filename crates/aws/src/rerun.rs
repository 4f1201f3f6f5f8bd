//! [`Rerun`] on the deployed state machine: the bot's `/rerun` starts a Step Functions
//! execution whose name comes from the requested date and the day it was asked for
//! ([`execution_name`]), so a double request (two taps, a Telegram retry) finds the first
//! execution instead of starting a second. [`SfnBacktests`] starts and follows the backtest
//! workflow for the bot's `/backtest`.

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use screener_core::backtest::SweepRequest;
use screener_core::ports::{
    BacktestError, BacktestState, Backtests, Rerun, RerunError, RerunOutcome, execution_name,
};

use crate::sfn::{SfnClient, StartOutcome, execution_arn};

pub struct SfnRerun {
    pub client: SfnClient,
    pub state_machine_arn: String,
}

#[async_trait]
impl Rerun for SfnRerun {
    async fn rerun(&self, date: Option<NaiveDate>) -> Result<RerunOutcome, RerunError> {
        let name = execution_name(date, Utc::now().date_naive());
        let input = match date {
            Some(d) => serde_json::json!({ "date": d }),
            None => serde_json::json!({}),
        };
        match self
            .client
            .start_execution(&self.state_machine_arn, &name, &input.to_string())
            .await
        {
            Ok(StartOutcome::Started { execution_arn }) => Ok(RerunOutcome::Started {
                name,
                detail: execution_arn,
            }),
            Ok(StartOutcome::AlreadyRunning { status, .. }) => {
                Ok(RerunOutcome::AlreadyRunning { name, status })
            }
            Err(e) => Err(RerunError::Failed(e.to_string())),
        }
    }
}

/// [`Backtests`] on the deployed backtest state machine: the bot's `/backtest`.
pub struct SfnBacktests {
    pub client: SfnClient,
    pub state_machine_arn: String,
}

#[async_trait]
impl Backtests for SfnBacktests {
    async fn start(&self, name: &str, request: &SweepRequest) -> Result<String, BacktestError> {
        let input = serde_json::to_string(request).expect("a sweep request serialises");
        match self
            .client
            .start_execution(&self.state_machine_arn, name, &input)
            .await
        {
            Ok(StartOutcome::Started { execution_arn }) => Ok(execution_arn),
            Ok(StartOutcome::AlreadyRunning { .. }) => {
                Err(BacktestError::AlreadyExists(name.to_string()))
            }
            Err(e) => Err(BacktestError::Failed(e.to_string())),
        }
    }

    async fn state(&self, name: &str) -> Result<BacktestState, BacktestError> {
        let Some(arn) = execution_arn(&self.state_machine_arn, name) else {
            return Err(BacktestError::Failed(format!(
                "no execution ARN from {} and {name}",
                self.state_machine_arn
            )));
        };
        let execution = self
            .client
            .describe_execution(&arn)
            .await
            .map_err(|e| BacktestError::Failed(e.to_string()))?;
        Ok(match execution.status.as_str() {
            "RUNNING" | "PENDING_REDRIVE" => BacktestState::Running,
            "SUCCEEDED" => BacktestState::Succeeded,
            other => BacktestState::Failed {
                error: match (&execution.error, &execution.cause) {
                    (Some(error), Some(cause)) => format!("{error}: {cause}"),
                    (Some(error), None) => error.clone(),
                    _ => other.to_string(),
                },
            },
        })
    }
}
