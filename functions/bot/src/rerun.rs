//! `/rerun`: starting the daily workflow again. In AWS it is a Step Functions execution whose
//! name is derived from the requested date and the day it was asked for, so a double request
//! (two taps, a Telegram retry) finds the first execution instead of starting a second.
//! Locally the CLI supplies a [`Rerun`] that runs the workflow in-process.

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use screener_aws::{SfnClient, StartOutcome};

#[derive(Debug, Clone, PartialEq)]
pub enum RerunOutcome {
    Started { name: String, detail: String },
    AlreadyRunning { name: String, status: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("re-runs are not configured here: {0}")]
    NotConfigured(String),
    #[error("the re-run could not be started: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Rerun: Send + Sync {
    /// Starts a run for `date` (`None`: the last completed session).
    async fn rerun(&self, date: Option<NaiveDate>) -> Result<RerunOutcome, RerunError>;
}

/// The execution name for a re-run requested today: `rerun-2025-06-13-on-20251114`
/// (`rerun-latest-on-...` without a date). Step Functions refuses a second execution of the
/// same name (for 90 days), which makes repeated requests on one day harmless while still
/// allowing a re-run of the same date on a later day.
pub fn execution_name(date: Option<NaiveDate>, today: NaiveDate) -> String {
    let what = date.map_or_else(|| "latest".to_string(), |d| d.to_string());
    format!("rerun-{what}-on-{}", today.format("%Y%m%d"))
}

/// No way to re-run here.
pub struct RerunNotConfigured(pub String);

#[async_trait]
impl Rerun for RerunNotConfigured {
    async fn rerun(&self, _date: Option<NaiveDate>) -> Result<RerunOutcome, RerunError> {
        Err(RerunError::NotConfigured(self.0.clone()))
    }
}

/// The deployed state machine.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execution_name_is_stable_for_a_date_on_a_day() {
        let today = NaiveDate::from_ymd_opt(2025, 11, 14).unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 6, 13);
        assert_eq!(execution_name(date, today), "rerun-2025-06-13-on-20251114");
        assert_eq!(execution_name(date, today), execution_name(date, today));
        assert_eq!(execution_name(None, today), "rerun-latest-on-20251114");
    }
}
