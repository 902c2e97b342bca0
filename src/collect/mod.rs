//! Second stage: walk the evidence folder and SHA-256 every regular file -> [`Inventory`].
//!
//! Walking is sequential and sorted (deterministic); hashing streams each file through a reused
//! buffer on a rayon pool, so memory stays flat whatever the evidence size. Problems with single
//! files (unreadable, a link leaving the folder, a name BagIt cannot carry) are reported and the
//! run goes on.

pub mod cache;
pub mod dates;
pub mod memo;

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics};
use crate::project::{Project, Sidecar};
use dates::{DateSource, Effective};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Shared with every stage; kept here under their old paths.
use crate::text::{hex, slash};

/// The evidence's file count and size, and how many files map to a control.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Totals {
    pub files: usize,
    pub bytes: u64,
    pub mapped: usize,
    pub unmapped: usize,
}
use std::io::Read;
use std::path::{Path, PathBuf};

/// Sidecar files are metadata beside evidence, not evidence.
pub const SIDECAR_SUFFIX: &str = ".meta.toml";

/// Size of the read buffer each hashing thread reuses.
const BUF_SIZE: usize = 1 << 20;

/// One evidence file, hashed.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceFile {
    /// Path relative to the project, `/`-separated (e.g. `evidence/iam/mfa-2026-03.json`).
    pub path: String,
    /// Where in `path` the path relative to the evidence folder starts (see [`EvidenceFile::rel`]):
    /// an offset, not a second string for every file.
    #[serde(skip)]
    rel_start: u32,
    pub size: u64,
    pub sha256: String,
    pub effective: Effective,
    /// Boxed: few files have one, and every file would otherwise carry its size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<Box<SidecarFile>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SidecarFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    #[serde(flatten)]
    pub meta: Sidecar,
}

impl EvidenceFile {
    /// The file `rel` (`/`-separated) of the evidence folder `prefix` (relative to the project,
    /// `/`-separated), without a sidecar.
    pub fn new(prefix: &str, rel: &str, size: u64, sha256: String, effective: Effective) -> Self {
        let path = format!("{prefix}/{rel}");
        let rel_start = (path.len() - rel.len()) as u32;
        EvidenceFile { path, rel_start, size, sha256, effective, sidecar: None }
    }

    /// The path relative to the evidence folder, `/`-separated: what patterns match against.
    pub fn rel(&self) -> &str {
        &self.path[self.rel_start as usize..]
    }
}

/// Everything found under the evidence folder, sorted by path.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inventory {
    pub files: Vec<EvidenceFile>,
}

