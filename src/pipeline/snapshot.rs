//! `snapshot`: the project assessed from a fresh hash of every file, then recorded in its store.

use super::build;
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
}

/// Takes a snapshot; `None` when the project has errors (in `diags`) and nothing was recorded.
pub fn take(req: Request<'_>, diags: &mut Diagnostics) -> Result<Option<(Taken, Store)>, crate::Error> {
    // A snapshot hashes every file itself: what it records must not rest on a cache.
    let opts = crate::collect::CollectOptions { progress: req.progress, cache_dir: None, rehash: true };
    let assessed = super::assess_project(req.project, &opts, diags);
    super::clear(&opts.progress);
    let Some(a) = assessed.filter(|_| !diags.has_errors()) else {
        return Ok(None);
    };
    let index_json = build::to_json(&a.index)?;
    let store = Store::open(StoreLocation::of_project(req.project, Some(&a.project.snapshot.store), req.store)?)?;
    let opts = TakeOptions {
        created: Some(req.created),
        retention: a.project.snapshot.retention,
        tsa: req.tsa.or_else(|| a.project.snapshot.tsa.clone()),
    };
    let taken = crate::snapshot::take(&store, &a.project, &a.index, &a.assessment, &index_json, &opts)?;
    Ok(Some((taken, store)))
}
