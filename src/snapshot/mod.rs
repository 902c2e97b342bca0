//! Last stage: snapshots. Each records everything a build reads (the project's files and every
//! evidence file, with contents and modification times), the evidence index and each control's
//! result, in a content-addressed store, so `build --snapshot ID` can rebuild the package byte
//! for byte and Type 2 coverage can count evidence that has since been replaced.
//!
//! The store is a folder or an S3 bucket (`store`); manifests name one tree object per folder
//! (`manifest`), so a snapshot costs what changed; a time-stamping authority can attest when a
//! manifest existed (`tsa`). Writes are ordered contents first, manifest last, so a run killed
//! at any point leaves the store consistent: at worst unreferenced contents, never a manifest
//! naming one that is not there. The library never reads the clock: the snapshot time comes in
//! from the caller and is metadata only (no build output depends on it).

pub mod manifest;
pub mod store;
pub mod tsa;

use crate::assess::PastEvidence;
use crate::collect::dates::{DateSource, Effective};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::error::Error;
use crate::project::{Project, Retention};
use crate::text::hex;
pub use manifest::{FileRecord, Manifest, SCHEMA, Trees};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
pub use store::{Key, Retain, Store, StoreLocation};

const BUF_SIZE: usize = 1 << 20;
/// Threads storing a snapshot's files at once. Each mostly waits (an fsync in a folder, a request
/// in a bucket), so more than the cores; each holds one buffer (and, for a large file going to a
/// bucket, one 8 MiB part).
const WRITERS: usize = 8;
/// How often a snapshot retries when another writer took its number.
const ATTEMPTS: usize = 8;

impl Store {
    /// A manifest and the SHA-256 of its bytes.
    pub fn load(&self, id: u64) -> Result<(Manifest, String), Error> {
        let bytes = self.manifest_bytes(id)?;
        let m = manifest::parse(&bytes, &self.locate(Key::Manifest(id)).display().to_string())?;
        Ok((m, hex(&Sha256::digest(&bytes))))
    }

    /// Resolves `latest`, a number, or a prefix (6+ hex digits) of a manifest's SHA-256.
    pub fn resolve(&self, id: &str) -> Result<u64, Error> {
        let ids = self.ids()?;
        let not_found =
            || Error::Usage(format!("no snapshot `{id}` in {}; `auditpack snapshot list` shows them", self.location));
        if id == "latest" {
            return ids.last().copied().ok_or_else(not_found);
        }
        if let Ok(n) = id.parse::<u64>()
            && ids.contains(&n)
        {
            return Ok(n);
        }
        if id.len() >= 6 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<u64> =
                ids.iter().copied().filter(|i| self.load(*i).is_ok_and(|(_, h)| h.starts_with(id))).collect();
            if let [one] = hits.as_slice() {
                return Ok(*one);
            }
        }
        Err(not_found())
    }
}

/// Retention until `created + days`.
pub fn retain_for(r: &Retention, created: jiff::Timestamp) -> Retain {
    let until =
        created.checked_add(jiff::SignedDuration::from_hours(24 * i64::from(r.days))).unwrap_or(jiff::Timestamp::MAX);
    Retain { mode: r.mode, until }
}

/// What one snapshot run did.
#[derive(Debug, Serialize)]
pub struct Taken {
    pub id: u64,
    pub sha256: String,
    pub files: usize,
    pub bytes: u64,
    /// Bytes of content the store did not hold before.
    pub new_bytes: u64,
    /// The time the time-stamping authority attests, when one was asked.
    pub attested: Option<String>,
}

/// How a snapshot is taken, beyond the store.
#[derive(Debug, Clone, Default)]
pub struct TakeOptions {
    /// The snapshot time (metadata; retention runs from it).
    pub created: Option<jiff::Timestamp>,
    pub retention: Option<Retention>,
    /// An RFC 3161 time-stamping authority.
    pub tsa: Option<String>,
}

