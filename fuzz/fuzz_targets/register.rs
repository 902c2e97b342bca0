//! The risk register loader (risks.json, or risks.csv when the first byte is odd) on arbitrary
//! bytes, in the project `auditpack init` writes: every input gives diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TOML: &str = include_str!("../../templates/init/auditpack.toml");
const CONTROLS: &str = include_str!("../../templates/init/controls.toml");
const ASSETS: &str = include_str!("../../templates/init/assets.toml");

fuzz_target!(|data: &[u8]| {
    let Some((&selector, register)) = data.split_first() else { return };
    let csv = selector & 1 == 1;
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let name = if csv { "risks.csv" } else { "risks.json" };
    let toml = format!("{TOML}\n[paths]\nrisks = \"{name}\"\n");
    std::fs::write(root.join("auditpack.toml"), toml).expect("write");
    std::fs::write(root.join("controls.toml"), CONTROLS).expect("write");
    std::fs::write(root.join("assets.toml"), ASSETS).expect("write");
    std::fs::write(root.join(name), register).expect("write the input");
    let _ = auditpack::project::load(root);
});
