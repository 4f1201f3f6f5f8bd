//! The parsed state machine: serde types mirroring the ASL JSON, one struct per
//! state type (in `states/`), plus the walks over the tree the tooling needs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::DefinitionError;
use crate::states::{
    choice::ChoiceState, fail::FailState, map::MapState, parallel::ParallelState, pass::PassState,
    succeed::SucceedState, task::TaskState, wait::WaitState,
};

/// A parsed, validated state machine definition.
#[derive(Debug, Clone, Deserialize)]
pub struct StateMachine {
    #[serde(flatten)]
    pub program: Program,
    #[serde(rename = "TimeoutSeconds", default)]
    pub timeout_seconds: Option<u64>,
    #[serde(rename = "Version", default)]
    pub version: Option<String>,
}

/// A list of states with a start: the top level, a Parallel branch, a Map's ItemProcessor.
#[derive(Debug, Clone, Deserialize)]
pub struct Program {
    #[serde(rename = "StartAt")]
    pub start_at: String,
    #[serde(rename = "States")]
    pub states: BTreeMap<String, State>,
    #[serde(rename = "Comment", default)]
    pub comment: Option<String>,
    #[serde(rename = "QueryLanguage", default)]
    pub query_language: Option<QueryLanguage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum QueryLanguage {
    JSONPath,
    JSONata,
}

/// One state, tagged by its `Type`.
// Variants differ in size (Map carries the most fields); a definition is parsed
// once per run, so boxing would only add noise at every use.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    Pass(PassState),
    Task(TaskState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed(SucceedState),
    Fail(FailState),
    Map(MapState),
    Parallel(ParallelState),
}

/// A path field that distinguishes "absent" (`None`) from an explicit JSON
/// `null` (`Some(None)`), as ASL does for InputPath, OutputPath and ResultPath.
pub type NullablePath = Option<Option<String>>;

pub(crate) fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<NullablePath, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Fields shared by several state types. Which of them a given type accepts is
/// checked by the validator; the interpreter reads only those that apply.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Common {
    #[serde(rename = "Comment", default)]
    pub comment: Option<String>,
    #[serde(rename = "QueryLanguage", default)]
    pub query_language: Option<QueryLanguage>,
    #[serde(rename = "InputPath", default, deserialize_with = "nullable")]
    pub input_path: NullablePath,
    #[serde(rename = "OutputPath", default, deserialize_with = "nullable")]
    pub output_path: NullablePath,
    #[serde(rename = "ResultPath", default, deserialize_with = "nullable")]
    pub result_path: NullablePath,
    #[serde(rename = "Parameters", default)]
    pub parameters: Option<Value>,
    #[serde(rename = "ResultSelector", default)]
    pub result_selector: Option<Value>,
    #[serde(rename = "Next", default)]
    pub next: Option<String>,
    #[serde(rename = "End", default)]
    pub end: Option<bool>,
    #[serde(rename = "Retry", default)]
    pub retry: Vec<Retrier>,
    #[serde(rename = "Catch", default)]
    pub catch: Vec<Catcher>,
    #[serde(rename = "Assign", default)]
    pub assign: Option<Value>,
    #[serde(
        rename = "Output",
        default,
        deserialize_with = "crate::states::present"
    )]
    pub output: Option<Value>,
    #[serde(
        rename = "Arguments",
        default,
        deserialize_with = "crate::states::present"
    )]
    pub arguments: Option<Value>,
}

/// A `Retry` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Retrier {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(rename = "IntervalSeconds", default)]
    pub interval_seconds: Option<f64>,
    #[serde(rename = "MaxAttempts", default)]
    pub max_attempts: Option<u32>,
    #[serde(rename = "BackoffRate", default)]
    pub backoff_rate: Option<f64>,
    #[serde(rename = "MaxDelaySeconds", default)]
    pub max_delay_seconds: Option<f64>,
    #[serde(rename = "JitterStrategy", default)]
    pub jitter_strategy: Option<JitterStrategy>,
    #[serde(rename = "Comment", default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JitterStrategy {
    #[serde(rename = "FULL")]
    Full,
    #[serde(rename = "NONE")]
    None,
}

/// A `Catch` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Catcher {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(rename = "Next")]
    pub next: String,
    #[serde(rename = "ResultPath", default, deserialize_with = "nullable")]
    pub result_path: NullablePath,
    #[serde(rename = "Assign", default)]
    pub assign: Option<Value>,
    #[serde(rename = "Output", default)]
    pub output: Option<Value>,
    #[serde(rename = "Comment", default)]
    pub comment: Option<String>,
}

