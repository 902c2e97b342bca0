//! The risk register (`risks.json`, or `risks.csv`): a JSON array of entries in the reference
//! format of the risk-assessment guide, plus optional fields (assets, STRIDE, threat source,
//! treatment, objectives, reviews); any other field is kept verbatim.
//!
//! serde_json parses (and locates syntax errors); a span map of the same text locates every
//! value, so the problems found in one entry, here or by the risk checks later, are reported at
//! their own line and column. A CSV register goes through the same validation, located by cell.

use super::scoring::Scoring;
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One risk. Field names follow the reference entry; serialising a risk gives back the entry as
/// written (absent optional fields stay absent).
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<RiskControl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual_risk: Option<Rating>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Asset ids (assets.toml) the risk concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    /// STRIDE categories: Spoofing, Tampering, Repudiation, Information disclosure,
    /// Denial of service, Elevation of privilege.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stride: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat_source: Option<ThreatSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<Treatment>,
    /// Objective ids (`[[objective]]` in auditpack.toml) the risk threatens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<String>,
    /// YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_review: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub review_history: Vec<Review>,
    /// Fields beyond the documented ones, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The entry's position in the register (0-based), to locate its fields.
    #[serde(skip)]
    pub entry: usize,
    /// Where the entry starts.
    #[serde(skip, default = "no_location")]
    pub location: Location,
}

fn no_location() -> Location {
    Location::file("risks.json")
}

/// A likelihood or impact (or score) as written: a word of the scale or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScaleValue {
    Number(u64),
    Word(String),
}

impl std::fmt::Display for ScaleValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScaleValue::Number(n) => write!(f, "{n}"),
            ScaleValue::Word(w) => f.write_str(w),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rating {
    pub likelihood: ScaleValue,
    pub impact: ScaleValue,
    /// The declared level (a level name) or score (a number); checked against the computed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScaleValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RiskControl {
    pub control_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapped_tsc: Vec<String>,
}

/// Where a threat comes from (CC3.2: internal and external, intentional, unintentional and
/// environmental, vendors and partners).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatSource {
    /// `internal` or `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `intentional`, `unintentional` or `environmental`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nature: Option<String>,
    /// The vendor the threat comes through: an asset id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

/// The response to a risk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Treatment {
    /// `mitigate`, `accept`, `transfer` or `avoid`.
    pub strategy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_on: Option<String>,
    /// The planned actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// YYYY-MM-DD.
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

pub const STRIDE: &[&str] =
    &["Spoofing", "Tampering", "Repudiation", "Information disclosure", "Denial of service", "Elevation of privilege"];
pub const ORIGINS: &[&str] = &["internal", "external"];
pub const NATURES: &[&str] = &["intentional", "unintentional", "environmental"];
pub const STRATEGIES: &[&str] = &["mitigate", "accept", "transfer", "avoid"];

/// Fields a risk entry documents; other fields are kept, and reported when they look like a typo.
const FIELDS: &[&str] = &[
    "risk_id",
    "category",
    "description",
    "threat_actor",
    "vulnerability",
    "inherent_risk",
    "controls",
    "residual_risk",
    "owner",
    "status",
    "assets",
    "stride",
    "threat_source",
    "treatment",
    "objectives",
    "last_review",
    "review_history",
];

impl Risk {
    /// The treatment strategy in lower case; a `status` of "Accepted" counts as `accept`.
    pub fn strategy(&self) -> Option<String> {
        if let Some(t) = &self.treatment {
            return Some(t.strategy.trim().to_ascii_lowercase());
        }
        let status = self.status.as_deref()?.trim().to_ascii_lowercase();
        match status.as_str() {
            "accepted" => Some("accept".into()),
            "mitigated" | "mitigating" => Some("mitigate".into()),
            "transferred" => Some("transfer".into()),
            "avoided" => Some("avoid".into()),
            _ => None,
        }
    }

    /// The latest review: `last_review` or the latest `review_history` date.
    pub fn last_reviewed(&self) -> Option<Date> {
        let mut dates: Vec<Date> = self.review_history.iter().filter_map(|r| parse_date(&r.date)).collect();
        dates.extend(self.last_review.as_deref().and_then(parse_date));
        dates.into_iter().max()
    }
}

