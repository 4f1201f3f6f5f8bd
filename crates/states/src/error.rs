//! Errors: definition problems found before a run, and the runtime faults
//! (`States.Runtime`, a task's own error, ...) that flow through Retry/Catch.

use std::fmt;

/// One problem in a state machine definition, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the problem is: `State "FetchBars"`, `State "Map" > State "Inner"`,
    /// or `StateMachine` for top-level fields.
    pub location: String,
    /// The field at fault, e.g. `Next`, `Retry[0].ErrorEquals`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(
                f,
                "{}, field {}: {}",
                self.location, self.field, self.message
            )
        }
    }
}

/// A definition AWS would refuse at `CreateStateMachine`; lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    pub problems: Vec<Problem>,
}

impl DefinitionError {
    pub(crate) fn single(
        location: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DefinitionError {
            problems: vec![Problem {
                location: location.into(),
                field: field.into(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid state machine definition ({n} problem{})",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// A runtime error as Step Functions names it: `Error` is matched by Retry/Catch
/// `ErrorEquals`, `Cause` is free text (absent for e.g. `States.Timeout`). A
/// `Fail` state may leave out either; AWS then reports no such field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Fault {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Fault {
            error: Some(error.into()),
            cause: Some(cause.into()),
        }
    }

    pub fn without_cause(error: impl Into<String>) -> Self {
        Fault {
            error: Some(error.into()),
            cause: None,
        }
    }

    /// `States.Runtime` errors are terminal: `States.ALL` does not retry or catch them.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Fault::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Fault::new(names::INTRINSIC_FAILURE, cause)
    }

    /// Whether this error ends the execution regardless of Retry/Catch.
    pub fn is_terminal(&self) -> bool {
        self.error.as_deref() == Some(names::RUNTIME)
    }

    /// The name Retry and Catch match: none matches only `States.ALL` and
    /// `States.TaskFailed`.
    pub fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// `{"error": .., "cause": ..}` as history events carry them, absent fields left out.
    pub fn to_details(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(e) = &self.error {
            m.insert("error".into(), e.clone().into());
        }
        if let Some(c) = &self.cause {
            m.insert("cause".into(), c.clone().into());
        }
        serde_json::Value::Object(m)
    }

    /// The `{"Error": .., "Cause": ..}` object a Catch passes on.
    pub fn to_output(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(e) = &self.error {
            m.insert("Error".into(), e.clone().into());
        }
        if let Some(c) = &self.cause {
            m.insert("Cause".into(), c.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, &self.cause) {
            (Some(e), Some(c)) => write!(f, "{e}: {c}"),
            (Some(e), None) => write!(f, "{e}"),
            (None, Some(c)) => write!(f, "{c}"),
            (None, None) => write!(f, "(no error name or cause)"),
        }
    }
}

/// The predefined `States.*` error names.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const RUNTIME: &str = "States.Runtime";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const EXCEEDED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}
