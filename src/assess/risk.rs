//! The risk checks (CC3.1-CC3.2): the register against the scoring matrix, the control
//! catalogue and its evidence, the assets, the objectives and the scanner findings
//! -> [`RiskAssessment`] and findings located in the register.
//!
//! Each check is a diagnostic with a stable code documented in docs/diagnostics.md. Dates come
//! from the audit (the end of the period), never from the clock.

use super::{ControlStatus, EvidenceState};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::model::{AssetCategory, AuditType, Criticality};
use crate::project::risks::Seg;
use crate::project::scoring::{Scoring, min_impact_for};
use crate::project::{Project, Rating, Risk, ScaleValue};
use crate::scan::{ScanResults, ScanSeverity};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use jiff::ToSpan;
use jiff::civil::Date;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default, Serialize)]
pub struct RiskAssessment {
    /// In register order.
    pub risks: Vec<RiskStatus>,
    /// Evidence recognised as minutes of risk-review meetings in the review window.
    pub minutes: Vec<String>,
    /// The window minutes must fall in: the period (Type 2) or `review_months` before the as-of
    /// date (Type 1).
    pub review_window: (Option<Date>, Option<Date>),
    pub unaddressed_objectives: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskStatus {
    pub risk_id: String,
    pub inherent: Option<Scored>,
    pub residual: Option<Scored>,
    /// The residual (or inherent) rating with the likelihood raised by scanner findings.
    pub adjusted: Option<Scored>,
    /// Likelihood steps added by scanner findings (0, 1 or 2).
    pub scan_raise: usize,
    pub worst_finding: Option<ScanSeverity>,
    /// Needs a review: raised by a finding, or its last review is too old.
    pub flagged_for_review: bool,
    pub strategy: Option<String>,
    pub last_reviewed: Option<Date>,
    pub review_stale: bool,
    pub controls: Vec<RiskControlStatus>,
    /// A control it relies on has missing or stale evidence.
    pub potential_deficiency: bool,
}

/// A rating placed on the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scored {
    pub likelihood: usize,
    pub impact: usize,
    pub score: u32,
    /// Index into the matrix's levels.
    pub level: usize,
    pub level_name: String,
    pub colour: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskControlStatus {
    pub control_id: String,
    pub in_catalogue: bool,
    pub evidence_count: usize,
    pub stale: bool,
    pub state: Option<EvidenceState>,
}

/// Words that name a class of threat rather than a risk.
const GENERIC: &[&str] = &[
    "cyberattack",
    "cyber attack",
    "cyber attacks",
    "cyberattacks",
    "hacking",
    "hackers",
    "hacker",
    "data breach",
    "security breach",
    "breach",
    "malware",
    "ransomware",
    "virus",
    "phishing",
    "fraud",
    "human error",
    "insider threat",
    "natural disaster",
    "outage",
    "downtime",
    "data loss",
    "theft",
    "vendor risk",
    "third party risk",
    "compliance risk",
];

/// A description with fewer words is too short to map to a control.
pub const MIN_DESCRIPTION_WORDS: usize = 5;

pub fn score(s: &Scoring, r: &Rating) -> Option<Scored> {
    let likelihood = s.likelihood_step(&r.likelihood)?;
    let impact = s.impact_step(&r.impact)?;
    Some(place(s, likelihood, impact))
}

fn place(s: &Scoring, likelihood: usize, impact: usize) -> Scored {
    let score = (likelihood * impact) as u32;
    let level = s.level_of(score);
    Scored {
        likelihood,
        impact,
        score,
        level,
        level_name: s.levels[level].name.clone(),
        colour: s.levels[level].colour.clone(),
    }
}

/// Is `description` generic ("cyberattack") or too short to map to a control?
pub fn is_generic(description: &str) -> bool {
    let norm: String = description
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == ' ' || c == '-' { c } else { ' ' })
        .collect();
    let words: Vec<&str> = norm.split_whitespace().collect();
    let joined = words.join(" ");
    let stripped = joined.trim_start_matches("risk of ").trim_start_matches("threat of ");
    words.len() < MIN_DESCRIPTION_WORDS || GENERIC.contains(&stripped)
}

