//! Issue 14, build side: what a hostile tester did to projects, outputs, snapshots and the
//! secrets scan. Each test is named after the case and failed before its fix.

use crate::harness::{Fixture, repo, run_in, run_within, snapshot_tree};
use std::path::Path;

fn type2(f: &Fixture, start: &str, end: &str) {
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    let cfg = cfg.replace("type = \"type1\"", &format!("type = \"type2\"\nperiod_start = {start}\nperiod_end = {end}"));
    f.write("auditpack.toml", &cfg.replace("as_of = 2026-06-30\n", ""));
}

fn mkfifo(p: &Path) {
    let ok = std::process::Command::new("mkfifo").arg(p).status();
    assert!(ok.is_ok_and(|s| s.success()), "mkfifo is needed for this test");
}

// Item 1.

#[test]
fn period_end_9999_12_31_is_refused_with_a_coded_error_not_23_gb() {
    let f = Fixture::init();
    type2(&f, "2026-01-01", "9999-12-31");
    let r = run_within(f.dir.path(), &["check", "project"], 60);
    r.code(1).says(&["error[period-too-long]", "auditpack.toml:", "longer than 3 years"]);
    let r = run_within(f.dir.path(), &["build", "project", "--out", "out"], 60);
    r.code(1).says(&["error[period-too-long]"]);
}

#[test]
fn period_from_0001_01_01_is_refused() {
    let f = Fixture::init();
    type2(&f, "0001-01-01", "2026-06-30");
    run_within(f.dir.path(), &["check", "project"], 60).code(1).says(&["error[period-too-long]"]);
}

#[test]
fn period_start_equal_to_end_is_not_called_ends_before_it_starts() {
    let f = Fixture::init();
    type2(&f, "2026-03-01", "2026-03-01");
    let r = run_in(f.dir.path(), &["check", "project"]);
    r.code(1).says(&["error[invalid-period]", "starts and ends on the same day"]);
    assert!(!r.stderr.contains("ends before it starts"), "{}", r.stderr);
}

#[test]
fn a_period_of_a_year_still_builds() {
    let f = Fixture::init();
    type2(&f, "2025-07-01", "2026-06-30");
    let r = run_in(f.dir.path(), &["check", "project"]);
    assert!(!r.stderr.contains("period-too-long"), "{}", r.stderr);
}

// Item 6.

fn copy_sample(to: &Path) {
    let ok = std::process::Command::new("cp").arg("-a").arg(repo().join("evidence-samples")).arg(to).status();
    assert!(ok.is_ok_and(|s| s.success()), "cp -a the sample");
}

#[test]
fn build_snapshot_of_the_shipped_sample_rebuilds_it_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("sample");
    copy_sample(&project);
    run_in(dir.path(), &["snapshot", "sample", "-q"]).code(0);
    run_in(dir.path(), &["build", "sample", "--out", "live", "-q"]).code(0);
    let r = run_in(dir.path(), &["build", "sample", "--snapshot", "1", "--out", "rebuilt", "-q"]);
    r.code(0);
    let files = |d: &str| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let root = dir.path().join(d);
        snapshot_tree(&root)
            .into_iter()
            .filter(|(p, _)| !p.components().any(|c| c.as_os_str() == ".auditpack-cache"))
            .map(|(p, b)| (p.strip_prefix(&root).unwrap().to_path_buf(), b))
            .collect()
    };
    let (live, rebuilt) = (files("live"), files("rebuilt"));
    assert!(live.iter().any(|(p, _)| p.extension().is_some_and(|x| x == "zip")), "a package was built");
    assert_eq!(
        live.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        rebuilt.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        "the same files"
    );
    for ((p, a), (_, b)) in live.iter().zip(&rebuilt) {
        assert!(a == b, "{} differs between the live build and the rebuild from the snapshot", p.display());
    }
    // The extraction folder is gone and was never left beside the outputs.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("rebuilt"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".auditpack-snapshot-"))
        .collect();
    assert!(left.is_empty(), "the extracted project is removed");
}