fn parse_date(s: &str) -> Option<Date> {
    super::toml_de::parse_date(s)
}

/// What the register is checked against while loading.
pub struct Context<'a> {
    pub scoring: &'a Scoring,
    pub assets: &'a BTreeSet<String>,
    pub objectives: &'a BTreeSet<String>,
}

/// The loaded register and a map locating every value in its file.
#[derive(Debug, Clone, Default)]
pub struct Register {
    pub risks: Vec<Risk>,
    pub spans: Spans,
}

/// One step of a path into an entry.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Index(usize),
    Key(&'a str),
}

/// Locations of the values of a register by path (`entry/key/index/...`), owned so later stages
/// can point into the file.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    file: std::path::PathBuf,
    at: BTreeMap<String, Location>,
}

fn path_key(entry: usize, path: &[Seg<'_>]) -> String {
    let mut s = entry.to_string();
    for p in path {
        s.push('\u{1f}');
        match p {
            Seg::Index(i) => s.push_str(&i.to_string()),
            Seg::Key(k) => s.push_str(k),
        }
    }
    s
}

impl Spans {
    /// The location of the value at `path` in entry `entry`, or of its deepest located ancestor.
    pub fn at(&self, entry: usize, path: &[Seg<'_>]) -> Location {
        for n in (0..=path.len()).rev() {
            if let Some(l) = self.at.get(&path_key(entry, &path[..n])) {
                return l.clone();
            }
        }
        Location { file: self.file.clone(), line: Some(1), col: Some(1), end_col: None }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub(super) fn insert(&mut self, entry: usize, keys: &[&str], at: Location) {
        let segs: Vec<Seg<'_>> = keys.iter().map(|k| Seg::Key(k)).collect();
        self.at.insert(path_key(entry, &segs), at);
    }

    pub(super) fn set_file(&mut self, file: std::path::PathBuf) {
        self.file = file;
    }

    fn from_json(src: &Source) -> Spans {
        use jsonc_parser::ast::Value;
        use jsonc_parser::common::Ranged;
        let mut spans = Spans { file: src.display.clone(), at: BTreeMap::new() };
        let Ok(parsed) = jsonc_parser::parse_to_ast(&src.text, &Default::default(), &Default::default()) else {
            return spans;
        };
        let Some(Value::Array(top)) = parsed.value else {
            return spans;
        };
        fn walk(v: &Value<'_>, key: String, src: &Source, out: &mut BTreeMap<String, Location>) {
            out.insert(key.clone(), src.span(v.start()..v.end()));
            match v {
                Value::Array(a) => {
                    for (i, e) in a.elements.iter().enumerate() {
                        walk(e, format!("{key}\u{1f}{i}"), src, out);
                    }
                }
                Value::Object(o) => {
                    for p in &o.properties {
                        walk(&p.value, format!("{key}\u{1f}{}", p.name.as_str()), src, out);
                    }
                }
                _ => {}
            }
        }
        for (i, e) in top.elements.iter().enumerate() {
            walk(e, i.to_string(), src, &mut spans.at);
        }
        spans
    }
}

/// Loads the register at `rel`: JSON, or CSV when the name ends in `.csv`.
pub fn load(root: &Path, rel: &Path, ctx: &Context<'_>, diags: &mut Diagnostics) -> Register {
    if !root.join(rel).exists() {
        diags.push(
            Diagnostic::note(Code::NoRisks, format!("no risk register at `{}`", rel.display()))
                .hint("keep the risk register (CC3.1/CC3.2) in risks.json; see docs/risk.md"),
        );
        return Register::default();
    }
    // Size-limited, BOM dropped, a FIFO refused: as every project file.
    let Some(src) = super::read_source(root, rel, diags) else {
        return Register::default();
    };
    if rel.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")) {
        super::risks_csv::parse(&src, ctx, diags)
    } else {
        parse(&src, ctx, diags)
    }
}

/// Parses a JSON register from `src`, reporting every problem with its place.
pub fn parse(src: &Source, ctx: &Context<'_>, diags: &mut Diagnostics) -> Register {
    let value: serde_json::Value = match serde_json::from_str(&src.text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(
                Diagnostic::error(Code::JsonSyntax, format!("invalid JSON: {e}"))
                    .at(Location {
                        file: src.display.clone(),
                        line: Some(e.line()),
                        col: Some(e.column()),
                        end_col: None,
                    })
                    .hint("fix the syntax at this place (a missing comma or quote is the usual cause)"),
            );
            return Register::default();
        }
    };
    let serde_json::Value::Array(entries) = value else {
        diags.push(
            Diagnostic::error(Code::RegisterNotArray, "the risk register must be a JSON array of risks")
                .at(src.location(0))
                .hint("write the register as [ {\"risk_id\": \"RISK-001\", ...}, ... ]"),
        );
        return Register::default();
    };
    if !json_shape_ok(src, diags) {
        return Register::default();
    }
    let spans = Spans::from_json(src);
    validate(entries, spans, ctx, diags)
}

/// What serde_json lets through silently: a key given twice in one object (the last one would
/// win unseen) and a string longer than [`super::MAX_LINE_BYTES`]. False when there was either.
fn json_shape_ok(src: &Source, diags: &mut Diagnostics) -> bool {
    use jsonc_parser::ast::Value;
    use jsonc_parser::common::Ranged;
    let Ok(parsed) = jsonc_parser::parse_to_ast(&src.text, &Default::default(), &Default::default()) else {
        return true;
    };
    fn walk(v: &Value<'_>, src: &Source, ok: &mut bool, diags: &mut Diagnostics) {
        match v {
            Value::Array(a) => a.elements.iter().for_each(|e| walk(e, src, ok, diags)),
            Value::Object(o) => {
                let mut seen = BTreeMap::new();
                for p in &o.properties {
                    let name = p.name.as_str();
                    if name.len() > super::MAX_LINE_BYTES {
                        diags.push(super::too_long(
                            src.location(p.start()),
                            &format!("a key is {} bytes long", name.len()),
                        ));
                        *ok = false;
                    } else if let Some(first) = seen.insert(name.to_string(), p.start()) {
                        let first = src.location(first);
                        diags.push(
                            Diagnostic::error(Code::DuplicateKey, format!("the key `{name}` is given twice in one object"))
                                .at(src.location(p.start()))
                                .hint(format!(
                                    "keep one of the two (the first is at line {}); a JSON reader would silently keep only the last",
                                    first.line.unwrap_or(1)
                                )),
                        );
                        *ok = false;
                    }
                    walk(&p.value, src, ok, diags);
                }
            }
            Value::StringLit(s) if s.value.len() > super::MAX_LINE_BYTES => {
                diags.push(super::too_long(
                    src.location(s.start()),
                    &format!("the value is {} bytes long", s.value.len()),
                ));
                *ok = false;
            }
            _ => {}
        }
    }
    let mut ok = true;
    if let Some(v) = &parsed.value {
        walk(v, src, &mut ok, diags);
    }
    ok
}

/// Turns parsed entries into risks; shared by the JSON and CSV readers.
pub(super) fn validate(
    entries: Vec<serde_json::Value>,
    spans: Spans,
    ctx: &Context<'_>,
    diags: &mut Diagnostics,
) -> Register {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let at = |path: &[Seg<'_>]| spans.at(i, path);
        // Named by its id where it has one, else by its place in the register.
        let name = match entry.get("risk_id").and_then(|v| v.as_str()) {
            Some(id) if !id.trim().is_empty() => format!("risk `{id}`"),
            _ => format!("risk #{}", i + 1),
        };
        let Some(obj) = entry.as_object() else {
            diags.push(
                Diagnostic::error(Code::InvalidRisk, format!("risk #{} is not a JSON object", i + 1))
                    .at(at(&[]))
                    .hint("each risk is an object with at least risk_id and description"),
            );
            continue;
        };
        for key in obj.keys() {
            if FIELDS.contains(&key.as_str()) {
                continue;
            }
            if let Some(near) = super::toml_de::closest(key, FIELDS) {
                diags.push(
                    Diagnostic::warning(
                        Code::UnknownRiskField,
                        format!("{name}: field `{key}` is not a register field"),
                    )
                    .at(at(&[Seg::Key(key)]))
                    .hint(format!("did you mean `{near}`? Other fields are kept as they are but not checked")),
                );
            }
        }
        let mut risk: Risk = match serde_json::from_value(entry) {
            Ok(r) => r,
            Err(e) => {
                let text = e.to_string();
                let field = missing_field(&text);
                diags.push(Diagnostic::error(Code::InvalidRisk, format!("{name}: {e}")).at(at(&[])).hint(
                    match field {
                        Some(f) => format!("add `{f}` to the entry"),
                        None => "see docs/risk.md for the fields of a risk".to_string(),
                    },
                ));
                continue;
            }
        };
        risk.entry = i;
        risk.location = at(&[]);
        if let Some(first) = seen.get(&risk.risk_id) {
            diags.push(
                Diagnostic::error(Code::DuplicateRisk, format!("risk id `{}` is used twice", risk.risk_id))
                    .at(at(&[Seg::Key("risk_id")]))
                    .hint(format!("the first use is risk #{first}; give each risk its own id")),
            );
            continue;
        }
        seen.insert(risk.risk_id.clone(), i + 1);
        if check_risk(&risk, ctx, &at, diags) {
            out.push(risk);
        }
    }
    Register { risks: out, spans }
}

/// Checks the words, ids and dates of one risk. Returns false when it cannot be scored.
fn check_risk(risk: &Risk, ctx: &Context<'_>, at: &dyn Fn(&[Seg<'_>]) -> Location, diags: &mut Diagnostics) -> bool {
    let id = &risk.risk_id;
    let s = ctx.scoring;
    let mut ok = true;
    for (key, rating) in [("inherent_risk", &risk.inherent_risk), ("residual_risk", &risk.residual_risk)] {
        let Some(r) = rating else { continue };
        let checks: [(&str, &ScaleValue, &[String]); 2] =
            [("likelihood", &r.likelihood, &s.likelihood), ("impact", &r.impact, &s.impact)];
        for (field, v, scale) in checks {
            let known = if field == "likelihood" { s.likelihood_step(v) } else { s.impact_step(v) };
            if known.is_none() {
                diags.push(
                    Diagnostic::error(Code::UnknownLevel, format!("risk `{id}`: unknown {field} `{v}` in {key}"))
                        .at(at(&[Seg::Key(key), Seg::Key(field)]))
                        .hint(format!("the {} matrix rates {field} as {}", s.matrix, Scoring::expected(scale))),
                );
                ok = false;
            }
        }
        let max = (s.size() * s.size()) as u64;
        let score_ok = match &r.score {
            None => true,
            Some(ScaleValue::Word(w)) => s.level_named(w).is_some(),
            Some(ScaleValue::Number(n)) => (1..=max).contains(n),
        };
        if !score_ok {
            let names: Vec<String> = s.levels.iter().map(|l| l.name.clone()).collect();
            diags.push(
                Diagnostic::error(
                    Code::UnknownLevel,
                    format!(
                        "risk `{id}`: unknown score `{}` in {key}",
                        r.score.as_ref().map(|v| v.to_string()).unwrap_or_default()
                    ),
                )
                .at(at(&[Seg::Key(key), Seg::Key("score")]))
                .hint(format!("write a level ({}) or the score 1-{max}", names.join(", "))),
            );
            ok = false;
        }
    }
    for (ci, c) in risk.controls.iter().enumerate() {
        for (ti, t) in c.mapped_tsc.iter().enumerate() {
            if crate::model::criterion(t).is_none() {
                diags.push(
                    Diagnostic::error(
                        Code::UnknownCriterion,
                        format!("risk `{id}`: `{t}` is not a trust services criterion"),
                    )
                    .at(at(&[Seg::Key("controls"), Seg::Index(ci), Seg::Key("mapped_tsc"), Seg::Index(ti)]))
                    .hint("use ids such as CC6.1 or A1.2"),
                );
                ok = false;
            }
        }
    }
    let word = |value: &str, allowed: &[&str], path: &[Seg<'_>], what: &str, diags: &mut Diagnostics| {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(value.trim())) {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("risk `{id}`: unknown {what} `{value}`"))
                    .at(at(path))
                    .hint(format!("use one of: {}", allowed.join(", "))),
            );
        }
    };
    for (i, st) in risk.stride.iter().enumerate() {
        word(st, STRIDE, &[Seg::Key("stride"), Seg::Index(i)], "STRIDE category", diags);
    }
    if let Some(ts) = &risk.threat_source {
        if let Some(o) = &ts.origin {
            word(o, ORIGINS, &[Seg::Key("threat_source"), Seg::Key("origin")], "threat origin", diags);
        }
        if let Some(n) = &ts.nature {
            word(n, NATURES, &[Seg::Key("threat_source"), Seg::Key("nature")], "threat nature", diags);
        }
        if let Some(v) = &ts.vendor
            && !ctx.assets.contains(v)
        {
            diags.push(unknown_ref(
                id,
                "asset",
                v,
                at(&[Seg::Key("threat_source"), Seg::Key("vendor")]),
                "assets.toml",
            ));
        }
    }
    if let Some(t) = &risk.treatment {
        word(&t.strategy, STRATEGIES, &[Seg::Key("treatment"), Seg::Key("strategy")], "treatment strategy", diags);
        for (k, v) in [("approved_on", &t.approved_on), ("due", &t.due)] {
            if let Some(v) = v {
                check_date(id, v, at(&[Seg::Key("treatment"), Seg::Key(k)]), diags);
            }
        }
    }
    if let Some(d) = &risk.last_review {
        check_date(id, d, at(&[Seg::Key("last_review")]), diags);
    }
    for (i, r) in risk.review_history.iter().enumerate() {
        check_date(id, &r.date, at(&[Seg::Key("review_history"), Seg::Index(i), Seg::Key("date")]), diags);
    }
    for (i, a) in risk.assets.iter().enumerate() {
        if !ctx.assets.contains(a) {
            diags.push(unknown_ref(id, "asset", a, at(&[Seg::Key("assets"), Seg::Index(i)]), "assets.toml"));
        }
    }
    for (i, o) in risk.objectives.iter().enumerate() {
        if !ctx.objectives.contains(o) {
            diags.push(unknown_ref(
                id,
                "objective",
                o,
                at(&[Seg::Key("objectives"), Seg::Index(i)]),
                "auditpack.toml ([[objective]])",
            ));
        }
    }
    ok
}

