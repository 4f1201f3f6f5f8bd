//! `template.yaml` against the rest of the project: the ASL file's `${...}` placeholders, the
//! local task registry, the workspace's binaries, the step error names, the storage layout, the
//! configuration the code reads, and the least-privilege rules for IAM.
//!
//! cfn-lint, `sam validate --lint` and cfn-lint on the translated template
//! (`scripts/check-template.py`) check CloudFormation itself; these check what only this project
//! knows. `SCREENER_CHECK_TEMPLATE` and `SCREENER_CHECK_ASL` point them at other files (how each
//! check was shown to fail: on broken copies in a temporary directory).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use screener_cli::steps::{BACKTEST_STEPS, STEPS, local_substitutions};
use screener_core::workflow::{WorkflowInput, error_names, keys};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn path_from(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(default))
}

/// The template as JSON, CloudFormation's short-form tags turned into their long forms.
fn template() -> Value {
    let path = path_from("SCREENER_CHECK_TEMPLATE", "template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    cfn_json(yaml)
}

/// A state machine's ASL file (`SCREENER_CHECK_ASL` replaces the daily workflow's).
fn asl_text_of(machine: &str) -> String {
    let (_, file, _) = MACHINES.iter().find(|(m, _, _)| *m == machine).unwrap();
    let path = if machine == DAILY {
        path_from("SCREENER_CHECK_ASL", file)
    } else {
        repo().join(file)
    };
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const DAILY: &str = "ScreenerStateMachine";
const BACKTEST: &str = "BacktestStateMachine";

/// A workflow's steps: (step, `DefinitionSubstitutions` key).
type Steps = &'static [(&'static str, &'static str)];

/// Each state machine of the template: its resource, its ASL file, the steps its Tasks call.
const MACHINES: [(&str, &str, Steps); 2] = [
    (DAILY, "statemachine/screener.asl.json", &STEPS),
    (BACKTEST, "statemachine/backtest.asl.json", &BACKTEST_STEPS),
];

/// `!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` ->
/// `{"Fn::Sub": "s"}`, and so on for every `!Name` (`{"Fn::Name": ...}`, `!Condition` ->
/// `{"Condition": ...}`).
fn cfn_json(yaml: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap(),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(cfn_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml_ng::to_string(&other).unwrap().trim().to_string(),
                    };
                    (key, cfn_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = cfn_json(tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: value }),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) = s.split_once('.').expect("!GetAtt A.B");
                        json!({"Fn::GetAtt": [resource, attribute]})
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): value }),
            }
        }
    }
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(template: &'a Value, kind: &str) -> BTreeMap<&'a str, &'a Value> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, r)| (name.as_str(), r))
        .collect()
}

/// The `${Name}` placeholders of a definition (`$${...}` would be a literal; we have none).
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("unclosed ${");
        found.insert(after[..end].to_string());
        rest = &after[end..];
    }
    found
}

/// The names a `!Sub` string refers to.
fn sub_references(value: &Value) -> BTreeSet<String> {
    match &value["Fn::Sub"] {
        Value::String(s) => placeholders(s),
        Value::Array(parts) => placeholders(parts[0].as_str().unwrap_or("")),
        _ => BTreeSet::new(),
    }
}

/// The daily workflow's state machine.
fn state_machine(template: &Value) -> (&str, &Value) {
    (DAILY, machine(template, DAILY))
}

/// A state machine by resource name; the template has exactly [`MACHINES`].
fn machine<'a>(template: &'a Value, name: &str) -> &'a Value {
    let machines = of_type(template, "AWS::Serverless::StateMachine");
    let names: BTreeSet<&str> = machines.keys().copied().collect();
    let expected: BTreeSet<&str> = MACHINES.iter().map(|(m, _, _)| *m).collect();
    assert_eq!(names, expected, "the template's state machines");
    machines[name]
}

