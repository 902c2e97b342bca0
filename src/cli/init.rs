//! `auditpack init DIR`: a minimal project that builds, to start from.

use super::Outcome;
use crate::Error;
use std::path::Path;

/// The files `init` writes, by path in the new project (also the fixture of the loader's unit tests).
pub(crate) const FILES: &[(&str, &str)] = &[
    ("auditpack.toml", include_str!("../../templates/init/auditpack.toml")),
    ("controls.toml", include_str!("../../templates/init/controls.toml")),
    ("assets.toml", include_str!("../../templates/init/assets.toml")),
    ("risks.json", include_str!("../../templates/init/risks.json")),
    ("narrative/services.md", include_str!("../../templates/init/narrative/services.md")),
    (
        "evidence/GOV-01/information-security-policy-2026-01-15.md",
        include_str!("../../templates/init/evidence/GOV-01/information-security-policy-2026-01-15.md"),
    ),
    (
        "evidence/AC-01/access-review-2026-Q2.csv",
        include_str!("../../templates/init/evidence/AC-01/access-review-2026-Q2.csv"),
    ),
];

pub(super) fn run(dir: &Path, v: super::Verbosity) -> Result<Outcome, Error> {
    // Never overwrite: check every file first, so a refusal writes nothing at all.
    if let Some((name, _)) = FILES.iter().find(|(name, _)| dir.join(name).exists()) {
        return Err(Error::Usage(format!(
            "{} already exists; auditpack init never overwrites files (choose an empty folder)",
            dir.join(name).display()
        )));
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
    }
    if v.quiet {
        return Ok(Outcome::Ok);
    }
    if v.verbose {
        for (name, _) in FILES {
            eprintln!("wrote {}", dir.join(name).display());
        }
    }
    eprintln!("wrote a new project in {}", dir.display());
    eprintln!(
        "next: edit auditpack.toml and controls.toml, add evidence, then run `auditpack build {}`",
        dir.display()
    );
    Ok(Outcome::Ok)
}
