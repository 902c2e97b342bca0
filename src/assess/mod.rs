//! Fourth stage: check the indexed evidence against the audit -> [`Assessment`] and findings.
//!
//! Criteria coverage, controls with missing or stale evidence, and for Type 2 each expected
//! occurrence of a control in the observation period matched to effective-dated evidence.
//! Findings are diagnostics (warnings): a gap does not stop the package, it is shown in it.
//! Evidence that earlier snapshots recorded ([`PastEvidence`]) counts for the occurrences it
//! covers even if the file has since been replaced: a Type 2 period is proved as it happened.

pub mod periods;
pub mod risk;
pub mod subservice;

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
    /// The subservice organisations' own SOC reports and bridge letters, per provider.
    pub subservice: Vec<subservice::Assurance>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlStatus {
    /// Evidence files mapped to the control, a no-occurrence statement included.
    pub evidence_count: usize,
    /// Latest effective date of evidence on or before the end of the period.
    pub latest: Option<Date>,
    pub stale: bool,
    /// Type 2: the expected occurrences in the period and the evidence of each.
    pub occurrences: Vec<Occurrence>,
    /// Management's evidence status (named `result` in Rust only because snapshot manifests
    /// record it under that name; it is never a test result).
    #[serde(rename = "state")]
    pub result: EvidenceState,
    /// The status in management's words: what is on file, never an auditor's conclusion.
    pub status_text: String,
    /// Management's statement that the control had no occurrence in the period, if any.
    pub no_occurrence: Option<NoOccurrenceRef>,
}

impl ControlStatus {
    /// Whether the status is a gap management has to close or explain (readiness material).
    pub fn is_gap(&self) -> bool {
        !matches!(self.result, EvidenceState::Complete | EvidenceState::NoOccurrence)
    }
}

/// A no-occurrence statement as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NoOccurrenceRef {
    /// The statement file (an evidence file with a `no_occurrence` sidecar).
    pub path: String,
    pub start: Date,
    pub end: Date,
    pub attested_by: String,
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

