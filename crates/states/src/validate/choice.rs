//! `Choice`: a terminal state with a non-empty array of `Choices` whose rules
//! (And/Or/Not, one comparison operator, or a JSONata `Condition`) name the
//! next state, and an optional `Default`.

use serde_json::Value;

use super::{StateCheck, StateType, Validator, is_path};
use crate::states::choice::Operator;

pub(super) const TYPE: StateType = StateType {
    name: "Choice",
    jsonpath_fields: &["InputPath", "OutputPath", "Choices", "Default", "Assign"],
    jsonata_fields: &["Choices", "Default", "Output", "Assign"],
    terminal: true,
    check,
};

fn check(v: &mut Validator, s: &mut StateCheck) {
    let (st, loc) = (s.st, s.loc);
    match st.get("Choices") {
        Some(Value::Array(rules)) if !rules.is_empty() => {
            for (i, rule) in rules.iter().enumerate() {
                let field = format!("Choices[{i}]");
                choice_rule(v, rule, loc, &field, true, s.jsonata);
                if let Some(n) = rule.get("Next") {
                    s.target(v, &format!("{field}.Next"), n);
                }
            }
        }
        _ => v.push(loc, "Choices", "is required and must be a non-empty array"),
    }
    if let Some(d) = st.get("Default") {
        s.target(v, "Default", d);
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
