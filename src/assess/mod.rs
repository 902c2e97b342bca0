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
use crate::diag::Code;
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
    /// Files whose effective date was inferred from the modification time, as positions in the
    /// index's evidence (4 bytes a file, not a copy of its path).
    pub inferred_dates: crate::index::Files,
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
                Diagnostic::warning(Code::MissingEvidence, format!("control `{}` has no evidence", c.id))
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
                    Code::StaleEvidence,
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
                    Code::MissingOccurrence,
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
            Diagnostic::warning(Code::UncoveredCriterion, format!("{id} ({title}) is in scope but no control addresses it"))
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
            Diagnostic::note(Code::ChangesNotUsed, "a Type 1 description is as of a date: changes.md is not used")
                .at_file(n.file.clone())
                .hint("DC 200 item 9 (significant changes during the period) applies to Type 2 only; remove the file or keep it for a Type 2 report"),
        );
    }
    let inferred_dates: crate::index::Files =
        (0..index.evidence.len() as u32).filter(|&i| index.evidence[i as usize].effective().inferred()).collect();
    for f in index.files(&inferred_dates) {
        diags.push(inferred_date(&f.file.path));
    }
    let risk = risk::assess(project, &controls, index, scans, diags);
    let subservice = subservice::check(project, index, diags);
    Assessment { controls, uncovered_criteria, inferred_dates, risk, subservice }
}

