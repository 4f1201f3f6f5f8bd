//! Declarative screens: parsed from TOML and checked before anything runs.
//!
//! ```toml
//! [[screen]]
//! name = "oversold_uptrend"
//! description = "RSI below 30 while above the 200-day average"
//! conditions = ["rsi_14 < 30", "close > sma_200", "avg_volume_20 >= 500000"]
//! sort = { metric = "rsi_14", direction = "asc" }
//! limit = 25
//! ```
//!
//! A condition is `metric op value` or `metric op metric`, `op` one of
//! `< <= > >= == !=`. A condition on a null metric is false.

use serde::Deserialize;

use crate::error::ScreenConfigError;
use crate::kernels::INDICATOR_NAMES;

/// Bar columns usable in conditions besides the indicators.
pub const BAR_METRICS: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// Every metric a screen may use: the latest bar's prices and volume, then the indicators.
pub fn metric_names() -> impl Iterator<Item = &'static str> {
    BAR_METRICS.iter().chain(INDICATOR_NAMES.iter()).copied()
}

const DEFAULT_LIMIT: usize = 25;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// False when either side is null (NaN).
    #[inline]
    pub fn holds(self, a: f64, b: f64) -> bool {
        if a.is_nan() || b.is_nan() {
            return false;
        }
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// The right-hand side of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Value(f64),
    Metric(String),
}

/// `metric op value` or `metric op metric`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The condition as written.
    pub text: String,
    pub metric: String,
    pub op: Op,
    pub rhs: Operand,
}

/// How a screen orders the symbols that pass it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sort {
    pub metric: String,
    pub descending: bool,
}

/// One screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Screen {
    pub name: String,
    pub description: String,
    pub conditions: Vec<Condition>,
    pub sort: Sort,
    /// How many rows the summary's `top` keeps.
    pub limit: usize,
}

