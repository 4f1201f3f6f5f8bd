//! ASL intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...):
//! a small parser for the call syntax and an evaluator for every `States.*` function.

use base64::Engine as _;
// The standard alphabet with canonical padding, as States.Base64Encode writes it;
// decoding rejects other characters, a wrong length or padding, and stray bits.
use base64::engine::general_purpose::STANDARD;
use serde_json::{Number, Value};

use crate::error::Fault;

/// A parsed intrinsic expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// `$...` (state input), `$$...` (context object) or `$name...` (a variable).
    Path(String),
    /// A string literal, escapes resolved except `\{` / `\}` (kept for Format).
    Str(String),
    Literal(Value),
}

/// Where intrinsic paths are resolved.
pub trait Resolver {
    fn resolve(&self, path: &str) -> Result<Value, Fault>;
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn looks_like_call(s: &str) -> bool {
    let s = s.trim_start();
    !s.starts_with('$') && s.contains('(')
}

pub fn parse(src: &str) -> Result<Expr, String> {
    let mut p = Parser {
        chars: src.chars().collect(),
        pos: 0,
    };
    let e = p.expr()?;
    p.ws();
    if p.pos != p.chars.len() {
        return Err(format!(
            "unexpected '{}' at position {}",
            p.chars[p.pos], p.pos
        ));
    }
    match e {
        Expr::Call { .. } => Ok(e),
        _ => Err("an intrinsic function call is expected".into()),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.ws();
        match self.peek() {
            None => Err("unexpected end of expression".into()),
            Some('\'') => self.string(),
            Some('$') => Ok(self.path()),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                self.ws();
                if self.peek() == Some('(') {
                    self.pos += 1;
                    let mut args = Vec::new();
                    self.ws();
                    if self.peek() == Some(')') {
                        self.pos += 1;
                        return Ok(Expr::Call { name: word, args });
                    }
                    loop {
                        args.push(self.expr()?);
                        self.ws();
                        match self.peek() {
                            Some(',') => self.pos += 1,
                            Some(')') => {
                                self.pos += 1;
                                return Ok(Expr::Call { name: word, args });
                            }
                            _ => {
                                return Err(format!(
                                    "expected ',' or ')' in the arguments of {word}"
                                ));
                            }
                        }
                    }
                }
                match word.as_str() {
                    "true" => Ok(Expr::Literal(Value::Bool(true))),
                    "false" => Ok(Expr::Literal(Value::Bool(false))),
                    "null" => Ok(Expr::Literal(Value::Null)),
                    _ => Err(format!("unexpected '{word}'")),
                }
            }
            Some(c) => Err(format!("unexpected '{c}'")),
        }
    }

    fn string(&mut self) -> Result<Expr, String> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated string literal".into()),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Expr::Str(s));
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('{' | '}')) => {
                            s.push('\\');
                            s.push(c);
                        }
                        Some(c) => s.push(c),
                        None => return Err("unterminated string literal".into()),
                    }
                    self.pos += 1;
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn path(&mut self) -> Expr {
        let start = self.pos;
        let mut depth = 0i32;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                if c == q {
                    quote = None;
                }
            } else {
                match c {
                    '\'' | '"' if depth > 0 => quote = Some(c),
                    '[' | '(' => depth += 1,
                    ']' => depth -= 1,
                    ')' if depth == 0 => break,
                    ')' => depth -= 1,
                    ',' if depth == 0 => break,
                    c if c.is_whitespace() && depth == 0 => break,
                    _ => {}
                }
            }
            self.pos += 1;
        }
        Expr::Path(self.chars[start..self.pos].iter().collect())
    }

    fn number(&mut self) -> Result<Expr, String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        serde_json::from_str::<Number>(&text)
            .map(|n| Expr::Literal(Value::Number(n)))
            .map_err(|_| format!("invalid number '{text}'"))
    }
}

/// Evaluate a parsed expression.
pub fn eval(expr: &Expr, resolver: &dyn Resolver) -> Result<Value, Fault> {
    match expr {
        Expr::Path(p) => resolver.resolve(p),
        Expr::Str(s) => Ok(Value::String(unescape_braces(s))),
        Expr::Literal(v) => Ok(v.clone()),
        Expr::Call { name, args } => {
            if name == "States.Format" {
                return format(args, resolver);
            }
            let values = args
                .iter()
                .map(|a| eval(a, resolver))
                .collect::<Result<Vec<_>, _>>()?;
            call(name, values)
        }
    }
}

