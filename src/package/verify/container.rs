//! A bag's files, from a folder or a zip (hostile archives refused before anything is read),
//! addressed by their path inside the bag, and hashed on reader threads.

use super::archive::{
    EntryPlace, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, check_local_headers,
    max_inflated, unix_mode,
};
use super::digest::{AlgSet, Hashed, Sink};
use super::findings::Findings;
use super::lines::{Encoding, Lines};
use super::reader::{BUF_SIZE, PackageFile, Reader, pump};
use crate::Error;
use crate::diag::Code;
use crate::diag::{Diagnostic, Location};
use crate::fsutil;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Files at least this big are scheduled one by one, biggest first; smaller ones in runs of
/// neighbours (in the container's order) of about this many bytes.
const RUN_BYTES: u64 = 1 << 20;

/// A bag's files by their path inside the bag.
pub(super) type Files = BTreeMap<Arc<str>, FileInfo>;

#[derive(Debug, Clone, Copy)]
pub(super) struct FileInfo {
    /// Declared (zip) or real (folder) size.
    pub(super) size: u64,
    /// Position in the container (the entry's index in a zip).
    pub(super) order: usize,
    /// Position in the bag's sorted file list.
    pub(super) id: usize,
    /// Where a zip entry is and how it is stored, from the central directory (unused for a
    /// folder): the archive itself is not kept once the bag's files are known.
    pub(super) header_start: u64,
    pub(super) packed: u64,
    pub(super) crc: u32,
    pub(super) method: Method,
    /// The Unix mode a zip entry records (type and permissions), if any.
    pub(super) mode: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Stored,
    Deflated,
    /// Any other: the zip crate auditpack uses reads only these two either.
    Other,
}

impl Method {
    fn of(m: zip::CompressionMethod) -> Method {
        match m {
            zip::CompressionMethod::Stored => Method::Stored,
            zip::CompressionMethod::Deflated => Method::Deflated,
            _ => Method::Other,
        }
    }
}

/// A bag's files, from a folder or a zip, addressed by their path inside the bag.
pub(super) struct Container {
    pub(super) files: Files,
    /// The bag's folder inside the zip, with a trailing `/` (empty for a folder).
    pub(super) prefix: String,
    /// A hostile archive: nothing more is read from it.
    pub(super) refused: bool,
    pub(super) source: Source,
}

pub(super) enum Source {
    Folder(PathBuf),
    Zip(PackageFile),
}

impl Container {
    pub(super) fn folder(path: &Path, problems: &mut Findings) -> Result<Container, Error> {
        // The unzipped package holds the bag in one folder: accept it as well as the bag itself.
        let mut root = path.to_path_buf();
        if !root.join("bagit.txt").exists() {
            let subdirs: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io("list", path, e))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .collect();
            if let [only] = subdirs.as_slice()
                && only.is_dir()
                && only.join("bagit.txt").is_file()
            {
                root = only.clone();
            }
        }
        let mut files = BTreeMap::new();
        let walker = walkdir::WalkDir::new(&root).follow_links(false).sort_by_file_name();
        for (order, entry) in walker.into_iter().enumerate() {
            let entry = entry
                .map_err(|e| Error::Package { path: root.clone(), message: format!("cannot list the bag: {e}") })?;
            let rel_path = entry.path().strip_prefix(&root).unwrap_or(entry.path());
            if rel_path.as_os_str().is_empty() || entry.file_type().is_dir() {
                continue;
            }
            let Some(rel) = rel_path.to_str().map(|_| crate::text::slash(rel_path)) else {
                problems.push(
                    Diagnostic::error(Code::InvalidFileName, "a file name is not valid UTF-8")
                        .at(Location::file(crate::text::slash(rel_path)))
                        .hint("BagIt manifests are text; the file cannot be listed in one"),
                );
                continue;
            };
            if entry.file_type().is_symlink() {
                problems.push(
                    Diagnostic::error(Code::SymlinkInBag, "the bag holds a symbolic link; it was not followed")
                        .at(Location::file(rel.as_str()))
                        .hint("a bag holds regular files only; the link may point outside it"),
                );
                continue;
            }
            if !entry.file_type().is_file() {
                // Opening a FIFO blocks until someone writes; a device may never end.
                let kind = entry.metadata().map_or("a special file", |m| fsutil::kind_of(&m.file_type()));
                problems.push(
                    Diagnostic::error(Code::SpecialFileInBag, format!("the bag holds {kind}; it was not opened"))
                        .at(Location::file(rel.as_str()))
                        .hint("a bag holds regular files only; remove it, or ask for a new copy of the package"),
                );
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let info =
                FileInfo { size, order, id: 0, header_start: 0, packed: 0, crc: 0, method: Method::Stored, mode: None };
            files.insert(rel.into(), info);
        }
        number(&mut files);
        Ok(Container { files, prefix: String::new(), refused: false, source: Source::Folder(root) })
    }

