//! auditpack turns a compliance repository into the SOC 2 package its auditor receives.
//!
//! The pipeline, one module per stage, each a value in and a value out:
//!
//! ```text
//! project::load -> collect::collect -> index::build -> population::build -> scan::import
//!     -> assess::assess -> report::build -> render (Markdown -> Document -> HTML, PDF)
//!     -> package::write -> snapshot::take        (fetch runs collectors into the evidence)
//! ```
//!
//! Each stage depends only on the stages before it and on the ground floor (`error`, `diag`,
//! `text`, `fsutil`, `model`, `output`); `check`, `cli` and the functions of this file drive the
//! pipeline. docs/architecture.md draws the layers; a test keeps the code to them.
//!
//! Earlier snapshots feed back into `assess` as [`assess::PastEvidence`], so evidence replaced
//! since it was recorded still counts for its period.
//!
//! Problems in the user's data are [`diag::Diagnostic`]s, collected across the whole run;
//! failures of the tool itself (I/O, a template that does not parse) are [`Error`]s. The library
//! never prints: `cli` decides what reaches the terminal and the exit code. Nothing reads the
//! wall clock: dates come from the project, so the same input gives the same bytes.

pub mod assess;
pub mod check;
pub mod cli;
pub mod collect;
pub mod diag;
pub mod error;
pub mod fetch;
pub mod fsutil;
pub mod index;
pub mod model;
pub mod output;
pub mod package;
pub mod population;
pub mod project;
pub mod render;
pub mod report;
pub mod scan;
pub mod snapshot;
pub mod text;

pub use error::Error;

use std::path::{Path, PathBuf};

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
    Store { location: snapshot::StoreLocation, upto: u64 },
}

/// Runs load -> collect -> index -> assess -> report model. Returns `None` when the project has
/// errors that stop the pipeline (they are in `diags`).
pub fn assess_project(root: &Path, opts: &collect::CollectOptions, diags: &mut diag::Diagnostics) -> Option<Assessed> {
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
}

/// `collect`, first half: load -> collect (walk + hash) -> the project and its inventory.
pub fn load_and_collect(
    root: &Path,
    opts: &collect::CollectOptions,
    stage_done: &mut dyn FnMut(&'static str),
    diags: &mut diag::Diagnostics,
) -> Option<(project::Project, collect::Inventory)> {
    load_and_collect_with(root, opts, false, stage_done, diags)
}

/// load -> collect; with `keep_going`, a project that loaded with errors is collected anyway.
fn load_and_collect_with(
    root: &Path,
    opts: &collect::CollectOptions,
    keep_going: bool,
    stage_done: &mut dyn FnMut(&'static str),
    diags: &mut diag::Diagnostics,
) -> Option<(project::Project, collect::Inventory)> {
    let loaded = project::load(root);
    stage_done("load");
    diags.extend(loaded.diags);
    let project = loaded.project?;
    if diags.has_errors() && !keep_going {
        return None;
    }
    let inventory = if root.join(&project.paths.evidence).is_dir() {
        collect::collect(&project, opts, diags)
    } else {
        collect::Inventory::default()
    };
    stage_done("collect (walk + hash)");
    Some((project, inventory))
}

/// `collect`, second half: index, then the gap findings of assess. Scanner reports among the
/// evidence are not parsed, the snapshot history is not read and no report model is built:
/// index.json needs none of them.
pub fn index_and_gaps(
    project: &project::Project,
    inventory: collect::Inventory,
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
    opts: &collect::CollectOptions,
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
    opts: &collect::CollectOptions,
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
            snapshot::StoreLocation::of_project(root, Some(&project.snapshot.store), None)
                .and_then(snapshot::Store::open),
            None,
        ),
        History::Store { location, upto } => (snapshot::Store::open(location.clone()), Some(*upto)),
    };
    let (past, taken) = match store {
        Ok(store) => {
            let past = snapshot::history(&store, upto, diags);
            (past, snapshot::for_report(&store, upto, diags))
        }
        Err(e) => {
            let at = match &inputs.history {
                History::Project => project.snapshot.store.display().to_string(),
                History::Store { location, .. } => location.to_string(),
            };
            diags.push(snapshot::unreadable_history(&at, &e.to_string()));
            (Vec::new(), Vec::new())
        }
    };
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
                Some(a) if a.starts_with(snapshot::INVALID_TOKEN) => (None, Some(a)),
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
