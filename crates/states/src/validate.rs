//! Static validation of a definition, on the raw JSON so that every problem is
//! found (not just the first serde error): structure, fields allowed for each
//! state type and query language, transitions, reachability, paths, Retry/Catch.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::Problem;
use crate::paths::{self, ReferencePath};
use crate::states::choice::Operator;

const STATE_TYPES: [&str; 8] = [
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Map", "Parallel",
];

/// Fields each state type accepts, beside `Type`, `Comment` and `QueryLanguage`.
fn allowed_fields(kind: &str, jsonata: bool) -> &'static [&'static str] {
    match (kind, jsonata) {
        ("Pass", false) => &[
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "Result",
            "Next",
            "End",
            "Assign",
        ],
        ("Pass", true) => &["Output", "Next", "End", "Assign"],
        ("Task", false) => &[
            "Resource",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Next",
            "End",
            "Assign",
        ],
        ("Task", true) => &[
            "Resource",
            "Arguments",
            "Output",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Credentials",
            "Next",
            "End",
            "Assign",
        ],
        ("Choice", false) => &["InputPath", "OutputPath", "Choices", "Default", "Assign"],
        ("Choice", true) => &["Choices", "Default", "Output", "Assign"],
        ("Wait", false) => &[
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Next",
            "End",
            "Assign",
        ],
        ("Wait", true) => &["Seconds", "Timestamp", "Output", "Next", "End", "Assign"],
        ("Succeed", false) => &["InputPath", "OutputPath"],
        ("Succeed", true) => &["Output"],
        ("Fail", false) => &["Error", "ErrorPath", "Cause", "CausePath"],
        ("Fail", true) => &["Error", "Cause"],
        ("Map", false) => &[
            "InputPath",
            "OutputPath",
            "ItemsPath",
            "ItemProcessor",
            "Iterator",
            "ItemSelector",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "Retry",
            "Catch",
            "Next",
            "End",
            "Assign",
        ],
        ("Map", true) => &[
            "Items",
            "ItemProcessor",
            "Iterator",
            "ItemSelector",
            "MaxConcurrency",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "Retry",
            "Catch",
            "Output",
            "Arguments",
            "Next",
            "End",
            "Assign",
        ],
        ("Parallel", false) => &[
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Branches",
            "Retry",
            "Catch",
            "Next",
            "End",
            "Assign",
        ],
        ("Parallel", true) => &[
            "Arguments",
            "Output",
            "Branches",
            "Retry",
            "Catch",
            "Next",
            "End",
            "Assign",
        ],
        _ => &[],
    }
}

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