// Item 7.

#[test]
fn build_out_inside_the_evidence_writes_nothing_before_refusing() {
    let f = Fixture::init();
    let before = snapshot_tree(&f.path("evidence"));
    for out in ["project/evidence", "project/evidence/new/out"] {
        let r = run_in(f.dir.path(), &["build", "project", "--out", out]);
        r.code(2).says(&["inside the evidence folder"]);
        let r = run_in(f.dir.path(), &["collect", "project", "--out", out]);
        r.code(2).says(&["inside the evidence folder"]);
    }
    let r = run_in(f.dir.path(), &["build", "project", "--cache", "project/evidence/c"]);
    r.code(2).says(&["cache folder"]);
    assert_eq!(snapshot_tree(&f.path("evidence")), before, "nothing was written into the evidence");
    assert!(!f.path("evidence/new").exists() && !f.path("evidence/.auditpack-cache").exists());
}

#[test]
fn snapshot_store_inside_the_evidence_is_refused_before_it_is_created() {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n[snapshot]\nstore = \"evidence/snapshots\"\n"));
    let r = run_in(f.dir.path(), &["snapshot", "project"]);
    r.code(2).says(&["inside the evidence folder"]);
    assert!(!f.path("evidence/snapshots").exists(), "the refused store was created");
}

#[test]
fn build_and_check_do_not_create_the_store_lock() {
    let f = Fixture::init();
    run_in(f.dir.path(), &["snapshot", "project", "-q"]).code(0);
    let lock = f.path(".auditpack/snapshots/lock");
    std::fs::remove_file(&lock).unwrap();
    f.run("build", &["-q"]).code(0);
    run_in(f.dir.path(), &["check", "project"]).code(0);
    run_in(f.dir.path(), &["build", "project", "--snapshot", "1", "--out", "out2", "-q"]).code(0);
    assert!(!lock.exists(), "a reader created <store>/lock");
}

