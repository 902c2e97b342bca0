//! Unit-test fixtures shared by the stages' tests: the `auditpack init` project in a temporary
//! folder, changed file by file, and loading it (which must succeed without errors).

use crate::diag::Diagnostics;
use crate::project::Project;
use std::path::Path;

/// The `auditpack init` project in a temporary folder: as of 2026-06-30, or with `type2` over
/// 2026-01-01..2026-06-30; controls.toml replaced by `controls`, `toml_extra` appended to
/// auditpack.toml, and `files` (path, text) written over the rest.
pub fn project<'a>(
    type2: bool,
    controls: &str,
    toml_extra: &str,
    files: impl IntoIterator<Item = (&'a str, String)>,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base = crate::cli::init::FILES.iter().map(|(n, t)| (*n, t.to_string()));
    for (name, text) in base.chain(files) {
        let text = match name {
            "auditpack.toml" if type2 => {
                let t = text.replacen("type = \"type1\"", "type = \"type2\"", 1).replacen(
                    "as_of = 2026-06-30",
                    "period_start = 2026-01-01\nperiod_end = 2026-06-30",
                    1,
                );
                format!("{t}{toml_extra}")
            }
            "auditpack.toml" => format!("{text}{toml_extra}"),
            "controls.toml" => controls.to_string(),
            _ => text,
        };
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// Loads the project in `dir`, which must load without errors.
pub fn load(dir: &Path) -> (Project, Diagnostics) {
    let loaded = crate::project::load(dir);
    let diags = loaded.diags;
    assert!(!diags.has_errors(), "{:?}", diags.iter().map(|d| (d.code, &d.message)).collect::<Vec<_>>());
    (loaded.project.expect("loaded"), diags)
}

/// load -> collect -> index of the project in `dir`.
pub fn index(dir: &Path) -> (Project, crate::index::EvidenceIndex, Diagnostics) {
    let (project, mut diags) = load(dir);
    let inventory = crate::collect::collect(&project, &Default::default(), &mut diags);
    let index = crate::index::build(&project, inventory, &mut diags);
    (project, index, diags)
}
