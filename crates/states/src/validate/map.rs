//! `Map`: one ItemProcessor (or the older Iterator), checked as a state
//! machine; ItemSelector or Parameters; each limit as a literal or a path;
//! the Label; ItemsPath.

use serde_json::Value;

use super::{StateCheck, StateType, Validator, is_path, program};

pub(super) const TYPE: StateType = StateType {
    name: "Map",
    jsonpath_fields: &[
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
    jsonata_fields: &[
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
    terminal: false,
    check,
};

/// Fields an ItemProcessor accepts.
const PROCESSOR_FIELDS: [&str; 5] = [
    "StartAt",
    "States",
    "Comment",
    "ProcessorConfig",
    "QueryLanguage",
];

fn check(v: &mut Validator, s: &mut StateCheck) {
    let (st, loc, jsonata) = (s.st, s.loc, s.jsonata);
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
                    if !PROCESSOR_FIELDS.contains(&k.as_str()) {
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
