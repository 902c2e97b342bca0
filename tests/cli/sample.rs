//! The sample project, built once for this test binary: what a user and an auditor receive.
//! HTML checked in headless Chromium, PDF with qpdf and pdftotext, hashes against sha256sum.

use crate::harness::{repo, run_in, tool};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds evidence-samples into a temporary folder once; returns the output folder.
fn built() -> &'static Path {
    static OUT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, out) = OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sample = repo().join("evidence-samples");
        let r = run_in(dir.path(), &["build", sample.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(r.code, 0, "the sample builds: {}", r.stderr);
        (dir, out)
    });
    out
}

fn zip_name() -> &'static str {
    "nimbus-analytics-inc-soc2-type2-2026-06-30.zip"
}

#[test]
fn sample_index_hashes_equal_sha256sum() {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(built().join("index.json")).unwrap()).unwrap();
    let files = index["evidence"].as_array().unwrap();
    assert!(files.len() >= 120, "the sample has at least 120 evidence files");
    let Some(sha256sum) = tool("sha256sum") else {
        return;
    };
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    let out = Command::new(sha256sum).args(&paths).current_dir(repo().join("evidence-samples")).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for (line, f) in text.lines().zip(files) {
        let (hash, path) = line.split_once("  ").unwrap();
        assert_eq!(path, f["path"].as_str().unwrap());
        assert_eq!(hash, f["sha256"].as_str().unwrap(), "{path}");
    }
}

#[test]
fn sample_report_has_every_section_and_dc200_item() {
    let md = std::fs::read_to_string(built().join("report.md")).unwrap();
    for anchor in [
        "{#section-i}",
        "{#section-ii}",
        "{#section-iii}",
        "{#section-iv}",
        "{#section-v}",
        "{#dc200-1}",
        "{#dc200-2}",
        "{#dc200-3}",
        "{#dc200-4}",
        "{#dc200-5}",
        "{#dc200-6}",
        "{#dc200-7}",
        "{#dc200-8}",
        "{#dc200-9}",
        "{#controls-by-criterion}",
        "{#control-criteria-matrix}",
        "{#tests-of-controls}",
        "{#shared-responsibility}",
    ] {
        assert!(md.contains(anchor), "report.md lacks {anchor}");
    }
    let annex = std::fs::read_to_string(built().join("annex.md")).unwrap();
    for anchor in [
        "{#gap-analysis}",
        "{#risk-assessment}",
        "{#scanner-findings}",
        "{#control-evidence}",
        "{#management-responses}",
        "{#evidence-index}",
    ] {
        assert!(annex.contains(anchor), "annex.md lacks {anchor}");
        assert!(!md.contains(anchor), "the draft report holds {anchor}, which belongs in the annex");
    }
    assert!(md.contains("Placeholder: reserved for the independent service auditor"));
    assert!(annex.contains("RISK-001"), "the reference risk is in the register");
}

#[test]
fn sample_html_is_self_contained_and_runs_without_console_errors() {
    let html_path = built().join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    for needle in [
        "id=\"criterion-cc6-1\"",
        "id=\"control-ctrl-s3-01\"",
        "<nav class=\"toc\"",
        "class=\"filter\"",
        "@media print",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle}");
    }
    for external in ["src=\"http", "href=\"//", "<link ", "@import", "url(http"] {
        assert!(!html.contains(external), "report.html fetches something: {external}");
    }
    let Some(chromium) = tool("chromium") else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("id=\"tests-of-controls\""), "Chromium rendered the page");
}

#[test]
fn sample_pdf_passes_qpdf_and_reads_in_order() {
    let pdf = built().join("report.pdf");
    if let Some(qpdf) = tool("qpdf") {
        let out = Command::new(qpdf).arg("--check").arg(&pdf).output().unwrap();
        assert!(out.status.success(), "qpdf --check: {}", String::from_utf8_lossy(&out.stdout));
    }
    let Some(pdftotext) = tool("pdftotext") else {
        return;
    };
    let out = Command::new(pdftotext).arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let order = [
        "Section I: Independent service auditor",
        "Section II: Nimbus Analytics",
        "Section III:",
        "1. Types of services provided",
        "9. Significant changes during the period",
        "Section IV:",
        "Section V:",
    ];
    let mut at = 0;
    for heading in order {
        let found = text[at..].find(heading).unwrap_or_else(|| panic!("{heading:?} missing or out of order"));
        at += found + heading.len();
    }
    assert!(text.contains("Zürich"), "non-ASCII text survives the embedded font");
}

