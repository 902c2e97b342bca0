//! `snapshot`: the project assessed from a fresh hash of every file, then recorded in its store.

use crate::diag::Diagnostics;
use crate::snapshot::{Store, StoreLocation, TakeOptions, Taken};
use std::path::Path;

/// What `take` was asked for beyond the project.
pub struct Request<'a> {
    pub project: &'a Path,
    /// `--store`, over `[snapshot] store`.
    pub store: Option<&'a str>,
    /// `--tsa`, over `[snapshot] tsa`.
    pub tsa: Option<String>,
    /// The snapshot's time (metadata: nothing built from the snapshot depends on it).
    pub created: jiff::Timestamp,
    pub progress: Option<indicatif::ProgressBar>,
    /// Keep every note (they will be shown); otherwise the per-file `inferred-date` notes are
    /// only counted, as `build` does ([`super::Inputs::count_inferred_dates`]).
    pub keep_notes: bool,
}

/// Takes a snapshot; `None` when the project has errors (in `diags`) and nothing was recorded.
pub fn take(req: Request<'_>, diags: &mut Diagnostics) -> Result<Option<(Taken, Store)>, crate::Error> {
    // A snapshot hashes every file itself: what it records must not rest on a cache.
    let opts = crate::collect::CollectOptions { progress: req.progress, cache_dir: None, rehash: true };
    let inputs = super::Inputs { count_inferred_dates: !req.keep_notes, ..super::Inputs::default() };
    let assessed = super::assess_project_with(req.project, &opts, &inputs, &mut |_| {}, diags);
    super::clear(&opts.progress);
    let Some(a) = assessed.filter(|_| !diags.has_errors()) else {
        return Ok(None);
    };
    // index.json goes to a temporary file, streamed, and into the store from there: held in
    // memory it was the largest thing a snapshot kept (565 bytes an evidence file).
    let index_json = index_file(&a.index)?;
    let store = Store::open(StoreLocation::of_project(req.project, Some(&a.project.snapshot.store), req.store)?)?;
    let opts = TakeOptions {
        created: Some(req.created),
        retention: a.project.snapshot.retention,
        tsa: req.tsa.or_else(|| a.project.snapshot.tsa.clone()),
    };
    let taken = crate::snapshot::take(&store, &a.project, &a.index, &a.assessment, index_json.path(), &opts)?;
    Ok(Some((taken, store)))
}

/// The evidence index as index.json (the bytes `build` writes), in an unnamed-on-drop temporary file.
fn index_file(index: &crate::index::EvidenceIndex) -> Result<tempfile::NamedTempFile, crate::Error> {
    use std::io::Write;
    let tmp = tempfile::NamedTempFile::new()
        .map_err(|e| crate::Error::io("create a temporary file in", std::env::temp_dir(), e))?;
    let mut w = std::io::BufWriter::new(tmp.as_file());
    serde_json::to_writer_pretty(&mut w, index)
        .map_err(std::io::Error::from)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush())
        .map_err(|e| crate::Error::io("write", tmp.path(), e))?;
    drop(w);
    Ok(tmp)
}
