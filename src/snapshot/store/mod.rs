//! Where a snapshot store lives: a folder, or an S3 bucket (with Object Lock retention). Both
//! hold the same layout under their root; the snapshot stage above sees only `Store`, so every
//! snapshot command works the same on either.
//!
//! ```text
//! objects/ab/abcdef...    each distinct content (files, folder trees, indexes) once, by SHA-256
//! snapshots/000001.json   manifests; each carries the SHA-256 of the one before
//! snapshots/000001.tsr    the RFC 3161 time-stamp response over that manifest, when asked for
//! ```

mod folder;
mod s3;

use crate::error::Error;
use crate::project::{Retention, RetentionMode};
use crate::text::hex;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A store's address: a folder, or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Folder(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Folder(p) => write!(f, "{}", p.display()),
            StoreLocation::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl StoreLocation {
    /// Reads `s3://bucket/prefix` or a folder (relative to `project_root`).
    pub fn is_s3(&self) -> bool {
        matches!(self, StoreLocation::S3 { .. })
    }

    pub fn parse(text: &str, project_root: &Path) -> Result<Self, Error> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid = bucket.len() >= 3
                && bucket.len() <= 63
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
            if !valid {
                return Err(Error::Usage(format!(
                    "`{text}`: `{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` and `.`); write s3://BUCKET/PREFIX"
                )));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.split('/').any(|c| c == "." || c == "..") {
                return Err(Error::Usage(format!("`{text}`: the prefix may not contain `.` or `..`")));
            }
            return Ok(StoreLocation::S3 { bucket: bucket.to_string(), prefix });
        }
        let p = PathBuf::from(text);
        Ok(StoreLocation::Folder(if p.is_absolute() { p } else { project_root.join(p) }))
    }

    /// Where the project's store is: `--store`, else `[snapshot] store` in auditpack.toml, else
    /// `.auditpack/snapshots`; relative folders are relative to the project.
    pub fn of_project(
        project_root: &Path,
        configured: Option<&Path>,
        override_store: Option<&str>,
    ) -> Result<Self, Error> {
        if let Some(s) = override_store {
            // `--store DIR` is relative to where the command runs, like any path argument.
            return if s.starts_with("s3://") {
                Self::parse(s, project_root)
            } else {
                Ok(StoreLocation::Folder(PathBuf::from(s)))
            };
        }
        let configured = configured.map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| {
            // Read only `[snapshot] store`, so commands on the store work when the rest of the
            // project does not load.
            configured_value(project_root, "store")
                .unwrap_or_else(|| crate::project::DEFAULT_SNAPSHOT_STORE.to_string())
        });
        Self::parse(&configured, project_root)
    }
}

/// One `[snapshot]` string key read straight from auditpack.toml (for commands that must work
/// when the rest of the project does not load).
pub fn configured_value(project_root: &Path, key: &str) -> Option<String> {
    std::fs::read_to_string(project_root.join(crate::project::CONFIG_FILE))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("snapshot")?.get(key)?.as_str().map(String::from))
}

/// `[snapshot] retention` read straight from auditpack.toml (for `snapshot verify`).
pub fn configured_retention(project_root: &Path) -> Option<Retention> {
    let text = std::fs::read_to_string(project_root.join(crate::project::CONFIG_FILE)).ok()?;
    let table = text.parse::<toml::Table>().ok()?;
    let r = table.get("snapshot")?.get("retention")?;
    let mode = match r.get("mode")?.as_str()? {
        "compliance" => RetentionMode::Compliance,
        "governance" => RetentionMode::Governance,
        _ => return None,
    };
    let days = u32::try_from(r.get("days")?.as_integer()?).ok()?;
    Some(Retention { mode, days })
}

/// Object Lock retention for one write: the mode and the date before which nobody may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retain {
    pub mode: RetentionMode,
    pub until: jiff::Timestamp,
}

/// The retention an object holds, as the storage reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub mode: Option<RetentionMode>,
    pub until: Option<jiff::Timestamp>,
}

/// What a store holds under one name.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Object(&'a str),
    Manifest(u64),
    Token(u64),
}

