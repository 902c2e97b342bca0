//! The findings of a run as `auditpack check` reports them: the project's per-code levels
//! applied, and the JSON and SARIF 2.1.0 outputs. (`pipeline::check` runs every stage to get
//! them.)
//!
//! Levels: `allow` drops a finding, `warn` reports it as a warning, `deny` reports it as an
//! error. Without a level, a code keeps its severity: errors are `deny`, warnings and notes
//! `warn`. The check fails (exit 1) when any finding is at error level after this.

/// The registry of codes lives with the diagnostics (every stage's findings use it).
pub use crate::diag::codes;
pub mod sarif;

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::project::{CheckLevel, CheckSettings};
use serde::Serialize;

/// Whether [`apply_levels`] would leave an error, without building its result.
pub fn fails(diags: &Diagnostics, settings: &CheckSettings) -> bool {
    let level = |d: &Diagnostic| settings.levels.iter().rev().find(|l| l.code == d.code).map(|l| l.level);
    settings.levels.iter().any(|l| codes::find(&l.code).is_none())
        || diags.iter().any(|d| match level(d) {
            Some(CheckLevel::Deny) => true,
            Some(CheckLevel::Allow | CheckLevel::Warn) => false,
            None => d.severity == Severity::Error,
        })
}

/// Applies `[check] levels` and reports codes in it that auditpack does not emit.
pub fn apply_levels(diags: Diagnostics, settings: Option<&CheckSettings>) -> Diagnostics {
    let levels = settings.map(|s| s.levels.as_slice()).unwrap_or(&[]);
    let mut out = diags.map(|mut d| {
        match levels.iter().rev().find(|l| l.code == d.code).map(|l| l.level) {
            Some(CheckLevel::Allow) => return None,
            Some(CheckLevel::Warn) => d.severity = Severity::Warning,
            Some(CheckLevel::Deny) => d.severity = Severity::Error,
            None => {}
        }
        Some(d)
    });
    for l in levels {
        if codes::find(&l.code).is_none() {
            let near =
                crate::project::toml_de::closest(&l.code, &codes::CODES.iter().map(|c| c.code).collect::<Vec<_>>());
            out.push(
                Diagnostic::error(
                    "unknown-check-code",
                    format!("[check] levels names `{}`, which is not a diagnostic code", l.code),
                )
                .at(l.location.clone())
                .hint(match near {
                    Some(n) => format!("did you mean `{n}`? The codes are listed in docs/diagnostics.md"),
                    None => "the codes are listed in docs/diagnostics.md".to_string(),
                }),
            );
        }
    }
    out
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
