//! Second stage: walk the evidence folder and SHA-256 every regular file -> [`Inventory`].
//!
//! Walking is sequential and sorted (deterministic); hashing streams each file through a reused
//! buffer on a rayon pool, so memory stays flat whatever the evidence size. Problems with single
//! files (unreadable, a link leaving the folder, a name BagIt cannot carry) are reported and the
//! run goes on.

pub mod cache;
pub mod dates;

use crate::diag::{Diagnostic, Diagnostics};
use crate::project::{Project, Sidecar};
use dates::{DateSource, Effective};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
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
    /// Path relative to the evidence folder, `/`-separated; what patterns match against.
    #[serde(skip)]
    pub rel: String,
    pub size: u64,
    pub sha256: String,
    pub effective: Effective,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SidecarFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    #[serde(flatten)]
    pub meta: Sidecar,
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

/// A regular file found by the walk, not yet hashed.
struct Found {
    full: PathBuf,
    rel: String,
    size: u64,
    mtime: Option<std::time::SystemTime>,
    stamp: Option<cache::Stamp>,
}

/// Walks and hashes the project's evidence folder.
pub fn collect(project: &Project, opts: &CollectOptions, diags: &mut Diagnostics) -> Inventory {
    let evidence_dir = &project.paths.evidence;
    let root = project.root.join(evidence_dir);
    let (found, sidecars) = walk(&root, evidence_dir, diags);

    let total: u64 = found.iter().map(|f| f.size).sum();
    if let Some(pb) = &opts.progress {
        pb.set_length(total);
    }
    let cached = match (&opts.cache_dir, opts.rehash) {
        (Some(dir), false) => cache::Cache::load(dir),
        _ => cache::Cache::default(),
    };
    let hashed: Vec<Result<String, std::io::Error>> = found
        .par_iter()
        .map_init(
            || vec![0u8; BUF_SIZE],
            |buf, f| {
                let hit = f.stamp.as_ref().and_then(|s| cached.get(&f.rel, s));
                let r = match hit {
                    Some(h) => Ok(h.to_string()),
                    None => hash_file(&f.full, buf),
                };
                if let Some(pb) = &opts.progress {
                    pb.inc(f.size);
                }
                r
            },
        )
        .collect();
    if let Some(dir) = &opts.cache_dir {
        let entries =
            found.iter().zip(&hashed).filter_map(|(f, h)| Some((f.rel.as_str(), f.stamp?, h.as_deref().ok()?)));
        if let Err(e) = cache::Cache::save(dir, entries) {
            diags.push(
                Diagnostic::warning(
                    "cache-not-written",
                    format!("cannot write the hash cache in {}: {e}", dir.display()),
                )
                .hint("the next collect hashes every file again; check that the folder is writable or give --cache"),
            );
        }
    }

    let mut files = Vec::with_capacity(found.len());
    for (f, h) in found.into_iter().zip(hashed) {
        let path = format!("{}/{}", slash(evidence_dir), f.rel);
        match h {
            Ok(sha256) => {
                let effective = dates::from_file_name(file_name(&f.rel))
                    .or_else(|| f.mtime.and_then(mtime_date).map(|d| Effective::day(d, DateSource::ModifiedTime)))
                    .unwrap_or_else(|| Effective::day(project.audit.report_date, DateSource::ModifiedTime));
                files.push(EvidenceFile { path, rel: f.rel, size: f.size, sha256, effective, sidecar: None });
            }
            Err(e) => diags.push(
                Diagnostic::error("unreadable-file", format!("cannot read the evidence file: {e}"))
                    .at_file(&path)
                    .hint("fix its permissions or remove it; it is left out of the index and the package"),
            ),
        }
    }
    attach_sidecars(project, &mut files, sidecars, diags);
    Inventory { files }
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn mtime_date(t: std::time::SystemTime) -> Option<jiff::civil::Date> {
    let ts = jiff::Timestamp::try_from(t).ok()?;
    Some(ts.to_zoned(jiff::tz::TimeZone::UTC).date())
}

pub fn slash(p: &Path) -> String {
    p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
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

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Walks `root` in sorted order. Links are followed only while they stay inside `root`.
/// Returns evidence files and sidecar files separately.
fn walk(root: &Path, display_root: &Path, diags: &mut Diagnostics) -> (Vec<Found>, Vec<Found>) {
    let mut files = Vec::new();
    let mut sidecars = Vec::new();
    if !root.is_dir() {
        return (files, sidecars);
    }
    let canonical_root = match root.canonicalize() {
        Ok(r) => r,
        Err(_) => root.to_path_buf(),
    };
    let shown = |p: &Path| -> String {
        let rel = p.strip_prefix(root).unwrap_or(p);
        format!("{}/{}", slash(display_root), slash(rel))
    };
    let mut outside: Vec<PathBuf> = Vec::new();
    let walker = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter();
    let mut it = walker.filter_entry(|e| {
        if !e.path_is_symlink() {
            return true;
        }
        // Resolve the link: a target outside the evidence folder is never read.
        match e.path().canonicalize() {
            Ok(target) if target.starts_with(&canonical_root) => true,
            Ok(_) => {
                outside.push(e.path().to_path_buf());
                false
            }
            Err(_) => true, // broken: walkdir reports it below
        }
    });
    for entry in it.by_ref() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(&shown).unwrap_or_else(|| slash(display_root));
                let d = if e.loop_ancestor().is_some() {
                    Diagnostic::error("symlink-loop", "a symbolic link points back to a folder that contains it")
                        .at_file(path)
                        .hint("remove the link; the folder is collected once through its real path")
                } else if e.path().is_some_and(|p| p.is_symlink()) {
                    Diagnostic::error("broken-symlink", "a symbolic link points to nothing")
                        .at_file(path)
                        .hint("remove the link or restore its target")
                } else {
                    Diagnostic::error("unreadable-file", format!("cannot read: {e}"))
                        .at_file(path)
                        .hint("fix its permissions or remove it")
                };
                diags.push(d);
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let rel_path = path.strip_prefix(root).unwrap_or(path);
        let Some(rel) = rel_path.to_str().map(|_| slash(rel_path)) else {
            diags.push(
                Diagnostic::error("unpackageable-name", "the file name is not valid UTF-8")
                    .at_file(shown(path))
                    .hint("rename the file using UTF-8 characters; BagIt manifests are UTF-8"),
            );
            continue;
        };
        if rel.contains(['\n', '\r', '%']) {
            diags.push(
                Diagnostic::error(
                    "unpackageable-name",
                    format!("the file name `{}` contains a line break or `%`", rel.escape_debug()),
                )
                .at_file(format!("{}/{}", slash(display_root), rel.escape_debug()))
                .hint("rename the file: BagIt manifests must percent-encode these characters and common validators do not decode them"),
            );
            continue;
        }
        let meta = entry.metadata().ok();
        let found = Found {
            full: path.to_path_buf(),
            rel,
            size: meta.as_ref().map(|m| m.len()).unwrap_or(0),
            stamp: meta.as_ref().map(cache::Stamp::of),
            mtime: meta.and_then(|m| m.modified().ok()),
        };
        if found.rel.ends_with(SIDECAR_SUFFIX) {
            sidecars.push(found);
        } else {
            files.push(found);
        }
    }
    drop(it);
    for p in outside {
        diags.push(
            Diagnostic::error(
                "symlink-outside",
                "a symbolic link points outside the evidence folder; it was not followed",
            )
            .at_file(shown(&p))
            .hint("copy the file into the evidence folder instead of linking to it"),
        );
    }
    (files, sidecars)
}

/// Reads each sidecar and attaches it to its evidence file; the sidecar's date wins.
fn attach_sidecars(project: &Project, files: &mut [EvidenceFile], sidecars: Vec<Found>, diags: &mut Diagnostics) {
    let mut buf = vec![0u8; 64 * 1024];
    for s in sidecars {
        let target = &s.rel[..s.rel.len() - SIDECAR_SUFFIX.len()];
        let path = format!("{}/{}", slash(&project.paths.evidence), s.rel);
        let Ok(i) = files.binary_search_by(|f| f.rel.as_str().cmp(target)) else {
            diags.push(
                Diagnostic::warning(
                    "orphan-sidecar",
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
        let sha256 = match hash_file(&s.full, &mut buf) {
            Ok(h) => h,
            Err(e) => {
                diags
                    .push(Diagnostic::error("unreadable-file", format!("cannot read the sidecar: {e}")).at_file(&path));
                continue;
            }
        };
        let f = &mut files[i];
        if let Some(d) = meta.effective {
            f.effective = Effective::day(d, DateSource::Sidecar);
        }
        f.sidecar = Some(SidecarFile { path, sha256, size: s.size, meta });
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
