//! The incremental hash cache: trusted only while size, mtime, ctime, inode and device prove a
//! file unchanged. Each test plants a wrong hash in the cache: if it shows up in index.json the
//! cache was trusted; a change to the file must make the true hash show instead.

use crate::harness::Fixture;
use std::process::Command;

const FILE: &str = "evidence/AC-01/access-review-2026-Q2.csv";
const WRONG: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn set_old_mtime(f: &Fixture, rel: &str) {
    let ok = Command::new("touch").args(["-d", "2026-01-01T00:00:00Z"]).arg(f.path(rel)).status().unwrap().success();
    assert!(ok);
}

fn hash_of(f: &Fixture, rel: &str) -> Option<String> {
    let index = f.index();
    let e = index["evidence"].as_array().unwrap().iter().find(|e| e["path"] == rel)?;
    Some(e["sha256"].as_str().unwrap().to_string())
}

/// Collects once with old mtimes, then replaces the cached hash of FILE with WRONG.
fn poisoned() -> (Fixture, String) {
    let f = Fixture::init();
    set_old_mtime(&f, FILE);
    f.run("collect", &[]).code(0);
    let truth = hash_of(&f, FILE).unwrap();
    poison(&f, &truth);
    (f, truth)
}

/// Replaces `hash` in the binary cache with WRONG (32 zero bytes) and fixes up its checksum, as
/// a cache that is wrong but undamaged would look.
fn poison(f: &Fixture, hash: &str) {
    let cache = f.out(".auditpack-cache/collect-cache-v2.bin");
    let mut bytes = std::fs::read(&cache).unwrap();
    let raw: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).unwrap()).collect();
    let at = bytes.windows(32).position(|w| w == raw).expect("the cache holds the hash");
    bytes[at..at + 32].fill(0);
    let body = bytes.len() - 32;
    let sum = hmac_sha256::Hash::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum);
    std::fs::write(&cache, bytes).unwrap();
}

#[test]
fn an_unchanged_file_is_not_read_again() {
    let (f, _) = poisoned();
    f.run("collect", &[]).code(0);
    assert_eq!(hash_of(&f, FILE).as_deref(), Some(WRONG), "the cached hash was used");
}

#[test]
fn rehash_ignores_the_cache() {
    let (f, truth) = poisoned();
    f.run("collect", &["--rehash"]).code(0);
    assert_eq!(hash_of(&f, FILE), Some(truth));
}

#[test]
fn touch_is_caught() {
    let (f, truth) = poisoned();
    Command::new("touch").arg(f.path(FILE)).status().unwrap();
    f.run("collect", &[]).code(0);
    assert_eq!(hash_of(&f, FILE), Some(truth));
}

#[test]
fn same_size_rewrite_with_the_old_mtime_forced_back_is_caught() {
    let (f, truth) = poisoned();
    let old = std::fs::read(f.path(FILE)).unwrap();
    let mut new = old.clone();
    new[0] ^= 0x20; // same size, different content
    std::fs::write(f.path(FILE), &new).unwrap();
    set_old_mtime(&f, FILE); // mtime as before: only ctime tells
    f.run("collect", &[]).code(0);
    let got = hash_of(&f, FILE).unwrap();
    assert_ne!(got, WRONG);
    assert_ne!(got, truth);
    let want: String = hmac_sha256::Hash::hash(&new).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(got, want);
}

#[test]
fn rename_and_delete_are_caught() {
    let (f, truth) = poisoned();
    let moved = "evidence/AC-01/renamed-2026-Q2.csv";
    std::fs::rename(f.path(FILE), f.path(moved)).unwrap();
    f.run("collect", &[]).code(0);
    assert_eq!(hash_of(&f, FILE), None);
    assert_eq!(hash_of(&f, moved), Some(truth));
    f.remove(moved);
    f.run("collect", &[]).code(0);
    assert_eq!(hash_of(&f, moved), None);
}

#[test]
fn a_damaged_cache_is_not_trusted() {
    let (f, truth) = poisoned();
    let cache = f.out(".auditpack-cache/collect-cache-v2.bin");
    let mut bytes = std::fs::read(&cache).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1; // the checksum no longer matches
    std::fs::write(&cache, bytes).unwrap();
    f.run("collect", &[]).code(0);
    assert_eq!(hash_of(&f, FILE), Some(truth));
}

#[test]
fn an_unchanged_recollect_gives_the_same_index_and_keeps_the_cache() {
    let f = Fixture::init();
    for rel in ["evidence/AC-01", "evidence/GOV-01"] {
        for e in std::fs::read_dir(f.path(rel)).unwrap() {
            let ok = Command::new("touch").args(["-d", "2026-01-01T00:00:00Z"]).arg(e.unwrap().path()).status();
            assert!(ok.unwrap().success());
        }
    }
    f.run("collect", &[]).code(0);
    let index = std::fs::read(f.out("index.json")).unwrap();
    let cache = f.out(".auditpack-cache/collect-cache-v2.bin");
    // Old enough that nothing in the cache is racily clean any more.
    let ok = Command::new("touch").args(["-d", "2026-01-02T00:00:00Z"]).arg(&cache).status().unwrap().success();
    assert!(ok);
    let before = std::fs::metadata(&cache).unwrap().modified().unwrap();
    f.run("collect", &[]).code(0);
    assert_eq!(std::fs::read(f.out("index.json")).unwrap(), index);
    assert_eq!(std::fs::metadata(&cache).unwrap().modified().unwrap(), before, "nothing changed: not rewritten");
    f.write("evidence/AC-01/new-2026-05-01.txt", "new\n");
    f.run("collect", &[]).code(0);
    assert_ne!(std::fs::metadata(&cache).unwrap().modified().unwrap(), before, "a new file: rewritten");
}

#[test]
fn the_index_memo_keeps_an_unchanged_index_and_nothing_else() {
    let f = Fixture::init();
    let first = f.run("collect", &[]).code(0).stderr.clone();
    let index = std::fs::read(f.out("index.json")).unwrap();
    // Unchanged: index.json is kept, and the same findings are reported.
    let again = f.run("collect", &[]).code(0).says(&["is up to date"]).stderr.clone();
    assert_eq!(std::fs::read(f.out("index.json")).unwrap(), index);
    let findings = |s: &str| {
        s.lines().filter(|l| !l.starts_with("wrote") && !l.contains("up to date")).map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(findings(&again), findings(&first));
    // index.json edited by hand: written again.
    std::fs::write(f.out("index.json"), "{}").unwrap();
    f.run("collect", &[]).code(0).says(&["wrote"]);
    assert_eq!(std::fs::read(f.out("index.json")).unwrap(), index);
    // The project changed: a new index.
    let controls = std::fs::read_to_string(f.path("controls.toml")).unwrap();
    let title = controls.lines().find(|l| l.starts_with("title")).unwrap().to_string();
    f.write("controls.toml", &controls.replacen(&title, "title = \"A new title\"", 1));
    f.run("collect", &[]).code(0).says(&["wrote"]);
    assert!(String::from_utf8(std::fs::read(f.out("index.json")).unwrap()).unwrap().contains("A new title"));
    // An evidence file changed: a new index.
    f.write(FILE, "changed\n");
    f.run("collect", &[]).code(0).says(&["wrote"]);
    let want: String = hmac_sha256::Hash::hash(b"changed\n").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hash_of(&f, FILE), Some(want));
    // --rehash does everything again.
    f.run("collect", &["--rehash"]).code(0).says(&["wrote"]);
}
