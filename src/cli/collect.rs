//! `auditpack collect`: load, walk and hash, index, the gap findings; writes index.json only.
//!
//! No report model, scanner import or snapshot history: index.json needs none of them, and on a
//! large evidence tree they cost more time and memory than hashing itself.

use super::build::{Timings, check_out_dir};
use super::{Outcome, print_diagnostics, progress_bar};
use crate::Error;
use crate::collect::CollectOptions;
use crate::diag::Diagnostics;
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
    let mut diags = Diagnostics::default();
    let opts = CollectOptions {
        progress: progress_bar(args.quiet),
        cache_dir: Some(args.cache.clone().unwrap_or_else(|| args.out.join(".auditpack-cache"))),
        rehash: args.rehash,
    };
    let collected = crate::collect_project(&args.project, &opts, &mut |stage| timings.mark(stage), &mut diags);
    if let Some(pb) = &opts.progress {
        pb.finish_and_clear();
    }
    let levels = collected.as_ref().map(|c| c.project.check.clone());
    let diags = crate::check::apply_levels(diags, levels.as_ref());
    if let Some(c) = &collected {
        check_out_dir(&c.project, &args.out)?;
    }
    let Some(collected) = collected.filter(|_| !diags.has_errors()) else {
        print_diagnostics(&diags, args.verbose, args.quiet);
        return Ok(Outcome::ProjectErrors);
    };
    timings.mark("check levels");

    // Streamed: the index of a large evidence tree is never held as one string.
    let mut staging = Staging::new(&args.out)?;
    let file = staging.file("index.json")?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file.as_file_mut());
    serde_json::to_writer_pretty(&mut w, &collected.index)
        .map_err(|e| Error::Usage(format!("cannot serialise index.json: {e}")))?;
    w.write_all(b"\n").and_then(|_| w.flush()).map_err(|e| Error::io("write", args.out.join("index.json"), e))?;
    drop(w);
    timings.mark("index.json");
    let written = staging.commit()?;
    timings.mark("write outputs");

    print_diagnostics(&diags, args.verbose, args.quiet);
    if !args.quiet {
        let t = &collected.index.totals;
        eprintln!(
            "{} evidence files ({}), {} mapped to controls, {} unmapped",
            t.files,
            crate::render::human_bytes(t.bytes),
            t.mapped,
            t.unmapped
        );
        for p in written {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(Outcome::Ok)
}
