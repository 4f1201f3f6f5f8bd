//! `Wait`: exactly one of Seconds, Timestamp, SecondsPath or TimestampPath,
//! each of the right shape.

use serde_json::Value;

use super::{StateCheck, StateType, Validator, int_at_most, is_path};

pub(super) const TYPE: StateType = StateType {
    name: "Wait",
    jsonpath_fields: &[
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
    jsonata_fields: &["Seconds", "Timestamp", "Output", "Next", "End", "Assign"],
    terminal: false,
    check,
};

fn check(v: &mut Validator, s: &mut StateCheck) {
    let (st, loc) = (s.st, s.loc);
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
    if s.jsonata {
        return;
    }
    if let Some(secs) = st.get("Seconds")
        && !int_at_most(secs, 99_999_999)
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

fn is_timestamp(v: &Value) -> bool {
    matches!(
        v.as_str().map(crate::states::wait::parse_timestamp),
        Some(Some(_))
    )
}
