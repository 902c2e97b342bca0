//! The sections of auditpack.toml with settings rather than entries: organisation, system,
//! audit (scope and period), paths, branding, package, report, assertion, snapshot, sampling,
//! responsibility, criteria not relevant, check levels and collectors.

use super::controls::Control;
use super::files::MAX_FILE_BYTES;
use super::raw::S;
use super::validate::{bad_word, raw_id};
use super::{CONFIG_FILE, Failed};
use super::{ipe, raw, toml_de};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use crate::model::{AuditType, Category, Frequency, Layer, Matrix, Owner, Sampling, ServiceModel};
use jiff::civil::Date;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct NotRelevant {
    pub criterion: String,
    pub reason: String,
}

/// `[check] levels`: per-code level overrides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckSettings {
    pub levels: Vec<CodeLevel>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeLevel {
    pub code: Code,
    pub level: CheckLevel,
    pub location: Location,
}

/// What `auditpack check` does with a diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckLevel {
    /// Drop the finding.
    Allow,
    /// Report it; it does not fail the check.
    Warn,
    /// Report it as an error; the check fails (exit 1).
    Deny,
}

#[derive(Debug, Clone, Serialize)]
pub struct Organisation {
    pub name: String,
    pub website: Option<String>,
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct System {
    pub name: String,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    #[serde(rename = "type")]
    pub kind: AuditType,
    /// Type 2: the observation period. Type 1: both equal the as-of date.
    pub start: Date,
    pub end: Date,
    /// The package's date; never the wall clock.
    pub report_date: Date,
    pub categories: Vec<Category>,
    /// Where `categories` is written, for findings about the scope.
    #[serde(skip)]
    pub categories_at: Location,
}

impl Audit {
    pub fn in_scope(&self, c: Category) -> bool {
        self.categories.contains(&c)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Paths {
    pub evidence: PathBuf,
    pub controls: PathBuf,
    pub assets: PathBuf,
    pub risks: PathBuf,
    pub narrative: PathBuf,
    pub templates: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct Branding {
    /// The running-header label of the draft SOC 2 report.
    pub confidentiality: String,
    /// The running-header label of the auditor's annex.
    pub annex_confidentiality: String,
    pub accent: String,
    pub logo: Option<PathBuf>,
    /// Where auditpack.toml names the logo (for the pipeline's check that the PDF can embed it).
    #[serde(skip)]
    pub logo_at: Option<Location>,
}

/// `[package]` in auditpack.toml.
#[derive(Debug, Clone, Serialize)]
pub struct PackageSettings {
    /// Evidence that may hold secrets (paths or globs relative to the project), each with where
    /// it is written, so an entry that allows nothing can be pointed at.
    pub allow_secrets: Vec<AllowSecret>,
    /// Deflate level, 1-9, for the entries that are compressed.
    pub compression_level: u32,
}

impl Default for PackageSettings {
    fn default() -> Self {
        PackageSettings { allow_secrets: Vec::new(), compression_level: DEFAULT_COMPRESSION_LEVEL }
    }
}

/// zip's and gzip's default: at this level the package is no larger than `zip -r` makes it.
pub const DEFAULT_COMPRESSION_LEVEL: u32 = 6;

#[derive(Debug, Clone, Serialize)]
pub struct AllowSecret {
    pub pattern: String,
    #[serde(skip)]
    pub location: Location,
}

/// The annex's running-header label unless `[branding] annex_confidentiality` says otherwise.
pub const DEFAULT_ANNEX_CONFIDENTIALITY: &str = "Restricted - management and the service auditor only";

/// `[assertion]` in auditpack.toml: management's own words for Section II and who signs it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AssertionSettings {
    pub signatory: Option<String>,
    pub title: Option<String>,
    /// None: left for the date of the service auditor's report.
    pub date: Option<Date>,
    /// Deviations management decides to describe, each a paragraph shown verbatim.
    pub deviations: Vec<String>,
}

/// `[report]` in auditpack.toml.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSettings {
    /// Up to this many evidence files, the evidence index lists every file; beyond it, the report
    /// summarises the evidence per control and points to the complete listings in the package.
    pub evidence_index_rows: usize,
}

/// The default of `[report] evidence_index_rows`: about a hundred PDF pages of evidence index.
pub const DEFAULT_EVIDENCE_INDEX_ROWS: usize = 5000;

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings { evidence_index_rows: DEFAULT_EVIDENCE_INDEX_ROWS }
    }
}

