//! The subservice organisations' own assurance (DC 200 item 7): each carve-out provider's SOC 1 or
//! SOC 2 report among the evidence (a file whose sidecar says `assurance` and `provider`, with
//! the period it covers), checked to cover the audit period or the as-of date, with bridge letters
//! closing the gap after a report's period -> [`Assurance`] per provider and findings.

use crate::collect::dates::DateSource;
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::index::EvidenceIndex;
use crate::model::{AuditType, Method};
use crate::project::{self, Project};
use jiff::civil::Date;
use serde::Serialize;

/// What is on file about one provider's own assurance.
#[derive(Debug, Clone, Serialize)]
pub struct Assurance {
    pub provider: String,
    /// Carve-out: its reports are checked against the period.
    pub carve_out: bool,
    /// Its SOC reports and bridge letters with a period, earliest first.
    pub documents: Vec<Document>,
    /// Carve-out: no SOC report of the provider is among the evidence.
    pub report_missing: bool,
    /// Carve-out: the days of the period (or the as-of date) that no report or bridge letter
    /// covers, as (first, last) day.
    pub gaps: Vec<(Date, Date)>,
}

/// A SOC report or bridge letter of a provider.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub path: String,
    pub kind: project::Assurance,
    pub start: Date,
    pub end: Date,
    /// Where its sidecar says what it is.
    #[serde(skip)]
    pub at: Location,
}

/// Whether the evidence has a period fit for what it is: a Type 2 report or a bridge letter
/// covers days (a range), a Type 1 report a date; neither may come from a modification time.
fn has_period(kind: project::Assurance, source: DateSource, start: Date, end: Date) -> bool {
    let type1 = matches!(kind, project::Assurance::Soc1Type1 | project::Assurance::Soc2Type1);
    source != DateSource::ModifiedTime && (type1 || start < end)
}

/// The parts of `start..=end` that none of `covers` covers.
pub fn uncovered(start: Date, end: Date, covers: &[(Date, Date)]) -> Vec<(Date, Date)> {
    let mut sorted = covers.to_vec();
    sorted.sort();
    let mut gaps = Vec::new();
    let mut from = start;
    for (s, e) in sorted {
        if from > end {
            break;
        }
        if e < from {
            continue;
        }
        if s > from {
            let to = s.yesterday().unwrap_or(s).min(end);
            gaps.push((from, to));
        }
        match e.tomorrow() {
            Ok(next) => from = from.max(next),
            Err(_) => return gaps,
        }
    }
    if from <= end {
        gaps.push((from, end));
    }
    gaps
}

fn span_text(kind: AuditType, (s, e): (Date, Date)) -> String {
    if s == e || kind == AuditType::Type1 { s.to_string() } else { format!("{s} to {e}") }
}

