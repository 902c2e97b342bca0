//! The risk register (`risks.json`): a JSON array of entries in the reference format of the
//! risk-assessment guide, with extra fields allowed and kept.
//!
//! serde_json parses (and locates syntax errors); a span index of the same text locates the
//! problems found in one entry, so each is reported at its own line and column.

use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One risk. Field names follow the reference entry; anything else is kept in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Risk {
    pub risk_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat_actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherent_risk: Option<Rating>,
    #[serde(default)]
    pub controls: Vec<RiskControl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual_risk: Option<Rating>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    /// Fields beyond the reference format, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Where the entry starts in risks.json.
    #[serde(skip_deserializing, default = "no_location")]
    pub location: Location,
}

fn no_location() -> Location {
    Location::file("risks.json")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rating {
    pub likelihood: String,
    pub impact: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RiskControl {
    pub control_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub mapped_tsc: Vec<String>,
}

/// The words a 3x3 register rates with.
pub const LEVELS: &[&str] = &["Low", "Medium", "High"];

pub fn level_rank(word: &str) -> Option<usize> {
    LEVELS.iter().position(|l| l.eq_ignore_ascii_case(word.trim()))
}

pub fn load(root: &Path, rel: &Path, diags: &mut Diagnostics) -> Vec<Risk> {
    if !root.join(rel).exists() {
        diags.push(
            Diagnostic::note("no-risks", format!("no risk register at `{}`", rel.display()))
                .hint("keep the risk register (CC3.1/CC3.2) in risks.json; see docs/project.md"),
        );
        return Vec::new();
    }
    let text = match std::fs::read_to_string(root.join(rel)) {
        Ok(t) => t,
        Err(e) => {
            diags
                .push(Diagnostic::error("unreadable-file", format!("cannot read the risk register: {e}")).at_file(rel));
            return Vec::new();
        }
    };
    let src = Source::new(rel, text);
    parse(&src, diags)
}

/// Parses a register from `src`, reporting every problem with its place.
pub fn parse(src: &Source, diags: &mut Diagnostics) -> Vec<Risk> {
    let value: serde_json::Value = match serde_json::from_str(&src.text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(
                Diagnostic::error("json-syntax", format!("invalid JSON: {e}"))
                    .at(Location { file: src.display.clone(), line: Some(e.line()), col: Some(e.column()) })
                    .hint("fix the syntax at this place (a missing comma or quote is the usual cause)"),
            );
            return Vec::new();
        }
    };
    let spans = SpanIndex::new(&src.text);
    let serde_json::Value::Array(entries) = value else {
        diags.push(
            Diagnostic::error("register-not-array", "the risk register must be a JSON array of risks")
                .at(src.location(0))
                .hint("write the register as [ {\"risk_id\": \"RISK-001\", ...}, ... ]"),
        );
        return Vec::new();
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let at = |path: &[Seg<'_>]| {
            let mut full = vec![Seg::Index(i)];
            full.extend_from_slice(path);
            src.location(spans.find(&full).unwrap_or(0))
        };
        if !entry.is_object() {
            diags.push(
                Diagnostic::error("invalid-risk", format!("risk #{} is not a JSON object", i + 1))
                    .at(at(&[]))
                    .hint("each risk is an object with at least risk_id and description"),
            );
            continue;
        }
        let mut risk: Risk = match serde_json::from_value(entry) {
            Ok(r) => r,
            Err(e) => {
                let text = e.to_string();
                let field = missing_field(&text);
                diags.push(Diagnostic::error("invalid-risk", format!("risk #{}: {e}", i + 1)).at(at(&[])).hint(
                    match field {
                        Some(f) => format!("add `{f}` to the entry"),
                        None => "see docs/project.md for the fields of a risk".to_string(),
                    },
                ));
                continue;
            }
        };
        risk.location = at(&[]);
        if let Some(first) = seen.get(&risk.risk_id) {
            diags.push(
                Diagnostic::error("duplicate-risk", format!("risk id `{}` is used twice", risk.risk_id))
                    .at(at(&[Seg::Key("risk_id")]))
                    .hint(format!("the first use is risk #{first}; give each risk its own id")),
            );
            continue;
        }
        seen.insert(risk.risk_id.clone(), i + 1);
        let mut ok = true;
        for (key, rating) in [("inherent_risk", &risk.inherent_risk), ("residual_risk", &risk.residual_risk)] {
            let Some(r) = rating else { continue };
            for (field, word) in
                [("likelihood", Some(&r.likelihood)), ("impact", Some(&r.impact)), ("score", r.score.as_ref())]
            {
                if let Some(word) = word
                    && level_rank(word).is_none()
                {
                    diags.push(
                        Diagnostic::error(
                            "unknown-level",
                            format!("risk `{}`: unknown {field} `{word}` in {key}", risk.risk_id),
                        )
                        .at(at(&[Seg::Key(key), Seg::Key(field)]))
                        .hint(format!("use one of {}", LEVELS.join(", "))),
                    );
                    ok = false;
                }
            }
        }
        for (ci, c) in risk.controls.iter().enumerate() {
            for (ti, t) in c.mapped_tsc.iter().enumerate() {
                if crate::model::criterion(t).is_none() {
                    diags.push(
                        Diagnostic::error(
                            "unknown-criterion",
                            format!("risk `{}`: `{t}` is not a trust services criterion", risk.risk_id),
                        )
                        .at(at(&[Seg::Key("controls"), Seg::Index(ci), Seg::Key("mapped_tsc"), Seg::Index(ti)]))
                        .hint("use ids such as CC6.1 or A1.2"),
                    );
                    ok = false;
                }
            }
        }
        if ok {
            out.push(risk);
        }
    }
    out
}

fn missing_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// One step of a path into a JSON document.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Index(usize),
    Key(&'a str),
}

/// Byte offsets of values in a JSON text, found through jsonc-parser's syntax tree.
struct SpanIndex<'t> {
    ast: Option<jsonc_parser::ast::Value<'t>>,
}

