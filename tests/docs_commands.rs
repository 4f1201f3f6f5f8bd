//! Keeps README.md and docs/*.md honest: every `screener ...` command line they show exists in
//! the built binary with every flag it uses, and the ones that can run offline (on the
//! built-in synthetic market or on files this test makes) run and succeed.
//!
//! Command lines are taken from inline code (`` `screener run --date D` ``) and from fenced
//! code blocks (lines starting with `screener` or `cargo run ... -p screener-cli --`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::analytics_cli::{assert_exit, screener, write_bars_csv};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Markdown files whose commands a user will try.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    for extra in ["crates/analytics/METRICS.md", "ARCHITECTURE.md"] {
        if repo().join(extra).exists() {
            files.push(repo().join(extra));
        }
    }
    files
}

/// A documented command line: the words after `screener`, the environment the docs set for it
/// (`export A=1` earlier in its code block, or `A=1 screener ...`), and where it was found.
#[derive(Debug)]
struct Documented {
    words: Vec<String>,
    env: Vec<(String, String)>,
    place: String,
}

/// `NAME=value` shell assignments at the start of `text`, and the rest.
fn assignments(text: &str) -> (Vec<(String, String)>, &str) {
    let mut env = Vec::new();
    let mut rest = text.trim();
    while let Some((word, after)) = rest.split_once(' ') {
        match word.split_once('=') {
            Some((name, value))
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
            {
                env.push((name.to_string(), value.to_string()));
                rest = after.trim_start();
            }
            _ => break,
        }
    }
    (env, rest)
}

fn command_words(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    let rest = if let Some(rest) = text.strip_prefix("screener ") {
        rest
    } else if text.starts_with("cargo run") && text.contains("-p screener-cli") {
        text.split_once(" -- ")?.1
    } else {
        return None;
    };
    // A trailing shell comment is not part of the command.
    let rest = rest.split(" #").next().unwrap_or(rest);
    let words: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
    let first = words.first()?;
    // "screener reads real ..." in prose is not a command.
    first
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '-')
        .then_some(words)
}

fn documented_commands() -> Vec<Documented> {
    let mut found = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path
            .strip_prefix(repo())
            .unwrap_or(&path)
            .display()
            .to_string();
        let mut in_block = false;
        let mut block_env: Vec<(String, String)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let place = format!("{name}:{}", n + 1);
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                block_env.clear();
                continue;
            }
            if in_block {
                if let Some(exports) = line.trim().strip_prefix("export ") {
                    block_env.extend(assignments(&format!("{exports} ")).0);
                    continue;
                }
                let (mut env, command) = assignments(line);
                if let Some(words) = command_words(command) {
                    env.extend(block_env.iter().cloned());
                    found.push(Documented { words, env, place });
                }
                continue;
            }
            // Inline code spans: every other backtick-separated piece.
            for span in line.split('`').skip(1).step_by(2) {
                let (env, command) = assignments(span);
                if let Some(words) = command_words(command) {
                    found.push(Documented {
                        words,
                        env,
                        place: place.clone(),
                    });
                }
            }
        }
    }
    found
}

/// The subcommands listed under "Commands:" in a `--help` text.
fn subcommands(help: &str) -> Vec<String> {
    let Some((_, after)) = help.split_once("Commands:") else {
        return Vec::new();
    };
    after
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn help(dir: &Path, path: &[String]) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let output = screener(dir, &args);
    assert_exit(&output, 0, &format!("screener {}", args.join(" ")));
    String::from_utf8(output.stdout).unwrap()
}

/// The flags a documented line uses (`--date`, from `--date=X` or `[--history]` too).
fn flags(words: &[String]) -> Vec<String> {
    words
        .iter()
        .filter_map(|w| {
            let w = w.trim_start_matches('[');
            let w = w.split(['=', ']', '|', ',', ')']).next().unwrap_or(w);
            (w.starts_with("--") && w.len() > 2).then(|| w.to_string())
        })
        .collect()
}