/// `[snapshot]` in auditpack.toml.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSettings {
    /// The snapshot store: relative to the project, or absolute, or `s3://bucket/prefix`.
    pub store: PathBuf,
    /// Object Lock retention for everything a snapshot writes (S3 stores only).
    pub retention: Option<Retention>,
    /// An RFC 3161 time-stamping authority asked for a token over each new manifest.
    pub tsa: Option<String>,
}

/// How long, and how strictly, the storage must keep what a snapshot writes (S3 Object Lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    pub days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionMode {
    /// Users with a special permission may shorten or remove it.
    Governance,
    /// Nobody, not even the account root, can delete or shorten it before the date.
    Compliance,
}

impl RetentionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Governance => "governance",
            RetentionMode::Compliance => "compliance",
        }
    }
}

/// Where snapshots are kept unless `[snapshot] store` says otherwise.
pub const DEFAULT_SNAPSHOT_STORE: &str = ".auditpack/snapshots";

/// The evidence folder of the project in `root` as `[paths] evidence` names it (default
/// `evidence`), read without loading the project: output paths are checked against it before
/// anything is read or written.
pub fn evidence_dir_of(root: &Path) -> PathBuf {
    let configured = crate::fsutil::read_limited(&root.join(CONFIG_FILE), MAX_FILE_BYTES)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.trim_start_matches('\u{feff}').parse::<toml::Table>().ok())
        .and_then(|t| t.get("paths")?.get("evidence")?.as_str().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("evidence"));
    root.join(configured)
}

/// `[[collector]]` entries of auditpack.toml.
pub(super) fn load_collectors(
    src: &Source,
    top: &toml::de::DeTable<'_>,
    controls: &[Control],
    failed: &Failed,
    diags: &mut Diagnostics,
) -> Vec<ipe::Collector> {
    let Some(v) = toml_de::get(top, "collector") else {
        return Vec::new();
    };
    let raws: Vec<ipe::RawCollector> = toml_de::array(src, v, "collector", diags)
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let what = match raw_id(c) {
                Some(id) => format!("in collector `{id}`"),
                None => format!("in collector #{}", i + 1),
            };
            toml_de::deserialize(src, c, &what, ipe::COLLECTOR_KEYS, diags)
        })
        .collect();
    // A control that failed to load is already reported; naming it is not a second problem.
    let known = |id: &str| controls.iter().any(|c| c.id == id) || failed.controls.contains(id);
    ipe::collectors(src, raws, &known, diags)
}

pub(super) fn validate_not_relevant(
    src: &Source,
    raw: Vec<raw::NotRelevant>,
    categories: Option<&[Category]>,
    diags: &mut Diagnostics,
) -> Vec<NotRelevant> {
    let mut out: Vec<NotRelevant> = Vec::new();
    for n in raw {
        let Some(c) = crate::model::criterion(n.criterion.get_ref()) else {
            diags.push(
                Diagnostic::error(
                    Code::UnknownCriterion,
                    format!("`{}` is not a trust services criterion", n.criterion.get_ref().trim()),
                )
                .at(src.span(n.criterion.span()))
                .hint("use an id such as CC6.4 or A1.3"),
            );
            continue;
        };
        if categories.is_some_and(|cats| !cats.contains(&c.category)) {
            diags.push(
                Diagnostic::warning(
                    Code::CriterionOutOfScope,
                    format!(
                        "{} is declared not relevant, but its category ({}) is not in scope anyway",
                        c.id,
                        c.category.title()
                    ),
                )
                .at(src.span(n.criterion.span()))
                .hint("only criteria of categories in scope need a reason; remove the entry"),
            );
            continue;
        }
        if n.reason.trim().is_empty() {
            diags.push(
                Diagnostic::error(Code::MissingKey, format!("{} is declared not relevant without a reason", c.id))
                    .at(src.span(n.criterion.span()))
                    .hint("DC 200 asks why the criterion does not apply: write it in `reason`"),
            );
            continue;
        }
        if !out.iter().any(|o| o.criterion == c.id) {
            out.push(NotRelevant { criterion: c.id.clone(), reason: n.reason });
        }
    }
    out.sort_by_key(|n| crate::model::criterion_rank(&n.criterion));
    out
}

