//! Object key order across the `jsonata-rs` engine. Its objects are hash maps,
//! so a value that goes in as `{"b": 1, "a": 2}` comes back in hash order,
//! while AWS's JSONata keeps insertion order. The engine shares values rather
//! than copying them, so an object that passes through unchanged is the very
//! object we built: [`from_json`] records the key order of every object it
//! builds, by address, and [`to_json`] puts those keys back in that order.
//! An object the expression builds gets the order of the object constructor
//! (`{"b": .., "a": ..}`) or input object it came from, or, for a union
//! (`$merge`, transforms), the input object holding most of its keys first,
//! then the next; keys found nowhere (group-by keys) come last, sorted.
//!
//! Limits: inside an expression, `$keys`, `$each`, `$spread` and `$string`
//! of an object still see the engine's hash order.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, Value as JValue};
use serde_json::Value;

/// What one evaluation knows about key order.
#[derive(Default)]
struct Hints {
    /// Key order of the objects we handed to the engine, by address.
    known: HashMap<usize, Vec<String>>,
    /// Key sequences to order new objects by: the expression's object
    /// constructors first (in text order), then the objects we handed over.
    sequences: Vec<Vec<String>>,
    seen: HashSet<Vec<String>>,
    /// For each key, the sequences that hold it.
    by_key: HashMap<String, Vec<usize>>,
    /// How many of `sequences` come from constructors.
    constructors: usize,
}

impl Hints {
    fn add_sequence(&mut self, keys: Vec<String>) {
        if keys.is_empty() || !self.seen.insert(keys.clone()) {
            return;
        }
        let id = self.sequences.len();
        for k in &keys {
            self.by_key.entry(k.clone()).or_default().push(id);
        }
        self.sequences.push(keys);
    }

    /// How well sequence `id`, holding `n` of the `wanted` keys, fits them
    /// (higher is better). One that holds them all is the object they came
    /// from: the closest such (a constructor before input data on a tie).
    /// Otherwise the object is a union (`$merge`, a transform): the input
    /// data holding most of them comes first, as it does in those.
    fn rank(&self, id: usize, n: usize, wanted: usize) -> (bool, i64, bool, Reverse<usize>) {
        let from_data = id >= self.constructors;
        if n == wanted {
            let excess = (self.sequences[id].len() - n) as i64;
            (true, -excess, !from_data, Reverse(id))
        } else {
            (false, n as i64, from_data, Reverse(id))
        }
    }

    /// The order for an object of the engine's with these keys.
    fn order(&self, address: usize, mut keys: Vec<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(keys.len());
        if let Some(known) = self.known.get(&address) {
            take_in_order(known, &mut keys, &mut out);
        }
        while !keys.is_empty() {
            // The sequence holding most of the remaining keys; the earliest on a tie.
            let mut counts: HashMap<usize, usize> = HashMap::new();
            for k in &keys {
                for &id in self.by_key.get(k).into_iter().flatten() {
                    *counts.entry(id).or_default() += 1;
                }
            }
            let Some((&best, _)) = counts
                .iter()
                .max_by_key(|&(&id, &n)| self.rank(id, n, keys.len()))
            else {
                keys.sort();
                out.append(&mut keys);
                break;
            };
            take_in_order(&self.sequences[best], &mut keys, &mut out);
        }
        out
    }
}

/// Move the keys of `keys` that `sequence` holds to `out`, in its order.
fn take_in_order(sequence: &[String], keys: &mut Vec<String>, out: &mut Vec<String>) {
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let mut taken: HashSet<String> = HashSet::new();
    for k in sequence {
        if wanted.contains(k.as_str()) && taken.insert(k.clone()) {
            out.push(k.clone());
        }
    }
    keys.retain(|k| !taken.contains(k));
}

thread_local! {
    static HINTS: RefCell<Option<Hints>> = const { RefCell::new(None) };
}

/// Collects order hints while it lives: one per evaluation.
pub(super) struct Scope {
    previous: Option<Hints>,
}

