//! The parts of the report model that follow the SOC 2 report's structure: management's
//! assertion (Section II), the system description's DC 200 items (Section III), the test record
//! of each control (Section IV) and the other information (Section V).

use super::{ControlRow, EvidenceRef, ProviderRow};
use crate::assess::Occurrence;
use crate::model::{AssetCategory, AuditType, Category, Frequency, Layer, Method, Owner, ServiceModel};
use crate::project::{Asset, Project};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Assertion {
    /// "Security, Availability and Confidentiality"
    pub categories_text: String,
    pub carved_out: Vec<ProviderRow>,
    pub inclusive: Vec<ProviderRow>,
    /// Criteria that rely on carved-out providers' complementary controls: the criteria their
    /// CSOCs are mapped to.
    pub csoc_criteria: Vec<String>,
    pub has_cuecs: bool,
    /// Deviations management describes in its assertion (`[assertion] deviations`), verbatim.
    /// auditpack never drafts them: gaps go to the annex for management to decide on.
    pub deviations: Vec<String>,
    /// Who signs the assertion, from `[assertion]`.
    pub signatory: Option<String>,
    pub signatory_title: Option<String>,
    /// The assertion's date in words; None leaves it for the date of the service auditor's report.
    pub date_text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub components: Components,
    pub subservice: Vec<Subservice>,
    /// Criteria met only if the carved-out providers' CSOCs operate: the union of their mappings.
    pub csoc_criteria: Vec<String>,
    pub cuecs: Vec<Cuec>,
    /// The company's monitoring of its subservice organisations: controls mapped to CC9.2.
    pub monitoring: Vec<String>,
    pub not_relevant: Vec<NotRelevantRow>,
    /// Categories not in scope, as "Privacy and Processing Integrity".
    pub categories_out_of_scope: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Components {
    pub infrastructure: Vec<AssetRow>,
    pub software: Vec<AssetRow>,
    pub people: Vec<AssetRow>,
    pub data: Vec<AssetRow>,
    pub vendors: Vec<AssetRow>,
}

/// An asset as the description shows it, with its provider's name.
#[derive(Debug, Clone, Serialize)]
pub struct AssetRow {
    #[serde(flatten)]
    pub asset: Asset,
    pub provider_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Subservice {
    #[serde(flatten)]
    pub provider: ProviderRow,
    /// Controls of ours that run on the provider, with the owner there (an inclusive provider's
    /// own controls are in `own_controls` instead).
    pub controls: Vec<(String, Owner)>,
    /// Inclusive: the provider's own controls, included in the description.
    pub own_controls: Vec<ControlLink>,
    /// Its own SOC reports and bridge letters, earliest first (paths for the annex only).
    pub assurance: Vec<AssuranceRow>,
    /// Carve-out: no SOC report of it is among the evidence.
    pub report_missing: bool,
    /// Carve-out: the parts of the period (or the as-of date) no report or bridge letter covers.
    pub gaps: Vec<String>,
}

/// A subservice organisation's SOC report or bridge letter.
#[derive(Debug, Clone, Serialize)]
pub struct AssuranceRow {
    /// "SOC 2 Type 2 report", "bridge letter".
    pub title: &'static str,
    pub kind: crate::project::Assurance,
    pub is_report: bool,
    pub start: String,
    pub end: String,
    /// "1 October 2025 to 30 September 2026", or "as of 30 June 2026" for a Type 1 report.
    pub period_text: String,
    pub path: String,
}

/// A complementary user entity control as item 6 lists it, with the controls that rely on it.
#[derive(Debug, Clone, Serialize)]
pub struct Cuec {
    pub id: String,
    pub text: String,
    pub criteria: Vec<String>,
    pub controls: Vec<ControlLink>,
}

/// A control named in the description, with its anchor in Section IV.
#[derive(Debug, Clone, Serialize)]
pub struct ControlLink {
    pub id: String,
    pub anchor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotRelevantRow {
    pub criterion: String,
    pub title: String,
    pub reason: String,
}

/// Section IV: how one control was tested and what was found.
#[derive(Debug, Clone, Serialize)]
pub struct TestRecord {
    /// "Inspection, reperformance"
    pub types: String,
    /// What the population is: occurrences in the period, or evidenced events.
    pub population_text: String,
    pub population: usize,
    pub sample_size: usize,
    pub samples: Vec<Sample>,
    /// Occurrences in the period without evidence.
    pub exceptions: Vec<String>,
    /// When the control has fewer distinct evidence items than the sample size, says so: each
    /// item is sampled once, never reused.
    pub shortfall: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub label: String,
    pub evidence: Vec<EvidenceRef>,
}

/// One row of the responsibility matrix (service model x layer).
#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    pub layer: Layer,
    pub saas: Owner,
    pub paas: Owner,
    pub iaas: Owner,
}

/// One row of the controls x providers table: the owner on each provider, "" where it does not run.
#[derive(Debug, Clone, Serialize)]
pub struct ControlProviders {
    pub control: String,
    pub anchor: String,
    /// The owner when the control runs on no provider (the company's own), else "".
    pub own: String,
    pub cells: Vec<String>,
}

/// "a, b and c"
pub fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// "a, b and c", of owned strings.
pub fn and_list_owned(items: &[String]) -> String {
    and_list(&items.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The criteria the carved-out providers' CSOCs are mapped to, in the AICPA order.
pub fn csoc_criteria(project: &Project) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in project.providers.iter().filter(|p| p.method == Method::CarveOut) {
        for c in &p.csocs {
            for cr in &c.criteria {
                if !out.contains(cr) {
                    out.push(cr.clone());
                }
            }
        }
    }
    out.sort_by_key(|c| crate::model::criterion_rank(c));
    out
}

/// The names of the inclusive providers whose own control `c` is (owner `provider` on them).
pub fn subservice_of(project: &Project, c: &crate::project::Control) -> Vec<String> {
    c.assignments
        .iter()
        .filter(|a| a.owner == Owner::Provider)
        .filter_map(|a| project.providers.iter().find(|p| Some(&p.id) == a.provider.as_ref()))
        .filter(|p| p.method == Method::Inclusive)
        .map(|p| p.name.clone())
        .collect()
}

pub fn assertion(project: &Project, providers: &[ProviderRow]) -> Assertion {
    let titles: Vec<&str> = project.audit.categories.iter().map(|c| c.title()).collect();
    let csoc_criteria = csoc_criteria(project);
    let by_method = |m: &str| providers.iter().filter(|p| p.method == m).cloned().collect::<Vec<_>>();
    Assertion {
        categories_text: and_list(&titles),
        carved_out: by_method(Method::CarveOut.as_str()),
        inclusive: by_method(Method::Inclusive.as_str()),
        csoc_criteria,
        has_cuecs: !project.cuecs.is_empty(),
        deviations: project.assertion.deviations.clone(),
        signatory: project.assertion.signatory.clone(),
        signatory_title: project.assertion.title.clone(),
        date_text: project.assertion.date.map(super::long_date),
    }
}

pub fn description(
    project: &Project,
    providers: &[ProviderRow],
    assurance: &[crate::assess::subservice::Assurance],
) -> Description {
    let of = |cat: AssetCategory| {
        project
            .assets
            .iter()
            .filter(|a| a.category == cat)
            .map(|a| AssetRow {
                asset: a.clone(),
                provider_name: a.provider.as_ref().map(|id| {
                    let p = project.providers.iter().find(|p| &p.id == id);
                    p.map(|p| p.name.clone()).unwrap_or_else(|| id.clone())
                }),
            })
            .collect::<Vec<_>>()
    };
    let monitoring: Vec<String> =
        project.controls.iter().filter(|c| c.criteria.iter().any(|cr| cr == "CC9.2")).map(|c| c.id.clone()).collect();
    Description {
        components: Components {
            infrastructure: of(AssetCategory::Infrastructure),
            software: of(AssetCategory::Software),
            people: of(AssetCategory::Human),
            data: of(AssetCategory::Data),
            vendors: of(AssetCategory::Vendor),
        },
        subservice: providers
            .iter()
            .map(|p| {
                let inclusive = p.method == Method::Inclusive.as_str();
                let on_it = |c: &&crate::project::Control| {
                    c.assignments.iter().find(|a| a.provider.as_deref() == Some(p.id.as_str())).map(|a| a.owner)
                };
                let own = |c: &&crate::project::Control| inclusive && on_it(c) == Some(Owner::Provider);
                let on_file = assurance.iter().find(|a| a.provider == p.id);
                let period_text = |kind: crate::project::Assurance, s: jiff::civil::Date, e: jiff::civil::Date| {
                    let type1 =
                        matches!(kind, crate::project::Assurance::Soc1Type1 | crate::project::Assurance::Soc2Type1);
                    if type1 || s == e {
                        format!("as of {}", super::long_date(e))
                    } else {
                        format!("{} to {}", super::long_date(s), super::long_date(e))
                    }
                };
                Subservice {
                    provider: p.clone(),
                    controls: project
                        .controls
                        .iter()
                        .filter(|c| !own(c))
                        .filter_map(|c| on_it(&c).map(|o| (c.id.clone(), o)))
                        .collect(),
                    own_controls: project
                        .controls
                        .iter()
                        .filter(own)
                        .map(|c| ControlLink { id: c.id.clone(), anchor: super::anchor("control", &c.id) })
                        .collect(),
                    assurance: on_file
                        .map(|a| {
                            a.documents
                                .iter()
                                .map(|d| AssuranceRow {
                                    title: d.kind.title(),
                                    kind: d.kind,
                                    is_report: d.kind.is_report(),
                                    start: d.start.to_string(),
                                    end: d.end.to_string(),
                                    period_text: period_text(d.kind, d.start, d.end),
                                    path: d.path.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    report_missing: on_file.is_some_and(|a| a.report_missing),
                    gaps: on_file
                        .map(|a| {
                            a.gaps
                                .iter()
                                .map(|(s, e)| {
                                    if s == e {
                                        super::long_date(*s)
                                    } else {
                                        format!("{} to {}", super::long_date(*s), super::long_date(*e))
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect(),
        csoc_criteria: csoc_criteria(project),
        monitoring,
        cuecs: project
            .cuecs
            .iter()
            .map(|u| Cuec {
                id: u.id.clone(),
                text: u.text.clone(),
                criteria: u.criteria.clone(),
                controls: project
                    .controls
                    .iter()
                    .filter(|c| c.cuecs.contains(&u.id))
                    .map(|c| ControlLink { id: c.id.clone(), anchor: super::anchor("control", &c.id) })
                    .collect(),
            })
            .collect(),
        not_relevant: project
            .not_relevant
            .iter()
            .map(|n| NotRelevantRow {
                criterion: n.criterion.clone(),
                title: crate::model::criterion(&n.criterion).map(|c| c.title.clone()).unwrap_or_default(),
                reason: n.reason.clone(),
            })
            .collect(),
        categories_out_of_scope: and_list(
            &Category::ALL.iter().filter(|c| !project.audit.in_scope(**c)).map(|c| c.title()).collect::<Vec<_>>(),
        ),
    }
}

/// Picks `n` of `len` items spread evenly over the period (systematic selection), so a sample
/// is reproducible and covers the whole period.
pub fn systematic(len: usize, n: usize) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| ((2 * i + 1) * len) / (2 * n)).collect()
}

/// The test record of a control, from its status and evidence.
pub fn test_record(
    project: &Project,
    index: &crate::index::EvidenceIndex,
    control: &crate::project::Control,
    row: &ControlRow,
) -> TestRecord {
    let types: Vec<&str> = control.test_types.iter().map(|t| t.as_str()).collect();
    let types = {
        let s = types.join(", ");
        let mut c = s.chars();
        c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
    };
    let by_path = |p: &str| index.file(p).map(super::evidence_ref);
    let occ: &[Occurrence] = &row.status.occurrences;
    match project.audit.kind {
        AuditType::Type2 if control.frequency != Frequency::PerEvent => {
            let population = occ.len();
            let n = project.sampling.size(control.frequency, population);
            // One sample is one distinct evidence item: a file that evidences several occurrences
            // (a monthly export for a daily control) is sampled once.
            let mut distinct: Vec<&str> = Vec::new();
            for o in occ {
                for p in &o.evidence {
                    if !distinct.contains(&p.as_str()) {
                        distinct.push(p);
                    }
                }
            }
            let mut used: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
            let (samples, shortfall): (Vec<Sample>, Option<String>) = if distinct.len() < n && !distinct.is_empty() {
                // Each item once, labelled by the first occurrence it evidences.
                let samples = distinct
                    .iter()
                    .map(|p| Sample {
                        label: occ
                            .iter()
                            .find(|o| o.evidence.iter().any(|e| e == p))
                            .map(|o| o.label.clone())
                            .unwrap_or_default(),
                        evidence: by_path(p).into_iter().collect(),
                    })
                    .collect();
                let text = format!(
                    "The control has {} distinct evidence item(s) in the period for a sample of {n}: each is sampled once.",
                    distinct.len()
                );
                (samples, Some(text))
            } else {
                let samples = systematic(population, n)
                    .into_iter()
                    .map(|i| {
                        let pick = occ[i].evidence.iter().find(|p| !used.contains(p.as_str()));
                        if let Some(p) = pick {
                            used.insert(p);
                        }
                        Sample {
                            label: occ[i].label.clone(),
                            evidence: pick.and_then(|p| by_path(p)).into_iter().collect(),
                        }
                    })
                    .collect();
                (samples, None)
            };
            TestRecord {
                types,
                population_text: format!(
                    "{population} {} occurrence{} in the period",
                    control.frequency,
                    if population == 1 { "" } else { "s" }
                ),
                population,
                sample_size: if shortfall.is_some() { distinct.len() } else { n },
                samples,
                exceptions: occ.iter().filter(|o| o.evidence.is_empty()).map(|o| o.label.clone()).collect(),
                shortfall,
            }
        }
        _ => {
            // Type 1, and per-event controls: the population is the evidenced events.
            let (start, end) = (project.audit.start, project.audit.end);
            let events: Vec<&EvidenceRef> = row
                .evidence
                .iter()
                .filter(|e| {
                    project.audit.kind == AuditType::Type1
                        || e.date.parse().is_ok_and(|d: jiff::civil::Date| d >= start && d <= end)
                })
                .collect();
            let population = events.len();
            let n = match project.audit.kind {
                AuditType::Type1 => population.min(1),
                AuditType::Type2 => project.sampling.size(control.frequency, population),
            };
            TestRecord {
                types,
                population_text: match project.audit.kind {
                    AuditType::Type1 => "design as of the description date".to_string(),
                    AuditType::Type2 => {
                        format!("{population} evidenced event{} in the period", if population == 1 { "" } else { "s" })
                    }
                },
                population,
                sample_size: n,
                samples: systematic(population, n)
                    .into_iter()
                    .map(|i| Sample { label: events[i].date.clone(), evidence: vec![events[i].clone()] })
                    .collect(),
                exceptions: Vec::new(),
                shortfall: None,
            }
        }
    }
}

pub fn matrix_rows(project: &Project) -> Vec<MatrixRow> {
    Layer::ALL
        .iter()
        .map(|l| MatrixRow {
            layer: *l,
            saas: project.matrix.get(ServiceModel::Saas, *l),
            paas: project.matrix.get(ServiceModel::Paas, *l),
            iaas: project.matrix.get(ServiceModel::Iaas, *l),
        })
        .collect()
}

pub fn control_providers(project: &Project) -> Vec<ControlProviders> {
    project
        .controls
        .iter()
        .map(|c| ControlProviders {
            control: c.id.clone(),
            anchor: super::anchor("control", &c.id),
            own: c
                .assignments
                .iter()
                .find(|a| a.provider.is_none())
                .map(|a| a.owner.title().to_string())
                .unwrap_or_default(),
            cells: project
                .providers
                .iter()
                .map(|p| {
                    c.assignments
                        .iter()
                        .find(|a| a.provider.as_deref() == Some(p.id.as_str()))
                        .map(|a| a.owner.title().to_string())
                        .unwrap_or_default()
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_samples_spread_over_the_population() {
        assert_eq!(systematic(6, 2), [1, 4]);
        assert_eq!(systematic(2, 2), [0, 1]);
        assert_eq!(systematic(181, 25).len(), 25);
        assert!(systematic(181, 25).windows(2).all(|w| w[0] < w[1]));
        assert!(systematic(0, 3).is_empty());
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(and_list(&["Security"]), "Security");
        assert_eq!(
            and_list(&["Security", "Availability", "Confidentiality"]),
            "Security, Availability and Confidentiality"
        );
    }
}
