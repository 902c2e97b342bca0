//! The project loader on an arbitrary auditpack.toml, beside the files `auditpack init` writes:
//! every input gives diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CONTROLS: &str = include_str!("../../templates/init/controls.toml");
const ASSETS: &str = include_str!("../../templates/init/assets.toml");
const RISKS: &str = include_str!("../../templates/init/risks.json");

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("auditpack.toml"), data).expect("write the input");
    std::fs::write(root.join("controls.toml"), CONTROLS).expect("write");
    std::fs::write(root.join("assets.toml"), ASSETS).expect("write");
    std::fs::write(root.join("risks.json"), RISKS).expect("write");
    let _ = auditpack::project::load(root);
});