#[test]
fn snapshot_verify_refuses_a_manifest_naming_dotdot() {
    let f = Fixture::init();
    run_in(f.dir.path(), &["snapshot", "project", "-q"]).code(0);
    let m = f.path(".auditpack/snapshots/snapshots/000001.json");
    let text = std::fs::read_to_string(&m).unwrap();
    // A hand-edited manifest that lists a file outside the project beside its tree (the schema-1
    // `files` map, which stores written before per-folder trees use and which is still read).
    let forged = text.replacen(
        "\"evidence_root\": \"evidence\",",
        &format!(
            "\"evidence_root\": \"evidence\", \"files\": {{\"../../x\": {{\"sha256\": \"{}\", \"size\": 1, \"mtime\": null}}}},",
            "0".repeat(64)
        ),
        1,
    );
    assert_ne!(forged, text, "the manifest has the expected shape");
    std::fs::write(&m, forged).unwrap();
    let r = run_in(f.dir.path(), &["snapshot", "verify", "project"]);
    let out = crate::harness::bin().args(["snapshot", "verify", "project"]).current_dir(f.dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(r.code, 1, "{stdout}{}", r.stderr);
    assert!(stdout.contains("snapshot-unsafe-path") && stdout.contains("../../x"), "{stdout}");
}

// Item 8.

#[test]
fn secrets_in_a_narrative_a_risk_and_a_control_title_fail_build_and_check() {
    let f = Fixture::init();
    let narrative = std::fs::read_to_string(f.path("narrative/services.md")).unwrap();
    f.write(
        "narrative/services.md",
        &format!("{narrative}\nDeploys use ghp_0123456789abcdefghijklmnopqrstuvwxyzAB.\n"),
    );
    let risks = std::fs::read_to_string(f.path("risks.json")).unwrap();
    f.write(
        "risks.json",
        &risks.replacen(
            "Former employees keep access",
            "Keys AKIAIOSFODNN7EXAMPLE and sk_live_0123456789abcdefghijklmnop leak; former employees keep access",
            1,
        ),
    );
    let controls = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write(
        "controls.toml",
        &controls.replacen(
            "title = \"Information security policy\"",
            "title = \"Policy xoxb-1234567890-abcdefghij\"",
            1,
        ),
    );
    let r = run_in(f.dir.path(), &["check", "project"]);
    r.code(1).says(&[
        "error[secret-in-project]",
        "narrative/services.md:",
        "risks.json:",
        "controls.toml:",
        "github-token",
        "aws-access-key-id",
        "stripe-secret-key",
        "slack-token",
    ]);
    f.run("build", &[]).code(1).says(&["error[secret-in-project]"]);
    assert!(!f.out("index.json").exists(), "nothing is written");
    // The same `allow_secrets` rule as for evidence.
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write(
        "auditpack.toml",
        &format!("{cfg}\n[package]\nallow_secrets = [\"narrative/services.md\", \"risks.json\", \"controls.toml\"]\n"),
    );
    f.run("build", &["-q"]).code(0);
}

// Item 4, project files.

#[test]
fn risks_json_that_is_a_fifo_does_not_hang_check() {
    let f = Fixture::init();
    f.remove("risks.json");
    mkfifo(&f.path("risks.json"));
    let r = run_within(f.dir.path(), &["check", "project"], 60);
    r.code(1).says(&["error[unreadable-file]", "risks.json", "not a regular file"]);
}

#[cfg(unix)]
#[test]
fn risks_json_pointing_at_dev_zero_is_refused_not_read_forever() {
    let f = Fixture::init();
    f.remove("risks.json");
    std::os::unix::fs::symlink("/dev/zero", f.path("risks.json")).unwrap();
    let r = run_within(f.dir.path(), &["check", "project"], 60);
    r.code(1).says(&["error[unreadable-file]", "not a regular file"]);
}

#[test]
fn a_narrative_over_the_size_limit_is_refused() {
    let f = Fixture::init();
    let big = "word ".repeat(4 << 20); // 20 MiB, short lines are not needed for the size check
    let big: String = big.as_bytes().chunks(1000).map(|c| format!("{}\n", String::from_utf8_lossy(c))).collect();
    f.write("narrative/huge.md", &big);
    run_in(f.dir.path(), &["check", "project"]).code(1).says(&["narrative/huge.md", "larger than 16777216 bytes"]);
}

// Silently ignored and misleading messages.

#[test]
fn a_utf8_bom_in_risks_json_is_accepted() {
    let f = Fixture::init();
    let risks = std::fs::read_to_string(f.path("risks.json")).unwrap();
    f.write("risks.json", &format!("\u{feff}{risks}"));
    let r = run_in(f.dir.path(), &["check", "project"]);
    r.code(0);
    assert!(!r.stderr.contains("json-syntax"), "{}", r.stderr);
}

#[test]
fn a_duplicate_json_key_in_risks_json_is_an_error() {
    let f = Fixture::init();
    let risks = std::fs::read_to_string(f.path("risks.json")).unwrap();
    f.write(
        "risks.json",
        &risks.replacen("\"category\": \"Access\",", "\"category\": \"Access\", \"category\": \"HR\",", 1),
    );
    run_in(f.dir.path(), &["check", "project"]).code(1).says(&["error[duplicate-key]", "risks.json:", "`category`"]);
}

#[test]
fn a_5_mb_control_title_is_a_coded_error_not_913_mb() {
    let f = Fixture::init();
    let controls = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    let title = "A".repeat(5 << 20);
    f.write("controls.toml", &controls.replacen("Information security policy", &title, 1));
    run_in(f.dir.path(), &["check", "project"]).code(1).says(&["error[too-long]", "controls.toml:"]);
}

#[test]
fn a_10_mb_narrative_line_is_a_coded_error() {
    let f = Fixture::init();
    f.write("narrative/long.md", &"x".repeat(10 << 20));
    run_in(f.dir.path(), &["check", "project"]).code(1).says(&["error[too-long]", "narrative/long.md:1"]);
}

#[test]
fn a_long_string_in_risks_json_is_a_coded_error() {
    let f = Fixture::init();
    let risks = std::fs::read_to_string(f.path("risks.json")).unwrap();
    let long = "y".repeat(100_000);
    f.write("risks.json", &risks.replacen("Former employees keep access", &long, 1));
    run_in(f.dir.path(), &["check", "project"]).code(1).says(&["error[too-long]", "risks.json:"]);
}

#[test]
fn a_folder_named_controls_50_dir_toml_is_reported_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("sample");
    copy_sample(&project);
    std::fs::create_dir(project.join("controls/50-dir.toml")).unwrap();
    let r = run_in(dir.path(), &["check", "sample"]);
    r.says(&["warning[ignored-entry]", "controls/50-dir.toml", "is a folder"]);
}

