//! `Succeed`: a terminal state with only the fields it accepts.

use super::StateType;

pub(super) const TYPE: StateType = StateType {
    name: "Succeed",
    jsonpath_fields: &["InputPath", "OutputPath"],
    jsonata_fields: &["Output"],
    terminal: true,
    check: |_, _| {},
};
