//! Fourth stage: check the indexed evidence against the audit -> [`Assessment`] and findings.
//!
//! Criteria coverage, controls with missing or stale evidence, and for Type 2 each expected
//! occurrence of a control in the observation period matched to effective-dated evidence.
//! Findings are diagnostics (warnings): a gap does not stop the package, it is shown in it.
//! Evidence that earlier snapshots recorded ([`PastEvidence`]) counts for the occurrences it
//! covers even if the file has since been replaced: a Type 2 period is proved as it happened.

pub mod periods;
pub mod risk;

use crate::collect::dates::Effective;
use crate::diag::{Diagnostic, Diagnostics};
use crate::index::EvidenceIndex;
use crate::model::{AuditType, Frequency};
use crate::project::Project;
use jiff::civil::Date;
use periods::Window;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub controls: BTreeMap<String, ControlStatus>,
    /// In-scope criteria that no control addresses.
    pub uncovered_criteria: Vec<String>,
    /// Files whose effective date was inferred from the modification time.
    pub inferred_dates: Vec<String>,
    /// The risk register checked against the controls, assets, objectives and scanner findings.
    pub risk: risk::RiskAssessment,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlStatus {
    pub evidence_count: usize,
    /// Latest effective date of evidence on or before the end of the period.
    pub latest: Option<Date>,
    pub stale: bool,
    /// Type 2: the expected occurrences in the period and the evidence of each.
    pub occurrences: Vec<Occurrence>,
    pub result: TestResult,
    /// The result in the auditors' words.
    pub result_text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Occurrence {
    pub label: String,
    pub start: Date,
    pub end: Date,
    /// The evidence for this occurrence; the report model empties it when it does not list every
    /// file (`[report] evidence_index_rows`), `evidence_count` stays.
    pub evidence: Vec<String>,
    pub evidence_count: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestResult {
    NoExceptions,
    Exceptions,
    DidNotOperate,
    NoEvidence,
}

/// Evidence an earlier snapshot recorded, as it was then (see `snapshot::history`).
#[derive(Debug, Clone)]
pub struct PastEvidence {
    pub path: String,
    pub sha256: String,
    pub effective: Effective,
    pub controls: Vec<String>,
    /// The earliest snapshot that holds this content at this path.
    pub snapshot: u64,
}

impl PastEvidence {
    /// How the evidence is named in occurrences: the path and the snapshot that holds it.
    pub fn label(&self) -> String {
        format!("{} (snapshot {})", self.path, self.snapshot)
    }
}

pub fn assess(
    project: &Project,
    index: &EvidenceIndex,
    past: &[PastEvidence],
    scans: &crate::scan::ScanResults,
    diags: &mut Diagnostics,
) -> Assessment {
    let audit = &project.audit;
    let mut controls = BTreeMap::new();
    // Past evidence still present unchanged is current evidence; only replaced content adds.
    let current: std::collections::BTreeSet<(&str, &str)> =
        index.evidence.iter().map(|f| (f.file.path.as_str(), f.file.sha256.as_str())).collect();
    let replaced: Vec<&PastEvidence> =
        past.iter().filter(|p| !current.contains(&(p.path.as_str(), p.sha256.as_str()))).collect();
    for c in &project.controls {
        // The files that count for the control (see `index::build`).
        let files: Vec<&crate::index::IndexedFile> =
            index.controls.get(&c.id).map(|ic| index.files(&ic.evidence).collect()).unwrap_or_default();
        let earlier: Vec<&&PastEvidence> = replaced.iter().filter(|p| p.controls.contains(&c.id)).collect();
        let latest = files.iter().map(|f| f.effective().date).filter(|d| *d <= audit.end).max();
        let stale = match (latest, c.frequency.max_age_days()) {
            (Some(l), Some(max)) => (audit.end - l).get_days() as i64 > max,
            _ => false,
        };
        let windows: Vec<Window> = match audit.kind {
            AuditType::Type2 => periods::windows(c.frequency, audit.start, audit.end),
            AuditType::Type1 => Vec::new(),
        };
        let occurrences: Vec<Occurrence> = windows
            .into_iter()
            .map(|w| {
                let evidence: Vec<String> = files
                    .iter()
                    .filter(|f| f.effective().overlaps(w.start, w.end))
                    .map(|f| f.file.path.clone())
                    .chain(earlier.iter().filter(|p| p.effective.overlaps(w.start, w.end)).map(|p| p.label()))
                    .collect();
                Occurrence { evidence_count: evidence.len(), evidence, label: w.label, start: w.start, end: w.end }
            })
            .collect();
        let in_period = files.iter().filter(|f| f.effective().overlaps(audit.start, audit.end)).count()
            + earlier.iter().filter(|p| p.effective.overlaps(audit.start, audit.end)).count();
        let (result, result_text) = result(audit.kind, c.frequency, files.len(), in_period, &occurrences);

        if files.is_empty() {
            diags.push(
                Diagnostic::warning("missing-evidence", format!("control `{}` has no evidence", c.id))
                    .at(c.location.clone())
                    .hint("add evidence files for it (a folder named after the control id works), or an `evidence` pattern"),
            );
        } else if stale {
            diags.push(
                Diagnostic::warning(
                    "stale-evidence",
                    format!(
                        "the latest evidence of {} control `{}` is from {}, more than {} days before {}",
                        c.frequency,
                        c.id,
                        latest.map(|d| d.to_string()).unwrap_or_else(|| "after the period".into()),
                        c.frequency.max_age_days().unwrap_or_default(),
                        audit.end
                    ),
                )
                .at(c.location.clone())
                .hint("collect current evidence of the control"),
            );
        }
        let missing: Vec<&str> =
            occurrences.iter().filter(|o| o.evidence.is_empty()).map(|o| o.label.as_str()).collect();
        if !files.is_empty() && !missing.is_empty() {
            diags.push(
                Diagnostic::warning(
                    "missing-occurrence",
                    format!(
                        "control `{}` ({}) has no evidence for {} of {} occurrences in the period: {}",
                        c.id,
                        c.frequency,
                        missing.len(),
                        occurrences.len(),
                        abbreviate(&missing, 6)
                    ),
                )
                .at(c.location.clone())
                .hint("add effective-dated evidence for each occurrence (a date in the file name or a sidecar `effective`)"),
            );
        }
        controls.insert(
            c.id.clone(),
            ControlStatus { evidence_count: files.len(), latest, stale, occurrences, result, result_text },
        );
    }

    let uncovered_criteria: Vec<String> = crate::model::criteria()
        .iter()
        .filter(|cr| audit.in_scope(cr.category))
        .filter(|cr| !project.not_relevant.iter().any(|n| n.criterion == cr.id))
        .filter(|cr| !project.controls.iter().any(|c| c.criteria.contains(&cr.id)))
        .map(|cr| cr.id.clone())
        .collect();
    for id in &uncovered_criteria {
        let title = crate::model::criterion(id).map(|c| c.title.clone()).unwrap_or_default();
        diags.push(
            Diagnostic::warning("uncovered-criterion", format!("{id} ({title}) is in scope but no control addresses it"))
                .at(audit.categories_at.clone())
                .hint(format!(
                    "map a control to {id} (`criteria` in {}), or, if it does not apply to the system, declare it in auditpack.toml: [[not_relevant]] criterion = \"{id}\" reason = \"...\"",
                    project.paths.controls.display()
                )),
        );
    }

    if audit.kind == AuditType::Type1
        && let Some(n) = project.narratives.iter().find(|n| n.name == "changes")
    {
        diags.push(
            Diagnostic::note("changes-not-used", "a Type 1 description is as of a date: changes.md is not used")
                .at_file(n.file.clone())
                .hint("DC 200 item 9 (significant changes during the period) applies to Type 2 only; remove the file or keep it for a Type 2 report"),
        );
    }
    let inferred_dates: Vec<String> =
        index.evidence.iter().filter(|f| f.effective().inferred()).map(|f| f.file.path.clone()).collect();
    for p in &inferred_dates {
        diags.push(inferred_date(p));
    }
    let risk = risk::assess(project, &controls, index, scans, diags);
    Assessment { controls, uncovered_criteria, inferred_dates, risk }
}

/// The note on a file whose effective date comes from its modification time.
pub fn inferred_date(path: &str) -> Diagnostic {
    Diagnostic::note("inferred-date", "the effective date comes from the file's modification time")
        .at_file(path)
        .hint("put a date in the file name (2026-03-31, 2026-Q1, 2026-03) or give a sidecar `effective`")
}

fn abbreviate(items: &[&str], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{}, ... ({} more)", items[..max].join(", "), items.len() - max)
    }
}

/// The test result and its wording, as auditors write them.
fn result(
    kind: AuditType,
    freq: Frequency,
    total: usize,
    in_period: usize,
    occ: &[Occurrence],
) -> (TestResult, String) {
    match kind {
        AuditType::Type1 if total == 0 => {
            (TestResult::NoEvidence, "No evidence of the control's design was provided.".into())
        }
        AuditType::Type1 => {
            (TestResult::NoExceptions, "Control design and evidence present. No exceptions noted.".into())
        }
        AuditType::Type2 => {
            if in_period == 0 {
                return (
                    TestResult::DidNotOperate,
                    "The control did not operate during the period; operating effectiveness could not be tested."
                        .into(),
                );
            }
            let missing: Vec<&str> = occ.iter().filter(|o| o.evidence.is_empty()).map(|o| o.label.as_str()).collect();
            if missing.is_empty() {
                (TestResult::NoExceptions, "No exceptions noted.".into())
            } else {
                let unit = if freq == Frequency::Daily { "days" } else { "expected occurrences" };
                (
                    TestResult::Exceptions,
                    format!(
                        "Exception noted: no evidence for {} of {} {unit} ({}).",
                        missing.len(),
                        occ.len(),
                        abbreviate(&missing, 6)
                    ),
                )
            }
        }
    }
}
