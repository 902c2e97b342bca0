//! Issue 6: the package the auditor verifies. The real binary on a fixture project (the one
//! `auditpack init` writes) and on the BagIt conformance suite; every tamper and hostile-archive
//! case of the issue has a test here. Snapshot tests live in snapshot_folder.rs and snapshot_s3.rs.

use crate::harness::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Builds the fixture project into `out`, optionally signed; returns the zip's path.
fn build(f: &Fixture, out: &str, extra: &[&str]) -> PathBuf {
    let out_dir = f.dir.path().join(out);
    let mut args = vec!["build", "project", "--out", out, "-q"];
    args.extend_from_slice(extra);
    f.exec(&args).code(0);
    std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .expect("the build wrote a zip")
}

/// Extracts a (trusted, test-made) zip into `dest`; returns the bag folder.
fn unzip(zip: &Path, dest: &Path) -> PathBuf {
    let mut a = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut top = None;
    for i in 0..a.len() {
        let mut e = a.by_index(i).unwrap();
        let rel = e.enclosed_name().unwrap();
        top.get_or_insert_with(|| dest.join(rel.components().next().unwrap()));
        let p = dest.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    top.unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Recomputes manifest-sha256.txt, Payload-Oxum and tagmanifest-sha256.txt after the payload
/// was changed: what a careful forger does. Only a signature catches it.
fn recompute_manifests(bag: &Path) {
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(bag.join("data")).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            files.push(e.path().to_path_buf());
        }
    }
    let mut manifest = String::new();
    let mut bytes = 0u64;
    for p in &files {
        let b = std::fs::read(p).unwrap();
        bytes += b.len() as u64;
        let rel = p.strip_prefix(bag).unwrap().to_str().unwrap().to_string();
        manifest.push_str(&format!("{}  {rel}\n", sha256_hex(&b)));
    }
    std::fs::write(bag.join("manifest-sha256.txt"), &manifest).unwrap();
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    let info: String = info
        .lines()
        .map(|l| {
            if l.starts_with("Payload-Oxum:") {
                format!("Payload-Oxum: {bytes}.{}\n", files.len())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(bag.join("bag-info.txt"), info).unwrap();
    let mut tags = String::new();
    for t in ["README.txt", "bag-info.txt", "bagit.txt", "manifest-sha256.txt"] {
        tags.push_str(&format!("{}  {t}\n", sha256_hex(&std::fs::read(bag.join(t)).unwrap())));
    }
    std::fs::write(bag.join("tagmanifest-sha256.txt"), tags).unwrap();
}

const EVIDENCE: &str = "data/evidence/AC-01/access-review-2026-Q2.csv";

#[test]
fn a_built_package_verifies_as_zip_and_as_folder_and_bagit_py_accepts_it() {
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    f.exec(&["verify", zip.to_str().unwrap()]).code(0).out_says(&["intact", "signature:  none"]);
    let bag = unzip(&zip, &f.dir.path().join("unzipped"));
    f.exec(&["verify", bag.to_str().unwrap()]).code(0);
    // The folder holding the unpacked bag is accepted too.
    f.exec(&["verify", "unzipped"]).code(0);
    // JSON output is machine-readable and says the same.
    let r = f.exec(&["verify", zip.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["intact"], true);
    assert_eq!(v["algorithms"][0], "sha256");

    // An independent validator agrees (CI installs bagit; locally it may be missing).
    match std::process::Command::new("bagit.py").arg("--validate").arg(&bag).output() {
        Ok(out) => {
            assert!(out.status.success(), "bagit.py rejected the bag:\n{}", String::from_utf8_lossy(&out.stderr))
        }
        Err(_) if std::env::var("CI").is_err() => {
            eprintln!("bagit.py is not installed: skipped the independent validation")
        }
        Err(e) => panic!("bagit.py is required in CI (pip install bagit): {e}"),
    }
}

#[test]
fn two_builds_are_byte_identical_signed_or_not() {
    let f = Fixture::init();
    let a = std::fs::read(build(&f, "a", &[])).unwrap();
    let b = std::fs::read(build(&f, "b", &[])).unwrap();
    assert!(a == b, "two builds of the same project differ");
    f.exec(&["keygen", "--out", "keys"]).code(0);
    let a = std::fs::read(build(&f, "sa", &["--sign", "keys/auditpack-signing.key"])).unwrap();
    let b = std::fs::read(build(&f, "sb", &["--sign", "keys/auditpack-signing.key"])).unwrap();
    assert!(a == b, "two signed builds differ (ed25519 is deterministic)");
}

/// Each tamper case of the issue, on the unpacked bag: (what is done, expected code).
#[test]
fn every_tamper_case_is_caught_in_a_folder() {
    type Tamper = fn(&Path);
    let cases: &[(&str, Tamper, &str)] = &[
        ("a byte changed in an evidence file", |b| flip_byte(&b.join(EVIDENCE)), "checksum-mismatch"),
        ("an evidence file deleted", |b| std::fs::remove_file(b.join(EVIDENCE)).unwrap(), "missing-from-bag"),
        ("a file added", |b| std::fs::write(b.join("data/evidence/extra.txt"), "x").unwrap(), "unlisted-file"),
        (
            "a file renamed",
            |b| std::fs::rename(b.join(EVIDENCE), b.join("data/evidence/AC-01/renamed.csv")).unwrap(),
            "missing-from-bag",
        ),
        (
            "the manifest edited",
            |b| {
                let m = std::fs::read_to_string(b.join("manifest-sha256.txt")).unwrap();
                std::fs::write(b.join("manifest-sha256.txt"), m.replacen('a', "b", 1)).unwrap();
            },
            "checksum-mismatch",
        ),
        (
            "Payload-Oxum edited",
            |b| {
                let m = std::fs::read_to_string(b.join("bag-info.txt")).unwrap();
                std::fs::write(b.join("bag-info.txt"), m.replace("Payload-Oxum: ", "Payload-Oxum: 1")).unwrap();
            },
            "payload-oxum",
        ),
        ("bagit.txt removed", |b| std::fs::remove_file(b.join("bagit.txt")).unwrap(), "missing-bagit-txt"),
    ];
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    for (i, (what, tamper, code)) in cases.iter().enumerate() {
        let bag = unzip(&zip, &f.dir.path().join(format!("case{i}")));
        tamper(&bag);
        let r = f.exec(&["verify", bag.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{what}: not caught\n{}", r.stdout);
        assert!(r.stdout.contains(&format!("[{code}]")), "{what}: expected {code}\n{}", r.stdout);
    }
}

#[test]
fn a_recomputed_manifest_is_caught_only_with_the_signature() {
    let f = Fixture::init();
    f.exec(&["keygen", "--out", "keys"]).code(0);
    let zip = build(&f, "out", &["--sign", "keys/auditpack-signing.key"]);
    let key = "keys/auditpack-signing.pub";
    f.exec(&["verify", zip.to_str().unwrap(), "--key", key]).code(0).out_says(&["signature:  valid"]);
    // Without the key, a signed package says it was not checked.
    f.exec(&["verify", zip.to_str().unwrap()]).code(0).out_says(&["not checked"]);

    let bag = unzip(&zip, &f.dir.path().join("forged"));
    std::fs::write(bag.join(EVIDENCE), "user,access\nmallory,admin\n").unwrap();
    recompute_manifests(&bag);
    f.exec(&["verify", bag.to_str().unwrap()]).code(0); // checksums alone cannot tell
    f.exec(&["verify", bag.to_str().unwrap(), "--key", key]).code(1).out_says(&["[signature-invalid]"]);
    // bagit.py still accepts a signed bag: the signature is a tag file no manifest lists.
    if let Ok(out) =
        std::process::Command::new("bagit.py").arg("--validate").arg(unzip(&zip, &f.dir.path().join("v"))).output()
    {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    // Removing the signature does not help the forger.
    std::fs::remove_file(bag.join("tagmanifest-sha256.txt.sig")).unwrap();
    f.exec(&["verify", bag.to_str().unwrap(), "--key", key]).code(1).out_says(&["[signature-missing]"]);

    // Another key's signature is named as such.
    f.exec(&["keygen", "--out", "other", "--identity", "someone-else"]).code(0);
    f.exec(&["verify", zip.to_str().unwrap(), "--key", "other/auditpack-signing.pub"])
        .code(1)
        .out_says(&["[signature-invalid]", "not by the given key"]);
    // An unsigned package with a key given: missing.
    let plain = build(&f, "plain", &[]);
    f.exec(&["verify", plain.to_str().unwrap(), "--key", key]).code(1).out_says(&["[signature-missing]"]);
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites() {
    let f = Fixture::init();
    f.exec(&["keygen", "--out", "keys"]).code(0);
    let private = f.dir.path().join("keys/auditpack-signing.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let before = std::fs::read(&private).unwrap();
    f.exec(&["keygen", "--out", "keys"]).code(2).err_says(&["already exists"]);
    assert_eq!(std::fs::read(&private).unwrap(), before);
    // A public key given where a private one is expected is a clear error.
    f.exec(&["build", "project", "--sign", "keys/auditpack-signing.pub"]).code(2).err_says(&["this is a public key"]);
    // So is a key in auditpack's earlier format, with what to do instead.
    std::fs::write(f.dir.path().join("old.key"), format!("auditpack-ed25519-private-key {}\n", "0".repeat(64)))
        .unwrap();
    f.exec(&["build", "project", "--sign", "old.key"]).code(2).err_says(&["earlier format", "auditpack keygen"]);
}

/// The standard tool alone verifies a signed package: `ssh-keygen -Y verify` with the
/// allowed_signers file keygen wrote, as the bag's README tells the auditor. A manifest recomputed
/// after a change is caught by the same command.
#[test]
fn a_signed_package_verifies_with_ssh_keygen_alone() {
    let Some(ssh_keygen) = tool("ssh-keygen") else { return };
    let f = Fixture::init();
    f.exec(&["keygen", "--out", "keys", "--identity", "security@example.com"]).code(0);
    let allowed = f.dir.path().join("keys/allowed_signers");
    let zip = build(&f, "out", &["--sign", "keys/auditpack-signing.key"]);
    let bag = unzip(&zip, &f.dir.path().join("signed"));
    let ssh_verify = |bag: &Path| {
        std::process::Command::new(&ssh_keygen)
            .args(["-Y", "verify", "-f"])
            .arg(&allowed)
            .args(["-I", "security@example.com", "-n", "auditpack-bag", "-s", "tagmanifest-sha256.txt.sig"])
            .current_dir(bag)
            .stdin(std::fs::File::open(bag.join("tagmanifest-sha256.txt")).unwrap())
            .output()
            .unwrap()
    };
    let out = ssh_verify(&bag);
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ssh-keygen refused the signature: {said}");
    assert!(said.contains("Good \"auditpack-bag\" signature for security@example.com"), "{said}");
    // The README gives the auditor this exact command.
    let readme = std::fs::read_to_string(bag.join("README.txt")).unwrap();
    assert!(
        readme.contains("ssh-keygen -Y verify -f allowed_signers -I security@example.com -n auditpack-bag -s tagmanifest-sha256.txt.sig < tagmanifest-sha256.txt"),
        "{readme}"
    );
    // auditpack verify takes the same allowed_signers file.
    f.exec(&["verify", zip.to_str().unwrap(), "--key", allowed.to_str().unwrap()])
        .code(0)
        .out_says(&["signature:  valid", "security@example.com"]);

    // A forger changes evidence and recomputes every manifest, without the key: ssh-keygen refuses.
    std::fs::write(bag.join(EVIDENCE), "user,access\nmallory,admin\n").unwrap();
    recompute_manifests(&bag);
    let out = ssh_verify(&bag);
    assert!(!out.status.success(), "ssh-keygen accepted a recomputed manifest");
}

/// A key made by ssh-keygen itself signs packages, and the result verifies with its public key.
#[test]
fn an_ssh_keygen_key_signs_packages() {
    let Some(ssh_keygen) = tool("ssh-keygen") else { return };
    let f = Fixture::init();
    let key = f.dir.path().join("id_ed25519");
    let st = std::process::Command::new(&ssh_keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ops@example.com", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let zip = build(&f, "out", &["--sign", key.to_str().unwrap()]);
    f.exec(&["verify", zip.to_str().unwrap(), "--key", key.with_extension("pub").to_str().unwrap()])
        .code(0)
        .out_says(&["signature:  valid", "ops@example.com"]);
    // A passphrase-protected key is refused with a reason, not a parse error.
    let locked = f.dir.path().join("locked");
    let st = std::process::Command::new(&ssh_keygen)
        .args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"])
        .arg(&locked)
        .status()
        .unwrap();
    assert!(st.success());
    f.exec(&["build", "project", "--sign", locked.to_str().unwrap()]).code(2).err_says(&["passphrase"]);
}

fn flip_byte(p: &Path) {
    let mut b = std::fs::read(p).unwrap();
    b[0] ^= 1;
    std::fs::write(p, b).unwrap();
}

/// Rewrites a zip, changing entries with `edit` (None drops the entry).
fn rewrite_zip(src: &Path, dest: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<(String, Vec<u8>)>) {
    let mut a = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(dest).unwrap());
    for i in 0..a.len() {
        let mut e = a.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        for (n, b) in edit(&name, bytes) {
            w.start_file(n, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(&b).unwrap();
        }
    }
    w.finish().unwrap();
}

#[test]
fn a_tampered_zip_is_caught_without_extracting_it() {
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    let bad = f.dir.path().join("bad.zip");
    rewrite_zip(&zip, &bad, |name, mut b| {
        if name.ends_with("access-review-2026-Q2.csv") {
            b[0] ^= 1;
        }
        vec![(name.to_string(), b)]
    });
    let before: Vec<_> = std::fs::read_dir(f.dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    f.exec(&["verify", "bad.zip"]).code(1).out_says(&["[checksum-mismatch]", "access-review-2026-Q2.csv"]);
    let after: Vec<_> = std::fs::read_dir(f.dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(before, after, "verify wrote nothing beside the package");

    rewrite_zip(&zip, &bad, |name, b| if name.ends_with(".csv") { vec![] } else { vec![(name.to_string(), b)] });
    f.exec(&["verify", "bad.zip"]).code(1).out_says(&["[missing-from-bag]"]);
}

/// A small valid bag zip made by the test, with `extra` entries appended verbatim.
fn bag_zip(path: &Path, extra: &[(&str, &[u8])]) {
    let data = b"hello\n";
    let manifest = format!("{}  data/hello.txt\n", sha256_hex(data));
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    let mut add = |n: &str, b: &[u8]| {
        w.start_file(n, opts).unwrap();
        w.write_all(b).unwrap();
    };
    add("bag/bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
    add("bag/manifest-sha256.txt", manifest.as_bytes());
    add("bag/data/hello.txt", data);
    for (n, b) in extra {
        add(n, b);
    }
    w.finish().unwrap();
}

/// Replaces every occurrence of `from` with `to` (same length) in the file's bytes.
fn patch(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut b = std::fs::read(path).unwrap();
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= b.len() {
        if &b[i..i + from.len()] == from {
            b[i..i + from.len()].copy_from_slice(to);
            n += 1;
        }
        i += 1;
    }
    assert!(n > 0, "pattern not found");
    std::fs::write(path, b).unwrap();
}

/// Sets the uncompressed size of entry `name` in both its local and central headers.
fn set_declared_size(path: &Path, name: &[u8], size: u32) {
    let mut b = std::fs::read(path).unwrap();
    for i in 0..b.len().saturating_sub(46) {
        let sig = &b[i..i + 4];
        let (size_at, name_len_at, name_at) = if sig == b"PK\x03\x04" {
            (22, 26, 30)
        } else if sig == b"PK\x01\x02" {
            (24, 28, 46)
        } else {
            continue;
        };
        let len = u16::from_le_bytes([b[i + name_len_at], b[i + name_len_at + 1]]) as usize;
        if b.get(i + name_at..i + name_at + len) == Some(name) {
            b[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
        }
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn hostile_archives_are_refused() {
    let f = Fixture::init();
    let d = f.dir.path();
    bag_zip(&d.join("ok.zip"), &[]);
    f.exec(&["verify", "ok.zip"]).code(0);

    bag_zip(&d.join("dotdot.zip"), &[("bag/data/../../evil.txt", b"x")]);
    f.exec(&["verify", "dotdot.zip"]).code(1).out_says(&["[hostile-archive]", "evil.txt"]);

    bag_zip(&d.join("abs.zip"), &[("bag/data/zabsolute.txt", b"x")]);
    patch(&d.join("abs.zip"), b"bag/data/zabsolute.txt", b"/etc/data/absolute.txt");
    f.exec(&["verify", "abs.zip"]).code(1).out_says(&["[hostile-archive]", "absolute"]);

    // Two entries with one name: written under different names, then renamed in place.
    bag_zip(&d.join("dup.zip"), &[("bag/data/hellp.txt", b"evil\n")]);
    patch(&d.join("dup.zip"), b"bag/data/hellp.txt", b"bag/data/hello.txt");
    f.exec(&["verify", "dup.zip"]).code(1).out_says(&["[hostile-archive]", "same name"]);

    // A bomb: an entry declaring 4 GB from a few compressed bytes is refused unread.
    bag_zip(&d.join("bomb.zip"), &[("bag/data/bomb.bin", &[0u8; 1000])]);
    set_declared_size(&d.join("bomb.zip"), b"bag/data/bomb.bin", u32::MAX - 1);
    f.exec(&["verify", "bomb.zip"]).code(1).out_says(&["[hostile-archive]", "compression bomb"]);

    // An entry holding more than it declares is read only up to its declared size.
    bag_zip(&d.join("liar.zip"), &[("bag/data/more.txt", &[b'a'; 5000])]);
    set_declared_size(&d.join("liar.zip"), b"bag/data/more.txt", 10);
    let r = f.exec(&["verify", "liar.zip"]);
    assert!(r.code == 1 || r.code == 2, "a lying size is not accepted: {}\n{}", r.code, r.stdout);
}

#[test]
fn a_truncated_or_foreign_file_is_unreadable() {
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    let bytes = std::fs::read(&zip).unwrap();
    for cut in [bytes.len() - 10, bytes.len() / 2, 100] {
        std::fs::write(f.dir.path().join("cut.zip"), &bytes[..cut]).unwrap();
        f.exec(&["verify", "cut.zip"]).code(2).err_says(&["not a readable zip"]);
    }
    std::fs::write(f.dir.path().join("notes.txt"), "hello").unwrap();
    f.exec(&["verify", "notes.txt"]).code(2);
    f.exec(&["verify", "does-not-exist.zip"]).code(2);
}

/// The Library of Congress conformance suite: valid bags pass, invalid ones fail, warning bags
/// pass with a warning. The OS-specific cases are invalid everywhere for a verifier that never
/// resolves paths outside the bag.
#[test]
fn the_bagit_conformance_suite() {
    let suite = repo().join("tests/fixtures/external/bagit-conformance");
    if !suite.is_dir() {
        panic!("the conformance suite is missing at {}", suite.display());
    }
    let mut checked = 0;
    for version in ["v0.97", "v1.0"] {
        for (group, want) in [("valid", 0), ("warning", 0), ("invalid", 1), ("linux-only", 1), ("windows-only", 1)] {
            let dir = suite.join(version).join(group);
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            let mut bags: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
            bags.sort();
            for bag in bags {
                let r = run_in(&repo(), &["verify", bag.to_str().unwrap()]);
                assert_eq!(r.code, want, "{}: exit {} (want {want})\n{}{}", bag.display(), r.code, r.stdout, r.stderr);
                if group == "warning" {
                    assert!(r.stdout.contains("warning["), "{}: no warning\n{}", bag.display(), r.stdout);
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} conformance bags found");
}

#[test]
fn secrets_in_evidence_stop_the_build_unless_the_file_is_allowed() {
    let f = Fixture::init();
    f.write("evidence/AC-01/deploy-notes-2026-05-01.txt", "deploy log\nAWS key AKIAIOSFODNN7EXAMPLE used\n");
    f.write("evidence/AC-01/id_rsa-2026-05-01.txt", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n");
    let r = f.exec(&["build", "project", "--out", "out"]);
    r.code(1).err_says(&[
        "evidence/AC-01/deploy-notes-2026-05-01.txt:2: error[secret-in-evidence]",
        "aws-access-key-id",
        "evidence/AC-01/id_rsa-2026-05-01.txt:1: error[secret-in-evidence]",
        "allow_secrets",
    ]);
    assert!(!f.dir.path().join("out").join("index.json").exists(), "nothing written");

    let toml = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write(
        "auditpack.toml",
        &format!("{toml}\n[package]\nallow_secrets = [\"evidence/AC-01/deploy-notes-*.txt\", \"evidence/AC-01/id_rsa-*\", \"evidence/none.txt\"]\n"),
    );
    f.exec(&["build", "project", "--out", "out"])
        .code(0)
        .err_says(&["warning[unused-allow-secrets]", "evidence/none.txt"]);

    // A typo in the new section is located like any other.
    f.write("auditpack.toml", &format!("{toml}\n[package]\nallow_secret = []\n"));
    f.exec(&["build", "project", "--out", "out"]).code(1).err_says(&["error[unknown-key]", "allow_secret"]);
}

/// Deterministic bytes that do not compress (xorshift), without a random-number crate.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn text_is_deflated_random_bytes_stored_and_the_zip_is_the_same_on_any_number_of_threads() {
    let f = Fixture::init();
    // Over and under the size packed in memory (4 MiB); names that do not say what they hold.
    let text: String =
        (0..110_000).map(|i| format!("2026-05-01T00:00:{:02}Z INFO login user{} ok\n", i % 60, i % 977)).collect();
    assert!(text.len() > 4 << 20);
    f.write("evidence/AC-01/logins-2026-05-01.log", &text);
    f.write("evidence/AC-01/logins-small-2026-05-01.log", &text[..20_000]);
    std::fs::write(f.path("evidence/AC-01/dump-2026-05-01.dat"), noise(5 << 20, 7)).unwrap();
    std::fs::write(f.path("evidence/AC-01/blob-2026-05-01.dat"), noise(8 << 10, 9)).unwrap();

    let build_with = |threads: &str, out: &str| -> Vec<u8> {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_auditpack"))
            .args(["build", "project", "--out", out, "-q"])
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(f.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let zip = std::fs::read_dir(f.dir.path().join(out))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "zip"))
            .unwrap();
        f.exec(&["verify", zip.to_str().unwrap()]).code(0);
        std::fs::read(zip).unwrap()
    };
    let one = build_with("1", "t1");
    assert!(one == build_with("3", "t3"), "the package depends on the number of threads");

    let mut a = zip::ZipArchive::new(std::io::Cursor::new(one)).unwrap();
    let method = |a: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, suffix: &str| {
        let name = a.file_names().flatten().find(|n| n.ends_with(suffix)).unwrap().to_string();
        a.by_name(&name).unwrap().compression()
    };
    use zip::CompressionMethod::{Deflated, Stored};
    assert_eq!(method(&mut a, "/logins-2026-05-01.log"), Deflated);
    assert_eq!(method(&mut a, "/logins-small-2026-05-01.log"), Deflated);
    assert_eq!(method(&mut a, "/dump-2026-05-01.dat"), Stored);
    assert_eq!(method(&mut a, "/blob-2026-05-01.dat"), Stored);
    assert_eq!(method(&mut a, "/report.pdf"), Stored);
    assert_eq!(method(&mut a, "/manifest-sha256.txt"), Deflated);
}

#[test]
fn a_compression_level_out_of_range_is_located() {
    let f = Fixture::init();
    let toml = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
    f.write("auditpack.toml", &format!("{toml}\n[package]\ncompression_level = 12\n"));
    f.exec(&["build", "project", "--out", "out"])
        .code(1)
        .err_says(&["error[invalid-value]", "`compression_level` must be a whole number from 1 to 9, found 12"]);
    f.write("auditpack.toml", &format!("{toml}\n[package]\ncompression_level = 1\n"));
    f.exec(&["build", "project", "--out", "out", "-q"]).code(0);
    // The flag overrides the setting, within the same range.
    f.exec(&["build", "project", "--out", "out9", "-q", "--compression-level", "9"]).code(0);
    f.exec(&["build", "project", "--out", "out", "--compression-level", "0"]).code(2).err_says(&["0 is not in 1..=9"]);
}

/// A bag zip with many payload files of every kind the readers handle: small Deflate entries
/// read in runs, large Deflate and Stored entries read one by one. Returns the payload names.
fn many_files_zip(path: &Path) -> Vec<String> {
    let mut files: Vec<(String, Vec<u8>, zip::CompressionMethod)> = Vec::new();
    for i in 0..60 {
        let text = format!("row {i}\n").repeat(1 + i * 37);
        files.push((format!("data/small-{i:02}.csv"), text.into_bytes(), zip::CompressionMethod::Deflated));
    }
    let mut noise = Vec::with_capacity(3 << 20);
    let mut x: u64 = 7;
    while noise.len() < 3 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    files.push(("data/large-noise.bin".into(), noise, zip::CompressionMethod::Stored));
    files.push((
        "data/large-log.txt".into(),
        "GET /index.html 200\n".repeat(200_000).into_bytes(),
        zip::CompressionMethod::Deflated,
    ));
    let manifest: String = files.iter().map(|(n, b, _)| format!("{}  {n}\n", sha256_hex(b))).collect();
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let mut add = |n: &str, b: &[u8], m: zip::CompressionMethod| {
        w.start_file(format!("bag/{n}"), zip::write::SimpleFileOptions::default().compression_method(m)).unwrap();
        w.write_all(b).unwrap();
    };
    add("bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", zip::CompressionMethod::Deflated);
    add("manifest-sha256.txt", manifest.as_bytes(), zip::CompressionMethod::Deflated);
    for (n, b, m) in &files {
        add(n, b, *m);
    }
    w.finish().unwrap();
    files.into_iter().map(|(n, ..)| n).collect()
}

/// Flips one byte in the middle of the stored (raw, compressed or not) data of `name`.
fn damage_entry(path: &Path, name: &str) {
    let (at, len) = {
        let mut a = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let e = a.by_name(name).unwrap();
        (e.data_start().unwrap(), e.compressed_size())
    };
    let mut b = std::fs::read(path).unwrap();
    b[(at + len / 2) as usize] ^= 0x55;
    std::fs::write(path, b).unwrap();
}

#[test]
fn many_files_read_on_several_threads_give_one_report() {
    let f = Fixture::init();
    let d = f.dir.path();
    let names = many_files_zip(&d.join("many.zip"));
    let one = f.exec(&["verify", "many.zip", "--jobs", "1"]);
    one.code(0).out_says(&[&format!("payload:    {} files", names.len())]);
    for jobs in ["2", "5"] {
        assert_eq!(f.exec(&["verify", "many.zip", "--jobs", jobs]).stdout, one.stdout, "--jobs {jobs}");
    }
    assert_eq!(f.exec(&["verify", "many.zip"]).stdout, one.stdout, "the default number of readers");

    // Damaged entries, Stored and Deflate, small and large: each is reported once, in the same
    // words and order whatever the number of readers.
    for name in ["data/large-noise.bin", "data/large-log.txt", "data/small-07.csv", "data/small-42.csv"] {
        damage_entry(&d.join("many.zip"), &format!("bag/{name}"));
    }
    let one = f.exec(&["verify", "many.zip", "--jobs", "1", "--format", "json"]);
    one.code(1);
    let v: serde_json::Value = serde_json::from_str(&one.stdout).expect("JSON");
    let mut damaged: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "corrupt-entry" || p["code"] == "checksum-mismatch")
        .map(|p| p["location"]["file"].as_str().unwrap())
        .collect();
    damaged.sort();
    assert_eq!(damaged, ["data/large-log.txt", "data/large-noise.bin", "data/small-07.csv", "data/small-42.csv"]);
    for jobs in ["2", "5"] {
        let r = f.exec(&["verify", "many.zip", "--jobs", jobs, "--format", "json"]);
        assert_eq!(r.stdout, one.stdout, "--jobs {jobs}");
    }
    f.exec(&["verify", "many.zip", "--jobs", "0"]).code(2);
}

#[test]
fn an_entry_compressed_with_an_unknown_method_is_unreadable_not_trusted() {
    let f = Fixture::init();
    let d = f.dir.path();
    bag_zip(&d.join("odd.zip"), &[]);
    // Method 12 (bzip2) in the local and central headers of data/hello.txt.
    let mut b = std::fs::read(d.join("odd.zip")).unwrap();
    let name = b"bag/data/hello.txt";
    for i in 0..b.len().saturating_sub(46) {
        let (method_at, name_len_at, name_at) = match &b[i..i + 4] {
            b"PK\x03\x04" => (8, 26, 30),
            b"PK\x01\x02" => (10, 28, 46),
            _ => continue,
        };
        let len = u16::from_le_bytes([b[i + name_len_at], b[i + name_len_at + 1]]) as usize;
        if b.get(i + name_at..i + name_at + len) == Some(&name[..]) {
            b[i + method_at..i + method_at + 2].copy_from_slice(&12u16.to_le_bytes());
        }
    }
    std::fs::write(d.join("odd.zip"), b).unwrap();
    f.exec(&["verify", "odd.zip"]).code(1).out_says(&["[corrupt-entry]", "data/hello.txt", "method"]);
}

// ---- Issue 14: what a hostile tester broke ----

#[cfg(unix)]
fn mkfifo(p: &Path) {
    assert!(std::process::Command::new("mkfifo").arg(p).status().unwrap().success(), "mkfifo {}", p.display());
}

/// Item 2: Deflate really compresses zeros about 1030:1; verify called such a package a bomb.
#[test]
fn an_all_zero_20_mb_file_and_a_sparse_2_gib_file_build_and_verify() {
    let f = Fixture::init();
    std::fs::write(f.path("evidence/AC-01/zeros-2026-06-01.bin"), vec![0u8; 20 << 20]).unwrap();
    let sparse = std::fs::File::create(f.path("evidence/AC-01/sparse-2026-06-01.bin")).unwrap();
    sparse.set_len(2 << 30).unwrap();
    drop(sparse);
    let zip = build(&f, "out", &[]);
    let r = f.exec(&["verify", zip.to_str().unwrap()]);
    r.code(0).out_says(&["intact"]);
    assert!(!r.stdout.contains("compression bomb"), "{}", r.stdout);
    // Both are really in the package, deflated far beyond 1000:1.
    let a = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    for i in 0..a.len() {
        let e = a.by_index_data(i).unwrap();
        if e.name().unwrap().ends_with(".bin") {
            assert!(e.size() >= 20 << 20 && e.size() / e.compressed_size() > 1000, "{}", e.name().unwrap());
        }
    }
}

/// Item 2: `back\slash.csv` made a package that verify calls `path-outside-bag`; build refuses it.
#[test]
fn an_evidence_file_named_back_slash_csv_is_refused_at_collect() {
    let f = Fixture::init();
    f.write("evidence/AC-01/back\\slash.csv", "user,access\n");
    let r = f.exec(&["build", "project", "--out", "out"]);
    r.code(1).err_says(&["[unpackageable-name]", "backslash", "slash.csv"]);
    assert!(
        !f.dir.path().join("out").exists()
            || !std::fs::read_dir(f.dir.path().join("out"))
                .unwrap()
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "zip")),
        "no package was written"
    );
    f.exec(&["check", "project"]).code(1).err_says(&["[unpackageable-name]"]);
}

/// Item 4: a FIFO in an unpacked bag made verify hang forever; it is reported, never opened.
#[cfg(unix)]
#[test]
fn a_fifo_in_an_unpacked_bag_is_reported_not_opened() {
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    let bag = unzip(&zip, &f.dir.path().join("bag"));
    mkfifo(&bag.join("data/evidence/pipe"));
    // Even a FIFO in the place of a listed file and of a tag file.
    std::fs::remove_file(bag.join(EVIDENCE)).unwrap();
    mkfifo(&bag.join(EVIDENCE));
    std::fs::remove_file(bag.join("bag-info.txt")).unwrap();
    mkfifo(&bag.join("bag-info.txt"));
    let r = run_within(f.dir.path(), &["verify", bag.to_str().unwrap()], 60);
    r.code(1).out_says(&["[special-file-in-bag]", "FIFO", "data/evidence/pipe", "access-review-2026-Q2.csv"]);
}

/// Item 4: a character device in an unpacked bag (it never ends) is reported, never read.
#[cfg(unix)]
#[test]
fn a_char_device_in_an_unpacked_bag_is_reported_not_read() {
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    let bag = unzip(&zip, &f.dir.path().join("bag"));
    let dev = bag.join("data/evidence/zero");
    // /dev/zero's numbers; only root may make a device node (CI runs as root).
    let made = std::process::Command::new("mknod").arg(&dev).args(["c", "1", "5"]).status();
    if !made.is_ok_and(|s| s.success()) {
        assert!(std::env::var("CI").is_err(), "mknod is needed in CI (run as root)");
        eprintln!("cannot make a device node (not root): skipped");
        return;
    }
    let r = run_within(f.dir.path(), &["verify", bag.to_str().unwrap()], 60);
    r.code(1).out_says(&["[special-file-in-bag]", "character device", "data/evidence/zero"]);
}

/// Item 4: a FIFO (or a device) given as the package hung verify; it is refused unopened.
#[cfg(unix)]
#[test]
fn a_fifo_as_the_package_path_is_refused_without_hanging() {
    let f = Fixture::init();
    mkfifo(&f.dir.path().join("package.zip"));
    run_within(f.dir.path(), &["verify", "package.zip"], 30).code(2).err_says(&["not a regular file", "FIFO"]);
    run_within(f.dir.path(), &["verify", "/dev/zero"], 30)
        .code(2)
        .err_says(&["not a regular file", "character device"]);
}

/// Item 4: `--key` at a FIFO hung, at /dev/zero it read gigabytes; key files are read bounded.
#[cfg(unix)]
#[test]
fn a_key_at_a_fifo_or_dev_zero_is_refused_with_a_size_limit() {
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    let zip = zip.to_str().unwrap();
    mkfifo(&f.dir.path().join("key.pub"));
    run_within(f.dir.path(), &["verify", zip, "--key", "key.pub"], 30)
        .code(2)
        .err_says(&["key.pub", "not a regular file"]);
    run_within(f.dir.path(), &["verify", zip, "--key", "/dev/zero"], 30).code(2).err_says(&["not a regular file"]);
    std::fs::write(f.dir.path().join("big.pub"), vec![b'a'; 1 << 20]).unwrap();
    run_within(f.dir.path(), &["verify", zip, "--key", "big.pub"], 30).code(2).err_says(&["larger than 65536 bytes"]);
    run_within(f.dir.path(), &["build", "project", "--sign", "key.pub"], 30).code(2).err_says(&["not a regular file"]);
}

/// Sets the Unix mode (external attributes) of entry `name` in the central directory.
fn set_mode(path: &Path, name: &[u8], mode: u32) {
    let mut b = std::fs::read(path).unwrap();
    let mut n = 0;
    for i in 0..b.len().saturating_sub(46) {
        if &b[i..i + 4] != b"PK\x01\x02" {
            continue;
        }
        let len = u16::from_le_bytes([b[i + 28], b[i + 29]]) as usize;
        if b.get(i + 46..i + 46 + len) == Some(name) {
            b[i + 5] = 3; // made by Unix
            b[i + 38..i + 42].copy_from_slice(&(mode << 16).to_le_bytes());
            n += 1;
        }
    }
    assert_eq!(n, 1, "one central record for {}", String::from_utf8_lossy(name));
    std::fs::write(path, b).unwrap();
}

/// Where entry `name`'s local header starts.
fn local_header(b: &[u8], name: &[u8]) -> usize {
    (0..b.len() - 30)
        .find(|&i| {
            &b[i..i + 4] == b"PK\x03\x04" && {
                let len = u16::from_le_bytes([b[i + 26], b[i + 27]]) as usize;
                b.get(i + 30..i + 30 + len) == Some(name)
            }
        })
        .expect("local header")
}

/// Item 3: symbolic links in a zip were reported intact, and unzip then created them.
#[test]
fn symlink_entries_in_a_zip_are_refused_as_hostile() {
    let f = Fixture::init();
    let d = f.dir.path();
    type Links = &'static [(&'static str, &'static str)];
    type Files = &'static [(&'static str, &'static [u8])];
    let cases: &[(&str, Links, Files)] = &[
        ("etc-passwd.zip", &[("bag/data/passwd", "/etc/passwd")], &[]),
        ("dotdot.zip", &[("bag/data/x", "../../tmp/x")], &[]),
        // A link to a folder, then a file "inside" it: unzip writes through the link.
        ("folder.zip", &[("bag/data/d", "/tmp")], &[("bag/data/d/x", b"written through the link")]),
    ];
    for (zip_name, links, files) in cases {
        let path = d.join(zip_name);
        bag_zip(&path, files);
        // Append the links: rewrite with the zip crate, which writes S_IFLNK modes.
        let mut a = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let tmp = d.join("tmp.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&tmp).unwrap());
        for i in 0..a.len() {
            w.raw_copy_file(a.by_index_raw(i).unwrap()).unwrap();
        }
        for (name, target) in *links {
            w.add_symlink(*name, *target, zip::write::SimpleFileOptions::default()).unwrap();
        }
        w.finish().unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        f.exec(&["verify", zip_name]).code(1).out_says(&["[hostile-archive]", "symbolic link", links[0].0]);
    }
    // A FIFO or a device entry is refused the same way.
    bag_zip(&d.join("fifo.zip"), &[("bag/data/pipe", b"")]);
    set_mode(&d.join("fifo.zip"), b"bag/data/pipe", 0o010644);
    f.exec(&["verify", "fifo.zip"]).code(1).out_says(&["[hostile-archive]", "FIFO"]);
    bag_zip(&d.join("suid.zip"), &[("bag/data/tool", b"#!/bin/sh\n")]);
    set_mode(&d.join("suid.zip"), b"bag/data/tool", 0o104755);
    f.exec(&["verify", "suid.zip"]).code(1).out_says(&["[hostile-archive]", "setuid"]);
}

/// Item 3: a mode flip on a signed package passed: neither checksums nor the signature cover
/// the archive's file modes.
#[test]
fn a_mode_flip_on_a_signed_package_is_caught() {
    let f = Fixture::init();
    f.exec(&["keygen", "--out", "keys"]).code(0);
    let zip = build(&f, "out", &["--sign", "keys/auditpack-signing.key"]);
    let key = "keys/auditpack-signing.pub";
    f.exec(&["verify", zip.to_str().unwrap(), "--key", key]).code(0);
    let entry = {
        let a = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        let names: Vec<String> = a.file_names().map(|n| n.unwrap().to_string()).collect();
        names.into_iter().find(|n| n.ends_with(EVIDENCE)).unwrap()
    };
    for (mode, says) in [(0o100755, "[file-mode]"), (0o100666, "[file-mode]"), (0o120777, "symbolic link")] {
        let flipped = f.dir.path().join("flipped.zip");
        std::fs::copy(&zip, &flipped).unwrap();
        set_mode(&flipped, entry.as_bytes(), mode);
        f.exec(&["verify", "flipped.zip", "--key", key]).code(1).out_says(&[says]);
        f.exec(&["verify", "flipped.zip"]).code(1).out_says(&[says]);
    }
}

/// The zip's local headers must say what its central directory says: an extracting tool reads
/// the local ones.
#[test]
fn local_headers_that_disagree_with_the_central_directory_are_refused() {
    let f = Fixture::init();
    let d = f.dir.path();
    // A local name `../../tmp/evil` behind a harmless central name of the same length.
    bag_zip(&d.join("name.zip"), &[("bag/data/evil1", b"x")]);
    let mut b = std::fs::read(d.join("name.zip")).unwrap();
    let at = local_header(&b, b"bag/data/evil1");
    b[at + 30..at + 44].copy_from_slice(b"../../tmp/evil");
    std::fs::write(d.join("name.zip"), &b).unwrap();
    f.exec(&["verify", "name.zip"]).code(1).out_says(&["[hostile-archive]", "../../tmp/evil", "central directory"]);

    // A different method, a different size.
    for (case, offset, value) in [("method", 8usize, 0u32), ("size", 22, 1)] {
        let p = d.join(format!("{case}.zip"));
        bag_zip(&p, &[]);
        let mut b = std::fs::read(&p).unwrap();
        let at = local_header(&b, b"bag/data/hello.txt");
        let width = if case == "method" { 2 } else { 4 };
        b[at + offset..at + offset + width].copy_from_slice(&value.to_le_bytes()[..width]);
        std::fs::write(&p, &b).unwrap();
        f.exec(&["verify", p.to_str().unwrap()]).code(1).out_says(&["[hostile-archive]", "disagrees", case]);
    }

    // An entry the central directory does not list: its record is cut out of the directory.
    bag_zip(&d.join("hidden.zip"), &[("bag/data/zhidden.txt", b"not in the directory")]);
    let mut b = std::fs::read(d.join("hidden.zip")).unwrap();
    let eocd = b.len() - 22;
    assert_eq!(&b[eocd..eocd + 4], b"PK\x05\x06");
    let cd_size = u32::from_le_bytes(b[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
    let cd_at = u32::from_le_bytes(b[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let rec = (cd_at..eocd)
        .find(|&i| &b[i..i + 4] == b"PK\x01\x02" && b[i + 46..].starts_with(b"bag/data/zhidden.txt"))
        .unwrap();
    let len = 46
        + u16::from_le_bytes([b[rec + 28], b[rec + 29]]) as usize
        + u16::from_le_bytes([b[rec + 30], b[rec + 31]]) as usize
        + u16::from_le_bytes([b[rec + 32], b[rec + 33]]) as usize;
    b.drain(rec..rec + len);
    let eocd = b.len() - 22;
    for at in [eocd + 8, eocd + 10] {
        let n = u16::from_le_bytes([b[at], b[at + 1]]) - 1;
        b[at..at + 2].copy_from_slice(&n.to_le_bytes());
    }
    b[eocd + 12..eocd + 16].copy_from_slice(&((cd_size - len) as u32).to_le_bytes());
    std::fs::write(d.join("hidden.zip"), &b).unwrap();
    let a = zip::ZipArchive::new(std::fs::File::open(d.join("hidden.zip")).unwrap()).unwrap();
    assert_eq!(a.len(), 3, "the zip crate itself sees only the listed entries");
    f.exec(&["verify", "hidden.zip"]).code(1).out_says(&["[hostile-archive]", "belong to no entry"]);
}

/// Names from archives reached the terminal raw: an ESC sequence could rewrite the screen.
#[test]
fn names_with_control_characters_are_printed_escaped() {
    let f = Fixture::init();
    let d = f.dir.path();
    bag_zip(&d.join("esc.zip"), &[("bag/data/\x1b[2J\x1b]0;pwned\x07.txt", b"x")]);
    let r = f.exec(&["verify", "esc.zip"]);
    r.code(1).out_says(&["[unlisted-file]", "\\u{1b}[2J"]);
    assert!(!r.stdout.contains('\x1b') && !r.stdout.contains('\x07'), "raw control characters:\n{:?}", r.stdout);
    bag_zip(&d.join("nul.zip"), &[("bag/data/a\0b", b"x")]);
    let r = f.exec(&["verify", "nul.zip"]);
    r.code(1).out_says(&["[hostile-archive]"]);
    assert!(!r.stdout.contains('\0'), "{:?}", r.stdout);
}

/// Runs auditpack with its standard output closed at once, as `| head -1` does.
fn run_into_closed_pipe(cwd: &Path, args: &[&str]) -> Run {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_auditpack"))
        .args(args)
        .current_dir(cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `verify PKG | head -1`, `snapshot list | head -1`, `snapshot diff 1 2 | head -1` panicked
/// (exit 101); they stop printing quietly and exit as they would have.
#[test]
fn verify_and_snapshot_list_and_diff_piped_into_head_exit_quietly() {
    let f = Fixture::init();
    let zip = build(&f, "out", &[]);
    for _ in 0..2 {
        f.exec(&["snapshot", "project", "-q"]).code(0);
        f.write("evidence/AC-01/more-2026-06-01.csv", "a,b\n");
    }
    let zip = zip.to_str().unwrap();
    let cases: &[(&[&str], i32)] = &[
        (&["verify", zip], 0),
        (&["verify", zip, "--format", "json"], 0),
        (&["snapshot", "list", "project"], 0),
        (&["snapshot", "list", "project", "--json"], 0),
        (&["snapshot", "diff", "1", "2", "--project", "project"], 0),
    ];
    for (args, code) in cases {
        let r = run_into_closed_pipe(f.dir.path(), args);
        assert_eq!(r.code, *code, "{args:?}: exit {}\n{}", r.code, r.stderr);
        assert!(!r.stderr.contains("panicked") && !r.stderr.contains("Broken pipe"), "{args:?}:\n{}", r.stderr);
    }
}

/// Item 5: six 250 MB tag manifests took 6.2 GB and printed 21 million lines. Manifests are read
/// line by line and repeated findings are capped with a count (smaller here than the tester's).
#[test]
fn huge_tag_manifests_of_repeated_lines_are_streamed_and_findings_capped() {
    let f = Fixture::init();
    let d = f.dir.path();
    let bagit = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
    let line = format!("{}  bagit.txt\n", sha256_hex(bagit));
    let n = 300_000;
    let big = line.repeat(n);
    let md5_line = format!("{:032x}  bagit.txt\n", 0);
    bag_zip(
        &d.join("big.zip"),
        &[("bag/tagmanifest-sha256.txt", big.as_bytes()), ("bag/tagmanifest-md5.txt", md5_line.repeat(n).as_bytes())],
    );
    let r = f.exec(&["verify", "big.zip"]);
    r.code(1).out_says(&["[duplicate-manifest-entry]", &format!("and {} more like this", "599,898")]);
    assert!(r.stdout.lines().count() < 1000, "{} lines printed", r.stdout.lines().count());
    // JSON is capped the same way.
    let r = f.exec(&["verify", "big.zip", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["problems"].as_array().unwrap().len() < 400);
}
