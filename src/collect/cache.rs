//! The hash cache: an unchanged re-collect reads metadata only, not file contents.
//!
//! A cached hash is reused only when everything that proves a file unchanged is the same:
//! its path, size, modification time (ns), status-change time (ns), inode and device. Any write
//! to a file, and any `touch -d` that puts its modification time back, changes its ctime, which
//! no user can set. A file modified within two seconds before the cache was written is
//! "racily clean" (a change in the same clock tick would not show) and is hashed again.
//!
//! The cache is one binary file, read whole and never parsed into per-file allocations:
//! `APCACHE2`, then one record per file in path order (SHA-256 as 32 bytes, size, mtime and
//! ctime in ns, inode, device, path length, path; integers little-endian), then the SHA-256 of
//! everything before it, so a damaged cache is detected and ignored rather than trusted.

use sha2::{Digest, Sha256};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

pub const FILE_NAME: &str = "collect-cache-v2.bin";
const MAGIC: &[u8; 8] = b"APCACHE2";
/// sha256, size, mtime, ctime, inode, device, path length.
const FIXED: usize = 32 + 8 + 16 + 16 + 8 + 8 + 4;

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
    /// The file as read, checksum verified.
    data: Vec<u8>,
    /// Offset of each record in `data`, in path order.
    records: Vec<u32>,
    /// Modification time of the cache file itself: entries this recent are not trusted.
    written_ns: i128,
}

const RACY_NS: i128 = 2_000_000_000;

/// One record of the cache.
struct Record<'a> {
    sha256: &'a [u8],
    stamp: Stamp,
    rel: &'a str,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn i128_at(b: &[u8], at: usize) -> i128 {
    i128::from_le_bytes(b[at..at + 16].try_into().expect("16 bytes"))
}

impl Cache {
    /// Loads the cache in `dir`; a missing, unreadable or damaged cache is an empty one (it is
    /// only a cache).
    pub fn load(dir: &Path) -> Cache {
        Self::read(dir).unwrap_or_default()
    }

