//! The hash cache: an unchanged re-collect reads metadata only, not file contents.
//!
//! A cached hash is reused only when everything that proves a file unchanged is the same:
//! its path, size, modification time (ns), status-change time (ns), inode and device. Any write
//! to a file, and any `touch -d` that puts its modification time back, changes its ctime, which
//! no user can set. A file modified within two seconds before the cache was written is
//! "racily clean" (a change in the same clock tick would not show) and is hashed again.
//!
//! The cache is a text file, one line per file: `sha256 size mtime ctime ino dev path`.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

pub const FILE_NAME: &str = "collect-cache-v1.txt";

/// What proves a file unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub ino: u64,
    pub dev: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Stamp {
                size: meta.len(),
                mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
                ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
                ino: meta.ino(),
                dev: meta.dev(),
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(0);
            Stamp { size: meta.len(), mtime_ns, ctime_ns: mtime_ns, ino: 0, dev: 0 }
        }
    }
}

#[derive(Default)]
pub struct Cache {
    entries: HashMap<String, (Stamp, String)>,
    /// Modification time of the cache file itself: entries this recent are not trusted.
    written_ns: i128,
}

const RACY_NS: i128 = 2_000_000_000;

impl Cache {
    /// Loads the cache in `dir`; a missing or unreadable cache is an empty one (it is only a cache).
    pub fn load(dir: &Path) -> Cache {
        let path = dir.join(FILE_NAME);
        let Ok(file) = std::fs::File::open(&path) else {
            return Cache::default();
        };
        let written_ns = file.metadata().map(|m| Stamp::of(&m).mtime_ns).unwrap_or(0);
        let mut entries = HashMap::new();
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else {
                return Cache::default();
            };
            if let Some((p, stamp, hash)) = parse_line(&line) {
                entries.insert(p, (stamp, hash));
            }
        }
        Cache { entries, written_ns }
    }

    /// The cached hash of `rel` if its stamp is unchanged and not racily recent.
    pub fn get(&self, rel: &str, stamp: &Stamp) -> Option<&str> {
        let (s, h) = self.entries.get(rel)?;
        (s == stamp && stamp.mtime_ns < self.written_ns - RACY_NS).then_some(h.as_str())
    }

    /// Writes a new cache of `files` into `dir`, atomically.
    pub fn save<'a>(dir: &Path, files: impl Iterator<Item = (&'a str, Stamp, &'a str)>) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new().prefix(".collect-cache-").tempfile_in(dir)?;
        {
            let mut w = BufWriter::new(tmp.as_file_mut());
            for (rel, s, hash) in files {
                writeln!(w, "{hash} {} {} {} {} {} {rel}", s.size, s.mtime_ns, s.ctime_ns, s.ino, s.dev)?;
            }
            w.flush()?;
        }
        tmp.persist(dir.join(FILE_NAME)).map_err(|e| e.error)?;
        Ok(())
    }
}

fn parse_line(line: &str) -> Option<(String, Stamp, String)> {
    let mut it = line.splitn(7, ' ');
    let hash = it.next()?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let stamp = Stamp {
        size: it.next()?.parse().ok()?,
        mtime_ns: it.next()?.parse().ok()?,
        ctime_ns: it.next()?.parse().ok()?,
        ino: it.next()?.parse().ok()?,
        dev: it.next()?.parse().ok()?,
    };
    let rel = it.next()?;
    Some((rel.to_string(), stamp, hash.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_racy_entries() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a b.txt");
        std::fs::write(&f, "x").unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&f).unwrap());
        let hash = "a".repeat(64);
        Cache::save(dir.path(), [("dir/a b.txt", stamp, hash.as_str())].into_iter()).unwrap();
        let c = Cache::load(dir.path());
        // Written just now: the file is racily clean, so it is not trusted yet.
        assert_eq!(c.get("dir/a b.txt", &stamp), None);
        let older = Stamp { mtime_ns: stamp.mtime_ns - 10 * RACY_NS, ..stamp };
        let c2 = Cache { entries: HashMap::from([("p".to_string(), (older, hash.clone()))]), written_ns: c.written_ns };
        assert_eq!(c2.get("p", &older), Some(hash.as_str()));
        assert_eq!(c2.get("p", &Stamp { ctime_ns: older.ctime_ns + 1, ..older }), None, "any change of ctime");
        assert_eq!(c2.get("q", &older), None);
    }

    #[test]
    fn a_corrupt_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "garbage\nzz 1 2 3 4 5 p\n").unwrap();
        assert!(Cache::load(dir.path()).entries.is_empty());
    }
}