fn unescape_braces(s: &str) -> String {
    s.replace("\\{", "{").replace("\\}", "}")
}

fn fail(msg: impl Into<String>) -> Fault {
    Fault::intrinsic(msg)
}

fn arity(name: &str, args: &[Value], n: std::ops::RangeInclusive<usize>) -> Result<(), Fault> {
    if n.contains(&args.len()) {
        Ok(())
    } else if n.start() == n.end() {
        Err(fail(format!(
            "Invalid arguments in {name}: expected {} argument(s) but got {}",
            n.start(),
            args.len()
        )))
    } else {
        Err(fail(format!(
            "Invalid arguments in {name}: expected {} to {} arguments but got {}",
            n.start(),
            n.end(),
            args.len()
        )))
    }
}

fn as_str<'a>(name: &str, v: &'a Value) -> Result<&'a str, Fault> {
    v.as_str().ok_or_else(|| {
        fail(format!(
            "Invalid arguments in {name}: expected a string but got {v}"
        ))
    })
}

fn as_array<'a>(name: &str, v: &'a Value) -> Result<&'a Vec<Value>, Fault> {
    v.as_array().ok_or_else(|| {
        fail(format!(
            "Invalid arguments in {name}: expected an array but got {v}"
        ))
    })
}

fn as_int(name: &str, v: &Value) -> Result<i64, Fault> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    if let Some(f) = v.as_f64()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        return Ok(f as i64);
    }
    Err(fail(format!(
        "Invalid arguments in {name}: expected an integer but got {v}"
    )))
}

/// An integer argument, rounding a fractional number half up as Java's
/// `Math.round` does (AWS's MathAdd/MathRandom accept 1.5 as 2).
fn as_rounded_int(name: &str, v: &Value) -> Result<i64, Fault> {
    match v.as_f64() {
        Some(f) if v.as_i64().is_none() && f.is_finite() && f.abs() < 9.0e15 => {
            Ok((f + 0.5).floor() as i64)
        }
        _ => as_int(name, v),
    }
}