impl Inventory {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Options for a collect run.
#[derive(Default)]
pub struct CollectOptions {
    /// Progress in bytes hashed; hidden when `None`.
    pub progress: Option<indicatif::ProgressBar>,
    /// Folder of the hash cache (see [`cache`]); `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// Hash every file even when the cache proves it unchanged (the cache is rewritten).
    pub rehash: bool,
}

/// A file found by the walk, not yet opened: the walk reads directories only (no `stat` per
/// file); size and times come from the `fstat` of the open file, so they describe what was read.
struct Found {
    /// Relative to the evidence folder, `/`-separated.
    rel: String,
}

/// What hashing one file gave: its stamp (what proves it unchanged next time) and its SHA-256.
type Hashed = std::io::Result<(cache::Stamp, String)>;

/// Files at least this large are hashed after the others, largest first, so that no large file
/// is hashed alone on one core at the end while the others idle.
const LARGE: u64 = 8 << 20;

/// Walks and hashes the project's evidence folder.
pub fn collect(project: &Project, opts: &CollectOptions, diags: &mut Diagnostics) -> Inventory {
    let evidence_dir = &project.paths.evidence;
    let root = project.root.join(evidence_dir);
    let (found, sidecars) = walk(&root, evidence_dir, diags);

    let cached = match (&opts.cache_dir, opts.rehash) {
        (Some(dir), false) => cache::Cache::load(dir),
        _ => cache::Cache::default(),
    };
    let (hashed, hits) = hash_all(&root, &found, &cached, opts.progress.as_ref());
    // Every file a hit and no file gone: the cache on disk is already this one.
    let unchanged = hits == found.len() && hits == cached.len();
    drop(cached);
    if let Some(dir) = opts.cache_dir.as_ref().filter(|_| !unchanged) {
        let entries = found
            .iter()
            .zip(&hashed)
            .filter_map(|(f, h)| h.as_ref().ok().map(|(stamp, hash)| (f.rel.as_str(), *stamp, hash.as_str())));
        if let Err(e) = cache::Cache::save(dir, entries) {
            diags.push(
                Diagnostic::warning(
                    Code::CacheNotWritten,
                    format!("cannot write the hash cache in {}: {e}", dir.display()),
                )
                .hint("the next collect hashes every file again; check that the folder is writable or give --cache"),
            );
        }
    }

    let prefix = slash(evidence_dir);
    let mut files = Vec::with_capacity(found.len());
    for (f, h) in found.into_iter().zip(hashed) {
        match h {
            Ok((stamp, sha256)) => {
                let effective = dates::from_file_name(file_name(&f.rel))
                    .or_else(|| mtime_date(stamp.mtime_ns).map(|d| Effective::day(d, DateSource::ModifiedTime)))
                    .unwrap_or_else(|| Effective::day(project.audit.report_date, DateSource::ModifiedTime));
                files.push(EvidenceFile::new(&prefix, &f.rel, stamp.size, sha256, effective));
            }
            Err(e) => diags.push(
                Diagnostic::error(Code::UnreadableFile, format!("cannot read the evidence file: {e}"))
                    .at_file(format!("{prefix}/{}", f.rel))
                    .hint(format!("{}; it is left out of the index and the package", crate::project::io_hint(&e))),
            ),
        }
    }
    attach_sidecars(project, &root, &mut files, sidecars, diags);
    Inventory { files }
}

/// Hashes `found` on every core; the result `i` is that of `found[i]`.
///
/// Workers take the next file from a shared counter (no fixed split, so a core never waits on
/// the other's share). A file the cache knows is `stat`ed and, if unchanged, not opened; any
/// other file is opened and `fstat`ed, and hashed at once unless it is [`LARGE`]: large files
/// are hashed in a second round, largest first.
/// Also returns how many files the cache proved unchanged.
fn hash_all(
    root: &Path,
    found: &[Found],
    cached: &cache::Cache,
    progress: Option<&indicatif::ProgressBar>,
) -> (Vec<Hashed>, usize) {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(found.len().max(1));
    let results: Vec<Mutex<Option<Hashed>>> = (0..found.len()).map(|_| Mutex::new(None)).collect();
    let large: Mutex<Vec<(u64, usize)>> = Mutex::new(Vec::new());
    let inc = |n: u64| {
        if let Some(pb) = progress {
            pb.inc(n);
        }
    };
    let in_cache = cached.find_sorted(found.iter().map(|f| f.rel.as_str()));
    let hits = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; BUF_SIZE];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = found.get(i) else { break };
                    let full = root.join(&f.rel);
                    if let Some(j) = in_cache[i]
                        && let Ok(meta) = std::fs::metadata(&full)
                        && let stamp = cache::Stamp::of(&meta)
                        && let Some(hash) = cached.get(j, &stamp)
                    {
                        inc(stamp.size);
                        hits.fetch_add(1, Ordering::Relaxed);
                        *results[i].lock().expect("no panics") = Some(Ok((stamp, hash)));
                        continue;
                    }
                    let r = match crate::fsutil::open_regular(&full).and_then(|file| Ok((file.metadata()?, file))) {
                        Ok((meta, _)) if meta.len() >= LARGE => {
                            large.lock().expect("no panics").push((meta.len(), i));
                            continue;
                        }
                        Ok((meta, mut file)) => hash_open(&mut file, &meta, &mut buf),
                        Err(e) => Err(e),
                    };
                    inc(r.as_ref().map(|(s, _)| s.size).unwrap_or(0));
                    *results[i].lock().expect("no panics") = Some(r);
                }
            });
        }
    });
    let mut large = large.into_inner().expect("no panics");
    large.sort_unstable_by(|a, b| b.cmp(a));
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.min(large.len()) {
            s.spawn(|| {
                let mut buf = vec![0u8; BUF_SIZE];
                while let Some(&(_, i)) = large.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let full = root.join(&found[i].rel);
                    let r = crate::fsutil::open_regular(&full).and_then(|mut file| {
                        let meta = file.metadata()?;
                        hash_open(&mut file, &meta, &mut buf)
                    });
                    inc(r.as_ref().map(|(s, _)| s.size).unwrap_or(0));
                    *results[i].lock().expect("no panics") = Some(r);
                }
            });
        }
    });
    let results = results.into_iter().map(|m| m.into_inner().expect("no panics").expect("every file hashed")).collect();
    (results, hits.into_inner())
}

