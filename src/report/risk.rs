//! The risk assessment section of the report model: the scored register, the heat maps (risk
//! counts per matrix cell), the treatment plan, the traceability risk -> controls -> evidence,
//! and the scanner findings per asset and per risk.

use super::{ControlRow, EvidenceRef, anchor};
use crate::assess::risk::{RiskAssessment, Scored};
use crate::project::Project;
use crate::project::scoring::Level;
use crate::scan::{Finding, ReportInfo, ScanResults, ScanSeverity};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct RiskSection {
    /// "3x3" or "5x5".
    pub matrix: String,
    pub likelihood: Vec<String>,
    pub impact: Vec<String>,
    pub levels: Vec<LevelRow>,
    /// The first level that counts as high.
    pub high_level: String,
    pub register: Vec<RiskRow>,
    pub heatmap_inherent: Heatmap,
    pub heatmap_residual: Heatmap,
    pub treatment: Vec<TreatmentRow>,
    pub traceability: Vec<TraceRow>,
    pub objectives: Vec<ObjectiveRow>,
    /// Evidence recognised as risk-review minutes in the review window.
    pub minutes: Vec<String>,
    pub review_from: String,
    pub review_to: String,
    pub totals: RiskTotals,
}

/// A level with the range of scores it covers.
#[derive(Debug, Clone, Serialize)]
pub struct LevelRow {
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub colour: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RiskTotals {
    pub risks: usize,
    /// Rated at the "high" level or above as the register shows them: after scanner findings when
    /// they raised the rating, else the residual (or inherent) rating.
    pub high: usize,
    /// Of those, the risks that scanner findings raised to the "high" level.
    pub high_by_scans: usize,
    pub flagged_for_review: usize,
    pub potential_deficiencies: usize,
    pub objectives: usize,
    pub objectives_unaddressed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskRow {
    pub id: String,
    pub anchor: String,
    pub category: Option<String>,
    pub description: String,
    pub threat_actor: Option<String>,
    pub vulnerability: Option<String>,
    pub owner: Option<String>,
    pub status: Option<String>,
    pub inherent: Option<Scored>,
    pub residual: Option<Scored>,
    /// "Medium x High = 6: High"
    pub inherent_text: String,
    pub residual_text: String,
    /// After scanner findings raised the likelihood; None when they did not.
    pub adjusted_text: Option<String>,
    pub assets: Vec<String>,
    pub stride: Vec<String>,
    pub threat_source: Option<String>,
    pub objectives: Vec<String>,
    pub controls: Vec<String>,
    pub strategy: Option<String>,
    pub last_reviewed: Option<String>,
    pub review_stale: bool,
    pub flagged_for_review: bool,
    pub potential_deficiency: bool,
}

/// One heat map: rows are likelihood from the highest down, columns impact from the lowest up.
#[derive(Debug, Clone, Serialize)]
pub struct Heatmap {
    pub title: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<HeatCell>>,
    /// Risks with this rating missing or not on the matrix.
    pub unrated: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeatCell {
    pub count: usize,
    pub level: String,
    pub colour: String,
    pub risks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreatmentRow {
    pub id: String,
    pub anchor: String,
    pub strategy: String,
    pub residual: String,
    pub plan: Option<String>,
    pub justification: Option<String>,
    pub approver: Option<String>,
    pub approved_on: Option<String>,
    pub due: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceRow {
    pub risk_id: String,
    pub anchor: String,
    pub level: String,
    pub controls: Vec<TraceControl>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceControl {
    pub id: String,
    /// The control's anchor in the report, when it is in the catalogue.
    pub anchor: Option<String>,
    pub title: String,
    pub criteria: Vec<String>,
    /// The control's evidence status in management's words.
    pub status_text: String,
    /// The control's evidence when the evidence index is complete, else empty.
    pub evidence: Vec<EvidenceRef>,
    pub evidence_count: usize,
    pub evidence_newest: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectiveRow {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub risks: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
    pub total: usize,
}

impl SeverityCounts {
    fn of<'a>(findings: impl Iterator<Item = &'a Finding>) -> Self {
        let mut c = SeverityCounts::default();
        for f in findings {
            c.total += 1;
            match f.severity {
                ScanSeverity::Critical => c.critical += 1,
                ScanSeverity::High => c.high += 1,
                ScanSeverity::Medium => c.medium += 1,
                ScanSeverity::Low => c.low += 1,
                ScanSeverity::Info => c.info += 1,
            }
        }
        c
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanSection {
    pub reports: Vec<ReportInfo>,
    /// The findings that count (the latest scan of each target, duplicates collapsed, not
    /// excepted): what every figure of the section counts.
    pub totals: SeverityCounts,
    pub duplicates: usize,
    /// Findings of superseded scans or of scans after the period.
    pub superseded: usize,
    /// Findings an OpenVEX statement excepts, with its justification.
    pub excepted: Vec<crate::scan::Excepted>,
    pub excepted_counts: SeverityCounts,
    pub vex: Vec<crate::scan::VexInfo>,
    pub per_asset: Vec<AssetFindings>,
    pub per_risk: Vec<RiskFindings>,
    /// Critical and high findings (at most 50), worst first.
    pub top: Vec<Finding>,
    pub top_truncated: usize,
    pub unmapped_targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssetFindings {
    pub asset: String,
    pub name: String,
    pub counts: SeverityCounts,
    pub worst: Option<ScanSeverity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskFindings {
    pub risk_id: String,
    pub anchor: String,
    pub assets: Vec<String>,
    pub counts: SeverityCounts,
    /// "Low -> Medium" when the findings raised the likelihood.
    pub likelihood_change: Option<String>,
    pub level_change: Option<String>,
}

fn rating_text(s: &crate::project::Scoring, x: &Option<Scored>) -> String {
    match x {
        Some(x) => {
            format!("{} x {} = {}: {}", s.likelihood[x.likelihood - 1], s.impact[x.impact - 1], x.score, x.level_name)
        }
        None => "not rated".into(),
    }
}

pub fn section(project: &Project, controls: &[ControlRow], ra: &RiskAssessment) -> RiskSection {
    let s = &project.risk.scoring;
    let mut register = Vec::new();
    let mut treatment = Vec::new();
    let mut traceability = Vec::new();
    for (r, st) in project.risks.iter().zip(&ra.risks) {
        let risk_anchor = anchor("risk", &r.risk_id);
        let current = st.residual.as_ref().or(st.inherent.as_ref());
        register.push(RiskRow {
            id: r.risk_id.clone(),
            anchor: risk_anchor.clone(),
            category: r.category.clone(),
            description: r.description.clone(),
            threat_actor: r.threat_actor.clone(),
            vulnerability: r.vulnerability.clone(),
            owner: r.owner.clone(),
            status: r.status.clone(),
            inherent: st.inherent.clone(),
            residual: st.residual.clone(),
            inherent_text: rating_text(s, &st.inherent),
            residual_text: rating_text(s, &st.residual),
            adjusted_text: st.adjusted.as_ref().map(|a| rating_text(s, &Some(a.clone()))),
            assets: r.assets.clone(),
            stride: r.stride.clone(),
            threat_source: r.threat_source.as_ref().map(|t| {
                [t.origin.as_deref(), t.nature.as_deref(), t.vendor.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            objectives: r.objectives.clone(),
            controls: r.controls.iter().map(|c| c.control_id.clone()).collect(),
            strategy: st.strategy.clone(),
            last_reviewed: st.last_reviewed.map(|d| d.to_string()),
            review_stale: st.review_stale,
            flagged_for_review: st.flagged_for_review,
            potential_deficiency: st.potential_deficiency,
        });
        if let Some(strategy) = &st.strategy {
            let t = r.treatment.as_ref();
            treatment.push(TreatmentRow {
                id: r.risk_id.clone(),
                anchor: risk_anchor.clone(),
                strategy: strategy.clone(),
                residual: current.map(|c| c.level_name.clone()).unwrap_or_else(|| "not rated".into()),
                plan: t.and_then(|t| t.plan.clone()),
                justification: t.and_then(|t| t.justification.clone()),
                approver: t.and_then(|t| t.approver.clone()),
                approved_on: t.and_then(|t| t.approved_on.clone()),
                due: t.and_then(|t| t.due.clone()),
                owner: r.owner.clone(),
            });
        }
        traceability.push(TraceRow {
            risk_id: r.risk_id.clone(),
            anchor: risk_anchor,
            level: current.map(|c| c.level_name.clone()).unwrap_or_else(|| "not rated".into()),
            controls: r
                .controls
                .iter()
                .map(|c| match controls.iter().find(|x| x.id == c.control_id) {
                    Some(row) => TraceControl {
                        id: row.id.clone(),
                        anchor: Some(row.anchor.clone()),
                        title: row.title.clone(),
                        criteria: row.criteria.clone(),
                        status_text: row.status.status_text.clone(),
                        evidence: row.evidence.clone(),
                        evidence_count: row.evidence_count,
                        evidence_newest: row.evidence_newest.clone(),
                    },
                    None => TraceControl {
                        id: c.control_id.clone(),
                        anchor: None,
                        title: c.description.clone().unwrap_or_default(),
                        criteria: c.mapped_tsc.clone(),
                        status_text: "Not in the control catalogue".into(),
                        evidence: Vec::new(),
                        evidence_count: 0,
                        evidence_newest: None,
                    },
                })
                .collect(),
        });
    }
    let objectives: Vec<ObjectiveRow> = project
        .objectives
        .iter()
        .map(|o| ObjectiveRow {
            id: o.id.clone(),
            title: o.title.clone(),
            description: o.description.clone(),
            risks: project.risks.iter().filter(|r| r.objectives.contains(&o.id)).map(|r| r.risk_id.clone()).collect(),
        })
        .collect();
    let totals = RiskTotals {
        risks: register.len(),
        high: ra
            .risks
            .iter()
            .filter(|r| {
                r.adjusted.as_ref().or(r.residual.as_ref()).or(r.inherent.as_ref()).is_some_and(|c| s.is_high(c.level))
            })
            .count(),
        high_by_scans: ra
            .risks
            .iter()
            .filter(|r| {
                r.adjusted.as_ref().is_some_and(|a| s.is_high(a.level))
                    && !r.residual.as_ref().or(r.inherent.as_ref()).is_some_and(|c| s.is_high(c.level))
            })
            .count(),
        flagged_for_review: ra.risks.iter().filter(|r| r.flagged_for_review).count(),
        potential_deficiencies: ra.risks.iter().filter(|r| r.potential_deficiency).count(),
        objectives: objectives.len(),
        objectives_unaddressed: ra.unaddressed_objectives.len(),
    };
    RiskSection {
        matrix: s.matrix.clone(),
        likelihood: s.likelihood.clone(),
        impact: s.impact.clone(),
        levels: levels(&s.levels),
        high_level: s.levels[s.high].name.clone(),
        heatmap_inherent: heatmap(project, ra, "Inherent risk", |r| r.inherent.as_ref()),
        heatmap_residual: heatmap(project, ra, "Residual risk", |r| r.residual.as_ref()),
        register,
        treatment,
        traceability,
        objectives,
        minutes: ra.minutes.clone(),
        review_from: ra.review_window.0.map(|d| d.to_string()).unwrap_or_default(),
        review_to: ra.review_window.1.map(|d| d.to_string()).unwrap_or_default(),
        totals,
    }
}

fn levels(levels: &[Level]) -> Vec<LevelRow> {
    let mut min = 1;
    levels
        .iter()
        .map(|l| {
            let row = LevelRow { name: l.name.clone(), min, max: l.max, colour: l.colour.clone() };
            min = l.max + 1;
            row
        })
        .collect()
}

fn heatmap(
    project: &Project,
    ra: &RiskAssessment,
    title: &str,
    pick: fn(&crate::assess::risk::RiskStatus) -> Option<&Scored>,
) -> Heatmap {
    let s = &project.risk.scoring;
    let n = s.size();
    let mut cells: Vec<Vec<HeatCell>> = (0..n)
        .map(|row| {
            let likelihood = n - row;
            (1..=n)
                .map(|impact| {
                    let level = s.level_of((likelihood * impact) as u32);
                    HeatCell {
                        count: 0,
                        level: s.levels[level].name.clone(),
                        colour: s.levels[level].colour.clone(),
                        risks: Vec::new(),
                    }
                })
                .collect()
        })
        .collect();
    let mut unrated = 0;
    for r in &ra.risks {
        match pick(r) {
            Some(x) => {
                let cell = &mut cells[n - x.likelihood][x.impact - 1];
                cell.count += 1;
                cell.risks.push(r.risk_id.clone());
            }
            None => unrated += 1,
        }
    }
    Heatmap {
        title: title.into(),
        rows: s.likelihood.iter().rev().cloned().collect(),
        cols: s.impact.clone(),
        cells,
        unrated,
    }
}

pub fn scan_section(project: &Project, scans: &ScanResults, ra: &RiskAssessment) -> ScanSection {
    let s = &project.risk.scoring;
    let per_asset = project
        .assets
        .iter()
        .filter(|a| scans.on_asset(&a.id).next().is_some())
        .map(|a| AssetFindings {
            asset: a.id.clone(),
            name: a.name.clone(),
            counts: SeverityCounts::of(scans.on_asset(&a.id)),
            worst: scans.worst_on(&a.id),
        })
        .collect();
    let per_risk = project
        .risks
        .iter()
        .zip(&ra.risks)
        .filter_map(|(r, st)| {
            let findings: Vec<&Finding> = scans.on_assets(&r.assets).collect();
            if findings.is_empty() {
                return None;
            }
            let current = st.residual.as_ref().or(st.inherent.as_ref());
            let (likelihood_change, level_change) = match (current, &st.adjusted) {
                (Some(c), Some(a)) => (
                    Some(format!("{} -> {}", s.likelihood[c.likelihood - 1], s.likelihood[a.likelihood - 1])),
                    Some(format!("{} -> {}", c.level_name, a.level_name)),
                ),
                _ => (None, None),
            };
            Some(RiskFindings {
                risk_id: r.risk_id.clone(),
                anchor: anchor("risk", &r.risk_id),
                assets: r.assets.clone(),
                counts: SeverityCounts::of(findings.into_iter()),
                likelihood_change,
                level_change,
            })
        })
        .collect();
    let serious: Vec<&Finding> = scans.findings.iter().filter(|f| f.severity >= ScanSeverity::High).collect();
    const TOP: usize = 50;
    ScanSection {
        reports: scans.reports.clone(),
        totals: SeverityCounts::of(scans.findings.iter()),
        duplicates: scans.duplicates,
        superseded: scans.superseded,
        excepted: scans.excepted.clone(),
        excepted_counts: SeverityCounts::of(scans.excepted.iter().map(|e| &e.finding)),
        vex: scans.vex.clone(),
        per_asset,
        per_risk,
        top: serious.iter().take(TOP).map(|f| (*f).clone()).collect(),
        top_truncated: serious.len().saturating_sub(TOP),
        unmapped_targets: scans.unmapped_targets.clone(),
    }
}
