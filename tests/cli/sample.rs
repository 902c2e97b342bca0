//! The sample project, built once for this test binary: what a user and an auditor receive.
//! HTML checked in headless Chromium, PDF with qpdf and pdftotext, hashes against sha256sum.

use crate::harness::{repo, run_in};
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

/// A tool the test needs. On CI (CI=true) its absence is a failure: .ci/run installs it.
fn tool(name: &str) -> Option<PathBuf> {
    let found =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{name} is missing on CI; .ci/run installs it");
        eprintln!("skipping: {name} is not installed");
    }
    found
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
        "{#evidence-index}",
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
        "{#gap-analysis}",
        "{#shared-responsibility}",
    ] {
        assert!(md.contains(anchor), "report.md lacks {anchor}");
    }
    assert!(md.contains("Placeholder: reserved for the independent service auditor"));
    assert!(md.contains("RISK-001"), "the reference risk is in the register");
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
        "Appendix: Evidence index",
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
    for name in ["index.json", "report.md", "report.html", "report.pdf", "report.json", zip_name()] {
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
