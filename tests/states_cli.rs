//! `screener states run` on a Distributed Map through the built binary: the items come
//! from a CSV in a directory standing in for S3 (`--s3-root`), the results go back there
//! in AWS's ResultWriter layout, and `--history` shows the Map Run and its child executions.

use std::path::Path;

use serde_json::{Value, json};

use crate::analytics_cli::{assert_exit, screener};

/// Reads `s3://BUCKET/KEY` of a CSV, one child execution per row, results to `results/`.
pub(crate) const DEFINITION: &str = r#"{
  "StartAt": "Sectors",
  "States": {
    "Sectors": {
      "Type": "Map",
      "Label": "Rows",
      "MaxConcurrency": 2,
      "ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"}
      },
      "ItemSelector": {"row.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Tag",
        "States": {
          "Tag": {
            "Type": "Pass",
            "Parameters": {"symbol.$": "$.row.symbol", "tag.$": "States.Format('{}:{}', $.index, $.row.sector)"},
            "End": true
          }
        }
      },
      "ResultWriter": {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket.$": "$.bucket", "Prefix": "results"}
      },
      "End": true
    }
  }
}"#;

/// The rows the definition reads.
pub(crate) const SYMBOLS_CSV: &str = "symbol,sector\nAAPL,tech\nXOM,energy\nJPM,finance\n";

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_distributed_map_reads_a_csv_under_the_s3_root_and_writes_its_results_there() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("s3/market");
    std::fs::create_dir_all(bucket.join("in")).unwrap();
    std::fs::write(bucket.join("in/symbols.csv"), SYMBOLS_CSV).unwrap();
    std::fs::write(dir.path().join("sectors.asl.json"), DEFINITION).unwrap();
    let input = r#"{"bucket": "market", "key": "in/symbols.csv"}"#;
    let args = ["states", "run", "sectors.asl.json", "--input", input];
    let output = screener(
        dir.path(),
        &[&args[..], &["--s3-root", "s3", "--history"]].concat(),
    );
    assert_exit(&output, 0, "screener states run --s3-root");

    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let map_run_arn = result["MapRunArn"].as_str().unwrap();
    assert!(
        map_run_arn.contains(":mapRun:sectors/Rows:"),
        "{map_run_arn}"
    );
    assert_eq!(result["ResultWriterDetails"]["Bucket"], "market");
    let manifest_key = result["ResultWriterDetails"]["Key"].as_str().unwrap();
    let run_id = map_run_arn.rsplit(':').next().unwrap();
    assert_eq!(manifest_key, format!("results/{run_id}/manifest.json"));

    let manifest = read_json(&bucket.join(manifest_key));
    assert_eq!(manifest["DestinationBucket"], "market");
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let succeeded_key = format!("results/{run_id}/SUCCEEDED_0.json");
    assert_eq!(
        manifest["ResultFiles"]["SUCCEEDED"][0]["Key"],
        succeeded_key
    );
    let records = read_json(&bucket.join(&succeeded_key));
    let outputs: Vec<Value> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["Status"], "SUCCEEDED");
            serde_json::from_str(r["Output"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(
        outputs,
        [
            json!({"symbol": "AAPL", "tag": "0:tech"}),
            json!({"symbol": "XOM", "tag": "1:energy"}),
            json!({"symbol": "JPM", "tag": "2:finance"}),
        ]
    );

    // --history: the parent's events, the Map Run, then each child with its own events.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let types: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let map_run = lines
        .iter()
        .find_map(|l| l.get("mapRun"))
        .expect("a mapRun line");
    assert_eq!(map_run["status"], "SUCCEEDED");
    assert_eq!(map_run["itemCounts"]["succeeded"], 3);
    let children: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l.get("childExecution"))
        .collect();
    assert_eq!(children.len(), 3);
    let child_events: Vec<&str> = children[1]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        child_events,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        children[1]["input"],
        json!({"row": {"sector": "energy", "symbol": "XOM"}, "index": 1})
    );
}

