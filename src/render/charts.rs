//! The pictures of the report, built from the report model: the inherent and residual risk heat
//! maps. Templates place them with `<!-- chart:heatmap-inherent -->` and
//! `<!-- chart:heatmap-residual -->`; HTML draws them as SVG, the PDF as vector graphics.

use super::doc::{Chart, ChartCell};
use crate::report::Report;
use crate::report::risk::Heatmap;
use std::collections::BTreeMap;

/// Every chart the built-in templates can name, by marker name.
pub fn charts(report: &Report) -> BTreeMap<String, Chart> {
    let mut out = BTreeMap::new();
    if !report.risk.register.is_empty() {
        out.insert("heatmap-inherent".to_string(), heatmap(&report.risk.heatmap_inherent));
        out.insert("heatmap-residual".to_string(), heatmap(&report.risk.heatmap_residual));
    }
    out
}

/// A heat map as a grid: the count of risks in each cell, filled with the cell's level colour.
fn heatmap(h: &Heatmap) -> Chart {
    Chart {
        title: h.title.clone(),
        row_labels: h.rows.clone(),
        col_labels: h.cols.clone(),
        x_title: "Impact".into(),
        y_title: "Likelihood".into(),
        cells: h
            .cells
            .iter()
            .map(|row| row.iter().map(|c| ChartCell { label: c.count.to_string(), fill: c.colour.clone() }).collect())
            .collect(),
    }
}
