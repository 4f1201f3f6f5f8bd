//! `Choice`: picks the `Next` of the first rule that matches, else `Default`.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::definition::{Common, QueryLanguage};
use crate::error::{Fault, names};
use crate::execution::{StateCtx, Transition};
use crate::io::{self, PathResolver};
use crate::jsonata;
use crate::paths;

#[derive(Debug, Clone, Deserialize)]
pub struct ChoiceState {
    #[serde(flatten)]
    pub common: Common,
    #[serde(rename = "Choices")]
    pub choices: Vec<ChoiceRule>,
    #[serde(rename = "Default", default)]
    pub default: Option<String>,
}

/// A rule: a condition and, at the top level, the `Next` state.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct ChoiceRule {
    pub next: Option<String>,
    pub condition: Condition,
    pub assign: Option<Value>,
    pub output: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum Condition {
    And(Vec<ChoiceRule>),
    Or(Vec<ChoiceRule>),
    Not(Box<ChoiceRule>),
    Compare {
        variable: String,
        operator: Operator,
        operand: Operand,
    },
    /// JSONata `Condition` (a boolean expression).
    Expression(Value),
}

#[derive(Debug, Clone)]
pub enum Operand {
    Literal(Value),
    /// A `...Path` operator's path to the value to compare with.
    Path(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

impl Operator {
    pub const ALL: [Operator; 23] = [
        Operator::StringEquals,
        Operator::StringLessThan,
        Operator::StringGreaterThan,
        Operator::StringLessThanEquals,
        Operator::StringGreaterThanEquals,
        Operator::StringMatches,
        Operator::NumericEquals,
        Operator::NumericLessThan,
        Operator::NumericGreaterThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThanEquals,
        Operator::BooleanEquals,
        Operator::TimestampEquals,
        Operator::TimestampLessThan,
        Operator::TimestampGreaterThan,
        Operator::TimestampLessThanEquals,
        Operator::TimestampGreaterThanEquals,
        Operator::IsNull,
        Operator::IsPresent,
        Operator::IsNumeric,
        Operator::IsString,
        Operator::IsBoolean,
        Operator::IsTimestamp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringLessThan => "StringLessThan",
            Operator::StringGreaterThan => "StringGreaterThan",
            Operator::StringLessThanEquals => "StringLessThanEquals",
            Operator::StringGreaterThanEquals => "StringGreaterThanEquals",
            Operator::StringMatches => "StringMatches",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericLessThan => "NumericLessThan",
            Operator::NumericGreaterThan => "NumericGreaterThan",
            Operator::NumericLessThanEquals => "NumericLessThanEquals",
            Operator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Operator::BooleanEquals => "BooleanEquals",
            Operator::TimestampEquals => "TimestampEquals",
            Operator::TimestampLessThan => "TimestampLessThan",
            Operator::TimestampGreaterThan => "TimestampGreaterThan",
            Operator::TimestampLessThanEquals => "TimestampLessThanEquals",
            Operator::TimestampGreaterThanEquals => "TimestampGreaterThanEquals",
            Operator::IsNull => "IsNull",
            Operator::IsPresent => "IsPresent",
            Operator::IsNumeric => "IsNumeric",
            Operator::IsString => "IsString",
            Operator::IsBoolean => "IsBoolean",
            Operator::IsTimestamp => "IsTimestamp",
        }
    }

    /// Parse a comparison key: `NumericEquals`, `NumericEqualsPath`, ...
    /// Returns the operator and whether it is the `...Path` form.
    pub fn parse(key: &str) -> Option<(Operator, bool)> {
        let (base, is_path) = match key.strip_suffix("Path") {
            Some(b) => (b, true),
            None => (key, false),
        };
        let op = Operator::ALL.into_iter().find(|o| o.name() == base)?;
        if is_path && (op.is_type_test() || op == Operator::StringMatches) {
            return None;
        }
        Some((op, is_path))
    }

    pub fn is_type_test(self) -> bool {
        matches!(
            self,
            Operator::IsNull
                | Operator::IsPresent
                | Operator::IsNumeric
                | Operator::IsString
                | Operator::IsBoolean
                | Operator::IsTimestamp
        )
    }
}

impl TryFrom<Map<String, Value>> for ChoiceRule {
    type Error = String;