pub(super) fn validate_report(src: &Source, raw: raw::Report, diags: &mut Diagnostics) -> ReportSettings {
    let mut settings = ReportSettings::default();
    if let Some(n) = raw.evidence_index_rows {
        match usize::try_from(*n.get_ref()) {
            Ok(rows) => settings.evidence_index_rows = rows,
            Err(_) => diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`evidence_index_rows` must be 0 or more, found {}", n.get_ref()),
                )
                .at(src.span(n.span()))
                .hint(format!(
                    "the default is {DEFAULT_EVIDENCE_INDEX_ROWS}; 0 always summarises the evidence per control"
                )),
            ),
        }
    }
    settings
}

pub(super) fn validate_snapshot(src: &Source, raw: raw::Snapshot, diags: &mut Diagnostics) -> SnapshotSettings {
    let retention = raw.retention.and_then(|r| {
        let r = r.into_inner();
        let mode = match r.mode.get_ref().as_str() {
            "compliance" => Some(RetentionMode::Compliance),
            "governance" => Some(RetentionMode::Governance),
            other => {
                diags.push(
                    Diagnostic::error(Code::InvalidValue, format!("`retention.mode` must be \"compliance\" or \"governance\", found \"{other}\""))
                        .at(src.span(r.mode.span()))
                        .hint("compliance: nobody can delete or shorten it; governance: a user with s3:BypassGovernanceRetention can"),
                );
                None
            }
        };
        let days = match u32::try_from(*r.days.get_ref()) {
            Ok(d) if d > 0 && d <= 36_500 => Some(d),
            _ => {
                diags.push(
                    Diagnostic::error(Code::InvalidValue, format!("`retention.days` must be between 1 and 36500, found {}", r.days.get_ref()))
                        .at(src.span(r.days.span()))
                        .hint("the number of days the storage keeps each object after the snapshot that wrote it"),
                );
                None
            }
        };
        Some(Retention { mode: mode?, days: days? })
    });
    let tsa = raw.tsa.and_then(|t| {
        let url = t.get_ref().trim();
        if url.starts_with("http://") || url.starts_with("https://") {
            Some(url.to_string())
        } else {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`tsa` must be an http:// or https:// URL, found \"{url}\""),
                )
                .at(src.span(t.span()))
                .hint("the address of an RFC 3161 time-stamping authority, e.g. https://freetsa.org/tsr"),
            );
            None
        }
    });
    SnapshotSettings {
        store: raw
            .store
            .map(|s| PathBuf::from(s.into_inner()))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SNAPSHOT_STORE)),
        retention,
        tsa,
    }
}

