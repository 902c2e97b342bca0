//! Issue 13: scope as an auditor checks it, on a second, different company
//! (`tests/fixtures/fintech-type1`: a Type 1 fintech, Security + Processing Integrity, a
//! carve-out and an inclusive provider, a criterion not relevant).

use super::harness::{bin, copy_dir, repo};
use std::path::{Path, PathBuf};

/// The fixture in a temporary folder (so a test may change it).
fn fintech() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fintech");
    copy_dir(&repo().join("tests/fixtures/fintech-type1"), &dir);
    (tmp, dir)
}

fn check(dir: &Path) -> (i32, Vec<serde_json::Value>) {
    let out = bin().arg("check").arg(dir).args(["--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code().unwrap_or(-1), v["diagnostics"].as_array().cloned().unwrap_or_default())
}

fn with<'a>(diags: &'a [serde_json::Value], code: &str) -> Vec<&'a serde_json::Value> {
    diags.iter().filter(|d| d["code"] == code).collect()
}

fn build(dir: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let o = bin().arg("build").arg(dir).arg("--out").arg(out).args(extra).output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_criterion_not_relevant_counts_as_addressed() {
    let (t, dir) = fintech();
    let (_, diags) = check(&dir);
    let uncovered = with(&diags, "uncovered-criterion");
    assert!(!uncovered.is_empty());
    for d in &uncovered {
        assert!(!d["message"].as_str().unwrap().contains("PI1.5"), "{d}");
        assert_eq!(d["location"]["file"], "auditpack.toml", "located at the scope: {d}");
        assert!(d["location"]["line"].as_u64().is_some());
        assert!(d["hint"].as_str().unwrap().contains("[[not_relevant]]"), "{d}");
    }
    let out = t.path().join("out");
    assert_eq!(build(&dir, &out, &[]).0, 0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["totals"]["criteria_not_relevant"], 1);
    assert!(!report["gaps"]["uncovered_criteria"].as_array().unwrap().iter().any(|c| c == "PI1.5"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(", 1 not relevant |"), "coverage figure names the criterion not relevant");
}

#[test]
fn dates_an_auditor_trusts() {
    let (t, dir) = fintech();
    let (_, diags) = check(&dir);
    let after = with(&diags, "evidence-after-period");
    assert_eq!(after.len(), 1, "{diags:?}");
    assert_eq!(after[0]["location"]["file"], "evidence/PI-01/reconciliation-2026-10-15.csv");
    let empty = with(&diags, "empty-evidence");
    assert_eq!(empty.len(), 1);
    assert_eq!(empty[0]["location"]["file"], "evidence/PI-01/reconciliation-2026-09-28.csv");
    assert!(empty[0]["hint"].as_str().is_some_and(|h| !h.is_empty()));

    let out = t.path().join("out");
    build(&dir, &out, &[]);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let pi = index["controls"]["PI-01"]["evidence"].as_array().unwrap();
    assert_eq!(
        pi,
        &[serde_json::json!("evidence/PI-01/reconciliation-2026-09-29.csv")],
        "neither empty nor late files count"
    );
    let soc = index["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "evidence/vendors/aws-soc2-type2-2025-10-01-to-2026-09-30.pdf")
        .unwrap();
    assert_eq!(soc["effective"]["start"], "2025-10-01", "a range in the name is a coverage period");
    assert_eq!(soc["effective"]["end"], "2026-09-30");
    let bridge = index["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "evidence/vendors/aws-bridge-letter.pdf")
        .unwrap();
    assert_eq!(
        (bridge["effective"]["start"].as_str(), bridge["effective"]["end"].as_str()),
        (Some("2026-07-01"), Some("2026-12-31"))
    );
    // The evidence per control, with where each date comes from, is in the auditor's annex.
    let md = std::fs::read_to_string(out.join("annex.md")).unwrap();
    assert!(md.contains("| Date from |"), "evidence shows where its date comes from");
    assert!(md.contains("| file name |"));
}

#[test]
fn type1_is_type1_and_narratives_keep_their_code() {
    let (t, dir) = fintech();
    let out = t.path().join("out");
    let o = bin().arg("build").arg(&dir).arg("--out").arg(&out).arg("--verbose").output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("narrative/changes.md: note[changes-not-used]"), "{stderr}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("| Population |") && !md.contains("| Sample size |"), "no population or sample in Type 1");
    // No Type 2 wording in any heading or section of the draft report.
    for phrase in ["tests of controls", "during the period", "for the period", "Sample size", "occurrence"] {
        assert!(!md.to_lowercase().contains(&phrase.to_lowercase()), "Type 1 report says {phrase:?}");
    }
    assert!(md.contains("# Section IV: Trust services criteria and related controls"));
    assert!(
        md.contains("## 9. Significant changes {#dc200-9}\n\nNot applicable: a Type 1 description is as of a date")
    );
    assert!(md.contains("\n    # a shell comment in an indented code block\n"), "indented code stays code");
    assert!(md.contains("#### Setext heading"), "a setext heading is demoted too");
    let zip = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let name = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .find(|n| n.ends_with("/bag-info.txt"))
        .unwrap();
    let mut info = String::new();
    std::io::Read::read_to_string(&mut archive.by_name(&name).unwrap(), &mut info).unwrap();
    assert!(info.contains("Audit-As-Of-Date: 2026-09-30"), "{info}");
    assert!(!info.contains("Audit-Period"), "{info}");

    // verify takes --quiet: nothing to say about an intact package.
    let v = bin().arg("verify").arg(&zip).arg("-q").output().unwrap();
    assert_eq!(v.status.code(), Some(0));
    assert!(v.stdout.is_empty(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn one_run_reports_everything_without_follow_on_findings() {
    let (_t, dir) = fintech();
    let toml = std::fs::read_to_string(dir.join("auditpack.toml")).unwrap();
    std::fs::write(dir.join("auditpack.toml"), toml.replace("as_of = 2026-09-30", "as_of = \"30/09/2026\"")).unwrap();
    // A sidecar problem elsewhere, and a control that fails on its own.
    std::fs::write(
        dir.join("evidence/GOV-01/information-security-policy-2026-01-15.md.meta.toml"),
        "controls = [\"NOPE-01\"]\n",
    )
    .unwrap();
    let controls = std::fs::read_to_string(dir.join("controls.toml")).unwrap();
    std::fs::write(
        dir.join("controls.toml"),
        controls.replacen(
            "layer = \"application\"\nfrequency = \"daily\"",
            "layer = \"kitchen\"\nfrequency = \"daily\"",
            1,
        ),
    )
    .unwrap();
    std::fs::write(dir.join("evidence/PI-01/reconciliation-2026-09-29.csv.meta.toml"), "controls = [\"PI-01\"]\n")
        .unwrap();
    std::fs::write(
        dir.join("risks.json"),
        r#"[{"risk_id": "R-PI", "description": "Settlement batches released before reconciliation to the bank statement.", "controls": [{"control_id": "PI-01"}], "inherent_risk": {"likelihood": "Low", "impact": "Low"}, "ownr": "x"}]"#,
    )
    .unwrap();
    let (code, diags) = check(&dir);
    assert_eq!(code, 1);
    assert!(!with(&diags, "invalid-value").is_empty(), "the bad as_of");
    let unknown = with(&diags, "unknown-control");
    assert_eq!(unknown.len(), 1, "the sidecar in another file is still read: {diags:?}");
    assert!(unknown[0]["message"].as_str().unwrap().contains("NOPE-01"));
    assert!(with(&diags, "invalid-value").iter().any(|d| d["message"].as_str().unwrap().contains("kitchen")));
    // PI-01 failed on its own: no "not in the catalogue" for the sidecar or the risk that name it.
    assert!(!diags.iter().any(|d| d["message"].as_str().unwrap().contains("`PI-01`, which is not")), "{diags:?}");
    assert!(with(&diags, "unknown-risk-control").is_empty());
    // Risk fields are named by the risk's id.
    let field = with(&diags, "unknown-risk-field");
    assert!(field[0]["message"].as_str().unwrap().starts_with("risk `R-PI`"), "{field:?}");
    // Nothing is assessed against an audit that did not load.
    assert!(with(&diags, "uncovered-criterion").is_empty());
}

#[test]
fn every_command_takes_quiet_and_verbose() {
    for cmd in
        ["init", "collect", "build", "describe", "check", "register", "verify", "snapshot", "keygen", "templates"]
    {
        for flag in ["--quiet", "--verbose"] {
            let o = bin().args([cmd, flag, "--help"]).output().unwrap();
            assert_eq!(o.status.code(), Some(0), "{cmd} {flag}: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The line (1-based) of the first occurrence of `needle` in `path`.
fn line_of(path: &Path, needle: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text.find(needle).unwrap_or_else(|| panic!("{} lacks {needle:?}", path.display()));
    text[..at].matches('\n').count() as u64 + 1
}

#[test]
fn cuecs_are_one_list_with_one_table() {
    let (t, dir) = fintech();
    let (_, diags) = check(&dir);
    for code in ["cuec-string", "unknown-cuec", "cuec-without-criteria", "unused-cuec"] {
        assert!(with(&diags, code).is_empty(), "{code}: {diags:?}");
    }
    let out = t.path().join("out");
    assert_eq!(build(&dir, &out, &[]).0, 0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert_eq!(md.matches("| CUEC | Complementary user entity control | Criteria | Related controls |").count(), 1);
    assert!(md.contains("| CUEC-1 | Merchants review the daily settlement statement and report discrepancies within five business days. | PI1.4 | [PI-01](#control-pi-01) |"), "{md}");
    assert!(md.contains("| CUEC-2 | Merchants restrict access to their Ledgerly dashboard accounts to authorised staff and remove the accounts of staff who leave. | CC6.2, CC6.3 | [AC-01](#control-ac-01) |"));
    assert!(md.contains("| Complementary user entity controls | [CUEC-1](#dc200-6) |"), "Section IV names the CUEC");
    assert!(md.contains("complementary user entity controls assumed in the design"), "the assertion mentions them");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["description"]["cuecs"].as_array().unwrap().len(), 2);
}

#[test]
fn cuec_problems_are_located_with_the_fix() {
    let (_t, dir) = fintech();
    let cfg = dir.join("auditpack.toml");
    let controls = dir.join("controls.toml");
    // The former per-control string, an unknown id, a CUEC without criteria, an unused one.
    edit(&controls, "cuecs = [\"CUEC-2\"]", "cuec = \"Merchants remove their leavers' dashboard accounts.\"");
    edit(&controls, "cuecs = [\"CUEC-1\"]", "cuecs = [\"CUEC-1\", \"CUEC-9\"]");
    edit(&cfg, "criteria = [\"PI1.4\"]\n", "");
    let (code, diags) = check(&dir);
    assert_eq!(code, 1);

    let string = with(&diags, "cuec-string");
    assert_eq!(string.len(), 1, "{diags:?}");
    assert_eq!(string[0]["location"]["file"], "controls.toml");
    assert_eq!(string[0]["location"]["line"], line_of(&controls, "cuec = \"Merchants"));
    let hint = string[0]["hint"].as_str().unwrap();
    // CUEC-1 and CUEC-2 are taken: the suggestion is the next free id, with the control's criteria.
    assert!(
        hint.contains("[[cuec]]\n    id = \"CUEC-3\"\n    text = \"Merchants remove their leavers' dashboard accounts.\"\n    criteria = [\"CC6.1\", \"CC6.2\", \"CC6.3\"]"),
        "{hint}"
    );
    assert!(hint.contains("cuecs = [\"CUEC-3\"]"), "{hint}");

    let unknown = with(&diags, "unknown-cuec");
    assert_eq!(unknown.len(), 1);
    assert!(unknown[0]["message"].as_str().unwrap().contains("CUEC-9"));
    assert_eq!(unknown[0]["location"]["line"], line_of(&controls, "\"CUEC-9\""));

    let bare = with(&diags, "cuec-without-criteria");
    assert_eq!(bare.len(), 1);
    assert_eq!(bare[0]["location"]["file"], "auditpack.toml");
    assert_eq!(bare[0]["location"]["line"], line_of(&cfg, "id = \"CUEC-1\""));
    assert!(bare[0]["hint"].as_str().unwrap().contains("criteria = [\"PI1.1\", \"PI1.2\", \"PI1.3\", \"PI1.4\"]"));

    // CUEC-2 lost its only control to the string form.
    let unused = with(&diags, "unused-cuec");
    assert_eq!(unused.len(), 1);
    assert!(unused[0]["message"].as_str().unwrap().contains("CUEC-2"));
    assert_eq!(unused[0]["location"]["line"], line_of(&cfg, "id = \"CUEC-2\""));
}

fn scanner_fixture(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/external/scanners").join(name)).unwrap()
}

/// A VEX statement that CVE-2020-28196 (krb5-libs, high in the Trivy fixture) does not affect
/// the `teamdojo:latest` image, with `body` as the rest of the statement.
fn vex(body: &str) -> String {
    format!(
        r#"{{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://ledgerly.example/vex/2026-09-16",
  "author": "Ledgerly Platform <platform@ledgerly.example>",
  "timestamp": "2026-09-16T09:00:00Z",
  "version": 1,
  "statements": [
    {{
      "vulnerability": {{"name": "CVE-2020-28196"}},
      "products": [{{"@id": "pkg:oci/teamdojo?tag=latest", "subcomponents": [{{"@id": "pkg:apk/alpine/krb5-libs"}}]}}],
      "status": "not_affected"{body}
    }}
  ]
}}
"#
    )
}

/// The fintech company with real scanner outputs: a Trivy scan of its settlement image, a later
/// scan in which the critical finding is gone, a scan after the as-of date, a Grype report of its
/// batch image with one CVE found twice, and an OpenVEX statement on a high finding.
fn fintech_with_scans() -> (tempfile::TempDir, PathBuf) {
    let (t, dir) = fintech();
    std::fs::write(
        dir.join("assets.toml"),
        r#"[[asset]]
id = "AST-SETTLE"
name = "Settlement service image"
category = "software"
criticality = "high"
scan_targets = ["teamdojo:*"]

[[asset]]
id = "AST-BATCH"
name = "Batch image"
category = "software"
criticality = "high"
scan_targets = ["test-image:*"]
"#,
    )
    .unwrap();
    let risk = |id: &str, asset: &str, what: &str| {
        serde_json::json!({
            "risk_id": id,
            "description": what,
            "assets": [asset],
            "controls": [{"control_id": "PI-01"}],
            "inherent_risk": {"likelihood": "Medium", "impact": "High"},
            "residual_risk": {"likelihood": "Low", "impact": "High"},
            "owner": "CTO",
            "last_review": "2026-09-01"
        })
    };
    let register = serde_json::json!([
        risk(
            "R-SETTLE",
            "AST-SETTLE",
            "A known vulnerability in the settlement image is exploited before it is patched."
        ),
        risk("R-BATCH", "AST-BATCH", "A known vulnerability in the batch image is exploited before it is patched."),
    ]);
    std::fs::write(dir.join("risks.json"), serde_json::to_string_pretty(&register).unwrap()).unwrap();
    let scans = dir.join("evidence/SCANS");
    std::fs::create_dir_all(&scans).unwrap();
    let trivy = scanner_fixture("trivy/scheme_2_many_vulns.json");
    std::fs::write(scans.join("trivy-teamdojo-2026-08-01.json"), &trivy).unwrap();
    // The later scan no longer finds the critical CVE-2019-12900 (libbz2): it was fixed.
    let mut later: serde_json::Value = serde_json::from_str(&trivy).unwrap();
    for r in later["Results"].as_array_mut().unwrap() {
        if let Some(v) = r["Vulnerabilities"].as_array_mut() {
            v.retain(|x| x["VulnerabilityID"] != "CVE-2019-12900");
        }
    }
    std::fs::write(scans.join("trivy-teamdojo-2026-09-15.json"), serde_json::to_string_pretty(&later).unwrap())
        .unwrap();
    std::fs::write(scans.join("trivy-teamdojo-2026-10-02.json"), &trivy).unwrap();
    std::fs::write(
        scans.join("grype-test-image-2026-09-20.json"),
        scanner_fixture("grype/same_cve_different_paths.json"),
    )
    .unwrap();
    std::fs::write(
        scans.join("openvex-2026-09-16.json"),
        vex(",\n      \"justification\": \"vulnerable_code_not_in_execute_path\""),
    )
    .unwrap();
    (t, dir)
}

#[test]
fn the_scanner_overlay_counts_the_latest_scans_without_duplicates_or_excepted_findings() {
    let (t, dir) = fintech_with_scans();
    let (_, diags) = check(&dir);
    assert!(with(&diags, "invalid-vex").is_empty(), "{diags:?}");
    // Only R-BATCH is raised: by one critical finding (the Grype CVE found at two paths).
    let raised = with(&diags, "scanner-raises-likelihood");
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert!(raised[0]["message"].as_str().unwrap().starts_with("risk `R-BATCH`: 1 critical"), "{raised:?}");

    let out = t.path().join("out");
    assert_eq!(build(&dir, &out, &[]).0, 0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let scans = &report["scans"];
    let report_of = |name: &str| {
        scans["reports"].as_array().unwrap().iter().find(|r| r["path"] == format!("evidence/SCANS/{name}")).unwrap()
    };
    let status = |name: &str| report_of(name)["status"].as_str().unwrap().to_string();
    assert_eq!(status("trivy-teamdojo-2026-08-01.json"), "superseded");
    assert_eq!(status("trivy-teamdojo-2026-09-15.json"), "counted");
    assert_eq!(status("trivy-teamdojo-2026-10-02.json"), "after the period");
    assert_eq!(status("grype-test-image-2026-09-20.json"), "counted");
    let superseding = report_of("trivy-teamdojo-2026-08-01.json")["superseded_by"].clone();
    assert_eq!(superseding, serde_json::json!(["evidence/SCANS/trivy-teamdojo-2026-09-15.json"]));
    // Counted: the three medium findings of the latest Trivy scan and the Grype CVE once.
    assert_eq!(scans["totals"]["total"], 4, "{}", scans["totals"]);
    assert_eq!((scans["totals"]["critical"].as_u64(), scans["totals"]["high"].as_u64()), (Some(1), Some(0)));
    assert_eq!(scans["duplicates"], 1);
    assert_eq!(scans["superseded"], 10, "five findings each in the August and October scans");
    let excepted = scans["excepted"].as_array().unwrap();
    assert_eq!(excepted.len(), 1);
    assert_eq!(excepted[0]["id"], "CVE-2020-28196");
    assert_eq!(excepted[0]["justification"], "vulnerable_code_not_in_execute_path");
    assert_eq!(excepted[0]["vex"], "evidence/SCANS/openvex-2026-09-16.json");

    // The annex's figures agree with what it lists.
    let md = std::fs::read_to_string(out.join("annex.md")).unwrap();
    assert!(md.contains("4 findings count: 1 critical, 0 high, 3 medium, 0 low, 0 informational."), "{md}");
    assert!(md.contains("1 duplicate (one vulnerability in one package of one target), 10 findings of superseded scans or scans after 2026-09-30, and 1 finding excepted by OpenVEX statements (0 critical, 1 high)."));
    let listed = md.split("critical and high finding").nth(1).unwrap_or_default();
    let rows = listed.split("\n\n").nth(1).unwrap_or_default();
    assert_eq!(
        rows.lines().filter(|l| l.starts_with("| critical |") || l.starts_with("| high |")).count(),
        1,
        "{rows}"
    );
    assert!(
        md.contains("| high: CVE-2020-28196, krb5-libs 1\\.15.5-r0 | `teamdojo:latest` | not_affected on 2026-09-16, `vulnerable_code_not_in_execute_path`; `evidence/SCANS/openvex-2026-09-16.json`, Ledgerly Platform \\<platform@ledgerly.example\\> |"),
        "the excepted finding is listed with its justification: {md}"
    );
    assert!(md.contains("no: superseded by `evidence/SCANS/trivy-teamdojo-2026-09-15.json`"));
    assert!(
        md.contains("1 is rated High or above after treatment and scanner findings (1 raised to High by the findings)"),
        "{md}"
    );
    let register: Vec<&str> = md.lines().filter(|l| l.starts_with("| [R-")).collect();
    assert_eq!(register.iter().filter(|l| l.contains(": High)")).count(), 1, "{register:?}");
    assert!(
        register
            .iter()
            .any(|l| l.starts_with("| [R-BATCH]") && l.contains("(scanner findings: High x High = 9: High)"))
    );
}

#[test]
fn an_invalid_vex_document_is_located_and_excepts_nothing() {
    let (_t, dir) = fintech_with_scans();
    // `not_affected` needs a justification or an impact statement.
    let path = dir.join("evidence/SCANS/openvex-2026-09-16.json");
    std::fs::write(&path, vex(",\n      \"status_notes\": \"reviewed\"")).unwrap();
    let (code, diags) = check(&dir);
    assert_eq!(code, 1);
    let invalid = with(&diags, "invalid-vex");
    assert_eq!(invalid.len(), 1, "{diags:?}");
    assert_eq!(invalid[0]["location"]["file"], "evidence/SCANS/openvex-2026-09-16.json");
    assert_eq!(invalid[0]["location"]["line"], line_of(&path, "    {\n      \"vulnerability\""), "at the statement");
    assert!(invalid[0]["message"].as_str().unwrap().contains("justification"));
    assert!(invalid[0]["hint"].as_str().is_some_and(|h| !h.is_empty()));
    // The high finding it meant to except now counts, and raises R-SETTLE.
    let raised = with(&diags, "scanner-raises-likelihood");
    assert!(raised.iter().any(|d| d["message"].as_str().unwrap().starts_with("risk `R-SETTLE`: 1 high")), "{raised:?}");
    // Not JSON at all.
    std::fs::write(&path, "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"statements\": [\n").unwrap();
    let (_, diags) = check(&dir);
    let invalid = with(&diags, "invalid-vex");
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0]["location"]["line"], 4);
}

#[test]
fn subservice_organisations_as_an_auditor_reads_them() {
    let (t, dir) = fintech();
    let (_, diags) = check(&dir);
    for code in [
        "csoc-without-criteria",
        "csocs-on-inclusive",
        "inclusive-without-assertion",
        "assurance-without-period",
        "assurance-without-provider",
        "subservice-report-missing",
        "subservice-report-gap",
    ] {
        assert!(with(&diags, code).is_empty(), "{code}: {diags:?}");
    }
    let out = t.path().join("out");
    assert_eq!(build(&dir, &out, &[]).0, 0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = |from: &str, to: &str| md[md.find(from).unwrap()..md.find(to).unwrap()].to_string();
    let assertion = section("{#section-ii}", "{#section-iii}");
    let item7 = section("{#dc200-7}", "{#dc200-8}");
    // Carve-out: the criteria that depend on CSOCs are those the CSOCs are mapped to.
    assert!(assertion.contains("(criteria concerned: CC6.1, CC6.4, CC6.5)"), "{assertion}");
    assert!(item7.contains("together with the controls of Ledgerly Payments Ltd: CC6.1, CC6.4, CC6.5."), "{item7}");
    assert!(item7.contains("| Physical access to the data centres is restricted to authorised personnel. | CC6.4 |"));
    assert!(item7.contains(
        "Ledgerly Payments Ltd has obtained from Amazon Web Services a SOC 2 Type 2 report covering 1 October 2025 to 30 September 2026 and a bridge letter covering 1 July 2026 to 31 December 2026."
    ));
    // Inclusive: no CSOCs, the provider's control is its own, and its assertion is referred to.
    let okta = &item7[item7.find("{#dc200-7-okta}").unwrap()..];
    assert!(!okta.contains("Complementary subservice organisation controls"), "{okta}");
    assert!(okta.contains("Controls of Okta included in this description: [OKTA-01](#control-okta-01)."));
    assert!(okta.contains("Controls of Ledgerly Payments Ltd that run on Okta: [AC-01](#control-ac-01) (joint)."));
    assert!(assertion.contains(
        "Okta's management has provided its own assertion about the controls of Okta included in the description: Okta, Inc.'s management assertion dated 14 October 2026, presented with this assertion."
    ));
    assert!(md.contains("| [OKTA-01](#control-okta-01) Multi-factor authentication at sign-in | Okta (subservice organisation, inclusive) |"));
    assert!(md.contains("*A control of Okta, a subservice organisation presented using the inclusive method"));
    // No evidence path in the draft report; the annex has them.
    assert!(!md.contains("aws-soc2-type2-2025-10-01-to-2026-09-30.pdf"));
    let annex = std::fs::read_to_string(out.join("annex.md")).unwrap();
    assert!(annex.contains("| Amazon Web Services | SOC 2 Type 2 report, 2025-10-01 to 2026-09-30: `evidence/vendors/aws-soc2-type2-2025-10-01-to-2026-09-30.pdf`; bridge letter, 2026-07-01 to 2026-12-31: `evidence/vendors/aws-bridge-letter.pdf` | Covered |"), "{annex}");
}

#[test]
fn subservice_problems_in_the_project_are_located() {
    let (_t, dir) = fintech();
    let cfg = dir.join("auditpack.toml");
    edit(
        &cfg,
        "{ text = \"Physical access to the data centres is restricted to authorised personnel.\", criteria = [\"CC6.4\"] }",
        "\"Physical access to the data centres is restricted to authorised personnel.\"",
    );
    edit(
        &cfg,
        "assertion = \"Okta, Inc.'s management assertion dated 14 October 2026, presented with this assertion\"",
        "csocs = [{ text = \"Okta monitors its service.\", criteria = [\"CC7.2\"] }]",
    );
    let (code, diags) = check(&dir);
    assert_eq!(code, 1);
    let bare = with(&diags, "csoc-without-criteria");
    assert_eq!(bare.len(), 1, "{diags:?}");
    assert_eq!(bare[0]["location"]["line"], line_of(&cfg, "\"Physical access"));
    assert!(
        bare[0]["hint"].as_str().unwrap().contains(
            "{ text = \"Physical access to the data centres is restricted to authorised personnel.\", criteria = [...] }"
        ),
        "the exact replacement: {bare:?}"
    );
    let inclusive = with(&diags, "csocs-on-inclusive");
    assert_eq!(inclusive.len(), 1);
    assert_eq!(inclusive[0]["location"]["line"], line_of(&cfg, "csocs = [{ text = \"Okta"));
    let assertion = with(&diags, "inclusive-without-assertion");
    assert_eq!(assertion.len(), 1);
    assert_eq!(assertion[0]["location"]["line"], line_of(&cfg, "id = \"okta\""));
    assert!(assertion[0]["hint"].as_str().unwrap().contains("assertion = \""));
}

#[test]
fn subservice_reports_must_cover_the_date_or_be_bridged() {
    let (t, dir) = fintech();
    let vendors = dir.join("evidence/vendors");
    // A report that ends before the as-of date: the bridge letter covers the rest.
    let old = vendors.join("aws-soc2-type2-2025-10-01-to-2026-09-30.pdf");
    let report = vendors.join("aws-soc2-type2-2025-07-01-to-2026-06-30.pdf");
    std::fs::rename(&old, &report).unwrap();
    std::fs::rename(
        vendors.join("aws-soc2-type2-2025-10-01-to-2026-09-30.pdf.meta.toml"),
        vendors.join("aws-soc2-type2-2025-07-01-to-2026-06-30.pdf.meta.toml"),
    )
    .unwrap();
    // Marked documents without a provider or without a period.
    std::fs::write(vendors.join("okta-soc2-report.pdf"), "SOC 2 report of Okta").unwrap();
    std::fs::write(vendors.join("okta-soc2-report.pdf.meta.toml"), "assurance = \"soc2-type2\"\n").unwrap();
    std::fs::write(vendors.join("aws-soc1-report.pdf"), "SOC 1 report of AWS").unwrap();
    std::fs::write(
        vendors.join("aws-soc1-report.pdf.meta.toml"),
        "provider = \"aws\"\nassurance = \"soc1-type2\"\neffective = 2026-06-30\n",
    )
    .unwrap();
    let (_, diags) = check(&dir);
    assert!(with(&diags, "subservice-report-gap").is_empty(), "the bridge letter covers the date: {diags:?}");
    let no_provider = with(&diags, "assurance-without-provider");
    assert_eq!(no_provider.len(), 1);
    assert_eq!(no_provider[0]["location"]["file"], "evidence/vendors/okta-soc2-report.pdf.meta.toml");
    assert_eq!(no_provider[0]["location"]["line"], 1);
    let no_period = with(&diags, "assurance-without-period");
    assert_eq!(no_period.len(), 1);
    assert_eq!(no_period[0]["location"]["file"], "evidence/vendors/aws-soc1-report.pdf.meta.toml");
    assert_eq!(no_period[0]["location"]["line"], 2);
    assert!(no_period[0]["message"].as_str().unwrap().contains("a single date (2026-06-30) but no period"));

    // Without the bridge letter, the as-of date is not covered.
    std::fs::remove_file(vendors.join("aws-bridge-letter.pdf")).unwrap();
    std::fs::remove_file(vendors.join("aws-bridge-letter.pdf.meta.toml")).unwrap();
    let (_, diags) = check(&dir);
    let gap = with(&diags, "subservice-report-gap");
    assert_eq!(gap.len(), 1, "{diags:?}");
    assert_eq!(gap[0]["location"]["file"], "evidence/vendors/aws-soc2-type2-2025-07-01-to-2026-06-30.pdf.meta.toml");
    assert!(gap[0]["message"].as_str().unwrap().contains("do not cover the as-of date 2026-09-30"), "{gap:?}");
    assert!(
        gap[0]["hint"]
            .as_str()
            .unwrap()
            .contains("assurance = \"bridge-letter\", period_start = 2026-09-30, period_end = 2026-09-30")
    );
    let out = t.path().join("out");
    assert_eq!(build(&dir, &out, &[]).0, 0);
    let annex = std::fs::read_to_string(out.join("annex.md")).unwrap();
    assert!(annex.contains("| **Not covered:** 30 September 2026 |"), "{annex}");

    // Without any report, the provider's entry is the place of the finding.
    std::fs::remove_file(&report).unwrap();
    std::fs::remove_file(vendors.join("aws-soc2-type2-2025-07-01-to-2026-06-30.pdf.meta.toml")).unwrap();
    std::fs::remove_file(vendors.join("aws-soc1-report.pdf.meta.toml")).unwrap();
    let (_, diags) = check(&dir);
    let missing = with(&diags, "subservice-report-missing");
    assert_eq!(missing.len(), 1, "{diags:?}");
    assert_eq!(missing[0]["location"]["file"], "auditpack.toml");
    assert_eq!(missing[0]["location"]["line"], line_of(&dir.join("auditpack.toml"), "id = \"aws\""));
    let out = t.path().join("out2");
    assert_eq!(build(&dir, &out, &[]).0, 0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("> **For management:** no SOC report of Amazon Web Services is recorded among the evidence"));
}

/// The sample builds, and its gap analysis (annex) and Section IV (report) say the same of each
/// control: a control with a gap in one has the same status in the other, and its management
/// response is in the annex.
#[test]
fn sample_gap_analysis_and_section_iv_agree() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = bin().arg("build").arg(repo().join("evidence-samples")).arg("--out").arg(&out).arg("-q").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let annex = std::fs::read_to_string(out.join("annex.md")).unwrap();
    let gap_states = ["missing", "partial", "outside-period", "stale"];
    let mut expected = std::collections::BTreeMap::new();
    for c in report["controls"].as_array().unwrap() {
        if gap_states.contains(&c["status"]["state"].as_str().unwrap()) {
            expected.insert(c["id"].as_str().unwrap().to_string(), c.clone());
        }
    }
    assert!(expected.len() >= 2, "the sample has deliberate gaps: {expected:?}");
    // The controls the gap analysis lists, with the gap it names.
    let gaps = &annex[annex.find("{#gap-analysis}").unwrap()..];
    let gaps = &gaps[..gaps.find("\n# ").unwrap_or(gaps.len())];
    let mut listed = std::collections::BTreeMap::new();
    for line in gaps.lines().filter(|l| l.starts_with("| [")) {
        let id = &line[3..line.find(']').unwrap()];
        let text = line.trim_end_matches(" |").rsplit(" | ").next().unwrap();
        listed.insert(id.to_string(), text.to_string());
    }
    assert_eq!(listed.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{gaps}");
    for (id, c) in &expected {
        let status = c["status"]["status_text"].as_str().unwrap();
        assert_eq!(listed[id], status, "{id}: the gap analysis names the status Section IV shows");
        let anchor = c["anchor"].as_str().unwrap();
        let at = md.find(&format!("{{#{anchor}}}")).unwrap_or_else(|| panic!("{id} in Section IV"));
        let block = &md[at..];
        let block = &block[..block.find("\n### ").unwrap_or(block.len())];
        assert!(block.contains(&format!("| Management's evidence status | {status} |")), "{id}: {block}");
        let responses = &annex[annex.find("{#management-responses}").unwrap()..];
        assert!(responses.contains(&format!("**[{id}](#{anchor})")), "{id} has an entry among the responses");
        if let Some(r) = c["management_response"].as_str() {
            let start: String = r.chars().take(40).collect();
            assert!(responses.contains(&format!("*Management's response:* {start}")), "{id}: {r}");
        }
    }
}