/// Every policy statement of a resource (inline `Statement` lists; SAM policy templates apart).
fn statements(resource: &Value) -> Vec<&Value> {
    resource["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["Statement"].as_array().into_iter().flatten())
        .collect()
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn actions(statement: &Value) -> Vec<&str> {
    as_list(&statement["Action"])
        .into_iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn every_asl_placeholder_has_a_substitution_and_a_local_handler_and_nothing_more() {
    let template = template();
    let mut every_key = BTreeSet::new();
    for (name, _, steps) in MACHINES {
        let machine = machine(&template, name);
        let in_asl = placeholders(&asl_text_of(name));
        let in_template: BTreeSet<String> = machine["Properties"]["DefinitionSubstitutions"]
            .as_object()
            .expect("DefinitionSubstitutions")
            .keys()
            .cloned()
            .collect();
        let local: BTreeSet<String> = steps.iter().map(|(_, key)| key.to_string()).collect();
        assert!(!in_asl.is_empty());
        assert_eq!(
            in_asl, in_template,
            "{name}: the ASL's ${{...}} and template.yaml's DefinitionSubstitutions differ"
        );
        assert_eq!(
            in_asl, local,
            "{name}: the ASL's ${{...}} and the local task registry (steps) differ"
        );
        every_key.extend(local);
    }
    let local: BTreeSet<String> = local_substitutions().into_keys().collect();
    assert_eq!(
        every_key, local,
        "the local substitutions are both machines' and no more"
    );
}

/// ASL placeholder -> the deployed function -> its binary is the step the local run calls.
#[test]
fn each_substituted_arn_is_the_function_that_runs_the_same_step_locally() {
    let template = template();
    for (machine_name, _, steps) in MACHINES {
        substituted_arns_run_the_local_steps(&template, machine_name, steps);
    }
}

fn substituted_arns_run_the_local_steps(
    template: &Value,
    machine_name: &str,
    steps: &[(&str, &str)],
) {
    let machine = machine(template, machine_name);
    let template = template.clone();
    let functions = of_type(&template, "AWS::Serverless::Function");
    let substitutions = &machine["Properties"]["DefinitionSubstitutions"];
    let invokable: BTreeSet<String> = as_list(&machine["Properties"]["Policies"])
        .into_iter()
        .filter_map(|p| p["LambdaInvokePolicy"]["FunctionName"]["Ref"].as_str())
        .map(str::to_string)
        .collect();
    for (step, key) in steps {
        let value = &substitutions[key];
        let function = value["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not !GetAtt FUNCTION.Arn: {value}"));
        assert_eq!(value["Fn::GetAtt"][1], "Arn", "{key}");
        let resource = functions
            .get(function)
            .unwrap_or_else(|| panic!("{key} names {function}, not a function of the template"));
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"], *step,
            "{key} -> {function} must build the binary of step {step}"
        );
        assert!(
            invokable.contains(function),
            "{machine_name} has no LambdaInvokePolicy for {function}"
        );
    }
}

/// Every function builds a binary this workspace has, and every Lambda binary is deployed.
#[test]
fn every_function_builds_a_workspace_binary_and_every_lambda_binary_is_deployed() {
    let template = template();
    let mut lambda_binaries = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("functions")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let manifest: toml::Value = toml::from_str(&text).unwrap();
        for bin in manifest
            .get("bin")
            .and_then(|b| b.as_array())
            .into_iter()
            .flatten()
        {
            lambda_binaries.insert(bin["name"].as_str().unwrap().to_string());
        }
    }
    assert!(lambda_binaries.len() >= STEPS.len(), "{lambda_binaries:?}");
    let mut deployed = BTreeSet::new();
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no Metadata.BuildProperties.Binary"));
        assert!(
            lambda_binaries.contains(binary),
            "{name} builds {binary:?}, which no functions/*/Cargo.toml declares ({lambda_binaries:?})"
        );
        deployed.insert(binary.to_string());
    }
    let missing: Vec<_> = lambda_binaries.difference(&deployed).collect();
    assert!(
        missing.is_empty(),
        "functions/ has Lambda binaries template.yaml does not deploy: {missing:?}"
    );
}

