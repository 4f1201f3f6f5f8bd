//! JSONPath as ASL uses it: *reference paths* (`$.a.b[0]`, for ResultPath and
//! anywhere a single node is meant) evaluated by hand so they can also create
//! nodes, and general paths (`$..x`, `$.a[*]`, filters) through `serde_json_path`.

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// A path that names exactly one node: `$`, `$.a`, `$['a b'].c[2]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePath {
    pub segments: Vec<Segment>,
}

impl ReferencePath {
    /// Parse `$`-rooted dot/bracket notation; `None` if it is not a reference path.
    pub fn parse(path: &str) -> Option<ReferencePath> {
        let rest = path.strip_prefix('$')?;
        let chars: Vec<char> = rest.chars().collect();
        let mut i = 0;
        let mut segments = Vec::new();
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    let start = i;
                    while i < chars.len() && !matches!(chars[i], '.' | '[') {
                        if matches!(
                            chars[i],
                            '*' | '?' | '(' | ')' | '@' | ',' | ']' | '\'' | '"' | ' '
                        ) {
                            return None;
                        }
                        i += 1;
                    }
                    if i == start {
                        return None;
                    }
                    segments.push(Segment::Field(chars[start..i].iter().collect()));
                }
                '[' => {
                    i += 1;
                    if i >= chars.len() {
                        return None;
                    }
                    if chars[i] == '\'' || chars[i] == '"' {
                        let quote = chars[i];
                        i += 1;
                        let mut name = String::new();
                        while i < chars.len() && chars[i] != quote {
                            // Only `\'` (the quote itself) is an escape, as in Jayway.
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&quote) {
                                i += 1;
                            }
                            name.push(chars[i]);
                            i += 1;
                        }
                        if i + 1 >= chars.len() || chars[i + 1] != ']' {
                            return None;
                        }
                        i += 2;
                        segments.push(Segment::Field(name));
                    } else {
                        let start = i;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                        if i == start || i >= chars.len() || chars[i] != ']' {
                            return None;
                        }
                        let n: String = chars[start..i].iter().collect();
                        segments.push(Segment::Index(n.parse().ok()?));
                        i += 1;
                    }
                }
                _ => return None,
            }
        }
        Some(ReferencePath { segments })
    }

    /// Jayway's normalized form, as AWS prints it in causes: `$['a']['b'][0]`.
    pub fn normalized(&self) -> String {
        normalized(&self.segments)
    }

    /// The node this path names, or the normalized prefix where it went missing.
    pub fn get<'v>(&self, value: &'v Value) -> Result<&'v Value, String> {
        let mut cur = value;
        for (i, seg) in self.segments.iter().enumerate() {
            let next = match (seg, cur) {
                (Segment::Field(f), Value::Object(m)) => m.get(f),
                (Segment::Index(n), Value::Array(a)) => a.get(*n),
                _ => None,
            };
            match next {
                Some(v) => cur = v,
                None => return Err(normalized(&self.segments[..=i])),
            }
        }
        Ok(cur)
    }

    /// Put `value` at this path inside `target`, creating objects on the way
    /// (ResultPath semantics). `$` replaces the target. Fails (with the
    /// normalized prefix) when a step goes through a non-object.
    pub fn set(&self, target: Value, value: Value) -> Result<Value, String> {
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut root = target;
        let mut cur = &mut root;
        for (i, seg) in self.segments.iter().enumerate() {
            let last = i + 1 == self.segments.len();
            match seg {
                Segment::Field(f) => {
                    if cur.is_null() && i > 0 {
                        *cur = Value::Object(Map::new());
                    }
                    let Value::Object(m) = cur else {
                        return Err(normalized(&self.segments[..=i]));
                    };
                    if last {
                        m.insert(f.clone(), value);
                        return Ok(root);
                    }
                    cur = m
                        .entry(f.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Segment::Index(n) => {
                    let Value::Array(a) = cur else {
                        return Err(normalized(&self.segments[..=i]));
                    };
                    let Some(slot) = a.get_mut(*n) else {
                        return Err(normalized(&self.segments[..=i]));
                    };
                    if last {
                        *slot = value;
                        return Ok(root);
                    }
                    cur = slot;
                }
            }
        }
        Ok(root)
    }
}

fn normalized(segments: &[Segment]) -> String {
    let mut s = String::from("$");
    for seg in segments {
        match seg {
            Segment::Field(f) => {
                s.push_str("['");
                s.push_str(f);
                s.push_str("']");
            }
            Segment::Index(n) => s.push_str(&format!("[{n}]")),
        }
    }
    s
}

/// Why a path query produced nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The path is not valid JSONPath.
    Invalid(String),
    /// A definite path named a node that does not exist; carries the
    /// normalized path as Jayway prints it (`$['a']['b']`).
    NoResults(String),
    /// A step before the last one is missing; carries the normalized prefix
    /// up to it (Jayway's "Missing property in path $['a']").
    MissingProperty(String),
}