#[test]
fn every_documented_command_and_flag_exists_in_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let documented = documented_commands();
    assert!(
        documented.len() >= 20,
        "expected the README and docs to show many commands, found {}",
        documented.len()
    );
    let top = help(dir.path(), &[]);
    let mut problems = Vec::new();
    for doc in &documented {
        // Walk down the subcommands the line names.
        let mut path: Vec<String> = Vec::new();
        let mut available = subcommands(&top);
        for word in &doc.words {
            if available.contains(word) {
                path.push(word.clone());
                available = subcommands(&help(dir.path(), &path));
            } else {
                break;
            }
        }
        if path.is_empty() {
            problems.push(format!(
                "{}: `screener {}`: no such command (the binary has: {})",
                doc.place,
                doc.words.join(" "),
                subcommands(&top).join(", ")
            ));
            continue;
        }
        let text = help(dir.path(), &path);
        for flag in flags(&doc.words) {
            if flag == "--help" {
                continue;
            }
            let known = text
                .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
                .any(|w| w == flag);
            if !known {
                problems.push(format!(
                    "{}: `screener {}`: `screener {}` has no flag {flag}",
                    doc.place,
                    doc.words.join(" "),
                    path.join(" ")
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "documented commands the binary does not have:\n{}",
        problems.join("\n")
    );
}

/// Whether a documented line can run offline here: no placeholder to fill in, no AWS, Alpaca or
/// server to reach, and only files the test provides.
fn runnable(words: &[String]) -> bool {
    let offline = [
        "run",
        "indicators",
        "screen",
        "invoke",
        "states",
        "backtest",
    ];
    let Some(first) = words.first() else {
        return false;
    };
    if !offline.contains(&first.as_str()) {
        return false;
    }
    // `screener screen` or `screener invoke bot` in prose names a command; an example to run
    // gives its flags (only `screener run` runs as is).
    if first != "run" && !words.iter().any(|w| w.starts_with("--")) {
        return false;
    }
    words.iter().all(|w| {
        let placeholder = w.chars().any(|c| "<>[]|".contains(c))
            || (w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase()));
        !placeholder && !w.starts_with("s3://") && w != "alpaca" && !w.contains("alpaca")
    }) && !words.iter().any(|w| w == "--max-symbols") // Alpaca examples in docs/alpaca.md
}

/// The files a documented example may name, made in the working directory.
fn prepare(dir: &Path) {
    write_bars_csv(&dir.join("bars.csv"), 5, 420);
    write_bars_csv(&dir.join("prices.csv"), 5, 420);
    let mut bars = screener_analytics::read_bars(&dir.join("bars.csv")).unwrap();
    screener_analytics::write_frame(&mut bars, &dir.join("bars.parquet")).unwrap();
    std::fs::copy(repo().join("screens.toml"), dir.join("my_screens.toml")).unwrap();
    std::fs::copy(repo().join("screens.toml"), dir.join("screens.toml")).unwrap();
    for sub in ["events", "statemachine"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(repo().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn documented_commands_that_run_offline_succeed() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let shared = std::env::var_os("SCREENER_SP500_CSV");
    let mut ran = 0;
    let mut seen = std::collections::HashSet::new();
    for doc in documented_commands() {
        if !runnable(&doc.words) || !seen.insert(doc.words.clone()) {
            continue;
        }
        let mut args: Vec<String> = doc.words.clone();
        if args.iter().any(|w| w.contains("../shared/")) {
            let Some(path) = &shared else {
                eprintln!(
                    "SKIPPED {}: `screener {}` needs ../shared (SCREENER_SP500_CSV unset)",
                    doc.place,
                    doc.words.join(" ")
                );
                continue;
            };
            let path = path.to_string_lossy();
            for word in &mut args {
                *word = word.replace("../shared/data/sp500_5yr.csv.gz", &path);
            }
        }
        // Runs and steps write to a store: keep it inside the test's directory.
        let writes_store = matches!(args[0].as_str(), "run" | "invoke" | "states");
        // (`states` reads its store from the environment set below.)
        if writes_store
            && args[0] != "states"
            && !args.iter().any(|a| a == "--data-dir" || a == "--store")
        {
            args.extend(["--data-dir".into(), "store".into()]);
        }
        let output = Command::new(env!("CARGO_BIN_EXE_screener"))
            .args(&args)
            .current_dir(dir.path())
            .env("SCREENER_STORE", dir.path().join("store"))
            .env("SCREENER_SOURCE", "synthetic")
            .env_remove("SCREENER_SCREENS_FILE")
            .envs(doc.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert_exit(
            &output,
            0,
            &format!("{}: screener {}", doc.place, args.join(" ")),
        );
        ran += 1;
    }
    assert!(
        ran >= 5,
        "expected to run several documented commands, ran {ran}"
    );
}
