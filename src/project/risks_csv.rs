//! The risk register as a spreadsheet: `risks.csv` in, and the register out as CSV.
//!
//! Each row becomes a register entry and goes through the same validation as the JSON register;
//! problems are located at the row's line and the cell's column. The column mapping is in
//! docs/risk.md ("CSV columns").

use super::risks::{Register, Risk, Spans};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use serde_json::{Map, Value};

/// Every column, in export order. `risk_id` and `description` are required on import.
pub const COLUMNS: &[&str] = &[
    "risk_id",
    "category",
    "description",
    "threat_actor",
    "vulnerability",
    "inherent_likelihood",
    "inherent_impact",
    "inherent_score",
    "controls",
    "residual_likelihood",
    "residual_impact",
    "residual_score",
    "owner",
    "status",
    "assets",
    "stride",
    "threat_origin",
    "threat_nature",
    "threat_vendor",
    "treatment",
    "treatment_justification",
    "treatment_approver",
    "treatment_approved_on",
    "treatment_plan",
    "treatment_due",
    "objectives",
    "last_review",
];

const REQUIRED: &[&str] = &["risk_id", "description"];

/// Where a column's value goes in the entry: (top-level key, nested key).
fn target(column: &str) -> (&str, Option<&str>) {
    match column {
        "inherent_likelihood" => ("inherent_risk", Some("likelihood")),
        "inherent_impact" => ("inherent_risk", Some("impact")),
        "inherent_score" => ("inherent_risk", Some("score")),
        "residual_likelihood" => ("residual_risk", Some("likelihood")),
        "residual_impact" => ("residual_risk", Some("impact")),
        "residual_score" => ("residual_risk", Some("score")),
        "threat_origin" => ("threat_source", Some("origin")),
        "threat_nature" => ("threat_source", Some("nature")),
        "threat_vendor" => ("threat_source", Some("vendor")),
        "treatment" => ("treatment", Some("strategy")),
        "treatment_justification" => ("treatment", Some("justification")),
        "treatment_approver" => ("treatment", Some("approver")),
        "treatment_approved_on" => ("treatment", Some("approved_on")),
        "treatment_plan" => ("treatment", Some("plan")),
        "treatment_due" => ("treatment", Some("due")),
        other => (other, None),
    }
}

/// Cells holding lists: items separated by `;`.
const LISTS: &[&str] = &["assets", "stride", "objectives"];

fn split_list(s: &str) -> Vec<Value> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty()).map(|x| Value::String(x.to_string())).collect()
}

/// `CTRL-1 (CC6.1 CC7.2); CTRL-2 (CC6.3)` -> control objects.
fn parse_controls(s: &str) -> Vec<Value> {
    s.split(';')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|item| {
            let (id, tsc) = match item.split_once('(') {
                Some((id, rest)) => (id.trim(), rest.trim_end_matches(')').trim()),
                None => (item, ""),
            };
            let mut m = Map::new();
            m.insert("control_id".into(), Value::String(id.to_string()));
            let tsc: Vec<Value> = tsc
                .split([',', ' '])
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| Value::String(x.into()))
                .collect();
            if !tsc.is_empty() {
                m.insert("mapped_tsc".into(), Value::Array(tsc));
            }
            Value::Object(m)
        })
        .collect()
}

/// Likelihood, impact and score cells: a number stays a number.
fn scale_cell(s: &str) -> Value {
    match s.trim().parse::<u64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(s.trim().to_string()),
    }
}

