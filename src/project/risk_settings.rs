//! `[risk]` and `[[objective]]` in auditpack.toml: how risks are scored and reviewed, where the
//! minutes of risk reviews are, and the CC3.1 objectives.

use super::scoring::Scoring;
use super::validate::{bad_word, check_id};
use super::{raw, scoring, toml_de};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use crate::model::Category;
use serde::Serialize;
use std::collections::BTreeMap;

/// A CC3.1 objective (`[[objective]]` in auditpack.toml).
#[derive(Debug, Clone, Serialize)]
pub struct Objective {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub categories: Vec<Category>,
    pub location: Location,
}

/// `[risk]`: how risks are scored and how often the register must be reviewed.
#[derive(Debug, Clone, Serialize)]
pub struct RiskSettings {
    pub scoring: Scoring,
    /// A risk not reviewed within this many months of the end of the period is stale.
    pub review_months: i64,
    /// Globs (relative to the evidence folder, case-insensitive) recognising risk-review minutes.
    pub minutes: Vec<String>,
    /// Where `[risk]` is, or the top of auditpack.toml.
    pub location: Location,
}

/// The default globs that recognise minutes of risk-review meetings among the evidence.
pub const DEFAULT_MINUTES: &[&str] = &["**/*risk*review*", "**/*risk*minutes*", "**/*risk*committee*"];

pub(super) fn load_objectives(src: &Source, top: &toml::de::DeTable<'_>, diags: &mut Diagnostics) -> Vec<Objective> {
    let Some(list) = toml_de::get(top, "objective") else {
        return Vec::new();
    };
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for (i, v) in toml_de::array(src, list, "objective", diags).iter().enumerate() {
        let what = format!("in objective #{}", i + 1);
        let Some(o) = toml_de::deserialize::<raw::Objective>(src, v, &what, raw::OBJECTIVE_KEYS, diags) else {
            continue;
        };
        if !check_id(src, &o.id, "objective", &mut seen, diags) {
            continue;
        }
        let mut categories = Vec::new();
        for c in &o.categories {
            match Category::parse(c.get_ref()) {
                Some(cat) => categories.push(cat),
                None => diags.push(bad_word(src, c, "trust services category", Category::expected())),
            }
        }
        out.push(Objective {
            id: o.id.into_inner(),
            title: o.title,
            description: o.description,
            categories,
            location: src.span(v.span()),
        });
    }
    out
}

pub(super) fn load_risk_settings(src: &Source, top: &toml::de::DeTable<'_>, diags: &mut Diagnostics) -> RiskSettings {
    let value = toml_de::get(top, "risk");
    let location = src.location(value.map(|v| v.span().start).unwrap_or(0));
    let raw: raw::RiskConfig =
        value.and_then(|v| toml_de::deserialize(src, v, "in [risk]", raw::RISK_KEYS, diags)).unwrap_or_default();
    let mut scoring = match raw.matrix.as_ref().map(|m| m.get_ref().trim().to_ascii_lowercase()) {
        None => Scoring::three(),
        Some(m) if m == "3x3" => Scoring::three(),
        Some(m) if m == "5x5" => Scoring::five(),
        Some(_) => {
            let m = raw.matrix.as_ref().expect("matched Some");
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("unknown matrix `{}`", m.get_ref()))
                    .at(src.span(m.span()))
                    .hint("use \"3x3\" (Low, Medium, High) or \"5x5\""),
            );
            Scoring::three()
        }
    };
    let n = scoring.size();
    for (key, words) in [("likelihood", &raw.likelihood), ("impact", &raw.impact)] {
        let Some(w) = words else { continue };
        if w.get_ref().len() != n {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` names {} steps but the matrix is {}", w.get_ref().len(), scoring.matrix),
                )
                .at(src.span(w.span()))
                .hint(format!("give exactly {n} words, lowest first")),
            );
        } else if key == "likelihood" {
            scoring.likelihood = w.get_ref().clone();
        } else {
            scoring.impact = w.get_ref().clone();
        }
    }
    if let Some(levels) = &raw.levels {
        let at = src.span(levels.span());
        let list = levels.get_ref();
        let ascending = list.windows(2).all(|w| w[0].max < w[1].max);
        let covers = list.last().is_some_and(|l| l.max as usize >= n * n);
        let bad_colour = list.iter().filter_map(|l| l.colour.as_deref()).find(|c| !is_colour(c));
        if list.is_empty() || !ascending || !covers {
            diags.push(
                Diagnostic::error(Code::InvalidValue, "`levels` must be in ascending order of `max`, the last covering the top score")
                    .at(at)
                    .hint(format!("e.g. levels = [{{ name = \"Low\", max = 4 }}, {{ name = \"Medium\", max = 9 }}, {{ name = \"High\", max = {} }}]", n * n)),
            );
        } else if let Some(c) = bad_colour {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("`{c}` is not a colour"))
                    .at(at)
                    .hint("write colours as #rrggbb"),
            );
        } else {
            let palette = ["#7cb342", "#fbc02d", "#f57c00", "#d32f2f", "#880e4f"];
            scoring.levels = list
                .iter()
                .enumerate()
                .map(|(i, l)| scoring::Level {
                    name: l.name.clone(),
                    max: l.max,
                    colour: l.colour.clone().unwrap_or_else(|| {
                        let k = if list.len() <= 1 { 0 } else { i * (palette.len() - 1) / (list.len() - 1) };
                        palette[k].to_string()
                    }),
                })
                .collect();
            scoring.high = scoring.level_named("High").unwrap_or(scoring.levels.len() - 1);
        }
    }
    if let Some(h) = &raw.high {
        match scoring.level_named(h.get_ref()) {
            Some(i) => scoring.high = i,
            None => diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`high` names level `{}`, which the matrix does not have", h.get_ref()),
                )
                .at(src.span(h.span()))
                .hint(format!(
                    "use one of: {}",
                    scoring.levels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
            ),
        }
    }
    let review_months = match &raw.review_months {
        Some(m) if *m.get_ref() >= 1 => *m.get_ref(),
        Some(m) => {
            diags.push(
                Diagnostic::error(Code::InvalidValue, "`review_months` must be at least 1")
                    .at(src.span(m.span()))
                    .hint("the register is reviewed at least annually: review_months = 12"),
            );
            12
        }
        None => 12,
    };
    let minutes = match &raw.minutes {
        Some(list) => {
            for g in list {
                if let Err(e) = globset::Glob::new(g.get_ref()) {
                    diags.push(
                        Diagnostic::error(
                            Code::InvalidPattern,
                            format!("minutes pattern `{}` is not a valid glob: {}", g.get_ref(), e.kind()),
                        )
                        .at(src.span(g.span()))
                        .hint("use `*` within a folder, `**` across folders and `{a,b}` for alternatives"),
                    );
                }
            }
            list.iter().map(|g| g.get_ref().clone()).collect()
        }
        None => DEFAULT_MINUTES.iter().map(|s| s.to_string()).collect(),
    };
    RiskSettings { scoring, review_months, minutes, location }
}

fn is_colour(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit())
}
