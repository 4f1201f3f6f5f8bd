//! `Map`: one ItemProcessor (or the older Iterator), checked as a state
//! machine; ItemSelector or Parameters; each limit as a literal or a path;
//! the Label; ItemsPath; and the Distributed Map's ItemReader, ItemBatcher
//! and ResultWriter, which only that mode accepts.

use serde_json::{Map, Value};

use super::{StateCheck, StateType, Validator, is_path, positive_int, program, template};
use crate::states::map::{GET_OBJECT, LIST_OBJECTS_V2, PUT_OBJECT, csv_delimiter};

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
    let mut distributed = false;
    if let Some((field, p)) = processor {
        if let Some(config) = p.get("ProcessorConfig") {
            distributed = processor_config(v, loc, field, config);
        }
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
    for field in ["ItemReader", "ItemBatcher", "ResultWriter"] {
        let Some(value) = st.get(field) else { continue };
        if !distributed {
            v.push(
                loc,
                field,
                "is only valid in a Map state whose ProcessorConfig.Mode is DISTRIBUTED",
            );
            continue;
        }
        let Some(obj) = value.as_object() else {
            v.push(loc, field, "must be an object");
            continue;
        };
        let check = Part {
            loc,
            field,
            jsonata,
        };
        match field {
            "ItemReader" => item_reader(v, &check, obj),
            "ItemBatcher" => item_batcher(v, &check, obj),
            _ => result_writer(v, &check, obj),
        }
    }
}

/// Checks `ProcessorConfig`; returns whether the Map is distributed.
fn processor_config(v: &mut Validator, loc: &str, processor: &str, config: &Value) -> bool {
    let at = |name: &str| format!("{processor}.ProcessorConfig.{name}");
    let Some(config) = config.as_object() else {
        v.push(loc, &at(""), "must be an object");
        return false;
    };
    for k in config.keys() {
        if k != "Mode" && k != "ExecutionType" {
            v.push(loc, &at(k), "is not a valid field of a ProcessorConfig");
        }
    }
    let distributed = match config.get("Mode") {
        None => false,
        Some(Value::String(m)) if m == "INLINE" => false,
        Some(Value::String(m)) if m == "DISTRIBUTED" => true,
        Some(other) => {
            v.push(
                loc,
                &at("Mode"),
                format!("must be INLINE or DISTRIBUTED, not {other}"),
            );
            false
        }
    };
    match config.get("ExecutionType") {
        Some(Value::String(t)) if t == "STANDARD" || t == "EXPRESS" => {}
        Some(other) => v.push(
            loc,
            &at("ExecutionType"),
            format!("must be STANDARD or EXPRESS, not {other}"),
        ),
        None if distributed => v.push(
            loc,
            &at("ExecutionType"),
            "is required when Mode is DISTRIBUTED",
        ),
        None => {}
    }
    distributed
}

/// One of the Distributed Map's objects being checked.
struct Part<'a> {
    loc: &'a str,
    field: &'a str,
    jsonata: bool,
}

impl Part<'_> {
    fn push(&self, v: &mut Validator, sub: &str, message: impl Into<String>) {
        let field = if sub.is_empty() {
            self.field.to_owned()
        } else {
            format!("{}.{sub}", self.field)
        };
        v.push(self.loc, &field, message);
    }

    /// Only `allowed` fields, given the query language's name for the
    /// S3 call's parameters (Parameters or Arguments).
    fn fields(&self, v: &mut Validator, obj: &Map<String, Value>, allowed: &[&str]) {
        for k in obj.keys() {
            let language_field = match k.as_str() {
                "Parameters" => !self.jsonata,
                "Arguments" => self.jsonata,
                _ => false,
            };
            if !language_field && !allowed.contains(&k.as_str()) {
                self.push(v, k, "is not a valid field here");
            }
        }
        let parameters = if self.jsonata {
            "Arguments"
        } else {
            "Parameters"
        };
        if let Some(p) = obj.get(parameters) {
            if !p.is_object() {
                self.push(v, parameters, "must be an object");
            } else if !self.jsonata {
                template(v, p, self.loc, &format!("{}.{parameters}", self.field));
            }
        }
    }

    /// A limit given as a literal or (JSONPath only) a path, not both.
    fn limit(
        &self,
        v: &mut Validator,
        obj: &Map<String, Value>,
        name: &str,
        valid: impl Fn(&Value) -> bool,
        rule: &str,
    ) {
        let path = format!("{name}Path");
        if obj.contains_key(name) && obj.contains_key(&path) {
            self.push(v, &path, format!("cannot be used together with {name}"));
        }
        if let Some(value) = obj.get(name) {
            let expression = self.jsonata && value.as_str().is_some_and(|s| s.starts_with("{%"));
            if !expression && !valid(value) {
                self.push(v, name, rule);
            }
        }
        match obj.get(&path) {
            Some(_) if self.jsonata => self.push(v, &path, "is not valid in a state using JSONata"),
            Some(Value::String(p)) if !is_path(p) => {
                self.push(v, &path, format!("\"{p}\" is not a valid JSONPath"))
            }
            Some(Value::String(_)) | None => {}
            Some(_) => self.push(v, &path, "must be a string"),
        }
    }
}