/// The files of the project a build reads, relative to its root, sorted.
fn build_inputs(project: &Project, index: &crate::index::EvidenceIndex) -> Vec<String> {
    let root = &project.root;
    let mut out = BTreeSet::new();
    let rel = |p: &Path| crate::text::slash(p);
    // What the loader read (auditpack.toml, every controls file of a controls folder, assets,
    // register, narratives), then what the renderer reads (template overrides, the logo).
    for p in &project.sources {
        out.insert(rel(p));
    }
    for p in crate::render::Templates::override_files(&root.join(&project.paths.templates)) {
        if let Some(name) = p.file_name() {
            out.insert(rel(&project.paths.templates.join(name)));
        }
    }
    if let Some(logo) = &project.branding.logo {
        out.insert(rel(logo));
    }
    for f in &index.evidence {
        out.insert(f.file.path.clone());
        if let Some(s) = &f.file.sidecar {
            out.insert(s.path.clone());
        }
    }
    out.into_iter().collect()
}

fn mtime_of(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    jiff::Timestamp::try_from(t).ok().map(|ts| ts.as_second())
}

/// Records the assessed project in the store.
pub fn take(
    store: &Store,
    project: &crate::project::Project,
    evidence: &crate::index::EvidenceIndex,
    assessment: &crate::assess::Assessment,
    index_json: &Path,
    opts: &TakeOptions,
) -> Result<Taken, Error> {
    let created = opts.created.unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    if let StoreLocation::Folder(dir) = &store.location {
        let evidence = project.root.join(&project.paths.evidence);
        // Checked before the store is created: a refused store leaves nothing behind.
        if evidence.exists() && crate::output::is_inside(dir, &evidence) {
            return Err(Error::Usage(format!(
                "the snapshot store {} is inside the evidence folder; set [snapshot] store to a place outside it",
                dir.display()
            )));
        }
    }
    let retain = opts.retention.as_ref().map(|r| retain_for(r, created));
    let retain = retain.as_ref();
    let _lock = store.write_lock()?;
    store.prepare_write(retain)?;
    let known: BTreeMap<&str, &str> = evidence
        .evidence
        .iter()
        .flat_map(|f| {
            std::iter::once((f.file.path.as_str(), f.file.sha256.as_str()))
                .chain(f.file.sidecar.as_ref().map(|s| (s.path.as_str(), s.sha256.as_str())))
        })
        .collect();
    // Files go in on WRITERS threads of their own: each waits on the store (an fsync, a request
    // to the server) far more than on a core. Records come back in path order, so the manifest
    // does not depend on which thread finished first.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WRITERS)
        .thread_name(|i| format!("snapshot-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the snapshot's writer threads: {e}")))?;
    let inputs = build_inputs(project, evidence);
    let stored: Vec<Result<(FileRecord, bool), Error>> = pool.install(|| {
        use rayon::prelude::*;
        inputs
            .par_iter()
            .map_init(
                || vec![0u8; BUF_SIZE],
                |buf, rel| {
                    let full = project.root.join(rel);
                    let mtime = mtime_of(&full);
                    match known.get(rel.as_str()) {
                        // Unchanged content costs nothing: the collect stage hashed it moments ago.
                        Some(sha) if store.has(sha)? => {
                            store.reuse(sha, retain)?;
                            let size = std::fs::metadata(&full).map_err(|e| Error::io("read", &full, e))?.len();
                            Ok((FileRecord { sha256: sha.to_string(), size, mtime }, false))
                        }
                        expected => {
                            let (sha, size, new) = store.put_file(&full, buf, retain)?;
                            if expected.is_some_and(|e| *e != sha) {
                                return Err(Error::Package {
                                    path: full,
                                    message: "the file changed while the snapshot was being taken; run it again".into(),
                                });
                            }
                            Ok((FileRecord { sha256: sha, size, mtime }, new))
                        }
                    }
                },
            )
            .collect()
    });
    drop(pool);
    let (mut bytes, mut new_bytes) = (0u64, 0u64);
    // Two threads can store one content at once, each finding it new: counted once.
    let mut counted = BTreeSet::new();
    let mut files = BTreeMap::new();
    for (rel, r) in inputs.into_iter().zip(stored) {
        let (record, new) = r?;
        bytes += record.size;
        if new && counted.insert(record.sha256.clone()) {
            new_bytes += record.size;
        }
        files.insert(rel, record);
    }
    drop(counted);
    let mut buf = vec![0u8; BUF_SIZE];
    let (index, _, _) = store.put_file(index_json, &mut buf, retain)?;
    drop(buf);
    let tree = manifest::write_tree(store, &files, retain)?;
    let controls: BTreeMap<String, String> = assessment
        .controls
        .iter()
        .map(|(id, c)| {
            (
                id.clone(),
                serde_json::to_value(c.result).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            )
        })
        .collect();
    // Another writer (on a bucket, where there is no lock) may take the number we chose: the
    // manifest is created only if the name is free, and on a clash we chain onto theirs.
    for _ in 0..ATTEMPTS {
        let ids = store.ids()?;
        let previous = match ids.last() {
            Some(last) => Some(store.load(*last)?.1),
            None => None,
        };
        let id = ids.last().map(|i| i + 1).unwrap_or(1);
        let manifest = Manifest {
            schema: SCHEMA.into(),
            id,
            previous,
            created: created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            auditpack: env!("CARGO_PKG_VERSION").into(),
            evidence_root: evidence.evidence_root.clone(),
            files: BTreeMap::new(),
            tree: Some(tree.clone()),
            totals: Some(manifest::Totals { files: files.len(), bytes }),
            index: index.clone(),
            controls: controls.clone(),
            retention: opts.retention,
        };
        let mut text =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Usage(format!("cannot serialise: {e}")))?;
        text.push(b'\n');
        let digest: [u8; 32] = Sha256::digest(&text).into();
        // Asked before the manifest is written: a TSA that fails leaves no manifest behind.
        let token = match &opts.tsa {
            Some(url) => Some(tsa::request(url, &digest)?),
            None => None,
        };
        if !store.create_manifest(id, &text, retain)? {
            continue;
        }
        let attested = match token {
            Some(t) => {
                store.put_token(id, &t, retain)?;
                tsa::attested_time(&t, &digest).ok()
            }
            None => None,
        };
        return Ok(Taken { id, sha256: hex(&digest), files: files.len(), bytes, new_bytes, attested });
    }
    Err(Error::Usage(format!(
        "other snapshots kept taking the next number in {} ({ATTEMPTS} attempts); run it again",
        store.location
    )))
}

