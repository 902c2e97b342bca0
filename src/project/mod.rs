//! First stage: load the files a user writes (auditpack.toml, controls, assets, risks.json,
//! narratives) into a validated [`Project`].
//!
//! Problems in the files are diagnostics, all collected in one run; a [`Project`] is returned
//! whenever the files could be read well enough to go on, so later stages can add their own.
//!
//! [`load`] reads auditpack.toml and hands each part to its room: `config` (the settings
//! sections), `risk_settings`, `cuecs`, `providers`, `controls`, `assets`, `narratives`, and the
//! risk register (`risks`, `risks_csv`); `sidecar` reads the evidence's sidecars when they are
//! collected. `files` reads every project file, `validate` holds the checks entries share.

mod assets;
mod config;
mod controls;
mod cuecs;
mod files;
pub mod ipe;
mod narratives;
pub mod procedure;
mod providers;
mod raw;
mod risk_settings;
pub mod risks;
pub mod risks_csv;
pub mod scoring;
mod sidecar;
pub mod toml_de;
mod validate;

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{AuditType, Matrix, Sampling};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml_de::Value;

pub use assets::Asset;
pub use config::{
    AllowSecret, AssertionSettings, Audit, Branding, CheckLevel, CheckSettings, CodeLevel, DEFAULT_ACCENT,
    DEFAULT_ANNEX_CONFIDENTIALITY, DEFAULT_COMPRESSION_LEVEL, DEFAULT_EVIDENCE_INDEX_ROWS, DEFAULT_SNAPSHOT_STORE,
    MAX_PERIOD_YEARS, NotRelevant, Organisation, PackageSettings, Paths, ReportSettings, Retention, RetentionMode,
    SnapshotSettings, System, evidence_dir_of,
};
pub use controls::{Assignment, Control};
pub use cuecs::Cuec;
pub use files::{MAX_FILE_BYTES, MAX_LINE_BYTES, io_hint, is_link_loop, is_name_too_long};
pub(crate) use files::{read_source, too_long};
pub use narratives::Narrative;
pub use providers::{Csoc, Provider};
pub use risk_settings::{DEFAULT_MINUTES, Objective, RiskSettings};
pub use risks::{Rating, Risk, RiskControl, ScaleValue};
pub use scoring::Scoring;
pub use sidecar::{Assurance, NoOccurrence, Sidecar, load_sidecar};

use assets::load_assets;
use config::{
    load_check_settings, load_collectors, paths_span, validate_audit, validate_branding, validate_matrix,
    validate_not_relevant, validate_package, validate_paths, validate_report, validate_sampling, validate_snapshot,
};
use controls::{control_files, load_controls};
use cuecs::{CuecUse, check_cuecs, load_cuecs};
use narratives::load_narratives;
use providers::validate_providers;
use risk_settings::{load_objectives, load_risk_settings};
use validate::raw_id;

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

/// The result of loading: a project when the files allowed one, and every diagnostic found.
pub struct Loaded {
    pub project: Option<Project>,
    pub diags: Diagnostics,
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
            Diagnostic::error(Code::NoProject, format!("{} is not an auditpack project: {what}", root.display()))
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
                Diagnostic::error(Code::MissingKey, format!("auditpack.toml has no [{key}] section"))
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
                Code::MissingEvidenceDir,
                format!("the evidence folder `{}` does not exist", paths.evidence.display()),
            )
            .at(loc)
            .hint("create the folder and put the evidence files in it, or set `evidence` under [paths]"),
        );
    }
    if let Some(logo) = &branding.logo {
        // Whether the PDF can embed it is checked by the pipeline, with the PDF renderer's own
        // decoder (`pipeline::check_logo`); here only that it is there and readable.
        let at = branding.logo_at.clone().unwrap_or_else(|| crate::diag::Location::file(CONFIG_FILE));
        match crate::fsutil::read_limited(&root.join(logo), MAX_FILE_BYTES) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => diags.push(
                Diagnostic::error(Code::MissingFile, format!("the logo `{}` does not exist", logo.display()))
                    .at(at)
                    .hint("give a PNG or JPEG file relative to the project folder, or remove `logo`"),
            ),
            Err(e) => diags.push(
                Diagnostic::error(Code::InvalidLogo, format!("the logo `{}` cannot be read: {e}", logo.display()))
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
        l.diags.iter().map(|d| d.code.as_str()).collect()
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