/// The largest `MaxItems` AWS accepts in a definition.
const MAX_ITEMS_LIMIT: u64 = 100_000_000;
/// `MaxInputBytesPerBatch` may be at most 256 KiB.
const MAX_BATCH_BYTES: u64 = 256 * 1024;

fn item_reader(v: &mut Validator, part: &Part<'_>, obj: &Map<String, Value>) {
    part.fields(v, obj, &["Resource", "ReaderConfig"]);
    let resource = obj.get("Resource").and_then(Value::as_str);
    match resource {
        Some(r) if r == GET_OBJECT || r == LIST_OBJECTS_V2 => {}
        Some(r) => part.push(
            v,
            "Resource",
            format!("\"{r}\" is not an ItemReader resource ({GET_OBJECT} or {LIST_OBJECTS_V2})"),
        ),
        None => part.push(v, "Resource", "is required and must be a string"),
    }
    let config = match obj.get("ReaderConfig") {
        None => None,
        Some(Value::Object(c)) => Some(c),
        Some(_) => {
            part.push(v, "ReaderConfig", "must be an object");
            return;
        }
    };
    let input_type = config.and_then(|c| c.get("InputType"));
    if resource == Some(GET_OBJECT) && input_type.is_none() {
        part.push(v, "ReaderConfig.InputType", "is required to read an object");
    }
    let Some(config) = config else { return };
    let at = |name: &str| format!("ReaderConfig.{name}");
    for k in config.keys() {
        if ![
            "InputType",
            "CSVHeaderLocation",
            "CSVHeaders",
            "CSVDelimiter",
            "MaxItems",
            "MaxItemsPath",
        ]
        .contains(&k.as_str())
        {
            part.push(v, &at(k), "is not a valid field of a ReaderConfig");
        }
    }
    let input_type = match input_type {
        None => None,
        Some(Value::String(t))
            if ["CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"].contains(&t.as_str()) =>
        {
            Some(t.as_str())
        }
        Some(other) => {
            part.push(
                v,
                &at("InputType"),
                format!("must be CSV, JSON, JSONL, MANIFEST or PARQUET, not {other}"),
            );
            None
        }
    };
    let csv = input_type == Some("CSV");
    for field in ["CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"] {
        if config.contains_key(field) && !csv && input_type.is_some() {
            part.push(v, &at(field), "is only valid with InputType CSV");
        }
    }
    match config.get("CSVHeaderLocation") {
        None => {}
        Some(Value::String(l)) if l == "FIRST_ROW" && config.contains_key("CSVHeaders") => part
            .push(
                v,
                &at("CSVHeaders"),
                "is only valid with CSVHeaderLocation GIVEN",
            ),
        Some(Value::String(l)) if l == "FIRST_ROW" => {}
        Some(Value::String(l)) if l == "GIVEN" => match config.get("CSVHeaders") {
            Some(Value::Array(h)) if !h.is_empty() && h.iter().all(Value::is_string) => {}
            _ => part.push(
                v,
                &at("CSVHeaders"),
                "must be a non-empty array of strings when CSVHeaderLocation is GIVEN",
            ),
        },
        Some(other) => part.push(
            v,
            &at("CSVHeaderLocation"),
            format!("must be FIRST_ROW or GIVEN, not {other}"),
        ),
    }
    if let Some(d) = config.get("CSVDelimiter")
        && d.as_str().and_then(csv_delimiter).is_none()
    {
        part.push(
            v,
            &at("CSVDelimiter"),
            format!("must be COMMA, PIPE, SEMICOLON, SPACE or TAB, not {d}"),
        );
    }
    let nested = Part {
        loc: part.loc,
        field: &format!("{}.ReaderConfig", part.field),
        jsonata: part.jsonata,
    };
    nested.limit(
        v,
        config,
        "MaxItems",
        |m| m.as_u64().is_some_and(|n| n <= MAX_ITEMS_LIMIT),
        "must be an integer from 0 to 100000000",
    );
}

fn item_batcher(v: &mut Validator, part: &Part<'_>, obj: &Map<String, Value>) {
    part.fields(
        v,
        obj,
        &[
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ],
    );
    if ![
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
    ]
    .iter()
    .any(|k| obj.contains_key(*k))
    {
        part.push(
            v,
            "",
            "needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path forms)",
        );
    }
    part.limit(
        v,
        obj,
        "MaxItemsPerBatch",
        positive_int,
        "must be a positive integer",
    );
    part.limit(
        v,
        obj,
        "MaxInputBytesPerBatch",
        |b| positive_int(b) && b.as_u64().is_some_and(|n| n <= MAX_BATCH_BYTES),
        "must be a positive integer of at most 262144",
    );
    if let Some(b) = obj.get("BatchInput")
        && !part.jsonata
    {
        if !b.is_object() {
            part.push(v, "BatchInput", "must be an object");
        }
        template(v, b, part.loc, &format!("{}.BatchInput", part.field));
    }
}