/// Every function has its own log group with a retention, and a timeout and memory of its own.
#[test]
fn every_function_logs_json_to_its_own_log_group_with_a_retention() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], json!(["arm64"]));
    assert_eq!(globals["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(globals["Tracing"], "Active");
    let log_groups = of_type(&template, "AWS::Logs::LogGroup");
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let properties = &function["Properties"];
        for property in ["MemorySize", "Timeout"] {
            assert!(
                !properties[property].is_null(),
                "{name}: no {property} of its own"
            );
        }
        let group = properties["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: LoggingConfig.LogGroup is not !Ref LOG_GROUP"));
        let group = log_groups
            .get(group)
            .unwrap_or_else(|| panic!("{name}: log group {group} is not in the template"));
        assert!(
            !group["Properties"]["RetentionInDays"].is_null(),
            "{name}: its log group keeps logs forever"
        );
    }
    let (_, machine) = state_machine(&template);
    let destination = &machine["Properties"]["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]
        ["LogGroupArn"];
    let group = destination["Fn::GetAtt"][0]
        .as_str()
        .expect("the state machine logs");
    assert!(log_groups.contains_key(group), "{group}");
}

/// The data layout the code writes (`SCREENER_STORE` prefix + `keys`) is the one the bucket's
/// lifecycle and the IAM policies name.
#[test]
fn the_lifecycle_and_the_policies_cover_the_storage_layout_the_code_writes() {
    let template = template();
    let store = &template["Globals"]["Function"]["Environment"]["Variables"]["SCREENER_STORE"];
    let store = store["Fn::Sub"]
        .as_str()
        .expect("SCREENER_STORE: !Sub s3://${DataBucket}/PREFIX");
    let prefix = store
        .strip_prefix("s3://${DataBucket}/")
        .expect("SCREENER_STORE is in the data bucket")
        .trim_end_matches('/');
    let runs = format!(
        "{prefix}/{}",
        keys::run_prefix("RUN").trim_end_matches("RUN/")
    );
    let results = format!(
        "{prefix}/{}",
        keys::LATEST.split_once('/').expect("results/latest.json").0
    ) + "/";
    assert_eq!(runs, format!("{prefix}/runs/"));
    let any_date = chrono::NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
    let chart_bars = format!(
        "{prefix}/{}/",
        keys::chart_bars(any_date, "RUN", 0)
            .split_once('/')
            .expect("chart-bars/...")
            .0
    );

    let bucket = &resources(&template)["DataBucket"]["Properties"];
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
    assert!(!bucket["BucketEncryption"].is_null());
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][flag], true,
            "{flag}"
        );
    }
    let rules = bucket["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap();
    let expiring: Vec<&Value> = rules
        .iter()
        .filter(|r| !r["ExpirationInDays"].is_null())
        .collect();
    assert_eq!(
        expiring.len(),
        2,
        "only intermediate run data and the bars kept for charts expire"
    );
    let rule = |prefix: &str| {
        *expiring
            .iter()
            .find(|r| r["Prefix"] == prefix)
            .unwrap_or_else(|| panic!("no expiry rule for {prefix}"))
    };
    // A failed execution can be redriven for 14 days, and a redrive reads the run's data.
    assert!(rule(&runs)["ExpirationInDays"].as_u64().unwrap() > 14);
    assert_eq!(
        rule(&chart_bars)["ExpirationInDays"]["Ref"],
        "ChartBarsRetentionDays"
    );

    // Object permissions name one directory of the store each (runs/, results/, history/,
    // bot/), never the whole store or the whole bucket.
    let in_store = format!("${{DataBucket.Arn}}/{prefix}/");
    let one_directory = |text: &str| {
        text.strip_prefix(&in_store)
            .and_then(|rest| rest.strip_suffix("/*"))
            .is_some_and(|dir| !dir.is_empty() && !dir.contains(['/', '*', '$']))
    };
    let step_functions: BTreeSet<String> = {
        let (_, machine) = state_machine(&template);
        STEPS
            .iter()
            .filter_map(|(_, key)| {
                machine["Properties"]["DefinitionSubstitutions"][key]["Fn::GetAtt"][0].as_str()
            })
            .map(str::to_string)
            .collect()
    };
    let step_allowed = [
        format!("${{DataBucket.Arn}}/{runs}*"),
        format!("${{DataBucket.Arn}}/{results}*"),
        // Alpaca's per-symbol history (screener_alpaca::history::history_prefix).
        format!("${{DataBucket.Arn}}/{prefix}/history/*"),
        // publish's Telegram alerts: subscriptions and per-date markers (screener_telegram::alerts).
        format!("${{DataBucket.Arn}}/{prefix}/bot/*"),
        // validate's valid bars kept for the dashboard's chart (keys::chart_bars).
        format!("${{DataBucket.Arn}}/{chart_bars}*"),
    ];
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        for statement in statements(function) {
            if !actions(statement)
                .iter()
                .any(|a| a.starts_with("s3:") && *a != "s3:ListBucket")
            {
                continue;
            }
            for resource in as_list(&statement["Resource"]) {
                let text = resource["Fn::Sub"].as_str().unwrap_or_default();
                assert!(
                    one_directory(text),
                    "{name}: S3 object access on {resource}, not one directory of {in_store}"
                );
                if step_functions.contains(name) {
                    assert!(
                        step_allowed.iter().any(|a| a == text),
                        "{name}: a workflow step with S3 object access on {resource}, outside {step_allowed:?}"
                    );
                }
            }
        }
    }
}