/// Whether a manifest's path could land outside the folder it is extracted to (`..`, an
/// absolute path, an empty or `.` component, a backslash or NUL), so `build --snapshot` and
/// `snapshot verify` refuse the same manifests.
fn leaves_project(rel: &str) -> bool {
    rel.starts_with('/')
        || rel.contains('\\')
        || rel.contains('\0')
        || rel.split('/').any(|c| c == ".." || c == "." || c.is_empty())
}

/// A blob name is a SHA-256 in lowercase hex (anything else could name a path).
pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Writes the project as of snapshot `id` into `dest` (every file, with its modification time),
/// for `build --snapshot`. Every blob is checked against its checksum on the way.
pub fn materialize(store: &Store, id: u64, dest: &Path) -> Result<Manifest, Error> {
    let _lock = store.read_lock()?;
    let (m, _) = store.load(id)?;
    let files = Trees::default().files(store, &m)?;
    let mut buf = vec![0u8; BUF_SIZE];
    for (rel, r) in &files {
        if leaves_project(rel) {
            return Err(Error::Usage(format!("snapshot {id} names `{rel}`, which leaves the project")));
        }
        let p = dest.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        let mut f = std::fs::File::create(&p).map_err(|e| Error::io("write", &p, e))?;
        store.copy_blob(&r.sha256, &mut f, &mut buf)?;
        if let Some(t) = r.mtime.and_then(|s| jiff::Timestamp::from_second(s).ok()) {
            f.set_modified(t.into()).map_err(|e| Error::io("set the modification time of", &p, e))?;
        }
    }
    Ok(m)
}

