//! Evidence sidecars (`<file>.meta.toml`): the controls a file supports, its dates and period,
//! a subservice organisation's assurance document, a no-occurrence statement and provenance.

use super::Project;
use super::files::read_source;
use super::toml_de::Value;
use super::validate::bad_word;
use super::{ipe, raw, toml_de};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use jiff::civil::Date;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

/// Evidence metadata from a `<file>.meta.toml` sidecar.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sidecar {
    pub controls: Vec<String>,
    pub effective: Option<Date>,
    /// The period the file covers (`period_start`, `period_end`): a SOC report's, a bridge letter's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<(Date, Date)>,
    /// What kind of assurance document the file is, for a subservice organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assurance: Option<Assurance>,
    /// Where the sidecar's `assurance` is written, for findings about the document.
    #[serde(skip)]
    pub assurance_at: Option<Location>,
    pub provider: Option<String>,
    /// Whether the sidecar names a provider (known or not): a missing one is reported apart.
    #[serde(skip)]
    pub provider_given: bool,
    pub source: Option<String>,
    pub description: Option<String>,
    /// Present when the file is management's statement that its controls had no occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_occurrence: Option<NoOccurrence>,
    /// Where a listing or report came from and how it was produced (`[provenance]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ipe::Provenance>,
    /// The run of `auditpack fetch` that produced the file (`[collector]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<ipe::CollectorRun>,
}

/// Management's statement that a control had no occurrence (no event to act on) in a period,
/// and who attests it: recorded once, in the sidecar of the signed statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoOccurrence {
    pub start: Date,
    pub end: Date,
    pub attested_by: String,
}

/// A subservice organisation's assurance document among the evidence (sidecar `assurance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assurance {
    Soc1Type1,
    Soc1Type2,
    Soc2Type1,
    Soc2Type2,
    BridgeLetter,
}

impl Assurance {
    const WORDS: [(&'static str, Assurance, &'static str); 5] = [
        ("soc1-type1", Assurance::Soc1Type1, "SOC 1 Type 1 report"),
        ("soc1-type2", Assurance::Soc1Type2, "SOC 1 Type 2 report"),
        ("soc2-type1", Assurance::Soc2Type1, "SOC 2 Type 1 report"),
        ("soc2-type2", Assurance::Soc2Type2, "SOC 2 Type 2 report"),
        ("bridge-letter", Assurance::BridgeLetter, "bridge letter"),
    ];
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::WORDS.iter().find(|(w, _, _)| *w == s).map(|(_, a, _)| *a)
    }
    pub fn expected() -> String {
        Self::WORDS.iter().map(|(w, _, _)| format!("`{w}`")).collect::<Vec<_>>().join(", ")
    }
    pub fn title(self) -> &'static str {
        Self::WORDS.iter().find(|(_, a, _)| *a == self).map(|(_, _, t)| *t).unwrap_or("")
    }
    pub fn is_report(self) -> bool {
        self != Assurance::BridgeLetter
    }
}

