//! Fifth stage: the report model, the contract between assessment and rendering.
//!
//! A plain serde struct built from the project, the index and the assessment. Templates render
//! it to Markdown; `auditpack build --format json` writes it as it is.

pub mod soc2;

use crate::assess::{Assessment, ControlStatus};
use crate::index::EvidenceIndex;
use crate::model::{AuditType, Category, Owner};
use crate::project::{Project, Risk};
use serde::Serialize;
use std::collections::BTreeMap;

pub mod risk;

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
    pub evidence: Vec<EvidenceRow>,
    pub unmapped: Vec<String>,
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
    pub confidentiality: String,
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
    pub csocs: Vec<String>,
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
    pub assignments: Vec<AssignmentRow>,
    pub performer: Option<String>,
    pub test_procedure: Option<String>,
    pub evidence: Vec<EvidenceRef>,
    pub status: ControlStatus,
    /// Section IV: how it was tested (filled once every row exists).
    pub test: Option<soc2::TestRecord>,
    pub cuec: Option<String>,
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
    pub inferred: bool,
    pub sha256: String,
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

#[derive(Debug, Clone, Serialize)]
pub struct Gaps {
    pub uncovered_criteria: Vec<String>,
    pub no_evidence: Vec<String>,
    pub stale: Vec<String>,
    pub exceptions: Vec<String>,
    pub inferred_dates: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub controls: usize,
    pub criteria_in_scope: usize,
    pub criteria_covered: usize,
    pub evidence_files: usize,
    pub evidence_bytes: u64,
    pub unmapped: usize,
}

/// An HTML/PDF anchor for an id: lower case, `.` and blanks become `-`.
pub fn anchor(prefix: &str, id: &str) -> String {
    format!("{prefix}-{}", anchor_slug(id))
}

/// An id as an anchor: ASCII letters and digits kept (lower case), anything else `-`.
pub fn anchor_slug(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// "30 June 2026"
pub fn long_date(d: jiff::civil::Date) -> String {
    d.strftime("%-d %B %Y").to_string()
}

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
    let mut controls: Vec<ControlRow> = project
        .controls
        .iter()
        .map(|c| {
            let ic = &index.controls[&c.id];
            let owner = c.overall_owner();
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
                evidence: index
                    .files(&ic.evidence)
                    .map(|f| EvidenceRef {
                        path: f.file.path.clone(),
                        name: f.file.rel.clone(),
                        date: f.effective().date.to_string(),
                        inferred: f.effective().inferred(),
                        sha256: f.file.sha256.clone(),
                    })
                    .collect(),
                status: assessment.controls[&c.id].clone(),
                test: None,
                cuec: c.cuec.clone(),
                management_response: c.management_response.clone(),
            }
        })
        .collect();
    for (row, c) in controls.iter_mut().zip(&project.controls) {
        row.test = Some(soc2::test_record(project, c, row));
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
        .map(|f| EvidenceRow {
            path: f.file.path.clone(),
            name: f.file.rel.clone(),
            size: f.file.size,
            sha256: f.file.sha256.clone(),
            date: f.effective().date.to_string(),
            date_source: serde_json::to_value(f.effective().source)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            controls: f.controls.clone(),
            owner: f.owner,
            provider: f.provider.clone(),
        })
        .collect();

    let status = |pred: fn(&ControlStatus) -> bool| -> Vec<String> {
        assessment.controls.iter().filter(|(_, s)| pred(s)).map(|(id, _)| id.clone()).collect()
    };
    let gaps = Gaps {
        uncovered_criteria: assessment.uncovered_criteria.clone(),
        no_evidence: status(|s| s.evidence_count == 0),
        stale: status(|s| s.stale),
        exceptions: status(|s| s.evidence_count > 0 && s.result == crate::assess::TestResult::Exceptions),
        inferred_dates: assessment.inferred_dates.clone(),
    };

    let (period_text, type_title) = match audit.kind {
        AuditType::Type1 => (format!("as of {}", long_date(audit.end)), "Type 1"),
        AuditType::Type2 => (format!("{} to {}", long_date(audit.start), long_date(audit.end)), "Type 2"),
    };
    let criteria_covered = criteria.iter().filter(|c| !c.controls.is_empty()).count();
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
        })
        .collect();
    let assertion = soc2::assertion(project, &providers, &controls);
    let description = soc2::description(project, &providers);
    let risk_section = risk::section(project, &controls, &assessment.risk);
    let scan_section = risk::scan_section(project, scans, &assessment.risk);
    Report {
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
            accent: project.branding.accent.clone(),
        },
        scope: audit.categories.iter().map(|c| ScopeCategory { id: *c, title: c.title() }).collect(),
        providers: providers.clone(),
        totals: Totals {
            controls: controls.len(),
            criteria_in_scope: criteria.len(),
            criteria_covered,
            evidence_files: evidence.len(),
            evidence_bytes: index.totals.bytes,
            unmapped: index.unmapped.len(),
        },
        criteria,
        controls,
        evidence,
        unmapped: index.unmapped.clone(),
        assets: project.assets.clone(),
        risks: project.risks.clone(),
        risk: risk_section,
        scans: scan_section,
        narratives: project.narratives.iter().map(|n| (n.name.clone(), n.markdown.clone())).collect(),
        gaps,
    }
}
