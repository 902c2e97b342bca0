//! Bad input in the project files: each a clear error with file:line:col, a code and a hint,
//! every problem reported in one run, exit code 1, and nothing in the project changed.

use crate::harness::{Fixture, run_in, snapshot_tree};

#[test]
fn the_init_project_builds_cleanly() {
    let f = Fixture::init();
    f.run("build", &[]).code(0);
}

#[test]
fn malformed_toml_is_located() {
    let f = Fixture::init();
    f.write("controls.toml", "[[control]]\nid = \"AC-01\"\ntitle = \"unterminated\n");
    f.run("collect", &[]).code(1).says(&["controls.toml:3:", "error[toml-syntax]", "hint:"]);
}

#[test]
fn malformed_json_is_located() {
    let f = Fixture::init();
    f.write("risks.json", "[\n  {\"risk_id\": \"R1\",\n   \"description\": \"x\"\n  ,]\n");
    f.run("collect", &[]).code(1).says(&["risks.json:4:", "error[json-syntax]"]);
}

#[test]
fn every_unknown_key_is_reported_in_one_run() {
    let f = Fixture::init();
    let toml = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    let toml = toml.replacen("title =", "titel =", 1).replacen("layer =", "layr =", 1);
    f.write("controls.toml", &toml);
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n[extras]\nx = 1\n"));
    f.run("collect", &[]).code(1).says(&[
        "error[unknown-key]: unknown key `titel` in control `GOV-01`",
        "did you mean `title`?",
        "error[unknown-key]: unknown key `layr`",
        "auditpack.toml:31:2: error[unknown-key]: unknown key `extras`",
        "error[invalid-value]: missing field `title` in control `GOV-01`",
    ]);
}

#[test]
fn duplicate_control_ids_unknown_criteria_and_providers() {
    let f = Fixture::init();
    f.write(
        "controls.toml",
        r#"[[control]]
id = "AC-01"
title = "One"
description = "d"
criteria = ["cc6.1 ", "CC6.9"]
layer = "data"
frequency = "annual"

[[control]]
id = "AC-01"
title = "Two"
description = "d"
criteria = ["CC6.1"]
layer = "data"
frequency = "annual"
providers = ["gcp"]
"#,
    );
    f.run("collect", &[]).code(1).says(&[
        "controls.toml:5:23: error[unknown-criterion]: `CC6.9` is not a trust services criterion",
        "controls.toml:10:6: error[duplicate-control]: control id `AC-01` is used twice",
        "the first use is on line 2",
    ]);
    // The second control is skipped as a duplicate, so its provider is not checked; a third is.
    f.write(
        "controls.toml",
        "[[control]]\nid = \"X-1\"\ntitle = \"t\"\ndescription = \"d\"\ncriteria = [\"CC6.1\"]\nlayer = \"data\"\nfrequency = \"annual\"\nproviders = [\"gcp\"]\n",
    );
    f.run("collect", &[]).code(1).says(&[
        "controls.toml:8:14: error[unknown-provider]: control `X-1` runs on provider `gcp`, which is not declared",
        "use one of: aws",
    ]);
}

#[test]
fn bad_words_name_the_allowed_ones() {
    let f = Fixture::init();
    let toml = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write("controls.toml", &toml.replacen("frequency = \"annual\"", "frequency = \"yearly\"", 1));
    f.run("collect", &[])
        .code(1)
        .says(&["error[invalid-value]: unknown frequency `yearly`", "use one of `annual`, `semiannual`"]);
}

#[test]
fn a_project_without_security_is_refused() {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &cfg.replace("categories = [\"security\"]", "categories = [\"availability\"]"));
    f.run("build", &[]).code(1).says(&["error[missing-security]", "auditpack.toml:17:14:"]);
    assert!(!f.out("index.json").exists(), "nothing is written for a refused project");
}

#[test]
fn type2_needs_a_period_in_order() {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    let cfg = cfg.replace("type = \"type1\"", "type = \"type2\"\nperiod_start = 2026-06-30\nperiod_end = 2026-01-01");
    f.write("auditpack.toml", &cfg);
    f.run("collect", &[]).code(1).says(&["error[invalid-period]", "`period_end` must be after `period_start`"]);
}

#[test]
fn a_missing_evidence_folder_is_an_error() {
    let f = Fixture::init();
    f.remove("evidence");
    f.run("collect", &[])
        .code(1)
        .says(&["error[missing-evidence-dir]", "the evidence folder `evidence` does not exist"]);
}

#[test]
fn an_empty_folder_is_not_a_project() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    run_in(dir.path(), &["build", "empty"]).code(1).says(&["error[no-project]", "auditpack init"]);
}

#[test]
fn a_project_with_no_controls_is_reported() {
    let f = Fixture::init();
    f.write("controls.toml", "# nothing yet\n");
    f.run("collect", &[]).code(1).says(&["error[no-controls]"]);
}

#[test]
fn risk_register_problems_are_located() {
    let f = Fixture::init();
    f.write(
        "risks.json",
        "[\n  {\"risk_id\": \"R1\", \"description\": \"a\"},\n  {\"risk_id\": \"R1\", \"description\": \"b\"},\n  {\"description\": \"no id\"}\n]\n",
    );
    f.run("collect", &[]).code(1).says(&[
        "risks.json:3:15: error[duplicate-risk]: risk id `R1` is used twice",
        "risks.json:4:3: error[invalid-risk]: risk #3: missing field `risk_id`",
    ]);
}

#[test]
fn nothing_in_the_project_is_written_to() {
    let f = Fixture::init();
    let before = snapshot_tree(&f.root());
    f.run("build", &[]).code(0);
    assert_eq!(before, snapshot_tree(&f.root()));
}

#[test]
fn bad_arguments_exit_2() {
    let f = Fixture::init();
    run_in(f.dir.path(), &["build", "--no-such-flag"]).code(2);
    run_in(f.dir.path(), &["--version"]).code(0);
}

#[test]
fn init_never_overwrites() {
    let f = Fixture::init();
    let before = snapshot_tree(&f.root());
    run_in(f.dir.path(), &["init", "project"]).code(2).says(&["already exists", "never overwrites"]);
    assert_eq!(before, snapshot_tree(&f.root()));
}