    pub(super) fn zip(path: &Path, problems: &mut Findings) -> Result<Container, Error> {
        let file = fsutil::open_regular(path).map_err(|e| Error::io("open the package", path, e))?;
        let archive_size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let unreadable = |e: zip::result::ZipError| Error::Package {
            path: path.to_path_buf(),
            message: format!("not a readable zip archive ({e}); it may be truncated or not a zip at all"),
        };
        let file = PackageFile::new(file).map_err(|e| Error::io("read the package", path, e))?;
        let raw = file.clone();
        let mut archive = zip::ZipArchive::new(file).map_err(unreadable)?;
        let mut found: Vec<Diagnostic> = Vec::new();
        let hostile = |found: &mut Vec<Diagnostic>, msg: String, name: Option<&str>| {
            let d = Diagnostic::error(Code::HostileArchive, msg)
                .hint("the archive was crafted to escape, hide or exhaust; it was not read. Do not extract it");
            found.push(match name {
                Some(n) => d.at(Location::file(n)),
                None => d,
            });
        };
        if archive.has_duplicate_names() {
            hostile(
                &mut found,
                "the archive holds two entries with the same name; which one counts is ambiguous".into(),
                None,
            );
        }
        // The files (neither refused nor folders), and where the bag is: at the archive's root,
        // or in its one top-level folder.
        let mut accepted = vec![false; archive.len()];
        let (mut at_root, mut top, mut one_top, mut all_nested) = (false, None::<String>, true, true);
        let mut declared_total: u64 = 0;
        for (i, is_file) in accepted.iter_mut().enumerate() {
            let e = archive.by_index_data(i).map_err(unreadable)?;
            let Ok(name) = std::str::from_utf8(e.name_raw()) else {
                hostile(&mut found, format!("entry #{} has a name that is not UTF-8", i + 1), None);
                continue;
            };
            if name.starts_with(['/', '\\'])
                || name.as_bytes().get(1) == Some(&b':')
                || name.contains('\0')
                || name.split(['/', '\\']).any(|c| c == "..")
            {
                hostile(
                    &mut found,
                    format!("the entry `{}` has an absolute path or `..`", name.escape_debug()),
                    Some(name),
                );
                continue;
            }
            if e.encrypted() {
                hostile(&mut found, format!("the entry `{name}` is encrypted"), Some(name));
                continue;
            }
            // unzip recreates what the mode says: a link (to /etc/passwd, to ../../x), a FIFO,
            // a device, a setuid program. A bag holds regular files and folders only.
            if let Some(mode) = unix_mode(&e) {
                let kind = match mode & S_IFMT {
                    0 | S_IFREG => None,
                    S_IFDIR if name.ends_with('/') => None,
                    S_IFDIR => Some("marked as a folder but named like a file"),
                    S_IFLNK => Some("a symbolic link"),
                    S_IFIFO => Some("a FIFO (named pipe)"),
                    S_IFCHR | S_IFBLK => Some("a device"),
                    S_IFSOCK => Some("a socket"),
                    _ => Some("of an unknown file type"),
                };
                if let Some(kind) = kind {
                    hostile(
                        &mut found,
                        format!(
                            "the entry `{}` is {kind} (mode {mode:o}); extracting it would create one",
                            name.escape_debug()
                        ),
                        Some(name),
                    );
                    continue;
                }
                if mode & 0o7000 != 0 {
                    hostile(
                        &mut found,
                        format!(
                            "the entry `{}` has mode {:04o}: setuid, setgid or sticky",
                            name.escape_debug(),
                            mode & 0o7777
                        ),
                        Some(name),
                    );
                    continue;
                }
            }
            let (size, packed) = (e.size(), e.compressed_size());
            if max_inflated(Method::of(e.compression()), packed).is_some_and(|max| size > max) {
                hostile(
                    &mut found,
                    format!(
                        "the entry `{name}` declares {size} bytes from {packed} compressed bytes, more than its compression method can give (a compression bomb)"
                    ),
                    Some(name),
                );
                continue;
            }
            if max_inflated(Method::of(e.compression()), packed).is_some() {
                declared_total = declared_total.saturating_add(size);
            }
            if e.is_dir() {
                continue;
            }
            *is_file = true;
            at_root |= name == "bagit.txt";
            all_nested &= name.contains('/');
            let first = name.split('/').next().unwrap_or("");
            match &top {
                None => top = Some(first.to_string()),
                Some(t) => one_top &= t == first,
            }
        }
        // Entries do not overlap (checked below), so together they cannot inflate to more than
        // the whole archive could.
        if declared_total > max_inflated(Method::Deflated, archive_size).unwrap_or(u64::MAX) {
            hostile(
                &mut found,
                format!(
                    "the entries declare {declared_total} bytes in a {archive_size}-byte archive (a compression bomb)"
                ),
                None,
            );
        }
        if found.is_empty() && archive.has_overlapping_entries().unwrap_or(true) {
            hostile(&mut found, "entries overlap inside the archive (a known zip-bomb construction)".into(), None);
        }
        if found.is_empty() {
            // What an extracting tool reads first must say what the central directory says.
            let mut places = Vec::with_capacity(archive.len());
            for i in 0..archive.len() {
                let e = archive.by_index_data(i).map_err(unreadable)?;
                places.push(EntryPlace {
                    header: e.header_start(),
                    central: e.central_header_start(),
                    packed: e.compressed_size(),
                    size: e.size(),
                });
            }
            let mut view = raw.clone();
            for (msg, name) in check_local_headers(&mut view, &mut places, archive.central_directory_start()) {
                hostile(&mut found, msg, name.as_deref());
            }
        }
        let refused = !found.is_empty();
        for d in found {
            problems.push(d);
        }
        let prefix = match top {
            _ if at_root => String::new(),
            Some(one) if one_top && all_nested => format!("{one}/"),
            _ => {
                if !refused {
                    problems.push(
                        Diagnostic::error(Code::NotABag, "the archive does not hold one bag folder")
                            .hint("an auditpack package holds exactly one top-level folder with bagit.txt in it"),
                    );
                }
                String::new()
            }
        };
        // What reading an entry needs, from the central directory; the archive is then dropped.
        let mut files = Files::new();
        for i in (0..archive.len()).filter(|i| accepted[*i]) {
            let e = archive.by_index_data(i).map_err(unreadable)?;
            let Some(rel) = std::str::from_utf8(e.name_raw()).ok().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            let method = Method::of(e.compression());
            let info = FileInfo {
                size: e.size(),
                order: i,
                id: 0,
                header_start: e.header_start(),
                packed: e.compressed_size(),
                crc: e.crc32(),
                method,
                mode: unix_mode(&e),
            };
            files.insert(rel.into(), info);
        }
        number(&mut files);
        Ok(Container { files, prefix, refused, source: Source::Zip(archive.into_inner()) })
    }

