//! `auditpack snapshot [PROJECT]` and `snapshot list | diff A B | verify`: the snapshot store
//! from the command line. Taking a snapshot is the one command that writes into the project
//! folder (its store, `.auditpack/snapshots` by default).

use super::{Outcome, print_diagnostics, progress_bar};
use crate::Error;
use crate::collect::CollectOptions;
use crate::diag::Diagnostics;
use crate::snapshot::{self, Store};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(super) struct SnapshotArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// The project folder (holding auditpack.toml)
    #[arg(default_value = ".")]
    project: PathBuf,
    #[command(flatten)]
    store: StoreArg,
    /// Set from the global `--verbose`
    #[arg(skip)]
    verbose: bool,
    /// Set from the global `--quiet`
    #[arg(skip)]
    quiet: bool,
}

impl SnapshotArgs {
    pub(super) fn set_verbosity(&mut self, v: super::Verbosity) {
        (self.verbose, self.quiet) = (v.verbose, v.quiet);
    }
}

#[derive(clap::Args)]
struct StoreArg {
    /// The snapshot store (default: `[snapshot] store` in auditpack.toml, else PROJECT/.auditpack/snapshots)
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List the snapshots: id, time, files, bytes, and bytes new in each
    List {
        #[arg(default_value = ".")]
        project: PathBuf,
        #[command(flatten)]
        store: StoreArg,
        /// Output as JSON
        #[arg(long)]
        json: bool,
    },
    /// Evidence added, removed and changed between snapshots A and B, and controls whose result changed
    Diff {
        /// The earlier snapshot (a number, `latest`, or a hash prefix)
        a: String,
        /// The later snapshot
        b: String,
        /// The project folder
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[command(flatten)]
        store: StoreArg,
        /// Output as JSON
        #[arg(long)]
        json: bool,
    },
    /// Check the chain of manifests and every stored file; exit 1 when the store is damaged
    Verify {
        #[arg(default_value = ".")]
        project: PathBuf,
        #[command(flatten)]
        store: StoreArg,
    },
}

fn open(project: &Path, store: &StoreArg) -> Store {
    Store::new(snapshot::store_dir(project, None, store.store.as_deref()))
}

fn json<T: serde::Serialize>(v: &T) -> Result<(), Error> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
    println!("{s}");
    Ok(())
}

pub(super) fn run(args: &SnapshotArgs) -> Result<Outcome, Error> {
    match &args.action {
        None => take(args),
        Some(Action::List { project, store, json: as_json }) => {
            let listed = snapshot::list(&open(project, store))?;
            if *as_json {
                json(&listed)?;
            } else if listed.is_empty() {
                eprintln!("no snapshots yet; `auditpack snapshot` takes one");
            } else {
                println!(
                    "{:>4}  {:<20}  {:<12}  {:>6}  {:>12}  {:>12}",
                    "id", "created", "sha256", "files", "bytes", "new bytes"
                );
                for l in listed {
                    println!(
                        "{:>4}  {:<20}  {:<12}  {:>6}  {:>12}  {:>12}",
                        l.id,
                        l.created,
                        &l.sha256[..12],
                        l.files,
                        l.bytes,
                        l.new_bytes
                    );
                }
            }
            Ok(Outcome::Ok)
        }
        Some(Action::Diff { a, b, project, store, json: as_json }) => {
            let store = open(project, store);
            let d = snapshot::diff(&store, store.resolve(a)?, store.resolve(b)?)?;
            if *as_json {
                json(&d)?;
            } else {
                println!("snapshot {} -> {}", d.from, d.to);
                for (label, list) in [
                    ("added", &d.evidence_added),
                    ("removed", &d.evidence_removed),
                    ("changed", &d.evidence_changed),
                    ("project file changed", &d.project_changed),
                ] {
                    for p in list {
                        println!("  {label:<8} {p}");
                    }
                }
                for (c, (x, y)) in &d.controls_changed {
                    println!("  control  {c}: {x} -> {y}");
                }
                let n = d.evidence_added.len() + d.evidence_removed.len() + d.evidence_changed.len();
                println!("{n} evidence file(s) differ, {} control result(s) changed", d.controls_changed.len());
            }
            Ok(Outcome::Ok)
        }
        Some(Action::Verify { project, store }) => {
            let store = open(project, store);
            let (count, diags) = snapshot::verify(&store)?;
            for d in diags.sorted() {
                if d.severity != crate::diag::Severity::Note || diags.has_errors() {
                    println!("{d}");
                }
            }
            if diags.has_errors() {
                println!("{}: {count} snapshot(s), the store is DAMAGED", store.dir.display());
                Ok(Outcome::ProjectErrors)
            } else {
                println!("{}: {count} snapshot(s), chain and contents intact", store.dir.display());
                Ok(Outcome::Ok)
            }
        }
    }
}

fn take(args: &SnapshotArgs) -> Result<Outcome, Error> {
    let mut diags = Diagnostics::default();
    // A snapshot hashes every file itself: what it records must not rest on a cache.
    let opts = CollectOptions { progress: progress_bar(args.quiet), cache_dir: None, rehash: true };
    let assessed = crate::assess_project(&args.project, &opts, &mut diags);
    if let Some(pb) = &opts.progress {
        pb.finish_and_clear();
    }
    let Some(a) = assessed.filter(|_| !diags.has_errors()) else {
        print_diagnostics(&diags, args.verbose, args.quiet);
        return Ok(Outcome::ProjectErrors);
    };
    let index_json = super::build::to_json(&a.index)?;
    let store =
        Store::new(snapshot::store_dir(&args.project, Some(&a.project.snapshot.store), args.store.store.as_deref()));
    // The snapshot's time is metadata; nothing built from the snapshot depends on it.
    let taken = snapshot::take(&store, &a, &index_json, jiff::Timestamp::now())?;
    print_diagnostics(&diags, args.verbose, args.quiet);
    if !args.quiet {
        eprintln!(
            "snapshot {} ({}) in {}: {} files, {} bytes, {} bytes new",
            taken.id,
            &taken.sha256[..12],
            store.dir.display(),
            taken.files,
            taken.bytes,
            taken.new_bytes
        );
    }
    Ok(Outcome::Ok)
}