pub fn parse(src: &Source, ctx: &super::risks::Context<'_>, diags: &mut Diagnostics) -> Register {
    let loc = |line: u64, col: usize| Location {
        file: src.display.clone(),
        line: Some(line as usize),
        col: Some(col),
        end_col: None,
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(src.text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            diags.push(csv_error(src, &e));
            return Register::default();
        }
        None => {
            diags.push(
                Diagnostic::error(Code::CsvMissingColumn, "the CSV register is empty: it has no header row")
                    .at(loc(1, 1))
                    .hint(format!("start with a header row naming the columns, at least {}", REQUIRED.join(", "))),
            );
            return Register::default();
        }
    };
    let columns: Vec<String> =
        header.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()).collect();
    let mut fatal = false;
    for req in REQUIRED {
        if !columns.iter().any(|c| c == req) {
            diags.push(
                Diagnostic::error(Code::CsvMissingColumn, format!("the CSV register has no `{req}` column"))
                    .at(loc(1, 1))
                    .hint(format!("add a `{req}` column to the header row; the columns are listed in docs/risk.md")),
            );
            fatal = true;
        }
    }
    if fatal {
        return Register::default();
    }
    // Column positions for locating cells: 1-based character column of each cell in its line.
    let mut spans = Spans::default();
    let mut entries = Vec::new();
    let mut row_no = 0usize;
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                diags.push(csv_error(src, &e));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rec.len() != columns.len() {
            diags.push(
                Diagnostic::error(
                    Code::CsvRaggedRow,
                    format!("row has {} cells but the header has {} columns", rec.len(), columns.len()),
                )
                .at(loc(line, 1))
                .hint("give every row one cell per column (quote cells that contain commas)"),
            );
            continue;
        }
        let cols = cell_columns(src, line as usize, rec.len());
        let entry = row_no;
        row_no += 1;
        let mut obj = Map::new();
        spans.insert(entry, &[], loc(line, 1));
        for (i, (name, cell)) in columns.iter().zip(rec.iter()).enumerate() {
            let cell = cell.trim();
            let at = loc(line, cols.get(i).copied().unwrap_or(1));
            let (key, nested) = target(name);
            match nested {
                Some(sub) => spans.insert(entry, &[key, sub], at.clone()),
                None => spans.insert(entry, &[key], at.clone()),
            }
            if cell.is_empty() {
                continue;
            }
            let value = if name == "controls" {
                Value::Array(parse_controls(cell))
            } else if LISTS.contains(&name.as_str()) {
                Value::Array(split_list(cell))
            } else if name.ends_with("_likelihood") || name.ends_with("_impact") || name.ends_with("_score") {
                scale_cell(cell)
            } else {
                Value::String(cell.to_string())
            };
            match nested {
                Some(sub) => {
                    let parent = obj.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(p) = parent {
                        p.insert(sub.to_string(), value);
                    }
                }
                None => {
                    obj.insert(key.to_string(), value);
                }
            }
        }
        entries.push(Value::Object(obj));
    }
    spans.set_file(src.display.clone());
    super::risks::validate(entries, spans, ctx, diags)
}

fn csv_error(src: &Source, e: &csv::Error) -> Diagnostic {
    let line = e.position().map(|p| p.line() as usize).unwrap_or(1);
    Diagnostic::error(Code::CsvSyntax, format!("invalid CSV: {e}"))
        .at(Location { file: src.display.clone(), line: Some(line), col: Some(1), end_col: None })
        .hint("save the sheet as UTF-8 CSV with a comma separator and quoted cells")
}

/// The 1-based character column where each cell of `line` starts (best effort: quoted cells
/// spanning lines are located at the row).
fn cell_columns(src: &Source, line: usize, n: usize) -> Vec<usize> {
    let Some(text) = src.text.lines().nth(line.saturating_sub(1)) else {
        return Vec::new();
    };
    let mut out = vec![1];
    let mut quoted = false;
    for (i, c) in text.chars().enumerate() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(i + 2),
            _ => {}
        }
    }
    out.truncate(n);
    out
}

