//! The seam between Task states and whatever runs them: in production a Lambda,
//! locally an in-process handler chosen by `Resource`.

use serde_json::Value;

/// What a Task state asks its resource to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCall {
    /// The Task's `Resource` ARN, after definition substitution.
    pub resource: String,
    pub state_name: String,
    /// The effective input: the state input after `InputPath` and `Parameters`.
    pub input: Value,
    /// The context object (`$$`): Execution, State, StateMachine, Task, Map.
    pub context: Value,
}

/// A task's failure as Step Functions sees it: `error` is what Retry/Catch
/// `ErrorEquals` match (e.g. `MarketData.RateLimited`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

impl From<TaskFailure> for crate::error::Fault {
    /// An empty error name or cause means none.
    fn from(f: TaskFailure) -> Self {
        crate::error::Fault {
            error: (!f.error.is_empty()).then_some(f.error),
            cause: (!f.cause.is_empty()).then_some(f.cause),
        }
    }
}

/// Runs a Task state's resource. Implementations map resources to handlers.
#[async_trait::async_trait]
pub trait TaskInvoker: Send + Sync {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure>;
}
