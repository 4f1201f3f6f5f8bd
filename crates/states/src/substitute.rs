//! `DefinitionSubstitutions`: replaces `${Name}` placeholders in a definition,
//! as CloudFormation/SAM do before creating the state machine.

use std::collections::BTreeMap;

use crate::error::DefinitionError;

/// Replace every `${Name}` with its value. An unknown name is an error naming
/// it; `$` not followed by `{` (JSONPath, `$$.`) is left alone.
pub fn substitute(
    definition: &str,
    substitutions: &BTreeMap<String, String>,
) -> Result<String, DefinitionError> {
    let mut out = String::with_capacity(definition.len());
    let mut unknown = Vec::new();
    let mut rest = definition;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match substitutions.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        if !unknown.contains(&name.to_owned()) {
                            unknown.push(name.to_owned());
                        }
                        out.push_str(&rest[pos..pos + 2 + end + 1]);
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[pos..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(DefinitionError {
            problems: unknown
                .into_iter()
                .map(|n| crate::error::Problem {
                    location: "DefinitionSubstitutions".into(),
                    field: format!("${{{n}}}"),
                    message: format!("no substitution is defined for \"{n}\""),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_paths_left_alone() {
        let subs = BTreeMap::from([(
            "FetchBarsFunctionArn".to_owned(),
            "arn:aws:lambda:x".to_owned(),
        )]);
        let out = substitute(
            r#"{"Resource": "${FetchBarsFunctionArn}", "P.$": "$$.Execution.Id"}"#,
            &subs,
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"Resource": "arn:aws:lambda:x", "P.$": "$$.Execution.Id"}"#
        );
    }

    #[test]
    fn an_unknown_placeholder_is_an_error_naming_it() {
        let err = substitute("${A} ${B} ${A}", &BTreeMap::new()).unwrap_err();
        assert_eq!(err.problems.len(), 2);
        assert!(err.to_string().contains("\"A\""));
        assert!(err.to_string().contains("\"B\""));
    }
}