pub(super) fn validate_sampling(src: &Source, raw: raw::Sampling, diags: &mut Diagnostics) -> Sampling {
    let method = raw.method.as_ref().map(|m| m.get_ref().as_str()).unwrap_or("table");
    let fraction = |v: &Option<S<f64>>, key: &str, default: f64, diags: &mut Diagnostics| -> f64 {
        match v {
            Some(x) if *x.get_ref() > 0.0 && *x.get_ref() < 1.0 => *x.get_ref(),
            Some(x) => {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("`{key}` must be a fraction between 0 and 1, found {}", x.get_ref()),
                    )
                    .at(src.span(x.span()))
                    .hint("e.g. 0.05 for 5%"),
                );
                default
            }
            None => default,
        }
    };
    match method {
        "statistical" => Sampling::Statistical {
            tolerable_rate: fraction(&raw.tolerable_rate, "tolerable_rate", 0.05, diags),
            risk: fraction(&raw.risk, "risk", 0.05, diags),
        },
        "table" => {
            let mut s = Sampling::default();
            if let (Sampling::Table { sizes }, Some(given)) = (&mut s, raw.sizes) {
                for (freq, n) in given {
                    match Frequency::parse(&freq) {
                        Some(f) if *n.get_ref() >= 1 => {
                            sizes.insert(f, (*n.get_ref()).min(u32::MAX as i64) as u32);
                        }
                        Some(_) => diags.push(
                            Diagnostic::error(
                                Code::InvalidValue,
                                format!("the sample size for {freq} must be at least 1"),
                            )
                            .at(src.span(n.span()))
                            .hint("give a whole number of samples, e.g. 2"),
                        ),
                        None => diags.push(
                            Diagnostic::error(
                                Code::InvalidValue,
                                format!("unknown frequency `{freq}` in [sampling.sizes]"),
                            )
                            .at(src.span(n.span()))
                            .hint(format!("use one of {}", Frequency::expected())),
                        ),
                    }
                }
            }
            s
        }
        other => {
            if let Some(m) = &raw.method {
                diags.push(
                    Diagnostic::error(Code::InvalidValue, format!("unknown sampling method `{other}`"))
                        .at(src.span(m.span()))
                        .hint("use `table` (sizes by frequency) or `statistical`"),
                );
            }
            Sampling::default()
        }
    }
}

/// Best-effort offset of `key = ` in auditpack.toml, for diagnostics about defaulted paths.
pub(super) fn paths_span(src: &Source, key: &str) -> usize {
    src.text.find(&format!("{key} =")).or_else(|| src.text.find(&format!("{key}="))).unwrap_or(0)
}

/// The longest observation period accepted: a SOC 2 Type 2 period is 3 to 12 months, rarely
/// more. The bound keeps a typo (`9999-12-31`) from asking for millions of daily occurrences.
pub const MAX_PERIOD_YEARS: i64 = 3;

pub(super) fn validate_audit(src: &Source, a: raw::Audit, diags: &mut Diagnostics) -> Option<Audit> {
    let kind = AuditType::parse(a.kind.get_ref());
    if kind.is_none() {
        diags.push(bad_word(src, &a.kind, "audit type", AuditType::expected()));
    }
    let mut categories = Vec::new();
    for c in a.categories.get_ref() {
        match Category::parse(c.get_ref()) {
            Some(cat) if !categories.contains(&cat) => categories.push(cat),
            Some(_) => {}
            None => diags.push(bad_word(src, c, "trust services category", Category::expected())),
        }
    }
    categories.sort();
    if !categories.contains(&Category::Security) {
        diags.push(
            Diagnostic::error(Code::MissingSecurity, "the Security category is not in scope")
                .at(src.span(a.categories.span()))
                .hint("add \"security\" to `categories`: the common criteria (CC1-CC9) are in scope of every SOC 2 examination"),
        );
    }
    let missing = |key: &str, why: &str| {
        Diagnostic::error(Code::MissingKey, format!("[audit] has no `{key}`"))
            .at(src.span(a.kind.span()))
            .hint(why.to_string())
    };
    let (start, end) = match kind? {
        AuditType::Type1 => {
            let Some(as_of) = &a.as_of else {
                diags.push(missing(
                    "as_of",
                    "a Type 1 report describes the design as of a date: add `as_of = YYYY-MM-DD`",
                ));
                return None;
            };
            (as_of.get_ref().0, as_of.get_ref().0)
        }
        AuditType::Type2 => {
            let (Some(s), Some(e)) = (&a.period_start, &a.period_end) else {
                if a.period_start.is_none() {
                    diags.push(missing(
                        "period_start",
                        "a Type 2 report covers a period: add `period_start = YYYY-MM-DD`",
                    ));
                }
                if a.period_end.is_none() {
                    diags.push(missing("period_end", "a Type 2 report covers a period: add `period_end = YYYY-MM-DD`"));
                }
                return None;
            };
            let (start, end) = (s.get_ref().0, e.get_ref().0);
            if end <= start {
                let what = if end == start {
                    "the observation period starts and ends on the same day"
                } else {
                    "the observation period ends before it starts"
                };
                let hint = if end == start {
                    "a Type 2 period spans months: set `period_end` after `period_start`, or use `type = \"type1\"` with `as_of` for a single date"
                } else {
                    "`period_end` must be after `period_start`"
                };
                diags.push(Diagnostic::error(Code::InvalidPeriod, what).at(src.span(e.span())).hint(hint));
                return None;
            }
            // Past the limit when `start + MAX_PERIOD_YEARS` is on or before `end` (or beyond the
            // calendar).
            if start.checked_add(jiff::Span::new().years(MAX_PERIOD_YEARS)).ok().is_none_or(|limit| end >= limit) {
                diags.push(
                    Diagnostic::error(
                        Code::PeriodTooLong,
                        format!("the observation period {start} to {end} is longer than {MAX_PERIOD_YEARS} years"),
                    )
                    .at(src.span(e.span()))
                    .hint(format!(
                        "a SOC 2 Type 2 period is usually 3 to 12 months; check the years of `period_start` and `period_end` (at most {MAX_PERIOD_YEARS} years)"
                    )),
                );
                return None;
            }
            (s.get_ref().0, e.get_ref().0)
        }
    };
    let report_date = a.report_date.map(|d| d.get_ref().0).unwrap_or(end);
    let categories_at = src.span(a.categories.span());
    Some(Audit { kind: kind?, start, end, report_date, categories, categories_at })
}