impl Scope {
    pub(super) fn enter(expr: &str) -> Scope {
        let mut hints = Hints::default();
        for keys in constructor_keys(expr) {
            hints.add_sequence(keys);
        }
        hints.constructors = hints.sequences.len();
        Scope {
            previous: HINTS.with(|h| h.borrow_mut().replace(hints)),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        HINTS.with(|h| *h.borrow_mut() = previous);
    }
}

/// A JSON value as the engine's, remembering each object's key order.
pub(super) fn from_json<'a>(arena: &'a Bump, v: &Value) -> &'a JValue<'a> {
    match v {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(a) => {
            let arr = JValue::array_with_capacity(arena, a.len(), ArrayFlags::empty());
            for x in a {
                arr.push(from_json(arena, x));
            }
            arr
        }
        Value::Object(m) => {
            let obj = JValue::object_with_capacity(arena, m.len());
            for (k, x) in m {
                obj.insert(k, from_json(arena, x));
            }
            let keys: Vec<String> = m.keys().cloned().collect();
            HINTS.with(|h| {
                if let Some(hints) = h.borrow_mut().as_mut() {
                    hints.known.insert(address(obj), keys.clone());
                    hints.add_sequence(keys);
                }
            });
            obj
        }
    }
}

/// An engine value as JSON (undefined as `null`), with key order restored.
pub(super) fn to_json<'a>(v: &'a JValue<'a>) -> Result<Value, String> {
    if v.is_undefined() {
        return Ok(Value::Null);
    }
    let mut json: Value = serde_json::from_str(&v.serialize(false)).map_err(|e| e.to_string())?;
    HINTS.with(|h| {
        if let Some(hints) = h.borrow().as_ref() {
            restore(hints, v, &mut json);
        }
    });
    Ok(json)
}

fn address(v: &JValue<'_>) -> usize {
    std::ptr::from_ref(v) as usize
}

/// Reorder the objects of `json` (the serialization of `v`) by the hints.
fn restore<'a>(hints: &Hints, v: &'a JValue<'a>, json: &mut Value) {
    match (v, json) {
        (JValue::Object(entries), Value::Object(m)) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let mut old = std::mem::take(m);
            for k in hints.order(address(v), keys) {
                if let Some(mut child) = old.swap_remove(&k) {
                    if let Some(jv) = entries.get(k.as_str()) {
                        restore(hints, jv, &mut child);
                    }
                    m.insert(k, child);
                }
            }
        }
        (JValue::Array(..) | JValue::Range(..), Value::Array(items)) => {
            let members: Vec<&JValue<'a>> = v.members().filter(|m| !m.is_undefined()).collect();
            if members.len() == items.len() {
                for (jv, child) in members.into_iter().zip(items) {
                    restore(hints, jv, child);
                }
            }
        }
        _ => {}
    }
}

/// The keys of each object constructor in a JSONata expression, in text
/// order: the string literals followed by `:` directly inside each `{ }`.
fn constructor_keys(expr: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = expr.chars().collect();
    let mut open: Vec<(usize, Vec<String>)> = Vec::new();
    let mut done: Vec<(usize, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            q @ ('"' | '\'' | '`') => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != q {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                        s.push(match chars[i] {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            c => c,
                        });
                    } else {
                        s.push(chars[i]);
                    }
                    i += 1;
                }
                i += 1;
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let is_key =
                    q != '`' && chars.get(j) == Some(&':') && chars.get(j + 1) != Some(&'=');
                if let (true, Some((_, keys))) = (is_key, open.last_mut()) {
                    keys.push(s);
                }
                continue;
            }
            '{' => open.push((i, Vec::new())),
            '}' => {
                if let Some(o) = open.pop() {
                    done.push(o);
                }
            }
            _ => {}
        }
        i += 1;
    }
    done.extend(open);
    done.sort_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, keys)| keys).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructor_keys_are_read_per_object_in_text_order() {
        assert_eq!(
            constructor_keys(r#"{"b": 1, 'a': {"z": $x ? "y" : "n", "c": 2}} /* {"q": 1} */"#),
            vec![
                vec!["b".to_owned(), "a".to_owned()],
                vec!["z".to_owned(), "y".to_owned(), "c".to_owned()],
            ]
        );
        assert!(constructor_keys(r#"$x := "a"; `b`: 1"#).is_empty());
    }
}
