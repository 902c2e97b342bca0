//! Snapshot tests of each section's Markdown (the draft report's and the annex's), for a Type 1
//! project and for a Type 2 project with a gap, plus the PDFs' outlines and the assertion's wording.

use crate::harness::{Fixture, run_in};

/// The report's Markdown split at its level-1 headings, keyed by the heading's anchor.
fn sections(md: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in md.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            let id = h.rsplit_once("{#").map(|(_, id)| id.trim_end_matches('}').to_string()).unwrap_or_default();
            out.push((id, String::new()));
        }
        if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

fn type2_with_exception() -> Fixture {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write(
        "auditpack.toml",
        &(cfg.replacen("type = \"type1\"", "type = \"type2\"", 1).replacen(
            "as_of = 2026-06-30",
            "period_start = 2026-01-01\nperiod_end = 2026-06-30",
            1,
        ) + "\n[[cuec]]\nid = \"CUEC-1\"\ntext = \"Customers remove their own departed users.\"\ncriteria = [\"CC6.2\", \"CC6.3\"]\n"),
    );
    // AC-01 is quarterly: Q2 has evidence, Q1 has none -> an exception.
    let c = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write(
        "controls.toml",
        &c.replace(
            "test_procedure = \"Inspect the quarterly access review exports and the reviewers' sign-off.\"",
            "test_procedure = \"Inspect the quarterly access review exports and the reviewers' sign-off.\"\ncuecs = [\"CUEC-1\"]\nmanagement_response = \"The Q1 review was done late, on 2026-04-10.\"",
        ),
    );
    f
}

/// Both documents' Markdown, split at level-1 headings; the annex's sections are prefixed.
fn documents(f: &Fixture) -> Vec<(String, String)> {
    let md = std::fs::read_to_string(f.out("report.md")).unwrap();
    let annex = std::fs::read_to_string(f.out("annex.md")).unwrap();
    let mut out = sections(&md);
    out.extend(sections(&annex).into_iter().map(|(id, text)| (format!("annex-{id}"), text)));
    out
}

#[test]
fn type1_sections() {
    let f = Fixture::init();
    f.run("build", &["-q"]).code(0);
    for (id, text) in documents(&f) {
        insta::assert_snapshot!(format!("type1-{id}"), text);
    }
}

#[test]
fn type2_sections_with_a_gap() {
    let f = type2_with_exception();
    f.run("build", &["-q"]).code(0);
    for (id, text) in documents(&f) {
        insta::assert_snapshot!(format!("type2-{id}"), text);
    }
}

fn section_ii(f: &Fixture) -> String {
    let md = std::fs::read_to_string(f.out("report.md")).unwrap();
    sections(&md).into_iter().find(|(id, _)| id == "section-ii").unwrap().1
}

/// Issue 12: a gap goes to the annex for management to decide on; the assertion holds only
/// management's text, and the deviations management writes itself appear verbatim.
#[test]
fn the_assertion_is_managements_text_only() {
    let f = type2_with_exception();
    f.run("build", &["-q"]).code(0);
    let assertion = section_ii(&f);
    assert!(!assertion.contains("Exceptions noted"), "{assertion}");
    assert!(!assertion.contains("except for"), "a gap does not qualify the assertion: {assertion}");
    assert!(assertion.contains("operated effectively throughout the period"));
    assert!(assertion.contains("complementary user entity controls"), "a CUEC changes the wording");
    assert!(assertion.contains("Alex Example, Chief Executive Officer"), "the signature block: {assertion}");
    assert!(
        assertion.contains("Date: *[the date of the service auditor's report]*"),
        "the date is left for the auditor's report"
    );
    let annex = std::fs::read_to_string(f.out("annex.md")).unwrap();
    assert!(annex.contains("| [AC-01](#control-ac-01) Quarterly user access reviews | Evidence on file for 1 of 2 quarters; missing for Q1 2026 |"), "{annex}");
    assert!(annex.contains("*Management's response:* The Q1 review was done late, on 2026-04-10."));

    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    let deviation = "The user access review for Q1 2026 was performed on 10 April 2026, after the end of the quarter.";
    f.write(
        "auditpack.toml",
        &cfg.replacen("[assertion]\n", &format!("[assertion]\ndate = 2026-07-20\ndeviations = [\"{deviation}\"]\n"), 1),
    );
    f.run("build", &["-q"]).code(0);
    let assertion = section_ii(&f);
    assert!(assertion.contains(", except for the effects of the matters described below."), "{assertion}");
    assert!(assertion.contains(&format!("\n{deviation}\n")), "verbatim: {assertion}");
    assert!(assertion.contains("Date: 20 July 2026"), "{assertion}");

    let f1 = Fixture::init();
    f1.run("build", &["-q"]).code(0);
    let a1 = section_ii(&f1);
    assert!(!a1.contains("except for"), "no deviations, no qualification");
    assert!(!a1.contains("operated effectively"), "Type 1 asserts design only");
    assert!(a1.contains("as of 30 June 2026"));
}

