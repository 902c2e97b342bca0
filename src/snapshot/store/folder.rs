//! The store in a folder: atomic writes (temporary file, fsync, rename) and an advisory lock
//! (`<store>/lock`): one writer at a time, readers share. The operating system releases the
//! lock when a process dies, so a killed run never leaves the store locked.

use super::{Backend, Held, Key, Lock, Retain, manifest_id, manifest_name};
use crate::error::Error;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub(crate) struct Folder {
    dir: PathBuf,
}

impl Folder {
    pub fn new(dir: PathBuf) -> Self {
        Folder { dir }
    }

    fn blob_path(&self, sha: &str) -> PathBuf {
        self.dir.join("objects").join(sha.get(..2).unwrap_or("__")).join(sha)
    }

    fn manifest_path(&self, id: u64) -> PathBuf {
        self.dir.join("snapshots").join(format!("{}.json", manifest_name(id)))
    }

    fn token_path(&self, id: u64) -> PathBuf {
        self.dir.join("snapshots").join(format!("{}.tsr", manifest_name(id)))
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

    /// Writes `bytes` to `dest` atomically, never replacing a file there; `Ok(false)` if one is.
    fn create_new(&self, dest: &Path, bytes: &[u8]) -> Result<bool, Error> {
        std::fs::create_dir_all(self.dir.join("snapshots")).map_err(|e| Error::io("create", &self.dir, e))?;
        let mut tmp = self.temp()?;
        tmp.write_all(bytes).map_err(|e| Error::io("write", dest, e))?;
        tmp.as_file().sync_all().map_err(|e| Error::io("flush", dest, e))?;
        match tmp.persist_noclobber(dest) {
            Ok(_) => Ok(true),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io("write", dest, e.error)),
        }
    }
}

impl Backend for Folder {
    fn exists(&self) -> Result<bool, Error> {
        Ok(self.dir.join("snapshots").is_dir())
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
        Ok(Lock(Some(f)))
    }

    fn read_lock(&self) -> Result<Option<Lock>, Error> {
        let path = self.dir.join("lock");
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open the store lock", &path, e)),
        };
        f.lock_shared().map_err(|e| Error::io("lock", &path, e))?;
        Ok(Some(Lock(Some(f))))
    }

    fn prepare_write(&self, retain: Option<&Retain>) -> Result<(), Error> {
        if retain.is_some() {
            return Err(Error::Usage(format!(
                "[snapshot] retention needs an S3 store with Object Lock (s3://bucket/prefix); a folder ({}) cannot keep anyone from deleting it",
                self.dir.display()
            )));
        }
        // Whatever a killed run left in tmp/ is garbage now that we hold the lock.
        if let Ok(rd) = std::fs::read_dir(self.dir.join("tmp")) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    fn has_object(&self, sha: &str) -> Result<bool, Error> {
        Ok(self.blob_path(sha).exists())
    }

    fn put_object(&self, sha: &str, bytes: &[u8], _retain: Option<&Retain>) -> Result<(), Error> {
        let mut tmp = self.temp()?;
        tmp.write_all(bytes).map_err(|e| Error::io("write", tmp.path(), e))?;
        self.commit_blob(tmp, sha)
    }

    fn put_file(&self, path: &Path, buf: &mut [u8], _retain: Option<&Retain>) -> Result<(String, u64, bool), Error> {
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

    fn keep_until(&self, _key: Key<'_>, _retain: &Retain) -> Result<(), Error> {
        Ok(())
    }

    fn get_object(&self, sha: &str, out: &mut dyn Write, buf: &mut [u8]) -> Result<(), Error> {
        let p = self.blob_path(sha);
        let mut f = File::open(&p).map_err(|e| Error::io("read the snapshot blob", &p, e))?;
        loop {
            let n = match f.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read the snapshot blob", &p, e)),
            };
            out.write_all(&buf[..n]).map_err(|e| Error::io("write", &p, e))?;
        }
        Ok(())
    }

    fn object_names(&self) -> Result<Vec<String>, Error> {
        Ok(walkdir::WalkDir::new(self.dir.join("objects"))
            .min_depth(2)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    fn manifest_ids(&self) -> Result<Vec<u64>, Error> {
        let dir = self.dir.join("snapshots");
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        Ok(std::fs::read_dir(&dir)
            .map_err(|e| Error::io("list", &dir, e))?
            .flatten()
            .filter_map(|e| manifest_id(&e.file_name().into_string().ok()?))
            .collect())
    }

    fn get_manifest(&self, id: u64) -> Result<Vec<u8>, Error> {
        let p = self.manifest_path(id);
        std::fs::read(&p).map_err(|e| Error::io("read the snapshot", &p, e))
    }

    fn create_manifest(&self, id: u64, bytes: &[u8], _retain: Option<&Retain>) -> Result<bool, Error> {
        self.create_new(&self.manifest_path(id), bytes)
    }

    fn put_token(&self, id: u64, bytes: &[u8], _retain: Option<&Retain>) -> Result<(), Error> {
        let dest = self.token_path(id);
        if !self.create_new(&dest, bytes)? {
            return Err(Error::Usage(format!("{} exists already; it is never replaced", dest.display())));
        }
        Ok(())
    }

    fn get_token(&self, id: u64) -> Result<Option<Vec<u8>>, Error> {
        let p = self.token_path(id);
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", &p, e)),
        }
    }

    fn held(&self, _key: Key<'_>) -> Result<Option<Held>, Error> {
        Ok(None)
    }

    fn lock_enabled(&self) -> Result<Option<bool>, Error> {
        Ok(None)
    }

    fn leftovers(&self) -> usize {
        std::fs::read_dir(self.dir.join("tmp")).map(|rd| rd.flatten().count()).unwrap_or(0)
    }

    fn locate(&self, key: Key<'_>) -> PathBuf {
        match key {
            Key::Object(sha) => self.blob_path(sha),
            Key::Manifest(id) => self.manifest_path(id),
            Key::Token(id) => self.token_path(id),
        }
    }
}
