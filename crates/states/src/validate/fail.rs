//! `Fail`: a terminal state; Error and Cause are each a literal or a path (or
//! intrinsic), not both.

use super::{StateCheck, StateType, Validator, is_path};

pub(super) const TYPE: StateType = StateType {
    name: "Fail",
    jsonpath_fields: &["Error", "ErrorPath", "Cause", "CausePath"],
    jsonata_fields: &["Error", "Cause"],
    terminal: true,
    check,
};

fn check(v: &mut Validator, s: &mut StateCheck) {
    let (st, loc) = (s.st, s.loc);
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
