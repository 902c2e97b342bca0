//! build: the reports, the index and the zip, byte-identical across builds.

use crate::harness::{Fixture, repo, run_in};
use std::io::Read;

#[test]
fn build_writes_every_output_and_rebuilds_identically() {
    let f = Fixture::init();
    f.run("build", &[]).code(0).says(&["wrote"]);
    let names = [
        "index.json",
        "report.md",
        "report.html",
        "report.pdf",
        "report.json",
        "annex.md",
        "annex.html",
        "annex.pdf",
        "example-corp-soc2-type1-2026-06-30.zip",
    ];
    let first: Vec<Vec<u8>> = names.iter().map(|n| std::fs::read(f.out(n)).expect(n)).collect();
    f.run("build", &[]).code(0);
    for (n, bytes) in names.iter().zip(&first) {
        assert_eq!(&std::fs::read(f.out(n)).unwrap(), bytes, "{n} differs between two builds");
    }
    assert!(first[3].starts_with(b"%PDF-"));
    let md = String::from_utf8(first[1].clone()).unwrap();
    assert!(md.contains("### AC-01: Quarterly user access reviews {#control-ac-01}"));
    assert!(!md.contains("access-review-2026-Q2.csv"), "the draft report names no evidence file");
    let annex = String::from_utf8(first[5].clone()).unwrap();
    assert!(annex.contains("access-review-2026-Q2.csv"), "the annex lists the evidence files");
}

#[test]
fn the_zip_is_a_bag_with_every_evidence_file() {
    let f = Fixture::init();
    f.run("build", &[]).code(0);
    let zip = std::fs::File::open(f.out("example-corp-soc2-type1-2026-06-30.zip")).unwrap();
    let mut z = zip::ZipArchive::new(zip).unwrap();
    let names: Vec<String> = (0..z.len()).map(|i| z.by_index(i).unwrap().name().unwrap().to_string()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries are sorted");
    let bag = "example-corp-soc2-type1-2026-06-30";
    for n in [
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
        "data/index.json",
        "data/report/report.pdf",
        "data/evidence/AC-01/access-review-2026-Q2.csv",
    ] {
        assert!(names.contains(&format!("{bag}/{n}")), "{n} missing from {names:?}");
    }
    let mut manifest = String::new();
    z.by_name(&format!("{bag}/manifest-sha256.txt")).unwrap().read_to_string(&mut manifest).unwrap();
    let payload: Vec<&String> = names.iter().filter(|n| n.starts_with(&format!("{bag}/data/"))).collect();
    assert_eq!(manifest.lines().count(), payload.len(), "every payload file is in the manifest once");
    let mut info = String::new();
    z.by_name(&format!("{bag}/bag-info.txt")).unwrap().read_to_string(&mut info).unwrap();
    assert!(info.contains("Bagging-Date: 2026-06-30"));
    assert!(info.contains(&"Payload-Oxum: ".to_string()));
    for i in 0..z.len() {
        let e = z.by_index(i).unwrap();
        let t = e.last_modified().unwrap();
        assert_eq!((t.year(), t.month(), t.day()), (2026, 6, 30), "fixed timestamps from the project date");
        assert_eq!(e.unix_mode().map(|m| m & 0o777), Some(0o644));
    }
}

#[test]
fn user_text_cannot_inject_markup() {
    let f = Fixture::init();
    let c = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write(
        "controls.toml",
        &c.replacen("title = \"Information security policy\"", "title = \"<script>alert(1)</script> | # *x*\"", 1),
    );
    f.run("build", &[]).code(0);
    let html = std::fs::read_to_string(f.out("report.html")).unwrap();
    assert!(!html.contains("<script>alert(1)"), "user text is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; | # *x*"));
}

#[test]
fn a_project_template_overrides_the_builtin() {
    let f = Fixture::init();
    f.write("templates/evidence-index.md", "# Our own index\n\n{{ totals.evidence_files }} files.\n");
    f.run("build", &[]).code(0);
    let annex = std::fs::read_to_string(f.out("annex.md")).unwrap();
    assert!(annex.contains("# Our own index\n\n2 files."), "{annex}");
}

#[test]
fn a_broken_project_template_is_a_tool_error_and_leaves_nothing() {
    let f = Fixture::init();
    f.write("templates/controls.md", "{% for x in %}\n");
    f.run("build", &[]).code(2).says(&["template", "controls.md"]);
    assert!(!f.out("index.json").exists(), "no half-written outputs");
}

#[test]
fn templates_command_writes_the_defaults_once() {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), &["templates", "t"]).code(0).says(&["wrote t/report.md"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("t/controls.md")).unwrap(),
        std::fs::read_to_string(repo().join("templates/controls.md")).unwrap()
    );
    run_in(dir.path(), &["templates", "t"]).code(0).says(&["nothing written"]);
}

#[test]
fn timings_name_every_stage_and_change_no_output() {
    let f = Fixture::init();
    f.run("build", &[]).code(0);
    let zip = "example-corp-soc2-type1-2026-06-30.zip";
    let before = std::fs::read(f.out(zip)).unwrap();
    // Stage names only: durations depend on the machine and are never asserted.
    f.run("build", &["--timings"]).code(0).says(&[
        "timings (wall; peak memory so far):",
        "collect (walk + hash)",
        "index",
        "render markdown (report)",
        "render pdf (report)",
        "render markdown (annex)",
        "render pdf (annex)",
        "package (zip)",
        "total",
    ]);
    assert_eq!(std::fs::read(f.out(zip)).unwrap(), before);
    f.run("collect", &["--timings", "--quiet"]).code(0).says(&["load", "collect (walk + hash)", "total"]);
}
