//! Atomic outputs: every file of a run is written to a temporary file beside its destination
//! and renamed into place only when the whole run succeeded, so a failed or interrupted run
//! never leaves a half-written output behind.

use crate::Error;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// A file written into the staging folder: where it is (until commit) and what it holds.
pub struct Staged {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// Counts and hashes what passes through to `inner` (`std::io::sink()` to only hash).
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), size: 0 }
    }
    /// The SHA-256 of everything written, and its length.
    pub(crate) fn finish(self) -> ([u8; 32], u64) {
        (self.hasher.finalize().into(), self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `path` made absolute and resolved through its nearest existing ancestor, without creating
/// anything: where an output folder that may not exist yet would land.
pub fn resolved(path: &Path) -> Option<PathBuf> {
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().ok()?.join(path) };
    let existing = abs.ancestors().find(|a| a.exists())?;
    let rest = abs.strip_prefix(existing).ok()?;
    Some(existing.canonicalize().ok()?.join(rest))
}

/// Whether `path` (existing or not) is `dir` or inside it, symbolic links resolved. Nothing is
/// created, so a refused path leaves no trace.
pub fn is_inside(path: &Path, dir: &Path) -> bool {
    match (resolved(path), resolved(dir)) {
        (Some(p), Some(d)) => p.starts_with(&d),
        _ => false,
    }
}

/// Temporary files this tool names `.auditpack-*` (staged outputs, spooled zip runs) that a
/// killed run left in `dir`: removed when older than [`STALE_AFTER`], so a run still writing
/// beside this one keeps its own. Only regular files of our own prefix are touched; errors are
/// ignored (the next run tries again). Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    remove_stale(dir, &[TEMP_PREFIX])
}

/// [`remove_stale_temporaries`] for the given prefixes. A folder is removed (with what it holds)
/// only when its name starts with [`SNAPSHOT_TEMP_PREFIX`]: the project a `build --snapshot`
/// extracted.
pub fn remove_stale(dir: &Path, prefixes: &[&str]) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        // `.auditpack-cache` is the hash cache folder, not a temporary.
        if !prefixes.iter().any(|p| name.starts_with(p)) || name == ".auditpack-cache" {
            continue;
        }
        let Ok(meta) = e.path().symlink_metadata() else { continue };
        // A snapshot extraction is written once, at the start of a build, and read until its
        // end: a day, not an hour, before it counts as left behind.
        let after = if meta.file_type().is_dir() { STALE_DIR_AFTER } else { STALE_AFTER };
        let stale = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age >= after);
        if !stale {
            continue;
        }
        let gone = if meta.file_type().is_file() {
            std::fs::remove_file(e.path()).is_ok()
        } else if meta.file_type().is_dir() && name.starts_with(SNAPSHOT_TEMP_PREFIX) {
            std::fs::remove_dir_all(e.path()).is_ok()
        } else {
            false
        };
        if gone {
            removed += 1;
        }
    }
    removed
}

/// The prefix of every temporary file a run writes into the output folder.
pub const TEMP_PREFIX: &str = ".auditpack-";
/// A `build --snapshot` extraction folder untouched this long belongs to no live build: a day.
pub const STALE_DIR_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// The prefix of the private folder `build --snapshot` extracts the project into.
pub const SNAPSHOT_TEMP_PREFIX: &str = ".auditpack-snapshot-";
/// A temporary file untouched this long belongs to no live run (a build writes its files
/// continuously): one hour.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

pub struct Staging {
    dir: PathBuf,
    files: Vec<(NamedTempFile, PathBuf)>,
}

