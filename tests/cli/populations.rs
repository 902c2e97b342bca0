//! Issue 15: populations counted from system listings, the reproducible selection, provenance
//! (IPE) checks, and collectors run by `auditpack fetch`.

use crate::harness::{Fixture, Run, repo, run_in};
use std::io::{Read, Write};
use std::path::Path;

fn sha256_hex(bytes: &[u8]) -> String {
    hmac_sha256::Hash::hash(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn build_sample(dir: &Path) -> serde_json::Value {
    let out = dir.join("out");
    let sample = repo().join("evidence-samples");
    let r = run_in(dir, &["build", sample.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    assert_eq!(r.code, 0, "the sample builds: {}", r.stderr);
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

/// The merged pull requests of the sample's period, read from the exports by a CSV reader of the
/// test's own: (repository / number, merge day).
fn merged_prs_in_period() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dir = repo().join("evidence-samples/evidence/changes");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("merged-pull-requests-") && n.ends_with(".csv"))
        .collect();
    names.sort();
    for n in names {
        let mut r = csv::Reader::from_path(dir.join(n)).unwrap();
        for row in r.records() {
            let row = row.unwrap();
            let day = row[5][..10].to_string();
            if ("2026-01-01".."2026-07-01").contains(&day.as_str()) {
                out.push((format!("{} / {}", &row[0], &row[1]), day));
            }
        }
    }
    out
}

#[test]
fn the_sample_change_population_is_the_merged_prs_of_the_period_and_its_sample_reproduces() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (ra, rb) = (build_sample(a.path()), build_sample(b.path()));
    let pop = &ra["populations"]["controls"]["CM-01"];
    let prs = merged_prs_in_period();
    assert_eq!(prs.len(), 364, "the sample's exports hold 364 merged pull requests in the period");
    assert_eq!(pop["size"], 364, "{pop}");
    assert_eq!(pop["items"], "merged pull requests");
    // Section IV's record counts the items, not the 6 export files.
    let cm01 = ra["controls"].as_array().unwrap().iter().find(|c| c["id"] == "CM-01").unwrap();
    assert_eq!(cm01["test"]["population"], 364);
    assert!(cm01["test"]["population_text"].as_str().unwrap().starts_with("364 merged pull requests in the period"));

    // The selection: 25 items of the export, the lowest SHA-256 ranks of seed + "\n" + key,
    // recomputed here from the documented rule.
    let seed = pop["seed"].as_str().unwrap();
    assert_eq!(seed, "auditpack-sample/1|Nimbus Analytics, Inc.|Nimbus Insights Platform|CM-01|2026-01-01|2026-06-30");
    let mut ranked: Vec<(String, &str)> =
        prs.iter().map(|(k, _)| (sha256_hex(format!("{seed}\n{k}").as_bytes()), k.as_str())).collect();
    ranked.sort();
    let mut want: Vec<&str> = ranked.iter().take(25).map(|(_, k)| *k).collect();
    want.sort();
    let samples = pop["samples"].as_array().unwrap();
    let mut got: Vec<&str> = samples.iter().map(|s| s["key"].as_str().unwrap()).collect();
    got.sort();
    assert_eq!(got, want);
    for s in samples {
        let day = &prs.iter().find(|(k, _)| k == s["key"].as_str().unwrap()).unwrap().1;
        assert_eq!(s["date"].as_str().unwrap(), day);
        assert!(s["listing"].as_str().unwrap().starts_with("evidence/changes/merged-pull-requests-2026-"));
    }
    // The same build twice gives the same population and sample.
    assert_eq!(ra["populations"], rb["populations"]);

    // Hiring and leavers link each sampled item to its ticket.
    for (id, n) in [("HR-01", 13), ("AC-03", 7)] {
        let p = &ra["populations"]["controls"][id];
        assert_eq!(p["size"], n, "{id}: {p}");
        for s in p["samples"].as_array().unwrap() {
            let key = s["key"].as_str().unwrap();
            let support = s["support"].as_array().unwrap();
            assert_eq!(support.len(), 1, "{id} {key}: {support:?}");
            assert!(support[0].as_str().unwrap().ends_with(&format!("_{key}.txt")));
        }
    }
    // The annex shows the provenance of each listing beside the populations.
    let annex = std::fs::read_to_string(a.path().join("out/annex.md")).unwrap();
    assert!(annex.contains("# Populations and provenance"));
    for l in ra["populations"]["listings"].as_array().unwrap() {
        assert!(annex.contains(&format!("### `{}`", l["path"].as_str().unwrap())), "{l}");
    }
    assert!(annex.contains("| Source system | GitHub (nimbus-analytics organisation) |"));
    assert!(annex.contains("| Record count reported by the source | 66 |"));
    // The draft report for customers names no listing.
    let report = std::fs::read_to_string(a.path().join("out/report.md")).unwrap();
    assert!(!report.contains("merged-pull-requests-2026"), "listing paths stay out of the draft report");
}

/// The init project as Type 2 with control CHG-1 whose population is `listings/prs-*.csv`.
fn listing_project(listing: &str, sidecar: Option<&str>) -> Fixture {
    let f = Fixture::init_type2();
    f.add_control(
        "[[control]]\nid = \"CHG-1\"\ntitle = \"Reviewed changes\"\ndescription = \"Changes are reviewed before merge.\"\ncriteria = [\"CC8.1\"]\nlayer = \"application\"\nfrequency = \"per-event\"\nevidence = [\"listings/*.csv\"]\n\n[control.population]\nlisting = \"listings/prs-*.csv\"\nitems = \"merged pull requests\"\nkey = \"number\"\ndate = \"merged_at\"\n",
    );
    f.write("evidence/listings/prs-2026.csv", listing);
    if let Some(s) = sidecar {
        f.write("evidence/listings/prs-2026.csv.meta.toml", s);
    }
    f
}

fn check(f: &Fixture) -> Run {
    run_in(f.dir.path(), &["check", "project"])
}

const LISTING: &str = "number,merged_at\n1,2026-01-05T10:00:00Z\n2,2026-03-01\n3,2025-12-30\n";
const PROVENANCE: &str = "period_start = 2026-01-01\nperiod_end = 2026-06-30\n\n[provenance]\nsource_system = \"GitHub\"\nreport = \"Merged pull requests\"\ngenerated_at = 2026-07-01T06:00:00Z\ngenerated_by = \"CI export job\"\nrecord_count = 3\n";

#[test]
fn a_listing_with_full_provenance_gives_a_population_and_no_finding() {
    let f = listing_project(LISTING, Some(PROVENANCE));
    let r = check(&f);
    for code in ["listing-", "provenance-", "record-count", "unknown-column", "invalid-listing"] {
        assert!(!r.stderr.contains(code), "unexpected {code}:\n{}", r.stderr);
    }
    let r = f.run("build", &["-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.out("report.json")).unwrap()).unwrap();
    let p = &report["populations"]["controls"]["CHG-1"];
    assert_eq!(p["size"], 2, "item 3 is dated before the period: {p}");
    assert_eq!(p["outside_period"], 1);
}

#[test]
fn provenance_problems_are_each_reported_with_their_place() {
    // No provenance at all.
    let f = listing_project(LISTING, None);
    check(&f).says(&["warning[listing-without-provenance]", "evidence/listings/prs-2026.csv"]);
    // A record count that disagrees, a listing generated before its period ended, a period that
    // does not reach the end of the audit period, and missing fields.
    let f = listing_project(
        LISTING,
        Some(
            "period_start = 2026-01-01\nperiod_end = 2026-05-31\n\n[provenance]\nsource_system = \"GitHub\"\ngenerated_at = 2026-05-31T12:00:00Z\nrecord_count = 5\n",
        ),
    );
    check(&f).code(1).says(&[
        "prs-2026.csv.meta.toml:7:16: error[record-count-mismatch]: `evidence/listings/prs-2026.csv` holds 3 records, but its provenance says the source reported 5",
        "warning[listing-generated-early]",
        "warning[listing-period-short]: control `CHG-1`: the population listings do not cover 2026-06-01 to 2026-06-30",
        "warning[provenance-incomplete]: the provenance of `evidence/listings/prs-2026.csv` does not give report or query, generated_by",
    ]);
    // A generation time without its offset is refused with the way to write it.
    let f = listing_project(LISTING, Some(&PROVENANCE.replace("2026-07-01T06:00:00Z", "2026-07-01T06:00:00")));
    check(&f).code(1).says(&[
        "error[invalid-value]: `generated_at` must be a date and time with its offset",
        "generated_at = 2026-07-01T08:00:00Z",
    ]);
}

#[test]
fn bad_listings_name_the_file_line_column_and_value() {
    let f = listing_project("number,merged_at\n1,2026-01-05\n2,last tuesday\n3,2026-13-40\n", Some(PROVENANCE));
    check(&f).code(1).says(&[
        "evidence/listings/prs-2026.csv:3: error[invalid-listing-date]: the `merged_at` value \"last tuesday\" is not a date (and 1 more rows)",
    ]);
    let f = listing_project("id,merged\n1,2026-01-05\n", Some(PROVENANCE));
    check(&f).code(1).says(&[
        "controls.toml:",
        "error[unknown-column]: control `CHG-1`: the listing `evidence/listings/prs-2026.csv` has no column `number`",
        "its columns are: id, merged",
    ]);
    let f = listing_project("number,merged_at\n1,2026-01-05\n2\n", Some(PROVENANCE));
    check(&f).code(1).says(&[
        "evidence/listings/prs-2026.csv:3: error[invalid-listing]",
        "the row has 1 fields where the header has 2",
    ]);
    let f = listing_project("number,merged_at\n1,2026-01-05\n2,\n1,2026-02-05\n", Some(PROVENANCE));
    check(&f).says(&[
        "evidence/listings/prs-2026.csv:3: warning[undated-items]",
        "evidence/listings/prs-2026.csv:4: warning[conflicting-item]: control `CHG-1`: item `1` is dated 2026-02-05 here but 2026-01-05",
    ]);
}

#[test]
fn supporting_evidence_is_found_by_the_support_pattern_or_reported_missing() {
    let f = listing_project(LISTING, Some(PROVENANCE));
    let c = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write("controls.toml", &format!("{c}support = \"tickets/PR-{{number}}.*\"\n"));
    f.write("evidence/tickets/PR-1.txt", "approved\n");
    check(&f).says(&["warning[sample-without-support]: control `CHG-1`: 1 of 2 sampled merged pull requests have no supporting evidence on file: 2"]);
    let r = f.run("build", &["-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.out("report.json")).unwrap()).unwrap();
    let samples = report["populations"]["controls"]["CHG-1"]["samples"].as_array().unwrap().clone();
    let one = samples.iter().find(|s| s["key"] == "1").unwrap();
    assert_eq!(one["support"], serde_json::json!(["evidence/tickets/PR-1.txt"]));
    let annex = std::fs::read_to_string(f.out("annex.md")).unwrap();
    assert!(annex.contains("*none on file*"), "item 2 is listed as without support");
}

// ---------------------------------------------------------------------------------------------
// auditpack fetch

/// The init project with the given `[[collector]]` tables appended to auditpack.toml.
fn with_collectors(tables: &str) -> Fixture {
    let f = Fixture::init();
    let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{cfg}\n{tables}"));
    f
}

fn fetch(f: &Fixture, extra: &[&str]) -> (Run, String) {
    let out = crate::harness::bin()
        .args(["fetch", "project"])
        .args(extra)
        .current_dir(f.dir.path())
        .env("COLLECTOR_TOKEN", "tok-9f8e7d6c5b4a")
        .output()
        .unwrap();
    let r = Run::from(out);
    let stdout = r.stdout.clone();
    (r, stdout)
}

/// The files under the evidence folder's `dir`, names only, sorted (hidden temp files included).
fn names(f: &Fixture, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(f.path(dir))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn today() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%d"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn fetch_writes_the_output_and_a_sidecar_that_records_the_run_and_never_overwrites() {
    let f = with_collectors(
        "[[collector]]\nid = \"prs\"\ncommand = [\"sh\", \"-c\", \"test -n \\\"$COLLECTOR_TOKEN\\\" && printf 'number,merged_at\\\\n1,%s\\\\n2,2026-03-01\\\\n' \\\"$AUDITPACK_PERIOD_START\\\"\"]\noutput = \"listings/prs-{date}.csv\"\ntimeout = 30\nprovenance = { source_system = \"GitHub\", report = \"Merged pull requests\", parameters = { base = \"main\" } }\n",
    );
    let (r, stdout) = fetch(&f, &[]);
    r.code(0);
    let day = today();
    let rel = format!("evidence/listings/prs-{day}.csv");
    assert!(stdout.contains(&format!("prs: wrote {rel} (")), "{stdout}");
    let bytes = std::fs::read(f.path(&rel)).unwrap();
    assert_eq!(String::from_utf8_lossy(&bytes), "number,merged_at\n1,2026-06-30\n2,2026-03-01\n");
    let sidecar_text = std::fs::read_to_string(f.path(&format!("{rel}.meta.toml"))).unwrap();
    let sidecar: toml::Table = toml::from_str(&sidecar_text).unwrap();
    let run = sidecar["collector"].as_table().unwrap();
    assert_eq!(run["id"].as_str(), Some("prs"));
    assert_eq!(run["exit_code"].as_integer(), Some(0));
    assert_eq!(run["sha256"].as_str().unwrap(), sha256_hex(&bytes));
    assert_eq!(run["size"].as_integer(), Some(bytes.len() as i64));
    assert_eq!(run["record_count"].as_integer(), Some(2));
    assert_eq!(run["command"].as_array().unwrap()[0].as_str(), Some("sh"));
    let (start, end) = (run["started_at"].to_string(), run["finished_at"].to_string());
    assert!(start.starts_with(&day) && start <= end, "{start} {end}");
    assert!(!run["host"].as_str().unwrap().is_empty());
    let prov = sidecar["provenance"].as_table().unwrap();
    assert_eq!(prov["source_system"].as_str(), Some("GitHub"));
    assert_eq!(prov["record_count"].as_integer(), Some(2));
    // The init project is a Type 1 as of 2026-06-30: the period the command was given.
    assert_eq!(sidecar["period_start"].to_string(), "2026-06-30");
    assert_eq!(sidecar["period_end"].to_string(), "2026-06-30");
    assert!(!sidecar_text.contains("tok-9f8e7d6c5b4a"), "no secret from the environment in the sidecar");

    // A second run the same day is refused and changes nothing.
    let before = names(&f, "evidence/listings");
    let (r, _) = fetch(&f, &[]);
    r.code(1).says(&["error[collector-output-exists]", &format!("`{rel}` exists; fetch never overwrites evidence")]);
    assert_eq!(names(&f, "evidence/listings"), before);
    assert_eq!(std::fs::read(f.path(&rel)).unwrap(), bytes);

    // The project checks clean of collector findings; an edit of the output is caught.
    let r = run_in(f.dir.path(), &["check", "project"]);
    assert!(!r.stderr.contains("collector-output-changed"), "{}", r.stderr);
    std::fs::write(f.path(&rel), "number,merged_at\n1,2026-06-30\n").unwrap();
    run_in(f.dir.path(), &["check", "project"])
        .code(1)
        .says(&["error[collector-output-changed]", "error[record-count-mismatch]"]);
}

#[test]
fn a_failing_silent_slow_or_secret_collector_leaves_no_file() {
    let f = with_collectors(concat!(
        "[[collector]]\nid = \"fails\"\ncommand = [\"sh\", \"-c\", \"echo partial; echo boom >&2; exit 3\"]\noutput = \"out/fails.csv\"\n\n",
        "[[collector]]\nid = \"silent\"\ncommand = [\"true\"]\noutput = \"out/silent.csv\"\n\n",
        "[[collector]]\nid = \"slow\"\ncommand = [\"sh\", \"-c\", \"echo started; sleep 60 & wait\"]\noutput = \"out/slow.txt\"\ntimeout = 1\n\n",
        "[[collector]]\nid = \"leaky\"\ncommand = [\"echo\", \"AKIAIOSFODNN7EXAMPLE\"]\noutput = \"out/leaky.txt\"\n\n",
        "[[collector]]\nid = \"badcsv\"\ncommand = [\"printf\", \"a,b\\\\n1\\\\n\"]\noutput = \"out/bad.csv\"\n\n",
        "[[collector]]\nid = \"missing\"\ncommand = [\"no-such-program-auditpack\"]\noutput = \"out/missing.txt\"\n",
    ));
    let (r, _) = fetch(&f, &[]);
    r.code(1).says(&[
        "error[collector-failed]: collector `fails`: the command ended with exit code 3; nothing was written",
        "boom",
        "error[collector-empty]: collector `silent`",
        "error[collector-timeout]: collector `slow`: the command ran longer than 1 s",
        "error[collector-secret]: collector `leaky`: the command line holds what looks like an AWS access key id",
        "error[invalid-listing]: collector `badcsv`: its output is not a valid csv listing (line 2)",
        "error[collector-failed]: collector `missing`: cannot start `no-such-program-auditpack`",
        "auditpack.toml:",
    ]);
    assert!(names(&f, "evidence/out").is_empty(), "no output and no temporary file: {:?}", names(&f, "evidence/out"));
    // An unknown --only runs nothing.
    let (r, _) = fetch(&f, &["--only", "nope"]);
    r.code(1).says(&[
        "error[unknown-collector]: the project has no collector `nope`",
        "the collectors are: fails, silent, slow, leaky, badcsv, missing",
    ]);
}

/// A one-shot HTTP server of the test's own, answering every request with `body`.
fn serve(body: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        request
    });
    (port, handle)
}

#[test]
fn a_collector_fetches_a_listing_over_http_with_a_token_from_the_environment() {
    if crate::harness::tool("curl").is_none() {
        return;
    }
    let (port, server) = serve(
        r#"[{"id": "u1", "created": "2026-01-03"}, {"id": "u2", "created": "2026-02-03"}, {"id": "u3", "created": "2026-05-03"}]"#,
    );
    let f = with_collectors(&format!(
        "[[collector]]\nid = \"idp-users\"\ncommand = [\"sh\", \"-c\", \"curl -fsS -H \\\"Authorization: Bearer $COLLECTOR_TOKEN\\\" http://127.0.0.1:{port}/api/v1/users\"]\noutput = \"identity/users-{{date}}.json\"\nperiod = \"point-in-time\"\nprovenance = {{ source_system = \"Identity provider\", report = \"Users\" }}\n"
    ));
    let (r, stdout) = fetch(&f, &[]);
    r.code(0);
    assert!(stdout.contains("3 records"), "{stdout}");
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /api/v1/users") && request.contains("Bearer tok-9f8e7d6c5b4a"), "{request}");
    let rel = format!("evidence/identity/users-{}.json.meta.toml", today());
    let sidecar = std::fs::read_to_string(f.path(&rel)).unwrap();
    assert!(
        sidecar.contains(&format!("effective = {}", today())),
        "point in time: dated the day of the run\n{sidecar}"
    );
    assert!(!sidecar.contains("tok-9f8e7d6c5b4a"));
}

#[test]
fn the_sample_collector_runs_on_a_copy_without_network() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sample");
    let status =
        std::process::Command::new("cp").args(["-r"]).arg(repo().join("evidence-samples")).arg(&copy).status().unwrap();
    assert!(status.success());
    let r = run_in(dir.path(), &["fetch", "sample", "--only", "hris-terminations"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = copy.join(format!("evidence/hr/offboarding/hris-terminations-{}.csv", today()));
    let text = std::fs::read_to_string(&out).unwrap();
    // The seven terminations of 2026-01-01..2026-06-30, not those before or after.
    assert_eq!(text.lines().count(), 8, "{text}");
    assert!(!text.contains("2025-12-19") && !text.contains("2026-07-10"));
}
