//! Information produced by the entity (IPE): a control's population listing
//! (`[control.population]`), the provenance record of a listing or report (a sidecar's
//! `[provenance]`, and the `[collector]` run record `auditpack fetch` writes), and the
//! collectors that produce evidence (`[[collector]]` in auditpack.toml). See docs/populations.md.

use super::raw::S;
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// The files as written.

/// One column name or several (`key = "id"` or `key = ["repository", "number"]`).
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

pub const POPULATION_KEYS: &[&str] = &["listing", "items", "key", "date", "filter", "support"];
#[derive(Deserialize)]
pub struct RawPopulation {
    pub listing: S<OneOrMany>,
    pub items: Option<String>,
    pub key: S<OneOrMany>,
    pub date: S<String>,
    #[serde(default)]
    pub filter: BTreeMap<String, S<OneOrMany>>,
    pub support: Option<S<String>>,
}

pub const PROVENANCE_KEYS: &[&str] =
    &["source_system", "report", "query", "parameters", "generated_at", "generated_by", "record_count"];
#[derive(Deserialize)]
pub struct RawProvenance {
    pub source_system: Option<String>,
    pub report: Option<String>,
    pub query: Option<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, toml::Value>,
    pub generated_at: Option<S<toml::value::Datetime>>,
    pub generated_by: Option<String>,
    pub record_count: Option<S<i64>>,
}

pub const RUN_KEYS: &[&str] =
    &["id", "command", "started_at", "finished_at", "exit_code", "sha256", "size", "host", "record_count"];
#[derive(Deserialize)]
pub struct RawRun {
    pub id: String,
    pub command: Vec<String>,
    pub started_at: S<toml::value::Datetime>,
    pub finished_at: S<toml::value::Datetime>,
    pub exit_code: i64,
    pub sha256: S<String>,
    pub size: u64,
    pub host: String,
    pub record_count: Option<u64>,
}

pub const COLLECTOR_KEYS: &[&str] = &["id", "command", "output", "controls", "timeout", "period", "provenance"];
#[derive(Deserialize)]
pub struct RawCollector {
    pub id: S<String>,
    pub command: S<Vec<String>>,
    pub output: S<String>,
    #[serde(default)]
    pub controls: Vec<S<String>>,
    pub timeout: Option<S<i64>>,
    pub period: Option<S<String>>,
    pub provenance: Option<S<RawProvenance>>,
}

// ---------------------------------------------------------------------------------------------
// The model.

/// A control's population: the items of one or more listings among the evidence.
#[derive(Debug, Clone, Serialize)]
pub struct PopulationSpec {
    /// Glob patterns, relative to the evidence folder, of the listing files.
    pub listings: Vec<String>,
    /// What an item is, in the plural ("merged pull requests"); "items" when not given.
    pub items: String,
    /// The columns whose values together identify an item (joined with " / ").
    pub key: Vec<String>,
    /// The column that dates an item.
    pub date: String,
    /// Only rows whose column holds one of the values are items.
    pub filters: Vec<(String, Vec<String>)>,
    /// Pattern of an item's supporting evidence, `{column}` replaced by the item's value.
    pub support: Option<String>,
    #[serde(skip)]
    pub at: PopulationSpans,
}

/// Where each part of `[control.population]` is written, for findings about the listing.
#[derive(Debug, Clone, Default)]
pub struct PopulationSpans {
    pub listing: Option<Location>,
    pub key: Option<Location>,
    pub date: Option<Location>,
    pub filters: Vec<Location>,
    pub support: Option<Location>,
}

/// The provenance of a listing or report: where it came from, how and when it was produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Provenance {
    pub source_system: Option<String>,
    pub report: Option<String>,
    pub query: Option<String>,
    /// `name = value`, in name order.
    pub parameters: Vec<(String, String)>,
    pub generated_at: Option<Timestamp>,
    pub generated_by: Option<String>,
    pub record_count: Option<u64>,
    #[serde(skip)]
    pub record_count_at: Option<Location>,
    #[serde(skip)]
    pub at: Option<Location>,
}

impl Provenance {
    /// The fields an auditor asks for that the record leaves out.
    pub fn missing(&self, has_period: bool) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.source_system.is_none() {
            out.push("source_system");
        }
        if self.report.is_none() && self.query.is_none() {
            out.push("report or query");
        }
        if self.generated_at.is_none() {
            out.push("generated_at");
        }
        if self.generated_by.is_none() {
            out.push("generated_by");
        }
        if self.record_count.is_none() {
            out.push("record_count");
        }
        if !has_period {
            out.push("period_start and period_end");
        }
        out
    }
}

/// What `auditpack fetch` recorded of the run that produced a file.
#[derive(Debug, Clone, Serialize)]
pub struct CollectorRun {
    pub id: String,
    pub command: Vec<String>,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub exit_code: i64,
    pub sha256: String,
    pub size: u64,
    pub host: String,
    pub record_count: Option<u64>,
    #[serde(skip)]
    pub sha256_at: Option<Location>,
}

