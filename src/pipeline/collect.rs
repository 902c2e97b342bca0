//! `collect`: load, walk and hash, index, the gap findings; writes index.json only.
//!
//! No report model, scanner import or snapshot history: index.json needs none of them, and on a
//! large evidence tree they cost more time and memory than hashing itself. An unchanged tree is
//! proved unchanged by the memo (`collect::memo`) and index.json is left as it is.

use super::Common;
use crate::Error;
use crate::collect::{CollectOptions, memo};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::output::Staging;
use std::io::Write;
use std::path::PathBuf;

/// How a collect ended.
pub enum Ended {
    /// index.json was written (with `paths`).
    Written { paths: Vec<PathBuf>, totals: crate::index::Totals },
    /// The project and the evidence are unchanged: index.json (this path) is the one this run
    /// would write.
    UpToDate { index: PathBuf, totals: crate::index::Totals },
    /// The project has errors (or findings at deny level): nothing was written.
    Stopped,
}

pub struct Collected {
    pub diags: Diagnostics,
    pub ended: Ended,
}

pub fn run(common: &Common, stage_done: &mut dyn FnMut(&'static str)) -> Result<Collected, Error> {
    super::build::check_outputs(common)?;
    let mut diags = Diagnostics::default();
    let cache_dir = common.cache_dir();
    let opts =
        CollectOptions { progress: common.progress.clone(), cache_dir: Some(cache_dir.clone()), rehash: common.rehash };
    let collected = super::load_and_collect(&common.project, &opts, stage_done, &mut diags);
    super::clear(&opts.progress);
    let Some((project, inventory)) = collected else {
        let diags = crate::check::apply_levels(diags, None);
        return Ok(Collected { diags, ended: Ended::Stopped });
    };
    super::build::check_out_dir(&project, &common.out)?;
    let out_index = common.out.join("index.json");

    // When notes are not shown there may be one per undated file: count them only (unless the
    // project gives the code a level, which may make them warnings).
    let count_only = super::only_count_inferred_dates(&project, common.keep_notes);
    if count_only {
        diags.count_notes_only(Code::InferredDate);
    }
    let stopped = |diags: Diagnostics, project: &crate::project::Project| Collected {
        diags: crate::check::apply_levels(diags, Some(&project.check)),
        ended: Ended::Stopped,
    };
    // An unchanged re-collect: the index.json in place is the one this run would write.
    // --rehash recomputes everything, but leaves a memo for the next run.
    let key = memo::key(&project, &inventory);
    let hit = key.as_ref().filter(|_| !common.rehash).and_then(|k| {
        memo::Memo::load(&cache_dir).filter(|m| &m.key == k && memo::stamp_of(&out_index) == Some(m.index))
    });
    let ended = match hit {
        Some(m) => {
            diags.extend(m.diagnostics);
            inferred_dates(&inventory, &mut diags);
            stage_done("index and gaps (unchanged: memo)");
            if crate::check::fails(&diags, &project.check) {
                return Ok(stopped(diags, &project));
            }
            Ended::UpToDate { index: out_index, totals: m.totals }
        }
        None => {
            memo::Memo::remove(&cache_dir);
            let mut found = Diagnostics::default();
            if count_only {
                found.count_notes_only(Code::InferredDate);
            }
            let index = super::index_and_gaps(&project, inventory, stage_done, &mut found);
            // The inferred-date notes (one per undated file) are made again from the inventory
            // on a memo hit; the other findings of these stages are kept in the memo.
            let kept: Vec<Diagnostic> = found
                .iter()
                .filter(|d| d.code != Code::InferredDate || d.severity != Severity::Note)
                .cloned()
                .collect();
            diags.extend(found);
            if crate::check::fails(&diags, &project.check) {
                return Ok(stopped(diags, &project));
            }
            // Streamed: the index of a large evidence tree is never held as one string.
            let mut staging = Staging::new(&common.out)?;
            let file = staging.file("index.json")?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file.as_file_mut());
            serde_json::to_writer_pretty(&mut w, &index)
                .map_err(|e| Error::Usage(format!("cannot serialise index.json: {e}")))?;
            w.write_all(b"\n").and_then(|_| w.flush()).map_err(|e| Error::io("write", &out_index, e))?;
            drop(w);
            stage_done("index.json");
            let paths = staging.commit()?;
            stage_done("write outputs");
            if let (Some(key), Some(stamp)) = (key, memo::stamp_of(&out_index)) {
                let mut diagnostics = Diagnostics::default();
                kept.into_iter().for_each(|d| diagnostics.push(d));
                let m = memo::Memo { key, index: stamp, totals: index.totals.clone(), diagnostics };
                // Only a cache: without it the next run does the work again.
                let _ = m.save(&cache_dir);
            }
            Ended::Written { paths, totals: index.totals }
        }
    };
    Ok(Collected { diags: crate::check::apply_levels(diags, Some(&project.check)), ended })
}

/// The inferred-date notes, one per file dated by its modification time: not kept in the memo
/// (there can be one per file), made again from the inventory.
fn inferred_dates(inventory: &crate::collect::Inventory, diags: &mut Diagnostics) {
    for f in inventory.files.iter().filter(|f| f.effective.inferred()) {
        diags.push(crate::assess::inferred_date(&f.path));
    }
}