/// Hashes an open file; the stamp comes from its `fstat`, taken before reading.
fn hash_open(file: &mut std::fs::File, meta: &std::fs::Metadata, buf: &mut [u8]) -> Hashed {
    let stamp = cache::Stamp::of(meta);
    let (hash, _) = copy_hashed(file, &mut std::io::sink(), buf)?;
    Ok((stamp, hash))
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn mtime_date(ns: i128) -> Option<jiff::civil::Date> {
    let ts = jiff::Timestamp::from_nanosecond(ns).ok()?;
    Some(ts.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// SHA-256 of a file, streamed through `buf`; lower-case hex.
pub fn hash_file(path: &Path, buf: &mut [u8]) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    copy_hashed(&mut file, &mut std::io::sink(), buf).map(|(hash, _)| hash)
}

/// Streams `src` into `out` through `buf` and hashes it on the way: the one read loop behind
/// hashing, packaging and snapshots. Returns the SHA-256 (lower-case hex) and the byte count.
pub fn copy_hashed(
    src: &mut impl Read,
    out: &mut impl std::io::Write,
    buf: &mut [u8],
) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = match src.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((hex(&hasher.finalize()), size))
}

/// Walks `root`; returns evidence files and sidecar files separately, each sorted by `rel`.
/// Directories are read with their entries' types (no `stat` per file). Links are followed only
/// while they stay inside `root`; a link to a folder that contains it is a loop and not followed.
fn walk(root: &Path, display_root: &Path, diags: &mut Diagnostics) -> (Vec<Found>, Vec<Found>) {
    if !root.is_dir() {
        return (Vec::new(), Vec::new());
    }
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let walk = Walk { root, display_root, canonical_root: &canonical_root };
    let Walked { mut files, mut sidecars, diags: found } = walk.dir(PathBuf::new(), canonical_root.clone());
    for d in found {
        diags.push(d);
    }
    // Sorted as strings (not in walk order, where `a/x` comes before `a.txt`): index.json is
    // sorted by path, and the sidecars and the cache are found by binary search.
    files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    sidecars.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    (files, sidecars)
}

/// What the walk of one folder and its sub-folders found.
#[derive(Default)]
struct Walked {
    files: Vec<Found>,
    sidecars: Vec<Found>,
    diags: Vec<Diagnostic>,
}

struct Walk<'a> {
    root: &'a Path,
    display_root: &'a Path,
    canonical_root: &'a Path,
}