pub(super) fn validate_paths(src: &Source, p: raw::Paths, diags: &mut Diagnostics) -> Paths {
    let mut one = |v: Option<S<String>>, default: &str| -> PathBuf {
        let Some(v) = v else {
            return PathBuf::from(default);
        };
        let path = PathBuf::from(v.get_ref());
        if path.is_absolute() || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            diags.push(
                Diagnostic::error(Code::InvalidPath, format!("`{}` leaves the project folder", v.get_ref()))
                    .at(src.span(v.span()))
                    .hint("paths are relative to the project folder and may not use `..`"),
            );
            return PathBuf::from(default);
        }
        path
    };
    Paths {
        evidence: one(p.evidence, "evidence"),
        controls: one(p.controls, "controls.toml"),
        assets: one(p.assets, "assets.toml"),
        risks: one(p.risks, "risks.json"),
        narrative: one(p.narrative, "narrative"),
        templates: one(p.templates, "templates"),
    }
}

pub(super) fn validate_branding(src: &Source, b: raw::Branding, diags: &mut Diagnostics) -> Branding {
    let accent = match b.accent {
        Some(a) if is_hex_colour(a.get_ref()) => a.get_ref().to_ascii_lowercase(),
        Some(a) => {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("`{}` is not a colour", a.get_ref()))
                    .at(src.span(a.span()))
                    .hint("write the accent colour as #rrggbb, e.g. \"#1f4e79\""),
            );
            DEFAULT_ACCENT.to_string()
        }
        None => DEFAULT_ACCENT.to_string(),
    };
    Branding {
        confidentiality: b.confidentiality.unwrap_or_else(|| "Confidential".to_string()),
        annex_confidentiality: b.annex_confidentiality.unwrap_or_else(|| DEFAULT_ANNEX_CONFIDENTIALITY.to_string()),
        accent,
        logo_at: b.logo.as_ref().map(|l| src.span(l.span())),
        logo: b.logo.map(|l| PathBuf::from(l.into_inner())),
    }
}

