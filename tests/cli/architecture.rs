//! The module graph of src/ (issue 11): stages depend only on the stages before them and on the
//! ground floor; the ground floor depends on nothing else in the crate. docs/architecture.md
//! draws the same order.

use crate::harness::{repo, rust_files};
use std::collections::{BTreeMap, BTreeSet};

/// Lowest first: the ground floor, then the stages in pipeline order, then the drivers.
const GROUND: &[&str] = &["error", "diag", "text", "fsutil", "model", "output"];
const STAGES: &[&str] = &[
    "project",
    "collect",
    "index",
    "population",
    "scan",
    "assess",
    "report",
    "render",
    "package",
    "snapshot",
    "fetch",
    "check",
];
/// The driver (`pipeline`) runs the stages for every command; `cli` turns arguments into a call
/// to it and its result into output. Nothing but `cli` uses the driver; nothing uses `cli`.
const DRIVERS: &[&str] = &["pipeline", "cli"];

/// Arrows that run back up, each with the reason it is still there. The test fails when one of
/// them goes away (so the list stays true) or a new one appears.
const KNOWN: &[(&str, &str, &str)] = &[];

/// The top-level modules a source file names through `crate::` (its unit tests left out), and
/// whether it names an item of lib.rs itself (there are none: lib.rs only declares the modules).
fn targets(text: &str, modules: &BTreeSet<&str>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + 7..];
        let groups: Vec<&str> = if let Some(g) = rest.strip_prefix('{') {
            g.split('}').next().unwrap_or("").split(',').collect()
        } else {
            vec![rest]
        };
        for g in groups {
            let name: String = g.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if name.is_empty() || name == "Error" {
                continue; // `crate::Error` is the ground floor's error::Error, re-exported.
            }
            out.insert(if modules.contains(name.as_str()) { name } else { format!("lib::{name}") });
        }
    }
    out
}

#[test]
fn stages_depend_only_on_earlier_stages_and_the_ground_floor() {
    let src = repo().join("src");
    let all: Vec<&str> = GROUND.iter().chain(STAGES).chain(DRIVERS).copied().collect();
    let modules: BTreeSet<&str> = all.iter().copied().collect();
    // Every module of lib.rs has a place in the order.
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")) {
        let m = line.trim_end_matches(';');
        assert!(modules.contains(m), "src/{m} has no place in the order: add it to this test and docs/architecture.md");
    }
    let rank: BTreeMap<&str, usize> = all.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut found = BTreeSet::new();
    for m in GROUND.iter().chain(STAGES).chain(&DRIVERS[..1]) {
        let mut files = Vec::new();
        let dir = src.join(m);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{m}.rs")));
        }
        for f in files {
            for t in targets(&std::fs::read_to_string(&f).unwrap(), &modules) {
                let up = match rank.get(t.as_str()) {
                    Some(_) if GROUND.contains(m) => !GROUND.contains(&t.as_str()) && t != *m,
                    Some(r) => *r > rank[m],
                    None => true, // lib.rs holds no items
                };
                if up {
                    found.insert((m.to_string(), t.clone(), f.strip_prefix(&src).unwrap().display().to_string()));
                }
            }
        }
    }
    let known: BTreeSet<(String, String)> = KNOWN.iter().map(|(a, b, _)| (a.to_string(), b.to_string())).collect();
    let new: Vec<_> = found.iter().filter(|(a, b, _)| !known.contains(&(a.clone(), b.clone()))).collect();
    assert!(new.is_empty(), "arrows that run back up (from, to, file): {new:?}");
    for (a, b) in &known {
        assert!(found.iter().any(|(x, y, _)| x == a && y == b), "{a} -> {b} is gone: take it off KNOWN");
    }
}