/// How States.Format renders a non-string argument: JSON scalars as JSON,
/// objects and arrays as Java's `toString` (`{a=1, b=[x, y]}`), like AWS.
fn format_arg(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(format_arg).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", format_arg(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn format(args: &[Expr], resolver: &dyn Resolver) -> Result<Value, Fault> {
    let name = "States.Format";
    let Some((first, rest)) = args.split_first() else {
        return Err(fail(format!(
            "Invalid arguments in {name}: a template is required"
        )));
    };
    // A literal keeps its `\{` escapes; a template read from a path or variable has none.
    let template = match first {
        Expr::Str(s) => s.clone(),
        other => match eval(other, resolver)? {
            Value::String(s) => s,
            v => {
                return Err(fail(format!(
                    "Invalid arguments in {name}: the template must be a string, got {v}"
                )));
            }
        },
    };
    let values = rest
        .iter()
        .map(|a| eval(a, resolver))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = String::new();
    let chars: Vec<char> = template.chars().collect();
    let mut next = 0;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() && matches!(chars[i + 1], '{' | '}') => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '{' if i + 1 < chars.len() && chars[i + 1] == '}' => {
                let v = values.get(next).ok_or_else(|| {
                    fail(format!(
                        "Invalid arguments in {name}: the number of arguments does not match the number of placeholders"
                    ))
                })?;
                out.push_str(&format_arg(v));
                next += 1;
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if next != values.len() {
        return Err(fail(format!(
            "Invalid arguments in {name}: the number of arguments does not match the number of placeholders"
        )));
    }
    Ok(Value::String(out))
}

/// Call a `States.*` function on evaluated arguments.
pub fn call(name: &str, args: Vec<Value>) -> Result<Value, Fault> {
    match name {
        "States.StringToJson" => {
            arity(name, &args, 1..=1)?;
            let s = as_str(name, &args[0])?;
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(s).map_err(|e| fail(format!("Invalid arguments in {name}: {e}")))
        }
        "States.JsonToString" => {
            arity(name, &args, 1..=1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            arity(name, &args, 2..=2)?;
            let arr = as_array(name, &args[0])?;
            let size = as_int(name, &args[1])?;
            if size <= 0 {
                return Err(fail(format!(
                    "Invalid arguments in {name}: the chunk size must be positive"
                )));
            }
            Ok(Value::Array(
                arr.chunks(size as usize)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        "States.ArrayContains" => {
            arity(name, &args, 2..=2)?;
            let arr = as_array(name, &args[0])?;
            Ok(Value::Bool(arr.iter().any(|v| json_eq(v, &args[1]))))
        }
        "States.ArrayRange" => {
            arity(name, &args, 3..=3)?;
            let (start, end, step) = (
                as_int(name, &args[0])?,
                as_int(name, &args[1])?,
                as_int(name, &args[2])?,
            );
            if step == 0 {
                return Err(fail(format!(
                    "Invalid arguments in {name}: the step must not be 0"
                )));
            }
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0 && x <= end) || (step < 0 && x >= end) {
                out.push(Value::from(x));
                if out.len() > 1000 {
                    return Err(fail(format!(
                        "Invalid arguments in {name}: the array cannot contain more than 1000 items"
                    )));
                }
                x += step;
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            arity(name, &args, 2..=2)?;
            let arr = as_array(name, &args[0])?;
            let i = as_int(name, &args[1])?;
            usize::try_from(i)
                .ok()
                .and_then(|i| arr.get(i))
                .cloned()
                .ok_or_else(|| {
                    fail(format!(
                        "Invalid arguments in {name}: index {i} out of bounds"
                    ))
                })
        }
        "States.ArrayLength" => {
            arity(name, &args, 1..=1)?;
            Ok(Value::from(as_array(name, &args[0])?.len()))
        }
        "States.ArrayUnique" => {
            arity(name, &args, 1..=1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in as_array(name, &args[0])? {
                if !out.iter().any(|o| json_eq(o, v)) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            arity(name, &args, 1..=1)?;
            let data = base64_input(name, &args[0])?;
            Ok(Value::String(STANDARD.encode(data)))
        }
        "States.Base64Decode" => {
            arity(name, &args, 1..=1)?;
            let bytes = STANDARD
                .decode(base64_input(name, &args[0])?)
                .map_err(|e| {
                    fail(format!(
                        "Invalid arguments in {name}: not valid base64 ({e})"
                    ))
                })?;
            String::from_utf8(bytes).map(Value::String).map_err(|_| {
                fail(format!(
                    "Invalid arguments in {name}: the decoded data is not UTF-8"
                ))
            })
        }
        "States.Hash" => {
            arity(name, &args, 2..=2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let algorithm = as_str(name, &args[1])?;
            hex_digest(algorithm, data.as_bytes())
                .map(Value::String)
                .ok_or_else(|| {
                    fail(format!(
                        "Invalid arguments in {name}: unsupported hash algorithm {algorithm}"
                    ))
                })
        }
        "States.JsonMerge" => {
            arity(name, &args, 3..=3)?;
            let (Value::Object(a), Value::Object(b)) = (&args[0], &args[1]) else {
                return Err(fail(format!(
                    "Invalid arguments in {name}: both inputs must be objects"
                )));
            };
            if args[2] != Value::Bool(false) {
                return Err(fail(format!(
                    "Invalid arguments in {name}: deep merge is not supported"
                )));
            }
            // AWS merges into a Java HashMap: the result comes out in its order.
            let merged = a.iter().chain(b).map(|(k, v)| (k.clone(), v.clone()));
            Ok(Value::Object(crate::key_order::java_hash_map(merged)))
        }
        "States.MathRandom" => {
            arity(name, &args, 2..=3)?;
            let (start, end) = (
                as_rounded_int(name, &args[0])?,
                as_rounded_int(name, &args[1])?,
            );
            if end <= start {
                return Err(fail(format!(
                    "Invalid arguments in {name}: the end must be greater than the start"
                )));
            }
            let seed = match args.get(2) {
                Some(seed) => as_int(name, seed)? as u64,
                None => fastrand::u64(..),
            };
            Ok(Value::from(fastrand::Rng::with_seed(seed).i64(start..end)))
        }
        "States.MathAdd" => {
            arity(name, &args, 2..=2)?;
            let (a, b) = (
                as_rounded_int(name, &args[0])?,
                as_rounded_int(name, &args[1])?,
            );
            a.checked_add(b)
                .map(Value::from)
                .ok_or_else(|| fail(format!("Invalid arguments in {name}: integer overflow")))
        }
        "States.StringSplit" => {
            arity(name, &args, 2..=2)?;
            let s = as_str(name, &args[0])?;
            let delims: Vec<char> = as_str(name, &args[1])?.chars().collect();
            Ok(Value::Array(
                s.split(|c| delims.contains(&c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            ))
        }
        "States.UUID" => {
            arity(name, &args, 0..=0)?;
            Ok(Value::String(uuid::Uuid::new_v4().to_string()))
        }
        _ => Err(fail(format!("Unsupported intrinsic function {name}"))),
    }
}

/// JSON equality with numbers compared numerically (1 == 1.0).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The most characters `States.Base64Encode` and `States.Base64Decode` take.
const BASE64_MAX_CHARS: usize = 10_000;

/// A Base64 function's argument: a string of at most [`BASE64_MAX_CHARS`].
fn base64_input<'a>(name: &str, v: &'a Value) -> Result<&'a str, Fault> {
    let s = as_str(name, v)?;
    if s.chars().count() > BASE64_MAX_CHARS {
        return Err(fail(format!(
            "Invalid arguments in {name}: the input is longer than {BASE64_MAX_CHARS} characters"
        )));
    }
    Ok(s)
}

/// Lowercase hex digest of `data`, or `None` for an algorithm AWS does not offer.
fn hex_digest(algorithm: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    let bytes = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    };
    Some(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Input(Value);
    impl Resolver for Input {
        fn resolve(&self, path: &str) -> Result<Value, Fault> {
            crate::paths::query(path, &self.0).map_err(|_| Fault::runtime(path.to_owned()))
        }
    }

    fn run(src: &str, input: Value) -> Result<Value, Fault> {
        eval(&parse(src).expect("parses"), &Input(input))
    }

    #[test]
    fn format_fills_placeholders_with_strings_raw_and_other_values_as_json() {
        let out = run(
            "States.Format('Hi {}, you are {} \\{x\\}', $.name, $.age)",
            json!({"name": "Ann", "age": 30}),
        );
        assert_eq!(out.unwrap(), json!("Hi Ann, you are 30 {x}"));
    }

    #[test]
    fn format_with_too_few_arguments_is_an_intrinsic_failure() {
        let err = run("States.Format('{} {}', 'a')", json!({})).unwrap_err();
        assert_eq!(err.error.as_deref(), Some("States.IntrinsicFailure"));
    }

    #[test]
    fn nested_calls_evaluate_inside_out() {
        let out = run(
            "States.ArrayLength(States.ArrayPartition(States.ArrayRange(1, 9, 2), 2))",
            json!({}),
        );
        assert_eq!(out.unwrap(), json!(3));
    }

    #[test]
    fn array_functions_follow_aws_semantics() {
        assert_eq!(
            run("States.Array(1, 'a', true, null)", json!({})).unwrap(),
            json!([1, "a", true, null])
        );
        assert_eq!(
            run("States.ArrayContains($.a, 2)", json!({"a": [1, 2.0]})).unwrap(),
            json!(true)
        );
        assert_eq!(
            run("States.ArrayUnique($.a)", json!({"a": [1, 1, 2, 1]})).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            run("States.ArrayGetItem($.a, 1)", json!({"a": [5, 6]})).unwrap(),
            json!(6)
        );
        assert_eq!(
            run("States.ArrayRange(5, 1, -2)", json!({})).unwrap(),
            json!([5, 3, 1])
        );
    }

    #[test]
    fn base64_round_trips() {
        // Recorded from AWS: test_encode_decode.py (both directions, and the empty string).
        let enc = run("States.Base64Encode('Data to encode')", json!({})).unwrap();
        assert_eq!(enc, json!("RGF0YSB0byBlbmNvZGU="));
        let dec = run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})).unwrap();
        assert_eq!(dec, json!("Data to encode"));
        assert_eq!(
            run("States.Base64Encode('')", json!({})).unwrap(),
            json!("")
        );
        assert_eq!(
            run("States.Base64Decode('')", json!({})).unwrap(),
            json!("")
        );
        assert_eq!(
            run("States.Base64Decode('w6k/Pw==')", json!({})).unwrap(),
            json!("é??")
        );
    }

    #[test]
    fn base64_decode_rejects_what_is_not_canonical_base64() {
        for bad in [
            "RGF0YSB0byBlbmNvZGU",   // padding left out
            "RGF0YSB0byBlbmNvZGU==", // too much padding
            "RGF0YSB0b",             // a length no encoding has
            "RGF0 YSB0byBlbmNvZGU=", // a space
            "RGF0YSB0byBlbmNvZGU!",  // outside the alphabet
            "RGF0YSB0byBlbmNvZGV=",  // stray bits in the last character
            "_-8=",                  // the URL-safe alphabet
        ] {
            let err = run(&format!("States.Base64Decode('{bad}')"), json!({})).unwrap_err();
            assert_eq!(
                err.error.as_deref(),
                Some("States.IntrinsicFailure"),
                "{bad}"
            );
        }
        // Bytes that are not UTF-8 text.
        let err = run("States.Base64Decode('/w==')", json!({})).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn base64_takes_at_most_10000_characters() {
        let ok = json!({"s": "a".repeat(10_000), "b": "QUFB".repeat(2_500)});
        assert!(run("States.Base64Encode($.s)", ok.clone()).is_ok());
        assert!(run("States.Base64Decode($.b)", ok).is_ok());
        let long = json!({"s": "a".repeat(10_001), "b": format!("{}QQ==", "QUFB".repeat(2_500))});
        assert!(run("States.Base64Encode($.s)", long.clone()).is_err());
        assert!(run("States.Base64Decode($.b)", long).is_err());
    }

    #[test]
    fn string_split_splits_on_any_delimiter_character() {
        assert_eq!(
            run("States.StringSplit('1,2;3', ',;')", json!({})).unwrap(),
            json!(["1", "2", "3"])
        );
    }

    #[test]
    fn math_functions_work_on_integers() {
        assert_eq!(
            run("States.MathAdd(111, -1)", json!({})).unwrap(),
            json!(110)
        );
        let r = run("States.MathRandom(1, 10)", json!({}))
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..10).contains(&r));
        let a = run("States.MathRandom(1, 1000, 7)", json!({})).unwrap();
        assert_eq!(a, run("States.MathRandom(1, 1000, 7)", json!({})).unwrap());
    }

    #[test]
    fn json_round_trips_and_merges() {
        assert_eq!(
            run("States.StringToJson($.s)", json!({"s": "{\"a\":1}"})).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            run("States.JsonToString($.o)", json!({"o": {"a": 1}})).unwrap(),
            json!("{\"a\":1}")
        );
        let m = run(
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}}),
        );
        assert_eq!(m.unwrap(), json!({"x": 1, "y": 2}));
    }

    #[test]
    fn uuid_is_a_random_version_4_uuid() {
        let draw = || {
            let u = run("States.UUID()", json!({})).unwrap();
            uuid::Uuid::parse_str(u.as_str().unwrap()).unwrap()
        };
        let (a, b) = (draw(), draw());
        assert_eq!(a.get_version(), Some(uuid::Version::Random));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
        let text = run("States.UUID()", json!({})).unwrap();
        let text = text.as_str().unwrap();
        assert_eq!(text.len(), 36, "hyphenated: {text}");
        assert_eq!(text, text.to_lowercase());
    }

    #[test]
    fn hash_digests_match_published_test_vectors() {
        let abc = b"abc";
        for (algorithm, data, digest) in [
            ("MD5", &b""[..], "d41d8cd98f00b204e9800998ecf8427e"),
            ("MD5", abc, "900150983cd24fb0d6963f7d28e17f72"),
            ("SHA-1", abc, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                "SHA-256",
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "SHA-384",
                abc,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                "SHA-512",
                abc,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
            (
                "SHA-1",
                &[b'a'; 1000][..],
                "291e9a6c66994949b57ba5e650361e98fc36b1ba",
            ),
        ] {
            assert_eq!(hex_digest(algorithm, data).as_deref(), Some(digest));
        }
        assert_eq!(hex_digest("CRC32", abc), None);
    }

    #[test]
    fn hash_supports_aws_algorithms() {
        assert_eq!(
            run("States.Hash('abc', 'SHA-256')", json!({})).unwrap(),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            run("States.Hash('abc', 'MD5')", json!({})).unwrap(),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
    }
}
