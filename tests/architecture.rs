//! ARCHITECTURE.md and the tree agree: every workspace crate is in its dependency table, at the
//! path it gives, and no crate's `[dependencies]` (or `[build-dependencies]`) name a workspace
//! crate that its row does not allow. Dev-dependencies are not checked: tests may use any
//! harness.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The allow-list table: crate -> (path, crates it may depend on).
fn allowed() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let table = text
        .split("<!-- dependency allow-list")
        .nth(1)
        .expect("ARCHITECTURE.md has the dependency allow-list marker");
    let mut rows = BTreeMap::new();
    for line in table.lines().skip(1) {
        if !line.starts_with('|') {
            if rows.is_empty() {
                continue;
            }
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 4 || cells[0] == "crate" || cells[0].starts_with("---") {
            continue;
        }
        let deps = cells[3]
            .split(',')
            .map(|d| d.split_whitespace().next().unwrap_or("").to_string())
            .filter(|d| !d.is_empty() && d != "—")
            .collect();
        rows.insert(cells[0].to_string(), (cells[1].to_string(), deps));
    }
    rows
}

fn manifest(path: &str) -> toml::Table {
    let text = std::fs::read_to_string(repo().join(path).join("Cargo.toml")).unwrap();
    text.parse().unwrap()
}

#[test]
fn every_crate_depends_only_on_what_architecture_md_allows() {
    let rows = allowed();
    let workspace = manifest(".");
    let members: Vec<String> = workspace["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    let mut by_name = BTreeMap::new();
    for path in &members {
        let name = manifest(path)["package"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        by_name.insert(name, path.clone());
    }
    let mut problems = Vec::new();
    for (name, path) in &by_name {
        let Some((documented_path, may)) = rows.get(name) else {
            problems.push(format!("{name} ({path}) is not in ARCHITECTURE.md's table"));
            continue;
        };
        if documented_path != path {
            problems.push(format!(
                "{name}: ARCHITECTURE.md says {documented_path}, it is at {path}"
            ));
        }
        let toml = manifest(path);
        for section in ["dependencies", "build-dependencies"] {
            let Some(deps) = toml.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for dep in deps.keys() {
                if by_name.contains_key(dep) && !may.contains(dep) {
                    problems.push(format!(
                        "{name} depends on {dep}, which ARCHITECTURE.md does not allow (it allows: {})",
                        may.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    for name in rows.keys() {
        if !by_name.contains_key(name) {
            problems.push(format!(
                "ARCHITECTURE.md lists {name}, which is not a workspace member"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_allow_list_keeps_lambda_crates_apart() {
    let rows = allowed();
    let lambdas: BTreeSet<&String> = rows
        .iter()
        .filter(|(_, (path, _))| path.starts_with("functions/"))
        .map(|(name, _)| name)
        .collect();
    assert!(lambdas.len() >= 6, "{lambdas:?}");
    for (name, (path, may)) in &rows {
        if !path.starts_with("functions/") {
            continue;
        }
        let lambda_deps: Vec<&String> = may.iter().filter(|d| lambdas.contains(d)).collect();
        assert!(
            lambda_deps.is_empty(),
            "{name}: a Lambda crate may not depend on another ({lambda_deps:?})"
        );
    }
}

/// The never-links table: (crates, outside crates they must not link; `aws-*` is a prefix).
fn never_links() -> Vec<(Vec<String>, Vec<String>)> {
    let text = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let table = text
        .split("<!-- never-links list")
        .nth(1)
        .expect("ARCHITECTURE.md has the never-links marker");
    let names = |cell: &str| -> Vec<String> {
        cell.split(',')
            .map(|n| n.trim().replace("\\*", "*"))
            .filter(|n| !n.is_empty())
            .collect()
    };
    table
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.trim_matches('|').split('|').collect::<Vec<_>>())
        .filter(|cells| {
            cells.len() >= 2 && !cells[0].contains("---") && cells[0].trim() != "crates"
        })
        .map(|cells| (names(cells[0]), names(cells[1])))
        .collect()
}

/// Every package each workspace crate links: its normal dependencies, transitively, as cargo
/// resolves the workspace (features unified, so this errs on the side of "links").
fn linked_packages() -> BTreeMap<String, BTreeSet<String>> {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(repo().join("Cargo.toml"))
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let name_of: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let normal_deps: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (node["id"].as_str().unwrap(), deps)
        })
        .collect();
    let mut linked = BTreeMap::new();
    for member in metadata["workspace_members"].as_array().unwrap() {
        let root = member.as_str().unwrap();
        let mut seen = BTreeSet::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            for dep in normal_deps.get(id).into_iter().flatten() {
                if seen.insert(name_of[dep].to_string()) {
                    stack.push(dep);
                }
            }
        }
        linked.insert(name_of[root].to_string(), seen);
    }
    linked
}

#[test]
fn no_crate_links_what_architecture_md_forbids() {
    let rules = never_links();
    assert!(rules.len() >= 3, "the never-links table: {rules:?}");
    let linked = linked_packages();
    let mut problems = Vec::new();
    for (crates, forbidden) in &rules {
        for name in crates {
            let Some(packages) = linked.get(name) else {
                problems.push(format!(
                    "never-links table: {name} is not a workspace crate"
                ));
                continue;
            };
            for package in packages {
                let hit = forbidden.iter().any(|f| match f.strip_suffix('*') {
                    Some(prefix) => package.starts_with(prefix),
                    None => package == f,
                });
                if hit {
                    problems.push(format!(
                        "{name} links {package}, which ARCHITECTURE.md says it never links"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The check above would pass on an empty tree: it must see the links it is meant to police.
#[test]
fn the_link_check_sees_polars_where_it_is() {
    let linked = linked_packages();
    assert!(
        linked["screen"].contains("polars"),
        "{:?}",
        linked["screen"]
    );
    assert!(linked["fetch-universe"].contains("aws-sdk-s3"));
    assert!(!linked["fetch-universe"].contains("polars"));
}
