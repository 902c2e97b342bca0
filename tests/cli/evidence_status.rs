//! Issue 12: management's evidence status, no-occurrence statements and the checks on proposed
//! test procedures, on Type 2 fixture projects.

use crate::harness::{Fixture, Run, run_in};

/// The init project as Type 2, with a per-event control DP-04 that has no evidence.
fn type2_with_per_event_control() -> Fixture {
    let f = Fixture::init_type2();
    f.add_control(
        "[[control]]\nid = \"DP-04\"\ntitle = \"Secure disposal of devices\"\ndescription = \"Devices are wiped before disposal.\"\ncriteria = [\"CC6.5\"]\nlayer = \"physical\"\nfrequency = \"per-event\"\ntest_procedure = \"For a sample of devices retired in the period, inspect the wipe record.\"\n",
    );
    f
}

/// `auditpack check project` from the fixture's temp folder (`check` writes nothing, so no `--out`).
fn check(f: &Fixture) -> Run {
    run_in(f.dir.path(), &["check", "project"])
}

const STATEMENT: &str = "no_occurrence = true\nperiod_start = 2026-01-01\nperiod_end = 2026-06-30\nattested_by = \"Alex Example, Chief Executive Officer\"\neffective = 2026-07-02\n";

#[test]
fn a_per_event_control_without_evidence_is_a_gap() {
    let f = type2_with_per_event_control();
    check(&f).says(&["warning[missing-evidence]: control `DP-04` has no evidence", "no-occurrence statement"]);
    f.run("build", &["-q"]).code(0);
    let annex = std::fs::read_to_string(f.out("annex.md")).unwrap();
    assert!(annex.contains("| [DP-04](#control-dp-04) Secure disposal of devices | No evidence on file |"), "{annex}");
}

#[test]
fn a_no_occurrence_statement_is_a_state_not_a_gap() {
    let f = type2_with_per_event_control();
    f.write("evidence/DP-04/no-disposals-2026-H1.md", "No device was disposed of in the period.\n");
    f.write("evidence/DP-04/no-disposals-2026-H1.md.meta.toml", STATEMENT);
    let r = check(&f);
    assert!(!r.stderr.contains("DP-04"), "no finding on DP-04: {}", r.stderr);
    f.run("build", &["-q"]).code(0);
    let md = std::fs::read_to_string(f.out("report.md")).unwrap();
    assert!(md.contains("| Management's evidence status | No occurrence in the period (management's statement, attested by Alex Example, Chief Executive Officer) |"), "{md}");
    assert!(!md.contains("no-disposals-2026-H1.md"), "the report names no evidence file");
    let annex = std::fs::read_to_string(f.out("annex.md")).unwrap();
    let gaps = &annex[annex.find("{#gap-analysis}").unwrap()..annex.find("{#gaps-no-occurrence}").unwrap()];
    assert!(!gaps.contains("DP-04"), "not a gap: {gaps}");
    assert!(annex.contains("| No-occurrence statement | `evidence/DP-04/no-disposals-2026-H1.md`, attested by Alex Example, Chief Executive Officer, for 2026-01-01 to 2026-06-30 |"), "{annex}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(f.out("report.json")).unwrap()).unwrap();
    let dp04 = json["controls"].as_array().unwrap().iter().find(|c| c["id"] == "DP-04").unwrap();
    assert_eq!(dp04["status"]["state"], "no-occurrence");
}

#[test]
fn a_statement_contradicted_by_evidence_or_short_of_the_period_is_reported() {
    let f = type2_with_per_event_control();
    f.write("evidence/DP-04/no-disposals-2026-H1.md", "No device was disposed of in the period.\n");
    f.write("evidence/DP-04/no-disposals-2026-H1.md.meta.toml", STATEMENT);
    f.write("evidence/DP-04/wipe-record-2026-03-02.txt", "laptop 42 wiped\n");
    check(&f).says(&[
        "warning[no-occurrence-contradicted]",
        "control `DP-04` has a no-occurrence statement and 1 evidence file dated in the period",
    ]);
    f.remove("evidence/DP-04/wipe-record-2026-03-02.txt");
    f.write("evidence/DP-04/no-disposals-2026-H1.md.meta.toml", &STATEMENT.replace("2026-06-30", "2026-03-31"));
    check(&f).says(&["warning[no-occurrence-period]", "covers 2026-01-01 to 2026-03-31, not the whole period"]);
}

#[test]
fn an_incomplete_statement_is_an_error_with_its_location() {
    let f = type2_with_per_event_control();
    f.write("evidence/DP-04/no-disposals-2026-H1.md", "No device was disposed of.\n");
    f.write(
        "evidence/DP-04/no-disposals-2026-H1.md.meta.toml",
        "no_occurrence = true\nperiod_start = 2026-01-01\nperiod_end = 2026-06-30\n",
    );
    check(&f)
        .code(1)
        .says(&["no-disposals-2026-H1.md.meta.toml:1:17: error[invalid-no-occurrence]", "needs `attested_by`"]);
}

#[test]
fn procedures_in_past_tense_and_disagreeing_test_types_are_warned() {
    let f = Fixture::init();
    let c = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write(
        "controls.toml",
        &c.replace(
            "test_procedure = \"Inspect the current policy for management approval and evidence of communication to staff.\"",
            "test_procedure = \"Inspected the current policy and observed that it was published.\"",
        )
        .replace(
            "test_procedure = \"Inspect the quarterly access review exports and the reviewers' sign-off.\"",
            "test_procedure = \"Inquire of the system owners how the review is performed.\"\ntest_types = [\"inspection\"]",
        ),
    );
    check(&f).says(&[
        "controls.toml:11:18: warning[past-tense-procedure]: the test procedure of control `GOV-01` reads as performed (inspected, observed)",
        "\"inspected\" -> \"Inspect\"",
        "warning[test-type-mismatch]: control `AC-01`: the procedure describes inquiry but test_types does not list it; test_types lists inspection but the procedure describes none",
    ]);
}
