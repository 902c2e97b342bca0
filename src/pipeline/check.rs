//! `check`: the whole pipeline on a project, going on past errors, so that one run reports every
//! finding of every stage; then the project's `[check] levels`.

use crate::diag::Diagnostics;
use std::path::{Path, PathBuf};

/// Every finding on `root`, with the project's levels applied.
pub fn run(root: &Path, scans: &[PathBuf]) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let opts = crate::collect::CollectOptions::default();
    let inputs = super::Inputs { scans: scans.to_vec(), keep_going: true, ..Default::default() };
    let assessed = super::assess_project_with(root, &opts, &inputs, &mut |_| {}, &mut diags);
    if let Some(a) = &assessed {
        // What `build` would refuse to package is a finding too.
        crate::package::secrets::scan(&a.project, &a.index, &mut diags);
    }
    // The levels are read even when the rest of the project did not load.
    let settings = match &assessed {
        Some(a) => Some(a.project.check.clone()),
        None => crate::project::load(root).project.map(|p| p.check),
    };
    crate::check::apply_levels(diags, settings.as_ref())
}
