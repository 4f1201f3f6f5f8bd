//! `Pass`: only the fields it accepts; the shared checks cover the rest.

use super::StateType;

pub(super) const TYPE: StateType = StateType {
    name: "Pass",
    jsonpath_fields: &[
        "InputPath",
        "OutputPath",
        "Parameters",
        "ResultPath",
        "Result",
        "Next",
        "End",
        "Assign",
    ],
    jsonata_fields: &["Output", "Next", "End", "Assign"],
    terminal: false,
    check: |_, _| {},
};