    fn try_from(mut m: Map<String, Value>) -> Result<Self, String> {
        let next = match m.shift_remove("Next") {
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err("Next must be a string".into()),
            None => None,
        };
        let assign = m.shift_remove("Assign");
        let output = m.shift_remove("Output");
        m.shift_remove("Comment");
        let rules = |v: Value| -> Result<Vec<ChoiceRule>, String> {
            serde_json::from_value::<Vec<ChoiceRule>>(v).map_err(|e| e.to_string())
        };
        let condition = if let Some(v) = m.shift_remove("And") {
            Condition::And(rules(v)?)
        } else if let Some(v) = m.shift_remove("Or") {
            Condition::Or(rules(v)?)
        } else if let Some(v) = m.shift_remove("Not") {
            Condition::Not(Box::new(
                serde_json::from_value(v).map_err(|e| e.to_string())?,
            ))
        } else if let Some(v) = m.shift_remove("Condition") {
            Condition::Expression(v)
        } else {
            let variable = match m.shift_remove("Variable") {
                Some(Value::String(s)) => s,
                _ => {
                    return Err(
                        "a choice rule needs Variable and a comparison, or And/Or/Not".into(),
                    );
                }
            };
            let (key, value) = m
                .iter()
                .find(|(k, _)| Operator::parse(k).is_some())
                .map(|(k, v)| (k.clone(), v.clone()))
                .ok_or_else(|| "a choice rule needs a comparison operator".to_owned())?;
            m.shift_remove(&key);
            let (operator, is_path) = Operator::parse(&key).expect("checked above");
            let operand = if is_path {
                Operand::Path(
                    value
                        .as_str()
                        .ok_or_else(|| format!("{key} must be a path string"))?
                        .to_owned(),
                )
            } else {
                Operand::Literal(value)
            };
            Condition::Compare {
                variable,
                operator,
                operand,
            }
        };
        if let Some(k) = m.keys().next() {
            return Err(format!("unexpected field {k} in a choice rule"));
        }
        Ok(ChoiceRule {
            next,
            condition,
            assign,
            output,
        })
    }
}

impl ChoiceState {
    pub(crate) fn run(&self, ctx: &StateCtx<'_>, input: Value) -> Result<Transition, Fault> {
        let selected = io::select_path(ctx, &self.common.input_path, input)?;
        if ctx.language == QueryLanguage::JSONPath {
            ctx.inspect("afterInputPath", || selected.clone());
        }
        for rule in &self.choices {
            if rule.matches(ctx, &selected)? {
                return self.leave(ctx, selected, rule.next.clone(), Some(rule));
            }
        }
        match &self.default {
            Some(d) => self.leave(ctx, selected, Some(d.clone()), None),
            None => Err(Fault::new(
                names::NO_CHOICE_MATCHED,
                format!(
                    "An error occurred while executing the state '{}' (entered at the event id #{}). No Choice Rule matched, and no Default Rule was specified",
                    ctx.name, ctx.entered_event_id
                ),
            )),
        }
    }
}

impl ChoiceState {
    /// Go to `next`, with the matched rule's Assign/Output, else the state's.
    fn leave(
        &self,
        ctx: &StateCtx<'_>,
        selected: Value,
        next: Option<String>,
        rule: Option<&ChoiceRule>,
    ) -> Result<Transition, Fault> {
        let assign = rule
            .and_then(|r| r.assign.as_ref())
            .or(self.common.assign.as_ref());
        if ctx.language == QueryLanguage::JSONata {
            let states = jsonata::states_var(ctx, &selected, None, None);
            let assigned = jsonata::assign(ctx, assign, &states)?;
            let output = match rule
                .and_then(|r| r.output.as_ref())
                .or(self.common.output.as_ref())
            {
                Some(t) => jsonata::template(ctx, t, "Output", &states)?,
                None => selected,
            };
            return Ok(Transition {
                output,
                next,
                assigned,
            });
        }
        let assigned = io::assign(ctx, assign, &selected)?;
        let output = io::select_path(ctx, &self.common.output_path, selected)?;
        Ok(Transition {
            output,
            next,
            assigned,
        })
    }
}

impl ChoiceRule {
    pub(crate) fn matches(&self, ctx: &StateCtx<'_>, input: &Value) -> Result<bool, Fault> {
        match &self.condition {
            Condition::And(rules) => {
                for r in rules {
                    if !r.matches(ctx, input)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(rules) => {
                for r in rules {
                    if r.matches(ctx, input)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(r) => Ok(!r.matches(ctx, input)?),
            Condition::Expression(v) => {
                let states = jsonata::states_var(ctx, input, None, None);
                match jsonata::template(ctx, v, "Condition", &states)? {
                    Value::Bool(b) => Ok(b),
                    other => Err(jsonata::query_fault(
                        ctx,
                        Some("Condition"),
                        format!("The Condition field must evaluate to a boolean, but was: {other}"),
                    )),
                }
            }
            Condition::Compare {
                variable,
                operator,
                operand,
            } => {
                let resolver = PathResolver {
                    ctx,
                    input,
                    field: "Variable".into(),
                };
                let value = resolve_optional(&resolver, variable)?;
                if *operator == Operator::IsPresent {
                    return Ok(value.is_some() == (operand_bool(operand)));
                }
                let Some(value) = value else {
                    return Err(ctx.runtime(format!(
                        "Invalid path '{variable}': The choice state's condition path references an invalid value."
                    )));
                };
                let expected = match operand {
                    Operand::Literal(v) => v.clone(),
                    Operand::Path(p) => resolve_optional(&resolver, p)?.ok_or_else(|| {
                        ctx.runtime(format!(
                            "Invalid path '{p}': The choice state's condition path references an invalid value."
                        ))
                    })?,
                };
                Ok(compare(*operator, &value, &expected))
            }
        }
    }
}

fn operand_bool(operand: &Operand) -> bool {
    matches!(operand, Operand::Literal(Value::Bool(true)))
}

fn resolve_optional(resolver: &PathResolver<'_>, path: &str) -> Result<Option<Value>, Fault> {
    let (target, p) = if let Some(rest) = path.strip_prefix("$$") {
        (resolver.ctx.context_object(), format!("${rest}"))
    } else if path.starts_with("$.") || path.starts_with("$[") || path == "$" {
        (resolver.input.clone(), path.to_owned())
    } else {
        return match intrinsics_resolve(resolver, path) {
            Ok(v) => Ok(Some(v)),
            Err(_) => Ok(None),
        };
    };
    match paths::query(&p, &target) {
        Ok(v) => Ok(Some(v)),
        Err(paths::QueryError::NoResults(_) | paths::QueryError::MissingProperty(_)) => Ok(None),
        Err(paths::QueryError::Invalid(m)) => {
            Err(resolver.ctx.runtime(format!("Invalid path '{path}': {m}")))
        }
    }
}

fn intrinsics_resolve(resolver: &PathResolver<'_>, path: &str) -> Result<Value, Fault> {
    crate::intrinsics::Resolver::resolve(resolver, path)
}

fn timestamp(v: &Value) -> Option<DateTime<FixedOffset>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
}

/// Evaluate one comparison. A type mismatch is simply false, as in AWS.
pub fn compare(op: Operator, value: &Value, expected: &Value) -> bool {
    use std::cmp::Ordering as O;
    let ord = |o: Option<O>, want: &[O]| o.is_some_and(|o| want.contains(&o));
    match op {
        Operator::StringEquals
        | Operator::StringLessThan
        | Operator::StringGreaterThan
        | Operator::StringLessThanEquals
        | Operator::StringGreaterThanEquals => {
            let o = match (value.as_str(), expected.as_str()) {
                (Some(a), Some(b)) => Some(a.cmp(b)),
                _ => None,
            };
            ord(o, wanted(op))
        }
        Operator::StringMatches => match (value.as_str(), expected.as_str()) {
            (Some(a), Some(p)) => string_matches(a, p),
            _ => false,
        },
        Operator::NumericEquals
        | Operator::NumericLessThan
        | Operator::NumericGreaterThan
        | Operator::NumericLessThanEquals
        | Operator::NumericGreaterThanEquals => {
            let o = match (value, expected) {
                (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
                    (Some(x), Some(y)) => Some(x.cmp(&y)),
                    _ => a
                        .as_f64()
                        .zip(b.as_f64())
                        .and_then(|(x, y)| x.partial_cmp(&y)),
                },
                _ => None,
            };
            ord(o, wanted(op))
        }
        Operator::BooleanEquals => {
            matches!((value, expected), (Value::Bool(a), Value::Bool(b)) if a == b)
        }
        Operator::TimestampEquals
        | Operator::TimestampLessThan
        | Operator::TimestampGreaterThan
        | Operator::TimestampLessThanEquals
        | Operator::TimestampGreaterThanEquals => {
            let o = match (timestamp(value), timestamp(expected)) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => None,
            };
            ord(o, wanted(op))
        }
        Operator::IsNull => value.is_null() == (expected == &Value::Bool(true)),
        Operator::IsPresent => expected == &Value::Bool(true),
        Operator::IsNumeric => value.is_number() == (expected == &Value::Bool(true)),
        Operator::IsString => value.is_string() == (expected == &Value::Bool(true)),
        Operator::IsBoolean => value.is_boolean() == (expected == &Value::Bool(true)),
        Operator::IsTimestamp => timestamp(value).is_some() == (expected == &Value::Bool(true)),
    }
}

fn wanted(op: Operator) -> &'static [std::cmp::Ordering] {
    use std::cmp::Ordering as O;
    let name = op.name();
    if name.ends_with("LessThanEquals") {
        &[O::Less, O::Equal]
    } else if name.ends_with("GreaterThanEquals") {
        &[O::Greater, O::Equal]
    } else if name.ends_with("LessThan") {
        &[O::Less]
    } else if name.ends_with("GreaterThan") {
        &[O::Greater]
    } else {
        &[O::Equal]
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => toks.push(Tok::Ch(it.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // dp[j] = pattern prefix of length i matches text prefix of length j
    let mut dp = vec![false; s.len() + 1];
    dp[0] = true;
    for t in &toks {
        let mut next = vec![false; s.len() + 1];
        match t {
            Tok::Star => {
                let mut any = false;
                for j in 0..=s.len() {
                    any |= dp[j];
                    next[j] = any;
                }
            }
            Tok::Ch(c) => {
                for j in 1..=s.len() {
                    next[j] = dp[j - 1] && s[j - 1] == *c;
                }
            }
        }
        dp = next;
    }
    dp[s.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_matches_supports_wildcards_and_escapes() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("", "*"));
        assert!(!string_matches("abc", "ab"));
    }

    #[test]
    fn comparisons_of_mismatched_types_are_false() {
        assert!(!compare(Operator::NumericEquals, &json!("1"), &json!(1)));
        assert!(compare(Operator::NumericEquals, &json!(1.0), &json!(1)));
        assert!(compare(
            Operator::NumericLessThanEquals,
            &json!(1),
            &json!(1)
        ));
        assert!(compare(Operator::StringLessThan, &json!("a"), &json!("b")));
        assert!(!compare(
            Operator::TimestampGreaterThan,
            &json!("2024-01-02T00:00:00Z"),
            &json!("2024-01-01T23:00:00-02:00")
        ));
    }

    #[test]
    fn path_variants_of_type_tests_do_not_exist() {
        assert_eq!(
            Operator::parse("StringEqualsPath"),
            Some((Operator::StringEquals, true))
        );
        assert_eq!(Operator::parse("IsNullPath"), None);
        assert_eq!(Operator::parse("IsNull"), Some((Operator::IsNull, false)));
    }
}

#[cfg(test)]
mod run_tests {
    use serde_json::json;

    use crate::testing::run;

    const DEF: &str = r#"{"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "IsNumeric": true}, {"Variable": "$.n", "NumericGreaterThanPath": "$.limit"}], "Next": "Big"},
            {"Not": {"Variable": "$.name", "StringMatches": "A*"}, "Next": "NotA"},
            {"Or": [{"Variable": "$.flag", "BooleanEquals": true}, {"Variable": "$.missing", "IsPresent": true}], "Next": "Flag"}
        ], "Default": "Other"},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "NotA": {"Type": "Pass", "Result": "notA", "End": true},
        "Flag": {"Type": "Pass", "Result": "flag", "End": true},
        "Other": {"Type": "Pass", "Result": "other", "End": true}}}"#;

    #[tokio::test]
    async fn the_first_matching_rule_wins_and_default_catches_the_rest() {
        assert_eq!(
            run(DEF, json!({"n": 5, "limit": 3, "name": "Bob"}))
                .await
                .output,
            Some(json!("big"))
        );
        assert_eq!(
            run(DEF, json!({"n": 1, "limit": 3, "name": "Bob"}))
                .await
                .output,
            Some(json!("notA"))
        );
        assert_eq!(
            run(
                DEF,
                json!({"n": 1, "limit": 3, "name": "Ann", "flag": true})
            )
            .await
            .output,
            Some(json!("flag"))
        );
        assert_eq!(
            run(
                DEF,
                json!({"n": 1, "limit": 3, "name": "Ann", "flag": false})
            )
            .await
            .output,
            Some(json!("other"))
        );
    }

    #[tokio::test]
    async fn no_match_and_no_default_fails_with_no_choice_matched() {
        let def = r#"{"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x", "Next": "D"}]},
            "D": {"Type": "Succeed"}}}"#;
        let r = run(def, json!({"a": "y"})).await;
        assert_eq!(r.error.as_deref(), Some("States.NoChoiceMatched"));
    }
}