/// Evidence recorded in snapshots up to `upto` (all when `None`), for Type 2 coverage: each
/// (path, content) once, from the earliest snapshot that holds it. Problems reading the store
/// are warnings: the build goes on with the evidence at hand.
pub fn history(store: &Store, upto: Option<u64>, diags: &mut Diagnostics) -> Vec<PastEvidence> {
    let mut out: Vec<PastEvidence> = Vec::new();
    let mut seen = BTreeSet::new();
    let at = store.location.to_string();
    let lock = match store.read_lock() {
        Ok(Some(l)) => l,
        Ok(None) => return out,
        Err(e) => {
            diags.push(unreadable_history(&at, &e.to_string()));
            return out;
        }
    };
    let ids = match store.ids() {
        Ok(ids) => ids,
        Err(e) => {
            diags.push(unreadable_history(&at, &e.to_string()));
            return out;
        }
    };
    let mut indexes_read = BTreeSet::new();
    for id in ids.into_iter().filter(|i| upto.is_none_or(|u| *i <= u)) {
        let index = match store.load(id) {
            // An index unchanged since an earlier snapshot adds nothing.
            Ok((m, _)) if !indexes_read.insert(m.index.clone()) => continue,
            Ok((m, _)) => store.read_blob(&m.index),
            Err(e) => Err(e),
        };
        let value: serde_json::Value = match index.map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                diags.push(unreadable_history(&at, &format!("snapshot {id}: {e}")));
                continue;
            }
            Err(e) => {
                diags.push(unreadable_history(&at, &format!("snapshot {id}: {e}")));
                continue;
            }
        };
        for f in value["evidence"].as_array().into_iter().flatten() {
            let Some(p) = past_evidence(f, id) else { continue };
            if seen.insert((p.path.clone(), p.sha256.clone())) {
                out.push(p);
            }
        }
    }
    drop(lock);
    out
}

fn past_evidence(f: &serde_json::Value, snapshot: u64) -> Option<PastEvidence> {
    let date = |k: &str| f["effective"][k].as_str()?.parse::<jiff::civil::Date>().ok();
    let source = match f["effective"]["source"].as_str()? {
        "sidecar" => DateSource::Sidecar,
        "file-name" => DateSource::FileName,
        _ => DateSource::ModifiedTime,
    };
    Some(PastEvidence {
        path: f["path"].as_str()?.to_string(),
        sha256: f["sha256"].as_str()?.to_string(),
        effective: Effective { date: date("date")?, start: date("start")?, end: date("end")?, source },
        controls: f["controls"].as_array()?.iter().filter_map(|c| c.as_str().map(String::from)).collect(),
        snapshot,
    })
}

pub fn unreadable_history(at: &str, why: &str) -> Diagnostic {
    Diagnostic::warning(Code::SnapshotHistoryUnreadable, format!("earlier snapshots could not be read: {why}"))
        .at(Location::file(at))
        .hint("run `auditpack snapshot verify`; coverage was assessed from the current evidence only")
}

/// How `Listed::attested` begins when the token on file cannot be used.
pub const INVALID_TOKEN: &str = "invalid token: ";

/// One line of `snapshot list`.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: u64,
    pub sha256: String,
    pub created: String,
    /// The auditpack version that took it: `build --snapshot` is byte-identical with the same one.
    pub auditpack: String,
    pub files: usize,
    pub bytes: u64,
    /// Bytes of content first recorded by this snapshot.
    pub new_bytes: u64,
    /// The time a time-stamping authority attests for this manifest (signature checked by
    /// `snapshot verify --tsa-cert`), or why the token is unusable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attested: Option<String>,
}