/// No wildcard actions; `*` resources only where AWS allows nothing narrower, and then with a
/// condition; SSM only under /screener/; PutMetricData only in our namespace;
/// states:StartExecution only on the daily state machine, the backtest machine's own children,
/// and the backtest machine for the bot's /backtest.
#[test]
fn iam_policies_are_least_privilege() {
    let template = template();
    let machine_names: Vec<&str> = MACHINES.iter().map(|(m, _, _)| *m).collect();
    // The backtest machine starts its own Distributed Map children: its role names its own
    // ARN from its `Name` (a !Ref would be circular).
    let backtest_name = machine(&template, BACKTEST)["Properties"]["Name"]["Fn::Sub"]
        .as_str()
        .expect("BacktestStateMachine has a Name: !Sub ...")
        .to_string();
    let namespace = screener_composition::METRICS_NAMESPACE;
    let mut checked = 0;
    let mut resources_with_policies: Vec<(&str, &Value)> =
        of_type(&template, "AWS::Serverless::Function")
            .into_iter()
            .collect();
    for name in &machine_names {
        resources_with_policies.push((name, machine(&template, name)));
    }
    for (name, resource) in resources_with_policies {
        for statement in statements(resource) {
            checked += 1;
            assert_eq!(statement["Effect"], "Allow", "{name}");
            let actions = actions(statement);
            for action in &actions {
                assert!(!action.contains('*'), "{name}: wildcard action {action}");
            }
            let resources = as_list(&statement["Resource"]);
            let star = resources.iter().any(|r| *r == "*");
            if actions.contains(&"cloudwatch:PutMetricData") {
                assert_eq!(actions, ["cloudwatch:PutMetricData"], "{name}");
                assert_eq!(
                    statement["Condition"]["StringEquals"]["cloudwatch:namespace"], namespace,
                    "{name}: PutMetricData outside {namespace}"
                );
            } else if star {
                // Only the log-delivery actions of the state machine's logging take no ARN.
                assert!(
                    machine_names.contains(&name),
                    "{name}: Resource \"*\" for {actions:?}"
                );
                // (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html)
                const LOG_DELIVERY: [&str; 8] = [
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ];
                assert!(
                    actions.iter().all(|a| LOG_DELIVERY.contains(a)),
                    "{name}: Resource \"*\" for {actions:?}"
                );
            }
            for action in actions.iter().filter(|a| a.starts_with("ssm:")) {
                assert_eq!(*action, "ssm:GetParameter", "{name}: {action}");
                for resource in &resources {
                    let text = ssm_path(&template, resource);
                    assert!(
                        text.contains(":parameter/screener/"),
                        "{name}: SSM access beyond /screener/: {resource}"
                    );
                }
            }
            if actions.iter().any(|a| a.starts_with("states:")) {
                for resource in &resources {
                    let direct = resource["Ref"] == DAILY;
                    let executions = sub_references(resource).contains(&format!("{DAILY}.Name"));
                    let text = resource["Fn::Sub"].as_str().unwrap_or_default();
                    let own_machine = name == BACKTEST
                        && text.ends_with(&format!(":stateMachine:{backtest_name}"));
                    let own_children = name == BACKTEST
                        && text.ends_with(&format!(":execution:{backtest_name}/*"));
                    // The bot's /backtest starts the backtest machine and follows its runs.
                    let bot = name == "BotFunction";
                    let bot_backtest = bot && resource["Ref"] == BACKTEST;
                    let bot_backtest_runs =
                        bot && sub_references(resource).contains(&format!("{BACKTEST}.Name"));
                    assert!(
                        direct
                            || executions
                            || own_machine
                            || own_children
                            || bot_backtest
                            || bot_backtest_runs,
                        "{name}: {actions:?} on {resource}, not only on {DAILY} or, for {BACKTEST}, itself (or, for the bot, {BACKTEST})"
                    );
                    if actions.contains(&"states:StartExecution") {
                        assert!(
                            direct || own_machine || bot_backtest,
                            "{name}: StartExecution on {resource}"
                        );
                    }
                }
            }
        }
    }
    assert!(checked >= STEPS.len(), "only {checked} statements found");
}