#[test]
fn sample_builds_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out2 = dir.path().join("out2");
    let sample = repo().join("evidence-samples");
    run_in(dir.path(), &["build", sample.to_str().unwrap(), "--out", out2.to_str().unwrap(), "-q"]).code(0);
    for name in [
        "index.json",
        "report.md",
        "report.html",
        "report.pdf",
        "annex.md",
        "annex.html",
        "annex.pdf",
        "report.json",
        zip_name(),
    ] {
        assert!(
            std::fs::read(built().join(name)).unwrap() == std::fs::read(out2.join(name)).unwrap(),
            "{name} differs"
        );
    }
}

#[test]
fn describe_writes_only_the_system_description() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("evidence-samples");
    run_in(dir.path(), &["describe", sample.to_str().unwrap(), "--out", "d", "-q"]).code(0);
    let md = std::fs::read_to_string(dir.path().join("d/description.md")).unwrap();
    assert!(md.contains("{#dc200-1}") && md.contains("{#dc200-9}"));
    assert!(!md.contains("{#section-iv}"), "only Section III");
    assert!(dir.path().join("d/description.pdf").exists() && dir.path().join("d/description.html").exists());
}

/// pdftotext's reading-order text of a PDF, or None when the tool is missing (a failure on CI).
fn pdf_text(pdf: &Path, raw: bool) -> Option<String> {
    let pdftotext = tool("pdftotext")?;
    let mut cmd = Command::new(pdftotext);
    if raw {
        cmd.arg("-raw");
    }
    let out = cmd.arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success());
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Issue 12: the draft report speaks in management's voice only. No audit result, no procedure
/// narrated as performed, an evidence status for every control, DP-04 reads "No occurrence".
#[test]
fn sample_draft_report_says_only_what_management_may_say() {
    let md = std::fs::read_to_string(built().join("report.md")).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(built().join("report.json")).unwrap()).unwrap();
    let controls = report["controls"].as_array().unwrap();
    let mut texts = vec![md.clone()];
    texts.extend(pdf_text(&built().join("report.pdf"), false));
    for text in &texts {
        for banned in ["No exceptions noted", "Exception noted", "Exceptions noted", "did not operate", "except for"] {
            assert!(!text.contains(banned), "the draft report says {banned:?}");
        }
    }
    for c in controls {
        if let Some(p) = c["test_procedure"].as_str() {
            assert!(auditpack::project::procedure::past_tense(p).is_empty(), "{}: {p}", c["id"]);
        }
        let status = c["status"]["status_text"].as_str().unwrap();
        assert!(!status.is_empty());
    }
    assert_eq!(md.matches("| Management's evidence status |").count(), controls.len(), "every control has a status");
    let dp04 = controls.iter().find(|c| c["id"] == "DP-04").unwrap();
    assert_eq!(dp04["status"]["state"], "no-occurrence");
    assert!(md.contains("| Management's evidence status | No occurrence in the period (management's statement, attested by Hanna Vogel, Chief Executive Officer) |"));
    let section_ii = &md[md.find("{#section-ii}").unwrap()..md.find("{#section-iii}").unwrap()];
    for tool_text in ["auditpack", "review this assertion", "Exceptions"] {
        assert!(!section_ii.contains(tool_text), "Section II holds {tool_text:?}");
    }
    assert!(section_ii.contains("Hanna Vogel, Chief Executive Officer"), "the signature block names the signatory");
    let annex = std::fs::read_to_string(built().join("annex.md")).unwrap();
    assert!(
        !annex[annex.find("{#gap-analysis}").unwrap()..]
            .split("{#gaps-no-occurrence}")
            .next()
            .unwrap()
            .contains("DP-04"),
        "no occurrence is not a gap"
    );
}

