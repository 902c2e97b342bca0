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

pub struct Staging {
    dir: PathBuf,
    files: Vec<(NamedTempFile, PathBuf)>,
}

impl Staging {
    pub fn new(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create the output folder", dir, e))?;
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
            .prefix(".auditpack-")
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
        Ok(Staged { path, sha256: crate::collect::hex(&sha256), size })
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
}
