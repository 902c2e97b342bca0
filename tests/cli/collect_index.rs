//! collect and the index: hashes checked against an independent SHA-256, the mapping rules,
//! owners from the responsibility matrix, effective dates, and faults in the evidence tree.

use crate::harness::Fixture;
use serde_json::Value;

fn file<'a>(index: &'a Value, path: &str) -> &'a Value {
    index["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the index"))
}

#[test]
fn hashes_match_an_independent_implementation() {
    let f = Fixture::init();
    // A file larger than the 1 MiB read buffer, and an empty one.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(f.path("evidence/AC-01/big-2026-04-01.bin"), &big).unwrap();
    std::fs::write(f.path("evidence/AC-01/empty-2026-04-01.txt"), b"").unwrap();
    f.run("collect", &[]).code(0);
    let index = f.index();
    let files = index["evidence"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    for e in files {
        let bytes = std::fs::read(f.root().join(e["path"].as_str().unwrap())).unwrap();
        let want: String = hmac_sha256::Hash::hash(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(e["sha256"], want.as_str(), "{}", e["path"]);
        assert_eq!(e["size"], bytes.len() as u64);
    }
}

/// A project with one provider per service model and controls on each layer.
fn matrix_project() -> Fixture {
    let f = Fixture::init();
    f.write(
        "auditpack.toml",
        r#"[organisation]
name = "M"
[system]
name = "S"
[audit]
type = "type1"
as_of = 2026-06-30
categories = ["security"]
[[provider]]
id = "okta"
name = "Okta"
service_model = "saas"
[[provider]]
id = "heroku"
name = "Heroku"
service_model = "paas"
[[provider]]
id = "aws"
name = "AWS"
service_model = "iaas"
[responsibility]
iaas.storage = "tenant"
"#,
    );
    let mut controls = String::new();
    for layer in ["data", "application", "compute", "storage", "network", "physical"] {
        controls.push_str(&format!(
            "[[control]]\nid = \"L-{layer}\"\ntitle = \"t\"\ndescription = \"d\"\ncriteria = [\"CC6.1\"]\nlayer = \"{layer}\"\nfrequency = \"annual\"\nproviders = [\"okta\", \"heroku\", \"aws\"]\n\n"
        ));
    }
    controls.push_str("[[control]]\nid = \"OVR\"\ntitle = \"t\"\ndescription = \"d\"\ncriteria = [\"CC6.1\"]\nlayer = \"data\"\nfrequency = \"annual\"\nproviders = [\"okta\", \"aws\"]\nowner = { okta = \"tenant\" }\n\n");
    controls.push_str("[[control]]\nid = \"GOV\"\ntitle = \"t\"\ndescription = \"d\"\ncriteria = [\"CC1.1\"]\nlayer = \"application\"\nfrequency = \"annual\"\n");
    f.write("controls.toml", &controls);
    f.write("assets.toml", "");
    f.write("risks.json", "[]");
    f
}

#[test]
fn owners_follow_the_reference_matrix_and_overrides() {
    let f = matrix_project();
    f.run("collect", &[]).code(0);
    let index = f.index();
    let owner = |control: &str, provider: &str| -> String {
        let a = index["controls"][control]["assignments"].as_array().unwrap();
        a.iter().find(|a| a["provider"] == provider).unwrap()["owner"].as_str().unwrap().to_string()
    };
    // Reference table (docs/responsibility.md), with iaas.storage overridden to tenant.
    let expected = [
        ("data", ["joint", "tenant", "tenant"]),
        ("application", ["joint", "joint", "tenant"]),
        ("compute", ["provider", "joint", "tenant"]),
        ("storage", ["provider", "provider", "tenant"]),
        ("network", ["provider", "provider", "joint"]),
        ("physical", ["provider", "provider", "provider"]),
    ];
    for (layer, owners) in expected {
        for (provider, want) in ["okta", "heroku", "aws"].iter().zip(owners) {
            assert_eq!(owner(&format!("L-{layer}"), provider), want, "{layer} on {provider}");
        }
    }
    assert_eq!(owner("OVR", "okta"), "tenant", "per-provider override");
    assert_eq!(owner("OVR", "aws"), "tenant", "matrix");
    let gov = &index["controls"]["GOV"];
    assert_eq!(gov["owner"], "tenant");
    assert!(gov["assignments"][0].get("provider").is_none(), "a control on no provider is the company's own");
    // owner -> controls grouping
    let joint: Vec<&str> =
        index["owners"]["joint"].as_array().unwrap().iter().map(|e| e["control"].as_str().unwrap()).collect();
    assert!(joint.contains(&"L-network"));
}

#[test]
fn files_map_by_pattern_folder_and_sidecar() {
    let f = matrix_project();
    let controls = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write(
        "controls.toml",
        &controls.replacen(
            "frequency = \"annual\"\n",
            "frequency = \"annual\"\nevidence = [\"reviews/**/*.csv\"]\n",
            1,
        ),
    );
    f.remove("evidence");
    f.write("evidence/reviews/2026/q1-2026-Q1.csv", "a\n");
    f.write("evidence/GOV/minutes-2026-05-02.md", "m\n");
    f.write("evidence/misc/org-chart.txt", "o\n");
    f.write("evidence/aws/config-2026-03.json", "{}\n");
    f.write(
        "evidence/aws/config-2026-03.json.meta.toml",
        "controls = [\"L-storage\"]\neffective = 2026-03-15\nsource = \"AWS Config\"\n",
    );
    f.run("collect", &[]).code(0);
    let index = f.index();
    let q1 = file(&index, "evidence/reviews/2026/q1-2026-Q1.csv");
    assert_eq!(q1["controls"], serde_json::json!(["L-data"]));
    assert_eq!(q1["mapped_by"]["L-data"][0], "pattern:reviews/**/*.csv");
    assert_eq!(q1["effective"]["date"], "2026-03-31");
    assert_eq!(q1["effective"]["start"], "2026-01-01");
    let gov = file(&index, "evidence/GOV/minutes-2026-05-02.md");
    assert_eq!(gov["mapped_by"]["GOV"][0], "folder");
    assert_eq!(gov["owner"], "tenant");
    let cfg = file(&index, "evidence/aws/config-2026-03.json");
    assert_eq!(cfg["mapped_by"]["L-storage"][0], "sidecar");
    assert_eq!(cfg["effective"]["date"], "2026-03-15");
    assert_eq!(cfg["effective"]["source"], "sidecar");
    assert_eq!(cfg["provider"], "aws", "a folder named after a provider attributes the file");
    assert_eq!(cfg["owner"], "tenant", "L-storage on aws is tenant after the override");
    assert_eq!(cfg["sidecar"]["source"], "AWS Config");
    assert_eq!(index["unmapped"], serde_json::json!(["evidence/misc/org-chart.txt"]));
    assert_eq!(file(&index, "evidence/misc/org-chart.txt")["owner"], "tenant");
    // The sidecar is metadata, not a piece of evidence of its own.
    assert!(index["evidence"].as_array().unwrap().iter().all(|e| !e["path"].as_str().unwrap().ends_with(".meta.toml")));
}

#[test]
fn undated_files_are_marked_inferred() {
    let f = Fixture::init();
    f.write("evidence/AC-01/undated.txt", "x\n");
    f.run("collect", &["--verbose"]).code(0).says(&["evidence/AC-01/undated.txt: note[inferred-date]"]);
    assert_eq!(file(&f.index(), "evidence/AC-01/undated.txt")["effective"]["source"], "modified-time");
}

#[test]
fn an_orphan_sidecar_and_a_bad_sidecar_are_reported() {
    let f = Fixture::init();
    f.write("evidence/AC-01/gone.csv.meta.toml", "controls = [\"AC-01\"]\n");
    f.write("evidence/AC-01/access-review-2026-Q2.csv.meta.toml", "controls = [\"NOPE\"]\nefective = 2026-01-01\n");
    f.run("collect", &[]).code(1).says(&[
        "evidence/AC-01/gone.csv.meta.toml: warning[orphan-sidecar]",
        "evidence/AC-01/access-review-2026-Q2.csv.meta.toml:1:13: error[unknown-control]",
        "evidence/AC-01/access-review-2026-Q2.csv.meta.toml:2:1: error[unknown-key]: unknown key `efective`",
    ]);
}

#[cfg(unix)]
#[test]
fn symlinks_stay_inside_the_evidence_folder() {
    use std::os::unix::fs::symlink;
    let f = Fixture::init();
    std::fs::write(f.dir.path().join("secret.txt"), "outside\n").unwrap();
    symlink(f.dir.path().join("secret.txt"), f.path("evidence/AC-01/escape.txt")).unwrap();
    symlink(f.path("evidence/GOV-01"), f.path("evidence/AC-01/policies")).unwrap(); // inside: followed
    symlink(f.path("evidence"), f.path("evidence/GOV-01/loop")).unwrap();
    f.run("collect", &[]).code(1).says(&["evidence/AC-01/escape.txt: error[symlink-outside]", "error[symlink-loop]"]);
    // The run went on: the index was not written because of the errors, but collect saw the rest.
    f.remove("evidence/AC-01/escape.txt");
    f.remove("evidence/GOV-01/loop");
    f.run("collect", &[]).code(0);
    let idx = f.index();
    let paths: Vec<&str> = idx["evidence"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"evidence/AC-01/policies/information-security-policy-2026-01-15.md"), "{paths:?}");
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_reported_and_the_run_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::init();
    let p = f.path("evidence/AC-01/locked-2026-04-01.csv");
    std::fs::write(&p, "x\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = crate::harness::bin();
    if std::fs::read(&p).is_ok() {
        // Root reads anything: run the binary as an unprivileged user instead (CI runs as root).
        for dir in [
            f.dir.path().to_path_buf(),
            f.root(),
            f.path("evidence"),
            f.path("evidence/AC-01"),
            f.path("evidence/GOV-01"),
        ] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_auditpack")]);
    }
    let out = cmd.args(["collect", "project", "--out", "out"]).current_dir(f.dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("evidence/AC-01/locked-2026-04-01.csv: error[unreadable-file]"), "{stderr}");
    assert!(stderr.contains("1 error(s)"), "only that file is a problem: {stderr}");
}

#[test]
fn names_bagit_cannot_carry_are_refused() {
    let f = Fixture::init();
    f.write("evidence/AC-01/100%-done-2026-04-01.txt", "x\n");
    f.write("evidence/AC-01/two\nlines-2026-04-01.txt", "x\n");
    let r = f.run("build", &[]);
    r.code(1).says(&[
        "error[unpackageable-name]: the file name `AC-01/100%-done-2026-04-01.txt`",
        "two\\nlines",
        "rename the file",
    ]);
    assert!(!f.out("report.pdf").exists());
}

#[test]
fn the_output_folder_may_not_be_inside_the_evidence() {
    let f = Fixture::init();
    crate::harness::run_in(f.dir.path(), &["build", "project", "--out", "project/evidence/out"])
        .code(2)
        .says(&["inside the evidence folder"]);
}

#[test]
fn evidence_is_sorted_by_path_even_beside_a_folder_of_the_same_name() {
    let f = Fixture::init();
    f.write("evidence/AC-01/a.txt", "x\n");
    f.write("evidence/AC-01/a/b-2026-04-01.txt", "y\n");
    f.write("evidence/AC-01/a.txt.meta.toml", "effective = 2026-04-02\n");
    f.run("collect", &[]).code(0);
    let index = f.index();
    let paths: Vec<&str> = index["evidence"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "`a.txt` sorts before `a/...` as a string");
    assert_eq!(file(&index, "evidence/AC-01/a.txt")["effective"]["source"], "sidecar", "its sidecar was found");
}
