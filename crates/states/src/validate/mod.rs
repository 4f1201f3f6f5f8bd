//! Static validation of a definition, on the raw JSON so that every problem is
//! found (not just the first serde error): structure, fields allowed for each
//! state type and query language, transitions, reachability, paths, Retry/Catch.
//!
//! This module walks the definition and runs the checks every state shares;
//! each state type's own fields and checks live in a module named for it, as
//! the state types do under [`crate::states`], and `retry` checks Retry/Catch.

mod choice;
mod fail;
mod map;
mod parallel;
mod pass;
mod retry;
mod succeed;
mod task;
mod wait;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::Problem;
use crate::paths::{self, ReferencePath};

/// One state type: the fields it accepts beside `Type`, `Comment` and
/// `QueryLanguage` (per query language), whether it ends a branch, and the
/// checks of its own fields, run after the shared ones.
struct StateType {
    name: &'static str,
    jsonpath_fields: &'static [&'static str],
    jsonata_fields: &'static [&'static str],
    /// Choice, Succeed and Fail take neither `Next` nor `End`.
    terminal: bool,
    check: fn(&mut Validator, &mut StateCheck),
}

impl StateType {
    fn fields(&self, jsonata: bool) -> &'static [&'static str] {
        if jsonata {
            self.jsonata_fields
        } else {
            self.jsonpath_fields
        }
    }
}

const STATE_TYPES: [StateType; 8] = [
    pass::TYPE,
    task::TYPE,
    choice::TYPE,
    wait::TYPE,
    succeed::TYPE,
    fail::TYPE,
    map::TYPE,
    parallel::TYPE,
];

struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn push(&mut self, location: &str, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            location: location.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

/// Every problem in a definition; empty when it is valid.
pub fn validate(def: &Value) -> Vec<Problem> {
    let mut v = Validator {
        problems: Vec::new(),
    };
    let Some(obj) = def.as_object() else {
        v.push("StateMachine", "", "the definition must be a JSON object");
        return v.problems;
    };
    for key in obj.keys() {
        if ![
            "Comment",
            "StartAt",
            "States",
            "TimeoutSeconds",
            "Version",
            "QueryLanguage",
        ]
        .contains(&key.as_str())
        {
            v.push("StateMachine", key, "is not a valid top-level field");
        }
    }
    if let Some(t) = obj.get("TimeoutSeconds")
        && !positive_int(t)
    {
        v.push(
            "StateMachine",
            "TimeoutSeconds",
            "must be a positive integer",
        );
    }
    let jsonata = match obj.get("QueryLanguage") {
        None => false,
        Some(Value::String(s)) if s == "JSONPath" => false,
        Some(Value::String(s)) if s == "JSONata" => true,
        Some(other) => {
            v.push(
                "StateMachine",
                "QueryLanguage",
                format!("must be JSONPath or JSONata, not {other}"),
            );
            false
        }
    };
    program(&mut v, obj, "StateMachine", "", jsonata);
    v.problems
}

fn program(
    v: &mut Validator,
    obj: &Map<String, Value>,
    location: &str,
    prefix: &str,
    jsonata: bool,
) {
    let start = match obj.get("StartAt") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            v.push(location, "StartAt", "must be a string");
            None
        }
        None => {
            v.push(location, "StartAt", "is required");
            None
        }
    };
    let Some(states) = obj.get("States").and_then(Value::as_object) else {
        v.push(location, "States", "is required and must be an object");
        return;
    };
    if states.is_empty() {
        v.push(location, "States", "must contain at least one state");
    }
    if let Some(s) = start
        && !states.contains_key(s)
    {
        v.push(
            location,
            "StartAt",
            format!("names state \"{s}\", which does not exist"),
        );
    }
    let mut edges: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, state) in states {
        let loc = format!("{prefix}State \"{name}\"");
        if name.is_empty() || name.chars().count() > 80 {
            v.push(&loc, "", "a state name must be 1 to 80 characters long");
        }
        let Some(st) = state.as_object() else {
            v.push(&loc, "", "a state must be a JSON object");
            continue;
        };
        let targets = state_def(v, st, &loc, states, jsonata);
        edges.insert(name.as_str(), targets);
    }
    if let Some(s) = start
        && states.contains_key(s)
    {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack = vec![s];
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            for t in edges.get(n).into_iter().flatten() {
                if let Some((k, _)) = states.get_key_value(t.as_str()) {
                    stack.push(k.as_str());
                }
            }
        }
        for name in states.keys() {
            if !seen.contains(name.as_str()) {
                v.push(
                    &format!("{prefix}State \"{name}\""),
                    "",
                    "is not reachable from StartAt",
                );
            }
        }
    }
}

