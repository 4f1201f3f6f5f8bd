//! `Parallel`: a non-empty array of `Branches`, each a complete state machine
//! checked like the top level.

use serde_json::Value;

use super::{StateCheck, StateType, Validator, program};

pub(super) const TYPE: StateType = StateType {
    name: "Parallel",
    jsonpath_fields: &[
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
    jsonata_fields: &[
        "Arguments",
        "Output",
        "Branches",
        "Retry",
        "Catch",
        "Next",
        "End",
        "Assign",
    ],
    terminal: false,
    check,
};

fn check(v: &mut Validator, s: &mut StateCheck) {
    let loc = s.loc;
    match s.st.get("Branches") {
        Some(Value::Array(branches)) if !branches.is_empty() => {
            for (i, b) in branches.iter().enumerate() {
                match b.as_object() {
                    Some(b) => program(
                        v,
                        b,
                        &format!("{loc} Branches[{i}]"),
                        &format!("{loc} > "),
                        s.jsonata,
                    ),
                    None => v.push(loc, &format!("Branches[{i}]"), "must be an object"),
                }
            }
        }
        _ => v.push(loc, "Branches", "is required and must be a non-empty array"),
    }
}