/// What a collector's output covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectorPeriod {
    /// The command is given the audit period and its output covers it.
    Audit,
    /// A listing as of the moment it runs (a credential report, a configuration).
    PointInTime,
}

/// A `[[collector]]`: a command whose standard output becomes an evidence file.
#[derive(Debug, Clone, Serialize)]
pub struct Collector {
    pub id: String,
    /// The program and its arguments, run without a shell from the project folder.
    pub command: Vec<String>,
    /// The output's path under the evidence folder; `{date}` is the UTC date of the run.
    pub output: String,
    pub controls: Vec<String>,
    pub timeout_seconds: u64,
    pub period: CollectorPeriod,
    pub provenance: Provenance,
    #[serde(skip)]
    pub location: Location,
}

/// The default time a collector may run.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 300;

// ---------------------------------------------------------------------------------------------
// Validation.

/// `[control.population]` of control `id`.
pub fn population(src: &Source, id: &str, raw: S<RawPopulation>, diags: &mut Diagnostics) -> Option<PopulationSpec> {
    let raw = raw.into_inner();
    let non_empty = |what: &str, values: &[String], at: usize, diags: &mut Diagnostics| {
        if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("control `{id}`: `population.{what}` is empty"))
                    .at(src.location(at))
                    .hint(format!("name the {what} of the listing, see docs/populations.md")),
            );
            false
        } else {
            true
        }
    };
    let listings = raw.listing.get_ref().clone().into_vec();
    let mut ok = non_empty("listing", &listings, raw.listing.span().start, diags);
    for l in &listings {
        if let Err(e) = globset::Glob::new(l) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidPattern,
                    format!("control `{id}`: the listing pattern `{l}` does not parse: {e}"),
                )
                .at(src.span(raw.listing.span()))
                .hint("a glob relative to the evidence folder, e.g. \"changes/merged-pull-requests-*.csv\""),
            );
            ok = false;
        }
    }
    let key = raw.key.get_ref().clone().into_vec();
    ok &= non_empty("key", &key, raw.key.span().start, diags);
    ok &= non_empty("date", std::slice::from_ref(raw.date.get_ref()), raw.date.span().start, diags);
    let mut filters = Vec::new();
    let mut filter_at = Vec::new();
    for (column, values) in raw.filter {
        filter_at.push(src.span(values.span()));
        filters.push((column, values.into_inner().into_vec()));
    }
    if let Some(s) = &raw.support {
        let probe = s.get_ref().replace(['{', '}'], "");
        if let Err(e) = globset::Glob::new(&probe) {
            diags.push(
                Diagnostic::error(Code::InvalidPattern, format!("control `{id}`: the support pattern does not parse: {e}"))
                    .at(src.span(s.span()))
                    .hint("a glob relative to the evidence folder with {column} placeholders, e.g. \"hr/tickets/*_{ticket}.txt\""),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some(PopulationSpec {
        listings,
        items: raw.items.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "items".into()),
        key,
        date: raw.date.get_ref().clone(),
        filters,
        at: PopulationSpans {
            listing: Some(src.span(raw.listing.span())),
            key: Some(src.span(raw.key.span())),
            date: Some(src.span(raw.date.span())),
            filters: filter_at,
            support: raw.support.as_ref().map(|s| src.span(s.span())),
        },
        support: raw.support.map(|s| s.into_inner()),
    })
}

/// A TOML date-time with its offset as an instant; a local date-time or a date is refused.
fn instant(src: &Source, what: &str, v: &S<toml::value::Datetime>, diags: &mut Diagnostics) -> Option<Timestamp> {
    let dt = v.get_ref();
    let parsed = if dt.offset.is_some() && dt.time.is_some() { dt.to_string().parse::<Timestamp>().ok() } else { None };
    if parsed.is_none() {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("`{what}` must be a date and time with its offset, found {dt}"),
            )
            .at(src.span(v.span()))
            .hint(format!("write the time in UTC, e.g. {what} = 2026-07-01T08:00:00Z")),
        );
    }
    parsed
}

fn parameter_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A sidecar's or collector's `[provenance]`.
pub fn provenance(src: &Source, raw: S<RawProvenance>, diags: &mut Diagnostics) -> Provenance {
    let at = src.span(raw.span());
    let raw = raw.into_inner();
    let record_count = raw.record_count.as_ref().and_then(|n| match u64::try_from(*n.get_ref()) {
        Ok(n) => Some(n),
        Err(_) => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`record_count` must not be negative, found {}", n.get_ref()),
                )
                .at(src.span(n.span()))
                .hint("the number of records the source system reported for the listing"),
            );
            None
        }
    });
    let text = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Provenance {
        source_system: text(raw.source_system),
        report: text(raw.report),
        query: text(raw.query),
        parameters: raw.parameters.iter().map(|(k, v)| (k.clone(), parameter_text(v))).collect(),
        generated_at: raw.generated_at.as_ref().and_then(|t| instant(src, "generated_at", t, diags)),
        generated_by: text(raw.generated_by),
        record_count,
        record_count_at: raw.record_count.as_ref().map(|n| src.span(n.span())),
        at: Some(at),
    }
}

