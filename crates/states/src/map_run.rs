//! What a Distributed Map leaves behind besides its state's output: a Map Run
//! record (the fields `DescribeMapRun` reports) and, for every item or batch,
//! a child execution with its own input, result and event history, as AWS
//! keeps them apart from the parent's history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::HistoryEvent;
use crate::redrive::ResumePoint;

/// `ProcessorConfig.ExecutionType` of a Distributed Map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionType {
    Standard,
    Express,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

/// A child execution's status; `Pending` for one the Map Run never started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChildStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ChildStatus {
    /// Whether a redrive runs this child again (everything but a success).
    pub fn is_unsuccessful(self) -> bool {
        self != ChildStatus::Succeeded
    }
}

/// `DescribeMapRun`'s `itemCounts` / `executionCounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub total: u64,
    pub results_written: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, status: ChildStatus, n: u64) {
        self.total += n;
        match status {
            ChildStatus::Pending => self.pending += n,
            ChildStatus::Running => self.running += n,
            ChildStatus::Succeeded => self.succeeded += n,
            ChildStatus::Failed => self.failed += n,
            ChildStatus::TimedOut => self.timed_out += n,
            ChildStatus::Aborted => self.aborted += n,
        }
    }
}

/// One Map Run of a Distributed Map state (a Retry of the state starts another).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRun {
    pub map_run_arn: String,
    /// The parent execution.
    pub execution_arn: String,
    pub state_name: String,
    pub execution_type: ExecutionType,
    pub status: MapRunStatus,
    pub start_date: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_date: Option<DateTime<Utc>>,
    pub max_concurrency: u64,
    pub tolerated_failure_count: u64,
    pub tolerated_failure_percentage: f64,
    pub item_counts: Counts,
    pub execution_counts: Counts,
    pub redrive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// In item (or batch) order.
    pub children: Vec<ChildExecution>,
}

impl MapRun {
    /// Recount items and executions from the children.
    pub(crate) fn count(&mut self) {
        let mut items = Counts::default();
        let mut executions = Counts::default();
        for child in &self.children {
            items.add(child.status, child.items as u64);
            executions.add(child.status, 1);
        }
        self.item_counts = items;
        self.execution_counts = executions;
    }
}

/// One child execution of a Map Run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildExecution {
    /// The item's (or batch's) position in the Map Run.
    pub index: usize,
    /// How many items it processes (more than one with an ItemBatcher).
    pub items: usize,
    pub name: String,
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub status: ChildStatus,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_date: Option<DateTime<Utc>>,
    pub redrive_count: u32,
    pub history: Vec<HistoryEvent>,
    /// Map Runs of Distributed Maps inside this child.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_runs: Vec<MapRun>,
    /// Where it stopped, unless it succeeded: a redrive resumes it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumePoint>,
}