/// Reads the assurance documents among the evidence and checks each carve-out provider's.
pub fn check(project: &Project, index: &EvidenceIndex, diags: &mut Diagnostics) -> Vec<Assurance> {
    let audit = &project.audit;
    let mut documents: Vec<(String, Document)> = Vec::new();
    for f in &index.evidence {
        let Some(side) = f.file.sidecar.as_ref() else { continue };
        let Some(kind) = side.meta.assurance else { continue };
        let at = side.meta.assurance_at.clone().unwrap_or_else(|| Location::file(&side.path));
        if f.file.size == 0 {
            // An empty file is no report (and is reported as such when it is mapped).
            continue;
        }
        let Some(provider) = side.meta.provider.clone() else {
            if !side.meta.provider_given {
                diags.push(
                    Diagnostic::warning(
                        Code::AssuranceWithoutProvider,
                        format!("the sidecar marks the file as a {} but names no provider", kind.title()),
                    )
                    .at(at)
                    .hint("add provider = \"<id>\", the [[provider]] whose report or bridge letter it is"),
                );
            }
            continue;
        };
        let e = f.effective();
        if !has_period(kind, e.source, e.start, e.end) {
            let what = if e.source == DateSource::ModifiedTime {
                "no date of its own (only the file's modification time)".to_string()
            } else {
                format!("a single date ({}) but no period", e.date)
            };
            diags.push(
                Diagnostic::warning(
                    Code::AssuranceWithoutPeriod,
                    format!("the {} of provider `{provider}` has {what}", kind.title()),
                )
                .at(at)
                .hint("give the period it covers: period_start and period_end in the sidecar, or the range in the file name (...-2025-10-01-to-2026-09-30.pdf); a Type 1 report needs its date"),
            );
            continue;
        }
        documents.push((provider, Document { path: f.file.path.clone(), kind, start: e.start, end: e.end, at }));
    }
    let mut out = Vec::new();
    for p in &project.providers {
        let mut docs: Vec<Document> = documents.iter().filter(|(id, _)| *id == p.id).map(|(_, d)| d.clone()).collect();
        docs.sort_by(|a, b| (a.start, a.end, &a.path).cmp(&(b.start, b.end, &b.path)));
        let carve_out = p.method == Method::CarveOut;
        let reports: Vec<&Document> = docs.iter().filter(|d| d.kind.is_report()).collect();
        let mut gaps = Vec::new();
        let report_missing = carve_out && reports.is_empty();
        if report_missing {
            diags.push(
                Diagnostic::warning(
                    Code::SubserviceReportMissing,
                    format!("no SOC report of carve-out subservice organisation `{}` ({}) is among the evidence", p.id, p.name),
                )
                .at(p.location.clone())
                .hint(format!(
                    "add {}'s SOC 1 or SOC 2 report to the evidence with a sidecar: provider = \"{}\", assurance = \"soc2-type2\" and the period it covers (period_start, period_end, or the range in the file name)",
                    p.name, p.id
                )),
            );
        } else if carve_out {
            let covers: Vec<(Date, Date)> = docs.iter().map(|d| (d.start, d.end)).collect();
            gaps = uncovered(audit.start, audit.end, &covers);
            if !gaps.is_empty() {
                let latest = reports.iter().max_by_key(|d| (d.end, d.start)).expect("a report");
                let what = match audit.kind {
                    AuditType::Type1 => format!("the as-of date {}", audit.end),
                    AuditType::Type2 => format!(
                        "{} of the period {} to {}",
                        gaps.iter().map(|g| span_text(audit.kind, *g)).collect::<Vec<_>>().join(", "),
                        audit.start,
                        audit.end
                    ),
                };
                let (from, to) = (gaps[0].0, gaps[gaps.len() - 1].1);
                diags.push(
                    Diagnostic::warning(
                        Code::SubserviceReportGap,
                        format!(
                            "the SOC reports and bridge letters of `{}` ({}) do not cover {what}; its latest report covers {} to {}",
                            p.id, p.name, latest.start, latest.end
                        ),
                    )
                    .at(latest.at.clone())
                    .hint(format!(
                        "obtain a bridge letter from {} for {from} to {to} and add it with a sidecar: provider = \"{}\", assurance = \"bridge-letter\", period_start = {from}, period_end = {to}; or a report that covers the {}",
                        p.name,
                        p.id,
                        if audit.kind == AuditType::Type1 { "date" } else { "period" }
                    )),
                );
            }
        }
        if !docs.is_empty() || carve_out {
            out.push(Assurance { provider: p.id.clone(), carve_out, documents: docs, report_missing, gaps });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn gaps_are_the_days_nothing_covers() {
        let (start, end) = (d("2026-01-01"), d("2026-06-30"));
        assert!(uncovered(start, end, &[(d("2025-07-01"), d("2026-06-30"))]).is_empty());
        assert_eq!(uncovered(start, end, &[(d("2025-04-01"), d("2026-03-31"))]), [(d("2026-04-01"), end)]);
        assert!(
            uncovered(start, end, &[(d("2026-04-01"), d("2026-12-31")), (d("2025-04-01"), d("2026-03-31"))]).is_empty(),
            "a bridge letter closes the gap"
        );
        assert_eq!(
            uncovered(start, end, &[(d("2026-02-01"), d("2026-02-28"))]),
            [(start, d("2026-01-31")), (d("2026-03-01"), end)]
        );
        assert_eq!(uncovered(d("2026-09-30"), d("2026-09-30"), &[]), [(d("2026-09-30"), d("2026-09-30"))]);
    }
}