/// The state being checked: its fields, where it is, its query language, and
/// the states it transitions to (collected for the reachability check).
struct StateCheck<'a> {
    st: &'a Map<String, Value>,
    loc: &'a str,
    jsonata: bool,
    siblings: &'a Map<String, Value>,
    targets: Vec<String>,
}

impl StateCheck<'_> {
    /// A transition in `field`: it must name a state beside this one.
    fn target(&mut self, v: &mut Validator, field: &str, name: &Value) {
        match name.as_str() {
            Some(n) if self.siblings.contains_key(n) => self.targets.push(n.to_owned()),
            Some(n) => v.push(
                self.loc,
                field,
                format!("names state \"{n}\", which does not exist"),
            ),
            None => v.push(self.loc, field, "must be a string"),
        }
    }
}

/// Check one state; returns the names it can transition to.
fn state_def(
    v: &mut Validator,
    st: &Map<String, Value>,
    loc: &str,
    siblings: &Map<String, Value>,
    parent_jsonata: bool,
) -> Vec<String> {
    let ty = match st.get("Type") {
        Some(Value::String(t)) => match STATE_TYPES.iter().find(|ty| ty.name == t.as_str()) {
            Some(ty) => ty,
            None => {
                v.push(loc, "Type", format!("\"{t}\" is not a state type"));
                return Vec::new();
            }
        },
        _ => {
            v.push(loc, "Type", "is required");
            return Vec::new();
        }
    };
    let kind = ty.name;
    let jsonata = match st.get("QueryLanguage") {
        None => parent_jsonata,
        Some(Value::String(s)) if s == "JSONata" => true,
        Some(Value::String(s)) if s == "JSONPath" => {
            if parent_jsonata {
                v.push(
                    loc,
                    "QueryLanguage",
                    "a state cannot use JSONPath when the state machine uses JSONata",
                );
            }
            false
        }
        Some(other) => {
            v.push(
                loc,
                "QueryLanguage",
                format!("must be JSONPath or JSONata, not {other}"),
            );
            parent_jsonata
        }
    };
    if jsonata {
        for (key, value) in st {
            if !matches!(key.as_str(), "ItemProcessor" | "Iterator" | "Branches") {
                jsonata_expressions(v, value, loc, key);
            }
        }
    }
    let allowed = ty.fields(jsonata);
    for key in st.keys() {
        if !matches!(key.as_str(), "Type" | "Comment" | "QueryLanguage")
            && !allowed.contains(&key.as_str())
        {
            let why = if ty.fields(!jsonata).contains(&key.as_str()) {
                format!(
                    "is not valid in a {kind} state using {}",
                    if jsonata { "JSONata" } else { "JSONPath" }
                )
            } else {
                format!("is not a valid field of a {kind} state")
            };
            v.push(loc, key, why);
        }
    }
    let mut s = StateCheck {
        st,
        loc,
        jsonata,
        siblings,
        targets: Vec::new(),
    };
    if !ty.terminal {
        match (st.get("Next"), st.get("End")) {
            (Some(n), None) => s.target(v, "Next", n),
            (None, Some(Value::Bool(true))) => {}
            (None, Some(_)) => v.push(loc, "End", "must be true"),
            (None, None) => v.push(loc, "Next", "a non-terminal state needs Next or End: true"),
            (Some(_), Some(_)) => v.push(loc, "End", "cannot be used together with Next"),
        }
    }
    for field in ["InputPath", "OutputPath"] {
        match st.get(field) {
            Some(Value::String(p)) if !is_path(p) => {
                v.push(loc, field, format!("\"{p}\" is not a valid JSONPath"))
            }
            Some(Value::String(_) | Value::Null) | None => {}
            Some(_) => v.push(loc, field, "must be a string or null"),
        }
    }
    match st.get("ResultPath") {
        Some(Value::String(p)) if ReferencePath::parse(p).is_none() => v.push(
            loc,
            "ResultPath",
            format!("\"{p}\" is not a valid reference path"),
        ),
        Some(Value::String(_) | Value::Null) | None => {}
        Some(_) => v.push(loc, "ResultPath", "must be a string or null"),
    }
    for field in ["Parameters", "ResultSelector", "ItemSelector"] {
        if let Some(t) = st.get(field) {
            if !jsonata && field != "Parameters" && !t.is_object() {
                v.push(loc, field, "must be a JSON object");
            }
            template(v, t, loc, field);
        }
    }
    retry::check(v, &mut s);
    (ty.check)(v, &mut s);
    s.targets
}

