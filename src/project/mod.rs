//! First stage: load the files a user writes (auditpack.toml, controls, assets, risks.json,
//! narratives) into a validated [`Project`].
//!
//! Problems in the files are diagnostics, all collected in one run; a [`Project`] is returned
//! whenever the files could be read well enough to go on, so later stages can add their own.

pub mod ipe;
pub mod procedure;
mod raw;
pub mod risks;
pub mod risks_csv;
pub mod scoring;
pub mod toml_de;

use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use crate::model::{
    AssetCategory, AuditType, Category, Criticality, Frequency, Layer, Matrix, Method, Owner, Sampling, ServiceModel,
    TestType,
};
use jiff::civil::Date;
use raw::S;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml_de::Value;

pub use risks::{Rating, Risk, RiskControl, ScaleValue};
pub use scoring::Scoring;

pub const CONFIG_FILE: &str = "auditpack.toml";

/// A loaded, validated project. Paths are relative to `root` unless said otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    #[serde(skip)]
    pub root: PathBuf,
    pub organisation: Organisation,
    pub system: System,
    pub audit: Audit,
    pub paths: Paths,
    pub branding: Branding,
    pub package: PackageSettings,
    pub report: ReportSettings,
    pub assertion: AssertionSettings,
    pub snapshot: SnapshotSettings,
    pub providers: Vec<Provider>,
    pub matrix: Matrix,
    pub controls: Vec<Control>,
    pub assets: Vec<Asset>,
    pub risks: Vec<Risk>,
    /// Locates the values of the register, for the risk checks.
    #[serde(skip)]
    pub register: risks::Spans,
    pub objectives: Vec<Objective>,
    pub risk: RiskSettings,
    pub check: CheckSettings,
    pub narratives: Vec<Narrative>,
    /// Criteria of in-scope categories that do not apply to the system, with the reason.
    pub not_relevant: Vec<NotRelevant>,
    /// Complementary user entity controls (`[[cuec]]`), in the order written.
    pub cuecs: Vec<Cuec>,
    pub sampling: Sampling,
    /// Commands that produce evidence (`[[collector]]`), run by `auditpack fetch`.
    pub collectors: Vec<ipe::Collector>,
    /// Every project file the loader read (auditpack.toml, the controls files, assets, the
    /// register, narratives), relative to the root, sorted: what a snapshot must record.
    #[serde(skip)]
    pub sources: Vec<PathBuf>,
    /// Ids of entries that were written but failed validation (already reported): a reference
    /// to one of them is not reported again as unknown.
    #[serde(skip)]
    pub failed: Failed,
    /// False when auditpack.toml's required sections did not load: the project is collected and
    /// indexed (so every loading problem is reported) but not assessed or built.
    #[serde(skip)]
    pub assessable: bool,
}

/// Ids of entries that are in the files but did not load (see [`Project::failed`]).
#[derive(Debug, Clone, Default)]
pub struct Failed {
    pub controls: BTreeSet<String>,
    pub providers: BTreeSet<String>,
    pub assets: BTreeSet<String>,
    pub cuecs: BTreeSet<String>,
}

/// A complementary user entity control (`[[cuec]]` in auditpack.toml, DC 200 item 6): a control
/// management assumes user entities operate, with the criteria that depend on it. Controls name
/// the CUECs they rely on (`cuecs = ["CUEC-1"]`).
#[derive(Debug, Clone, Serialize)]
pub struct Cuec {
    pub id: String,
    pub text: String,
    /// Normalised criterion ids, in the AICPA order.
    pub criteria: Vec<String>,
    #[serde(skip)]
    pub location: Location,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotRelevant {
    pub criterion: String,
    pub reason: String,
}

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

/// `[check] levels`: per-code level overrides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckSettings {
    pub levels: Vec<CodeLevel>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeLevel {
    pub code: String,
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

#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub service_model: ServiceModel,
    pub method: Method,
    pub services: Option<String>,
    /// Carve-out only: the controls assumed at the provider, each with the criteria that depend
    /// on it (an inclusive provider's are dropped with a warning).
    pub csocs: Vec<Csoc>,
    /// Inclusive only: the subservice organisation's own management assertion, as management
    /// names it (e.g. "Okta, Inc.'s management assertion dated 15 October 2026").
    pub assertion: Option<String>,
    /// Where the provider is declared (its `id`).
    #[serde(skip)]
    pub location: Location,
}

/// A complementary subservice organisation control: what a carved-out provider is assumed to
/// operate, and the criteria met only if it does.
#[derive(Debug, Clone, Serialize)]
pub struct Csoc {
    pub text: String,
    /// Normalised criterion ids, in the AICPA order.
    pub criteria: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Normalised criterion ids, in the AICPA order, without duplicates.
    pub criteria: Vec<String>,
    pub layer: Layer,
    pub providers: Vec<String>,
    pub frequency: Frequency,
    pub performer: Option<String>,
    pub test_procedure: Option<String>,
    /// How the control is tested; inspection when the project does not say.
    pub test_types: Vec<TestType>,
    pub evidence_patterns: Vec<String>,
    /// Ids of the CUECs (`[[cuec]]`) the control relies on, as written, each once.
    pub cuecs: Vec<String>,
    /// Management's response to exceptions (Section V).
    pub management_response: Option<String>,
    /// The listing whose items are the control's population (`[control.population]`).
    pub population: Option<ipe::PopulationSpec>,
    /// The control's owner on each provider it runs on (one entry with no provider for the
    /// company's own controls).
    pub assignments: Vec<Assignment>,
    pub location: Location,
}

/// A control as it applies on one provider (or on none: the company's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub provider: Option<String>,
    pub owner: Owner,
}

