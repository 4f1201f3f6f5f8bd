//! Building the `screener` binary (the README's first command) and then the whole workspace
//! (every Lambda, `lambda-bench`, `sam build`'s `--bin X`) must not compile polars twice: cargo
//! compiles a crate again whenever the features of anything below it differ. So the features of
//! every crate in polars' dependency tree are compared between the two selections, as
//! `cargo tree` resolves them; `crates/cli/Cargo.toml` lists the features that make them equal.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Package ("name vX.Y.Z") -> its enabled features, for every package under `polars` when
/// `selection` is built (normal and build dependencies: what a `cargo build` compiles).
fn polars_closure(selection: &[&str]) -> BTreeMap<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args([
            "tree",
            "--locked",
            "-e",
            "normal,build",
            "--prefix",
            "depth",
        ])
        .args(["--format", "{p}|{f}"])
        .args(selection)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree {selection:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let mut features = BTreeMap::new();
    // The depth of the `polars` line being walked, while inside its subtree.
    let mut polars_depth: Option<usize> = None;
    for line in text.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let Ok(depth) = line[..digits].parse::<usize>() else {
            continue;
        };
        let (package, enabled) = line[digits..]
            .split_once('|')
            .unwrap_or((&line[digits..], ""));
        // "name vX (path) (*)" -> "name vX": a repeated subtree is the same package.
        let mut words = package.split_whitespace();
        let name = words.next().unwrap_or_default().to_string();
        let version = words.next().unwrap_or_default();
        if polars_depth.is_some_and(|d| depth <= d) {
            polars_depth = None;
        }
        if polars_depth.is_none() && name == "polars" {
            polars_depth = Some(depth);
        }
        if polars_depth.is_some() {
            let enabled = enabled.trim().trim_end_matches("(*)").trim().to_string();
            features.insert(format!("{name} {version}"), enabled);
        }
    }
    features
}

#[test]
fn polars_compiles_once_for_the_cli_and_the_whole_workspace() {
    let cli = polars_closure(&["-p", "screener-cli"]);
    let workspace = polars_closure(&["--workspace"]);
    assert!(
        cli.keys().any(|p| p.starts_with("polars-core ")),
        "the CLI's tree holds polars: {:?}",
        cli.keys().take(5).collect::<Vec<_>>()
    );
    let differences: Vec<String> = cli
        .keys()
        .chain(workspace.keys())
        .filter(|p| cli.get(*p) != workspace.get(*p))
        .map(|p| {
            format!(
                "{p}: `-p screener-cli` has [{}], the workspace [{}]",
                cli.get(p).map_or("not in the tree", String::as_str),
                workspace.get(p).map_or("not in the tree", String::as_str)
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "polars would compile twice; give crates/cli/Cargo.toml the workspace's features:\n{}",
        differences.join("\n")
    );
}