#[test]
fn an_s3_root_that_is_not_a_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sectors.asl.json"), DEFINITION).unwrap();
    let output = screener(
        dir.path(),
        &["states", "run", "sectors.asl.json", "--s3-root", "nowhere"],
    );
    assert_exit(&output, 2, "screener states run --s3-root nowhere");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a directory"));
}

#[test]
fn without_an_s3_root_an_item_reader_fails_and_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sectors.asl.json"), DEFINITION).unwrap();
    let input = r#"{"bucket": "market", "key": "in/symbols.csv"}"#;
    let output = screener(
        dir.path(),
        &["states", "run", "sectors.asl.json", "--input", input],
    );
    assert_exit(&output, 1, "screener states run without --s3-root");
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(failure["Error"], "States.ItemReaderFailed");
    assert!(failure["Cause"].as_str().unwrap().contains("--s3-root"));
}

/// Rows from `s3://market/in/items.json`; a row marked flaky fails (no choice matches)
/// until its child execution is redriven, which `$$.Execution.RedriveCount` tells it.
const FLAKY_ROWS: &str = r#"{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Assign": {"tag": "batch-1"}, "Next": "Rows"},
    "Rows": {
      "Type": "Map",
      "MaxConcurrency": 1,
      "ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": "market", "Key": "in/items.json"}
      },
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Check",
        "States": {
          "Check": {"Type": "Choice", "Choices": [{"Or": [
            {"Variable": "$.flaky", "BooleanEquals": false},
            {"Variable": "$$.Execution.RedriveCount", "NumericGreaterThan": 0}
          ], "Next": "Done"}]},
          "Done": {"Type": "Pass", "Parameters": {"symbol.$": "$.symbol", "redrives.$": "$$.Execution.RedriveCount"}, "End": true}
        }
      },
      "Next": "Summary"
    },
    "Summary": {
      "Type": "Pass",
      "Parameters": {"rows.$": "$", "tag.$": "$tag", "redrives.$": "$$.Execution.RedriveCount"},
      "End": true
    }
  }
}"#;

#[test]
fn a_redrive_reruns_only_the_failed_and_pending_children_from_the_saved_record() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("s3/market");
    std::fs::create_dir_all(bucket.join("in")).unwrap();
    let items = json!([
        {"symbol": "AAPL", "flaky": false},
        {"symbol": "XOM", "flaky": true},
        {"symbol": "JPM", "flaky": false}
    ]);
    std::fs::write(bucket.join("in/items.json"), items.to_string()).unwrap();
    std::fs::write(dir.path().join("rows.asl.json"), FLAKY_ROWS).unwrap();

    let run = screener(
        dir.path(),
        &[
            "states",
            "run",
            "rows.asl.json",
            "--s3-root",
            "s3",
            "--record",
            "run.json",
        ],
    );
    assert_exit(&run, 1, "screener states run --record");
    let failure: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(failure["Error"], "States.ExceedToleratedFailureThreshold");
    let saved = read_json(&dir.path().join("run.json"));
    assert_eq!(saved["execution"]["status"], "FAILED");
    assert_eq!(saved["execution"]["resume"]["state"], "Rows");

    let redrive = screener(
        dir.path(),
        &[
            "states",
            "redrive",
            "run.json",
            "--s3-root",
            "s3",
            "--history",
        ],
    );
    assert_exit(&redrive, 0, "screener states redrive");
    let output: Value = serde_json::from_slice(&redrive.stdout).unwrap();
    assert_eq!(
        output,
        json!({
            "rows": [
                {"symbol": "AAPL", "redrives": 0},
                {"symbol": "XOM", "redrives": 1},
                {"symbol": "JPM", "redrives": 0}
            ],
            "tag": "batch-1",
            "redrives": 1
        })
    );
    let stderr = String::from_utf8_lossy(&redrive.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let events: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|l| {
            let kind = l["type"].as_str()?;
            let name = l["stateEnteredEventDetails"]["name"].as_str().unwrap_or("");
            Some((kind, name))
        })
        .collect();
    // The successful Prepare state ran once, in the first attempt.
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == ("PassStateEntered", "Prepare"))
            .count(),
        1
    );
    let redriven = events
        .iter()
        .position(|(kind, _)| *kind == "ExecutionRedriven")
        .expect("an ExecutionRedriven event");
    assert_eq!(events[redriven - 1].0, "ExecutionFailed");
    assert_eq!(events[redriven + 1], ("MapStateEntered", "Rows"));
    assert!(events.iter().any(|(kind, _)| *kind == "MapRunRedriven"));
    let children: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l.get("childExecution"))
        .collect();
    let redrives: Vec<u64> = children
        .iter()
        .map(|c| c["redriveCount"].as_u64().unwrap())
        .collect();
    assert_eq!(redrives, [0, 1, 0]);

    let saved = read_json(&dir.path().join("run.json"));
    assert_eq!(saved["execution"]["status"], "SUCCEEDED");
    assert_eq!(saved["execution"]["redriveCount"], 1);
    let again = screener(
        dir.path(),
        &["states", "redrive", "run.json", "--s3-root", "s3"],
    );
    assert_exit(&again, 2, "redriving a succeeded execution");
    assert!(String::from_utf8_lossy(&again.stderr).contains("cannot redrive"));
}