/// An SSM resource's `!Sub` text with each template parameter replaced by `/screener/` when the
/// parameter's pattern forces that prefix (and by its name otherwise, failing the check).
fn ssm_path(template: &Value, resource: &Value) -> String {
    let mut text = resource["Fn::Sub"].as_str().unwrap_or_default().to_string();
    for name in sub_references(resource) {
        let parameter = &template["Parameters"][&name];
        if parameter.is_null() {
            continue;
        }
        let forced = parameter["AllowedPattern"]
            .as_str()
            .is_some_and(|p| p.starts_with("^/screener/"));
        let value = if forced {
            "/screener/PARAM/"
        } else {
            name.as_str()
        };
        text = text.replace(&format!("${{{name}}}"), value);
    }
    text
}

/// The schedule's input is a valid workflow input, and it runs on weekdays.
#[test]
fn the_schedule_runs_on_weekdays_with_a_valid_workflow_input() {
    let template = template();
    let (_, machine) = state_machine(&template);
    let events = machine["Properties"]["Events"].as_object().expect("Events");
    let schedules: Vec<&Value> = events
        .values()
        .filter(|e| e["Type"] == "ScheduleV2" || e["Type"] == "Schedule")
        .collect();
    assert_eq!(schedules.len(), 1, "{events:?}");
    let schedule = &schedules[0]["Properties"];
    let expression = schedule["ScheduleExpression"]["Ref"]
        .as_str()
        .map(|p| template["Parameters"][p]["Default"].clone())
        .unwrap_or_else(|| schedule["ScheduleExpression"].clone());
    assert!(
        expression.as_str().unwrap().contains("MON-FRI"),
        "{expression}"
    );
    // Each possible input (an !If picks one) parses as the workflow's input type, with every
    // parameter it names filled in with that parameter's default.
    let inputs = match &schedule["Input"] {
        Value::String(s) => vec![Value::String(s.clone())],
        other => other["Fn::If"].as_array().expect("Input: a string or !If")[1..].to_vec(),
    };
    for input in inputs {
        let text = match &input {
            Value::String(s) => s.clone(),
            sub => {
                let mut text = sub["Fn::Sub"].as_str().expect("!Sub").to_string();
                for name in sub_references(sub) {
                    let default = &template["Parameters"][&name]["Default"];
                    let value = match default {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let value = if value == "0" { "7".into() } else { value };
                    text = text.replace(&format!("${{{name}}}"), &value);
                }
                text
            }
        };
        serde_json::from_str::<WorkflowInput>(&text)
            .unwrap_or_else(|e| panic!("the schedule's input {text} is not a workflow input: {e}"));
    }
}

/// Environment variables the template sets are ones the code reads (a typo would be silently
/// ignored in Lambda).
#[test]
fn every_environment_variable_the_template_sets_is_read_by_the_code() {
    // Read by libraries, not by our source: tracing-subscriber's EnvFilter.
    const READ_ELSEWHERE: [&str; 1] = ["RUST_LOG"];
    let template = template();
    let mut names = BTreeSet::new();
    let mut collect = |variables: &Value| {
        for name in variables.as_object().into_iter().flatten().map(|(k, _)| k) {
            names.insert(name.clone());
        }
    };
    collect(&template["Globals"]["Function"]["Environment"]["Variables"]);
    for function in of_type(&template, "AWS::Serverless::Function").values() {
        collect(&function["Properties"]["Environment"]["Variables"]);
    }
    let mut source = String::new();
    for dir in ["crates", "functions"] {
        read_rust_sources(&repo().join(dir), &mut source);
    }
    for name in &names {
        let read = source.contains(&format!("\"{name}\""));
        assert!(
            read || READ_ELSEWHERE.contains(&name.as_str()),
            "template.yaml sets {name}, which no code reads"
        );
    }
}

fn read_rust_sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                read_rust_sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

/// Per Task state: every transient error its handler can raise is retried there, and every
/// error name any handler reports is decided (retried, caught, or fatal on purpose).
#[test]
fn each_task_retries_the_transient_errors_its_step_can_raise() {
    let mut retried_anywhere = BTreeSet::<String>::new();
    let mut caught_anywhere = BTreeSet::<String>::new();
    for (machine_name, _, steps) in MACHINES {
        let asl: Value = serde_json::from_str(&asl_text_of(machine_name)).unwrap();
        let mut tasks = Vec::new();
        collect_tasks(&asl["States"], &mut tasks);
        let key_to_step: BTreeMap<&str, &str> = steps.iter().map(|(s, k)| (*k, *s)).collect();
        // The steps that call the market data source; every step reads or writes the store.
        let market_steps = ["fetch-universe", "fetch-bars"];
        let mut seen = BTreeSet::new();
        for (state, task) in &tasks {
            let resource = task["Resource"].as_str().unwrap_or_default();
            let key = resource.trim_start_matches("${").trim_end_matches('}');
            let step = key_to_step
                .get(key)
                .unwrap_or_else(|| panic!("{state}: {resource} is not one of our steps"));
            seen.insert(*step);
            let retried: BTreeSet<&str> = as_list(&task["Retry"])
                .into_iter()
                .flat_map(|r| as_list(&r["ErrorEquals"]))
                .filter_map(Value::as_str)
                .collect();
            let caught: BTreeSet<&str> = as_list(&task["Catch"])
                .into_iter()
                .flat_map(|c| as_list(&c["ErrorEquals"]))
                .filter_map(Value::as_str)
                .collect();
            assert!(
                !retried.contains("States.ALL"),
                "{state} retries States.ALL"
            );
            let mut transient = vec![error_names::STORE_UNAVAILABLE];
            if market_steps.contains(step) {
                transient.extend([
                    error_names::MARKET_RATE_LIMITED,
                    error_names::MARKET_UNAVAILABLE,
                    error_names::MARKET_BAD_RESPONSE,
                ]);
            }
            for name in transient {
                assert!(
                    retried.contains(name),
                    "{state} ({step}) does not retry {name}"
                );
            }
            retried_anywhere.extend(retried.iter().map(|s| s.to_string()));
            caught_anywhere.extend(caught.iter().map(|s| s.to_string()));
        }
        assert_eq!(
            seen.len(),
            steps.len(),
            "{machine_name}: Tasks for {seen:?} only"
        );
    }
    // Fatal on purpose: a retry cannot fix these; the run fails or the batch is recorded (a
    // failed backtest item counts against its Map Run's tolerated failures).
    let fatal = [
        error_names::INPUT_INVALID,
        error_names::STORE_NOT_FOUND,
        error_names::STORE_CONFLICT,
        error_names::MARKET_UNAUTHORIZED,
        error_names::CONFIG_MISSING_SECRET,
        error_names::CONFIG_INVALID,
        error_names::DATA_CORRUPT,
        error_names::BACKTEST_FAILED,
    ];
    for name in error_names::ALL {
        let decided = retried_anywhere.contains(name)
            || caught_anywhere.contains(name)
            || fatal.contains(&name);
        assert!(
            decided,
            "{name} is neither retried nor caught by name nor listed as fatal on purpose"
        );
    }
    for name in fatal {
        assert!(
            !retried_anywhere.contains(name),
            "{name} cannot be fixed by retrying, yet the ASL retries it"
        );
    }
}

fn collect_tasks<'a>(states: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
    for (name, state) in states.as_object().into_iter().flatten() {
        match state["Type"].as_str() {
            Some("Task") => out.push((name, state)),
            Some("Map") => {
                let processor = if state["ItemProcessor"].is_null() {
                    &state["Iterator"]
                } else {
                    &state["ItemProcessor"]
                };
                collect_tasks(&processor["States"], out);
            }
            Some("Parallel") => {
                for branch in as_list(&state["Branches"]) {
                    collect_tasks(&branch["States"], out);
                }
            }
            _ => {}
        }
    }
}

