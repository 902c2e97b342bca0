//! Issue 6: snapshots. Byte-identical rebuilds, deduplication, the tamper-evident chain, a
//! damaged store, a killed run, two runs at once, and Type 2 coverage across snapshots.

use crate::harness::*;
use std::path::{Path, PathBuf};

const STORE: &str = "project/.auditpack/snapshots";

/// A Type 2 project (the init project over 2026-H1) with a quarterly review for each quarter.
fn type2() -> Fixture {
    let f = Fixture::init();
    let toml = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    let toml = toml
        .replace("type = \"type1\"", "type = \"type2\"")
        .replace("as_of = 2026-06-30", "period_start = 2026-01-01\nperiod_end = 2026-06-30");
    f.write("auditpack.toml", &toml);
    f.write("evidence/AC-01/access-review-2026-Q1.csv", "user,access\nalice,admin\n");
    f
}

fn zip_in(dir: &Path) -> Vec<u8> {
    let p =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "zip"));
    std::fs::read(p.expect("a zip")).unwrap()
}

fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn objects(f: &Fixture) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(f.dir.path().join(STORE).join("objects"))
        .min_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    v.sort();
    v
}

#[test]
fn build_snapshot_reproduces_an_earlier_build_byte_for_byte() {
    let f = type2();
    // A snapshot, and the package built right after it (which lists it in its annex).
    f.exec(&["snapshot", "project", "-q"]).code(0);
    f.exec(&["build", "project", "--out", "then", "-q"]).code(0);
    // Evidence replaced, a control edited, a template added: the present differs.
    std::fs::remove_file(f.path("evidence/AC-01/access-review-2026-Q1.csv")).unwrap();
    f.write("evidence/AC-01/access-review-2026-Q2.csv", "user,access\nbob,read\n");
    let controls = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write("controls.toml", &controls.replace("Quarterly user access reviews", "Access reviews"));
    f.exec(&["snapshot", "project", "-q"]).code(0);
    f.exec(&["build", "project", "--out", "now", "-q"]).code(0);
    assert_ne!(zip_in(&f.dir.path().join("then")), zip_in(&f.dir.path().join("now")));

    f.exec(&["build", "project", "--out", "again", "-q", "--snapshot", "1"]).code(0);
    assert!(zip_in(&f.dir.path().join("then")) == zip_in(&f.dir.path().join("again")), "the rebuild differs");
    for name in ["index.json", "report.md", "report.json"] {
        assert_eq!(
            std::fs::read(f.dir.path().join("then").join(name)).unwrap(),
            std::fs::read(f.dir.path().join("again").join(name)).unwrap(),
            "{name}"
        );
    }
    // The rebuilt package verifies like any other; ids by hash prefix and `latest` work too.
    let sha = f
        .exec(&["snapshot", "list", "project"])
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    f.exec(&["build", "project", "--out", "byhash", "-q", "--snapshot", &sha]).code(0);
    assert!(zip_in(&f.dir.path().join("then")) == zip_in(&f.dir.path().join("byhash")));
    f.exec(&["build", "project", "--out", "latest", "-q", "--snapshot", "latest"]).code(0);
    f.exec(&["build", "project", "--out", "x", "--snapshot", "9"]).code(2).err_says(&["no snapshot `9`"]);

    let diff = f.exec(&["snapshot", "diff", "1", "2", "--project", "project"]);
    diff.code(0).out_says(&[
        "removed  evidence/AC-01/access-review-2026-Q1.csv",
        "changed  evidence/AC-01/access-review-2026-Q2.csv",
        "controls.toml",
    ]);
}