    /// Reads a small tag file whole, refusing one over `limit` bytes; problems are reported and
    /// give `None`.
    pub(super) fn read_small(&self, rel: &str, limit: u64, problems: &mut Findings) -> Option<Vec<u8>> {
        let info = *self.files.get(rel)?;
        let oversized = |problems: &mut Findings, size: u64| {
            problems.push(
                Diagnostic::error(
                    Code::OversizedTagFile,
                    format!("the tag file is {size} bytes; auditpack reads at most {limit} bytes of it"),
                )
                .at(Location::file(rel))
                .hint("this tag file is a few lines of text; this one was inflated"),
            );
        };
        if info.size > limit {
            oversized(problems, info.size);
            return None;
        }
        let r = match &self.source {
            Source::Folder(root) => fsutil::read_limited(&root.join(rel), limit).map_err(|e| e.to_string()),
            // Bounded by the declared size, and checked against the CRC-32.
            Source::Zip(_) => Reader::new(&self.source).read_whole(&self.source, rel, info),
        };
        match r {
            Ok(bytes) if bytes.len() as u64 > limit => {
                oversized(problems, bytes.len() as u64);
                None
            }
            Ok(bytes) => Some(bytes),
            Err(e) => {
                problems.push(
                    Diagnostic::error(Code::CorruptEntry, format!("cannot read the file: {e}"))
                        .at(Location::file(rel))
                        .hint("the package is damaged or was tampered with; ask for a new copy"),
                );
                None
            }
        }
    }

