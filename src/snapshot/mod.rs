//! Last stage: snapshots. Each records everything a build reads (the project's files and every
//! evidence file, with contents and modification times), the evidence index and each control's
//! result, in a content-addressed store, so `build --snapshot ID` can rebuild the package byte
//! for byte and Type 2 coverage can count evidence that has since been replaced.
//!
//! ```text
//! <store>/lock                    advisory lock: one writer at a time, readers share
//! <store>/objects/ab/abcdef...    each distinct content once, named by its SHA-256, read-only
//! <store>/snapshots/000001.json   manifests; each carries the SHA-256 of the one before
//! <store>/tmp/                    work files; whatever a killed run left is removed by the next
//! ```
//!
//! Writes are atomic (temporary file, fsync, rename) and ordered blobs first, manifest last, so a
//! run killed at any point leaves the store consistent: at worst unreferenced blobs, never a
//! manifest naming a blob that is not there. The library never reads the clock: the snapshot
//! time comes in from the caller and is metadata only (no build output depends on it).

use crate::Error;
use crate::assess::PastEvidence;
use crate::collect::dates::{DateSource, Effective};
use crate::collect::hex;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::project::Project;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "auditpack-snapshot/1";
const BUF_SIZE: usize = 1 << 20;

/// One snapshot's manifest, stored as `snapshots/<id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub id: u64,
    /// SHA-256 of the previous manifest's bytes; `None` for the first.
    pub previous: Option<String>,
    /// When the snapshot was taken (RFC 3339, UTC). Metadata only.
    pub created: String,
    pub auditpack: String,
    /// The evidence folder, relative to the project.
    pub evidence_root: String,
    /// Every file a build reads, relative to the project.
    pub files: BTreeMap<String, FileRecord>,
    /// SHA-256 of the evidence index (index.json) as of the snapshot, stored as a blob.
    pub index: String,
    /// Each control's test result as of the snapshot.
    pub controls: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub sha256: String,
    pub size: u64,
    /// Modification time in seconds since the epoch: a build infers some effective dates from it.
    pub mtime: Option<i64>,
}

/// A snapshot store on disk.
pub struct Store {
    pub dir: PathBuf,
}

/// Where the project's store is: `--store`, else `[snapshot] store` in auditpack.toml, else
/// `.auditpack/snapshots`; relative paths are relative to the project.
pub fn store_dir(project_root: &Path, configured: Option<&Path>, override_dir: Option<&Path>) -> PathBuf {
    if let Some(d) = override_dir {
        return d.to_path_buf();
    }
    let configured = configured.map(Path::to_path_buf).unwrap_or_else(|| {
        // Read only `[snapshot] store`, so commands on the store work when the rest of the
        // project does not load.
        std::fs::read_to_string(project_root.join(crate::project::CONFIG_FILE))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| t.get("snapshot")?.get("store")?.as_str().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(crate::project::DEFAULT_SNAPSHOT_STORE))
    });
    if configured.is_absolute() { configured } else { project_root.join(configured) }
}