impl Walk<'_> {
    fn shown(&self, rel: &Path) -> String {
        format!("{}/{}", slash(self.display_root), slash(rel))
    }

    /// Reads the folder `dir_rel` (relative to the root; `dir_real` is its real path, for loop
    /// detection), then its sub-folders in parallel: on a tree of many small folders, reading
    /// directories is most of an unchanged re-collect.
    fn dir(&self, dir_rel: PathBuf, dir_real: PathBuf) -> Walked {
        let (root, canonical_root) = (self.root, self.canonical_root);
        let mut out = Walked::default();
        let dir = root.join(&dir_rel);
        let mut entries: Vec<(std::ffi::OsString, std::fs::FileType)> = Vec::new();
        let read = std::fs::read_dir(&dir).and_then(|rd| {
            for e in rd {
                let e = e?;
                entries.push((e.file_name(), e.file_type()?));
            }
            Ok(())
        });
        if let Err(e) = read {
            out.diags.push(
                Diagnostic::error(Code::UnreadableFile, format!("cannot read: {e}"))
                    .at_file(self.shown(&dir_rel))
                    .hint(crate::project::io_hint(&e)),
            );
            return out;
        }
        let mut subdirs = Vec::new();
        for (name, ty) in entries {
            let rel_path = dir_rel.join(&name);
            let mut is_file = ty.is_file();
            if ty.is_dir() {
                if name.to_str().is_some_and(|n| n.ends_with(SIDECAR_SUFFIX)) {
                    out.diags.push(
                        Diagnostic::warning(
                            Code::IgnoredEntry,
                            format!("`{}` is a folder, so it is not read as a sidecar", name.to_string_lossy()),
                        )
                        .at_file(self.shown(&rel_path))
                        .hint("a sidecar is a file `<evidence file>.meta.toml`; rename the folder (its files are collected as evidence)"),
                    );
                }
                subdirs.push((rel_path, dir_real.join(&name)));
                continue;
            }
            let mut special = (!ty.is_file() && !ty.is_symlink()).then(|| crate::fsutil::kind_of(&ty));
            if ty.is_symlink() {
                // Resolve the link: a target outside the evidence folder is never read.
                match root.join(&rel_path).canonicalize() {
                    Ok(target) if !target.starts_with(canonical_root) => {
                        out.diags.push(
                            Diagnostic::error(
                                Code::SymlinkOutside,
                                "a symbolic link points outside the evidence folder; it was not followed",
                            )
                            .at_file(self.shown(&rel_path))
                            .hint("copy the file into the evidence folder instead of linking to it"),
                        );
                        continue;
                    }
                    Ok(target) if target.is_dir() => {
                        if dir_real.starts_with(&target) {
                            out.diags.push(
                                Diagnostic::error(
                                    Code::SymlinkLoop,
                                    "a symbolic link points back to a folder that contains it",
                                )
                                .at_file(self.shown(&rel_path))
                                .hint("remove the link; the folder is collected once through its real path"),
                            );
                        } else {
                            subdirs.push((rel_path, target));
                        }
                        continue;
                    }
                    Ok(target) => {
                        is_file = target.is_file();
                        if !is_file {
                            special = std::fs::metadata(&target).ok().map(|m| crate::fsutil::kind_of(&m.file_type()));
                        }
                    }
                    Err(e) if crate::project::is_link_loop(&e) => {
                        out.diags.push(
                            Diagnostic::error(
                                Code::SymlinkLoop,
                                "a symbolic link loop: the link leads back to itself through other links",
                            )
                            .at_file(self.shown(&rel_path))
                            .hint("remove the link or point it at a real file"),
                        );
                        continue;
                    }
                    Err(e) => {
                        let (what, hint) = match e.kind() {
                            std::io::ErrorKind::NotFound => (
                                "a symbolic link points to nothing".to_string(),
                                "remove the link or restore its target".to_string(),
                            ),
                            _ => (format!("a symbolic link cannot be followed: {e}"), crate::project::io_hint(&e)),
                        };
                        out.diags.push(
                            Diagnostic::error(Code::BrokenSymlink, what).at_file(self.shown(&rel_path)).hint(hint),
                        );
                        continue;
                    }
                }
            }
            if !is_file {
                // A FIFO, socket or device is never opened (reading one could hang or never
                // end), but it is not passed over in silence either.
                if let Some(kind) = special {
                    out.diags.push(
                        Diagnostic::note(Code::SpecialFile, format!("{kind} in the evidence folder is not collected"))
                            .at_file(self.shown(&rel_path))
                            .hint("evidence is regular files; remove it or replace it with the file it stands for"),
                    );
                }
                continue;
            }
            let Some(rel) = rel_path.to_str().map(|_| slash(&rel_path)) else {
                out.diags.push(
                    Diagnostic::error(Code::UnpackageableName, "the file name is not valid UTF-8")
                        .at_file(self.shown(&rel_path))
                        .hint("rename the file using UTF-8 characters; BagIt manifests are UTF-8"),
                );
                continue;
            };
            if rel.contains(['\n', '\r', '%']) {
                out.diags.push(
                    Diagnostic::error(
                        Code::UnpackageableName,
                        format!("the file name `{}` contains a line break or `%`", rel.escape_debug()),
                    )
                    .at_file(format!("{}/{}", slash(self.display_root), rel.escape_debug()))
                    .hint("rename the file: BagIt manifests must percent-encode these characters and common validators do not decode them"),
                );
                continue;
            }
            // On Windows a backslash separates folders: unzipped there, `a\b.csv` becomes the file
            // b.csv in a folder a, which no manifest lists, and verifiers refuse the name.
            if rel.contains('\\') {
                out.diags.push(
                    Diagnostic::error(
                        Code::UnpackageableName,
                        format!("the file name `{}` contains a backslash", rel.escape_debug()),
                    )
                    .at_file(format!("{}/{}", slash(self.display_root), rel.escape_debug()))
                    .hint("rename the file without `\\`: in a package it would be a folder separator on Windows, and `auditpack verify` and other BagIt validators refuse it"),
                );
                continue;
            }
            if rel.ends_with(SIDECAR_SUFFIX) {
                out.sidecars.push(Found { rel });
            } else {
                out.files.push(Found { rel });
            }
        }
        let subs: Vec<Walked> = subdirs.into_par_iter().map(|(rel, real)| self.dir(rel, real)).collect();
        for sub in subs {
            out.files.extend(sub.files);
            out.sidecars.extend(sub.sidecars);
            out.diags.extend(sub.diags);
        }
        out
    }
}

