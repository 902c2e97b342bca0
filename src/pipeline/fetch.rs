//! `fetch`: load the project, then run its collectors.

use crate::diag::Diagnostics;
use std::path::Path;

/// How a fetch ended.
pub enum Fetched {
    /// The project has errors: no collector was run.
    ProjectErrors,
    /// The project declares no collector.
    NoCollectors,
    /// What each collector that succeeded wrote (failures are in the diagnostics).
    Ran(Vec<crate::fetch::Fetched>),
}

/// Runs the collectors of the project at `root` (only those in `only`, when it is not empty).
pub fn run(root: &Path, only: &[String], diags: &mut Diagnostics) -> Fetched {
    let loaded = crate::project::load(root);
    diags.extend(loaded.diags);
    let Some(project) = loaded.project.filter(|_| !diags.has_errors()) else {
        return Fetched::ProjectErrors;
    };
    if project.collectors.is_empty() {
        return Fetched::NoCollectors;
    }
    Fetched::Ran(crate::fetch::fetch(&project, only, diags))
}