#[test]
fn a_folder_named_x_meta_toml_in_the_evidence_is_reported() {
    let f = Fixture::init();
    std::fs::create_dir_all(f.path("evidence/AC-01/x.meta.toml")).unwrap();
    f.run("collect", &[]).says(&["warning[ignored-entry]", "x.meta.toml", "not read as a sidecar"]);
}

#[test]
fn fifos_and_sockets_in_the_evidence_are_reported_as_notes() {
    let f = Fixture::init();
    mkfifo(&f.path("evidence/AC-01/pipe"));
    let _sock = std::os::unix::net::UnixListener::bind(f.path("evidence/AC-01/sock")).unwrap();
    let r = run_within(f.dir.path(), &["collect", "project", "--out", "out", "--verbose"], 60);
    r.code(0).says(&["note[special-file]", "a FIFO in the evidence folder", "a socket in the evidence folder"]);
}

#[test]
fn auditpack_toml_that_is_a_folder_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("p/auditpack.toml")).unwrap();
    let r = run_in(dir.path(), &["check", "p"]);
    r.code(1).says(&["its auditpack.toml is a folder, not a file"]);
    assert!(!r.stderr.contains("has no auditpack.toml"), "{}", r.stderr);
}

#[test]
fn a_logo_that_is_a_device_is_not_said_not_to_exist() {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n[branding]\nlogo = \"logo.png\"\n"));
    std::os::unix::fs::symlink("/dev/null", f.path("logo.png")).unwrap();
    let r = run_in(f.dir.path(), &["check", "project"]);
    r.code(1).says(&["error[invalid-logo]", "not a regular file (a character device)"]);
    assert!(!r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn a_non_image_logo_fails_check_as_it_fails_build() {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n[branding]\nlogo = \"logo.png\"\n"));
    f.write("logo.png", "this is not a PNG");
    run_in(f.dir.path(), &["check", "project"]).code(1).says(&["error[invalid-logo]", "not a PNG or JPEG image"]);
    f.run("build", &[]).code(1).says(&["error[invalid-logo]"]);
}

#[test]
fn a_symlink_loop_in_the_evidence_is_called_a_loop_not_broken() {
    let f = Fixture::init();
    std::os::unix::fs::symlink("b", f.path("evidence/AC-01/a")).unwrap();
    std::os::unix::fs::symlink("a", f.path("evidence/AC-01/b")).unwrap();
    let r = f.run("collect", &[]);
    r.says(&["symlink-loop", "evidence/AC-01/a"]);
    assert!(!r.stderr.contains("points to nothing"), "{}", r.stderr);
}

#[test]
fn a_path_over_4096_bytes_is_not_hinted_fix_its_permissions() {
    let f = Fixture::init();
    // 20 nested folders of 250 bytes, made relative to one another (a shell's `cd`), so the
    // deepest path is over 4096 bytes, which no absolute path may be.
    let name = "d".repeat(250);
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd evidence && for i in $(seq 20); do mkdir {name} && cd -P {name} || exit 1; done; echo x > f.txt"
        ))
        .current_dir(f.root())
        .status();
    assert!(ok.is_ok_and(|s| s.success()), "made the deep folders");
    let r = f.run("collect", &[]);
    assert!(!r.stderr.contains("fix its permissions"), "{}", r.stderr);
    r.says(&["shorten the path"]);
}