/// A checked set of screens, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct ScreenSet {
    pub screens: Vec<Screen>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    screen: Vec<RawScreen>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScreen {
    name: String,
    #[serde(default)]
    description: String,
    conditions: Vec<String>,
    sort: RawSort,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    DEFAULT_LIMIT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSort {
    metric: String,
    #[serde(default = "default_direction")]
    direction: String,
}

fn default_direction() -> String {
    "asc".to_string()
}

/// The screens shipped with the crate (the repository's top-level `screens.toml`).
pub const DEFAULT_SCREENS_TOML: &str = include_str!("../../../screens.toml");

impl ScreenSet {
    /// Parses and checks a screens file.
    pub fn parse_toml(text: &str) -> Result<ScreenSet, ScreenConfigError> {
        let raw: RawFile = toml::from_str(text)?;
        if raw.screen.is_empty() {
            return Err(ScreenConfigError::NoScreens);
        }
        let mut screens: Vec<Screen> = Vec::with_capacity(raw.screen.len());
        for r in raw.screen {
            if !valid_name(&r.name) {
                return Err(ScreenConfigError::BadName { name: r.name });
            }
            if screens.iter().any(|s| s.name == r.name) {
                return Err(ScreenConfigError::DuplicateName { name: r.name });
            }
            if r.conditions.is_empty() {
                return Err(ScreenConfigError::NoConditions { screen: r.name });
            }
            let conditions = r
                .conditions
                .iter()
                .map(|c| parse_condition(&r.name, c))
                .collect::<Result<Vec<_>, _>>()?;
            let sort_metric = r.sort.metric.trim().to_string();
            if !is_metric(&sort_metric) {
                return Err(ScreenConfigError::UnknownSortMetric {
                    screen: r.name,
                    suggestion: suggestion(&sort_metric),
                    metric: sort_metric,
                    valid: valid_metrics(),
                });
            }
            let descending = match r.sort.direction.trim().to_ascii_lowercase().as_str() {
                "asc" | "ascending" => false,
                "desc" | "descending" => true,
                _ => {
                    return Err(ScreenConfigError::BadDirection {
                        screen: r.name,
                        direction: r.sort.direction,
                    });
                }
            };
            screens.push(Screen {
                name: r.name,
                description: r.description.trim().to_string(),
                conditions,
                sort: Sort {
                    metric: sort_metric,
                    descending,
                },
                limit: r.limit,
            });
        }
        Ok(ScreenSet { screens })
    }

    /// The default screens (the repository's `screens.toml`, embedded at build time).
    pub fn default_screens() -> ScreenSet {
        ScreenSet::parse_toml(DEFAULT_SCREENS_TOML).expect("the embedded screens.toml is valid")
    }

    /// Screen names in file order.
    pub fn names(&self) -> Vec<String> {
        self.screens.iter().map(|s| s.name.clone()).collect()
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_metric(name: &str) -> bool {
    metric_names().any(|m| m == name)
}

fn valid_metrics() -> String {
    metric_names().collect::<Vec<_>>().join(", ")
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// Parses `metric op value` / `metric op metric`.
fn parse_condition(screen: &str, text: &str) -> Result<Condition, ScreenConfigError> {
    let malformed = |problem: &str| ScreenConfigError::Malformed {
        screen: screen.to_string(),
        condition: text.to_string(),
        problem: problem.to_string(),
    };
    let s = text.trim();
    let lhs_end = s.find(|c: char| !is_ident_char(c)).unwrap_or(s.len());
    let lhs = &s[..lhs_end];
    if lhs.is_empty() {
        return Err(malformed("it does not start with a metric name"));
    }
    let rest = s[lhs_end..].trim_start();
    let op_end = rest.find(|c: char| !is_op_char(c)).unwrap_or(rest.len());
    let op_text = &rest[..op_end];
    let rhs = rest[op_end..].trim();
    if op_text.is_empty() {
        let word = rest.split_whitespace().next().unwrap_or("");
        if word.is_empty() {
            return Err(malformed("no operator after the metric"));
        }
        return Err(ScreenConfigError::BadOperator {
            screen: screen.to_string(),
            condition: text.to_string(),
            operator: word.to_string(),
        });
    }
    let op = Op::parse(op_text).ok_or_else(|| ScreenConfigError::BadOperator {
        screen: screen.to_string(),
        condition: text.to_string(),
        operator: op_text.to_string(),
    })?;
    if !is_metric(lhs) {
        return Err(ScreenConfigError::UnknownMetric {
            screen: screen.to_string(),
            condition: text.to_string(),
            metric: lhs.to_string(),
            suggestion: suggestion(lhs),
            valid: valid_metrics(),
        });
    }
    if rhs.is_empty() {
        return Err(malformed("no value or metric after the operator"));
    }
    let rhs = if let Some(v) = parse_number(rhs) {
        Operand::Value(v)
    } else if rhs.chars().all(is_ident_char) && rhs.starts_with(|c: char| c.is_ascii_alphabetic()) {
        if !is_metric(rhs) {
            return Err(ScreenConfigError::UnknownMetric {
                screen: screen.to_string(),
                condition: text.to_string(),
                metric: rhs.to_string(),
                suggestion: suggestion(rhs),
                valid: valid_metrics(),
            });
        }
        Operand::Metric(rhs.to_string())
    } else {
        return Err(ScreenConfigError::BadValue {
            screen: screen.to_string(),
            condition: text.to_string(),
            value: rhs.to_string(),
            suggestion: String::new(),
            valid: valid_metrics(),
        });
    };
    Ok(Condition {
        text: s.to_string(),
        metric: lhs.to_string(),
        op,
        rhs,
    })
}

/// A finite number; `_` may group digits (`500_000`).
fn parse_number(s: &str) -> Option<f64> {
    if !s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.')) {
        return None;
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// ", did you mean `x`?" for the nearest metric name, or empty if none is close.
fn suggestion(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let max_distance = if name.len() >= 6 {
        (name.len() / 3).max(3)
    } else {
        2
    };
    let best = metric_names()
        .map(|m| (edit_distance(&lower, m), m))
        .min_by_key(|&(d, _)| d);
    match best {
        Some((d, m)) if d <= max_distance || m.starts_with(&lower) || lower.starts_with(m) => {
            format!(", did you mean `{m}`?")
        }
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(conditions: &str) -> Result<ScreenSet, ScreenConfigError> {
        ScreenSet::parse_toml(&format!(
            "[[screen]]\nname = \"s\"\nconditions = [{conditions}]\nsort = {{ metric = \"close\" }}\n"
        ))
    }

    #[test]
    fn the_default_screens_parse_and_include_deepest_drawdown() {
        let set = ScreenSet::default_screens();
        let names = set.names();
        assert!(names.contains(&"deepest_drawdown".to_string()), "{names:?}");
        assert!(names.len() >= 4);
    }

    #[test]
    fn conditions_parse_with_values_metrics_and_no_spaces() {
        let set = one(r#""close > sma_200", "drawdown_180d<=-0.25", "avg_volume_20 >= 500_000", "rsi_14 != 5e1""#).unwrap();
        let c = &set.screens[0].conditions;
        assert_eq!(c[0].op, Op::Gt);
        assert_eq!(c[0].rhs, Operand::Metric("sma_200".into()));
        assert_eq!(c[1].op, Op::Le);
        assert_eq!(c[1].rhs, Operand::Value(-0.25));
        assert_eq!(c[2].rhs, Operand::Value(500_000.0));
        assert_eq!(c[3].op, Op::Ne);
        assert_eq!(c[3].rhs, Operand::Value(50.0));
    }

    #[test]
    fn an_unknown_metric_is_refused_with_the_nearest_name() {
        let err = one(r#""rsi14 < 30""#).unwrap_err().to_string();
        assert!(err.contains("screen `s`"), "{err}");
        assert!(err.contains("condition `rsi14 < 30`"), "{err}");
        assert!(err.contains("did you mean `rsi_14`"), "{err}");
        assert!(err.contains("valid metrics: open, high"), "{err}");
        let err = one(r#""close > sma200""#).unwrap_err().to_string();
        assert!(err.contains("did you mean `sma_200`"), "{err}");
    }

    #[test]
    fn a_bad_operator_is_refused_naming_the_valid_ones() {
        for (cond, op) in [
            ("close => 5", "=>"),
            ("close = 5", "="),
            ("close <> 5", "<>"),
            ("close gt 5", "gt"),
        ] {
            let err = one(&format!("\"{cond}\"")).unwrap_err().to_string();
            assert!(err.contains(&format!("bad operator `{op}`")), "{err}");
            assert!(err.contains("< <= > >= == !="), "{err}");
        }
    }

    #[test]
    fn a_malformed_value_is_refused() {
        let err = one(r#""close > 5x""#).unwrap_err().to_string();
        assert!(err.contains("malformed value `5x`"), "{err}");
        let err = one(r#""close > inf""#).unwrap_err().to_string();
        assert!(err.contains("unknown metric `inf`"), "{err}");
        let err = one(r#""close >""#).unwrap_err().to_string();
        assert!(err.contains("no value or metric"), "{err}");
    }

    #[test]
    fn bad_sort_direction_name_and_duplicates_are_refused() {
        let base = "conditions = [\"close > 1\"]\n";
        let err = ScreenSet::parse_toml(&format!(
            "[[screen]]\nname = \"a\"\n{base}sort = {{ metric = \"close\", direction = \"up\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("bad direction `up`"), "{err}");
        let err = ScreenSet::parse_toml(&format!(
            "[[screen]]\nname = \"a\"\n{base}sort = {{ metric = \"closing\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("sort: unknown metric `closing`, did you mean `close`?"),
            "{err}"
        );
        let err = ScreenSet::parse_toml(&format!(
            "[[screen]]\nname = \"Bad Name\"\n{base}sort = {{ metric = \"close\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("`Bad Name` is not allowed"), "{err}");
        let twice = format!("[[screen]]\nname = \"a\"\n{base}sort = {{ metric = \"close\" }}\n");
        let err = ScreenSet::parse_toml(&format!("{twice}{twice}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`a` is defined twice"), "{err}");
        let err = ScreenSet::parse_toml(&format!(
            "[[screen]]\nname = \"a\"\n{base}sort = {{ metric = \"close\" }}\nlimt = 3\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("limt"), "{err}");
    }

    #[test]
    fn comparisons_with_null_are_false() {
        for op in [Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq, Op::Ne] {
            assert!(!op.holds(f64::NAN, 1.0));
            assert!(!op.holds(1.0, f64::NAN));
        }
        assert!(Op::Ne.holds(1.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0));
        assert!(!Op::Lt.holds(2.0, 2.0));
    }
}
