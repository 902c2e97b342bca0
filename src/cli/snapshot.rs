//! `auditpack snapshot [PROJECT]` and `snapshot list | diff A B | verify`: the snapshot store
//! from the command line. Taking a snapshot is the one command that writes into the project
//! folder (its store, `.auditpack/snapshots` by default).

use super::{Outcome, print_diagnostics, progress_bar};
use crate::Error;
use crate::diag::{Diagnostics, escape_controls};
use crate::snapshot::{self, Store, StoreLocation};
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
    /// Ask this RFC 3161 time-stamping authority for a token over the manifest (default: `[snapshot] tsa`)
    #[arg(long, value_name = "URL")]
    tsa: Option<String>,
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
    /// The snapshot store: a folder or s3://bucket/prefix (default: `[snapshot] store` in auditpack.toml, else PROJECT/.auditpack/snapshots)
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
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
    /// Check the chain of manifests, every stored file, Object Lock retention and time-stamp tokens; exit 1 when the store is damaged
    Verify {
        #[arg(default_value = ".")]
        project: PathBuf,
        #[command(flatten)]
        store: StoreArg,
        /// The time-stamping authority's certificate (PEM): every token must be signed by it or a certificate it issued
        #[arg(long, value_name = "FILE")]
        tsa_cert: Option<PathBuf>,
    },
}

fn open(project: &Path, store: &StoreArg) -> Result<Store, Error> {
    Store::open(StoreLocation::of_project(project, None, store.store.as_deref())?)
}

fn json<T: serde::Serialize>(out: &mut super::Out, v: &T) -> Result<(), Error> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
    outln!(out, "{s}");
    Ok(())
}

pub(super) fn run(args: &SnapshotArgs) -> Result<Outcome, Error> {
    let mut out = super::Out::new();
    match &args.action {
        None => take(args),
        Some(Action::List { project, store, json: as_json }) => {
            let listed = snapshot::list(&open(project, store)?)?;
            if *as_json {
                json(&mut out, &listed)?;
            } else if listed.is_empty() {
                eprintln!("no snapshots yet; `auditpack snapshot` takes one");
            } else {
                outln!(
                    out,
                    "{:>4}  {:<20}  {:<12}  {:>6}  {:>12}  {:>12}  attested (TSA)",
                    "id",
                    "created",
                    "sha256",
                    "files",
                    "bytes",
                    "new bytes"
                );
                for l in listed {
                    outln!(
                        out,
                        "{:>4}  {:<20}  {:<12}  {:>6}  {:>12}  {:>12}  {}",
                        l.id,
                        l.created,
                        &l.sha256[..12],
                        l.files,
                        l.bytes,
                        l.new_bytes,
                        l.attested.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(Outcome::Ok)
        }
        Some(Action::Diff { a, b, project, store, json: as_json }) => {
            let store = open(project, store)?;
            let d = snapshot::diff(&store, store.resolve(a)?, store.resolve(b)?)?;
            if *as_json {
                json(&mut out, &d)?;
            } else {
                outln!(out, "snapshot {} -> {}", d.from, d.to);
                for (label, list) in [
                    ("added", &d.evidence_added),
                    ("removed", &d.evidence_removed),
                    ("changed", &d.evidence_changed),
                    ("project file changed", &d.project_changed),
                ] {
                    for p in list {
                        outln!(out, "  {label:<8} {}", escape_controls(p, false));
                    }
                }
                for (c, (x, y)) in &d.controls_changed {
                    outln!(out, "  control  {}: {x} -> {y}", escape_controls(c, false));
                }
                let n = d.evidence_added.len() + d.evidence_removed.len() + d.evidence_changed.len();
                outln!(out, "{n} evidence file(s) differ, {} control result(s) changed", d.controls_changed.len());
            }
            Ok(Outcome::Ok)
        }
        Some(Action::Verify { project, store, tsa_cert }) => {
            let store = open(project, store)?;
            let opts = snapshot::VerifyOptions {
                tsa_certs: tsa_cert.as_deref().map(snapshot::tsa::load_certs).transpose()?,
                retention: snapshot::store::configured_retention(project),
            };
            let (verified, diags) = snapshot::verify(&store, &opts)?;
            let count = verified.snapshots;
            for d in diags.sorted() {
                if d.severity != crate::diag::Severity::Note || diags.has_errors() || args.verbose {
                    outln!(out, "{d}");
                }
            }
            for (id, time) in &verified.attested {
                let how = if opts.tsa_certs.is_some() {
                    "signature verified"
                } else {
                    "signature not checked: pass --tsa-cert"
                };
                outln!(out, "snapshot {id}: attested by the TSA at {time} ({how})");
            }
            if verified.retention_checked > 0 && !diags.has_errors() {
                outln!(
                    out,
                    "{} object(s) hold the Object Lock retention their snapshots asked for",
                    verified.retention_checked
                );
            }
            let location = escape_controls(&store.location.to_string(), false).into_owned();
            if diags.has_errors() {
                outln!(out, "{}: {count} snapshot(s), the store is DAMAGED", location);
                Ok(Outcome::ProjectErrors)
            } else {
                outln!(out, "{}: {count} snapshot(s), chain and contents intact", location);
                Ok(Outcome::Ok)
            }
        }
    }
}

fn take(args: &SnapshotArgs) -> Result<Outcome, Error> {
    let mut diags = Diagnostics::default();
    let req = crate::pipeline::snapshot::Request {
        project: &args.project,
        store: args.store.store.as_deref(),
        tsa: args.tsa.clone(),
        created: jiff::Timestamp::now(),
        progress: progress_bar(args.quiet),
        keep_notes: args.verbose,
    };
    let Some((taken, store)) = crate::pipeline::snapshot::take(req, &mut diags)? else {
        print_diagnostics(&diags, &args.project, args.verbose, args.quiet);
        return Ok(Outcome::ProjectErrors);
    };
    print_diagnostics(&diags, &args.project, args.verbose, args.quiet);
    if !args.quiet {
        eprintln!(
            "snapshot {} ({}) in {}: {} files, {} bytes, {} bytes new",
            taken.id,
            &taken.sha256[..12],
            escape_controls(&store.location.to_string(), false),
            taken.files,
            taken.bytes,
            taken.new_bytes
        );
        if let Some(t) = &taken.attested {
            eprintln!("time-stamped by the TSA at {t}");
        }
    }
    Ok(Outcome::Ok)
}