impl Control {
    /// The owner of the control taken as a whole: the one owner if all agree, else joint.
    pub fn overall_owner(&self) -> Owner {
        let mut owners = self.assignments.iter().map(|a| a.owner);
        let first = owners.next().unwrap_or(Owner::Tenant);
        if owners.all(|o| o == first) { first } else { Owner::Joint }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Asset {
    pub id: String,
    pub name: String,
    pub category: AssetCategory,
    pub criticality: Criticality,
    pub provider: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
    /// Globs matched against scanner targets (image names, paths) to link findings to the asset.
    pub scan_targets: Vec<String>,
    pub location: Location,
}

/// A Markdown narrative for the system description.
#[derive(Debug, Clone, Serialize)]
pub struct Narrative {
    /// File stem: `services`, `boundaries`, ...
    pub name: String,
    pub file: PathBuf,
    pub markdown: String,
}

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

/// The result of loading: a project when the files allowed one, and every diagnostic found.
pub struct Loaded {
    pub project: Option<Project>,
    pub diags: Diagnostics,
}

/// The largest project file auditpack reads (auditpack.toml, controls, assets, the register,
/// narratives, sidecars, templates): 16 MiB. A FIFO or `/dev/zero` named as one is refused, not
/// read forever.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// The longest line of a TOML, Markdown or CSV project file, and the longest string of a JSON
/// register: 64 KiB. Rendering costs a multiple of the longest unbroken text, so a 5 MB control
/// title would cost the better part of a gigabyte.
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// ENAMETOOLONG: a path over 4096 bytes or a name over 255.
pub fn is_name_too_long(e: &std::io::Error) -> bool {
    let code = if cfg!(any(target_os = "macos", target_os = "ios", target_os = "freebsd")) { 63 } else { 36 };
    cfg!(unix) && e.raw_os_error() == Some(code)
}

/// ELOOP: too many symbolic links, i.e. a loop.
pub fn is_link_loop(e: &std::io::Error) -> bool {
    let code = if cfg!(any(target_os = "macos", target_os = "ios", target_os = "freebsd")) { 62 } else { 40 };
    cfg!(unix) && e.raw_os_error() == Some(code)
}

/// A hint for an I/O error on a file the user named, by what went wrong.
pub fn io_hint(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.kind() {
        std::io::ErrorKind::NotFound => "check that the file exists".into(),
        std::io::ErrorKind::PermissionDenied => "fix its permissions".into(),
        std::io::ErrorKind::InvalidInput if text.contains("not a regular file") => {
            "replace it with a regular file: folders, FIFOs, sockets and devices are not read".into()
        }
        std::io::ErrorKind::InvalidInput if text.contains("larger than") => {
            format!("a project file may be at most {} MiB: split it or shorten it", MAX_FILE_BYTES >> 20)
        }
        _ if is_name_too_long(e) => "shorten the path: a path is at most 4096 bytes, a name 255".into(),
        _ if is_link_loop(e) => "a symbolic link loop: point the link at a real file".into(),
        std::io::ErrorKind::InvalidData => "save the file as UTF-8".into(),
        _ => "check that the file exists and is readable".into(),
    }
}

/// Reads a project file as UTF-8 (a leading byte-order mark is dropped), with a size limit and,
/// except for JSON, a line-length limit; failures are diagnostics.
pub(crate) fn read_source(root: &Path, rel: &Path, diags: &mut Diagnostics) -> Option<Source> {
    let full = root.join(rel);
    match crate::fsutil::read_limited(&full, MAX_FILE_BYTES) {
        Ok(mut bytes) => {
            if bytes.starts_with(b"\xEF\xBB\xBF") {
                bytes.drain(..3);
            }
            match String::from_utf8(bytes) {
                Ok(text) => {
                    let json = rel.extension().is_some_and(|x| x.eq_ignore_ascii_case("json"));
                    let src = Source::new(rel, text);
                    if !json && let Some((at, len)) = long_line(&src.text) {
                        diags.push(too_long(src.location(at), &format!("the line is {len} bytes long")));
                        return None;
                    }
                    Some(src)
                }
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    let loc = Source::new(rel, text).location(at);
                    diags.push(
                        Diagnostic::error("not-utf8", "the file is not valid UTF-8")
                            .at(loc)
                            .hint("save the file as UTF-8"),
                    );
                    None
                }
            }
        }
        Err(e) => {
            diags.push(
                Diagnostic::error("unreadable-file", format!("cannot read the file: {e}"))
                    .at_file(rel)
                    .hint(io_hint(&e)),
            );
            None
        }
    }
}

/// The offset and length of the first line longer than [`MAX_LINE_BYTES`].
fn long_line(text: &str) -> Option<(usize, usize)> {
    let mut at = 0;
    for line in text.split('\n') {
        if line.len() > MAX_LINE_BYTES {
            return Some((at, line.len()));
        }
        at += line.len() + 1;
    }
    None
}

/// The `too-long` diagnostic: a line or a value longer than [`MAX_LINE_BYTES`].
pub(crate) fn too_long(at: Location, what: &str) -> Diagnostic {
    Diagnostic::error(
        "too-long",
        format!("{what}; auditpack reads at most {MAX_LINE_BYTES} bytes on one line or in one value"),
    )
    .at(at)
    .hint("shorten it, or break the text into paragraphs or several values")
}

/// The `id` string of a table that did not deserialize, to recognise later references to it.
fn raw_id(value: &Value<'_>) -> Option<String> {
    let toml::de::DeValue::Table(t) = value.get_ref() else { return None };
    match toml_de::get(t, "id")?.get_ref() {
        toml::de::DeValue::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// Loads and validates the project in `root`.
pub fn load(root: &Path) -> Loaded {
    let mut diags = Diagnostics::default();
    let project = load_inner(root, &mut diags);
    Loaded { project, diags }
}

fn load_inner(root: &Path, diags: &mut Diagnostics) -> Option<Project> {
    if !root.join(CONFIG_FILE).is_file() {
        let what = match std::fs::metadata(root.join(CONFIG_FILE)) {
            Ok(m) => format!("its auditpack.toml is {}, not a file", crate::fsutil::kind_of(&m.file_type())),
            Err(_) if root.is_dir() => "the folder has no auditpack.toml".to_string(),
            Err(_) => "the folder does not exist".to_string(),
        };
        diags.push(
            Diagnostic::error("no-project", format!("{} is not an auditpack project: {what}", root.display()))
                .at_file(root.join(CONFIG_FILE))
                .hint(format!(
                    "run `auditpack init {}` to start a project, or give the project folder",
                    root.display()
                )),
        );
        return None;
    }
    let src = read_source(root, Path::new(CONFIG_FILE), diags)?;
    let doc = toml_de::parse(&src, diags)?;
    let top = doc.get_ref();
    toml_de::check_keys(&src, top, raw::TOP_KEYS, "in auditpack.toml", diags);

    let section = |key: &str, known: &[&str], diags: &mut Diagnostics| -> Option<&Value<'_>> {
        let v = toml_de::get(top, key);
        if v.is_none() && matches!(key, "organisation" | "system" | "audit") {
            diags.push(
                Diagnostic::error("missing-key", format!("auditpack.toml has no [{key}] section"))
                    .at(src.location(0))
                    .hint(format!("add a [{key}] table with the keys {}", known.join(", "))),
            );
        }
        v
    };

    let organisation: Option<raw::Organisation> = section("organisation", raw::ORGANISATION_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [organisation]", raw::ORGANISATION_KEYS, diags));
    let system: Option<raw::System> = section("system", raw::SYSTEM_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [system]", raw::SYSTEM_KEYS, diags));
    let audit: Option<raw::Audit> = section("audit", raw::AUDIT_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [audit]", raw::AUDIT_KEYS, diags));
    let paths: raw::Paths = section("paths", raw::PATHS_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [paths]", raw::PATHS_KEYS, diags))
        .unwrap_or_default();
    let branding: raw::Branding = section("branding", raw::BRANDING_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [branding]", raw::BRANDING_KEYS, diags))
        .unwrap_or_default();
    let package: raw::Package = section("package", raw::PACKAGE_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [package]", raw::PACKAGE_KEYS, diags))
        .unwrap_or_default();
    let report: raw::Report = section("report", raw::REPORT_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [report]", raw::REPORT_KEYS, diags))
        .unwrap_or_default();
    let assertion: raw::Assertion = section("assertion", raw::ASSERTION_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [assertion]", raw::ASSERTION_KEYS, diags))
        .unwrap_or_default();
    let snapshot: raw::Snapshot = section("snapshot", raw::SNAPSHOT_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [snapshot]", raw::SNAPSHOT_KEYS, diags))
        .unwrap_or_default();
    let mut failed = Failed::default();
    let raw_providers: Vec<raw::Provider> = match toml_de::get(top, "provider") {
        Some(v) => toml_de::array(&src, v, "provider", diags)
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let what = match raw_id(p) {
                    Some(id) => format!("in provider `{id}`"),
                    None => format!("in provider #{}", i + 1),
                };
                let r = toml_de::deserialize(&src, p, &what, raw::PROVIDER_KEYS, diags);
                if r.is_none() {
                    failed.providers.extend(raw_id(p));
                }
                r
            })
            .collect(),
        None => Vec::new(),
    };
    let raw_not_relevant: Vec<raw::NotRelevant> = match toml_de::get(top, "not_relevant") {
        Some(v) => toml_de::array(&src, v, "not_relevant", diags)
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                toml_de::deserialize(&src, p, &format!("in not_relevant #{}", i + 1), raw::NOT_RELEVANT_KEYS, diags)
            })
            .collect(),
        None => Vec::new(),
    };
    let raw_sampling: raw::Sampling = section("sampling", raw::SAMPLING_KEYS, diags)
        .and_then(|v| toml_de::deserialize(&src, v, "in [sampling]", raw::SAMPLING_KEYS, diags))
        .unwrap_or_default();
    let responsibility: Option<raw::Responsibility> = toml_de::get(top, "responsibility")
        .and_then(|v| toml_de::deserialize(&src, v, "in [responsibility]", &[], diags));

    let audit = audit.and_then(|a| validate_audit(&src, a, diags));
    let paths = validate_paths(&src, paths, diags);
    let branding = validate_branding(&src, branding, diags);
    let package = validate_package(&src, package, diags);
    let report = validate_report(&src, report, diags);
    let trimmed = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let assertion = AssertionSettings {
        signatory: trimmed(assertion.signatory),
        title: trimmed(assertion.title),
        date: assertion.date.map(|d| d.get_ref().0),
        deviations: assertion.deviations.into_iter().map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect(),
    };
    let snapshot = validate_snapshot(&src, snapshot, diags);
    // Without a valid [audit], the scope is unknown: nothing is reported as out of scope.
    let categories = audit.as_ref().map(|a| a.categories.clone()).unwrap_or_default();
    let providers = validate_providers(&src, raw_providers, &categories, &mut failed, diags);
    let matrix = validate_matrix(&src, responsibility, diags);
    let not_relevant =
        validate_not_relevant(&src, raw_not_relevant, audit.as_ref().map(|a| a.categories.as_slice()), diags);
    let sampling = validate_sampling(&src, raw_sampling, diags);

    let objectives = load_objectives(&src, top, diags);
    let risk = load_risk_settings(&src, top, diags);
    let check = load_check_settings(&src, top, diags);

    let (cuecs, cuecs_without_criteria) = load_cuecs(&src, top, &categories, &mut failed, diags);
    let failed_cuecs = failed.cuecs.clone();
    let mut cuec_use = CuecUse::new(&cuecs, &failed_cuecs);
    let controls =
        load_controls(root, &paths.controls, &providers, &matrix, &categories, &mut cuec_use, &mut failed, diags);
    check_cuecs(&cuecs, &cuecs_without_criteria, &cuec_use, &controls, diags);
    let collectors = load_collectors(&src, top, &controls, &failed, diags);
    let assets = load_assets(root, &paths.assets, &providers, &mut failed, diags);
    // Failed assets are known: a risk naming one is not reported again.
    let asset_ids: BTreeSet<String> =
        assets.iter().map(|a| a.id.clone()).chain(failed.assets.iter().cloned()).collect();
    let objective_ids: BTreeSet<String> = objectives.iter().map(|o| o.id.clone()).collect();
    let ctx = risks::Context { scoring: &risk.scoring, assets: &asset_ids, objectives: &objective_ids };
    let register = risks::load(root, &paths.risks, &ctx, diags);
    let narratives = load_narratives(root, &paths.narrative, diags);

    if !root.join(&paths.evidence).is_dir() {
        let loc = src.location(paths_span(&src, "evidence"));
        diags.push(
            Diagnostic::error(
                "missing-evidence-dir",
                format!("the evidence folder `{}` does not exist", paths.evidence.display()),
            )
            .at(loc)
            .hint("create the folder and put the evidence files in it, or set `evidence` under [paths]"),
        );
    }
    if let Some(logo) = &branding.logo {
        let at = src.location(paths_span(&src, "logo"));
        match crate::fsutil::read_limited(&root.join(logo), MAX_FILE_BYTES) {
            Ok(bytes) if crate::render::pdf::is_supported_image(&bytes) => {}
            Ok(_) => diags.push(
                Diagnostic::error("invalid-logo", format!("the logo `{}` is not a PNG or JPEG image", logo.display()))
                    .at(at)
                    .hint("give a PNG or JPEG file (the PDF embeds it), or remove `logo`"),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => diags.push(
                Diagnostic::error("missing-file", format!("the logo `{}` does not exist", logo.display()))
                    .at(at)
                    .hint("give a PNG or JPEG file relative to the project folder, or remove `logo`"),
            ),
            Err(e) => diags.push(
                Diagnostic::error("invalid-logo", format!("the logo `{}` cannot be read: {e}", logo.display()))
                    .at(at)
                    .hint(io_hint(&e)),
            ),
        }
    }

    let mut sources = vec![PathBuf::from(CONFIG_FILE)];
    sources.extend(control_files(root, &paths.controls, &mut Diagnostics::default()));
    for p in [&paths.assets, &paths.risks] {
        if root.join(p).is_file() {
            sources.push(p.clone());
        }
    }
    sources.extend(narratives.iter().map(|n| n.file.clone()));
    sources.sort();
    sources.dedup();

    // A project whose required sections failed still goes on to collect and index, so that the
    // problems of the evidence and its sidecars are reported in the same run; it is not assessed.
    let assessable = organisation.is_some() && system.is_some() && audit.is_some();
    let placeholder = jiff::civil::date(2000, 1, 1);
    Some(Project {
        sources,
        root: root.to_path_buf(),
        organisation: organisation
            .map(|o| Organisation { name: o.name, website: o.website, contact: o.contact })
            .unwrap_or(Organisation { name: String::new(), website: None, contact: None }),
        system: system
            .map(|s| System { name: s.name, summary: s.summary })
            .unwrap_or(System { name: String::new(), summary: None }),
        audit: audit.unwrap_or(Audit {
            kind: AuditType::Type2,
            start: placeholder,
            end: placeholder,
            report_date: placeholder,
            categories,
            categories_at: src.location(0),
        }),
        failed,
        assessable,
        paths,
        branding,
        package,
        report,
        assertion,
        snapshot,
        providers,
        matrix,
        controls,
        assets,
        risks: register.risks,
        register: register.spans,
        objectives,
        risk,
        check,
        narratives,
        not_relevant,
        cuecs,
        sampling,
        collectors,
    })
}

/// Criteria ids written for a control, a CUEC or a CSOC (`whose`, e.g. "CUEC `CUEC-1`"): an
/// unknown id is an error, one of a category not in scope a warning. The known ids, in the AICPA order, each once.
fn criteria_list(
    src: &Source,
    list: &[S<String>],
    whose: &str,
    categories: &[Category],
    diags: &mut Diagnostics,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cr in list {
        match crate::model::criterion(cr.get_ref()) {
            Some(found) => {
                // Security is mandatory and reported on its own when missing.
                if found.category != Category::Security
                    && !categories.is_empty()
                    && !categories.contains(&found.category)
                {
                    diags.push(
                        Diagnostic::warning(
                            "criterion-out-of-scope",
                            format!("{whose} maps to {} ({}), which is not in scope", found.id, found.category.title()),
                        )
                        .at(src.location(cr.span().start))
                        .hint(format!("add \"{}\" to [audit] categories, or remove the criterion", found.category)),
                    );
                }
                if !out.contains(&found.id) {
                    out.push(found.id.clone());
                }
            }
            None => diags.push(
                Diagnostic::error(
                    "unknown-criterion",
                    format!("`{}` is not a trust services criterion", cr.get_ref().trim()),
                )
                .at(src.location(cr.span().start))
                .hint("use ids from the 2017 TSC such as CC6.1, A1.2 or C1.1 (group headings such as CC6.0 are not criteria)"),
            ),
        }
    }
    out.sort_by_key(|c| crate::model::criterion_rank(c));
    out
}

/// `[[cuec]]` entries of auditpack.toml, and those written without criteria (id, where).
fn load_cuecs(
    src: &Source,
    top: &toml::de::DeTable<'_>,
    categories: &[Category],
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> (Vec<Cuec>, Vec<(String, Location)>) {
    let Some(list) = toml_de::get(top, "cuec") else {
        return (Vec::new(), Vec::new());
    };
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    let mut without = Vec::new();
    for (i, v) in toml_de::array(src, list, "cuec", diags).iter().enumerate() {
        let what = match raw_id(v) {
            Some(id) => format!("in cuec `{id}`"),
            None => format!("in cuec #{}", i + 1),
        };
        let Some(c) = toml_de::deserialize::<raw::Cuec>(src, v, &what, raw::CUEC_KEYS, diags) else {
            failed.cuecs.extend(raw_id(v));
            continue;
        };
        if !check_id(src, &c.id, "cuec", &mut seen, diags) {
            continue;
        }
        let id = c.id.get_ref().clone();
        let text = c.text.get_ref().trim().to_string();
        if text.is_empty() {
            diags.push(
                Diagnostic::error("missing-key", format!("CUEC `{id}` has an empty `text`"))
                    .at(src.location(c.text.span().start))
                    .hint("write the control user entities are expected to operate, e.g. \"User entities remove the accounts of their departed users.\""),
            );
            failed.cuecs.insert(id);
            continue;
        }
        let written = c.criteria.as_ref().map(|l| l.get_ref().as_slice()).unwrap_or_default();
        let criteria = criteria_list(src, written, &format!("CUEC `{id}`"), categories, diags);
        if written.is_empty() {
            let at = c.criteria.as_ref().map(|l| l.span().start).unwrap_or(c.id.span().start);
            without.push((id.clone(), src.location(at)));
        }
        out.push(Cuec { id, text, criteria, location: src.location(c.id.span().start) });
    }
    (out, without)
}

/// What the controls files say about the project's CUECs, gathered while they load.
struct CuecUse<'a> {
    declared: &'a [Cuec],
    failed: &'a BTreeSet<String>,
    /// CUEC id -> the controls that name it, including controls that failed to load (so an entry
    /// is not reported unused because the control naming it had another problem).
    named_by: BTreeMap<String, Vec<String>>,
    /// The ids suggested for per-control `cuec` strings, by text, so one text gets one id.
    suggested: Vec<(String, String)>,
}

impl<'a> CuecUse<'a> {
    fn new(declared: &'a [Cuec], failed: &'a BTreeSet<String>) -> Self {
        CuecUse { declared, failed, named_by: BTreeMap::new(), suggested: Vec::new() }
    }

    /// Records the `cuecs` a control entry names, read from the raw table (it may not load).
    fn record(&mut self, control: &str, value: &Value<'_>) {
        let toml::de::DeValue::Table(t) = value.get_ref() else { return };
        let Some(list) = toml_de::get(t, "cuecs") else { return };
        let toml::de::DeValue::Array(a) = list.get_ref() else { return };
        for v in a {
            if let toml::de::DeValue::String(s) = v.get_ref() {
                let names = self.named_by.entry(s.to_string()).or_default();
                if !names.iter().any(|n| n == control) {
                    names.push(control.to_string());
                }
            }
        }
    }

    /// The id to suggest for a former `cuec` string: the declared CUEC with that text, else the
    /// first `CUEC-n` not yet taken.
    fn suggest(&mut self, text: &str) -> String {
        let text = text.trim();
        if let Some(c) = self.declared.iter().find(|c| c.text == text) {
            return c.id.clone();
        }
        if let Some((_, id)) = self.suggested.iter().find(|(t, _)| t == text) {
            return id.clone();
        }
        let taken = |id: &str| {
            self.declared.iter().any(|c| c.id == id)
                || self.failed.contains(id)
                || self.suggested.iter().any(|(_, s)| s == id)
        };
        let id = (1..).map(|n| format!("CUEC-{n}")).find(|id| !taken(id)).unwrap_or_default();
        self.suggested.push((text.to_string(), id.clone()));
        id
    }
}

/// A string as a TOML basic string, quotes included.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A list of strings as a TOML array: `["CC6.1", "CC6.2"]`.
fn toml_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| toml_string(s)).collect::<Vec<_>>().join(", "))
}

/// CUECs no control names, and CUECs without criteria (with the criteria of their controls as
/// the suggestion).
fn check_cuecs(
    cuecs: &[Cuec],
    without_criteria: &[(String, Location)],
    used: &CuecUse<'_>,
    controls: &[Control],
    diags: &mut Diagnostics,
) {
    for (id, at) in without_criteria {
        let named_by = used.named_by.get(id).cloned().unwrap_or_default();
        let mut criteria: Vec<String> = Vec::new();
        for c in controls.iter().filter(|c| named_by.contains(&c.id)) {
            for cr in &c.criteria {
                if !criteria.contains(cr) {
                    criteria.push(cr.clone());
                }
            }
        }
        criteria.sort_by_key(|c| crate::model::criterion_rank(c));
        let hint = if criteria.is_empty() {
            "list the criteria that are met only if user entities operate it, e.g. criteria = [\"CC6.2\"]".to_string()
        } else {
            format!(
                "list the criteria that are met only if user entities operate it, e.g. those of the controls that rely on it ({}): criteria = {}",
                named_by.join(", "),
                toml_list(&criteria)
            )
        };
        diags.push(
            Diagnostic::warning("cuec-without-criteria", format!("CUEC `{id}` is mapped to no criterion"))
                .at(at.clone())
                .hint(hint),
        );
    }
    for c in cuecs {
        if !used.named_by.contains_key(&c.id) {
            diags.push(
                Diagnostic::warning("unused-cuec", format!("no control relies on CUEC `{}`", c.id))
                    .at(c.location.clone())
                    .hint(format!(
                        "name it in the `cuecs` of the controls designed with it in mind (cuecs = [\"{}\"]), or remove it",
                        c.id
                    )),
            );
        }
    }
}

/// `[[collector]]` entries of auditpack.toml.
fn load_collectors(
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

fn validate_not_relevant(
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
                    "unknown-criterion",
                    format!("`{}` is not a trust services criterion", n.criterion.get_ref().trim()),
                )
                .at(src.location(n.criterion.span().start))
                .hint("use an id such as CC6.4 or A1.3"),
            );
            continue;
        };
        if categories.is_some_and(|cats| !cats.contains(&c.category)) {
            diags.push(
                Diagnostic::warning(
                    "criterion-out-of-scope",
                    format!(
                        "{} is declared not relevant, but its category ({}) is not in scope anyway",
                        c.id,
                        c.category.title()
                    ),
                )
                .at(src.location(n.criterion.span().start))
                .hint("only criteria of categories in scope need a reason; remove the entry"),
            );
            continue;
        }
        if n.reason.trim().is_empty() {
            diags.push(
                Diagnostic::error("missing-key", format!("{} is declared not relevant without a reason", c.id))
                    .at(src.location(n.criterion.span().start))
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

fn validate_report(src: &Source, raw: raw::Report, diags: &mut Diagnostics) -> ReportSettings {
    let mut settings = ReportSettings::default();
    if let Some(n) = raw.evidence_index_rows {
        match usize::try_from(*n.get_ref()) {
            Ok(rows) => settings.evidence_index_rows = rows,
            Err(_) => diags.push(
                Diagnostic::error(
                    "invalid-value",
                    format!("`evidence_index_rows` must be 0 or more, found {}", n.get_ref()),
                )
                .at(src.location(n.span().start))
                .hint(format!(
                    "the default is {DEFAULT_EVIDENCE_INDEX_ROWS}; 0 always summarises the evidence per control"
                )),
            ),
        }
    }
    settings
}

fn validate_snapshot(src: &Source, raw: raw::Snapshot, diags: &mut Diagnostics) -> SnapshotSettings {
    let retention = raw.retention.and_then(|r| {
        let r = r.into_inner();
        let mode = match r.mode.get_ref().as_str() {
            "compliance" => Some(RetentionMode::Compliance),
            "governance" => Some(RetentionMode::Governance),
            other => {
                diags.push(
                    Diagnostic::error("invalid-value", format!("`retention.mode` must be \"compliance\" or \"governance\", found \"{other}\""))
                        .at(src.location(r.mode.span().start))
                        .hint("compliance: nobody can delete or shorten it; governance: a user with s3:BypassGovernanceRetention can"),
                );
                None
            }
        };
        let days = match u32::try_from(*r.days.get_ref()) {
            Ok(d) if d > 0 && d <= 36_500 => Some(d),
            _ => {
                diags.push(
                    Diagnostic::error("invalid-value", format!("`retention.days` must be between 1 and 36500, found {}", r.days.get_ref()))
                        .at(src.location(r.days.span().start))
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
                    "invalid-value",
                    format!("`tsa` must be an http:// or https:// URL, found \"{url}\""),
                )
                .at(src.location(t.span().start))
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

fn validate_sampling(src: &Source, raw: raw::Sampling, diags: &mut Diagnostics) -> Sampling {
    let method = raw.method.as_ref().map(|m| m.get_ref().as_str()).unwrap_or("table");
    let fraction = |v: &Option<S<f64>>, key: &str, default: f64, diags: &mut Diagnostics| -> f64 {
        match v {
            Some(x) if *x.get_ref() > 0.0 && *x.get_ref() < 1.0 => *x.get_ref(),
            Some(x) => {
                diags.push(
                    Diagnostic::error(
                        "invalid-value",
                        format!("`{key}` must be a fraction between 0 and 1, found {}", x.get_ref()),
                    )
                    .at(src.location(x.span().start))
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
                                "invalid-value",
                                format!("the sample size for {freq} must be at least 1"),
                            )
                            .at(src.location(n.span().start))
                            .hint("give a whole number of samples, e.g. 2"),
                        ),
                        None => diags.push(
                            Diagnostic::error(
                                "invalid-value",
                                format!("unknown frequency `{freq}` in [sampling.sizes]"),
                            )
                            .at(src.location(n.span().start))
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
                    Diagnostic::error("invalid-value", format!("unknown sampling method `{other}`"))
                        .at(src.location(m.span().start))
                        .hint("use `table` (sizes by frequency) or `statistical`"),
                );
            }
            Sampling::default()
        }
    }
}

/// Best-effort offset of `key = ` in auditpack.toml, for diagnostics about defaulted paths.
fn paths_span(src: &Source, key: &str) -> usize {
    src.text.find(&format!("{key} =")).or_else(|| src.text.find(&format!("{key}="))).unwrap_or(0)
}

fn bad_word(src: &Source, s: &S<String>, what: &str, expected: String) -> Diagnostic {
    Diagnostic::error("invalid-value", format!("unknown {what} `{}`", s.get_ref()))
        .at(src.location(s.span().start))
        .hint(format!("use one of {expected}"))
}

/// The longest observation period accepted: a SOC 2 Type 2 period is 3 to 12 months, rarely
/// more. The bound keeps a typo (`9999-12-31`) from asking for millions of daily occurrences.
pub const MAX_PERIOD_YEARS: i64 = 3;

fn validate_audit(src: &Source, a: raw::Audit, diags: &mut Diagnostics) -> Option<Audit> {
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
            Diagnostic::error("missing-security", "the Security category is not in scope")
                .at(src.location(a.categories.span().start))
                .hint("add \"security\" to `categories`: the common criteria (CC1-CC9) are in scope of every SOC 2 examination"),
        );
    }
    let missing = |key: &str, why: &str| {
        Diagnostic::error("missing-key", format!("[audit] has no `{key}`"))
            .at(src.location(a.kind.span().start))
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
                diags.push(Diagnostic::error("invalid-period", what).at(src.location(e.span().start)).hint(hint));
                return None;
            }
            // Past the limit when `start + MAX_PERIOD_YEARS` is on or before `end` (or beyond the
            // calendar).
            if start.checked_add(jiff::Span::new().years(MAX_PERIOD_YEARS)).ok().is_none_or(|limit| end >= limit) {
                diags.push(
                    Diagnostic::error(
                        "period-too-long",
                        format!("the observation period {start} to {end} is longer than {MAX_PERIOD_YEARS} years"),
                    )
                    .at(src.location(e.span().start))
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
    let categories_at = src.location(a.categories.span().start);
    Some(Audit { kind: kind?, start, end, report_date, categories, categories_at })
}

fn validate_paths(src: &Source, p: raw::Paths, diags: &mut Diagnostics) -> Paths {
    let mut one = |v: Option<S<String>>, default: &str| -> PathBuf {
        let Some(v) = v else {
            return PathBuf::from(default);
        };
        let path = PathBuf::from(v.get_ref());
        if path.is_absolute() || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            diags.push(
                Diagnostic::error("invalid-path", format!("`{}` leaves the project folder", v.get_ref()))
                    .at(src.location(v.span().start))
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

fn validate_branding(src: &Source, b: raw::Branding, diags: &mut Diagnostics) -> Branding {
    let accent = match b.accent {
        Some(a) if is_hex_colour(a.get_ref()) => a.get_ref().to_ascii_lowercase(),
        Some(a) => {
            diags.push(
                Diagnostic::error("invalid-value", format!("`{}` is not a colour", a.get_ref()))
                    .at(src.location(a.span().start))
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
        logo: b.logo.map(|l| PathBuf::from(l.into_inner())),
    }
}

fn validate_package(src: &Source, p: raw::Package, diags: &mut Diagnostics) -> PackageSettings {
    let mut allow_secrets = Vec::new();
    for a in p.allow_secrets {
        let location = src.location(a.span().start);
        if let Err(e) = globset::Glob::new(a.get_ref()) {
            diags.push(
                Diagnostic::error(
                    "invalid-pattern",
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
                    "invalid-value",
                    format!("`compression_level` must be a whole number from 1 to 9, found {}", l.get_ref()),
                )
                .at(src.location(l.span().start))
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

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_id(
    src: &Source,
    id: &S<String>,
    what: &str,
    seen: &mut BTreeMap<String, usize>,
    diags: &mut Diagnostics,
) -> bool {
    let text = id.get_ref();
    if !valid_id(text) {
        diags.push(
            Diagnostic::error(
                "invalid-id",
                format!("{what} id `{text}` has characters other than letters, digits, `-`, `_` and `.`"),
            )
            .at(src.location(id.span().start))
            .hint("ids name folders and anchors: keep them short and plain, e.g. AC-01"),
        );
        return false;
    }
    if let Some(first) = seen.get(text) {
        diags.push(
            Diagnostic::error(
                match what {
                    "control" => "duplicate-control",
                    "asset" => "duplicate-asset",
                    _ => "duplicate-id",
                },
                format!("{what} id `{text}` is used twice"),
            )
            .at(src.location(id.span().start))
            .hint(format!("the first use is on line {first}; give each {what} its own id")),
        );
        return false;
    }
    seen.insert(text.clone(), src.location(id.span().start).line.unwrap_or(0));
    true
}

fn validate_providers(
    src: &Source,
    raw: Vec<raw::Provider>,
    categories: &[Category],
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> Vec<Provider> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for p in raw {
        let ok = check_id(src, &p.id, "provider", &mut seen, diags);
        let model = ServiceModel::parse(p.service_model.get_ref());
        if model.is_none() {
            diags.push(bad_word(src, &p.service_model, "service model", ServiceModel::expected()));
        }
        let method = match &p.method {
            None => Some(Method::CarveOut),
            Some(m) => {
                let parsed = Method::parse(m.get_ref());
                if parsed.is_none() {
                    diags.push(bad_word(src, m, "method", Method::expected()));
                }
                parsed
            }
        };
        if ok && (model.is_none() || method.is_none()) {
            failed.providers.insert(p.id.get_ref().clone());
        }
        if let (true, Some(service_model), Some(method)) = (ok, model, method) {
            let csocs = validate_csocs(src, &p, method, categories, diags);
            let assertion = validate_subservice_assertion(src, &p, method, diags);
            out.push(Provider {
                location: src.location(p.id.span().start),
                id: p.id.into_inner(),
                name: p.name,
                service_model,
                method,
                services: p.services,
                csocs,
                assertion,
            });
        }
    }
    out
}

/// A carve-out provider's CSOCs, each mapped to criteria; an inclusive provider has none (its
/// controls are part of the description).
fn validate_csocs(
    src: &Source,
    p: &raw::Provider,
    method: Method,
    categories: &[Category],
    diags: &mut Diagnostics,
) -> Vec<Csoc> {
    let id = p.id.get_ref();
    let Some(list) = &p.csocs else { return Vec::new() };
    if method == Method::Inclusive {
        if !list.get_ref().is_empty() {
            diags.push(
                Diagnostic::warning(
                    "csocs-on-inclusive",
                    format!("provider `{id}` is presented with the inclusive method but lists CSOCs; they are not used"),
                )
                .at(src.location(list.span().start))
                .hint(format!(
                    "with the inclusive method {}'s relevant controls are part of the description: write them as controls (providers = [\"{id}\"], owner = \"provider\") and remove `csocs`; or use method = \"carve-out\"",
                    p.name
                )),
            );
        }
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in list.get_ref() {
        let at = src.location(c.span().start);
        let whose = format!("a CSOC of provider `{id}`");
        let (text, criteria) = match c.get_ref() {
            raw::RawCsoc::Text(t) => (t.trim().to_string(), None),
            raw::RawCsoc::Entry { text, criteria } => {
                (text.as_deref().map(str::trim).unwrap_or_default().to_string(), criteria.as_deref())
            }
        };
        if text.is_empty() {
            diags.push(
                Diagnostic::error("missing-key", format!("{whose} has no `text`"))
                    .at(at)
                    .hint("write what the provider is assumed to do: { text = \"...\", criteria = [\"CC6.4\"] }"),
            );
            continue;
        }
        let written = criteria.unwrap_or_default();
        let mapped = criteria_list(src, written, &whose, categories, diags);
        if written.is_empty() {
            let replacement = format!("{{ text = {}, criteria = [...] }}", toml_string(&text));
            diags.push(
                Diagnostic::warning(
                    "csoc-without-criteria",
                    format!("{whose} is mapped to no criterion: \"{}\"", abbreviate_text(&text, 60)),
                )
                .at(at)
                .hint(format!(
                    "write it as {replacement}, listing the criteria met only if {} operates it (e.g. CC6.4 for physical access to its data centres): the assertion and DC 200 item 7 name them",
                    p.name
                )),
            );
        }
        out.push(Csoc { text, criteria: mapped });
    }
    out
}

/// The first `max` characters of `s`, with an ellipsis when cut.
fn abbreviate_text(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}...", s.chars().take(max).collect::<String>()) }
}

/// An inclusive provider's reference to its own management assertion: required; a carve-out
/// provider has none.
fn validate_subservice_assertion(
    src: &Source,
    p: &raw::Provider,
    method: Method,
    diags: &mut Diagnostics,
) -> Option<String> {
    let id = p.id.get_ref();
    let text = p.assertion.as_ref().map(|a| a.get_ref().trim().to_string()).filter(|a| !a.is_empty());
    match method {
        Method::Inclusive if text.is_none() => {
            diags.push(
                Diagnostic::error(
                    "inclusive-without-assertion",
                    format!("inclusive provider `{id}` does not name its own management assertion"),
                )
                .at(src.location(p.assertion.as_ref().map(|a| a.span().start).unwrap_or(p.id.span().start)))
                .hint(format!(
                    "with the inclusive method the report carries {}'s own assertion about its controls: add assertion = \"{}'s management assertion dated ..., presented with management's assertion\"",
                    p.name, p.name
                )),
            );
            None
        }
        Method::CarveOut if text.is_some() => {
            let at = p.assertion.as_ref().map(|a| a.span().start).unwrap_or(p.id.span().start);
            diags.push(
                Diagnostic::error(
                    "invalid-value",
                    format!("provider `{id}` is carved out; `assertion` is only for inclusive providers"),
                )
                .at(src.location(at))
                .hint("remove `assertion`, or set method = \"inclusive\" if the description includes the provider's controls"),
            );
            None
        }
        _ => text,
    }
}

fn validate_matrix(src: &Source, raw: Option<raw::Responsibility>, diags: &mut Diagnostics) -> Matrix {
    let mut m = Matrix::default();
    // toml gives no spans for keys here; problems are located at the cell's value.
    for (model, layers) in raw.unwrap_or_default() {
        let model_v = ServiceModel::parse(&model);
        for (layer, owner) in layers {
            let at = |what: &str, word: &str, expected: String| {
                Diagnostic::error("invalid-value", format!("unknown {what} `{word}` in [responsibility]"))
                    .at(src.location(owner.span().start))
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

/// Whether `p` (found in a project folder by its extension) is a file; a folder or special file
/// with that name is reported as `ignored-entry`, never passed over in silence.
fn regular_or_reported(root: &Path, p: &Path, what: &str, diags: &mut Diagnostics) -> bool {
    if p.is_file() {
        return true;
    }
    let kind = std::fs::metadata(p).map(|m| crate::fsutil::kind_of(&m.file_type())).unwrap_or("a broken link");
    let rel = p.strip_prefix(root).unwrap_or(p);
    diags.push(
        Diagnostic::warning("ignored-entry", format!("`{}` is {kind}, not a {what}; it is not read", rel.display()))
            .at_file(rel)
            .hint("rename it so its name does not look like a project file, or replace it with a file"),
    );
    false
}

/// The controls files: one file, or every `*.toml` in a folder, sorted by name.
fn control_files(root: &Path, path: &Path, diags: &mut Diagnostics) -> Vec<PathBuf> {
    let full = root.join(path);
    if full.is_dir() {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&full) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .filter(|p| regular_or_reported(root, p, "controls file", diags))
                .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
                .collect(),
            Err(e) => {
                diags.push(
                    Diagnostic::error("unreadable-file", format!("cannot list the controls folder: {e}")).at_file(path),
                );
                Vec::new()
            }
        };
        files.sort();
        files
    } else if full.is_file() {
        vec![path.to_path_buf()]
    } else {
        Vec::new()
    }
}

#[allow(clippy::too_many_arguments)] // the loaded context controls are checked against
fn load_controls(
    root: &Path,
    path: &Path,
    providers: &[Provider],
    matrix: &Matrix,
    categories: &[Category],
    cuecs: &mut CuecUse<'_>,
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> Vec<Control> {
    let files = control_files(root, path, diags);
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for file in &files {
        let Some(src) = read_source(root, file, diags) else {
            continue;
        };
        let Some(doc) = toml_de::parse(&src, diags) else {
            continue;
        };
        toml_de::check_keys(&src, doc.get_ref(), raw::CONTROLS_FILE_KEYS, "in a controls file", diags);
        let Some(list) = toml_de::get(doc.get_ref(), "control") else {
            continue;
        };
        for (i, v) in toml_de::array(&src, list, "control", diags).iter().enumerate() {
            let what = match raw_id(v) {
                Some(id) => format!("in control `{id}`"),
                None => format!("in control #{}", i + 1),
            };
            cuecs.record(&raw_id(v).unwrap_or_default(), v);
            let Some(c) = toml_de::deserialize::<raw::Control>(&src, v, &what, raw::CONTROL_KEYS, diags) else {
                failed.controls.extend(raw_id(v));
                continue;
            };
            if !check_id(&src, &c.id, "control", &mut seen, diags) {
                continue;
            }
            let id = c.id.get_ref().clone();
            match validate_control(&src, c, v, providers, matrix, categories, &failed.providers, cuecs, diags) {
                Some(c) => out.push(c),
                None => {
                    failed.controls.insert(id);
                }
            }
        }
    }
    if out.is_empty() && failed.controls.is_empty() && !diags.has_errors() {
        diags.push(
            Diagnostic::error("no-controls", "the project has no controls")
                .at_file(path)
                .hint("describe the controls in controls.toml as [[control]] tables; see docs/project.md"),
        );
    }
    out
}

#[allow(clippy::too_many_arguments)] // the loaded context a control is checked against
fn validate_control(
    src: &Source,
    c: raw::Control,
    value: &Value<'_>,
    providers: &[Provider],
    matrix: &Matrix,
    categories: &[Category],
    failed_providers: &BTreeSet<String>,
    cuecs: &mut CuecUse<'_>,
    diags: &mut Diagnostics,
) -> Option<Control> {
    let id = c.id.get_ref().clone();
    let mut ok = true;
    let layer = Layer::parse(c.layer.get_ref());
    if layer.is_none() {
        diags.push(bad_word(src, &c.layer, "layer", Layer::expected()));
        ok = false;
    }
    let frequency = Frequency::parse(c.frequency.get_ref());
    if frequency.is_none() {
        diags.push(bad_word(src, &c.frequency, "frequency", Frequency::expected()));
        ok = false;
    }
    let criteria = criteria_list(src, c.criteria.get_ref(), &format!("control `{id}`"), categories, diags);
    if c.criteria.get_ref().iter().any(|cr| crate::model::criterion(cr.get_ref()).is_none()) {
        ok = false;
    }
    if c.criteria.get_ref().is_empty() {
        diags.push(
            Diagnostic::error("missing-criteria", format!("control `{id}` maps to no criterion"))
                .at(src.location(c.criteria.span().start))
                .hint("list the trust services criteria the control addresses, e.g. criteria = [\"CC6.1\"]"),
        );
        ok = false;
    }

    let mut provider_ids = Vec::new();
    for p in &c.providers {
        if providers.iter().any(|x| &x.id == p.get_ref()) {
            if !provider_ids.contains(p.get_ref()) {
                provider_ids.push(p.get_ref().clone());
            }
        } else if failed_providers.contains(p.get_ref()) {
            // The provider's own entry is already reported; the control cannot be assigned.
            ok = false;
        } else {
            let known: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    "unknown-provider",
                    format!("control `{id}` runs on provider `{}`, which is not declared", p.get_ref()),
                )
                .at(src.location(p.span().start))
                .hint(if known.is_empty() {
                    "declare it as a [[provider]] in auditpack.toml".to_string()
                } else {
                    format!("declare it as a [[provider]] in auditpack.toml, or use one of: {}", known.join(", "))
                }),
            );
            ok = false;
        }
    }
    let mut cuec_ids: Vec<String> = Vec::new();
    for r in &c.cuecs {
        let name = r.get_ref().trim();
        if cuecs.declared.iter().any(|x| x.id == name) {
            if !cuec_ids.iter().any(|x| x == name) {
                cuec_ids.push(name.to_string());
            }
        } else if !cuecs.failed.contains(name) {
            let known: Vec<&str> = cuecs.declared.iter().map(|x| x.id.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    "unknown-cuec",
                    format!("control `{id}` relies on CUEC `{name}`, which is not declared"),
                )
                .at(src.location(r.span().start))
                .hint(if known.is_empty() {
                    format!("declare it in auditpack.toml: [[cuec]] id = \"{name}\", text = \"...\", criteria = [...]")
                } else {
                    format!("declare it as a [[cuec]] in auditpack.toml, or use one of: {}", known.join(", "))
                }),
            );
        }
    }
    if let Some(old) = &c.cuec {
        let text = old.get_ref().trim();
        let suggested = cuecs.suggest(text);
        let mut ids = cuec_ids.clone();
        if !ids.contains(&suggested) {
            ids.push(suggested.clone());
        }
        let declared = cuecs.declared.iter().any(|x| x.id == suggested);
        let add = if declared {
            format!("`{suggested}` in auditpack.toml has this text already; ")
        } else {
            format!(
                "add to auditpack.toml:\n    [[cuec]]\n    id = \"{suggested}\"\n    text = {}\n    criteria = {}\n  and ",
                toml_string(text),
                toml_list(&criteria)
            )
        };
        diags.push(
            Diagnostic::error(
                "cuec-string",
                format!("control `{id}` gives its CUEC as a string; CUECs are now one list for the project"),
            )
            .at(src.location(old.span().start))
            .hint(format!(
                "{add}replace the `cuec = ...` line of control `{id}` with:\n    cuecs = {}",
                toml_list(&ids)
            )),
        );
    }
    let overrides = validate_owner_override(src, &id, c.owner.as_ref(), &provider_ids, diags)?;
    let mut test_types = Vec::new();
    for t in c.test_types.iter().flatten() {
        match TestType::parse(t.get_ref()) {
            Some(tt) if !test_types.contains(&tt) => test_types.push(tt),
            Some(_) => {}
            None => {
                diags.push(bad_word(src, t, "test type", TestType::expected()));
                ok = false;
            }
        }
    }
    if let Some(p) = &c.test_procedure {
        procedure::check(src, &id, p, c.test_types.as_ref().map(|_| test_types.as_slice()), diags);
    }
    if test_types.is_empty() {
        // Undeclared: what the procedure describes, else inspection.
        test_types = c.test_procedure.as_ref().map(|p| procedure::described_types(p.get_ref())).unwrap_or_default();
    }
    if test_types.is_empty() {
        test_types.push(TestType::Inspection);
    }
    for pat in &c.evidence {
        if let Err(e) = globset::Glob::new(pat.get_ref()) {
            diags.push(
                Diagnostic::error(
                    "invalid-pattern",
                    format!("evidence pattern `{}` is not a valid glob: {}", pat.get_ref(), e.kind()),
                )
                .at(src.location(pat.span().start))
                .hint("use `*` within a folder, `**` across folders and `{a,b}` for alternatives"),
            );
            ok = false;
        }
    }
    let population = match c.population {
        Some(p) => {
            let spec = ipe::population(src, &id, p, diags);
            ok &= spec.is_some();
            spec
        }
        None => None,
    };
    if !ok {
        return None;
    }
    let layer = layer?;
    let assignments = if provider_ids.is_empty() {
        vec![Assignment { provider: None, owner: overrides.get(&None).copied().unwrap_or(Owner::Tenant) }]
    } else {
        provider_ids
            .iter()
            .map(|pid| {
                let p = providers.iter().find(|p| &p.id == pid).expect("checked above");
                let owner = overrides
                    .get(&Some(pid.clone()))
                    .or(overrides.get(&None))
                    .copied()
                    .unwrap_or_else(|| matrix.get(p.service_model, layer));
                Assignment { provider: Some(pid.clone()), owner }
            })
            .collect()
    };
    Some(Control {
        id,
        title: c.title,
        description: c.description,
        criteria,
        layer,
        providers: provider_ids,
        frequency: frequency?,
        performer: c.performer,
        test_procedure: c.test_procedure.map(|p| p.into_inner()),
        test_types,
        cuecs: cuec_ids,
        management_response: c.management_response,
        evidence_patterns: c.evidence.into_iter().map(|p| p.into_inner()).collect(),
        population,
        assignments,
        location: src.location(value.span().start),
    })
}

/// `owner` on a control: `None` key = every provider. Returns `None` after reporting a problem.
fn validate_owner_override(
    src: &Source,
    id: &str,
    spec: Option<&S<raw::OwnerSpec>>,
    providers: &[String],
    diags: &mut Diagnostics,
) -> Option<BTreeMap<Option<String>, Owner>> {
    let mut out = BTreeMap::new();
    let Some(spec) = spec else { return Some(out) };
    let at = src.location(spec.span().start);
    let parse = |word: &str, diags: &mut Diagnostics| -> Option<Owner> {
        let o = Owner::parse(word);
        if o.is_none() {
            diags.push(
                Diagnostic::error("invalid-value", format!("unknown owner `{word}` on control `{id}`"))
                    .at(at.clone())
                    .hint(format!("use one of {}", Owner::expected())),
            );
        }
        o
    };
    match spec.get_ref() {
        raw::OwnerSpec::All(word) => {
            out.insert(None, parse(word, diags)?);
        }
        raw::OwnerSpec::PerProvider(map) => {
            let mut ok = true;
            for (pid, word) in map {
                if !providers.contains(pid) {
                    diags.push(
                        Diagnostic::error(
                            "unknown-provider",
                            format!("control `{id}` sets an owner for `{pid}`, which is not one of its providers"),
                        )
                        .at(at.clone())
                        .hint("list the provider in the control's `providers`, or remove it from `owner`"),
                    );
                    ok = false;
                    continue;
                }
                match parse(word, diags) {
                    Some(o) => {
                        out.insert(Some(pid.clone()), o);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
        }
    }
    Some(out)
}

fn load_assets(
    root: &Path,
    path: &Path,
    providers: &[Provider],
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> Vec<Asset> {
    if !root.join(path).exists() {
        diags.push(
            Diagnostic::note("no-assets", format!("no asset inventory at `{}`", path.display()))
                .hint("list the system's assets in assets.toml: the system description's components come from it"),
        );
        return Vec::new();
    }
    let Some(src) = read_source(root, path, diags) else {
        return Vec::new();
    };
    let Some(doc) = toml_de::parse(&src, diags) else {
        return Vec::new();
    };
    toml_de::check_keys(&src, doc.get_ref(), raw::ASSETS_FILE_KEYS, "in assets.toml", diags);
    let Some(list) = toml_de::get(doc.get_ref(), "asset") else {
        return Vec::new();
    };
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for (i, v) in toml_de::array(&src, list, "asset", diags).iter().enumerate() {
        let what = match raw_id(v) {
            Some(id) => format!("in asset `{id}`"),
            None => format!("in asset #{}", i + 1),
        };
        let Some(a) = toml_de::deserialize::<raw::Asset>(&src, v, &what, raw::ASSET_KEYS, diags) else {
            failed.assets.extend(raw_id(v));
            continue;
        };
        let id_ok = check_id(&src, &a.id, "asset", &mut seen, diags);
        let category = AssetCategory::parse(a.category.get_ref());
        if category.is_none() {
            diags.push(bad_word(&src, &a.category, "asset category", AssetCategory::expected()));
        }
        let criticality = Criticality::parse(a.criticality.get_ref());
        if criticality.is_none() {
            diags.push(bad_word(&src, &a.criticality, "criticality", Criticality::expected()));
        }
        for t in &a.scan_targets {
            if let Err(e) = globset::Glob::new(t.get_ref()) {
                diags.push(
                    Diagnostic::error(
                        "invalid-pattern",
                        format!("scan target `{}` is not a valid glob: {}", t.get_ref(), e.kind()),
                    )
                    .at(src.location(t.span().start))
                    .hint("use `*` for any run of characters (including `/`) and `{a,b}` for alternatives"),
                );
            }
        }
        let mut provider_ok = true;
        if let Some(p) = &a.provider
            && failed.providers.contains(p.get_ref())
        {
            provider_ok = false;
        } else if let Some(p) = &a.provider
            && !providers.iter().any(|x| &x.id == p.get_ref())
        {
            diags.push(
                Diagnostic::error(
                    "unknown-provider",
                    format!("asset `{}` is on provider `{}`, which is not declared", a.id.get_ref(), p.get_ref()),
                )
                .at(src.location(p.span().start))
                .hint("declare the provider as a [[provider]] in auditpack.toml"),
            );
            provider_ok = false;
        }
        if id_ok && !(provider_ok && category.is_some() && criticality.is_some()) {
            failed.assets.insert(a.id.get_ref().clone());
        }
        if let (true, true, Some(category), Some(criticality)) = (id_ok, provider_ok, category, criticality) {
            out.push(Asset {
                id: a.id.into_inner(),
                name: a.name,
                category,
                criticality,
                provider: a.provider.map(|p| p.into_inner()),
                owner: a.owner,
                description: a.description,
                scan_targets: a.scan_targets.into_iter().map(|t| t.into_inner()).collect(),
                location: src.location(v.span().start),
            });
        }
    }
    out
}

fn load_narratives(root: &Path, dir: &Path, diags: &mut Diagnostics) -> Vec<Narrative> {
    let full = root.join(dir);
    if !full.is_dir() {
        diags.push(
            Diagnostic::note("no-narrative", format!("no narrative folder at `{}`", dir.display()))
                .hint("write the system description's narratives as Markdown files there; see docs/project.md"),
        );
        return Vec::new();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&full)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .filter(|p| regular_or_reported(root, p, "narrative", diags))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let rel = dir.join(p.file_name()?);
            let src = read_source(root, &rel, diags)?;
            Some(Narrative { name: p.file_stem()?.to_string_lossy().into_owned(), file: rel, markdown: src.text })
        })
        .collect()
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
                    "unknown-control",
                    format!("the sidecar names control `{}`, which is not in the catalogue", c.get_ref()),
                )
                .at(src.location(c.span().start))
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
                    "unknown-provider",
                    format!("the sidecar names provider `{}`, which is not declared", p.get_ref()),
                )
                .at(src.location(p.span().start))
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
                Diagnostic::error("invalid-period", "the sidecar's period ends before it starts")
                    .at(src.location(e.span().start))
                    .hint("`period_end` must be on or after `period_start`"),
            );
            None
        }
        (Some(one), None) | (None, Some(one)) => {
            diags.push(
                Diagnostic::error("missing-key", "the sidecar gives one end of a period")
                    .at(src.location(one.span().start))
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
        assurance_at: raw.assurance.as_ref().map(|a| src.location(a.span().start)),
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
            Diagnostic::error("invalid-no-occurrence", msg)
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

fn load_objectives(src: &Source, top: &toml::de::DeTable<'_>, diags: &mut Diagnostics) -> Vec<Objective> {
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
            location: src.location(v.span().start),
        });
    }
    out
}

fn load_risk_settings(src: &Source, top: &toml::de::DeTable<'_>, diags: &mut Diagnostics) -> RiskSettings {
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
                Diagnostic::error("invalid-value", format!("unknown matrix `{}`", m.get_ref()))
                    .at(src.location(m.span().start))
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
                    "invalid-value",
                    format!("`{key}` names {} steps but the matrix is {}", w.get_ref().len(), scoring.matrix),
                )
                .at(src.location(w.span().start))
                .hint(format!("give exactly {n} words, lowest first")),
            );
        } else if key == "likelihood" {
            scoring.likelihood = w.get_ref().clone();
        } else {
            scoring.impact = w.get_ref().clone();
        }
    }
    if let Some(levels) = &raw.levels {
        let at = src.location(levels.span().start);
        let list = levels.get_ref();
        let ascending = list.windows(2).all(|w| w[0].max < w[1].max);
        let covers = list.last().is_some_and(|l| l.max as usize >= n * n);
        let bad_colour = list.iter().filter_map(|l| l.colour.as_deref()).find(|c| !is_colour(c));
        if list.is_empty() || !ascending || !covers {
            diags.push(
                Diagnostic::error("invalid-value", "`levels` must be in ascending order of `max`, the last covering the top score")
                    .at(at)
                    .hint(format!("e.g. levels = [{{ name = \"Low\", max = 4 }}, {{ name = \"Medium\", max = 9 }}, {{ name = \"High\", max = {} }}]", n * n)),
            );
        } else if let Some(c) = bad_colour {
            diags.push(
                Diagnostic::error("invalid-value", format!("`{c}` is not a colour"))
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
                    "invalid-value",
                    format!("`high` names level `{}`, which the matrix does not have", h.get_ref()),
                )
                .at(src.location(h.span().start))
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
                Diagnostic::error("invalid-value", "`review_months` must be at least 1")
                    .at(src.location(m.span().start))
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
                            "invalid-pattern",
                            format!("minutes pattern `{}` is not a valid glob: {}", g.get_ref(), e.kind()),
                        )
                        .at(src.location(g.span().start))
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

fn load_check_settings(src: &Source, top: &toml::de::DeTable<'_>, diags: &mut Diagnostics) -> CheckSettings {
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
        match parsed {
            Some(l) => {
                levels.push(CodeLevel { code: code.clone(), level: l, location: src.location(level.span().start) })
            }
            None => diags.push(
                Diagnostic::error("invalid-value", format!("unknown level `{}` for `{}`", level.get_ref(), code))
                    .at(src.location(level.span().start))
                    .hint("use \"allow\", \"warn\" or \"deny\""),
            ),
        }
    }
    CheckSettings { levels }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of the project and how to change its text.
    type Edit<'a> = (&'a str, &'a dyn Fn(&str) -> String);

    /// The project `auditpack init` writes, in a temporary folder, with `edit` applied to one file.
    fn init_project(edit: Option<Edit<'_>>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in crate::cli::init::FILES {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let text = match edit {
                Some((file, f)) if file == *name => f(text),
                _ => text.to_string(),
            };
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn codes(l: &Loaded) -> Vec<&'static str> {
        l.diags.iter().map(|d| d.code).collect()
    }

    #[test]
    fn the_init_project_loads_without_errors() {
        let dir = init_project(None);
        let l = load(dir.path());
        assert!(!l.diags.has_errors(), "{:?}", codes(&l));
        let p = l.project.expect("loaded");
        assert_eq!(p.organisation.name, "Example Corp");
        assert!(matches!(p.audit.kind, AuditType::Type1));
        assert_eq!(p.audit.start, p.audit.end, "a Type 1 project has one date");
        let ids: Vec<&str> = p.controls.iter().map(|c| c.id.as_str()).collect();
        assert!(ids.contains(&"AC-01") && ids.contains(&"GOV-01"), "{ids:?}");
    }

    #[test]
    fn a_folder_without_auditpack_toml_is_not_a_project() {
        let dir = tempfile::tempdir().unwrap();
        let l = load(dir.path());
        assert!(l.project.is_none());
        assert_eq!(codes(&l), ["no-project"]);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line_and_column() {
        let typo: &dyn Fn(&str) -> String = &|t| t.replacen("contact = ", "contcat = ", 1);
        let dir = init_project(Some(("auditpack.toml", typo)));
        let l = load(dir.path());
        let d = l.diags.iter().find(|d| d.code == "unknown-key").expect("unknown-key");
        assert!(d.message.contains("contcat"), "{}", d.message);
        let at = d.location.as_ref().expect("located");
        assert!(at.file.ends_with("auditpack.toml"));
        assert_eq!((at.line, at.col), (Some(5), Some(1)));
    }

    #[test]
    fn a_type2_project_has_its_period_and_a_bad_date_is_located() {
        let type2: &dyn Fn(&str) -> String = &|t| {
            t.replacen("type = \"type1\"", "type = \"type2\"", 1).replacen(
                "as_of = 2026-06-30",
                "period_start = 2026-01-01\nperiod_end = 2026-06-30",
                1,
            )
        };
        let dir = init_project(Some(("auditpack.toml", type2)));
        let p = load(dir.path()).project.expect("loaded");
        assert_eq!((p.audit.start.to_string(), p.audit.end.to_string()), ("2026-01-01".into(), "2026-06-30".into()));

        let bad: &dyn Fn(&str) -> String = &|t| t.replacen("as_of = 2026-06-30", "as_of = \"30/06/2026\"", 1);
        let dir = init_project(Some(("auditpack.toml", bad)));
        let l = load(dir.path());
        assert!(l.diags.has_errors());
        let d = l.diags.iter().find(|d| d.location.as_ref().is_some_and(|at| at.line == Some(13))).expect("located");
        assert!(d.message.contains("30/06/2026") || d.message.contains("as_of"), "{}", d.message);
    }
}