/// A held lock; released when dropped (and by the OS when the process dies).
pub struct Lock(#[allow(dead_code)] File);

impl Store {
    pub fn new(dir: PathBuf) -> Self {
        Store { dir }
    }

    pub fn exists(&self) -> bool {
        self.dir.join("snapshots").is_dir()
    }

    fn lock(&self, exclusive: bool) -> Result<Lock, Error> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("create the snapshot store", &self.dir, e))?;
        let path = self.dir.join("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open the store lock", &path, e))?;
        let r = if exclusive { f.lock() } else { f.lock_shared() };
        r.map_err(|e| Error::io("lock", &path, e))?;
        Ok(Lock(f))
    }

    /// Locks for reading (shared with other readers, excluded while a snapshot is written).
    /// Readers never write: a store without a lock file (none was ever taken by a writer, or it
    /// was copied without it) is read unlocked, and nothing is created.
    pub fn read_lock(&self) -> Result<Option<Lock>, Error> {
        if !self.exists() {
            return Ok(None);
        }
        let path = self.dir.join("lock");
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open the store lock", &path, e)),
        };
        f.lock_shared().map_err(|e| Error::io("lock", &path, e))?;
        Ok(Some(Lock(f)))
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("objects").join(&sha256[..2.min(sha256.len())]).join(sha256)
    }

    fn manifest_path(&self, id: u64) -> PathBuf {
        self.dir.join("snapshots").join(format!("{id:06}.json"))
    }

    /// Snapshot ids in order.
    pub fn ids(&self) -> Result<Vec<u64>, Error> {
        let dir = self.dir.join("snapshots");
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<u64> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io("list", &dir, e))?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?;
                if stem.len() >= 6 && stem.bytes().all(|b| b.is_ascii_digit()) { stem.parse().ok() } else { None }
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// A manifest and the SHA-256 of its bytes.
    pub fn load(&self, id: u64) -> Result<(Manifest, String), Error> {
        let p = self.manifest_path(id);
        let bytes = std::fs::read(&p).map_err(|e| Error::io("read the snapshot", &p, e))?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Usage(format!("{}: not a snapshot manifest ({e})", p.display())))?;
        Ok((m, hex(&Sha256::digest(&bytes))))
    }

    /// Resolves `latest`, a number, or a prefix (6+ hex digits) of a manifest's SHA-256.
    pub fn resolve(&self, id: &str) -> Result<u64, Error> {
        let ids = self.ids()?;
        let not_found = || {
            Error::Usage(format!("no snapshot `{id}` in {}; `auditpack snapshot list` shows them", self.dir.display()))
        };
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

    /// Writes `bytes` as a blob (if not there yet); returns its SHA-256.
    fn put_bytes(&self, bytes: &[u8]) -> Result<String, Error> {
        let sha = hex(&Sha256::digest(bytes));
        if !self.blob_path(&sha).exists() {
            let mut tmp = self.temp()?;
            tmp.write_all(bytes).map_err(|e| Error::io("write", tmp.path(), e))?;
            self.commit_blob(tmp, &sha)?;
        }
        Ok(sha)
    }

    /// Streams a file into the store, hashing it on the way; returns its SHA-256, its size and
    /// whether the content is new to the store.
    fn put_file(&self, path: &Path, buf: &mut [u8]) -> Result<(String, u64, bool), Error> {
        let mut f = File::open(path).map_err(|e| Error::io("read", path, e))?;
        let mut tmp = self.temp()?;
        let (sha, size) = crate::collect::copy_hashed(&mut f, &mut tmp, buf)
            .map_err(|e| Error::io("copy into the snapshot store", path, e))?;
        let new = !self.blob_path(&sha).exists();
        if new {
            self.commit_blob(tmp, &sha)?;
        }
        Ok((sha, size, new))
    }

    fn temp(&self) -> Result<tempfile::NamedTempFile, Error> {
        let dir = self.dir.join("tmp");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        tempfile::Builder::new()
            .prefix("part-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io("create a temporary file in", &dir, e))
    }

    fn commit_blob(&self, tmp: tempfile::NamedTempFile, sha: &str) -> Result<(), Error> {
        let dest = self.blob_path(sha);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        tmp.as_file().sync_all().map_err(|e| Error::io("flush", &dest, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o444));
        }
        tmp.persist(&dest).map_err(|e| Error::io("move into the store", &dest, e.error))?;
        Ok(())
    }

    /// Streams a blob to `out`, checking its content against its name.
    fn copy_blob(&self, sha: &str, out: &mut dyn Write, buf: &mut [u8]) -> Result<(), Error> {
        let p = self.blob_path(sha);
        if !is_sha256(sha) {
            return Err(Error::Package {
                path: p,
                message: "a manifest names an object that is not a SHA-256: the store was tampered with (`auditpack snapshot verify`)".into(),
            });
        }
        let mut f = File::open(&p).map_err(|e| Error::io("read the snapshot blob", &p, e))?;
        let mut h = Sha256::new();
        loop {
            let n = match f.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read the snapshot blob", &p, e)),
            };
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| Error::io("write", &p, e))?;
        }
        if hex(&h.finalize()) != sha {
            return Err(Error::Package {
                path: p,
                message: "the stored content does not match its checksum: the store is corrupted (`auditpack snapshot verify`)".into(),
            });
        }
        Ok(())
    }

    fn read_blob(&self, sha: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.copy_blob(sha, &mut out, &mut vec![0u8; 64 * 1024])?;
        Ok(out)
    }
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
}

