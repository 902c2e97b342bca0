//! Fifth stage: the report model, the contract between assessment and rendering.
//!
//! A plain serde struct built from the project, the index and the assessment. Templates render
//! it to Markdown; `auditpack build --format json` writes it as it is.

pub mod soc2;

use crate::assess::{Assessment, ControlStatus};
use crate::collect::dates::DateSource;
use crate::index::EvidenceIndex;
use crate::model::{AuditType, Category, Owner};
use crate::project::{Project, Risk};
use serde::Serialize;
use std::collections::BTreeMap;

pub mod population;
pub mod risk;

pub use crate::text::long_date;

pub const SCHEMA: &str = "auditpack-report/1";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub generator: String,
    pub meta: Meta,
    pub scope: Vec<ScopeCategory>,
    pub providers: Vec<ProviderRow>,
    pub criteria: Vec<CriterionRow>,
    pub controls: Vec<ControlRow>,
    /// The evidence index: every file when the index is complete (see `evidence_index`), else empty.
    pub evidence: Vec<EvidenceRow>,
    /// Files mapped to no control, when the index is complete (else empty; `totals.unmapped` counts them).
    pub unmapped: Vec<String>,
    /// Whether the report lists every evidence file, and what stands in for the list when not.
    pub evidence_index: EvidenceIndexSection,
    pub assets: Vec<crate::project::Asset>,
    /// The register as written (verbatim entries).
    pub risks: Vec<Risk>,
    /// The risk assessment section: scored register, heat maps, treatment, traceability.
    pub risk: risk::RiskSection,
    /// Scanner findings, summarised per asset and per risk.
    pub scans: risk::ScanSection,
    /// Narrative Markdown by file stem (`services`, `boundaries` ...).
    pub narratives: BTreeMap<String, String>,
    pub gaps: Gaps,
    pub totals: Totals,
    /// Section II.
    pub assertion: soc2::Assertion,
    /// Section III, the structured parts (narratives are in `narratives`).
    pub description: soc2::Description,
    /// Section V: the responsibility matrix and the controls x providers table.
    pub matrix: Vec<soc2::MatrixRow>,
    pub control_providers: Vec<soc2::ControlProviders>,
    /// Populations counted from listings, their samples, and the provenance of listings and
    /// reports (annex only; see [`population::attach`]).
    pub populations: crate::population::Populations,
    /// The evidence snapshots management took, for the annex.
    pub snapshots: Snapshots,
}

/// The snapshots of the project's store, as the annex lists them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshots {
    /// `[snapshot] store` as configured (not resolved, so the package does not depend on where
    /// the project was checked out).
    pub store: String,
    /// How many carry a time-stamping authority's token that could be read.
    pub attested: usize,
    pub taken: Vec<SnapshotRow>,
}

/// One snapshot in the annex (what `snapshot list` shows of it).
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotRow {
    pub id: u64,
    /// The manifest's SHA-256.
    pub sha256: String,
    pub created: String,
    pub auditpack: String,
    pub files: usize,
    pub bytes: u64,
    pub new_bytes: u64,
    /// The time a TSA token attests, as the token states it.
    pub attested: Option<String>,
    /// Why a token is on file but unusable.
    pub token_problem: Option<String>,
}