pub fn list(store: &Store) -> Result<Vec<Listed>, Error> {
    let _lock = store.read_lock()?;
    let mut seen = BTreeSet::new();
    let mut trees = Trees::default();
    let mut out = Vec::new();
    for id in store.ids()? {
        let (m, sha256) = store.load(id)?;
        let files = trees.files(store, &m)?;
        let mut new_bytes = 0;
        for r in files.values() {
            if seen.insert(r.sha256.clone()) {
                new_bytes += r.size;
            }
        }
        let attested = match store.token(id)? {
            Some(t) => {
                let digest = hex_digest(&sha256);
                Some(tsa::attested_time(&t, &digest).unwrap_or_else(|e| format!("{INVALID_TOKEN}{e}")))
            }
            None => None,
        };
        out.push(Listed {
            id,
            sha256,
            created: m.created.clone(),
            auditpack: m.auditpack.clone(),
            files: files.len(),
            bytes: files.values().map(|r| r.size).sum(),
            new_bytes,
            attested,
        });
    }
    Ok(out)
}

/// The snapshots the annex lists: those up to and including snapshot `upto` (all when `None`). A
/// store that does not exist has none; one that cannot be read is a warning, as for [`history`].
pub fn for_report(store: &Store, upto: Option<u64>, diags: &mut Diagnostics) -> Vec<Listed> {
    match store.exists() {
        Ok(true) => {}
        // Not there, or already reported by `history`.
        _ => return Vec::new(),
    }
    match list(store) {
        Ok(all) => all.into_iter().filter(|s| upto.is_none_or(|u| s.id <= u)).collect(),
        Err(e) => {
            diags.push(unreadable_history(&store.location.to_string(), &e.to_string()));
            Vec::new()
        }
    }
}

fn hex_digest(sha: &str) -> [u8; 32] {
    // A manifest hash that is not 64 hex digits matches no token.
    let mut out = [0u8; 32];
    let _ = hex::decode_to_slice(sha, &mut out);
    out
}

/// What changed between two snapshots.
#[derive(Debug, Serialize)]
pub struct Diff {
    pub from: u64,
    pub to: u64,
    pub evidence_added: Vec<String>,
    pub evidence_removed: Vec<String>,
    pub evidence_changed: Vec<String>,
    /// Project files (configuration, controls, narratives, templates) that changed.
    pub project_changed: Vec<String>,
    /// control -> (result before, result after), for controls whose result changed.
    pub controls_changed: BTreeMap<String, (String, String)>,
}

pub fn diff(store: &Store, a: u64, b: u64) -> Result<Diff, Error> {
    let _lock = store.read_lock()?;
    let (ma, _) = store.load(a)?;
    let (mb, _) = store.load(b)?;
    let mut trees = Trees::default();
    let (fa, fb) = (trees.files(store, &ma)?, trees.files(store, &mb)?);
    let is_evidence = |m: &Manifest, p: &str| p.starts_with(&format!("{}/", m.evidence_root));
    let mut d = Diff {
        from: a,
        to: b,
        evidence_added: Vec::new(),
        evidence_removed: Vec::new(),
        evidence_changed: Vec::new(),
        project_changed: Vec::new(),
        controls_changed: BTreeMap::new(),
    };
    let paths: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    for p in paths {
        let (x, y) = (fa.get(p), fb.get(p));
        let evidence = is_evidence(&ma, p) || is_evidence(&mb, p);
        match (x, y, evidence) {
            (None, Some(_), true) => d.evidence_added.push(p.clone()),
            (Some(_), None, true) => d.evidence_removed.push(p.clone()),
            (Some(x), Some(y), true) if x.sha256 != y.sha256 => d.evidence_changed.push(p.clone()),
            (x, y, false) if x.map(|r| &r.sha256) != y.map(|r| &r.sha256) => d.project_changed.push(p.clone()),
            _ => {}
        }
    }
    let controls: BTreeSet<&String> = ma.controls.keys().chain(mb.controls.keys()).collect();
    for c in controls {
        let none = || "absent".to_string();
        let (x, y) =
            (ma.controls.get(c).cloned().unwrap_or_else(none), mb.controls.get(c).cloned().unwrap_or_else(none));
        if x != y {
            d.controls_changed.insert(c.clone(), (x, y));
        }
    }
    Ok(d)
}