#[test]
fn type2_coverage_counts_evidence_from_earlier_snapshots() {
    let f = type2();
    f.exec(&["snapshot", "project", "-q"]).code(0);
    std::fs::remove_file(f.path("evidence/AC-01/access-review-2026-Q1.csv")).unwrap();
    // The Q1 review is gone from the folder but snapshot 1 holds it: no exception.
    f.exec(&["build", "project", "--out", "out"]).code(0);
    let report = std::fs::read_to_string(f.dir.path().join("out/report.json")).unwrap();
    assert!(report.contains("evidence/AC-01/access-review-2026-Q1.csv (snapshot 1)"), "{report}");
    assert!(!f.exec(&["build", "project", "--out", "out"]).stderr.contains("missing-occurrence"));
    // The annex lists the snapshot with its manifest hash, and says no TSA token is on file.
    let annex = std::fs::read_to_string(f.dir.path().join("out/annex.md")).unwrap();
    let listed: serde_json::Value =
        serde_json::from_str(&f.exec(&["snapshot", "list", "project", "--json"]).stdout).unwrap();
    let sha = listed[0]["sha256"].as_str().unwrap();
    assert!(annex.contains("# Evidence snapshots"), "{annex}");
    assert!(annex.contains(&format!("| 1 | {} |", listed[0]["created"].as_str().unwrap())), "{annex}");
    assert!(annex.contains(&format!("`{sha}` | *no token* |")), "{annex}");
    assert!(annex.contains("No snapshot carries a time-stamping authority's token"));
    // Without the store the gap shows.
    std::fs::remove_dir_all(f.path(".auditpack")).unwrap();
    f.exec(&["build", "project", "--out", "out"]).code(0).err_says(&["warning[missing-occurrence]", "2026-Q1"]);
    let diff_after = f.exec(&["snapshot", "project", "-q"]);
    diff_after.code(0);
}

#[test]
fn unchanged_evidence_costs_less_than_one_percent() {
    let f = type2();
    // ~2 MB of evidence that does not compress away.
    let mut x: u64 = 1;
    for i in 0..4 {
        let text: String = (0..60_000)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                format!("{:08x}\n", x >> 32)
            })
            .collect();
        f.write(&format!("evidence/GOV-01/log-2026-0{}-01.txt", i + 1), &text);
    }
    f.exec(&["snapshot", "project", "-q"]).code(0);
    let evidence = dir_size(&f.path("evidence"));
    let one = dir_size(&f.dir.path().join(STORE));
    f.exec(&["snapshot", "project", "-q"]).code(0);
    let two = dir_size(&f.dir.path().join(STORE));
    assert!(evidence > 2_000_000, "{evidence}");
    assert!(((two - one) as f64) < evidence as f64 * 0.01, "second snapshot added {} bytes for {evidence}", two - one);
    let list = f.exec(&["snapshot", "list", "project"]);
    list.code(0);
    // Columns: id, created, sha256, files, bytes, new bytes, attested time.
    assert_eq!(list.stdout.lines().nth(2).unwrap().split_whitespace().nth(5), Some("0"), "{}", list.stdout);
}

/// The snapshot stores files on several threads at once: forty copies of one content, among
/// other files, are one object, and the new bytes it reports are those `snapshot list` counts.
#[test]
fn copies_of_one_content_are_stored_and_counted_once() {
    let f = type2();
    let same = "x".repeat(10_000);
    for i in 0..40 {
        f.write(&format!("evidence/GOV-01/copy-{i:02}-2026-02-01.txt"), &same);
        f.write(&format!("evidence/GOV-01/own-{i:02}-2026-02-01.txt"), &format!("file {i}\n"));
    }
    let before = objects(&f).len();
    assert_eq!(before, 0);
    let run = f.exec(&["snapshot", "project"]);
    run.code(0);
    let copies = objects(&f).iter().filter(|p| std::fs::metadata(p).unwrap().len() == same.len() as u64).count();
    assert_eq!(copies, 1, "one object for forty copies");
    let list = f.exec(&["snapshot", "list", "project", "--json"]);
    list.code(0);
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let new_bytes = listed[0]["new_bytes"].as_u64().unwrap();
    let bytes = listed[0]["bytes"].as_u64().unwrap();
    assert!(new_bytes + 39 * same.len() as u64 == bytes, "{new_bytes} new of {bytes}");
    assert!(
        run.stderr.contains(&format!("{bytes} bytes, {new_bytes} bytes new")),
        "the summary agrees with `snapshot list`: {}",
        run.stderr
    );
}