/// Every `{% %}` expression in a JSONata state's fields must parse.
fn jsonata_expressions(v: &mut Validator, value: &Value, loc: &str, field: &str) {
    match value {
        Value::String(s) => {
            if let Some(expr) = crate::jsonata::expression(s)
                && let Err(e) = crate::jsonata::check_syntax(expr)
            {
                v.push(
                    loc,
                    field,
                    format!("the JSONata expression '{expr}' does not parse: {e}"),
                );
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                jsonata_expressions(v, x, loc, &format!("{field}.{k}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                jsonata_expressions(v, x, loc, &format!("{field}[{i}]"));
            }
        }
        _ => {}
    }
}

fn positive_int(v: &Value) -> bool {
    matches!(v.as_u64(), Some(n) if n > 0)
}

fn int_at_most(v: &Value, max: u64) -> bool {
    matches!(v.as_u64(), Some(n) if n <= max)
}
/// A JSONPath, a context path (`$$.Execution.Id`) or a variable reference
/// (`$name.field`).
fn is_path(p: &str) -> bool {
    if let Some(rest) = p.strip_prefix("$$") {
        return paths::is_valid(&format!("${rest}"));
    }
    if p.starts_with('$') && !p.starts_with("$.") && !p.starts_with("$[") && p != "$" {
        // A variable reference: `$name.field`.
        let rest = &p[1..];
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        return end > 0 && paths::is_valid(&format!("${}", &rest[end..]));
    }
    paths::is_valid(p)
}

/// A Parameters-style template: every value under a key ending in `.$` is a
/// path or an intrinsic function call.
fn template(v: &mut Validator, t: &Value, loc: &str, field: &str) {
    match t {
        Value::Object(m) => {
            for (k, val) in m {
                let sub = format!("{field}.{k}");
                if k.ends_with(".$") {
                    match val {
                        Value::String(s) => {
                            let ok = if crate::intrinsics::looks_like_call(s) {
                                crate::intrinsics::parse(s).is_ok()
                            } else {
                                is_path(s)
                            };
                            if !ok {
                                v.push(
                                    loc,
                                    &sub,
                                    format!(
                                        "\"{s}\" is not a valid JSONPath or intrinsic function"
                                    ),
                                );
                            }
                        }
                        _ => v.push(loc, &sub, "a field ending in .$ must have a string value"),
                    }
                } else {
                    template(v, val, loc, &sub);
                }
            }
        }
        Value::Array(a) => {
            for (i, val) in a.iter().enumerate() {
                template(v, val, loc, &format!("{field}[{i}]"));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(def: Value) -> Vec<String> {
        validate(&def).into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_valid_definition_has_no_problems() {
        let p = problems(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn every_problem_is_reported_with_state_and_field() {
        let p = problems(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nope", "Resource": "x"},
            "B": {"Type": "Task", "End": true},
            "C": {"Type": "Wait", "Seconds": 1}
        }}));
        let all = p.join("\n");
        assert!(
            all.contains("State \"A\", field Next: names state \"Nope\""),
            "{all}"
        );
        assert!(
            all.contains("State \"A\", field Resource: is not a valid field of a Pass state"),
            "{all}"
        );
        assert!(
            all.contains("State \"B\", field Resource: is required"),
            "{all}"
        );
        assert!(
            all.contains("State \"C\", field Next: a non-terminal state needs Next or End"),
            "{all}"
        );
        assert!(
            all.contains("State \"B\": is not reachable from StartAt"),
            "{all}"
        );
    }

    #[test]
    fn states_all_must_be_alone_and_last() {
        let p = problems(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL", "X"]}, {"ErrorEquals": ["Y"]}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["Z"], "Next": "A"}]}}}),
        );
        let all = p.join("\n");
        assert!(
            all.contains("Retry[0].ErrorEquals: States.ALL must appear alone"),
            "{all}"
        );
        assert!(
            all.contains("Catch[0].ErrorEquals: States.ALL must be in the last entry"),
            "{all}"
        );
    }

    #[test]
    fn a_jsonata_expression_that_does_not_parse_is_rejected() {
        let p = problems(
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass",
            "Output": {"x": "{% $states.input. %}"}, "End": true}}}),
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("State \"A\", field Output.x"), "{p:?}");
    }

    #[test]
    fn bad_paths_are_rejected() {
        let p = problems(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
            "ResultPath": "$.a[*]", "InputPath": "not a path"}}}),
        );
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