/// What `snapshot verify` checks beyond the chain and the contents.
#[derive(Default)]
pub struct VerifyOptions {
    /// Trusted TSA certificates: every token must verify against them.
    pub tsa_certs: Option<Vec<x509_certificate::CapturedX509Certificate>>,
    /// `[snapshot] retention` as configured now: every snapshot must have been written with it.
    pub retention: Option<Retention>,
}

/// What `snapshot verify` found: counts, and each token's attested time.
#[derive(Debug, Default, Serialize)]
pub struct Verified {
    pub snapshots: usize,
    /// snapshot id -> attested time, for tokens that verified.
    pub attested: BTreeMap<u64, String>,
    /// Objects whose retention the storage reported (S3 with Object Lock).
    pub retention_checked: usize,
}

/// Checks the chain (each manifest names the hash of the one before), every content (present
/// and matching its name, trees included), time-stamp tokens, and, on a bucket, each object's
/// Object Lock retention. Problems are diagnostics.
pub fn verify(store: &Store, opts: &VerifyOptions) -> Result<(Verified, Diagnostics), Error> {
    let mut diags = Diagnostics::default();
    if !store.exists()? {
        return Err(Error::Usage(format!("there is no snapshot store at {}", store.location)));
    }
    let _lock = store.read_lock()?;
    let ids = store.ids()?;
    let mut out = Verified { snapshots: ids.len(), ..Verified::default() };
    let mut previous: Option<String> = None;
    let mut referenced = BTreeSet::new();
    let mut checked: BTreeMap<String, bool> = BTreeMap::new();
    // object -> (latest retain-until any snapshot asked for it, the strictest mode).
    let mut required: BTreeMap<String, Retain> = BTreeMap::new();
    let mut manifests_required: Vec<(u64, Retain)> = Vec::new();
    let mut trees = Trees::default();
    let mut buf = vec![0u8; BUF_SIZE];
    let lock_enabled = store.lock_enabled()?;
    for (n, id) in ids.iter().enumerate() {
        let at = Location::file(store.locate(Key::Manifest(*id)));
        let (m, sha) = match store.load(*id) {
            Ok(x) => x,
            Err(e) => {
                diags.push(
                    Diagnostic::error(Code::SnapshotUnreadable, format!("snapshot {id} cannot be read: {e}"))
                        .at(at)
                        .hint("the manifest was damaged or edited; restore it from a backup"),
                );
                previous = None;
                continue;
            }
        };
        if n == 0 && (*id != 1 || m.previous.is_some()) {
            diags.push(
                Diagnostic::error(
                    Code::SnapshotChainBroken,
                    format!("the first snapshot is {id}; earlier ones were removed"),
                )
                .at(at.clone())
                .hint("snapshots are never deleted; restore the missing ones from a backup"),
            );
        } else if n > 0 && (m.previous != previous || *id != ids[n - 1] + 1) {
            diags.push(
                Diagnostic::error(
                    Code::SnapshotChainBroken,
                    format!(
                        "snapshot {id} does not follow snapshot {}: a manifest was changed, removed or inserted",
                        ids[n - 1]
                    ),
                )
                .at(at.clone())
                .hint("the store was tampered with; restore it from a backup"),
            );
        }
        if m.id != *id {
            diags.push(
                Diagnostic::error(
                    Code::SnapshotChainBroken,
                    format!("the manifest in {id:06}.json says it is snapshot {}", m.id),
                )
                .at(at.clone())
                .hint("the store was tampered with; restore it from a backup"),
            );
        }
        previous = Some(sha.clone());
        verify_token(store, *id, &sha, opts, &mut out, &mut diags)?;

        let mut tree_shas = Vec::new();
        let mut bad = Vec::new();
        let files = trees.files_lenient(store, &m, &mut tree_shas, &mut bad);
        for b in bad {
            let present = store.has(&b.sha256).unwrap_or(false);
            let code = if present { Code::SnapshotBlobCorrupt } else { Code::SnapshotBlobMissing };
            diags.push(
                Diagnostic::error(
                    code,
                    format!(
                        "snapshot {id}: the folder tree of `{}` ({}) {}",
                        if b.folder.is_empty() { "." } else { &b.folder },
                        &b.sha256[..12.min(b.sha256.len())],
                        b.why
                    ),
                )
                .at(Location::file(store.locate(Key::Object(&b.sha256))))
                .hint("the store was damaged; restore the object from a backup"),
            );
            checked.insert(b.sha256.clone(), true);
        }
        let retain =
            m.retention.as_ref().and_then(|r| m.created.parse::<jiff::Timestamp>().ok().map(|t| retain_for(r, t)));
        if let Some(r) = retain {
            manifests_required.push((*id, r));
        } else if opts.retention.is_some() && !store.is_folder() {
            diags.push(
                Diagnostic::error(
                    Code::SnapshotRetentionMissing,
                    format!(
                        "snapshot {id} was taken without Object Lock retention, which [snapshot] retention now asks for"
                    ),
                )
                .at(at.clone())
                .hint("its objects may be deleted by anyone with write access; set retention before taking snapshots"),
            );
        }
        for rel in files.keys().filter(|r| leaves_project(r)) {
            diags.push(
                Diagnostic::error(
                    Code::SnapshotUnsafePath,
                    format!("snapshot {id} names `{}`, which leaves the project folder", rel.escape_debug()),
                )
                .at(at.clone())
                .hint("a manifest auditpack wrote never does: the store was tampered with; restore it from a backup"),
            );
        }
        let contents = files
            .iter()
            .map(|(p, r)| (p.as_str(), r.sha256.as_str()))
            .chain(std::iter::once(("index.json", m.index.as_str())))
            .chain(tree_shas.iter().map(|t| ("(folder tree)", t.as_str())));
        for (rel, r) in contents {
            referenced.insert(r.to_string());
            if let Some(want) = retain {
                let e = required.entry(r.to_string()).or_insert(want);
                e.until = e.until.max(want.until);
                e.mode = e.mode.max(want.mode);
            }
            let ok = *checked
                .entry(r.to_string())
                .or_insert_with(|| is_sha256(r) && store.check_blob(r, &mut buf) == Some(true));
            if !ok {
                let present = store.has(r).unwrap_or(false);
                let (code, what) = if present {
                    (Code::SnapshotBlobCorrupt, "does not match its checksum")
                } else {
                    (Code::SnapshotBlobMissing, "is missing")
                };
                diags.push(
                    Diagnostic::error(code, format!("snapshot {id}: the content of `{rel}` ({}) {what}", &r[..12.min(r.len())]))
                        .at(Location::file(store.locate(Key::Object(r))))
                        .hint("the store was damaged; restore the object from a backup (another copy of the same file has the same checksum)"),
                );
                // Reported once, for the first snapshot that refers to it.
                checked.insert(r.to_string(), true);
            }
        }
    }
    verify_retention(store, lock_enabled, opts, &required, &manifests_required, &mut out, &mut diags)?;
    let left = store.leftovers();
    if left > 0 {
        diags.push(
            Diagnostic::note(
                Code::SnapshotLeftovers,
                if store.location.is_s3() {
                    format!("{left} unfinished multipart upload(s) from an interrupted run")
                } else {
                    format!("{left} temporary file(s) from an interrupted run")
                },
            )
            .at(Location::file(store.location.to_string()))
            .hint(if store.location.is_s3() {
                "no snapshot refers to them; the next `auditpack snapshot` aborts those begun more than a day ago (an S3 lifecycle rule can also expire them)"
            } else {
                "harmless: the next `auditpack snapshot` removes them"
            }),
        );
    }
    let orphans = store.object_names()?.iter().filter(|n| !referenced.contains(n.as_str())).count();
    if orphans > 0 {
        diags.push(
            Diagnostic::note(Code::SnapshotOrphans, format!("{orphans} stored object(s) belong to no snapshot"))
                .at(Location::file(store.location.to_string()))
                .hint("left by an interrupted run; harmless"),
        );
    }
    Ok((out, diags))
}