impl Snapshots {
    /// A package rebuilt from snapshot N lists the snapshots up to N and says nothing else of
    /// the rebuild, so that it is byte-identical to the package built right after N was taken.
    pub fn new(store: String, taken: Vec<SnapshotRow>) -> Self {
        let attested = taken.iter().filter(|s| s.attested.is_some()).count();
        Snapshots { store, attested, taken }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub organisation: String,
    pub website: Option<String>,
    pub system: String,
    pub system_summary: Option<String>,
    #[serde(rename = "type")]
    pub kind: AuditType,
    /// "Type 1" or "Type 2".
    pub type_title: &'static str,
    pub start: String,
    pub end: String,
    /// "as of 30 June 2026" or "1 January 2026 to 30 June 2026".
    pub period_text: String,
    pub report_date: String,
    pub report_date_text: String,
    /// Running-header labels: the draft report's and the annex's.
    pub confidentiality: String,
    pub annex_confidentiality: String,
    pub accent: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeCategory {
    pub id: Category,
    pub title: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderRow {
    pub id: String,
    pub name: String,
    pub service_model: String,
    pub method: String,
    pub services: Option<String>,
    /// Carve-out: the CSOCs assumed at the provider, each with its criteria.
    pub csocs: Vec<crate::project::Csoc>,
    /// Inclusive: the provider's own management assertion, as management names it.
    pub assertion: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CriterionRow {
    pub id: String,
    pub anchor: String,
    pub title: String,
    pub family: String,
    pub family_title: String,
    pub category: Category,
    pub controls: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlRow {
    pub id: String,
    pub anchor: String,
    pub title: String,
    pub description: String,
    pub criteria: Vec<String>,
    pub layer: String,
    pub frequency: String,
    pub owner: Owner,
    pub owner_title: &'static str,
    /// The owner as Section IV shows it: the subservice organisation's name for a control of an
    /// inclusive provider, else `owner_title`.
    pub owner_text: String,
    /// Inclusive providers whose own control this is (owner `provider` on them): presented as
    /// theirs in Sections III and IV.
    pub subservice_of: Vec<String>,
    pub assignments: Vec<AssignmentRow>,
    pub performer: Option<String>,
    pub test_procedure: Option<String>,
    /// Every evidence file of the control when the evidence index is complete, else empty.
    pub evidence: Vec<EvidenceRef>,
    /// The control's evidence files, their bytes and the newest effective date, always.
    pub evidence_count: usize,
    pub evidence_bytes: u64,
    pub evidence_newest: Option<String>,
    pub status: ControlStatus,
    /// Section IV: how it was tested (filled once every row exists).
    pub test: Option<soc2::TestRecord>,
    /// Ids of the CUECs the control relies on (listed in Section III, item 6).
    pub cuecs: Vec<String>,
    pub management_response: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssignmentRow {
    pub provider: Option<String>,
    pub provider_name: String,
    pub owner: Owner,
    pub owner_title: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceRef {
    pub path: String,
    pub name: String,
    pub date: String,
    /// Where the date comes from: "sidecar", "file name", "modification time (weak)".
    pub date_source: &'static str,
    pub inferred: bool,
    /// The system the file was exported from (sidecar `source`), when known.
    pub source: Option<String>,
    pub sha256: String,
}

/// The report's reference to an evidence file of the index.
pub(crate) fn evidence_ref(f: &crate::index::IndexedFile) -> EvidenceRef {
    EvidenceRef {
        path: f.file.path.clone(),
        name: f.file.rel().to_string(),
        date: f.effective().date.to_string(),
        date_source: f.effective().source.text(),
        inferred: f.effective().inferred(),
        source: f.file.sidecar.as_ref().and_then(|s| s.meta.source.clone()),
        sha256: f.file.sha256.clone(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceRow {
    pub path: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub date: String,
    pub date_source: String,
    pub controls: Vec<String>,
    pub owner: Owner,
    pub provider: Option<String>,
}

/// The report lists every evidence file (in `evidence` and under each control) only up to
/// `[report] evidence_index_rows` files: a larger listing is of no use to a reader and would make
/// the report grow without bound. Beyond it the report gives per-control figures and points to the
/// complete, machine-readable listings in the package.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceIndexSection {
    /// Every file is listed.
    pub complete: bool,
    /// `[report] evidence_index_rows`.
    pub limit: usize,
    /// Bytes of the files mapped to no control.
    pub unmapped_bytes: u64,
    /// The complete listing in the package, as a CSV file (path under `data/`).
    pub csv: &'static str,
}

/// The package's complete evidence listing as CSV, under `data/`.
pub const EVIDENCE_CSV: &str = "report/evidence-index.csv";

#[derive(Debug, Clone, Serialize)]
pub struct Gaps {
    pub uncovered_criteria: Vec<String>,
    /// Controls with no evidence at all (and no no-occurrence statement).
    pub no_evidence: Vec<String>,
    pub stale: Vec<String>,
    /// Type 2: controls missing evidence for some expected occurrences.
    pub partial: Vec<String>,
    /// Type 2: controls with evidence, none of it dated in the period.
    pub outside_period: Vec<String>,
    /// Controls management states had no occurrence in the period: not gaps, listed for the auditor.
    pub no_occurrence: Vec<String>,
    /// Files dated by modification time, when the evidence index is complete (else empty).
    pub inferred_dates: Vec<String>,
    /// How many files are dated by modification time, always.
    pub inferred_count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub controls: usize,
    pub criteria_in_scope: usize,
    /// Criteria in scope that are addressed: by a control, or declared not relevant.
    pub criteria_covered: usize,
    /// Of those, the criteria declared not relevant (`[[not_relevant]]`).
    pub criteria_not_relevant: usize,
    pub evidence_files: usize,
    pub evidence_bytes: u64,
    pub unmapped: usize,
}

/// An HTML/PDF anchor for an id: `prefix-` and the id's [`crate::text::slug`] (`criterion`, `CC6.1`
/// -> `criterion-cc6-1`).
pub fn anchor(prefix: &str, id: &str) -> String {
    format!("{prefix}-{}", crate::text::slug(id))
}

/// Builds the report model. It is bounded by the project, not by the evidence: beyond
/// `[report] evidence_index_rows` files, no list of every file is kept (see [`EvidenceIndexSection`]).
pub fn build(
    project: &Project,
    index: &EvidenceIndex,
    scans: &crate::scan::ScanResults,
    assessment: &Assessment,
) -> Report {
    let audit = &project.audit;
    let provider_name = |id: &Option<String>| -> String {
        match id {
            Some(id) => {
                project.providers.iter().find(|p| &p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| id.clone())
            }
            None => project.organisation.name.clone(),
        }
    };
    // Beyond `[report] evidence_index_rows` files the report lists none (see
    // EvidenceIndexSection): the per-file rows are then never made, only their figures.
    let complete = index.evidence.len() <= project.report.evidence_index_rows;
    let mut controls: Vec<ControlRow> = project
        .controls
        .iter()
        .map(|c| {
            let ic = &index.controls[&c.id];
            let owner = c.overall_owner();
            let subservice_of = soc2::subservice_of(project, c);
            ControlRow {
                id: c.id.clone(),
                anchor: anchor("control", &c.id),
                title: c.title.clone(),
                description: c.description.clone(),
                criteria: c.criteria.clone(),
                layer: c.layer.to_string(),
                frequency: c.frequency.to_string(),
                owner,
                owner_title: owner.title(),
                owner_text: if subservice_of.is_empty() || owner != Owner::Provider {
                    owner.title().to_string()
                } else {
                    format!("{} (subservice organisation, inclusive)", soc2::and_list_owned(&subservice_of))
                },
                subservice_of,
                assignments: c
                    .assignments
                    .iter()
                    .map(|a| AssignmentRow {
                        provider: a.provider.clone(),
                        provider_name: provider_name(&a.provider),
                        owner: a.owner,
                        owner_title: a.owner.title(),
                    })
                    .collect(),
                performer: c.performer.clone(),
                test_procedure: c.test_procedure.clone(),
                evidence: if complete { index.files(&ic.evidence).map(evidence_ref).collect() } else { Vec::new() },
                evidence_count: ic.evidence.len(),
                evidence_bytes: index.files(&ic.evidence).map(|f| f.file.size).sum(),
                evidence_newest: index.files(&ic.evidence).map(|f| f.effective().date).max().map(|d| d.to_string()),
                status: assessment.controls[&c.id].clone(),
                test: None,
                cuecs: c.cuecs.clone(),
                management_response: c.management_response.clone(),
            }
        })
        .collect();
    for (row, c) in controls.iter_mut().zip(&project.controls) {
        row.test = Some(soc2::test_record(project, index, c, row));
        if !complete {
            // The samples above keep the files they name; the full list stays in the package.
            for o in &mut row.status.occurrences {
                o.evidence = Vec::new();
            }
        }
    }

    let criteria: Vec<CriterionRow> = crate::model::criteria()
        .iter()
        .filter(|cr| audit.in_scope(cr.category))
        .map(|cr| CriterionRow {
            id: cr.id.clone(),
            anchor: anchor("criterion", &cr.id),
            title: cr.title.clone(),
            family: cr.family.clone(),
            family_title: cr.family_title.clone(),
            category: cr.category,
            controls: project.controls.iter().filter(|c| c.criteria.contains(&cr.id)).map(|c| c.id.clone()).collect(),
        })
        .collect();

    let evidence: Vec<EvidenceRow> = index
        .evidence
        .iter()
        .take(if complete { usize::MAX } else { 0 })
        .map(|f| EvidenceRow {
            path: f.file.path.clone(),
            name: f.file.rel().to_string(),
            size: f.file.size,
            sha256: f.file.sha256.clone(),
            date: f.effective().date.to_string(),
            date_source: date_source_name(f.effective().source).to_string(),
            controls: f.controls().map(str::to_string).collect(),
            owner: f.owner,
            provider: f.provider.clone(),
        })
        .collect();

    let status = |pred: fn(&ControlStatus) -> bool| -> Vec<String> {
        assessment.controls.iter().filter(|(_, s)| pred(s)).map(|(id, _)| id.clone()).collect()
    };
    use crate::assess::EvidenceState as St;
    let gaps = Gaps {
        uncovered_criteria: assessment.uncovered_criteria.clone(),
        no_evidence: status(|s| s.result == St::Missing),
        stale: status(|s| s.result == St::Stale),
        partial: status(|s| s.result == St::Partial),
        outside_period: status(|s| s.result == St::OutsidePeriod),
        no_occurrence: status(|s| s.result == St::NoOccurrence),
        inferred_dates: if complete {
            index.files(&assessment.inferred_dates).map(|f| f.file.path.clone()).collect()
        } else {
            Vec::new()
        },
        inferred_count: assessment.inferred_dates.len(),
    };

    let (period_text, type_title) = match audit.kind {
        AuditType::Type1 => (format!("as of {}", long_date(audit.end)), "Type 1"),
        AuditType::Type2 => (format!("{} to {}", long_date(audit.start), long_date(audit.end)), "Type 2"),
    };
    let not_relevant = |id: &str| project.not_relevant.iter().any(|n| n.criterion == id);
    let criteria_covered = criteria.iter().filter(|c| !c.controls.is_empty() || not_relevant(&c.id)).count();
    let criteria_not_relevant = criteria.iter().filter(|c| c.controls.is_empty() && not_relevant(&c.id)).count();
    let providers: Vec<ProviderRow> = project
        .providers
        .iter()
        .map(|p| ProviderRow {
            id: p.id.clone(),
            name: p.name.clone(),
            service_model: p.service_model.as_str().to_uppercase().replace("AAS", "aaS"),
            method: p.method.to_string(),
            services: p.services.clone(),
            csocs: p.csocs.clone(),
            assertion: p.assertion.clone(),
        })
        .collect();
    let assertion = soc2::assertion(project, &providers);
    let description = soc2::description(project, &providers, &assessment.subservice);
    let risk_section = risk::section(project, &controls, &assessment.risk);
    let scan_section = risk::scan_section(project, scans, &assessment.risk);
    Report {
        populations: Default::default(),
        snapshots: Default::default(),
        assertion,
        description,
        matrix: soc2::matrix_rows(project),
        control_providers: soc2::control_providers(project),
        schema: SCHEMA,
        generator: format!("auditpack {}", env!("CARGO_PKG_VERSION")),
        meta: Meta {
            organisation: project.organisation.name.clone(),
            website: project.organisation.website.clone(),
            system: project.system.name.clone(),
            system_summary: project.system.summary.clone(),
            kind: audit.kind,
            type_title,
            start: audit.start.to_string(),
            end: audit.end.to_string(),
            period_text,
            report_date: audit.report_date.to_string(),
            report_date_text: long_date(audit.report_date),
            confidentiality: project.branding.confidentiality.clone(),
            annex_confidentiality: project.branding.annex_confidentiality.clone(),
            accent: project.branding.accent.clone(),
        },
        scope: audit.categories.iter().map(|c| ScopeCategory { id: *c, title: c.title() }).collect(),
        providers: providers.clone(),
        totals: Totals {
            controls: controls.len(),
            criteria_in_scope: criteria.len(),
            criteria_covered,
            criteria_not_relevant,
            evidence_files: index.evidence.len(),
            evidence_bytes: index.totals.bytes,
            unmapped: index.unmapped.len(),
        },
        criteria,
        controls,
        evidence,
        unmapped: if complete { index.unmapped.clone() } else { Vec::new() },
        evidence_index: EvidenceIndexSection {
            complete,
            limit: project.report.evidence_index_rows,
            unmapped_bytes: index.unmapped.iter().filter_map(|p| index.file(p)).map(|f| f.file.size).sum(),
            csv: EVIDENCE_CSV,
        },
        assets: project.assets.clone(),
        risks: project.risks.clone(),
        risk: risk_section,
        scans: scan_section,
        narratives: project.narratives.iter().map(|n| (n.name.clone(), n.markdown.clone())).collect(),
        gaps,
    }
}

/// The header of the evidence-index CSV.
const EVIDENCE_CSV_COLUMNS: [&str; 10] = [
    "path",
    "size",
    "sha256",
    "effective",
    "effective_start",
    "effective_end",
    "date_source",
    "controls",
    "provider",
    "owner",
];

/// The name index.json gives a date source.
pub fn date_source_name(s: DateSource) -> &'static str {
    DATE_SOURCES.iter().find(|(x, _)| *x == s).map_or("", |(_, name)| name)
}

/// The names index.json gives these values (their serde names), without a JSON round trip per row.
const DATE_SOURCES: [(DateSource, &str); 3] = [
    (DateSource::Sidecar, "sidecar"),
    (DateSource::FileName, "file-name"),
    (DateSource::ModifiedTime, "modified-time"),
];
const OWNERS: [(Owner, &str); 3] = [(Owner::Provider, "provider"), (Owner::Joint, "joint"), (Owner::Tenant, "tenant")];

/// Writes every evidence file of `index` as CSV (RFC 4180, CRLF, one row per file in path order,
/// controls separated by `;`): the complete listing the report's evidence index points to. Rows
/// go straight to `out`, so nothing per file is kept.
pub fn write_evidence_csv<W: std::io::Write>(index: &EvidenceIndex, out: W) -> std::io::Result<W> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    w.write_record(EVIDENCE_CSV_COLUMNS)?;
    for f in &index.evidence {
        let e = f.effective();
        let size = f.file.size.to_string();
        let (date, start, end) = (e.date.to_string(), e.start.to_string(), e.end.to_string());
        w.write_record([
            f.file.path.as_str(),
            size.as_str(),
            f.file.sha256.as_str(),
            date.as_str(),
            start.as_str(),
            end.as_str(),
            DATE_SOURCES.iter().find(|(s, _)| *s == e.source).map_or("", |(_, name)| name),
            f.controls().collect::<Vec<_>>().join(";").as_str(),
            f.provider.as_deref().unwrap_or(""),
            OWNERS.iter().find(|(o, _)| *o == f.owner).map_or("", |(_, name)| name),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::EvidenceState;

    /// GOV-01 (annual, the policy of `auditpack init`), AC-01 (quarterly on aws, its 2026-Q2
    /// review) and CM-01 (monthly, no evidence).
    const CONTROLS: &str = r#"
[[control]]
id = "GOV-01"
title = "Information security policy"
description = "Management approves the information security policy annually."
criteria = ["CC1.1", "CC2.2", "CC5.3"]
layer = "application"
frequency = "annual"
test_procedure = "Inspect the current policy for management approval."

[[control]]
id = "AC-01"
title = "Quarterly user access reviews"
description = "System owners review user access every quarter."
criteria = ["CC6.1", "CC6.2", "CC6.3"]
layer = "application"
providers = ["aws"]
frequency = "quarterly"
test_procedure = "Inspect the quarterly access review exports and the reviewers' sign-off."

[[control]]
id = "CM-01"
title = "Change approval"
description = "Changes to production are approved before deployment."
criteria = ["CC8.1"]
layer = "application"
frequency = "monthly"
"#;

    /// A file mapped to no control, beside the two of `auditpack init`.
    const UNMAPPED: (&str, &str) = ("evidence/misc/team-offsite-2026-05-04.txt", "agenda and notes");

    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Type1,
        Type2,
    }

    /// The `auditpack init` project in a temporary folder, as of 2026-06-30 (Type 1) or over
    /// 2026-01-01..2026-06-30 (Type 2), with [`CONTROLS`] and `more_controls`, [`UNMAPPED`] and
    /// `extra` files, and `toml_extra` appended to auditpack.toml.
    fn project(kind: Kind, more_controls: &str, toml_extra: &str, extra: &[(&str, &str)]) -> tempfile::TempDir {
        let files = [&UNMAPPED].into_iter().chain(extra).map(|(n, t)| (*n, t.to_string()));
        crate::testing::project(kind == Kind::Type2, &format!("{CONTROLS}{more_controls}"), toml_extra, files)
    }

    struct Run {
        index: EvidenceIndex,
        assessment: Assessment,
        report: Report,
    }

    /// load -> collect -> index -> assess -> report::build; the project must load cleanly.
    fn run(dir: &std::path::Path) -> Run {
        let (project, index, mut diags) = crate::testing::index(dir);
        let scans = crate::scan::ScanResults::default();
        let assessment = crate::assess::assess(&project, &index, &[], &scans, &mut diags);
        let report = build(&project, &index, &scans, &assessment);
        Run { index, assessment, report }
    }

    impl Run {
        fn control(&self, id: &str) -> &ControlRow {
            self.report.controls.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no control {id}"))
        }
    }

    /// Every string value in `v`, with the path of keys to it.
    fn strings<'a>(v: &'a serde_json::Value, at: String, out: &mut Vec<(String, &'a str)>) {
        match v {
            serde_json::Value::String(s) => out.push((at, s)),
            serde_json::Value::Array(a) => {
                a.iter().enumerate().for_each(|(i, x)| strings(x, format!("{at}[{i}]"), out))
            }
            serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| strings(x, format!("{at}.{k}"), out)),
            _ => {}
        }
    }

    const POLICY: &str = "evidence/GOV-01/information-security-policy-2026-01-15.md";
    const REVIEW: &str = "evidence/AC-01/access-review-2026-Q2.csv";

    fn init_text(path: &str) -> &'static str {
        crate::cli::init::FILES.iter().find(|(n, _)| *n == path).map(|(_, t)| *t).unwrap()
    }

    #[test]
    fn a_type1_report_is_as_of_its_date() {
        let dir = project(Kind::Type1, "", "", &[]);
        let r = run(dir.path());
        let m = &r.report.meta;
        assert_eq!((m.type_title, m.period_text.as_str()), ("Type 1", "as of 30 June 2026"));
        assert_eq!(
            (m.start.as_str(), m.end.as_str(), m.report_date_text.as_str()),
            ("2026-06-30", "2026-06-30", "30 June 2026")
        );
        for c in &r.report.controls {
            assert!(c.status.occurrences.is_empty(), "{}: a Type 1 has no occurrences", c.id);
            let test = c.test.as_ref().expect("every row has its test record");
            assert_eq!(test.population_text, "design as of the description date");
            assert!(test.exceptions.is_empty());
        }
        assert_eq!(r.control("AC-01").status.result, EvidenceState::Complete);
        assert_eq!(r.control("AC-01").test.as_ref().unwrap().sample_size, 1);
        assert_eq!(r.control("CM-01").test.as_ref().unwrap().sample_size, 0, "nothing to sample");
    }

    #[test]
    fn a_type2_report_covers_its_period() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path());
        let m = &r.report.meta;
        assert_eq!((m.type_title, m.period_text.as_str()), ("Type 2", "1 January 2026 to 30 June 2026"));
        assert_eq!((m.start.as_str(), m.end.as_str()), ("2026-01-01", "2026-06-30"));
        let test = r.control("AC-01").test.as_ref().unwrap();
        assert_eq!(test.population_text, "2 quarterly occurrences in the period");
        assert_eq!(test.population, 2);
        assert_eq!(test.exceptions, ["2026-Q1"]);
        let cm = r.control("CM-01").test.as_ref().unwrap();
        assert_eq!((cm.population, cm.exceptions.len()), (6, 6));
    }

    #[test]
    fn controls_carry_managements_evidence_status_in_catalogue_order() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path());
        let ids: Vec<&str> = r.report.controls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["GOV-01", "AC-01", "CM-01"]);
        let states: Vec<(EvidenceState, &str)> =
            r.report.controls.iter().map(|c| (c.status.result, c.status.status_text.as_str())).collect();
        assert_eq!(
            states,
            [
                (EvidenceState::Complete, "Evidence on file for 1 of 1 year"),
                (EvidenceState::Partial, "Evidence on file for 1 of 2 quarters; missing for Q1 2026"),
                (EvidenceState::Missing, "No evidence on file"),
            ]
        );
        let ac = r.control("AC-01");
        assert_eq!(ac.anchor, "control-ac-01");
        assert_eq!((ac.owner, ac.owner_text.as_str()), (Owner::Tenant, "Tenant"));
        assert_eq!(ac.assignments.len(), 1);
        assert_eq!(
            (ac.assignments[0].provider_name.as_str(), ac.assignments[0].owner),
            ("Amazon Web Services", Owner::Tenant)
        );
        assert_eq!(ac.evidence.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), [REVIEW]);
        assert_eq!(ac.evidence[0].date_source, "file name");
        assert_eq!(ac.evidence_count, 1);
        assert_eq!(ac.evidence_bytes, init_text(REVIEW).len() as u64);
        assert_eq!(ac.evidence_newest.as_deref(), Some("2026-06-30"));
        assert_eq!(r.control("GOV-01").assignments[0].provider_name, "Example Corp", "the company's own control");
        let cm = r.control("CM-01");
        assert_eq!((cm.evidence_count, cm.evidence_bytes, cm.evidence_newest.as_deref()), (0, 0, None));
    }

    #[test]
    fn gaps_list_the_controls_of_each_evidence_state() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path());
        let g = &r.report.gaps;
        assert_eq!(g.no_evidence, ["CM-01"]);
        assert_eq!(g.partial, ["AC-01"]);
        assert!(g.stale.is_empty() && g.outside_period.is_empty() && g.no_occurrence.is_empty());
        assert_eq!(g.uncovered_criteria, r.assessment.uncovered_criteria);
        assert!(g.uncovered_criteria.iter().any(|c| c == "CC3.1"));

