//! Populations from listings in the report model: a control whose population is counted from a
//! system listing gets that population and its sample in place of the occurrence count.

use super::soc2::Sample;
use super::{EvidenceRef, Report};
use crate::population::Populations;
use crate::project::Project;

/// Puts the populations into the report and each listing population into its control's record.
pub fn attach(report: &mut Report, project: &Project, populations: Populations) {
    for row in &mut report.controls {
        let (Some(pop), Some(test)) = (populations.controls.get(&row.id), row.test.as_mut()) else { continue };
        test.population = pop.size;
        test.population_text = format!(
            "{} {} in the period, counted from {}",
            pop.size,
            pop.items,
            if pop.listings.len() == 1 {
                "a system listing".to_string()
            } else {
                format!("{} system listings", pop.listings.len())
            }
        );
        test.sample_size = pop.sample_size;
        test.shortfall = None;
        test.exceptions = Vec::new();
        test.samples = pop
            .samples
            .iter()
            .map(|s| Sample {
                label: format!("{} ({})", s.key, s.date),
                evidence: s
                    .support
                    .iter()
                    .filter_map(|p| {
                        row.evidence.iter().find(|e| &e.path == p).cloned().or_else(|| support_ref(project, p))
                    })
                    .collect(),
            })
            .collect();
    }
    report.populations = populations;
}

/// A supporting file that is not among the control's own evidence, named by its path only.
fn support_ref(project: &Project, path: &str) -> Option<EvidenceRef> {
    let prefix = format!("{}/", crate::text::slash(&project.paths.evidence));
    Some(EvidenceRef {
        path: path.to_string(),
        name: path.strip_prefix(&prefix).unwrap_or(path).to_string(),
        date: String::new(),
        date_source: "",
        inferred: false,
        source: None,
        sha256: String::new(),
    })
}