    fn read(dir: &Path) -> Option<Cache> {
        let mut file = std::fs::File::open(dir.join(FILE_NAME)).ok()?;
        let meta = file.metadata().ok()?;
        let written_ns = Stamp::of(&meta).mtime_ns;
        let mut data = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut data).ok()?;
        if data.len() < MAGIC.len() + 32 || &data[..MAGIC.len()] != MAGIC {
            return None;
        }
        let body = data.len() - 32;
        if Sha256::digest(&data[..body]).as_slice() != &data[body..] {
            return None;
        }
        let mut records = Vec::new();
        let mut at = MAGIC.len();
        let mut last: &[u8] = &[];
        while at < body {
            if at + FIXED > body || at > u32::MAX as usize {
                return None;
            }
            let len = u32::from_le_bytes(data[at + FIXED - 4..at + FIXED].try_into().ok()?) as usize;
            let rel = data.get(at + FIXED..at + FIXED + len).filter(|_| at + FIXED + len <= body)?;
            std::str::from_utf8(rel).ok()?;
            // Strictly increasing paths: what the merge in `find_sorted` relies on.
            if !records.is_empty() && rel <= last {
                return None;
            }
            last = rel;
            records.push(at as u32);
            at += FIXED + len;
        }
        drop(file);
        Some(Cache { data, records, written_ns })
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn record(&self, i: usize) -> Record<'_> {
        let b = &self.data[self.records[i] as usize..];
        let len = u32::from_le_bytes(b[FIXED - 4..FIXED].try_into().expect("4 bytes")) as usize;
        Record {
            sha256: &b[..32],
            stamp: Stamp {
                size: u64_at(b, 32),
                mtime_ns: i128_at(b, 40),
                ctime_ns: i128_at(b, 56),
                ino: u64_at(b, 72),
                dev: u64_at(b, 80),
            },
            // Checked to be UTF-8 when loaded.
            rel: std::str::from_utf8(&b[FIXED..FIXED + len]).unwrap_or_default(),
        }
    }

    /// For each of `rels` (sorted, as the walk returns them) the number of its cache record,
    /// if there is one: one merge of two sorted lists, no lookups.
    pub fn find_sorted<'a>(&self, rels: impl Iterator<Item = &'a str>) -> Vec<Option<u32>> {
        let mut j = 0;
        rels.map(|rel| {
            while j < self.records.len() && self.record(j).rel < rel {
                j += 1;
            }
            (j < self.records.len() && self.record(j).rel == rel).then_some(j as u32)
        })
        .collect()
    }

    /// The cached hash of record `i` if `stamp` is the one recorded and not racily recent.
    pub fn get(&self, i: u32, stamp: &Stamp) -> Option<String> {
        let r = self.record(i as usize);
        (r.stamp == *stamp && stamp.mtime_ns < self.written_ns - RACY_NS).then(|| crate::text::hex(r.sha256))
    }

    /// Writes a new cache of `files` (sorted by path) into `dir`, atomically.
    pub fn save<'a>(dir: &Path, files: impl Iterator<Item = (&'a str, Stamp, &'a str)>) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new().prefix(".collect-cache-").tempfile_in(dir)?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
            let mut sum = Sha256::new();
            let mut put = |w: &mut BufWriter<_>, b: &[u8]| {
                sum.update(b);
                w.write_all(b)
            };
            put(&mut w, MAGIC)?;
            let mut rec = Vec::with_capacity(FIXED + 256);
            for (rel, s, hash) in files {
                rec.clear();
                rec.extend(unhex(hash).ok_or_else(|| std::io::Error::other("a hash is not 64 hex digits"))?);
                rec.extend(s.size.to_le_bytes());
                rec.extend(s.mtime_ns.to_le_bytes());
                rec.extend(s.ctime_ns.to_le_bytes());
                rec.extend(s.ino.to_le_bytes());
                rec.extend(s.dev.to_le_bytes());
                rec.extend((rel.len() as u32).to_le_bytes());
                rec.extend(rel.as_bytes());
                put(&mut w, &rec)?;
            }
            let digest = sum.finalize();
            w.write_all(&digest)?;
            w.flush()?;
        }
        tmp.persist(dir.join(FILE_NAME)).map_err(|e| e.error)?;
        // The text cache of earlier versions is dead weight now.
        let _ = std::fs::remove_file(dir.join("collect-cache-v1.txt"));
        Ok(())
    }
}

fn unhex(hash: &str) -> Option<[u8; 32]> {
    let b = hash.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(out)
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
        let hash = "ab".repeat(32);
        let older = Stamp { mtime_ns: stamp.mtime_ns - 10 * RACY_NS, ..stamp };
        let files = [("dir/a b.txt", stamp, hash.as_str()), ("p", older, hash.as_str())];
        Cache::save(dir.path(), files.into_iter()).unwrap();
        let c = Cache::load(dir.path());
        assert_eq!(c.len(), 2);
        let found = c.find_sorted(["a", "dir/a b.txt", "o", "p", "q"].into_iter());
        assert_eq!(found, [None, Some(0), None, Some(1), None]);
        // Written just now: the file is racily clean, so it is not trusted yet.
        assert_eq!(c.get(0, &stamp), None);
        assert_eq!(c.get(1, &older), Some(hash.clone()));
        assert_eq!(c.get(1, &Stamp { ctime_ns: older.ctime_ns + 1, ..older }), None, "any change of ctime");
        assert_eq!(c.get(1, &Stamp { ino: older.ino + 1, ..older }), None, "another inode");
    }

    #[test]
    fn a_corrupt_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "garbage\nzz 1 2 3 4 5 p\n").unwrap();
        assert!(Cache::load(dir.path()).is_empty());
        // One flipped bit in a valid cache: the checksum no longer matches.
        let stamp = Stamp { size: 1, mtime_ns: 2, ctime_ns: 3, ino: 4, dev: 5 };
        Cache::save(dir.path(), [("p", stamp, "00".repeat(32).as_str())].into_iter()).unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(Cache::load(dir.path()).len(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[MAGIC.len()] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(Cache::load(dir.path()).is_empty());
    }
}
