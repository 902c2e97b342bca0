//! The findings of a run as `auditpack check` reports them: the project's per-code levels
//! applied, and the JSON and SARIF 2.1.0 outputs. (`pipeline::check` runs every stage to get
//! them.)
//!
//! Levels: `allow` drops a finding, `warn` reports it as a warning, `deny` reports it as an
//! error. Without a level, a code keeps its severity: errors are `deny`, warnings and notes
//! `warn`. The check fails (exit 1) when any finding is at error level after this.

pub mod sarif;

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::project::{CheckLevel, CheckSettings};
use serde::Serialize;

/// Whether [`apply_levels`] would leave an error, without building its result.
pub fn fails(diags: &Diagnostics, settings: &CheckSettings) -> bool {
    let level = |d: &Diagnostic| settings.levels.iter().rev().find(|l| l.code == d.code).map(|l| l.level);
    diags.iter().any(|d| match level(d) {
        Some(CheckLevel::Deny) => true,
        Some(CheckLevel::Allow | CheckLevel::Warn) => false,
        None => d.severity == Severity::Error,
    })
}

/// Applies `[check] levels` (a name there that is no code was reported when the project loaded).
pub fn apply_levels(diags: Diagnostics, settings: Option<&CheckSettings>) -> Diagnostics {
    let levels = settings.map(|s| s.levels.as_slice()).unwrap_or(&[]);
    diags.map(|mut d| {
        match levels.iter().rev().find(|l| l.code == d.code).map(|l| l.level) {
            Some(CheckLevel::Allow) => return None,
            Some(CheckLevel::Warn) => d.severity = Severity::Warning,
            Some(CheckLevel::Deny) => d.severity = Severity::Error,
            None => {}
        }
        Some(d)
    })
}

/// The JSON output: the diagnostics in stable order and a summary.
#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub schema: &'static str,
    pub summary: Summary,
    pub diagnostics: Vec<&'a Diagnostic>,
}

#[derive(Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    /// True when some finding is at deny (error) level: the check fails.
    pub failed: bool,
}

pub fn json(diags: &Diagnostics) -> JsonReport<'_> {
    JsonReport {
        schema: "auditpack-check/1",
        summary: Summary {
            errors: diags.count(Severity::Error),
            warnings: diags.count(Severity::Warning),
            notes: diags.count(Severity::Note),
            failed: diags.has_errors(),
        },
        diagnostics: diags.sorted(),
    }
}