/// What management has on file for a control. These are readiness states for management and
/// the service auditor's planning; the auditor's tests and results are not auditpack's to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceState {
    /// Evidence for every expected occurrence in the period (Type 2), current evidence (Type 1).
    Complete,
    /// Some expected occurrences in the period have no evidence.
    Partial,
    /// The latest evidence is older than the control's frequency allows.
    Stale,
    /// Evidence on file, none of it dated in the period.
    OutsidePeriod,
    /// No evidence at all.
    Missing,
    /// Management states that the control had no occurrence in the period.
    NoOccurrence,
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
        let all: Vec<&crate::index::IndexedFile> =
            index.controls.get(&c.id).map(|ic| index.files(&ic.evidence).collect()).unwrap_or_default();
        // A no-occurrence statement is on file, but it is not evidence of an occurrence.
        let (statements, files): (Vec<&crate::index::IndexedFile>, Vec<&crate::index::IndexedFile>) =
            all.iter().copied().partition(|f| f.file.sidecar.as_ref().is_some_and(|s| s.meta.no_occurrence.is_some()));
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
        let statement = no_occurrence_statement(project, c, &statements, in_period, diags);
        let (state, status_text) =
            evidence_status(audit.kind, c.frequency, files.len(), in_period, latest, stale, &occurrences, &statement);

        if state == EvidenceState::Missing {
            diags.push(
                Diagnostic::warning("missing-evidence", format!("control `{}` has no evidence", c.id))
                    .at(c.location.clone())
                    .hint(if c.frequency == Frequency::PerEvent {
                        "add evidence of each event in the period; if there was none, record a no-occurrence statement (docs/assessment.md)"
                    } else {
                        "add evidence files for it (a folder named after the control id works), or an `evidence` pattern"
                    }),
            );
        } else if stale && state != EvidenceState::NoOccurrence {
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
        if !files.is_empty() && !missing.is_empty() && state != EvidenceState::NoOccurrence {
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
            ControlStatus {
                evidence_count: all.len(),
                latest,
                stale,
                occurrences,
                result: state,
                status_text,
                no_occurrence: statement,
            },
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
    let subservice = subservice::check(project, index, diags);
    Assessment { controls, uncovered_criteria, inferred_dates, risk, subservice }
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

/// The control's no-occurrence statement, when one covers the period and nothing contradicts it.
fn no_occurrence_statement(
    project: &Project,
    c: &crate::project::Control,
    statements: &[&crate::index::IndexedFile],
    in_period: usize,
    diags: &mut Diagnostics,
) -> Option<NoOccurrenceRef> {
    let audit = &project.audit;
    let mut found = None;
    for f in statements {
        let Some(n) = f.file.sidecar.as_ref().and_then(|s| s.meta.no_occurrence.as_ref()) else {
            continue;
        };
        let sidecar = f.file.sidecar.as_ref().map(|s| s.path.clone()).unwrap_or_default();
        if n.start > audit.start || n.end < audit.end {
            diags.push(
                Diagnostic::warning(
                    "no-occurrence-period",
                    format!(
                        "the no-occurrence statement for control `{}` covers {} to {}, not the whole period {} to {}",
                        c.id, n.start, n.end, audit.start, audit.end
                    ),
                )
                .at_file(sidecar)
                .hint("state the whole period in `period_start` and `period_end`, or add evidence of the occurrences"),
            );
            continue;
        }
        if in_period > 0 {
            diags.push(
                Diagnostic::warning(
                    "no-occurrence-contradicted",
                    format!(
                        "control `{}` has a no-occurrence statement and {in_period} evidence file{} dated in the period",
                        c.id,
                        if in_period == 1 { "" } else { "s" }
                    ),
                )
                .at_file(sidecar)
                .hint("withdraw the statement if the control operated, or correct the evidence's dates or mapping"),
            );
            return None;
        }
        found.get_or_insert(NoOccurrenceRef {
            path: f.file.path.clone(),
            start: n.start,
            end: n.end,
            attested_by: n.attested_by.clone(),
        });
    }
    found
}

/// "2026-Q1" as "Q1 2026", "2026-03" as "March 2026", "2026-W05" as "week 5 of 2026".
pub fn occurrence_words(label: &str) -> String {
    let Some((year, rest)) = label.split_once('-') else {
        return label.to_string();
    };
    if let Some(q) = rest.strip_prefix('Q') {
        return format!("Q{q} {year}");
    }
    if let Some(h) = rest.strip_prefix('H') {
        return format!("H{h} {year}");
    }
    if let Some(w) = rest.strip_prefix('W') {
        return format!("week {} of {year}", w.trim_start_matches('0'));
    }
    match label.parse::<Date>() {
        Ok(d) => crate::text::long_date(d),
        Err(_) => match (year.parse::<i16>(), rest.parse::<i8>()) {
            (Ok(y), Ok(m)) => Date::new(y, m, 1).map(|d| d.strftime("%B %Y").to_string()).unwrap_or(label.into()),
            _ => label.to_string(),
        },
    }
}

/// The unit of a frequency's occurrences, singular and plural.
fn unit(freq: Frequency) -> (&'static str, &'static str) {
    match freq {
        Frequency::Annual => ("year", "years"),
        Frequency::Semiannual => ("half-year", "half-years"),
        Frequency::Quarterly => ("quarter", "quarters"),
        Frequency::Monthly | Frequency::Continuous => ("month", "months"),
        Frequency::Weekly => ("week", "weeks"),
        Frequency::Daily => ("day", "days"),
        Frequency::PerEvent => ("event", "events"),
    }
}

/// "1 event", "3 events"
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Management's evidence status and its wording: what is on file, in words that cannot be
/// taken for an audit result (no "exceptions", no "operated effectively").
#[allow(clippy::too_many_arguments)]
fn evidence_status(
    kind: AuditType,
    freq: Frequency,
    total: usize,
    in_period: usize,
    latest: Option<Date>,
    stale: bool,
    occ: &[Occurrence],
    statement: &Option<NoOccurrenceRef>,
) -> (EvidenceState, String) {
    if let Some(s) = statement {
        let when = if kind == AuditType::Type2 { "in the period" } else { "as of the date" };
        return (
            EvidenceState::NoOccurrence,
            format!("No occurrence {when} (management's statement, attested by {})", s.attested_by),
        );
    }
    if total == 0 {
        return (EvidenceState::Missing, "No evidence on file".into());
    }
    let latest_text = latest.map(|d| d.to_string()).unwrap_or_else(|| "after the period".into());
    if kind == AuditType::Type2 && in_period == 0 {
        return (
            EvidenceState::OutsidePeriod,
            format!("No evidence dated in the period; latest evidence {latest_text}"),
        );
    }
    let missing: Vec<String> =
        occ.iter().filter(|o| o.evidence.is_empty()).map(|o| occurrence_words(&o.label)).collect();
    let (one, many) = unit(freq);
    let of_all = if occ.len() == 1 { one } else { many };
    if kind == AuditType::Type2 && !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(String::as_str).collect();
        return (
            EvidenceState::Partial,
            format!(
                "Evidence on file for {} of {} {of_all}; missing for {}",
                occ.len() - missing.len(),
                occ.len(),
                abbreviate(&names, 6)
            ),
        );
    }
    if stale {
        return (EvidenceState::Stale, format!("Latest evidence {latest_text}: stale"));
    }
    let text = match kind {
        AuditType::Type1 => format!("Evidence on file, latest {latest_text}"),
        AuditType::Type2 if freq == Frequency::PerEvent => {
            format!("Evidence on file for {} in the period", plural(in_period, one, many))
        }
        AuditType::Type2 => format!("Evidence on file for {} of {} {of_all}", occ.len(), occ.len()),
    };
    (EvidenceState::Complete, text)
}
