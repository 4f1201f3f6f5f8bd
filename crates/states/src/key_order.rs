//! Object key order as AWS produces it. Objects keep their insertion order
//! (serde_json's `preserve_order`), except where AWS builds an object in a
//! Java `HashMap`: the `.$` fields of a payload template and the result of
//! `States.JsonMerge` come out in that map's iteration order. The corpus
//! shows it: `{"Iterations.$": ..., "Values.$": ...}` yields
//! `{"Values": ..., "Iterations": ...}`, while literal fields keep their place
//! ahead of them.

use serde_json::{Map, Value};

/// The order in which a `java.util.HashMap<String, _>` built by inserting
/// `entries` one by one (default capacity 16, load factor 0.75) iterates them:
/// by bucket, then by insertion within a bucket. A later duplicate key
/// replaces the value and keeps the first one's place, as `put` does.
pub(crate) fn java_hash_map(
    entries: impl IntoIterator<Item = (String, Value)>,
) -> Map<String, Value> {
    let mut inserted = Map::new();
    for (k, v) in entries {
        inserted.insert(k, v);
    }
    let mut capacity = 16usize;
    while inserted.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut entries: Vec<(String, Value)> = inserted.into_iter().collect();
    // A stable sort keeps insertion order within a bucket.
    entries.sort_by_key(|(k, _)| spread(java_string_hash(k)) as usize & (capacity - 1));
    entries.into_iter().collect()
}

/// `String.hashCode()`: over UTF-16 code units, `h = 31 * h + c`.
fn java_string_hash(s: &str) -> u32 {
    s.encode_utf16()
        .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)))
}

/// `HashMap.hash()`: the high half folded into the low half.
fn spread(h: u32) -> u32 {
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(m: &Map<String, Value>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    fn order(names: &[&str]) -> Vec<String> {
        java_hash_map(names.iter().map(|k| ((*k).to_owned(), Value::Null)))
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn string_hashes_are_javas() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        // "hello".hashCode() == 99162322
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // Wraps like Java's int: "constant_in_literal".hashCode() == -960535792
        assert_eq!(java_string_hash("constant_in_literal") as i32, -960_535_792);
        // Non-BMP characters count as two UTF-16 units.
        assert_eq!(java_string_hash("\u{1F197}"), 0xD83C * 31 + 0xDD97);
    }

    #[test]
    fn the_orders_recorded_from_aws_come_out() {
        // Each pair: the template's `.$` fields, and the order AWS returned.
        for (fields, aws) in [
            (&["Iterations", "Values"][..], &["Values", "Iterations"][..]),
            (&["Question", "Answer"], &["Answer", "Question"]),
            (&["Payload", "FunctionName"], &["FunctionName", "Payload"]),
            (
                &["LambdaOutput", "ContextObjectValue"],
                &["ContextObjectValue", "LambdaOutput"],
            ),
            (
                &["FunctionName", "Payload", "LogType"],
                &["FunctionName", "LogType", "Payload"],
            ),
            (
                &[
                    "original_input",
                    "iteration_input_value",
                    "iteration_index",
                    "from_input_constant",
                ],
                &[
                    "iteration_input_value",
                    "from_input_constant",
                    "iteration_index",
                    "original_input",
                ],
            ),
            (
                &["mergedJson", "parsedJson", "stringifiedJson"],
                &["parsedJson", "mergedJson", "stringifiedJson"],
            ),
            (
                &["constant_in_literal", "constant_input_field"],
                &["constant_input_field", "constant_in_literal"],
            ),
        ] {
            assert_eq!(order(fields), aws, "{fields:?}");
        }
    }

    #[test]
    fn a_replaced_key_keeps_its_bucket_place_and_takes_the_new_value() {
        let m = java_hash_map([
            ("b".to_owned(), json!(1)),
            ("a".to_owned(), json!(2)),
            ("b".to_owned(), json!(3)),
        ]);
        assert_eq!(keys(&m), ["a", "b"]);
        assert_eq!(m["b"], json!(3));
    }

    #[test]
    fn more_than_twelve_keys_grow_the_table() {
        // "q" (113) shares bucket 1 with "a" (97) in 16 buckets, not in 32.
        assert_eq!(order(&["q", "a", "b"]), ["q", "a", "b"]);
        let thirteen = [
            "q", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l",
        ];
        assert_eq!(
            order(&thirteen),
            [
                "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "q"
            ]
        );
    }
}