/// Issue 12: nothing in the customer-facing report helps an attacker: no scanner finding (its id,
/// title, package, version, image or path) and no evidence path; the annex holds them.
#[test]
fn sample_draft_report_leaks_no_finding_or_evidence_path() {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(built().join("index.json")).unwrap()).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(built().join("report.json")).unwrap()).unwrap();
    let mut needles: Vec<String> = Vec::new();
    for e in index["evidence"].as_array().unwrap() {
        let path = e["path"].as_str().unwrap();
        needles.push(path.to_string());
        needles.push(path.split_once('/').unwrap().1.to_string());
        let base = path.rsplit('/').next().unwrap();
        if base.len() >= 10 {
            needles.push(base.to_string());
        }
    }
    let findings = report["scans"]["top"].as_array().unwrap();
    assert!(findings.len() >= 5, "the sample has scanner findings to leak");
    // A finding is identified by its id, its title, the package with its version, and where it
    // was found. A bare package name or a scanner's target class ("Python" for a language's
    // packages) may legitimately appear in the system description, so neither is a needle alone.
    for f in findings {
        for key in ["id", "title", "target", "report"] {
            if let Some(v) = f[key].as_str().filter(|v| v.len() >= 6) {
                needles.push(v.to_string());
            }
        }
        if let Some(v) = f["instance"].as_str().filter(|v| v.len() >= 6 && !v.chars().all(char::is_alphanumeric)) {
            needles.push(v.to_string());
        }
        if let (Some(p), Some(v)) = (f["package"].as_str(), f["version"].as_str()) {
            needles.push(format!("{p}@{v}"));
            needles.push(format!("{p} {v}"));
        }
    }
    for r in report["scans"]["reports"].as_array().unwrap() {
        needles.push(r["path"].as_str().unwrap().to_string());
    }
    let mut documents = vec![
        ("report.md", std::fs::read_to_string(built().join("report.md")).unwrap()),
        ("report.html", std::fs::read_to_string(built().join("report.html")).unwrap()),
    ];
    if let Some(t) = pdf_text(&built().join("report.pdf"), false) {
        documents.push(("report.pdf", t));
    }
    for (name, text) in &documents {
        let leaks: Vec<&String> = needles.iter().filter(|n| text.contains(n.as_str())).collect();
        assert!(leaks.is_empty(), "{name} leaks {leaks:?}");
        for pattern in ["111122223333", "dkr.ecr", "shell=True", "arn:aws"] {
            assert!(!text.contains(pattern), "{name} leaks {pattern}");
        }
    }
    let annex = std::fs::read_to_string(built().join("annex.md")).unwrap();
    let first = findings[0]["id"].as_str().unwrap();
    assert!(annex.contains(first), "the annex lists the scanner findings");
    assert!(annex.contains("{#gap-analysis}") && annex.contains("PS-01"), "the annex holds the gap analysis");
    let sha = index["evidence"][0]["sha256"].as_str().unwrap();
    assert!(annex.contains(sha), "the annex lists evidence with its checksum");
}

/// Issue 12: no table column header is broken inside a word in either PDF ("Se / rvices"), and
/// no running header is cut with an ellipsis.
#[test]
fn sample_pdf_table_headers_are_never_split() {
    // A long header word each document's tables are known to hold: the providers' "Services" in
    // the report's description, the risk register's "Likelihood" in the annex.
    for (name, known) in [("report", "Services"), ("annex", "Likelihood")] {
        let md = std::fs::read_to_string(built().join(format!("{name}.md"))).unwrap();
        let lines: Vec<&str> = md.lines().collect();
        let mut words: std::collections::BTreeSet<String> = ["Tenant", "Provider", "Joint"].map(String::from).into();
        for w in lines.windows(2) {
            if w[1].starts_with("|---") || w[1].starts_with("|--:") {
                for word in w[0].split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-') {
                    if word.chars().count() >= 4 && !word.contains("control-") {
                        words.insert(word.to_string());
                    }
                }
            }
        }
        assert!(words.contains(known) && words.len() > 20, "{name}: {words:?}");
        let Some(text) = pdf_text(&built().join(format!("{name}.pdf")), true) else {
            return;
        };
        let tidy = |s: &str| s.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-').to_string();
        let text_lines: Vec<&str> = text.lines().collect();
        for pair in text_lines.windows(2) {
            let (Some(a), Some(b)) = (pair[0].split_whitespace().last(), pair[1].split_whitespace().next()) else {
                continue;
            };
            let joined = tidy(&format!("{a}{b}"));
            assert!(
                !(words.contains(&joined) && !words.contains(&tidy(a)) && !words.contains(&tidy(b))),
                "{name}.pdf splits {joined:?}: {a:?} / {b:?}"
            );
        }
        assert!(!text.contains('…'), "{name}.pdf cuts a header, footer or title with an ellipsis");
    }
}

/// Every internal link of each document points at a heading the same document holds.
#[test]
fn sample_documents_have_no_dangling_links() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("evidence-samples");
    run_in(dir.path(), &["describe", sample.to_str().unwrap(), "--out", "d", "-q"]).code(0);
    let described = std::fs::read_to_string(dir.path().join("d/description.md")).unwrap();
    for (name, md) in [
        ("description.md", described),
        ("report.md", std::fs::read_to_string(built().join("report.md")).unwrap()),
        ("annex.md", std::fs::read_to_string(built().join("annex.md")).unwrap()),
    ] {
        let mut missing = Vec::new();
        for part in md.split("](#").skip(1) {
            let target = &part[..part.find(')').unwrap()];
            if !md.contains(&format!("{{#{target}}}")) {
                missing.push(target.to_string());
            }
        }
        assert!(missing.is_empty(), "{name} links to {missing:?}, which it does not hold");
    }
}