/// Parses a `<file>.meta.toml` sidecar. `rel` is its path relative to the project.
pub fn load_sidecar(root: &Path, rel: &Path, project: &Project, diags: &mut Diagnostics) -> Option<Sidecar> {
    let src = read_source(root, rel, diags)?;
    let doc = toml_de::parse(&src, diags)?;
    let value = Value::new(doc.span(), toml::de::DeValue::Table(doc.into_inner()));
    let raw: raw::Sidecar = toml_de::deserialize(&src, &value, "in the sidecar", raw::SIDECAR_KEYS, diags)?;
    let known: BTreeSet<&str> = project.controls.iter().map(|c| c.id.as_str()).collect();
    let mut controls = Vec::new();
    for c in &raw.controls {
        if known.contains(c.get_ref().as_str()) {
            controls.push(c.get_ref().clone());
        } else if !project.failed.controls.contains(c.get_ref()) {
            diags.push(
                Diagnostic::error(
                    Code::UnknownControl,
                    format!("the sidecar names control `{}`, which is not in the catalogue", c.get_ref()),
                )
                .at(src.span(c.span()))
                .hint("use the id of a control in controls.toml"),
            );
        }
    }
    let no_occurrence = no_occurrence(&src, &raw, diags);
    let provider_given = raw.provider.is_some();
    let provider = match raw.provider {
        Some(p) if project.providers.iter().any(|x| &x.id == p.get_ref()) => Some(p.into_inner()),
        Some(p) if project.failed.providers.contains(p.get_ref()) => None,
        Some(p) => {
            diags.push(
                Diagnostic::error(
                    Code::UnknownProvider,
                    format!("the sidecar names provider `{}`, which is not declared", p.get_ref()),
                )
                .at(src.span(p.span()))
                .hint("use the id of a [[provider]] in auditpack.toml"),
            );
            None
        }
        None => None,
    };
    let period = match (&raw.period_start, &raw.period_end) {
        (Some(s), Some(e)) if e.get_ref().0 >= s.get_ref().0 => Some((s.get_ref().0, e.get_ref().0)),
        (Some(_), Some(e)) => {
            diags.push(
                Diagnostic::error(Code::InvalidPeriod, "the sidecar's period ends before it starts")
                    .at(src.span(e.span()))
                    .hint("`period_end` must be on or after `period_start`"),
            );
            None
        }
        (Some(one), None) | (None, Some(one)) => {
            diags.push(
                Diagnostic::error(Code::MissingKey, "the sidecar gives one end of a period")
                    .at(src.span(one.span()))
                    .hint("give both `period_start` and `period_end` (the period the document covers)"),
            );
            None
        }
        (None, None) => None,
    };
    let assurance = match &raw.assurance {
        Some(a) => match Assurance::parse(a.get_ref()) {
            Some(x) => Some(x),
            None => {
                diags.push(bad_word(&src, a, "assurance document", Assurance::expected()));
                None
            }
        },
        None => None,
    };
    Some(Sidecar {
        controls,
        period,
        assurance,
        assurance_at: raw.assurance.as_ref().map(|a| src.span(a.span())),
        effective: raw.effective.map(|d| d.get_ref().0),
        provider,
        provider_given,
        source: raw.source,
        description: raw.description,
        no_occurrence,
        provenance: raw.provenance.map(|p| ipe::provenance(&src, p, diags)),
        collector: raw.collector.and_then(|r| ipe::run(&src, r.into_inner(), diags)),
    })
}

/// `no_occurrence = true` with `period_start`, `period_end` and `attested_by`: all four or none.
fn no_occurrence(src: &Source, raw: &raw::Sidecar, diags: &mut Diagnostics) -> Option<NoOccurrence> {
    let bad = |at: usize, msg: String, diags: &mut Diagnostics| {
        diags.push(
            Diagnostic::error(Code::InvalidNoOccurrence, msg)
                .at(src.location(at))
                .hint("a no-occurrence statement needs no_occurrence = true, period_start, period_end and attested_by (name and title)"),
        );
    };
    let flag = raw.no_occurrence.as_ref();
    if !flag.is_some_and(|f| *f.get_ref()) {
        // The signatory means nothing without the statement itself. (`period_start` and
        // `period_end` also give any file the period it covers, e.g. a SOC report.)
        for (key, span) in [("attested_by", raw.attested_by.as_ref().map(|s| s.span().start))] {
            if let Some(at) = span {
                bad(at, format!("`{key}` is only used with `no_occurrence = true`"), diags);
            }
        }
        return None;
    }
    let flag_at = flag.map(|f| f.span().start).unwrap_or(0);
    let (Some(start), Some(end)) = (raw.period_start.as_ref(), raw.period_end.as_ref()) else {
        bad(flag_at, "a no-occurrence statement needs `period_start` and `period_end`".into(), diags);
        return None;
    };
    let attested_by = raw.attested_by.as_ref().map(|a| a.get_ref().trim().to_string()).unwrap_or_default();
    if attested_by.is_empty() {
        bad(flag_at, "a no-occurrence statement needs `attested_by`: who in management attests it".into(), diags);
        return None;
    }
    if end.get_ref().0 < start.get_ref().0 {
        bad(
            end.span().start,
            format!("`period_end` {} is before `period_start` {}", end.get_ref().0, start.get_ref().0),
            diags,
        );
        return None;
    }
    Some(NoOccurrence { start: start.get_ref().0, end: end.get_ref().0, attested_by })
}
