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
