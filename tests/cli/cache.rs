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
    let cache = f.out(".auditpack-cache/collect-cache-v1.txt");
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(text.contains(&truth), "the cache holds the hash");
    std::fs::write(&cache, text.replace(&truth, WRONG)).unwrap();
    (f, truth)
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