/// The files of the project a build reads, relative to its root, sorted.
fn build_inputs(project: &Project, index: &crate::index::EvidenceIndex) -> Vec<String> {
    let root = &project.root;
    let mut out = BTreeSet::new();
    let rel = |p: &Path| crate::collect::slash(p);
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

/// Records the assessed project in the store. `created` is the snapshot time (metadata).
pub fn take(store: &Store, a: &crate::Assessed, index_json: &[u8], created: jiff::Timestamp) -> Result<Taken, Error> {
    let project = &a.project;
    let evidence = project.root.join(&project.paths.evidence);
    // Checked before the store is created: a refused store leaves nothing behind.
    if evidence.exists() && crate::output::is_inside(&store.dir, &evidence) {
        return Err(Error::Usage(format!(
            "the snapshot store {} is inside the evidence folder; set [snapshot] store to a place outside it",
            store.dir.display()
        )));
    }
    let _lock = store.lock(true)?;
    // Whatever a killed run left in tmp/ is garbage now that we hold the lock.
    if let Ok(rd) = std::fs::read_dir(store.dir.join("tmp")) {
        for e in rd.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let known: BTreeMap<&str, &str> = a
        .index
        .evidence
        .iter()
        .flat_map(|f| {
            std::iter::once((f.file.path.as_str(), f.file.sha256.as_str()))
                .chain(f.file.sidecar.as_ref().map(|s| (s.path.as_str(), s.sha256.as_str())))
        })
        .collect();
    let mut files = BTreeMap::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let (mut bytes, mut new_bytes) = (0u64, 0u64);
    for rel in build_inputs(project, &a.index) {
        let full = project.root.join(&rel);
        let mtime = mtime_of(&full);
        let record = match known.get(rel.as_str()) {
            // Unchanged content costs nothing: the collect stage hashed it moments ago.
            Some(sha) if store.blob_path(sha).exists() => {
                let size = std::fs::metadata(&full).map_err(|e| Error::io("read", &full, e))?.len();
                FileRecord { sha256: sha.to_string(), size, mtime }
            }
            expected => {
                let (sha, size, new) = store.put_file(&full, &mut buf)?;
                if expected.is_some_and(|e| *e != sha) {
                    return Err(Error::Package {
                        path: full,
                        message: "the file changed while the snapshot was being taken; run it again".into(),
                    });
                }
                if new {
                    new_bytes += size;
                }
                FileRecord { sha256: sha, size, mtime }
            }
        };
        bytes += record.size;
        files.insert(rel, record);
    }
    let index = store.put_bytes(index_json)?;
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
        evidence_root: a.index.evidence_root.clone(),
        files,
        index,
        controls: a
            .assessment
            .controls
            .iter()
            .map(|(id, c)| {
                (
                    id.clone(),
                    serde_json::to_value(c.result).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                )
            })
            .collect(),
    };
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Usage(format!("cannot serialise: {e}")))?;
    text.push(b'\n');
    let dest = store.manifest_path(id);
    std::fs::create_dir_all(store.dir.join("snapshots")).map_err(|e| Error::io("create", &store.dir, e))?;
    let mut tmp = store.temp()?;
    tmp.write_all(&text).map_err(|e| Error::io("write", &dest, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io("flush", &dest, e))?;
    tmp.persist_noclobber(&dest).map_err(|e| Error::io("write the snapshot", &dest, e.error))?;
    Ok(Taken { id, sha256: hex(&Sha256::digest(&text)), files: manifest.files.len(), bytes, new_bytes })
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
fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Writes the project as of snapshot `id` into `dest` (every file, with its modification time),
/// for `build --snapshot`. Every blob is checked against its checksum on the way.
pub fn materialize(store: &Store, id: u64, dest: &Path) -> Result<Manifest, Error> {
    let _lock = store.read_lock()?;
    let (m, _) = store.load(id)?;
    let mut buf = vec![0u8; BUF_SIZE];
    for (rel, r) in &m.files {
        if leaves_project(rel) {
            return Err(Error::Usage(format!("snapshot {id} names `{rel}`, which leaves the project")));
        }
        let p = dest.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        let mut f = File::create(&p).map_err(|e| Error::io("write", &p, e))?;
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
    let lock = match store.read_lock() {
        Ok(Some(l)) => l,
        Ok(None) => return out,
        Err(e) => {
            diags.push(unreadable_history(&store.dir, &e.to_string()));
            return out;
        }
    };
    let ids = store.ids().unwrap_or_default();
    for id in ids.into_iter().filter(|i| upto.is_none_or(|u| *i <= u)) {
        let index = store.load(id).and_then(|(m, _)| store.read_blob(&m.index));
        let value: serde_json::Value = match index.map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                diags.push(unreadable_history(&store.dir, &format!("snapshot {id}: {e}")));
                continue;
            }
            Err(e) => {
                diags.push(unreadable_history(&store.dir, &format!("snapshot {id}: {e}")));
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

fn unreadable_history(dir: &Path, why: &str) -> Diagnostic {
    Diagnostic::warning("snapshot-history-unreadable", format!("earlier snapshots could not be read: {why}"))
        .at(Location::file(dir))
        .hint("run `auditpack snapshot verify`; coverage was assessed from the current evidence only")
}

/// One line of `snapshot list`.
#[derive(Debug, Serialize)]
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
}

pub fn list(store: &Store) -> Result<Vec<Listed>, Error> {
    let _lock = store.read_lock()?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for id in store.ids()? {
        let (m, sha256) = store.load(id)?;
        let mut new_bytes = 0;
        for r in m.files.values() {
            if seen.insert(r.sha256.clone()) {
                new_bytes += r.size;
            }
        }
        out.push(Listed {
            id,
            sha256,
            created: m.created.clone(),
            auditpack: m.auditpack.clone(),
            files: m.files.len(),
            bytes: m.files.values().map(|r| r.size).sum(),
            new_bytes,
        });
    }
    Ok(out)
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
    let paths: BTreeSet<&String> = ma.files.keys().chain(mb.files.keys()).collect();
    for p in paths {
        let (x, y) = (ma.files.get(p), mb.files.get(p));
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

/// Checks the chain (each manifest names the hash of the one before), every blob (present and
/// matching its name) and reports leftovers of killed runs. Problems are diagnostics.
pub fn verify(store: &Store) -> Result<(usize, Diagnostics), Error> {
    let mut diags = Diagnostics::default();
    if !store.exists() {
        return Err(Error::Usage(format!("there is no snapshot store at {}", store.dir.display())));
    }
    let _lock = store.read_lock()?;
    let ids = store.ids()?;
    let mut previous: Option<String> = None;
    let mut referenced = BTreeSet::new();
    let mut checked: BTreeMap<String, bool> = BTreeMap::new();
    let mut buf = vec![0u8; BUF_SIZE];
    for (n, id) in ids.iter().enumerate() {
        let at = Location::file(store.manifest_path(*id));
        let (m, sha) = match store.load(*id) {
            Ok(x) => x,
            Err(e) => {
                diags.push(
                    Diagnostic::error("snapshot-unreadable", format!("snapshot {id} cannot be read: {e}"))
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
                    "snapshot-chain-broken",
                    format!("the first snapshot is {id}; earlier ones were removed"),
                )
                .at(at.clone())
                .hint("snapshots are never deleted; restore the missing ones from a backup"),
            );
        } else if n > 0 && (m.previous != previous || *id != ids[n - 1] + 1) {
            diags.push(
                Diagnostic::error(
                    "snapshot-chain-broken",
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
                    "snapshot-chain-broken",
                    format!("the manifest in {id:06}.json says it is snapshot {}", m.id),
                )
                .at(at.clone())
                .hint("the store was tampered with; restore it from a backup"),
            );
        }
        previous = Some(sha);
        for rel in m.files.keys().filter(|r| leaves_project(r)) {
            diags.push(
                Diagnostic::error(
                    "snapshot-unsafe-path",
                    format!("snapshot {id} names `{}`, which leaves the project folder", rel.escape_debug()),
                )
                .at(at.clone())
                .hint("a manifest auditpack wrote never does: the store was tampered with; restore it from a backup"),
            );
        }
        for (rel, r) in m
            .files
            .iter()
            .map(|(p, r)| (p.as_str(), r.sha256.as_str()))
            .chain(std::iter::once(("index.json", m.index.as_str())))
        {
            referenced.insert(r.to_string());
            let ok = *checked.entry(r.to_string()).or_insert_with(|| is_sha256(r) && check_blob(store, r, &mut buf));
            if !ok {
                let present = store.blob_path(r).exists();
                let (code, what) = if present {
                    ("snapshot-blob-corrupt", "does not match its checksum")
                } else {
                    ("snapshot-blob-missing", "is missing")
                };
                diags.push(
                    Diagnostic::error(code, format!("snapshot {id}: the content of `{rel}` ({}) {what}", &r[..12.min(r.len())]))
                        .at(Location::file(store.blob_path(r)))
                        .hint("the store was damaged; restore the object from a backup (another copy of the same file has the same checksum)"),
                );
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(store.dir.join("tmp")) {
        let left = rd.flatten().count();
        if left > 0 {
            diags.push(
                Diagnostic::note("snapshot-leftovers", format!("{left} temporary file(s) from an interrupted run"))
                    .at(Location::file(store.dir.join("tmp")))
                    .hint("harmless: the next `auditpack snapshot` removes them"),
            );
        }
    }
    let mut orphans = 0;
    for e in walkdir::WalkDir::new(store.dir.join("objects")).min_depth(2).into_iter().flatten() {
        if e.file_type().is_file() && !referenced.contains(e.file_name().to_string_lossy().as_ref()) {
            orphans += 1;
        }
    }
    if orphans > 0 {
        diags.push(
            Diagnostic::note("snapshot-orphans", format!("{orphans} stored object(s) belong to no snapshot"))
                .at(Location::file(store.dir.join("objects")))
                .hint("left by an interrupted run; harmless"),
        );
    }
    Ok((ids.len(), diags))
}

fn check_blob(store: &Store, sha: &str, buf: &mut [u8]) -> bool {
    let Ok(mut f) = File::open(store.blob_path(sha)) else { return false };
    let mut h = Sha256::new();
    loop {
        match f.read(buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    hex(&h.finalize()) == sha
}