/// The note on a file whose effective date comes from its modification time.
pub fn inferred_date(path: &str) -> Diagnostic {
    Diagnostic::note(Code::InferredDate, "the effective date comes from the file's modification time")
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
                    Code::NoOccurrencePeriod,
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
                    Code::NoOccurrenceContradicted,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::dates::DateSource;
    use crate::index::EvidenceIndex;
    use jiff::civil::date;

    /// One control per evidence state of a Type 2 audit over 2026-01-01..2026-06-30: GOV-01
    /// complete (annual), AC-01 partial (quarterly, Q2 only), CM-01 missing (monthly, nothing),
    /// OPS-01 outside the period (quarterly, October 2025 only), IR-01 complete (per event, two).
    const CONTROLS: &str = r#"
[[control]]
id = "GOV-01"
title = "Information security policy"
description = "Management approves the information security policy annually."
criteria = ["CC1.1", "CC2.2", "CC5.3"]
layer = "application"
frequency = "annual"

[[control]]
id = "AC-01"
title = "Quarterly user access reviews"
description = "System owners review user access every quarter."
criteria = ["CC6.1", "CC6.2", "CC6.3"]
layer = "application"
providers = ["aws"]
frequency = "quarterly"

[[control]]
id = "CM-01"
title = "Change approval"
description = "Changes to production are approved before deployment."
criteria = ["CC8.1"]
layer = "application"
frequency = "monthly"

[[control]]
id = "OPS-01"
title = "Backup restore test"
description = "A restore from backup is tested every quarter."
criteria = ["CC7.5"]
layer = "application"
frequency = "quarterly"

[[control]]
id = "IR-01"
title = "Incident response"
description = "Each security incident is handled under the incident response plan."
criteria = ["CC7.3", "CC7.4"]
layer = "application"
frequency = "per-event"
"#;

    /// Evidence beside the two files of `auditpack init` (GOV-01 2026-01-15, AC-01 2026-Q2).
    const EVIDENCE: &[(&str, &str)] = &[
        ("evidence/OPS-01/backup-restore-test-2025-10-15.md", "restored"),
        ("evidence/IR-01/incident-2026-02-03.md", "phishing report"),
        ("evidence/IR-01/incident-2026-05-20.md", "lost laptop"),
    ];

    /// A no-occurrence statement of DP-04 over `start..end`, with its sidecar.
    fn statement(start: &str, end: &str) -> [(&'static str, String); 2] {
        [
            ("evidence/DP-04/no-occurrence-statement-2026-H1.md", "No device was disposed of.".into()),
            (
                "evidence/DP-04/no-occurrence-statement-2026-H1.md.meta.toml",
                format!(
                    "no_occurrence = true\nperiod_start = {start}\nperiod_end = {end}\nattested_by = \"Alex Example, Chief Executive Officer\"\n"
                ),
            ),
        ]
    }

    /// A per-event control for the no-occurrence tests.
    const DP_04: &str = r#"
[[control]]
id = "DP-04"
title = "Device disposal"
description = "Devices are wiped before disposal."
criteria = ["CC6.5"]
layer = "physical"
frequency = "per-event"
"#;

    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Type1,
        Type2,
    }

    /// The `auditpack init` project in a temporary folder: as of 2026-06-30 (Type 1) or over
    /// 2026-01-01..2026-06-30 (Type 2), with [`CONTROLS`] and `more_controls`, [`EVIDENCE`] and
    /// `extra` files, and `toml_extra` appended to auditpack.toml.
    fn project(kind: Kind, more_controls: &str, toml_extra: &str, extra: &[(&str, String)]) -> tempfile::TempDir {
        let files = EVIDENCE.iter().map(|(n, t)| (*n, t.to_string())).chain(extra.iter().cloned());
        crate::testing::project(kind == Kind::Type2, &format!("{CONTROLS}{more_controls}"), toml_extra, files)
    }

    struct Run {
        index: EvidenceIndex,
        assessment: Assessment,
        diags: Diagnostics,
    }

    /// load -> collect -> index -> assess, with `past` evidence; the project must load cleanly.
    fn run(dir: &std::path::Path, past: &[PastEvidence]) -> Run {
        let (project, index, mut diags) = crate::testing::index(dir);
        let assessment = assess(&project, &index, past, &Default::default(), &mut diags);
        Run { index, assessment, diags }
    }

    impl Run {
        fn status(&self, id: &str) -> &ControlStatus {
            &self.assessment.controls[id]
        }
        /// Findings with `code` whose message names control `id` (as `` `id` ``).
        fn findings(&self, code: &str, id: &str) -> Vec<&Diagnostic> {
            let id = format!("`{id}`");
            self.diags.iter().filter(|d| d.code == code && d.message.contains(&id)).collect()
        }
        fn codes(&self, code: &str) -> usize {
            self.diags.iter().filter(|d| d.code == code).count()
        }
    }

    fn labels(s: &ControlStatus) -> Vec<(&str, usize)> {
        s.occurrences.iter().map(|o| (o.label.as_str(), o.evidence_count)).collect()
    }

    #[test]
    fn evidence_for_every_occurrence_of_the_period_is_complete() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path(), &[]);
        let gov = r.status("GOV-01");
        assert_eq!(gov.result, EvidenceState::Complete);
        assert_eq!(gov.status_text, "Evidence on file for 1 of 1 year");
        assert_eq!(labels(gov), [("2026", 1)]);
        assert_eq!(gov.latest, Some(date(2026, 1, 15)));
        assert!(!gov.stale && !gov.is_gap());

        let ir = r.status("IR-01");
        assert_eq!(ir.result, EvidenceState::Complete);
        assert_eq!(ir.status_text, "Evidence on file for 2 events in the period");
        assert!(ir.occurrences.is_empty(), "a per-event control's population is its events");
        assert_eq!(ir.evidence_count, 2);
        assert!(
            r.findings("missing-occurrence", "GOV-01").is_empty() && r.findings("missing-evidence", "IR-01").is_empty()
        );
    }

    #[test]
    fn a_quarter_without_evidence_makes_the_control_partial() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path(), &[]);
        let ac = r.status("AC-01");
        assert_eq!(ac.result, EvidenceState::Partial);
        assert!(ac.is_gap());
        assert_eq!(ac.status_text, "Evidence on file for 1 of 2 quarters; missing for Q1 2026");
        assert_eq!(labels(ac), [("2026-Q1", 0), ("2026-Q2", 1)]);
        assert_eq!(ac.occurrences[1].evidence, ["evidence/AC-01/access-review-2026-Q2.csv"]);
        assert_eq!((ac.occurrences[0].start, ac.occurrences[0].end), (date(2026, 1, 1), date(2026, 3, 31)));
        let found = r.findings("missing-occurrence", "AC-01");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("1 of 2 occurrences") && found[0].message.ends_with("2026-Q1"));
    }

    #[test]
    fn a_control_without_evidence_is_missing() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path(), &[]);
        let cm = r.status("CM-01");
        assert_eq!(cm.result, EvidenceState::Missing);
        assert_eq!(cm.status_text, "No evidence on file");
        assert_eq!((cm.evidence_count, cm.latest), (0, None));
        assert!(cm.is_gap());
        assert_eq!(labels(cm).len(), 6, "six months expected, none evidenced");
        assert!(cm.occurrences.iter().all(|o| o.evidence.is_empty()));
        let found = r.findings("missing-evidence", "CM-01");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, crate::diag::Severity::Warning, "a gap does not stop the package");
        // No evidence at all is one finding, not one more per missing month.
        assert!(r.findings("missing-occurrence", "CM-01").is_empty());
        // Its location is the control in controls.toml.
        assert!(found[0].location.as_ref().is_some_and(|l| l.file.ends_with("controls.toml") && l.line.is_some()));
    }

    #[test]
    fn a_missing_per_event_control_is_pointed_to_a_no_occurrence_statement() {
        let dir = project(Kind::Type2, DP_04, "", &[]);
        let r = run(dir.path(), &[]);
        assert_eq!(r.status("DP-04").result, EvidenceState::Missing);
        let hint = |id: &str| r.findings("missing-evidence", id)[0].hint.clone().unwrap_or_default();
        assert!(hint("DP-04").contains("no-occurrence statement"), "{}", hint("DP-04"));
        assert!(!hint("CM-01").contains("no-occurrence"), "{}", hint("CM-01"));
    }

    #[test]
    fn evidence_dated_only_before_the_period_is_outside_it_and_stale() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path(), &[]);
        let ops = r.status("OPS-01");
        assert_eq!(ops.result, EvidenceState::OutsidePeriod);
        assert_eq!(ops.status_text, "No evidence dated in the period; latest evidence 2025-10-15");
        assert_eq!(ops.evidence_count, 1);
        assert!(ops.stale && ops.is_gap());
        assert_eq!(labels(ops), [("2026-Q1", 0), ("2026-Q2", 0)]);
        assert_eq!(r.findings("stale-evidence", "OPS-01").len(), 1);
        assert_eq!(r.findings("missing-occurrence", "OPS-01").len(), 1);
        assert!(r.findings("missing-evidence", "OPS-01").is_empty(), "there is evidence, only not in the period");
    }

    #[test]
    fn type1_evidence_is_stale_one_quarter_and_a_grace_after_its_date() {
        // As of 2026-06-30 a quarterly control allows 92 + 23 = 115 days: 2026-03-07 is the last
        // day that is not stale.
        let more = r#"
[[control]]
id = "BK-01"
title = "Backup review"
description = "Backups are reviewed every quarter."
criteria = ["CC7.5"]
layer = "application"
frequency = "quarterly"

[[control]]
id = "BK-02"
title = "Backup review, second site"
description = "Backups of the second site are reviewed every quarter."
criteria = ["CC7.5"]
layer = "application"
frequency = "quarterly"
"#;
        let files = [
            ("evidence/BK-01/review-2026-03-07.md", "ok".to_string()),
            ("evidence/BK-02/review-2026-03-06.md", "ok".to_string()),
        ];
        let dir = project(Kind::Type1, more, "", &files);
        let r = run(dir.path(), &[]);
        let (bk1, bk2) = (r.status("BK-01"), r.status("BK-02"));
        assert_eq!((bk1.result, bk1.stale), (EvidenceState::Complete, false));
        assert_eq!(bk1.status_text, "Evidence on file, latest 2026-03-07");
        assert_eq!((bk2.result, bk2.stale), (EvidenceState::Stale, true));
        assert_eq!(bk2.status_text, "Latest evidence 2026-03-06: stale");
        assert!(r.findings("stale-evidence", "BK-01").is_empty());
        let found = r.findings("stale-evidence", "BK-02");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("2026-03-06") && found[0].message.contains("115 days"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_type1_control_has_no_occurrences() {
        let dir = project(Kind::Type1, "", "", &[]);
        let r = run(dir.path(), &[]);
        assert!(r.assessment.controls.values().all(|s| s.occurrences.is_empty()));
        assert_eq!(r.codes("missing-occurrence"), 0);
        let ac = r.status("AC-01");
        // 2026-Q2 is effective on its last day, the as-of date.
        assert_eq!(
            (ac.result, ac.status_text.as_str()),
            (EvidenceState::Complete, "Evidence on file, latest 2026-06-30")
        );
        assert_eq!(r.status("CM-01").result, EvidenceState::Missing);
        // A Type 1 has no period to be outside of: old evidence is stale.
        assert_eq!(r.status("OPS-01").result, EvidenceState::Stale);
    }

    #[test]
    fn a_no_occurrence_statement_covering_the_period_is_not_a_gap() {
        let dir = project(Kind::Type2, DP_04, "", &statement("2026-01-01", "2026-06-30"));
        let r = run(dir.path(), &[]);
        let dp = r.status("DP-04");
        assert_eq!(dp.result, EvidenceState::NoOccurrence);
        assert!(!dp.is_gap());
        assert_eq!(
            dp.status_text,
            "No occurrence in the period (management's statement, attested by Alex Example, Chief Executive Officer)"
        );
        let s = dp.no_occurrence.as_ref().expect("the statement");
        assert_eq!(s.path, "evidence/DP-04/no-occurrence-statement-2026-H1.md");
        assert_eq!((s.start, s.end), (date(2026, 1, 1), date(2026, 6, 30)));
        assert_eq!(dp.evidence_count, 1, "the statement is on file");
        assert_eq!(dp.latest, None, "but it is not evidence of an occurrence");
        assert!(r.findings("missing-evidence", "DP-04").is_empty());
        assert_eq!(r.codes("no-occurrence-period") + r.codes("no-occurrence-contradicted"), 0);
    }

    #[test]
    fn a_no_occurrence_statement_for_part_of_the_period_is_ignored() {
        let dir = project(Kind::Type2, DP_04, "", &statement("2026-03-01", "2026-06-30"));
        let r = run(dir.path(), &[]);
        let dp = r.status("DP-04");
        assert_eq!(dp.result, EvidenceState::Missing);
        assert!(dp.no_occurrence.is_none());
        let found = r.findings("no-occurrence-period", "DP-04");
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .location
                .as_ref()
                .is_some_and(|l| l.file.ends_with("no-occurrence-statement-2026-H1.md.meta.toml"))
        );
        assert_eq!(r.findings("missing-evidence", "DP-04").len(), 1);
    }

    #[test]
    fn a_no_occurrence_statement_contradicted_by_evidence_is_ignored() {
        let mut files = statement("2026-01-01", "2026-06-30").to_vec();
        files.push(("evidence/DP-04/disposal-2026-03-10.md", "wiped".into()));
        let dir = project(Kind::Type2, DP_04, "", &files);
        let r = run(dir.path(), &[]);
        let dp = r.status("DP-04");
        assert!(dp.no_occurrence.is_none());
        assert_eq!(dp.result, EvidenceState::Complete);
        assert_eq!(dp.status_text, "Evidence on file for 1 event in the period");
        let found = r.findings("no-occurrence-contradicted", "DP-04");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("1 evidence file dated"), "{}", found[0].message);
    }

    #[test]
    fn uncovered_criteria_are_those_in_scope_no_control_addresses_nor_declared_not_relevant() {
        let not_relevant = "\n[[not_relevant]]\ncriterion = \"CC6.4\"\nreason = \"No facilities of our own.\"\n";
        let dir = project(Kind::Type2, "", not_relevant, &[]);
        let r = run(dir.path(), &[]);
        let uncovered = &r.assessment.uncovered_criteria;
        // Security has 33 criteria: 10 are mapped to controls here, CC6.4 is not relevant.
        assert_eq!(uncovered.len(), 33 - 10 - 1, "{uncovered:?}");
        for covered in ["CC1.1", "CC6.1", "CC7.4", "CC8.1", "CC6.4"] {
            assert!(!uncovered.iter().any(|c| c == covered), "{covered} in {uncovered:?}");
        }
        for open in ["CC1.2", "CC3.1", "CC6.5", "CC9.2"] {
            assert!(uncovered.iter().any(|c| c == open), "{open} not in {uncovered:?}");
        }
        assert!(uncovered.iter().all(|c| c.starts_with("CC")), "only security is in scope");
        assert_eq!(r.codes("uncovered-criterion"), uncovered.len());
        let cc91 = r.diags.iter().find(|d| d.code == "uncovered-criterion" && d.message.starts_with("CC9.1 ")).unwrap();
        assert!(cc91.hint.as_deref().is_some_and(|h| h.contains("[[not_relevant]] criterion = \"CC9.1\"")));
    }

    #[test]
    fn a_category_in_scope_adds_its_criteria() {
        let dir = project(Kind::Type2, "", "", &[]);
        let security_only = run(dir.path(), &[]).assessment.uncovered_criteria;
        let edit = std::fs::read_to_string(dir.path().join("auditpack.toml")).unwrap().replacen(
            "categories = [\"security\"]",
            "categories = [\"security\", \"availability\"]",
            1,
        );
        std::fs::write(dir.path().join("auditpack.toml"), edit).unwrap();
        let with_availability = run(dir.path(), &[]).assessment.uncovered_criteria;
        let added: Vec<&String> = with_availability.iter().filter(|c| !security_only.contains(c)).collect();
        assert_eq!(added, ["A1.1", "A1.2", "A1.3"]);
    }

    #[test]
    fn replaced_evidence_from_an_earlier_snapshot_covers_its_quarter() {
        let dir = project(Kind::Type2, "", "", &[]);
        let before = run(dir.path(), &[]);
        let q2 = before.index.file("evidence/AC-01/access-review-2026-Q2.csv").unwrap();
        let past = [
            PastEvidence {
                path: "evidence/AC-01/access-review-2026-Q1.csv".into(),
                sha256: "0".repeat(64),
                effective: Effective::range(date(2026, 1, 1), date(2026, 3, 31), DateSource::FileName),
                controls: vec!["AC-01".into()],
                snapshot: 3,
            },
            // Still on file unchanged: current evidence, not counted twice.
            PastEvidence {
                path: q2.file.path.clone(),
                sha256: q2.file.sha256.clone(),
                effective: q2.file.effective,
                controls: vec!["AC-01".into()],
                snapshot: 3,
            },
        ];
        let r = run(dir.path(), &past);
        let ac = r.status("AC-01");
        assert_eq!(ac.result, EvidenceState::Complete);
        assert_eq!(ac.status_text, "Evidence on file for 2 of 2 quarters");
        assert_eq!(ac.occurrences[0].evidence, ["evidence/AC-01/access-review-2026-Q1.csv (snapshot 3)"]);
        assert_eq!(ac.occurrences[1].evidence, ["evidence/AC-01/access-review-2026-Q2.csv"]);
        assert!(r.findings("missing-occurrence", "AC-01").is_empty());
        // Evidence of another control does not count for this one.
        assert_eq!(r.status("CM-01").result, EvidenceState::Missing);
    }

    #[test]
    fn files_dated_by_modification_time_are_listed_and_noted() {
        let dir = project(Kind::Type2, "", "", &[("evidence/misc/readme.txt", "no date in this name".into())]);
        let r = run(dir.path(), &[]);
        let listed: Vec<&str> = r.index.files(&r.assessment.inferred_dates).map(|f| f.file.path.as_str()).collect();
        assert_eq!(listed, ["evidence/misc/readme.txt"]);
        let notes: Vec<&Diagnostic> = r.diags.iter().filter(|d| d.code == "inferred-date").collect();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].location.as_ref().is_some_and(|l| l.file == std::path::Path::new("evidence/misc/readme.txt")));
    }

    #[test]
    fn a_changes_narrative_is_noted_as_unused_in_type1_only() {
        let changes = [("narrative/changes.md", "# Changes\n\nNone.\n".to_string())];
        let dir = project(Kind::Type1, "", "", &changes);
        assert_eq!(run(dir.path(), &[]).codes("changes-not-used"), 1);
        let dir = project(Kind::Type2, "", "", &changes);
        assert_eq!(run(dir.path(), &[]).codes("changes-not-used"), 0);
    }

    #[test]
    fn the_assessment_is_deterministic() {
        let dir = project(Kind::Type2, DP_04, "", &statement("2026-01-01", "2026-06-30"));
        let a = serde_json::to_string(&run(dir.path(), &[]).assessment).unwrap();
        let b = serde_json::to_string(&run(dir.path(), &[]).assessment).unwrap();
        assert_eq!(a, b);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        let ids: Vec<&String> = v["controls"].as_object().unwrap().keys().collect();
        assert_eq!(ids, ["AC-01", "CM-01", "DP-04", "GOV-01", "IR-01", "OPS-01"], "sorted by id");
        assert_eq!(v["controls"]["OPS-01"]["state"], "outside-period");
        assert_eq!(v["controls"]["DP-04"]["state"], "no-occurrence");
    }

    #[test]
    fn occurrence_labels_read_as_words() {
        assert_eq!(occurrence_words("2026-Q1"), "Q1 2026");
        assert_eq!(occurrence_words("2026-H2"), "H2 2026");
        assert_eq!(occurrence_words("2026-W05"), "week 5 of 2026");
        assert_eq!(occurrence_words("2026-03"), "March 2026");
        assert_eq!(occurrence_words("2026-03-09"), "9 March 2026");
        assert_eq!(occurrence_words("2026"), "2026");
    }
}