        // As of the end of the period AC-01's Q2 review is current: no gap but CM-01.
        let dir = project(Kind::Type1, "", "", &[]);
        let g = run(dir.path()).report.gaps;
        assert_eq!((g.no_evidence.as_slice(), g.partial.len()), (&["CM-01".to_string()][..], 0));
    }

    #[test]
    fn totals_count_controls_criteria_and_evidence() {
        let not_relevant = "\n[[not_relevant]]\ncriterion = \"CC6.4\"\nreason = \"No facilities of our own.\"\n";
        let dir = project(Kind::Type2, "", not_relevant, &[]);
        let r = run(dir.path());
        let t = &r.report.totals;
        assert_eq!(t.controls, 3);
        assert_eq!(t.criteria_in_scope, 33, "security only");
        // CC1.1, CC2.2, CC5.3, CC6.1-CC6.3, CC8.1 by a control, CC6.4 declared not relevant.
        assert_eq!((t.criteria_covered, t.criteria_not_relevant), (8, 1));
        assert_eq!((t.evidence_files, t.unmapped), (3, 1));
        let bytes = [POLICY, REVIEW].map(|p| init_text(p).len() as u64).iter().sum::<u64>() + UNMAPPED.1.len() as u64;
        assert_eq!(t.evidence_bytes, bytes);
        assert_eq!(r.report.evidence_index.unmapped_bytes, UNMAPPED.1.len() as u64);
        assert_eq!(r.report.unmapped, [UNMAPPED.0]);
        let row = |id: &str| r.report.criteria.iter().find(|c| c.id == id).unwrap();
        assert_eq!(row("CC6.1").controls, ["AC-01"]);
        assert_eq!(row("CC6.1").anchor, "criterion-cc6-1");
        assert!(row("CC6.4").controls.is_empty());
        assert_eq!(r.report.description.not_relevant.len(), 1);
        assert_eq!(r.report.providers[0].service_model, "IaaS");
    }

    #[test]
    fn evidence_rows_carry_date_source_controls_and_owner() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path());
        let rows: Vec<(&str, &str, &str, Vec<String>, Owner)> = r
            .report
            .evidence
            .iter()
            .map(|e| (e.path.as_str(), e.date.as_str(), e.date_source.as_str(), e.controls.clone(), e.owner))
            .collect();
        assert_eq!(
            rows,
            [
                (REVIEW, "2026-06-30", "file-name", vec!["AC-01".to_string()], Owner::Tenant),
                (POLICY, "2026-01-15", "file-name", vec!["GOV-01".to_string()], Owner::Tenant),
                (UNMAPPED.0, "2026-05-04", "file-name", vec![], Owner::Tenant),
            ]
        );
        assert!(r.report.evidence_index.complete);
        assert_eq!(r.report.evidence[0].sha256, r.index.file(REVIEW).unwrap().file.sha256);
    }

    #[test]
    fn beyond_evidence_index_rows_files_are_counted_not_listed() {
        let limit = "\n[report]\nevidence_index_rows = 2\n";
        let dir = project(Kind::Type2, "", limit, &[("evidence/misc/readme.txt", "no date in this name")]);
        let r = run(dir.path());
        let s = &r.report.evidence_index;
        assert!(!s.complete);
        assert_eq!((s.limit, s.csv), (2, EVIDENCE_CSV));
        assert!(r.report.evidence.is_empty() && r.report.unmapped.is_empty());
        // The figures stay.
        assert_eq!((r.report.totals.evidence_files, r.report.totals.unmapped), (4, 2));
        let ac = r.control("AC-01");
        assert!(ac.evidence.is_empty());
        assert_eq!((ac.evidence_count, ac.evidence_newest.as_deref()), (1, Some("2026-06-30")));
        assert_eq!(ac.evidence_bytes, init_text(REVIEW).len() as u64);
        let q2 = &ac.status.occurrences[1];
        assert!(q2.evidence.is_empty());
        assert_eq!(q2.evidence_count, 1);
        assert!(r.report.gaps.inferred_dates.is_empty());
        assert_eq!(r.report.gaps.inferred_count, 1);
        // The samples keep the files they name.
        let samples = &ac.test.as_ref().unwrap().samples;
        assert!(samples.iter().any(|s| s.evidence.iter().any(|e| e.path == REVIEW)), "{samples:?}");

        // As many files as the limit: every one is listed.
        let limit = "\n[report]\nevidence_index_rows = 3\n";
        let dir = project(Kind::Type2, "", limit, &[]);
        let r = run(dir.path());
        assert!(r.report.evidence_index.complete);
        assert_eq!((r.report.evidence.len(), r.report.unmapped.len()), (3, 1));
    }

    #[test]
    fn an_inclusive_providers_own_control_is_presented_as_theirs() {
        let datadog = r#"
[[provider]]
id = "datadog"
name = "Datadog, Inc."
service_model = "saas"
method = "inclusive"
assertion = "Datadog, Inc.'s management assertion dated 14 July 2026"
"#;
        let mon = r#"
[[control]]
id = "MON-01"
title = "Monitoring alerts"
description = "Alerts on production are raised by the monitoring service."
criteria = ["CC7.2"]
layer = "application"
providers = ["datadog"]
owner = "provider"
frequency = "continuous"
"#;
        let dir = project(Kind::Type1, mon, datadog, &[]);
        let r = run(dir.path());
        let row = r.control("MON-01");
        assert_eq!(row.owner, Owner::Provider);
        assert_eq!(row.subservice_of, ["Datadog, Inc."]);
        assert_eq!(row.owner_text, "Datadog, Inc. (subservice organisation, inclusive)");
        assert_eq!(r.control("AC-01").owner_text, "Tenant");
        assert_eq!(r.report.assertion.inclusive.len(), 1);
        assert_eq!(r.report.assertion.carved_out.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["aws"]);
    }

    #[test]
    fn the_model_carries_no_auditor_wording() {
        // The draft report is management's: auditpack writes no test result, opinion or
        // qualification (docs/documents.md). The project's own text here has none either, so
        // any of these words would come from the model.
        const AUDITOR: [&str; 6] =
            ["no exceptions noted", "exception", "operated effectively", "opinion", "qualified", "tested"];
        for kind in [Kind::Type1, Kind::Type2] {
            let dir = project(kind, "", "", &[]);
            let r = run(dir.path());
            let v = serde_json::to_value(&r.report).unwrap();
            let mut all = Vec::new();
            strings(&v, String::new(), &mut all);
            assert!(all.len() > 100, "the walk reaches the model's text");
            for (at, s) in &all {
                let lower = s.to_lowercase();
                for w in AUDITOR {
                    assert!(!lower.contains(w), "{at}: {s:?} contains {w:?}");
                }
            }
            // The statuses are written, and in management's words.
            assert!(r.report.controls.iter().all(|c| !c.status.status_text.is_empty()));
        }
    }

    #[test]
    fn the_report_model_is_deterministic() {
        let dir = project(Kind::Type2, "", "", &[]);
        let a = serde_json::to_string(&run(dir.path()).report).unwrap();
        let b = serde_json::to_string(&run(dir.path()).report).unwrap();
        assert_eq!(a, b);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["generator"], format!("auditpack {}", env!("CARGO_PKG_VERSION")));
        assert_eq!(v["meta"]["type"], "type2");
        assert_eq!(v["controls"][1]["status"]["state"], "partial");
    }

    #[test]
    fn the_evidence_csv_lists_every_file_in_path_order() {
        let dir = project(Kind::Type2, "", "", &[]);
        let r = run(dir.path());
        let csv = String::from_utf8(write_evidence_csv(&r.index, Vec::new()).unwrap()).unwrap();
        let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
        assert_eq!(lines[0], EVIDENCE_CSV_COLUMNS.join(","));
        assert_eq!(lines.len(), 1 + 3);
        let sha = &r.index.file(REVIEW).unwrap().file.sha256;
        let size = init_text(REVIEW).len();
        assert_eq!(lines[1], format!("{REVIEW},{size},{sha},2026-06-30,2026-04-01,2026-06-30,file-name,AC-01,,tenant"));
        assert!(lines[2].starts_with(POLICY) && lines[3].starts_with(UNMAPPED.0));
        assert!(lines[3].ends_with(",file-name,,,tenant"), "{}", lines[3]);
    }
}
