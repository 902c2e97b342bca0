//! The driver: runs the stages in order for every command, so that `cli` only turns arguments
//! into a call and the result into output and an exit code.
//!
//! - `build` and `describe` ([`build::run`]): the reports and the package, also from a snapshot;
//! - `collect` ([`collect::run`]): index.json, with its memo for an unchanged tree;
//! - `check` ([`check::run`]): every finding of every stage in one run;
//! - `snapshot` ([`snapshot::take`]) and `fetch` ([`fetch::run`]).
//!
//! All but `collect` and `fetch` share [`assess_project_with`]: load -> collect -> index ->
//! populations -> scanners -> assess -> report model.
//!
//! The driver never prints and never reads the clock: `stage_done` is called with a stage's name
//! as each one ends (`--timings` reads its clock there), and what the user should be told comes
//! back in the result.

pub mod build;
pub mod check;
pub mod collect;
pub mod fetch;
pub mod snapshot;

use crate::{assess, collect as collect_stage, diag, index, population, project, report, scan, snapshot as snapshots};
use std::path::{Path, PathBuf};

/// What a command says about the arguments every pipeline command shares.
#[derive(Clone, Default)]
pub struct Common {
    /// The project folder.
    pub project: PathBuf,
    /// The output folder.
    pub out: PathBuf,
    /// The hash cache; `None`: OUT/.auditpack-cache.
    pub cache: Option<PathBuf>,
    /// Hash every file again.
    pub rehash: bool,
    /// Scanner reports given on the command line.
    pub scans: Vec<PathBuf>,
    /// Progress of hashing, if shown.
    pub progress: Option<indicatif::ProgressBar>,
    /// Whether notes will be shown: when not, the per-file `inferred-date` notes are only counted.
    pub keep_notes: bool,
}

impl Common {
    fn cache_dir(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(|| self.out.join(".auditpack-cache"))
    }
}

/// Ends the hashing progress bar: what follows prints below it.
fn clear(progress: &Option<indicatif::ProgressBar>) {
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
}

/// Everything the pipeline computes for one project, up to the report model.
pub struct Assessed {
    pub project: project::Project,
    pub index: index::EvidenceIndex,
    pub scans: scan::ScanResults,
    pub assessment: assess::Assessment,
    pub report: report::Report,
}

/// Where earlier snapshots come from for Type 2 coverage.
#[derive(Default)]
pub enum History {
    /// The project's own store (`[snapshot] store`), every snapshot, if the store exists.
    #[default]
    Project,
    /// A given store, snapshots up to and including `upto` (for `build --snapshot`).
    Store { location: snapshots::StoreLocation, upto: u64 },
}

/// Runs load -> collect -> index -> assess -> report model. Returns `None` when the project has
/// errors that stop the pipeline (they are in `diags`).
pub fn assess_project(
    root: &Path,
    opts: &collect_stage::CollectOptions,
    diags: &mut diag::Diagnostics,
) -> Option<Assessed> {
    assess_project_with(root, opts, &Inputs::default(), &mut |_| {}, diags)
}

/// What a run takes into account beyond the project folder.
#[derive(Default)]
pub struct Inputs {
    /// Earlier snapshots, for Type 2 coverage of evidence since replaced.
    pub history: History,
    /// Scanner reports given on the command line (`--scan`).
    pub scans: Vec<PathBuf>,
    /// Run on whatever part of the project loaded, despite errors, so that `check` reports every
    /// finding of every stage in one run.
    pub keep_going: bool,
    /// Count the per-file `inferred-date` notes instead of keeping them, for a run that will not
    /// show notes: on a tree of undated files that is one diagnostic per file (about 80 MB on
    /// 200,000 files). Not when the project gives the code a level, which may make them
    /// warnings or errors.
    pub count_inferred_dates: bool,
}