fn verify_token(
    store: &Store,
    id: u64,
    sha: &str,
    opts: &VerifyOptions,
    out: &mut Verified,
    diags: &mut Diagnostics,
) -> Result<(), Error> {
    let at = Location::file(store.locate(Key::Token(id)));
    match store.token(id)? {
        Some(t) => match tsa::check(&t, &hex_digest(sha), opts.tsa_certs.as_deref()) {
            Ok(a) => {
                out.attested.insert(id, a.time);
            }
            Err(why) => diags.push(
                Diagnostic::error(
                    Code::SnapshotTimestampInvalid,
                    format!("snapshot {id}: the time-stamp token is not valid: {why}"),
                )
                .at(at)
                .hint("the manifest or its token was changed, or --tsa-cert is not the authority that signed it"),
            ),
        },
        None if opts.tsa_certs.is_some() => diags.push(
            Diagnostic::warning(Code::SnapshotTimestampMissing, format!("snapshot {id} has no time-stamp token"))
                .at(at)
                .hint("take snapshots with --tsa URL (or [snapshot] tsa) so a third party attests when they existed"),
        ),
        None => {}
    }
    Ok(())
}

/// Reads back each object's retention from the storage and reports any without it or held for
/// less than the snapshots that refer to it asked.
fn verify_retention(
    store: &Store,
    lock_enabled: Option<bool>,
    opts: &VerifyOptions,
    required: &BTreeMap<String, Retain>,
    manifests: &[(u64, Retain)],
    out: &mut Verified,
    diags: &mut Diagnostics,
) -> Result<(), Error> {
    let asked = opts.retention.is_some() || !manifests.is_empty();
    if !asked || lock_enabled.is_none() {
        return Ok(());
    }
    if lock_enabled == Some(false) {
        diags.push(
            Diagnostic::error(
                Code::SnapshotBucketUnlocked,
                format!(
                    "{}: the bucket has no Object Lock, so nothing keeps its objects from being deleted or replaced",
                    store.location
                ),
            )
            .at(Location::file(store.location.to_string()))
            .hint("create a bucket with Object Lock enabled and take snapshots there (docs/snapshots.md)"),
        );
        return Ok(());
    }
    let mut check = |key: Key<'_>, want: &Retain, what: String| -> Result<(), Error> {
        out.retention_checked += 1;
        let held = store.held(key)?;
        let Some(held) = held else { return Ok(()) }; // missing: reported as missing content
        let until = want.until.strftime("%Y-%m-%d").to_string();
        match (held.mode, held.until) {
            (Some(mode), Some(t)) if t >= want.until && mode >= want.mode => {}
            (Some(mode), Some(t)) => diags.push(
                Diagnostic::error(
                    Code::SnapshotRetentionShort,
                    format!(
                        "{what} is retained ({}) until {}, less than the {} until {until} its snapshot asked for",
                        mode.as_str(),
                        t.strftime("%Y-%m-%d"),
                        want.mode.as_str()
                    ),
                )
                .at(Location::file(store.locate(key)))
                .hint("extend it (aws s3api put-object-retention) before it can be deleted"),
            ),
            _ => diags.push(
                Diagnostic::error(
                    Code::SnapshotRetentionMissing,
                    format!(
                        "{what} has no Object Lock retention; its snapshot asked for {} until {until}",
                        want.mode.as_str()
                    ),
                )
                .at(Location::file(store.locate(key)))
                .hint("set it (aws s3api put-object-retention) before anyone deletes it"),
            ),
        }
        Ok(())
    };
    for (id, want) in manifests {
        check(Key::Manifest(*id), want, format!("the manifest of snapshot {id}"))?;
        if store.token(*id)?.is_some() {
            check(Key::Token(*id), want, format!("the time-stamp token of snapshot {id}"))?;
        }
    }
    for (sha, want) in required {
        check(Key::Object(sha), want, format!("the object {}", &sha[..12.min(sha.len())]))?;
    }
    Ok(())
}
