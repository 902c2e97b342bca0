//! Snapshot tests of each report section's Markdown, for a Type 1 project and for a Type 2
//! project with an exception, plus the PDF's outline and the assertion's wording.

use crate::harness::Fixture;

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
        &cfg.replacen("type = \"type1\"", "type = \"type2\"", 1).replacen(
            "as_of = 2026-06-30",
            "period_start = 2026-01-01\nperiod_end = 2026-06-30",
            1,
        ),
    );
    // AC-01 is quarterly: Q2 has evidence, Q1 has none -> an exception.
    let c = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write(
        "controls.toml",
        &c.replace(
            "test_procedure = \"Inspected the quarterly access review exports and the reviewers' sign-off.\"",
            "test_procedure = \"Inspected the quarterly access review exports and the reviewers' sign-off.\"\ncuec = \"Customers remove their own departed users.\"\nmanagement_response = \"The Q1 review was done late, on 2026-04-10.\"",
        ),
    );
    f
}

#[test]
fn type1_sections() {
    let f = Fixture::init();
    f.run("build", &["-q"]).code(0);
    let md = std::fs::read_to_string(f.out("report.md")).unwrap();
    for (id, text) in sections(&md) {
        insta::assert_snapshot!(format!("type1-{id}"), text);
    }
}

#[test]
fn type2_sections_with_an_exception() {
    let f = type2_with_exception();
    f.run("build", &["-q"]).code(0);
    let md = std::fs::read_to_string(f.out("report.md")).unwrap();
    for (id, text) in sections(&md) {
        insta::assert_snapshot!(format!("type2-{id}"), text);
    }
}

#[test]
fn exceptions_qualify_the_assertion() {
    let f = type2_with_exception();
    f.run("build", &["-q"]).code(0);
    let md = std::fs::read_to_string(f.out("report.md")).unwrap();
    let assertion = &sections(&md).into_iter().find(|(id, _)| id == "section-ii").unwrap().1;
    assert!(assertion.contains("Exceptions noted: review this assertion before signing"));
    assert!(assertion.contains("except for the matters described in Section IV"));
    assert!(assertion.contains("operated effectively throughout the period"));
    assert!(assertion.contains("complementary user entity controls"), "a CUEC changes the wording");
    let f1 = Fixture::init();
    f1.run("build", &["-q"]).code(0);
    let md1 = std::fs::read_to_string(f1.out("report.md")).unwrap();
    let a1 = &sections(&md1).into_iter().find(|(id, _)| id == "section-ii").unwrap().1;
    assert!(!a1.contains("except for"), "no exceptions, no qualification");
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
        "Section IV: Trust services criteria, related controls, and tests of controls",
        "Appendix: Evidence index",
    ] {
        assert!(titles.iter().any(|t| t == want), "outline lacks {want:?}: {titles:?}");
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    let found =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()));
    assert!(found.is_some() || std::env::var_os("CI").is_none(), "{name} is missing on CI");
    found
}