/// `collect`, first half: load -> collect (walk + hash) -> the project and its inventory.
pub fn load_and_collect(
    root: &Path,
    opts: &collect_stage::CollectOptions,
    stage_done: &mut dyn FnMut(&'static str),
    diags: &mut diag::Diagnostics,
) -> Option<(project::Project, collect_stage::Inventory)> {
    load_and_collect_with(root, opts, false, stage_done, diags)
}

/// load -> collect; with `keep_going`, a project that loaded with errors is collected anyway.
fn load_and_collect_with(
    root: &Path,
    opts: &collect_stage::CollectOptions,
    keep_going: bool,
    stage_done: &mut dyn FnMut(&'static str),
    diags: &mut diag::Diagnostics,
) -> Option<(project::Project, collect_stage::Inventory)> {
    let loaded = project::load(root);
    diags.extend(loaded.diags);
    let project = loaded.project?;
    check_logo(root, &project, diags);
    stage_done("load");
    if diags.has_errors() && !keep_going {
        return None;
    }
    let inventory = if root.join(&project.paths.evidence).is_dir() {
        collect_stage::collect(&project, opts, diags)
    } else {
        collect_stage::Inventory::default()
    };
    stage_done("collect (walk + hash)");
    Some((project, inventory))
}

/// Whether the per-file `inferred-date` notes are only counted: when notes will not be shown
/// (`keep_notes` false) and the project gives the code no level, which may make them warnings.
fn only_count_inferred_dates(project: &project::Project, keep_notes: bool) -> bool {
    !keep_notes && !project.check.levels.iter().any(|l| l.code == diag::Code::InferredDate)
}

/// The logo is a PNG or JPEG image the PDF renderer can embed: checked with the renderer's own
/// decoder, so that what the project accepts the PDF embeds. (Loading has checked that the file
/// is there and readable.)
fn check_logo(root: &Path, project: &project::Project, diags: &mut diag::Diagnostics) {
    let Some(logo) = &project.branding.logo else { return };
    let Ok(bytes) = crate::fsutil::read_limited(&root.join(logo), project::MAX_FILE_BYTES) else { return };
    if !crate::render::pdf::is_supported_image(&bytes) {
        let at = project.branding.logo_at.clone().unwrap_or_else(|| diag::Location::file(project::CONFIG_FILE));
        diags.push(
            diag::Diagnostic::error(
                diag::Code::InvalidLogo,
                format!("the logo `{}` is not a PNG or JPEG image", logo.display()),
            )
            .at(at)
            .hint("give a PNG or JPEG file (the PDF embeds it), or remove `logo`"),
        );
    }
}

/// `collect`, second half: index, then the gap findings of assess. Scanner reports among the
/// evidence are not parsed, the snapshot history is not read and no report model is built:
/// index.json needs none of them.
pub fn index_and_gaps(
    project: &project::Project,
    inventory: collect_stage::Inventory,
    stage_done: &mut dyn FnMut(&'static str),
    diags: &mut diag::Diagnostics,
) -> index::EvidenceIndex {
    let index = index::build(project, inventory, diags);
    stage_done("index");
    population::build(project, &index, diags);
    stage_done("populations and provenance");
    // Only its findings are wanted here; the assessment itself is dropped.
    assess::assess(project, &index, &[], &scan::ScanResults::default(), diags);
    stage_done("assess (gaps)");
    index
}

/// load -> collect -> index, the part every command shares.
fn load_and_index(
    root: &Path,
    opts: &collect_stage::CollectOptions,
    keep_going: bool,
    stage_done: &mut dyn FnMut(&'static str),
    diags: &mut diag::Diagnostics,
) -> Option<(project::Project, index::EvidenceIndex)> {
    let (project, inventory) = load_and_collect_with(root, opts, keep_going, stage_done, diags)?;
    let index = index::build(&project, inventory, diags);
    stage_done("index");
    Some((project, index))
}

/// [`assess_project`] with the snapshot history, command-line scans and error handling given.
/// `stage_done` is called with a stage's name as each one ends (`--timings` reads its own clock
/// there; the library never does).
pub fn assess_project_with(
    root: &Path,
    opts: &collect_stage::CollectOptions,
    inputs: &Inputs,
    stage_done: &mut dyn FnMut(&'static str),
    diags: &mut diag::Diagnostics,
) -> Option<Assessed> {
    let (project, index) = load_and_index(root, opts, inputs.keep_going, stage_done, diags)?;
    if !project.assessable {
        // auditpack.toml's required sections did not load: the evidence was collected and indexed
        // for its own problems, but nothing can be assessed against an unknown audit.
        return None;
    }
    // Evidence that only earlier snapshots hold, and the snapshots the annex lists: every one of
    // the project's store, or, for a rebuild from snapshot N, those up to N.
    let (store, upto) = match &inputs.history {
        History::Project => (
            snapshots::StoreLocation::of_project(root, Some(&project.snapshot.store), None)
                .and_then(snapshots::Store::open),
            None,
        ),
        History::Store { location, upto } => (snapshots::Store::open(location.clone()), Some(*upto)),
    };
    let (past, taken) = match store {
        Ok(store) => {
            let past = snapshots::history(&store, upto, diags);
            (past, snapshots::for_report(&store, upto, diags))
        }
        Err(e) => {
            let at = match &inputs.history {
                History::Project => project.snapshot.store.display().to_string(),
                History::Store { location, .. } => location.to_string(),
            };
            diags.push(snapshots::unreadable_history(&at, &e.to_string()));
            (Vec::new(), Vec::new())
        }
    };
    if only_count_inferred_dates(&project, !inputs.count_inferred_dates) {
        diags.count_notes_only(diag::Code::InferredDate);
    }
    let populations = population::build(&project, &index, diags);
    stage_done("populations and provenance");
    let scans = scan::import(&project, &index, &inputs.scans, diags);
    let assessment = assess::assess(&project, &index, &past, &scans, diags);
    stage_done("assess (history, scanners, checks)");
    let mut report = report::build(&project, &index, &scans, &assessment);
    report::population::attach(&mut report, &project, populations);
    let rows = taken
        .into_iter()
        .map(|l| {
            let (attested, token_problem) = match l.attested {
                Some(a) if a.starts_with(snapshots::INVALID_TOKEN) => (None, Some(a)),
                a => (a, None),
            };
            report::SnapshotRow {
                id: l.id,
                sha256: l.sha256,
                created: l.created,
                auditpack: l.auditpack,
                files: l.files,
                bytes: l.bytes,
                new_bytes: l.new_bytes,
                attested,
                token_problem,
            }
        })
        .collect();
    report.snapshots = report::Snapshots::new(project.snapshot.store.display().to_string(), rows);
    stage_done("report model");
    Some(Assessed { project, index, scans, assessment, report })
}
