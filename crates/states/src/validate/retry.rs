//! `Retry` and `Catch`, shared by Task, Map and Parallel (and checked on any
//! state that has them): ErrorEquals with States.ALL alone and last, retrier
//! limits, and catchers that name an existing state.

use serde_json::Value;

use super::{StateCheck, Validator, int_at_most};
use crate::paths::ReferencePath;

/// Fields a catcher accepts.
const CATCH_FIELDS: [&str; 6] = [
    "ErrorEquals",
    "Next",
    "ResultPath",
    "Comment",
    "Assign",
    "Output",
];

/// Check the state's `Retry` and `Catch` arrays, if it has them.
pub(super) fn check(v: &mut Validator, s: &mut StateCheck) {
    let (st, loc) = (s.st, s.loc);
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
                Some(n) => s.target(v, &format!("{field}.Next"), n),
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
                if !CATCH_FIELDS.contains(&k.as_str()) {
                    v.push(loc, &format!("{field}.{k}"), "is not a valid Catch field");
                }
            }
        }
    } else if st.contains_key("Catch") {
        v.push(loc, "Catch", "must be an array");
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
