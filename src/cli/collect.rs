//! `auditpack collect`: load, walk and hash, index, the gap findings; writes index.json only.
//!
//! No report model, scanner import or snapshot history: index.json needs none of them, and on a
//! large evidence tree they cost more time and memory than hashing itself.

use super::build::{Timings, check_out_dir};
use super::{Outcome, print_diagnostics, progress_bar};
use crate::Error;
use crate::collect::CollectOptions;
use crate::collect::memo;
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::output::Staging;
use std::io::Write;

pub(super) fn run(args: &super::CommonArgs) -> Result<Outcome, Error> {
    let mut timings = Timings::new();
    let result = run_timed(args, &mut timings);
    if args.timings {
        timings.print();
    }
    result
}

fn run_timed(args: &super::CommonArgs, timings: &mut Timings) -> Result<Outcome, Error> {
    super::build::check_outputs(args)?;
    let mut diags = Diagnostics::default();
    let opts = CollectOptions {
        progress: progress_bar(args.quiet),
        cache_dir: Some(args.cache.clone().unwrap_or_else(|| args.out.join(".auditpack-cache"))),
        rehash: args.rehash,
    };
    let collected = crate::load_and_collect(&args.project, &opts, &mut |stage| timings.mark(stage), &mut diags);
    if let Some(pb) = &opts.progress {
        pb.finish_and_clear();
    }
    let Some((project, inventory)) = collected else {
        let diags = crate::check::apply_levels(diags, None);
        print_diagnostics(&diags, args.verbose, args.quiet);
        return Ok(Outcome::ProjectErrors);
    };
    check_out_dir(&project, &args.out)?;
    let cache_dir = opts.cache_dir.as_deref().expect("collect always has a cache folder");
    let out_index = args.out.join("index.json");

    // Without --verbose the notes are not shown, and there may be one per undated file: count
    // them only (unless the project gives the code a level, which may make them warnings).
    if !args.verbose && !project.check.levels.iter().any(|l| l.code == "inferred-date") {
        diags.count_notes_only("inferred-date");
    }
    // An unchanged re-collect: the index.json in place is the one this run would write.
    // --rehash recomputes everything, but leaves a memo for the next run.
    let key = memo::key(&project, &inventory);
    let hit = key.as_ref().filter(|_| !args.rehash).and_then(|k| {
        memo::Memo::load(cache_dir).filter(|m| &m.key == k && memo::stamp_of(&out_index) == Some(m.index))
    });
    let (totals, written) = match hit {
        Some(m) => {
            diags.extend(m.diagnostics);
            inferred_dates(&inventory, &mut diags);
            timings.mark("index and gaps (unchanged: memo)");
            if crate::check::fails(&diags, &project.check) {
                let diags = crate::check::apply_levels(diags, Some(&project.check));
                print_diagnostics(&diags, args.verbose, args.quiet);
                return Ok(Outcome::ProjectErrors);
            }
            (m.totals, None)
        }
        None => {
            memo::Memo::remove(cache_dir);
            let mut found = Diagnostics::default();
            if !args.verbose && !project.check.levels.iter().any(|l| l.code == "inferred-date") {
                found.count_notes_only("inferred-date");
            }
            let index = crate::index_and_gaps(&project, inventory, &mut |stage| timings.mark(stage), &mut found);
            // The inferred-date notes (one per undated file) are made again from the inventory
            // on a memo hit; the other findings of these stages are kept in the memo.
            let kept: Vec<Diagnostic> =
                found.iter().filter(|d| d.code != "inferred-date" || d.severity != Severity::Note).cloned().collect();
            diags.extend(found);
            if crate::check::fails(&diags, &project.check) {
                let diags = crate::check::apply_levels(diags, Some(&project.check));
                print_diagnostics(&diags, args.verbose, args.quiet);
                return Ok(Outcome::ProjectErrors);
            }
            // Streamed: the index of a large evidence tree is never held as one string.
            let mut staging = Staging::new(&args.out)?;
            let file = staging.file("index.json")?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file.as_file_mut());
            serde_json::to_writer_pretty(&mut w, &index)
                .map_err(|e| Error::Usage(format!("cannot serialise index.json: {e}")))?;
            w.write_all(b"\n").and_then(|_| w.flush()).map_err(|e| Error::io("write", &out_index, e))?;
            drop(w);
            timings.mark("index.json");
            let written = staging.commit()?;
            timings.mark("write outputs");
            if let (Some(key), Some(stamp)) = (key, memo::stamp_of(&out_index)) {
                let mut diagnostics = Diagnostics::default();
                kept.into_iter().for_each(|d| diagnostics.push(d));
                let m = memo::Memo { key, index: stamp, totals: index.totals.clone(), diagnostics };
                // Only a cache: without it the next run does the work again.
                let _ = m.save(cache_dir);
            }
            (index.totals, Some(written))
        }
    };
    let diags = crate::check::apply_levels(diags, Some(&project.check));
    print_diagnostics(&diags, args.verbose, args.quiet);
    if !args.quiet {
        eprintln!(
            "{} evidence files ({}), {} mapped to controls, {} unmapped",
            totals.files,
            crate::render::human_bytes(totals.bytes),
            totals.mapped,
            totals.unmapped
        );
        match written {
            Some(written) => written.iter().for_each(|p| eprintln!("wrote {}", p.display())),
            None => eprintln!("{} is up to date (the project and the evidence are unchanged)", out_index.display()),
        }
    }
    Ok(Outcome::Ok)
}

/// The inferred-date notes, one per file dated by its modification time: not kept in the memo
/// (there can be one per file), made again from the inventory.
fn inferred_dates(inventory: &crate::collect::Inventory, diags: &mut Diagnostics) {
    for f in inventory.files.iter().filter(|f| f.effective.inferred()) {
        diags.push(crate::assess::inferred_date(&f.path));
    }
}