impl<'t> SpanIndex<'t> {
    fn new(text: &'t str) -> Self {
        let ast = jsonc_parser::parse_to_ast(text, &Default::default(), &Default::default()).ok().and_then(|r| r.value);
        SpanIndex { ast }
    }

    /// Offset of the value at `path`, or of the deepest ancestor that exists.
    fn find(&self, path: &[Seg<'_>]) -> Option<usize> {
        use jsonc_parser::ast::Value;
        use jsonc_parser::common::Ranged;
        let mut cur = self.ast.as_ref()?;
        let mut best = cur.start();
        for seg in path {
            let next = match (seg, cur) {
                (Seg::Index(i), Value::Array(a)) => a.elements.get(*i),
                (Seg::Key(k), Value::Object(o)) => {
                    o.properties.iter().find(|p| p.name.as_str() == *k).map(|p| &p.value)
                }
                _ => None,
            };
            match next {
                Some(v) => {
                    cur = v;
                    best = v.start();
                }
                None => break,
            }
        }
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<Risk>, Diagnostics) {
        let mut d = Diagnostics::default();
        let r = parse(&Source::new("risks.json", text.to_string()), &mut d);
        (r, d)
    }

    #[test]
    fn unknown_level_is_located_at_its_value() {
        let (r, d) = run(
            "[\n {\"risk_id\": \"R1\", \"description\": \"x\",\n  \"inherent_risk\": {\"likelihood\": \"Severe\", \"impact\": \"High\"}}\n]",
        );
        assert!(r.is_empty());
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.code, "unknown-level");
        assert_eq!(diag.location.as_ref().unwrap().line, Some(3));
    }

    #[test]
    fn extra_fields_are_kept() {
        let (r, d) = run(r#"[{"risk_id":"R1","description":"d","likelihood_note":"kept"}]"#);
        assert!(d.is_empty());
        assert_eq!(r[0].extra["likelihood_note"], "kept");
    }

    #[test]
    fn not_an_array_and_missing_id() {
        let (_, d) = run(r#"{"risk_id":"R1"}"#);
        assert_eq!(d.iter().next().unwrap().code, "register-not-array");
        let (_, d) = run(r#"[{"description":"no id"}]"#);
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.code, "invalid-risk");
        assert!(diag.hint.as_deref().unwrap().contains("risk_id"));
    }
}