/// Check one state; returns the names it can transition to.
fn state_def(
    v: &mut Validator,
    st: &Map<String, Value>,
    loc: &str,
    siblings: &Map<String, Value>,
    parent_jsonata: bool,
) -> Vec<String> {
    let mut targets = Vec::new();
    let kind = match st.get("Type") {
        Some(Value::String(t)) if STATE_TYPES.contains(&t.as_str()) => t.as_str(),
        Some(Value::String(t)) => {
            v.push(loc, "Type", format!("\"{t}\" is not a state type"));
            return targets;
        }
        _ => {
            v.push(loc, "Type", "is required");
            return targets;
        }
    };
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
    let allowed = allowed_fields(kind, jsonata);
    for key in st.keys() {
        if !matches!(key.as_str(), "Type" | "Comment" | "QueryLanguage")
            && !allowed.contains(&key.as_str())
        {
            let why = if allowed_fields(kind, !jsonata).contains(&key.as_str()) {
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
    let mut target = |v: &mut Validator, field: &str, name: &Value| match name.as_str() {
        Some(n) if siblings.contains_key(n) => targets.push(n.to_owned()),
        Some(n) => v.push(
            loc,
            field,
            format!("names state \"{n}\", which does not exist"),
        ),
        None => v.push(loc, field, "must be a string"),
    };
    let terminal = matches!(kind, "Choice" | "Succeed" | "Fail");
    if !terminal {
        match (st.get("Next"), st.get("End")) {
            (Some(n), None) => target(v, "Next", n),
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
    if let Some(Value::Array(retriers)) = st.get("Retry") {
        for (i, r) in retriers.iter().enumerate() {
            retrier(v, r, loc, i);
        }
    } else if st.contains_key("Retry") {
        v.push(loc, "Retry", "must be an array");
    }
    if let Some(Value::Array(catchers)) = st.get("Catch") {
        for (i, c) in catchers.iter().enumerate() {
            let field = format!("Catch[{i}]");
            let Some(c) = c.as_object() else {
                v.push(loc, &field, "must be an object");
                continue;
            };
            error_equals(
                v,
                c.get("ErrorEquals"),
                loc,
                &field,
                i + 1 == catchers.len(),
            );
            match c.get("Next") {
                Some(n) => target(v, &format!("{field}.Next"), n),
                None => v.push(loc, &format!("{field}.Next"), "is required"),
            }
            if let Some(Value::String(p)) = c.get("ResultPath")
                && ReferencePath::parse(p).is_none()
            {
                v.push(
                    loc,
                    &format!("{field}.ResultPath"),
                    format!("\"{p}\" is not a valid reference path"),
                );
            }
            for k in c.keys() {
                if ![
                    "ErrorEquals",
                    "Next",
                    "ResultPath",
                    "Comment",
                    "Assign",
                    "Output",
                ]
                .contains(&k.as_str())
                {
                    v.push(loc, &format!("{field}.{k}"), "is not a valid Catch field");
                }
            }
        }
    } else if st.contains_key("Catch") {
        v.push(loc, "Catch", "must be an array");
    }
    match kind {
        "Task" => match st.get("Resource") {
            Some(Value::String(r)) if !r.is_empty() => {}
            _ => v.push(
                loc,
                "Resource",
                "is required and must be a non-empty string",
            ),
        },
        "Choice" => {
            match st.get("Choices") {
                Some(Value::Array(rules)) if !rules.is_empty() => {
                    for (i, rule) in rules.iter().enumerate() {
                        let field = format!("Choices[{i}]");
                        choice_rule(v, rule, loc, &field, true, jsonata);
                        if let Some(n) = rule.get("Next") {
                            target(v, &format!("{field}.Next"), n);
                        }
                    }
                }
                _ => v.push(loc, "Choices", "is required and must be a non-empty array"),
            }
            if let Some(d) = st.get("Default") {
                target(v, "Default", d);
            }
        }
        "Wait" => {
            let given: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                .into_iter()
                .filter(|f| st.contains_key(*f))
                .collect();
            if given.len() != 1 {
                v.push(
                    loc,
                    "Seconds",
                    "exactly one of Seconds, Timestamp, SecondsPath or TimestampPath is required",
                );
            }
            if !jsonata {
                if let Some(s) = st.get("Seconds")
                    && !int_at_most(s, 99_999_999)
                {
                    v.push(loc, "Seconds", "must be a non-negative integer");
                }
                if let Some(t) = st.get("Timestamp")
                    && !is_timestamp(t)
                {
                    v.push(loc, "Timestamp", "must be an ISO-8601 timestamp");
                }
                for f in ["SecondsPath", "TimestampPath"] {
                    if let Some(p) = st.get(f)
                        && !p.as_str().is_some_and(is_path)
                    {
                        v.push(loc, f, "must be a valid JSONPath");
                    }
                }
            }
        }
        "Fail" => {
            for (lit, path) in [("Error", "ErrorPath"), ("Cause", "CausePath")] {
                if st.contains_key(lit) && st.contains_key(path) {
                    v.push(loc, path, format!("cannot be used together with {lit}"));
                }
                if let Some(p) = st.get(path)
                    && !p
                        .as_str()
                        .is_some_and(|s| is_path(s) || crate::intrinsics::parse(s).is_ok())
                {
                    v.push(loc, path, "must be a valid JSONPath or intrinsic function");
                }
            }
        }
        _ => {}
    }
    if kind == "Task" {
        match st.get("Credentials") {
            Some(Value::Object(c)) if c.contains_key("RoleArn") || c.contains_key("RoleArn.$") => {}
            Some(_) => v.push(loc, "Credentials", "the field RoleArn is required"),
            None => {}
        }
        for f in ["TimeoutSeconds", "HeartbeatSeconds"] {
            if let Some(t) = st.get(f)
                && !jsonata
                && !positive_int(t)
            {
                v.push(loc, f, "must be a positive integer");
            }
        }
        if let (Some(h), Some(t)) = (
            st.get("HeartbeatSeconds").and_then(Value::as_u64),
            st.get("TimeoutSeconds").and_then(Value::as_u64),
        ) && h >= t
        {
            v.push(
                loc,
                "HeartbeatSeconds",
                "must be smaller than TimeoutSeconds",
            );
        }
        for (a, b) in [
            ("TimeoutSeconds", "TimeoutSecondsPath"),
            ("HeartbeatSeconds", "HeartbeatSecondsPath"),
        ] {
            if st.contains_key(a) && st.contains_key(b) {
                v.push(loc, b, format!("cannot be used together with {a}"));
            }
        }
    }
    if kind == "Map" {
        let processor = match (st.get("ItemProcessor"), st.get("Iterator")) {
            (Some(p), None) => Some(("ItemProcessor", p)),
            (None, Some(p)) => Some(("Iterator", p)),
            (Some(_), Some(_)) => {
                v.push(
                    loc,
                    "Iterator",
                    "cannot be used together with ItemProcessor",
                );
                None
            }
            (None, None) => {
                v.push(loc, "ItemProcessor", "is required");
                None
            }
        };
        if let Some((field, p)) = processor {
            match p.as_object() {
                Some(p) => {
                    for k in p.keys() {
                        if ![
                            "StartAt",
                            "States",
                            "Comment",
                            "ProcessorConfig",
                            "QueryLanguage",
                        ]
                        .contains(&k.as_str())
                        {
                            v.push(
                                loc,
                                &format!("{field}.{k}"),
                                "is not a valid field of an ItemProcessor",
                            );
                        }
                    }
                    program(
                        v,
                        p,
                        &format!("{loc} {field}"),
                        &format!("{loc} > "),
                        jsonata,
                    );
                }
                None => v.push(loc, field, "must be an object"),
            }
        }
        if st.contains_key("ItemSelector") && st.contains_key("Parameters") {
            v.push(
                loc,
                "Parameters",
                "cannot be used together with ItemSelector",
            );
        }
        for (a, b) in [
            ("MaxConcurrency", "MaxConcurrencyPath"),
            ("ToleratedFailureCount", "ToleratedFailureCountPath"),
            (
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
            ),
        ] {
            if st.contains_key(a) && st.contains_key(b) {
                v.push(loc, b, format!("cannot be used together with {a}"));
            }
        }
        if let Some(m) = st.get("MaxConcurrency")
            && !jsonata
            && m.as_u64().is_none()
        {
            v.push(loc, "MaxConcurrency", "must be a non-negative integer");
        }
        match st.get("Label") {
            Some(Value::String(label)) => {
                if let Err(why) = check_label(label) {
                    v.push(loc, "Label", why);
                }
            }
            Some(_) => v.push(loc, "Label", "must be a string"),
            None => {}
        }
        if let Some(Value::String(p)) = st.get("ItemsPath")
            && !is_path(p)
        {
            v.push(loc, "ItemsPath", format!("\"{p}\" is not a valid JSONPath"));
        }
    }
    if kind == "Parallel" {
        match st.get("Branches") {
            Some(Value::Array(branches)) if !branches.is_empty() => {
                for (i, b) in branches.iter().enumerate() {
                    match b.as_object() {
                        Some(b) => program(
                            v,
                            b,
                            &format!("{loc} Branches[{i}]"),
                            &format!("{loc} > "),
                            jsonata,
                        ),
                        None => v.push(loc, &format!("Branches[{i}]"), "must be an object"),
                    }
                }
            }
            _ => v.push(loc, "Branches", "is required and must be a non-empty array"),
        }
    }
    targets
}

/// A Map Label: 1 to 40 characters, none of them whitespace, brackets,
/// wildcards, the specials `" # % \ ^ | ~ ` $ & , ; : /`, or control characters.
fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("Label cannot be empty".into());
    }
    if label.chars().count() > 40 {
        return Err("Label cannot exceed 40 characters".into());
    }
    for c in label.chars() {
        let control = (c as u32) <= 0x1f || (0x7f..=0x9f).contains(&(c as u32));
        if control || c.is_whitespace() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c) {
            return Err(format!("Label contains invalid character: {c:?}"));
        }
    }
    Ok(())
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

fn is_timestamp(v: &Value) -> bool {
    matches!(
        v.as_str().map(crate::states::wait::parse_timestamp),
        Some(Some(_))
    )
}

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

fn error_equals(v: &mut Validator, ee: Option<&Value>, loc: &str, field: &str, is_last: bool) {
    let f = format!("{field}.ErrorEquals");
    let Some(Value::Array(names)) = ee else {
        v.push(loc, &f, "is required and must be an array");
        return;
    };
    if names.is_empty() {
        v.push(loc, &f, "must not be empty");
    }
    if names.iter().any(|n| !n.is_string()) {
        v.push(loc, &f, "must contain only strings");
    }
    if names.iter().any(|n| n == "States.ALL") {
        if names.len() > 1 {
            v.push(loc, &f, "States.ALL must appear alone");
        }
        if !is_last {
            v.push(loc, &f, "States.ALL must be in the last entry");
        }
    }
}

fn retrier(v: &mut Validator, r: &Value, loc: &str, i: usize) {
    let field = format!("Retry[{i}]");
    let Some(r) = r.as_object() else {
        v.push(loc, &field, "must be an object");
        return;
    };
    // "last" is checked by the caller's order: States.ALL must be the final retrier.
    error_equals(v, r.get("ErrorEquals"), loc, &field, true);
    for k in r.keys() {
        match k.as_str() {
            "ErrorEquals" | "Comment" => {}
            "IntervalSeconds" => {
                if !r[k].as_u64().is_some_and(|n| (1..=99_999_999).contains(&n)) {
                    v.push(loc, &format!("{field}.{k}"), "must be a positive integer");
                }
            }
            "MaxAttempts" => {
                if !int_at_most(&r[k], 99_999_999) {
                    v.push(
                        loc,
                        &format!("{field}.{k}"),
                        "must be a non-negative integer",
                    );
                }
            }
            "BackoffRate" => {
                if !r[k].as_f64().is_some_and(|n| n >= 1.0) {
                    v.push(loc, &format!("{field}.{k}"), "must be a number >= 1.0");
                }
            }
            "MaxDelaySeconds" => {
                if !r[k].as_u64().is_some_and(|n| (1..31_622_400).contains(&n)) {
                    v.push(loc, &format!("{field}.{k}"), "must be a positive integer");
                }
            }
            "JitterStrategy" => {
                if !matches!(r[k].as_str(), Some("FULL" | "NONE")) {
                    v.push(loc, &format!("{field}.{k}"), "must be FULL or NONE");
                }
            }
            _ => v.push(loc, &format!("{field}.{k}"), "is not a valid Retry field"),
        }
    }
}

fn choice_rule(v: &mut Validator, rule: &Value, loc: &str, field: &str, top: bool, jsonata: bool) {
    let Some(r) = rule.as_object() else {
        v.push(loc, field, "a choice rule must be an object");
        return;
    };
    if top && !r.contains_key("Next") {
        v.push(
            loc,
            &format!("{field}.Next"),
            "is required in a top-level choice rule",
        );
    }
    if !top && r.contains_key("Next") {
        v.push(
            loc,
            &format!("{field}.Next"),
            "is only allowed in a top-level choice rule",
        );
    }
    if jsonata {
        if !r.contains_key("Condition") {
            v.push(
                loc,
                &format!("{field}.Condition"),
                "is required in a JSONata choice rule",
            );
        }
        return;
    }
    if let Some(sub) = r.get("And").or(r.get("Or")) {
        let name = if r.contains_key("And") { "And" } else { "Or" };
        match sub.as_array() {
            Some(a) if !a.is_empty() => {
                for (i, s) in a.iter().enumerate() {
                    choice_rule(v, s, loc, &format!("{field}.{name}[{i}]"), false, jsonata);
                }
            }
            _ => v.push(loc, &format!("{field}.{name}"), "must be a non-empty array"),
        }
        return;
    }
    if let Some(sub) = r.get("Not") {
        choice_rule(v, sub, loc, &format!("{field}.Not"), false, jsonata);
        return;
    }
    match r.get("Variable") {
        Some(Value::String(p)) if is_path(p) => {}
        Some(_) => v.push(
            loc,
            &format!("{field}.Variable"),
            "must be a valid JSONPath",
        ),
        None => v.push(loc, &format!("{field}.Variable"), "is required"),
    }
    let ops: Vec<(&String, Operator, bool)> = r
        .iter()
        .filter_map(|(k, _)| Operator::parse(k).map(|(o, p)| (k, o, p)))
        .collect();
    if ops.len() != 1 {
        v.push(
            loc,
            field,
            "a choice rule needs exactly one comparison operator",
        );
    }
    for (k, op, is_path_op) in ops {
        let val = &r[k];
        let ok = if is_path_op {
            val.as_str().is_some_and(is_path)
        } else if op.is_type_test() {
            val.is_boolean()
        } else {
            match op.name() {
                n if n.starts_with("String") => val.is_string(),
                n if n.starts_with("Numeric") => val.is_number(),
                n if n.starts_with("Boolean") => val.is_boolean(),
                _ => val
                    .as_str()
                    .is_some_and(|s| crate::states::wait::parse_timestamp(s).is_some()),
            }
        };
        if !ok {
            v.push(
                loc,
                &format!("{field}.{k}"),
                "has a value of the wrong type",
            );
        }
    }
    for k in r.keys() {
        if !matches!(
            k.as_str(),
            "Variable" | "Next" | "Comment" | "Assign" | "Output"
        ) && Operator::parse(k).is_none()
        {
            v.push(
                loc,
                &format!("{field}.{k}"),
                "is not a valid choice rule field",
            );
        }
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