fn unknown_ref(risk: &str, what: &str, id: &str, at: Location, file: &str) -> Diagnostic {
    Diagnostic::error(
        if what == "asset" { Code::UnknownAsset } else { Code::UnknownObjective },
        format!("risk `{risk}` names {what} `{id}`, which is not declared"),
    )
    .at(at)
    .hint(format!("declare the {what} in {file}, or correct the id"))
}

fn check_date(risk: &str, value: &str, at: Location, diags: &mut Diagnostics) {
    if parse_date(value).is_none() {
        diags.push(
            Diagnostic::error(Code::InvalidValue, format!("risk `{risk}`: `{value}` is not a date"))
                .at(at)
                .hint("write dates as YYYY-MM-DD"),
        );
    }
}

fn missing_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("missing field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<Risk>, Diagnostics) {
        let mut d = Diagnostics::default();
        let scoring = Scoring::default();
        let assets = BTreeSet::from(["AST-01".to_string()]);
        let objectives = BTreeSet::from(["OBJ-1".to_string()]);
        let ctx = Context { scoring: &scoring, assets: &assets, objectives: &objectives };
        let r = parse(&Source::new("risks.json", text.to_string()), &ctx, &mut d);
        (r.risks, d)
    }

    pub const REFERENCE: &str = r#"{
  "risk_id": "RISK-001",
  "category": "Infrastructure",
  "description": "Public exposure of S3 buckets containing customer backups.",
  "threat_actor": "External Malicious Actor",
  "vulnerability": "Misconfigured S3 bucket policies or ACLs.",
  "inherent_risk": {
    "likelihood": "Medium",
    "impact": "High",
    "score": "High"
  },
  "controls": [
    {
      "control_id": "CTRL-S3-01",
      "description": "AWS Config rules to automatically remediate public S3 buckets.",
      "mapped_tsc": ["CC6.1", "CC7.2"]
    },
    {
      "control_id": "CTRL-S3-02",
      "description": "Quarterly access reviews of S3 bucket permissions.",
      "mapped_tsc": ["CC6.3"]
    }
  ],
  "residual_risk": {
    "likelihood": "Low",
    "impact": "High",
    "score": "Medium"
  },
  "owner": "Cloud Infrastructure Team",
  "status": "Mitigated"
}"#;

    #[test]
    fn reference_entry_round_trips_verbatim() {
        let (r, d) = run(&format!("[{REFERENCE}]"));
        assert!(d.is_empty(), "{d:?}");
        let back = serde_json::to_value(&r[0]).unwrap();
        let original: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn optional_fields_load_and_round_trip() {
        let entry = r#"{"risk_id":"R1","description":"Stolen laptop exposes customer data stored locally.",
          "assets":["AST-01"],"stride":["Information disclosure"],
          "threat_source":{"origin":"external","nature":"intentional"},
          "treatment":{"strategy":"accept","justification":"Disk encryption enforced","approver":"CTO","approved_on":"2026-01-10"},
          "objectives":["OBJ-1"],"last_review":"2026-03-01",
          "review_history":[{"date":"2025-03-01","reviewer":"Risk committee"}],"custom":{"a":1}}"#;
        let (r, d) = run(&format!("[{entry}]"));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(r[0].strategy().as_deref(), Some("accept"));
        assert_eq!(r[0].last_reviewed(), Some(jiff::civil::date(2026, 3, 1)));
        let original: serde_json::Value = serde_json::from_str(entry).unwrap();
        assert_eq!(serde_json::to_value(&r[0]).unwrap(), original);
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
        assert_eq!(diag.location.as_ref().unwrap().col, Some(35));
    }

    #[test]
    fn bad_words_and_references_are_located() {
        let (r, d) = run(
            "[{\"risk_id\":\"R1\",\"description\":\"d\",\n\"stride\":[\"Spoofin\"],\n\"assets\":[\"NOPE\"],\n\"objectives\":[\"OBJ-9\"],\n\"last_review\":\"2026-13-01\"}]",
        );
        assert_eq!(r.len(), 1, "reference errors keep the risk for the other checks");
        let codes: Vec<(&str, Option<usize>)> =
            d.iter().map(|d| (d.code.as_str(), d.location.as_ref().and_then(|l| l.line))).collect();
        assert!(codes.contains(&("invalid-value", Some(2))), "{codes:?}");
        assert!(codes.contains(&("unknown-asset", Some(3))), "{codes:?}");
        assert!(codes.contains(&("unknown-objective", Some(4))), "{codes:?}");
        assert!(codes.contains(&("invalid-value", Some(5))), "{codes:?}");
    }

    #[test]
    fn extra_fields_are_kept_and_typos_flagged() {
        let (r, d) = run(r#"[{"risk_id":"R1","description":"d","likelihood_note":"kept","treatmnet":{}}]"#);
        assert_eq!(r[0].extra["likelihood_note"], "kept");
        let codes: Vec<&str> = d.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["unknown-risk-field"]);
    }

    #[test]
    fn not_an_array_missing_id_and_duplicates() {
        let (_, d) = run(r#"{"risk_id":"R1"}"#);
        assert_eq!(d.iter().next().unwrap().code, "register-not-array");
        let (_, d) = run(r#"[{"description":"no id"}]"#);
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.code, "invalid-risk");
        assert!(diag.hint.as_deref().unwrap().contains("risk_id"));
        let (r, d) = run("[{\"risk_id\":\"R1\",\"description\":\"a\"},\n{\"risk_id\":\"R1\",\"description\":\"b\"}]");
        assert_eq!(r.len(), 1);
        let diag = d.iter().next().unwrap();
        assert_eq!((diag.code, diag.location.as_ref().unwrap().line), (Code::DuplicateRisk, Some(2)));
    }
}