pub fn assess(
    project: &Project,
    controls: &BTreeMap<String, ControlStatus>,
    index: &crate::index::EvidenceIndex,
    scans: &ScanResults,
    diags: &mut Diagnostics,
) -> RiskAssessment {
    let s = &project.risk.scoring;
    let at = |r: &Risk, path: &[Seg<'_>]| project.register.at(r.entry, path);
    let end = project.audit.end;
    let review_cutoff = end.checked_sub(project.risk.review_months.months()).unwrap_or(end);
    let mut out = RiskAssessment::default();

    for r in &project.risks {
        let inherent = r.inherent_risk.as_ref().and_then(|x| score(s, x));
        let residual = r.residual_risk.as_ref().and_then(|x| score(s, x));
        let current = residual.clone().or(inherent.clone());
        let top_level = inherent.iter().chain(residual.iter()).map(|x| x.level).max();
        let strategy = r.strategy();

        // Declared scores against the matrix.
        for (key, rating, scored) in
            [("inherent_risk", &r.inherent_risk, &inherent), ("residual_risk", &r.residual_risk, &residual)]
        {
            let (Some(rating), Some(scored)) = (rating, scored) else { continue };
            let Some(declared) = &rating.score else { continue };
            let agrees = match declared {
                ScaleValue::Word(w) => s.level_named(w) == Some(scored.level),
                ScaleValue::Number(n) => *n == u64::from(scored.score),
            };
            if !agrees {
                diags.push(
                    Diagnostic::error(
                        Code::ScoreMismatch,
                        format!(
                            "risk `{}`: {key} declares score `{declared}` but {} x {} = {} is {} on the {} matrix",
                            r.risk_id, rating.likelihood, rating.impact, scored.score, scored.level_name, s.matrix
                        ),
                    )
                    .at(at(r, &[Seg::Key(key), Seg::Key("score")]))
                    .hint(format!(
                        "correct the score to `{}`, or the likelihood or impact; thresholds are in docs/risk.md",
                        scored.level_name
                    )),
                );
            }
        }

        if top_level.is_some_and(|l| s.needs_control(l)) && r.controls.is_empty() {
            let level = &s.levels[top_level.unwrap_or(0)].name;
            diags.push(
                Diagnostic::error(Code::RiskWithoutControl, format!("risk `{}` is rated {level} but maps to no control", r.risk_id))
                    .at(at(r, &[Seg::Key("risk_id")]))
                    .hint("list the controls that mitigate it under `controls` (every Medium or High risk needs at least one)"),
            );
        }

        let mut control_status = Vec::new();
        let mut deficient = false;
        for (ci, c) in r.controls.iter().enumerate() {
            let status = controls.get(&c.control_id);
            control_status.push(RiskControlStatus {
                control_id: c.control_id.clone(),
                in_catalogue: status.is_some(),
                evidence_count: status.map(|x| x.evidence_count).unwrap_or(0),
                stale: status.is_some_and(|x| x.stale),
                state: status.map(|x| x.result),
            });
            let place = at(r, &[Seg::Key("controls"), Seg::Index(ci), Seg::Key("control_id")]);
            let Some(status) = status else {
                if project.failed.controls.contains(&c.control_id) {
                    // The control's own entry is already reported.
                    continue;
                }
                diags.push(
                    Diagnostic::warning(
                        Code::UnknownRiskControl,
                        format!(
                            "risk `{}` relies on control `{}`, which is not in the catalogue",
                            r.risk_id, c.control_id
                        ),
                    )
                    .at(place)
                    .hint("use the id of a control in controls.toml, or add the control to the catalogue"),
                );
                continue;
            };
            let problem = if status.result == EvidenceState::NoOccurrence {
                None
            } else if status.result == EvidenceState::Missing {
                Some("has no evidence".to_string())
            } else if status.stale {
                Some(format!(
                    "has stale evidence (latest {})",
                    status.latest.map(|d| d.to_string()).unwrap_or_else(|| "none in the period".into())
                ))
            } else if status.result == EvidenceState::OutsidePeriod {
                Some("has no evidence dated in the period".to_string())
            } else {
                None
            };
            if let (Some(problem), Some(level)) = (problem, top_level.filter(|l| s.needs_control(*l))) {
                deficient = true;
                diags.push(
                    Diagnostic::warning(
                        Code::PotentialSignificantDeficiency,
                        format!(
                            "risk `{}` is rated {} and relies on control `{}`, which {problem}: a potential significant deficiency",
                            r.risk_id, s.levels[level].name, c.control_id
                        ),
                    )
                    .at(place)
                    .hint("collect current evidence of the control, or record another control that mitigates the risk"),
                );
            }
        }

        if strategy.as_deref() == Some("accept") {
            let justified =
                r.treatment.as_ref().and_then(|t| t.justification.as_deref()).is_some_and(|j| !j.trim().is_empty());
            let place =
                if r.treatment.is_some() { at(r, &[Seg::Key("treatment")]) } else { at(r, &[Seg::Key("status")]) };
            if !justified {
                diags.push(
                    Diagnostic::error(Code::AcceptedWithoutJustification, format!("risk `{}` is accepted without a justification", r.risk_id))
                        .at(place.clone())
                        .hint("give the business justification and the approver: \"treatment\": {\"strategy\": \"accept\", \"justification\": \"...\", \"approver\": \"...\"}"),
                );
            }
            if let Some(c) = current.as_ref().filter(|c| s.is_high(c.level)) {
                diags.push(
                    Diagnostic::warning(Code::AcceptedHighRisk, format!("risk `{}` is accepted at {}", r.risk_id, c.level_name))
                        .at(place)
                        .hint("a High risk is rarely acceptable: mitigate, transfer or avoid it, or have management approve the acceptance explicitly"),
                );
            }
        }
        if let (Some(i), Some(res)) = (&inherent, &residual) {
            if res.score > i.score {
                diags.push(
                    Diagnostic::warning(
                        Code::ResidualAboveInherent,
                        format!(
                            "risk `{}`: residual score {} ({}) is above the inherent score {} ({})",
                            r.risk_id, res.score, res.level_name, i.score, i.level_name
                        ),
                    )
                    .at(at(r, &[Seg::Key("residual_risk")]))
                    .hint("controls reduce a risk: the residual rating cannot exceed the inherent one"),
                );
            } else if res.score == i.score && strategy.as_deref() == Some("mitigate") {
                diags.push(
                    Diagnostic::warning(
                        Code::MitigateWithoutReduction,
                        format!(
                            "risk `{}` is mitigated but its residual rating equals the inherent one ({})",
                            r.risk_id, i.level_name
                        ),
                    )
                    .at(at(r, &[Seg::Key("residual_risk")]))
                    .hint("rate the risk after its controls, or record the treatment as accept"),
                );
            }
        }

        let last_reviewed = r.last_reviewed();
        let review_stale = last_reviewed.is_none_or(|d| d < review_cutoff);
        if review_stale {
            let place = if r.last_review.is_some() {
                at(r, &[Seg::Key("last_review")])
            } else if !r.review_history.is_empty() {
                at(r, &[Seg::Key("review_history")])
            } else {
                at(r, &[Seg::Key("risk_id")])
            };
            let msg = match last_reviewed {
                Some(d) => format!(
                    "risk `{}` was last reviewed on {d}, more than {} months before {end}",
                    r.risk_id, project.risk.review_months
                ),
                None => format!("risk `{}` has no review date", r.risk_id),
            };
            diags.push(
                Diagnostic::warning(Code::StaleRiskReview, msg)
                    .at(place)
                    .hint("review the risk (at least annually and after significant changes) and record `last_review` or a `review_history` entry"),
            );
        }

        if is_generic(&r.description) {
            diags.push(
                Diagnostic::warning(Code::GenericRisk, format!("risk `{}` is described too generically: \"{}\"", r.risk_id, r.description.trim()))
                    .at(at(r, &[Seg::Key("description")]))
                    .hint(format!(
                        "name the asset, the threat and the weakness (e.g. \"Public exposure of S3 buckets containing customer backups\"), in at least {MIN_DESCRIPTION_WORDS} words"
                    )),
            );
        }

        for (ai, a) in r.assets.iter().enumerate() {
            let Some(asset) = project.assets.iter().find(|x| &x.id == a) else { continue };
            let Some(rated) = inherent.as_ref().or(residual.as_ref()) else { continue };
            let need = min_impact_for(asset.criticality, s.size());
            if rated.impact < need {
                let key = if inherent.is_some() { "inherent_risk" } else { "residual_risk" };
                diags.push(
                    Diagnostic::warning(
                        Code::ImpactBelowCriticality,
                        format!(
                            "risk `{}` rates impact {} but concerns {} asset `{}`, which needs at least {}",
                            r.risk_id,
                            s.impact[rated.impact - 1],
                            asset.criticality,
                            asset.id,
                            s.impact[need - 1]
                        ),
                    )
                    .at(at(r, &[Seg::Key(key), Seg::Key("impact")]))
                    .hint(format!(
                        "raise the impact, or correct the criticality of `{}` in assets.toml (asset #{})",
                        asset.id,
                        ai + 1
                    )),
                );
            }
        }

        // Scanner findings on the risk's assets raise its likelihood.
        let worst = r.assets.iter().filter_map(|a| scans.worst_on(a)).max();
        let raise = worst.map(|w| w.likelihood_raise()).unwrap_or(0);
        let adjusted = current.as_ref().map(|c| {
            let l = (c.likelihood + raise).min(s.size());
            place(s, l, c.impact)
        });
        if raise > 0
            && let (Some(c), Some(adj), Some(w)) = (&current, &adjusted, worst)
        {
            // Each finding once, though it may be on several of the risk's assets.
            let n = scans.on_assets(&r.assets).filter(|f| f.severity >= ScanSeverity::High).count();
            let key = if residual.is_some() { "residual_risk" } else { "inherent_risk" };
            diags.push(
                Diagnostic::warning(
                    Code::ScannerRaisesLikelihood,
                    format!(
                        "risk `{}`: {n} {} scanner finding(s) on its assets raise its likelihood from {} to {} ({} -> {})",
                        r.risk_id,
                        if w == ScanSeverity::Critical { "critical or high" } else { "high" },
                        s.likelihood[c.likelihood - 1],
                        s.likelihood[adj.likelihood - 1],
                        c.level_name,
                        adj.level_name
                    ),
                )
                .at(at(r, &[Seg::Key(key), Seg::Key("likelihood")]))
                .hint("review the risk: fix the findings, or raise its likelihood and record the review"),
            );
        }

        out.risks.push(RiskStatus {
            risk_id: r.risk_id.clone(),
            inherent,
            residual,
            adjusted: adjusted.filter(|_| raise > 0),
            scan_raise: raise,
            worst_finding: worst,
            flagged_for_review: raise > 0 || review_stale,
            strategy,
            last_reviewed,
            review_stale,
            controls: control_status,
            potential_deficiency: deficient,
        });
    }

    // Assets nobody assessed.
    let concerned: BTreeSet<&str> = project
        .risks
        .iter()
        .flat_map(|r| {
            r.assets.iter().map(String::as_str).chain(r.threat_source.as_ref().and_then(|t| t.vendor.as_deref()))
        })
        .collect();
    for a in &project.assets {
        if concerned.contains(a.id.as_str()) {
            continue;
        }
        if a.category == AssetCategory::Vendor {
            diags.push(
                Diagnostic::warning(Code::VendorAssetWithoutRisk, format!("vendor `{}` ({}) is in no risk", a.id, a.name))
                    .at(a.location.clone())
                    .hint("assess the supply-chain risk of the vendor: add a risk naming it in `assets` or `threat_source.vendor`"),
            );
        }
        if a.criticality == Criticality::Critical {
            diags.push(
                Diagnostic::warning(
                    Code::CriticalAssetWithoutRisk,
                    format!("critical asset `{}` ({}) is in no risk", a.id, a.name),
                )
                .at(a.location.clone())
                .hint("add the risks to this asset to the register and name it in their `assets`"),
            );
        }
    }

    // CC3.1: objectives the register does not address.
    let addressed: BTreeSet<&str> =
        project.risks.iter().flat_map(|r| r.objectives.iter().map(String::as_str)).collect();
    for o in &project.objectives {
        if !addressed.contains(o.id.as_str()) {
            out.unaddressed_objectives.push(o.id.clone());
            diags.push(
                Diagnostic::warning(
                    Code::ObjectiveUnaddressed,
                    format!("objective `{}` ({}) is threatened by no risk", o.id, o.title),
                )
                .at(o.location.clone())
                .hint("identify the risks to this objective and list its id in their `objectives`"),
            );
        }
    }
    if project.objectives.is_empty() && !project.risks.is_empty() {
        diags.push(
            Diagnostic::note(Code::NoObjectives, "the project declares no objectives (CC3.1)")
                .at(Location { file: crate::project::CONFIG_FILE.into(), line: Some(1), col: Some(1), end_col: None })
                .hint("declare the objectives risks are assessed against as [[objective]] tables in auditpack.toml"),
        );
    }

    // "Setting and forgetting": minutes of a risk review in the window.
    let (from, to) = match project.audit.kind {
        AuditType::Type2 => (project.audit.start, end),
        AuditType::Type1 => (review_cutoff, end),
    };
    out.review_window = (Some(from), Some(to));
    if !project.risks.is_empty() {
        let globs = minutes_globs(&project.risk.minutes);
        let cc3: BTreeSet<&str> = project
            .controls
            .iter()
            .filter(|c| c.criteria.iter().any(|cr| cr.starts_with("CC3.")))
            .map(|c| c.id.as_str())
            .collect();
        out.minutes = index
            .evidence
            .iter()
            .filter(|f| {
                let by_name = globs.is_match(f.file.rel());
                let lower = f.file.rel().to_ascii_lowercase();
                let by_control = lower.contains("minutes") && f.controls().any(|c| cc3.contains(c));
                (by_name || by_control) && f.effective().overlaps(from, to)
            })
            .map(|f| f.file.path.clone())
            .collect();
        if out.minutes.is_empty() {
            diags.push(
                Diagnostic::warning(
                    Code::NoRiskReviewMinutes,
                    format!("no minutes of a risk-review meeting dated between {from} and {to} are among the evidence"),
                )
                .at(Location { file: project.paths.risks.clone(), line: Some(1), col: Some(1), end_col: None })
                .hint("add the minutes of the risk reviews held in the period (e.g. evidence/RISK-REVIEW/risk-review-minutes-2026-03-15.pdf); see docs/risk.md for how minutes are recognised"),
            );
        }
    }
    out
}

fn minutes_globs(patterns: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        if let Ok(g) = GlobBuilder::new(p).case_insensitive(true).build() {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_descriptions() {
        assert!(is_generic("Cyberattack"));
        assert!(is_generic("Risk of ransomware."));
        assert!(is_generic("Data breach"));
        assert!(is_generic("Servers go down"));
        assert!(!is_generic("Public exposure of S3 buckets containing customer backups."));
    }

    #[test]
    fn scoring_places_ratings() {
        let s = Scoring::three();
        let r = Rating {
            likelihood: ScaleValue::Word("Medium".into()),
            impact: ScaleValue::Word("High".into()),
            score: None,
        };
        let x = score(&s, &r).unwrap();
        assert_eq!((x.score, x.level_name.as_str()), (6, "High"));
    }
}