/// The register as CSV, one row per risk, in the documented columns. Control descriptions and
/// the review history are JSON-only and are not exported.
pub fn export(risks: &[Risk]) -> String {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let _ = w.write_record(COLUMNS);
    for r in risks {
        let rating = |x: &Option<super::risks::Rating>, f: fn(&super::risks::Rating) -> Option<String>| {
            x.as_ref().and_then(f).unwrap_or_default()
        };
        let t = r.treatment.as_ref();
        let ts = r.threat_source.as_ref();
        let opt = |s: Option<&String>| s.cloned().unwrap_or_default();
        let controls = r
            .controls
            .iter()
            .map(|c| {
                if c.mapped_tsc.is_empty() {
                    c.control_id.clone()
                } else {
                    format!("{} ({})", c.control_id, c.mapped_tsc.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let row: Vec<String> = vec![
            r.risk_id.clone(),
            opt(r.category.as_ref()),
            r.description.clone(),
            opt(r.threat_actor.as_ref()),
            opt(r.vulnerability.as_ref()),
            rating(&r.inherent_risk, |x| Some(x.likelihood.to_string())),
            rating(&r.inherent_risk, |x| Some(x.impact.to_string())),
            rating(&r.inherent_risk, |x| x.score.as_ref().map(|s| s.to_string())),
            controls,
            rating(&r.residual_risk, |x| Some(x.likelihood.to_string())),
            rating(&r.residual_risk, |x| Some(x.impact.to_string())),
            rating(&r.residual_risk, |x| x.score.as_ref().map(|s| s.to_string())),
            opt(r.owner.as_ref()),
            opt(r.status.as_ref()),
            r.assets.join("; "),
            r.stride.join("; "),
            opt(ts.and_then(|t| t.origin.as_ref())),
            opt(ts.and_then(|t| t.nature.as_ref())),
            opt(ts.and_then(|t| t.vendor.as_ref())),
            t.map(|t| t.strategy.clone()).unwrap_or_default(),
            opt(t.and_then(|t| t.justification.as_ref())),
            opt(t.and_then(|t| t.approver.as_ref())),
            opt(t.and_then(|t| t.approved_on.as_ref())),
            opt(t.and_then(|t| t.plan.as_ref())),
            opt(t.and_then(|t| t.due.as_ref())),
            r.objectives.join("; "),
            opt(r.last_review.as_ref()),
        ];
        let _ = w.write_record(&row);
    }
    // Writing to a Vec cannot fail.
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::scoring::Scoring;
    use std::collections::BTreeSet;

    fn run(text: &str) -> (Vec<Risk>, Diagnostics) {
        let mut d = Diagnostics::default();
        let scoring = Scoring::default();
        let assets = BTreeSet::from(["AST-01".to_string()]);
        let objectives = BTreeSet::new();
        let ctx = super::super::risks::Context { scoring: &scoring, assets: &assets, objectives: &objectives };
        let r = parse(&Source::new("risks.csv", text.to_string()), &ctx, &mut d);
        (r.risks, d)
    }

    #[test]
    fn rows_become_entries() {
        let (r, d) = run(
            "risk_id,description,inherent_likelihood,inherent_impact,inherent_score,controls,assets,treatment,treatment_justification\n\
             R1,\"Public S3 buckets, exposed\",Medium,High,High,\"AC-01 (CC6.1 CC6.3); AC-02\",AST-01,accept,Cheap\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(r[0].description, "Public S3 buckets, exposed");
        assert_eq!(r[0].controls.len(), 2);
        assert_eq!(r[0].controls[0].mapped_tsc, ["CC6.1", "CC6.3"]);
        assert_eq!(r[0].treatment.as_ref().unwrap().justification.as_deref(), Some("Cheap"));
    }

    #[test]
    fn missing_column_and_ragged_row_are_located() {
        let (_, d) = run("risk_id,category\nR1,x\n");
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.code, "csv-missing-column");
        assert!(diag.message.contains("description"));
        let (r, d) = run("risk_id,description\nR1,ok\nR2,too,many\nR3,fine\n");
        assert_eq!(r.len(), 2, "the other rows still load");
        let diag = d.iter().next().unwrap();
        assert_eq!((diag.code, diag.location.as_ref().unwrap().line), (Code::CsvRaggedRow, Some(3)));
    }

    #[test]
    fn bad_words_point_at_the_cell() {
        let (_, d) = run("risk_id,description,inherent_likelihood,inherent_impact\nR1,d,Often,High\n");
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.code, "unknown-level");
        let l = diag.location.as_ref().unwrap();
        assert_eq!((l.line, l.col), (Some(2), Some(6)));
    }

    #[test]
    fn export_then_import_keeps_the_fields() {
        let (r, _) = run(
            "risk_id,description,inherent_likelihood,inherent_impact,controls,stride,last_review\nR1,\"a, b\",Low,High,AC-01 (CC6.1),Spoofing; Tampering,2026-01-02\n",
        );
        let csv = export(&r);
        let (again, d) = run(&csv);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(serde_json::to_value(&again[0]).unwrap(), serde_json::to_value(&r[0]).unwrap());
    }
}
