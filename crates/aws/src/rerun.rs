//! [`Rerun`] on the deployed state machine: the bot's `/rerun` starts a Step Functions
//! execution whose name comes from the requested date and the day it was asked for
//! ([`execution_name`]), so a double request (two taps, a Telegram retry) finds the first
//! execution instead of starting a second.

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use screener_core::ports::{Rerun, RerunError, RerunOutcome, execution_name};

use crate::sfn::{SfnClient, StartOutcome};

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