#[test]
fn the_pdf_has_an_outline_of_the_sections() {
    let f = Fixture::init();
    f.run("build", &["-q"]).code(0);
    let Some(_) = which("qpdf") else { return };
    let out = std::process::Command::new("qpdf")
        .args(["--json", "--json-key=outlines"])
        .arg(f.out("report.pdf"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let titles: Vec<String> =
        json["outlines"].as_array().unwrap().iter().map(|o| o["title"].as_str().unwrap_or("").to_string()).collect();
    for want in [
        "Section I: Independent service auditor's report",
        // The init project is Type 1: no tests of operating effectiveness.
        "Section IV: Trust services criteria and related controls",
    ] {
        assert!(titles.iter().any(|t| t == want), "outline lacks {want:?}: {titles:?}");
    }
    let out = std::process::Command::new("qpdf")
        .args(["--json", "--json-key=outlines"])
        .arg(f.out("annex.pdf"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let titles: Vec<String> =
        json["outlines"].as_array().unwrap().iter().map(|o| o["title"].as_str().unwrap_or("").to_string()).collect();
    for want in ["Gap analysis", "Evidence per control", "Management's responses", "Evidence index"] {
        assert!(titles.iter().any(|t| t == want), "the annex's outline lacks {want:?}: {titles:?}");
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    let found =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()));
    assert!(found.is_some() || std::env::var_os("CI").is_none(), "{name} is missing on CI");
    found
}

/// Beyond `[report] evidence_index_rows` files the report stops listing files one by one (it
/// would grow without bound) and summarises them per control; the package still lists every file.
#[test]
fn a_large_evidence_index_is_summarised_per_control() {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n[report]\nevidence_index_rows = 1\n"));
    f.run("build", &["-q"]).code(0);
    let md = std::fs::read_to_string(f.out("annex.md")).unwrap();
    let index = &sections(&md).into_iter().find(|(id, _)| id == "evidence-index").unwrap().1;
    assert!(index.contains("more than the 1 this report lists file by file"), "{index}");
    assert!(index.contains("| Control | Owner | Files | Size | Newest |"), "{index}");
    assert!(index.contains("[AC-01](#control-ac-01)"), "{index}");
    assert!(!index.contains("access-review-2026-Q2.csv"), "no file is listed: {index}");
    assert!(
        md.contains("1 file (294 B), the newest effective 2026-01-15"),
        "the control gives its count, not the names"
    );
    let csv = std::fs::read_to_string(f.out("evidence-index.csv")).unwrap();
    assert!(csv.starts_with("path,size,sha256,effective,"), "{csv}");
    assert!(csv.contains("evidence/AC-01/access-review-2026-Q2.csv,"), "the CSV lists every file: {csv}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(f.out("report.json")).unwrap()).unwrap();
    assert_eq!(json["evidence_index"]["complete"], false);
    assert_eq!(json["evidence"].as_array().map(Vec::len), Some(0));
}

#[test]
fn evidence_index_rows_must_not_be_negative() {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n[report]\nevidence_index_rows = -1\n"));
    run_in(&f.root(), &["check"]).code(1).says(&["invalid-value", "`evidence_index_rows` must be 0 or more"]);
}