/// A failed run raises an alarm on this state machine; prod gets more memory and longer logs.
#[test]
fn a_failed_execution_raises_an_alarm_and_is_prod_drives_size_and_retention() {
    let template = template();
    let alarms = of_type(&template, "AWS::CloudWatch::Alarm");
    for (machine_name, _, _) in MACHINES {
        let watches_failures = alarms.values().any(|alarm| {
            let text = alarm["Properties"].to_string();
            text.contains("\"ExecutionsFailed\"")
                && text.contains(&format!("{{\"Ref\":\"{machine_name}\"}}"))
        });
        assert!(
            watches_failures,
            "no alarm on ExecutionsFailed of {machine_name}"
        );
    }
    assert_eq!(
        template["Conditions"]["IsProd"],
        json!({"Fn::Equals": [{"Ref": "Environment"}, "prod"]})
    );
    let text = template.to_string();
    let uses = |property: &str| {
        let needle = format!("\"{property}\":{{\"Fn::If\":[\"IsProd\"");
        text.matches(&needle).count()
    };
    assert!(
        uses("MemorySize") >= STEPS.len(),
        "MemorySize does not depend on IsProd"
    );
    assert!(
        uses("RetentionInDays") >= STEPS.len(),
        "RetentionInDays does not depend on IsProd"
    );
}