fn result_writer(v: &mut Validator, part: &Part<'_>, obj: &Map<String, Value>) {
    part.fields(v, obj, &["Resource", "WriterConfig"]);
    let parameters = if part.jsonata {
        "Arguments"
    } else {
        "Parameters"
    };
    match (obj.get("Resource"), obj.get(parameters)) {
        (Some(Value::String(r)), Some(_)) if r == PUT_OBJECT => {}
        (Some(Value::String(r)), Some(_)) => part.push(
            v,
            "Resource",
            format!("\"{r}\" is not a ResultWriter resource ({PUT_OBJECT})"),
        ),
        (Some(_), None) | (None, Some(_)) => part.push(
            v,
            "",
            format!("Resource and {parameters} must be given together"),
        ),
        (None, None) if !obj.contains_key("WriterConfig") => part.push(
            v,
            "",
            format!("needs Resource and {parameters}, or WriterConfig"),
        ),
        _ => {}
    }
    let Some(config) = obj.get("WriterConfig") else {
        return;
    };
    let Some(config) = config.as_object() else {
        part.push(v, "WriterConfig", "must be an object");
        return;
    };
    for (k, value) in config {
        let allowed: &[&str] = match k.as_str() {
            "Transformation" => &["NONE", "COMPACT", "FLATTEN"],
            "OutputType" => &["JSON", "JSONL"],
            _ => {
                part.push(
                    v,
                    &format!("WriterConfig.{k}"),
                    "is not a valid field of a WriterConfig",
                );
                continue;
            }
        };
        if !value.as_str().is_some_and(|s| allowed.contains(&s)) {
            part.push(
                v,
                &format!("WriterConfig.{k}"),
                format!("must be one of {}, not {value}", allowed.join(", ")),
            );
        }
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    fn problems(map_fields: Value, mode: &str) -> Vec<String> {
        let mut state = json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": mode, "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
        for (k, v) in map_fields.as_object().unwrap() {
            state[k] = v.clone();
        }
        let def = json!({"StartAt": "M", "States": {"M": state}});
        crate::validate::validate(&def)
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    fn reader(config: Value) -> Value {
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "Parameters": {"Bucket": "b", "Key.$": "$.key"}, "ReaderConfig": config}})
    }

    #[test]
    fn a_complete_distributed_map_is_valid() {
        let mut fields = reader(json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
            "CSVHeaders": ["a"], "CSVDelimiter": "TAB", "MaxItemsPath": "$.n"}));
        fields["ItemBatcher"] =
            json!({"MaxItemsPerBatchPath": "$.k", "BatchInput": {"x.$": "$.x"}});
        fields["ResultWriter"] = json!({"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "o", "Prefix": "p"}, "WriterConfig": {"OutputType": "JSONL"}});
        let p = problems(fields, "DISTRIBUTED");
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn distributed_only_fields_are_rejected_in_an_inline_map() {
        let p = problems(reader(json!({"InputType": "JSON"})), "INLINE");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("ItemReader: is only valid"), "{p:?}");
    }

    #[test]
    fn reader_configs_aws_refuses_at_creation_are_rejected() {
        for (config, expected) in [
            (
                json!({"InputType": "JSON", "MaxItems": 100000001}),
                "MaxItems: must be an integer",
            ),
            (
                json!({"InputType": "JSON", "MaxItems": -1}),
                "MaxItems: must be an integer",
            ),
            (
                json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}),
                "CSVHeaders: must be a non-empty",
            ),
            (
                json!({"InputType": "CSV", "CSVDelimiter": "COLON"}),
                "CSVDelimiter: must be COMMA",
            ),
            (
                json!({"InputType": "JSON", "CSVDelimiter": "PIPE"}),
                "only valid with InputType CSV",
            ),
            (json!({"InputType": "XML"}), "InputType: must be CSV"),
            (json!({"MaxItems": 1}), "InputType: is required"),
        ] {
            let p = problems(reader(config.clone()), "DISTRIBUTED").join("\n");
            assert!(p.contains(expected), "{config}: {p}");
        }
    }

    #[test]
    fn batcher_and_writer_need_their_essential_fields() {
        let p = problems(json!({"ItemBatcher": {"BatchInput": {}}}), "DISTRIBUTED").join("\n");
        assert!(p.contains("needs MaxItemsPerBatch"), "{p}");
        let p = problems(
            json!({"ItemBatcher": {"MaxInputBytesPerBatch": 300000}}),
            "DISTRIBUTED",
        )
        .join("\n");
        assert!(p.contains("at most 262144"), "{p}");
        let p = problems(json!({"ResultWriter": {}}), "DISTRIBUTED").join("\n");
        assert!(
            p.contains("needs Resource and Parameters, or WriterConfig"),
            "{p}"
        );
        let p = problems(
            json!({"ResultWriter": {"WriterConfig": {"Transformation": "SQUASH"}}}),
            "DISTRIBUTED",
        )
        .join("\n");
        assert!(p.contains("must be one of NONE, COMPACT, FLATTEN"), "{p}");
    }

    #[test]
    fn a_distributed_map_names_its_execution_type() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
        let p: Vec<String> = crate::validate::validate(&def)
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        assert!(p.join("\n").contains("ExecutionType: is required"), "{p:?}");
    }
}
