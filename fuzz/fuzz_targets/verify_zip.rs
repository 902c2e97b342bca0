//! verify's zip reader on arbitrary bytes: whatever the package holds, verify returns a report
//! or an error, never a panic, a hang or unbounded memory (libFuzzer's -rss_limit_mb and
//! -timeout catch the last two).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("package.zip");
    std::fs::write(&path, data).expect("write the input");
    let opts = auditpack::package::verify::VerifyOptions { key: None, jobs: Some(1) };
    let _ = auditpack::package::verify::verify(&path, &opts);
});