/// Evaluate a JSONPath against `value`. A reference path yields its node;
/// any other path (wildcards, filters, slices, recursive descent) yields the
/// array of every match, as AWS does.
pub fn query(path: &str, value: &Value) -> Result<Value, QueryError> {
    if let Some(r) = ReferencePath::parse(path) {
        let full = r.normalized();
        return r.get(value).cloned().map_err(|prefix| {
            if prefix == full {
                QueryError::NoResults(full)
            } else {
                QueryError::MissingProperty(prefix)
            }
        });
    }
    let compiled = compile(path)?;
    let nodes = compiled.query(value).all();
    if is_definite(path) {
        return match nodes.first() {
            Some(v) => Ok((*v).clone()),
            None => Err(QueryError::NoResults(path.to_owned())),
        };
    }
    Ok(Value::Array(nodes.into_iter().cloned().collect()))
}

/// Whether a path is syntactically valid.
pub fn is_valid(path: &str) -> bool {
    ReferencePath::parse(path).is_some() || compile(path).is_ok()
}

fn compile(path: &str) -> Result<JsonPath, QueryError> {
    JsonPath::parse(path)
        .or_else(|_| JsonPath::parse(&bracketize(path)))
        .map_err(|e| QueryError::Invalid(e.to_string()))
}

fn is_definite(path: &str) -> bool {
    !(path.contains('*')
        || path.contains("..")
        || path.contains("?(")
        || path.contains(':')
        || path.contains(','))
}

/// Rewrite `.name` segments whose names RFC 9535 shorthand rejects (e.g.
/// `.a-b`) into `['a-b']`, the way Jayway accepts them.
fn bracketize(path: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == '.'
            && depth == 0
            && i + 1 < chars.len()
            && chars[i + 1] != '.'
            && chars[i + 1] != '*'
            && chars[i + 1] != '['
        {
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            out.push_str("['");
            out.push_str(&name.replace('\'', "\\'"));
            out.push_str("']");
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_paths_parse_dot_and_bracket_notation() {
        let p = ReferencePath::parse("$.a['b c'][2].d").unwrap();
        assert_eq!(p.normalized(), "$['a']['b c'][2]['d']");
        assert!(ReferencePath::parse("$.a[*]").is_none());
        assert!(ReferencePath::parse("$..a").is_none());
        assert!(ReferencePath::parse("a.b").is_none());
        assert_eq!(ReferencePath::parse("$").unwrap().segments, vec![]);
    }

    #[test]
    fn setting_a_result_path_creates_nested_objects() {
        let p = ReferencePath::parse("$.a.b.c").unwrap();
        let out = p.set(json!({"x": 1, "a": {"y": 2}}), json!(true)).unwrap();
        assert_eq!(out, json!({"x": 1, "a": {"y": 2, "b": {"c": true}}}));
    }

    #[test]
    fn setting_through_a_non_object_fails_naming_the_prefix() {
        let p = ReferencePath::parse("$.a.b").unwrap();
        assert_eq!(
            p.set(json!({"a": "str"}), json!(1)),
            Err("$['a']['b']".to_owned())
        );
    }

    #[test]
    fn a_definite_path_that_matches_nothing_reports_the_normalized_path() {
        assert_eq!(
            query("$.missing", &json!({})),
            Err(QueryError::NoResults("$['missing']".into()))
        );
    }

    #[test]
    fn an_indefinite_path_returns_every_match_as_an_array() {
        let v = json!({"items": [{"p": 1}, {"p": 2}, {"q": 3}]});
        assert_eq!(query("$.items[*].p", &v).unwrap(), json!([1, 2]));
        assert_eq!(query("$..p", &v).unwrap(), json!([1, 2]));
        assert_eq!(query("$.items[?(@.p > 1)]", &v).unwrap(), json!([{"p": 2}]));
    }

    #[test]
    fn names_rfc_shorthand_rejects_still_query() {
        let v = json!({"a-b": [1, 2]});
        assert_eq!(query("$.a-b[*]", &v).unwrap(), json!([1, 2]));
    }
}