/// A held lock; released when dropped (and by the OS when the process dies).
pub struct Lock(#[allow(dead_code)] Option<std::fs::File>);

/// What a backend does; `Store` adds checksums, deduplication and retention on top.
pub(crate) trait Backend: Send + Sync {
    /// Whether the store is there (a folder with `snapshots/`, a reachable bucket).
    fn exists(&self) -> Result<bool, Error>;
    /// Folder stores serialise writers with a file lock; buckets rely on conditional writes.
    fn lock(&self, exclusive: bool) -> Result<Lock, Error>;
    /// A shared lock for a reader, without creating anything; `None` where there is nothing to
    /// lock (an object store has no locks: manifests are written with a conditional write).
    fn read_lock(&self) -> Result<Option<Lock>, Error>;
    /// Before a snapshot writes: creates the folder, or checks the bucket (and its Object Lock
    /// when retention is asked for); removes what a killed run left.
    fn prepare_write(&self, retain: Option<&Retain>) -> Result<(), Error>;
    fn has_object(&self, sha: &str) -> Result<bool, Error>;
    /// Writes a content whose SHA-256 is `sha` (already checked by the caller).
    fn put_object(&self, sha: &str, bytes: &[u8], retain: Option<&Retain>) -> Result<(), Error>;
    /// Streams a file in, hashing it on the way; returns its SHA-256, its size and whether the
    /// content was new. Nothing is stored under a name that does not match the content.
    fn put_file(&self, path: &Path, buf: &mut [u8], retain: Option<&Retain>) -> Result<(String, u64, bool), Error>;
    /// Extends the retention of a content already stored (a later snapshot refers to it).
    fn keep_until(&self, key: Key<'_>, retain: &Retain) -> Result<(), Error>;
    /// Streams a content out as stored (the caller checks it against its name).
    fn get_object(&self, sha: &str, out: &mut dyn Write, buf: &mut [u8]) -> Result<(), Error>;
    /// Names of every stored content.
    fn object_names(&self) -> Result<Vec<String>, Error>;
    fn manifest_ids(&self) -> Result<Vec<u64>, Error>;
    fn get_manifest(&self, id: u64) -> Result<Vec<u8>, Error>;
    /// Creates manifest `id` unless it exists; `Ok(false)` when another writer took the number.
    fn create_manifest(&self, id: u64, bytes: &[u8], retain: Option<&Retain>) -> Result<bool, Error>;
    fn put_token(&self, id: u64, bytes: &[u8], retain: Option<&Retain>) -> Result<(), Error>;
    fn get_token(&self, id: u64) -> Result<Option<Vec<u8>>, Error>;
    /// The retention the storage holds for a name; `None` where the store has no retention.
    fn held(&self, key: Key<'_>) -> Result<Option<Held>, Error>;
    /// Whether the bucket has Object Lock enabled; `None` for a folder.
    fn lock_enabled(&self) -> Result<Option<bool>, Error>;
    /// What interrupted runs left: temporary files in a folder, unfinished multipart uploads in
    /// a bucket.
    fn leftovers(&self) -> usize;
    /// Where a name lives, for messages.
    fn locate(&self, key: Key<'_>) -> PathBuf;
}

/// A snapshot store, whatever holds it.
pub struct Store {
    pub location: StoreLocation,
    backend: Box<dyn Backend>,
    /// Contents this run already wrote or extended (so each is handled once).
    handled: Mutex<BTreeSet<String>>,
}

impl Store {
    pub fn open(location: StoreLocation) -> Result<Self, Error> {
        let backend: Box<dyn Backend> = match &location {
            StoreLocation::Folder(dir) => Box::new(folder::Folder::new(dir.clone())),
            StoreLocation::S3 { bucket, prefix } => Box::new(s3::S3::new(bucket, prefix)?),
        };
        Ok(Store { location, backend, handled: Mutex::new(BTreeSet::new()) })
    }

    /// A folder store (tests and callers that know they have one).
    pub fn new(dir: PathBuf) -> Self {
        Store {
            location: StoreLocation::Folder(dir.clone()),
            backend: Box::new(folder::Folder::new(dir)),
            handled: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn is_folder(&self) -> bool {
        matches!(self.location, StoreLocation::Folder(_))
    }

    pub fn exists(&self) -> Result<bool, Error> {
        self.backend.exists()
    }

    /// Locks for reading (shared with other readers, excluded while a snapshot is written).
    /// Readers never write: a folder store without a lock file (none was ever taken by a writer,
    /// or it was copied without it) is read unlocked, and nothing is created.
    pub fn read_lock(&self) -> Result<Option<Lock>, Error> {
        if !self.exists()? {
            return Ok(None);
        }
        self.backend.read_lock()
    }

    pub(crate) fn write_lock(&self) -> Result<Lock, Error> {
        self.backend.lock(true)
    }

    pub(crate) fn prepare_write(&self, retain: Option<&Retain>) -> Result<(), Error> {
        self.backend.prepare_write(retain)
    }

    pub fn locate(&self, key: Key<'_>) -> PathBuf {
        self.backend.locate(key)
    }

    pub fn ids(&self) -> Result<Vec<u64>, Error> {
        let mut ids = self.backend.manifest_ids()?;
        ids.sort();
        Ok(ids)
    }

    /// A manifest's bytes.
    pub fn manifest_bytes(&self, id: u64) -> Result<Vec<u8>, Error> {
        self.backend.get_manifest(id)
    }

    pub(crate) fn create_manifest(&self, id: u64, bytes: &[u8], retain: Option<&Retain>) -> Result<bool, Error> {
        self.backend.create_manifest(id, bytes, retain)
    }

    pub(crate) fn put_token(&self, id: u64, bytes: &[u8], retain: Option<&Retain>) -> Result<(), Error> {
        self.backend.put_token(id, bytes, retain)
    }

    pub fn token(&self, id: u64) -> Result<Option<Vec<u8>>, Error> {
        self.backend.get_token(id)
    }

    pub fn held(&self, key: Key<'_>) -> Result<Option<Held>, Error> {
        self.backend.held(key)
    }

    pub fn lock_enabled(&self) -> Result<Option<bool>, Error> {
        self.backend.lock_enabled()
    }

    pub fn leftovers(&self) -> usize {
        self.backend.leftovers()
    }

    pub fn object_names(&self) -> Result<Vec<String>, Error> {
        self.backend.object_names()
    }

    pub fn has(&self, sha: &str) -> Result<bool, Error> {
        self.backend.has_object(sha)
    }

    /// A content the store already holds and a new snapshot refers to: with retention, its
    /// retention is extended to the new snapshot's date (once per run).
    pub(crate) fn reuse(&self, sha: &str, retain: Option<&Retain>) -> Result<(), Error> {
        if let Some(r) = retain
            && self.handled.lock().map(|mut h| h.insert(sha.to_string())).unwrap_or(true)
        {
            self.backend.keep_until(Key::Object(sha), r)?;
        }
        Ok(())
    }

    /// Writes `bytes` as a content (if not there yet); returns its SHA-256.
    pub(crate) fn put_bytes(&self, bytes: &[u8], retain: Option<&Retain>) -> Result<String, Error> {
        let sha = hex(&Sha256::digest(bytes));
        if self.has(&sha)? {
            self.reuse(&sha, retain)?;
        } else {
            self.backend.put_object(&sha, bytes, retain)?;
            if let Ok(mut h) = self.handled.lock() {
                h.insert(sha.clone());
            }
        }
        Ok(sha)
    }

    /// Streams a file in; returns its SHA-256, size and whether the content was new.
    pub(crate) fn put_file(
        &self,
        path: &Path,
        buf: &mut [u8],
        retain: Option<&Retain>,
    ) -> Result<(String, u64, bool), Error> {
        let (sha, size, new) = self.backend.put_file(path, buf, retain)?;
        if new {
            if let Ok(mut h) = self.handled.lock() {
                h.insert(sha.clone());
            }
        } else {
            self.reuse(&sha, retain)?;
        }
        Ok((sha, size, new))
    }

    /// Streams a content to `out`, checking it against its name.
    pub fn copy_blob(&self, sha: &str, out: &mut dyn Write, buf: &mut [u8]) -> Result<(), Error> {
        if !super::is_sha256(sha) {
            return Err(Error::Package {
                path: self.locate(Key::Object(sha)),
                message: "a manifest names an object that is not a SHA-256: the store was tampered with (`auditpack snapshot verify`)".into(),
            });
        }
        let mut hashing = HashingWriter { inner: out, hash: Sha256::new() };
        self.backend.get_object(sha, &mut hashing, buf)?;
        if hex(&hashing.hash.finalize()) != sha {
            return Err(Error::Package {
                path: self.locate(Key::Object(sha)),
                message: "the stored content does not match its checksum: the store is corrupted (`auditpack snapshot verify`)".into(),
            });
        }
        Ok(())
    }

    pub fn read_blob(&self, sha: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.copy_blob(sha, &mut out, &mut vec![0u8; 64 * 1024])?;
        Ok(out)
    }

    /// Whether a content is present and matches its name (`None`: missing).
    pub fn check_blob(&self, sha: &str, buf: &mut [u8]) -> Option<bool> {
        if !self.has(sha).unwrap_or(false) {
            return None;
        }
        let mut hashing = HashingWriter { inner: &mut std::io::sink(), hash: Sha256::new() };
        if self.backend.get_object(sha, &mut hashing, buf).is_err() {
            return Some(false);
        }
        Some(hex(&hashing.hash.finalize()) == sha)
    }
}

struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hash: Sha256,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.hash.update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `000001`: manifests sort by name.
pub(crate) fn manifest_name(id: u64) -> String {
    format!("{id:06}")
}

/// Parses `000001.json` into 1.
pub(crate) fn manifest_id(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".json")?;
    if stem.len() >= 6 && stem.bytes().all(|b| b.is_ascii_digit()) { stem.parse().ok() } else { None }
}

/// A 64-digit lowercase hex SHA-256 (a content's name).
pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let root = Path::new("/p");
        assert_eq!(
            StoreLocation::parse("s3://my-bucket/audit/2026/", root).unwrap(),
            StoreLocation::S3 { bucket: "my-bucket".into(), prefix: "audit/2026".into() }
        );
        assert_eq!(
            StoreLocation::parse("s3://my-bucket", root).unwrap(),
            StoreLocation::S3 { bucket: "my-bucket".into(), prefix: String::new() }
        );
        assert!(StoreLocation::parse("s3://My_Bucket/x", root).is_err());
        assert!(StoreLocation::parse("s3://bucket/../x", root).is_err());
        assert_eq!(StoreLocation::parse("store", root).unwrap(), StoreLocation::Folder(PathBuf::from("/p/store")));
        assert_eq!(manifest_id("000012.json"), Some(12));
        assert_eq!(manifest_id("000012.tsr"), None);
    }
}