/// `text` with every `${Name}` of a `!Sub` replaced by `Name`.
fn substituted_names(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        out.push_str(&rest[start + 2..end]);
        rest = &rest[end + 1..];
    }
    out + rest
}

/// The operator's CloudWatch dashboard is JSON CloudWatch accepts in shape (widgets of metrics),
/// shows the business metrics in the namespace publish sends them to, both state machines'
/// executions and every function of the template; the budget exists only with an amount and an
/// address, and mails AlarmEmail.
#[test]
fn the_operator_dashboard_covers_every_function_both_machines_and_the_business_metrics() {
    let template = template();
    let dashboard = &resources(&template)["OperatorDashboard"];
    assert_eq!(dashboard["Type"], "AWS::CloudWatch::Dashboard");
    let body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody: !Sub |");
    let body: Value = serde_json::from_str(&substituted_names(body))
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}"));
    let widgets = body["widgets"].as_array().expect("widgets");
    let mut shown = BTreeSet::new();
    for widget in widgets {
        assert_eq!(widget["type"], "metric", "{widget}");
        assert_eq!(widget["properties"]["region"], "AWS::Region", "{widget}");
        for metric in widget["properties"]["metrics"].as_array().expect("metrics") {
            for part in metric.as_array().expect("a metric row") {
                if let Some(text) = part.as_str() {
                    shown.insert(text.to_string());
                }
            }
        }
    }
    for (name, _) in of_type(&template, "AWS::Serverless::Function") {
        assert!(shown.contains(name), "{name} is not on the dashboard");
    }
    for machine in ["ScreenerStateMachine", "BacktestStateMachine"] {
        assert!(shown.contains(machine), "{machine} is not on the dashboard");
    }
    assert!(shown.contains(screener_composition::METRICS_NAMESPACE));
    for metric in [
        "SymbolsScreened",
        "SymbolsFailed",
        "RunDuration",
        "Errors",
        "Throttles",
    ] {
        assert!(shown.contains(metric), "{metric}");
    }

    let budget = &resources(&template)["MonthlyCostBudget"];
    assert_eq!(budget["Condition"], "HasBudget");
    let conditions = template["Conditions"]["HasBudget"].to_string();
    assert!(
        conditions.contains("MonthlyBudgetUsd") && conditions.contains("AlarmEmail"),
        "{conditions}"
    );
    for notification in budget["Properties"]["NotificationsWithSubscribers"]
        .as_array()
        .unwrap()
    {
        assert_eq!(
            notification["Subscribers"][0]["Address"]["Ref"], "AlarmEmail",
            "{notification}"
        );
    }
}
