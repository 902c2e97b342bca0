//! The Markdown narratives of the system description, one file each.

use super::files::{read_source, regular_or_reported};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A Markdown narrative for the system description.
#[derive(Debug, Clone, Serialize)]
pub struct Narrative {
    /// File stem: `services`, `boundaries`, ...
    pub name: String,
    pub file: PathBuf,
    pub markdown: String,
}

pub(super) fn load_narratives(root: &Path, dir: &Path, diags: &mut Diagnostics) -> Vec<Narrative> {
    let full = root.join(dir);
    if !full.is_dir() {
        diags.push(
            Diagnostic::note(Code::NoNarrative, format!("no narrative folder at `{}`", dir.display()))
                .hint("write the system description's narratives as Markdown files there; see docs/project.md"),
        );
        return Vec::new();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&full)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .filter(|p| regular_or_reported(root, p, "narrative", diags))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let rel = dir.join(p.file_name()?);
            let src = read_source(root, &rel, diags)?;
            Some(Narrative { name: p.file_stem()?.to_string_lossy().into_owned(), file: rel, markdown: src.text })
        })
        .collect()
}