#[test]
fn a_damaged_store_is_reported() {
    let f = type2();
    f.exec(&["snapshot", "project", "-q"]).code(0);
    f.write("evidence/AC-01/access-review-2026-Q2.csv", "user,access\ncarol,admin\n");
    f.exec(&["snapshot", "project", "-q"]).code(0);
    f.exec(&["snapshot", "verify", "project"]).code(0).out_says(&["2 snapshot(s)", "intact"]);
    let objs = objects(&f);

    // A corrupted object.
    let victim = &objs[0];
    let keep = std::fs::read(victim).unwrap();
    make_writable(victim);
    std::fs::write(victim, b"garbage").unwrap();
    f.exec(&["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-blob-corrupt]"]);
    // ... which build --snapshot refuses rather than rebuilding something else.
    let r = f.exec(&["build", "project", "--out", "x", "--snapshot", "1"]);
    if r.stderr.contains("corrupted") {
        r.code(2);
    }
    std::fs::write(victim, &keep).unwrap();

    // A missing object.
    std::fs::remove_file(victim).unwrap();
    f.exec(&["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-blob-missing]"]);
    std::fs::write(victim, &keep).unwrap();
    f.exec(&["snapshot", "verify", "project"]).code(0);

    // A manifest edited: the next one's link no longer matches.
    let m1 = f.dir.path().join(STORE).join("snapshots/000001.json");
    let text = std::fs::read_to_string(&m1).unwrap();
    std::fs::write(&m1, text.replacen("\"created\": \"", "\"created\": \"1", 1)).unwrap();
    f.exec(&["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-chain-broken]", "snapshot 2"]);
    std::fs::write(&m1, &text).unwrap();

    // A manifest removed.
    std::fs::remove_file(&m1).unwrap();
    f.exec(&["snapshot", "verify", "project"])
        .code(1)
        .out_says(&["[snapshot-chain-broken]", "earlier ones were removed"]);
    std::fs::write(&m1, &text).unwrap();

    // Garbage where a manifest should be.
    std::fs::write(&m1, "{").unwrap();
    f.exec(&["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-unreadable]"]);
}

fn make_writable(p: &Path) {
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(p, perm).unwrap();
}

/// A run killed midway leaves temporary files and objects no manifest names; the store stays
/// consistent, verify says so, and the next run cleans up.
#[test]
fn a_killed_snapshot_leaves_the_store_consistent() {
    let f = type2();
    f.exec(&["snapshot", "project", "-q"]).code(0);
    let store = f.dir.path().join(STORE);
    // What a run killed between writing objects and writing its manifest leaves behind.
    std::fs::write(store.join("tmp/part-half-written"), b"partial conte").unwrap();
    std::fs::create_dir_all(store.join("objects/ff")).unwrap();
    std::fs::write(store.join("objects/ff").join("f".repeat(64)), b"orphan").unwrap();
    // A manifest temp file that never got renamed.
    std::fs::write(store.join("tmp/part-manifest"), b"{\"schema\": \"auditpack-snap").unwrap();

    f.exec(&["snapshot", "verify", "project"]).code(0).out_says(&["intact"]);
    f.exec(&["snapshot", "list", "project"]).code(0).out_says(&["   1  "]);
    f.exec(&["snapshot", "project", "-q"]).code(0);
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0, "leftovers removed");
    f.exec(&["snapshot", "verify", "project"]).code(0).out_says(&["2 snapshot(s)"]);

    // A real kill: stop a run at some point and check the store is still sound.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_auditpack"))
        .args(["snapshot", "project", "-q"])
        .current_dir(f.dir.path())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let _ = child.kill();
    let _ = child.wait();
    f.exec(&["snapshot", "verify", "project"]).code(0);
}

#[test]
fn two_snapshots_at_once_do_not_corrupt_the_store() {
    let f = type2();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_auditpack"))
                .args(["snapshot", "project", "-q"])
                .current_dir(f.dir.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let list = f.exec(&["snapshot", "list", "project", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let ids: Vec<u64> = v.as_array().unwrap().iter().map(|s| s["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    f.exec(&["snapshot", "verify", "project"]).code(0).out_says(&["4 snapshot(s)", "intact"]);
}

#[test]
fn the_store_can_live_elsewhere_but_not_inside_the_evidence() {
    let f = type2();
    let toml = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{toml}\n[snapshot]\nstore = \"../store\"\n"));
    f.exec(&["snapshot", "project", "-q"]).code(0);
    assert!(f.dir.path().join("store/snapshots/000001.json").is_file());
    assert!(!f.path(".auditpack").exists());
    f.exec(&["snapshot", "verify", "project"]).code(0);
    f.exec(&["snapshot", "project", "-q", "--store", "elsewhere"]).code(0);
    assert!(f.dir.path().join("elsewhere/snapshots/000001.json").is_file());

    f.write("auditpack.toml", &format!("{toml}\n[snapshot]\nstore = \"evidence/.snaps\"\n"));
    f.exec(&["snapshot", "project"]).code(2).err_says(&["inside the evidence folder"]);
    f.exec(&["snapshot", "verify", "project", "--store", "nowhere"]).code(2);
}