impl Staging {
    pub fn new(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create the output folder", dir, e))?;
        remove_stale_temporaries(dir);
        Ok(Staging { dir: dir.to_path_buf(), files: Vec::new() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A temporary file that becomes `name` (relative to the output folder) on commit.
    pub fn file(&mut self, name: &str) -> Result<&mut NamedTempFile, Error> {
        let dest = self.dir.join(name);
        let parent = dest.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("create the output folder", &parent, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&parent)
            .map_err(|e| Error::io("create a temporary file in", &parent, e))?;
        self.files.push((tmp, dest));
        Ok(&mut self.files.last_mut().expect("just pushed").0)
    }

    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let dest = self.dir.join(name);
        let f = self.file(name)?;
        f.write_all(bytes).map_err(|e| Error::io("write", &dest, e))
    }

    /// Streams what `write` writes into a staged file, hashing it on the way; returns where it is
    /// and its checksum, so it can be packaged without being held whole or read twice.
    pub fn write_streamed(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<Staged, Error> {
        let dest = self.dir.join(name);
        let f = self.file(name)?;
        let path = f.path().to_path_buf();
        let mut w = HashingWriter::new(std::io::BufWriter::with_capacity(256 * 1024, f.as_file_mut()));
        write(&mut w).and_then(|_| w.inner.flush()).map_err(|e| Error::io("write", &dest, e))?;
        let (sha256, size) = w.finish();
        Ok(Staged { path, sha256: crate::text::hex(&sha256), size })
    }

    /// [`Staging::write_streamed`] of `value` as pretty JSON and a final newline.
    pub fn write_json<T: serde::Serialize>(&mut self, name: &str, value: &T) -> Result<Staged, Error> {
        self.write_streamed(name, |w| {
            serde_json::to_writer_pretty(&mut *w, value)?;
            w.write_all(b"\n")
        })
    }

    /// Renames every staged file into place; returns the final paths.
    pub fn commit(self) -> Result<Vec<PathBuf>, Error> {
        let mut done = Vec::new();
        for (tmp, dest) in self.files {
            tmp.as_file().sync_all().map_err(|e| Error::io("flush", &dest, e))?;
            tmp.persist(&dest).map_err(|e| Error::io("move into place", &dest, e.error))?;
            // NamedTempFile is created 0600; outputs are ordinary files.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644));
            }
            done.push(dest);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_before_commit_and_dropping_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut s = Staging::new(&out).unwrap();
        s.write("a.txt", b"a").unwrap();
        assert!(!out.join("a.txt").exists());
        drop(s);
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "temporary files are removed");
        let mut s = Staging::new(&out).unwrap();
        s.write("sub/b.txt", b"b").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read(out.join("sub/b.txt")).unwrap(), b"b");
    }

    fn age(p: &Path, secs: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
    }

    #[test]
    fn killed_build_leaves_auditpack_temporaries_removed_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        for n in [".auditpack-old.zip", ".auditpack-fresh", "mine.txt", ".other-old"] {
            std::fs::write(out.join(n), b"x").unwrap();
        }
        for n in [".auditpack-old.zip", "mine.txt", ".other-old"] {
            age(&out.join(n), 2 * 3600);
        }
        let snap = out.join(".auditpack-snapshot-abc");
        std::fs::create_dir(&snap).unwrap();
        std::fs::write(snap.join("f"), b"x").unwrap();
        std::fs::File::open(&snap).unwrap().set_modified(std::time::SystemTime::now() - STALE_DIR_AFTER * 2).unwrap();
        let mut s = Staging::new(out).unwrap();
        s.write("a.txt", b"a").unwrap();
        s.commit().unwrap();
        assert!(!out.join(".auditpack-old.zip").exists(), "a stale temporary of ours is removed");
        assert!(!snap.exists(), "a stale snapshot extraction is removed");
        let live = out.join(".auditpack-snapshot-live");
        std::fs::create_dir(&live).unwrap();
        std::fs::File::open(&live).unwrap().set_modified(std::time::SystemTime::now() - STALE_AFTER * 2).unwrap();
        remove_stale_temporaries(out);
        assert!(live.exists(), "a build reading its extraction for two hours keeps it");
        assert!(out.join(".auditpack-fresh").exists(), "a live run's temporary is kept");
        assert!(out.join("mine.txt").exists() && out.join(".other-old").exists(), "other files are never touched");
    }

    #[test]
    fn a_path_not_yet_created_is_resolved_without_creating_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("evidence")).unwrap();
        let out = dir.path().join("evidence/sub/out");
        assert!(is_inside(&out, &dir.path().join("evidence")));
        assert!(!dir.path().join("evidence/sub").exists());
        assert!(!is_inside(&dir.path().join("out"), &dir.path().join("evidence")));
    }
}