/// `screener run --redrive RUN` on a run whose Publish failed: only Publish runs again (the
/// fetch, the Map over batches and Screen are not re-run), the redrive count goes up in the
/// run's record, and the result is published; a run that succeeded is not redriven.
#[test]
fn a_failed_run_is_finished_by_a_redrive_from_its_failed_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // Publish cannot write this date's results: a file stands where their folder goes (root
    // can write anywhere, but not into a file).
    std::fs::create_dir_all(store.join("results")).unwrap();
    std::fs::write(store.join("results/date=2025-06-16"), "in the way").unwrap();
    let run = |args: &[&str]| {
        let mut all = vec![
            "run",
            "--data-dir",
            "store",
            "--symbols",
            "60",
            "--time-scale",
            "1000",
        ];
        all.extend_from_slice(args);
        screener(dir.path(), &all)
    };
    let failed = run(&["--date", "2025-06-16", "--name", "day-1"]);
    assert_exit(&failed, 1, "a run whose Publish cannot write");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("screener run --redrive day-1"),
        "the failure says how to finish it:\n{stderr}"
    );
    assert!(!store.join("results/latest.json").exists());

    std::fs::remove_file(store.join("results/date=2025-06-16")).unwrap();
    let redriven = run(&["--redrive", "day-1"]);
    assert_exit(&redriven, 0, "the redrive");
    let progress = String::from_utf8_lossy(&redriven.stderr);
    assert!(progress.contains("Publish ..."), "{progress}");
    assert!(
        !progress.contains("FetchUniverse") && !progress.contains("Screen ..."),
        "succeeded states are not run again:\n{progress}"
    );
    let latest = read_json(&store.join("results/latest.json"));
    assert_eq!(latest["date"], "2025-06-16");
    assert_eq!(latest["run_id"], "day-1");
    let record = read_json(&store.join("runs/day-1/execution.json"));
    assert_eq!(record["execution"]["status"], "SUCCEEDED");
    assert_eq!(record["execution"]["redriveCount"], 1);

    // Nothing to finish: a succeeded run, and a run that does not exist.
    let again = run(&["--redrive", "day-1"]);
    assert_ne!(again.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("cannot redrive day-1"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let missing = run(&["--redrive", "day-9"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no run day-9 to redrive"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    // --redrive is a whole run: it takes no run options.
    let mixed = run(&["--redrive", "day-1", "--date", "2025-06-17"]);
    assert_exit(&mixed, 2, "--redrive with --date");
}