    /// Reads a tag file line by line in `enc`, in bounded memory whatever its size: `each` gets
    /// the line's number (1-based), its text and whether it was cut at
    /// [`MAX_LINE`](super::lines::MAX_LINE) bytes. Problems reading or decoding it are reported.
    pub(super) fn read_lines(
        &self,
        rel: &str,
        enc: Encoding,
        problems: &mut Findings,
        each: &mut dyn FnMut(usize, &str, bool, &mut Findings),
    ) {
        let Some(&info) = self.files.get(rel) else {
            return;
        };
        let (result, invalid) = {
            let mut call = |n: usize, line: &str, long: bool| each(n, line, long, &mut *problems);
            let mut lines = Lines::new(enc, &mut call);
            let result = match &self.source {
                Source::Folder(root) => {
                    fsutil::open_regular(&root.join(rel)).map_err(|e| e.to_string()).and_then(|f| {
                        let mut tap = |b: &[u8]| lines.feed(b);
                        let mut sink = Sink::new(AlgSet::default(), None);
                        sink.tap = Some(&mut tap);
                        pump(f, &mut vec![0; BUF_SIZE], &mut sink)
                    })
                }
                Source::Zip(_) => {
                    let mut tap = |b: &[u8]| lines.feed(b);
                    let mut sink = Sink::new(AlgSet::default(), Some(info.size));
                    sink.tap = Some(&mut tap);
                    let mut reader = Reader::new(&self.source);
                    reader.read(&self.source, rel, info, &mut sink).and_then(|_| sink.check(Some(info.crc)))
                }
            };
            lines.finish();
            (result, lines.invalid)
        };
        if invalid {
            problems.push(
                Diagnostic::error(Code::InvalidTagFile, "the tag file is not valid UTF-8")
                    .at(Location::file(rel))
                    .hint("bagit.txt declares UTF-8; the file was damaged"),
            );
        }
        if let Err(e) = result {
            problems.push(
                Diagnostic::error(Code::CorruptEntry, format!("cannot read the file: {e}"))
                    .at(Location::file(rel))
                    .hint("the package is damaged or was tampered with; ask for a new copy"),
            );
        }
    }

    /// Hashes the files `jobs` names (file id, algorithms) on `threads` reader threads. Files of
    /// at least [`RUN_BYTES`] go one by one, biggest first, so the last one to finish is small;
    /// smaller ones go in runs of neighbours, so a thread reads on where it was. Returns the
    /// outcome of each file by id (unset for files not asked for).
    pub(super) fn hash_all(&self, mut jobs: Vec<(usize, AlgSet)>, paths: &[&str], threads: usize) -> Vec<Outcome> {
        let infos: Vec<&FileInfo> = self.files.values().collect();
        jobs.sort_by_key(|(id, _)| infos[*id].order);
        let mut runs: Vec<(u64, std::ops::Range<usize>)> = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (k, (id, _)) in jobs.iter().enumerate() {
            let size = infos[*id].size;
            if size >= RUN_BYTES {
                if start < k {
                    runs.push((bytes, start..k));
                }
                runs.push((size, k..k + 1));
                (start, bytes) = (k + 1, 0);
                continue;
            }
            // Opening a file or an entry costs about as much as reading a few KiB.
            bytes += size + 4096;
            if bytes >= RUN_BYTES {
                runs.push((bytes, start..k + 1));
                (start, bytes) = (k + 1, 0);
            }
        }
        if start < jobs.len() {
            runs.push((bytes, start..jobs.len()));
        }
        runs.sort_by_key(|(bytes, _)| std::cmp::Reverse(*bytes));

        let out: Vec<Outcome> = (0..infos.len()).map(|_| OnceLock::new()).collect();
        let next = AtomicUsize::new(0);
        let work = || {
            let mut reader = Reader::new(&self.source);
            while let Some((_, run)) = runs.get(next.fetch_add(1, Ordering::Relaxed)) {
                for &(id, algs) in &jobs[run.clone()] {
                    let _ = out[id].set(reader.hash(&self.source, paths[id], *infos[id], algs));
                }
            }
        };
        match threads.clamp(1, runs.len().max(1)) {
            1 => work(),
            n => std::thread::scope(|s| {
                let handles: Vec<_> = (0..n).map(|_| s.spawn(work)).collect();
                for h in handles {
                    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                }
            }),
        }
        out
    }
}

/// What reading a file gave: its size and digests, or why it could not be read.
pub(super) type Outcome = OnceLock<Result<Hashed, String>>;

/// Numbers the files in the order of their paths: the ids the checks use.
fn number(files: &mut Files) {
    for (id, f) in files.values_mut().enumerate() {
        f.id = id;
    }
}