impl State {
    /// The ASL `Type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            State::Pass(_) => "Pass",
            State::Task(_) => "Task",
            State::Choice(_) => "Choice",
            State::Wait(_) => "Wait",
            State::Succeed(_) => "Succeed",
            State::Fail(_) => "Fail",
            State::Map(_) => "Map",
            State::Parallel(_) => "Parallel",
        }
    }

    pub fn common(&self) -> &Common {
        match self {
            State::Pass(s) => &s.common,
            State::Task(s) => &s.common,
            State::Choice(s) => &s.common,
            State::Wait(s) => &s.common,
            State::Succeed(s) => &s.common,
            State::Fail(s) => &s.common,
            State::Map(s) => &s.common,
            State::Parallel(s) => &s.common,
        }
    }

    /// The programs nested in this state (Map processor, Parallel branches).
    pub fn children(&self) -> Vec<&Program> {
        match self {
            State::Map(m) => m.processor().into_iter().map(|p| &p.program).collect(),
            State::Parallel(p) => p.branches.iter().collect(),
            _ => Vec::new(),
        }
    }
}

impl Program {
    /// Every state in this program and, recursively, its children.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a State)) {
        for (name, state) in &self.states {
            f(name, state);
            for child in state.children() {
                child.walk(f);
            }
        }
    }
}

impl StateMachine {
    /// Parse and statically validate a definition; the error lists every problem.
    pub fn parse(json: &str) -> Result<StateMachine, DefinitionError> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            DefinitionError::single("StateMachine", "", format!("not valid JSON: {e}"))
        })?;
        Self::from_value(&value)
    }

    /// Like [`StateMachine::parse`] for an already-parsed JSON value.
    pub fn from_value(value: &Value) -> Result<StateMachine, DefinitionError> {
        let problems = crate::validate::validate(value);
        if !problems.is_empty() {
            return Err(DefinitionError { problems });
        }
        serde_json::from_value(value.clone()).map_err(|e| {
            DefinitionError::single("StateMachine", "", format!("could not be read: {e}"))
        })
    }

    /// Every Task `Resource`, including those inside Map and Parallel, sorted and deduplicated.
    pub fn task_resources(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        self.program.walk(&mut |_, state| {
            if let State::Task(t) = state {
                out.insert(t.resource.clone());
            }
        });
        out.into_iter().collect()
    }

    /// Every error name in any Retry or Catch `ErrorEquals`, recursively.
    pub fn matched_error_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.program.walk(&mut |_, state| {
            let c = state.common();
            for r in &c.retry {
                out.extend(r.error_equals.iter().cloned());
            }
            for k in &c.catch {
                out.extend(k.error_equals.iter().cloned());
            }
        });
        out
    }

    /// The query language states use unless they say otherwise.
    pub fn query_language(&self) -> QueryLanguage {
        self.program
            .query_language
            .unwrap_or(QueryLanguage::JSONPath)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: &str = r#"{
      "StartAt": "A",
      "States": {
        "A": {"Type": "Task", "Resource": "arn:fetch", "Retry": [{"ErrorEquals": ["MarketData.RateLimited"]}], "Next": "M"},
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "B", "States": {
            "B": {"Type": "Task", "Resource": "arn:screen", "Catch": [{"ErrorEquals": ["Input.Invalid"], "Next": "C"}], "End": true},
            "C": {"Type": "Pass", "End": true}}}, "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "arn:publish", "End": true}}}], "End": true}
      }
    }"#;

    #[test]
    fn task_resources_recurse_into_map_and_parallel() {
        let m = StateMachine::parse(DEF).unwrap();
        assert_eq!(
            m.task_resources(),
            vec!["arn:fetch", "arn:publish", "arn:screen"]
        );
    }

    #[test]
    fn matched_error_names_include_nested_retry_and_catch() {
        let m = StateMachine::parse(DEF).unwrap();
        let names: Vec<_> = m.matched_error_names().into_iter().collect();
        assert_eq!(names, vec!["Input.Invalid", "MarketData.RateLimited"]);
    }

    #[test]
    fn an_explicit_null_path_differs_from_an_absent_one() {
        let m = StateMachine::parse(
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":null,"End":true}}}"#,
        )
        .unwrap();
        let c = m.program.states["A"].common();
        assert_eq!(c.result_path, Some(None));
        assert_eq!(c.input_path, None);
    }
}
