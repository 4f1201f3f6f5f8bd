//! `Task`: a non-empty `Resource`, `Credentials` with a role, and timeouts
//! (positive, heartbeat below timeout, a literal or a path but not both).

use serde_json::Value;

use super::{StateCheck, StateType, Validator, positive_int};

pub(super) const TYPE: StateType = StateType {
    name: "Task",
    jsonpath_fields: &[
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
    jsonata_fields: &[
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
    terminal: false,
    check,
};

fn check(v: &mut Validator, s: &mut StateCheck) {
    let (st, loc) = (s.st, s.loc);
    match st.get("Resource") {
        Some(Value::String(r)) if !r.is_empty() => {}
        _ => v.push(
            loc,
            "Resource",
            "is required and must be a non-empty string",
        ),
    }
    match st.get("Credentials") {
        Some(Value::Object(c)) if c.contains_key("RoleArn") || c.contains_key("RoleArn.$") => {}
        Some(_) => v.push(loc, "Credentials", "the field RoleArn is required"),
        None => {}
    }
    for f in ["TimeoutSeconds", "HeartbeatSeconds"] {
        if let Some(t) = st.get(f)
            && !s.jsonata
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