pub(super) fn validate_package(src: &Source, p: raw::Package, diags: &mut Diagnostics) -> PackageSettings {
    let mut allow_secrets = Vec::new();
    for a in p.allow_secrets {
        let location = src.span(a.span());
        if let Err(e) = globset::Glob::new(a.get_ref()) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidPattern,
                    format!("`{}` is not a valid path or glob: {}", a.get_ref(), e.kind()),
                )
                .at(location)
                .hint("give the evidence file's path relative to the project, e.g. \"evidence/keys/test-key.pem\""),
            );
            continue;
        }
        allow_secrets.push(AllowSecret { pattern: a.into_inner(), location });
    }
    let compression_level = match p.compression_level {
        Some(l) if (1..=9).contains(l.get_ref()) => *l.get_ref() as u32,
        Some(l) => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`compression_level` must be a whole number from 1 to 9, found {}", l.get_ref()),
                )
                .at(src.span(l.span()))
                .hint("1 packs fastest, 9 smallest; leave it out for the default, 6"),
            );
            DEFAULT_COMPRESSION_LEVEL
        }
        None => DEFAULT_COMPRESSION_LEVEL,
    };
    PackageSettings { allow_secrets, compression_level }
}

pub const DEFAULT_ACCENT: &str = "#1f4e79";

fn is_hex_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

pub(super) fn validate_matrix(src: &Source, raw: Option<raw::Responsibility>, diags: &mut Diagnostics) -> Matrix {
    let mut m = Matrix::default();
    // toml gives no spans for keys here; problems are located at the cell's value.
    for (model, layers) in raw.unwrap_or_default() {
        let model_v = ServiceModel::parse(&model);
        for (layer, owner) in layers {
            let at = |what: &str, word: &str, expected: String| {
                Diagnostic::error(Code::InvalidValue, format!("unknown {what} `{word}` in [responsibility]"))
                    .at(src.span(owner.span()))
                    .hint(format!("write MODEL.LAYER = \"OWNER\" with MODEL one of {expected}"))
            };
            if model_v.is_none() {
                diags.push(at("service model", &model, ServiceModel::expected()));
                continue;
            }
            let Some(model_v) = model_v else { continue };
            let layer_v = Layer::parse(&layer);
            let owner_v = Owner::parse(owner.get_ref());
            if layer_v.is_none() {
                diags.push(at(
                    "layer",
                    &layer,
                    format!("{} and LAYER one of {}", ServiceModel::expected(), Layer::expected()),
                ));
            }
            if owner_v.is_none() {
                diags.push(bad_word(src, &owner, "owner", Owner::expected()));
            }
            if let (Some(l), Some(o)) = (layer_v, owner_v) {
                m.set(model_v, l, o);
            }
        }
    }
    m
}

pub(super) fn load_check_settings(src: &Source, top: &toml::de::DeTable<'_>, diags: &mut Diagnostics) -> CheckSettings {
    let Some(v) = toml_de::get(top, "check") else {
        return CheckSettings::default();
    };
    let Some(raw) = toml_de::deserialize::<raw::CheckConfig>(src, v, "in [check]", raw::CHECK_KEYS, diags) else {
        return CheckSettings::default();
    };
    let mut levels = Vec::new();
    for (code, level) in raw.levels {
        let parsed = match level.get_ref().trim().to_ascii_lowercase().as_str() {
            "allow" => Some(CheckLevel::Allow),
            "warn" => Some(CheckLevel::Warn),
            "deny" => Some(CheckLevel::Deny),
            _ => None,
        };
        let at = src.span(level.span());
        let Some(known) = Code::from_name(&code) else {
            let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    Code::UnknownCheckCode,
                    format!("[check] levels names `{code}`, which is not a diagnostic code"),
                )
                .at(at)
                .hint(match toml_de::closest(&code, &names) {
                    Some(n) => format!("did you mean `{n}`? The codes are listed in docs/diagnostics.md"),
                    None => "the codes are listed in docs/diagnostics.md".to_string(),
                }),
            );
            continue;
        };
        match parsed {
            Some(l) => levels.push(CodeLevel { code: known, level: l, location: at }),
            None => diags.push(
                Diagnostic::error(Code::InvalidValue, format!("unknown level `{}` for `{}`", level.get_ref(), code))
                    .at(src.span(level.span()))
                    .hint("use \"allow\", \"warn\" or \"deny\""),
            ),
        }
    }
    CheckSettings { levels }
}