/// Reads each sidecar and attaches it to its evidence file; the sidecar's date wins.
fn attach_sidecars(
    project: &Project,
    root: &Path,
    files: &mut [EvidenceFile],
    sidecars: Vec<Found>,
    diags: &mut Diagnostics,
) {
    let mut buf = vec![0u8; 64 * 1024];
    for s in sidecars {
        let target = &s.rel[..s.rel.len() - SIDECAR_SUFFIX.len()];
        let path = format!("{}/{}", slash(&project.paths.evidence), s.rel);
        let Ok(i) = files.binary_search_by(|f| f.rel().cmp(target)) else {
            diags.push(
                Diagnostic::warning(
                    Code::OrphanSidecar,
                    format!("the sidecar describes `{target}`, which does not exist"),
                )
                .at_file(&path)
                .hint("rename the sidecar to `<evidence file name>.meta.toml`, or delete it"),
            );
            continue;
        };
        let Some(meta) = crate::project::load_sidecar(&project.root, Path::new(&path), project, diags) else {
            continue;
        };
        let hashed = crate::fsutil::open_regular(&root.join(&s.rel)).and_then(|mut file| {
            Ok((file.metadata()?.len(), copy_hashed(&mut file, &mut std::io::sink(), &mut buf)?.0))
        });
        let (size, sha256) = match hashed {
            Ok(h) => h,
            Err(e) => {
                diags.push(
                    Diagnostic::error(Code::UnreadableFile, format!("cannot read the sidecar: {e}")).at_file(&path),
                );
                continue;
            }
        };
        let f = &mut files[i];
        if let Some((start, end)) = meta.period {
            f.effective = Effective::range(start, end, DateSource::Sidecar);
        } else if let Some(d) = meta.effective {
            f.effective = Effective::day(d, DateSource::Sidecar);
        }
        f.sidecar = Some(Box::new(SidecarFile { path, sha256, size, meta }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_known_vector() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc.txt");
        std::fs::write(&p, b"abc").unwrap();
        let mut buf = vec![0u8; 2]; // smaller than the file: exercises the streaming loop
        assert_eq!(
            hash_file(&p, &mut buf).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
