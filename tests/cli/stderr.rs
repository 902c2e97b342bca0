//! What a user sees on the terminal for representative broken projects, snapshotted (insta):
//! each problem's one-line form, the source line with a caret where there is one, the hint, and
//! the totals. Temporary paths are redacted.

use crate::harness::Fixture;

/// `collect`'s stderr for the fixture, with the fixture's folder replaced by `[TMP]`.
fn stderr_of(f: &Fixture) -> String {
    let r = f.run("collect", &[]);
    assert_eq!(r.code, 1, "a broken project fails:\n{}", r.stderr);
    let tmp = f.dir.path().to_string_lossy().into_owned();
    r.stderr.replace(&tmp, "[TMP]")
}

#[test]
fn a_toml_syntax_error() {
    let f = Fixture::init();
    f.write("controls.toml", "[[control]]\nid = \"AC-01\"\ntitle = \"unterminated\n");
    insta::assert_snapshot!(stderr_of(&f));
}

#[test]
fn typos_in_keys_and_values_across_files() {
    let f = Fixture::init();
    let toml = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    let toml =
        toml.replacen("title =", "titel =", 1).replacen("frequency = \"quarterly\"", "frequency = \"fortnightly\"", 1);
    f.write("controls.toml", &toml);
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n[check.levels]\nstale-evidense = \"allow\"\n"));
    insta::assert_snapshot!(stderr_of(&f));
}

#[test]
fn a_risk_register_with_bad_entries() {
    let f = Fixture::init();
    let risks = std::fs::read_to_string(f.path("risks.json")).unwrap();
    let risks = risks.replacen("\"likelihood\": ", "\"likelihood\": \"often\", \"x\": ", 1);
    f.write("risks.json", &risks);
    insta::assert_snapshot!(stderr_of(&f));
}

#[test]
fn a_json_syntax_error() {
    let f = Fixture::init();
    f.write("risks.json", "[\n  {\"risk_id\": \"R1\",\n   \"description\": \"x\"\n  ,]\n");
    insta::assert_snapshot!(stderr_of(&f));
}

#[test]
fn several_findings_at_one_place_show_its_line_once() {
    let f = Fixture::init();
    let r = f.exec(&["check", "project"]);
    let findings = r.stderr.matches("warning[uncovered-criterion]").count();
    assert!(findings > 10, "the init project leaves most criteria uncovered:\n{}", r.stderr);
    let shown = r.stderr.lines().filter(|l| l.contains("| categories = [\"security\"]")).count();
    assert_eq!(shown, 1, "the line of `categories` once:\n{}", r.stderr);
}