/// A sidecar's `[collector]` record.
pub fn run(src: &Source, raw: RawRun, diags: &mut Diagnostics) -> Option<CollectorRun> {
    let started_at = instant(src, "started_at", &raw.started_at, diags)?;
    let finished_at = instant(src, "finished_at", &raw.finished_at, diags)?;
    Some(CollectorRun {
        id: raw.id,
        command: raw.command,
        started_at,
        finished_at,
        exit_code: raw.exit_code,
        sha256_at: Some(src.span(raw.sha256.span())),
        sha256: raw.sha256.into_inner().to_ascii_lowercase(),
        size: raw.size,
        host: raw.host,
        record_count: raw.record_count,
    })
}

/// The `[[collector]]` tables of auditpack.toml.
pub fn collectors(
    src: &Source,
    raws: Vec<RawCollector>,
    control_ids: &dyn Fn(&str) -> bool,
    diags: &mut Diagnostics,
) -> Vec<Collector> {
    let mut out: Vec<Collector> = Vec::new();
    for c in raws {
        let id = c.id.get_ref().trim().to_string();
        let location = src.span(c.id.span());
        let mut ok = true;
        if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.')) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidId,
                    format!("the collector id `{id}` must be letters, digits, -, _ or ."),
                )
                .at(location.clone())
                .hint("e.g. id = \"merged-prs\""),
            );
            ok = false;
        }
        if out.iter().any(|o| o.id == id) {
            diags.push(
                Diagnostic::error(Code::DuplicateId, format!("two collectors have the id `{id}`"))
                    .at(location.clone())
                    .hint("give each [[collector]] its own id"),
            );
            ok = false;
        }
        if c.command.get_ref().first().is_none_or(|p| p.trim().is_empty()) {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("collector `{id}`: `command` is empty"))
                    .at(src.span(c.command.span()))
                    .hint("the program and its arguments, e.g. command = [\"gh\", \"api\", \"...\"]"),
            );
            ok = false;
        }
        let output = c.output.get_ref().trim().to_string();
        let bad_output = output.is_empty()
            || output.starts_with('/')
            || output.split('/').any(|p| p == ".." || p == "." || p.is_empty())
            || output.ends_with(".meta.toml");
        if bad_output {
            diags.push(
                Diagnostic::error(
                    Code::InvalidPath,
                    format!("collector `{id}`: the output `{output}` is not a file path under the evidence folder"),
                )
                .at(src.span(c.output.span()))
                .hint("a relative path such as \"changes/merged-prs-{date}.csv\" (no `..`, no leading `/`)"),
            );
            ok = false;
        }
        let mut controls = Vec::new();
        for ctl in &c.controls {
            if control_ids(ctl.get_ref()) {
                controls.push(ctl.get_ref().clone());
            } else {
                diags.push(
                    Diagnostic::error(
                        Code::UnknownControl,
                        format!("collector `{id}` names control `{}`, which is not in the catalogue", ctl.get_ref()),
                    )
                    .at(src.span(ctl.span()))
                    .hint("use the id of a control in controls.toml"),
                );
            }
        }
        let timeout_seconds = match c.timeout.as_ref().map(|t| (t, *t.get_ref())) {
            None => DEFAULT_TIMEOUT_SECONDS,
            Some((_, n)) if (1..=86_400).contains(&n) => n as u64,
            Some((t, n)) => {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("collector `{id}`: `timeout` must be 1 to 86400 seconds, found {n}"),
                    )
                    .at(src.span(t.span()))
                    .hint(format!(
                        "the seconds the command may run before it is stopped (default {DEFAULT_TIMEOUT_SECONDS})"
                    )),
                );
                ok = false;
                DEFAULT_TIMEOUT_SECONDS
            }
        };
        let period = match c.period.as_ref().map(|p| (p, p.get_ref().as_str())) {
            None | Some((_, "audit")) => CollectorPeriod::Audit,
            Some((_, "point-in-time")) => CollectorPeriod::PointInTime,
            Some((p, other)) => {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("collector `{id}`: `period` must be \"audit\" or \"point-in-time\", found \"{other}\""),
                    )
                    .at(src.span(p.span()))
                    .hint("\"audit\": the output covers the audit period; \"point-in-time\": a listing as of the run"),
                );
                ok = false;
                CollectorPeriod::Audit
            }
        };
        let provenance = c.provenance.map(|p| provenance(src, p, diags)).unwrap_or_default();
        if ok {
            out.push(Collector {
                id,
                command: c.command.into_inner(),
                output,
                controls,
                timeout_seconds,
                period,
                provenance,
                location,
            });
        }
    }
    out
}

/// The UTC day of an instant.
pub fn utc_date(t: Timestamp) -> Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}
