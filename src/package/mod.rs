//! Seventh stage: the package, a BagIt 1.0 bag (RFC 8493) serialised as one deterministic zip.
//!
//! ```text
//! <bag-name>/bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt, README.txt
//! <bag-name>/data/index.json, data/report/..., data/evidence/... (paths as in the project)
//! ```
//!
//! Entries are sorted, timestamps are the package date, permissions fixed; evidence is streamed
//! from disk (and hashed again on the way, so a file changed since collection is caught), Stored
//! when already compressed and Deflated otherwise. With a signing key, the signature of the tag
//! manifest is one more tag file ([`sign`]); [`verify`] is the auditor's side.

mod large;
pub mod secrets;
pub mod sign;
pub mod verify;
mod zipout;

use crate::Error;
use crate::index::EvidenceIndex;
use crate::project::Project;
use crate::text::hex;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use zipout::{Meta, ZipOut};

/// A generated file for the bag's payload (reports, index).
pub struct Artifact {
    /// Path under `data/`, e.g. `report/report.pdf`.
    pub name: String,
    pub content: Content,
}

/// Where a generated file's bytes are.
pub enum Content {
    Bytes(Vec<u8>),
    /// Already written (staged), with its checksum: large outputs are streamed, never held whole.
    File(crate::output::Staged),
}

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub bag_name: String,
    pub payload_files: usize,
    pub payload_bytes: u64,
}

/// Entries up to this size are packed in memory; larger ones go through a temporary file.
const IN_MEMORY_MAX: u64 = 4 << 20;
/// The most packed bytes held in memory waiting for the writer.
const PENDING_MAX: u64 = 8 << 20;
/// How much of a file is looked at to tell whether it compresses.
const SNIFF_BYTES: usize = 64 * 1024;
/// Above this many bits per byte (8 is random), a file is taken as already compressed.
const STORED_ENTROPY: f64 = 7.5;

/// Extensions whose content is already compressed: stored as they are.
const STORED: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "heic", "pdf", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "docx", "xlsx",
    "pptx", "odt", "ods", "mp4", "mov", "jar",
];

pub fn is_precompressed(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    STORED.contains(&ext.as_str())
}

/// `nimbus-analytics-inc-soc2-type2-2026-06-30`: the bag's folder and the zip's stem.
pub fn bag_name(project: &Project) -> String {
    let org = crate::text::slug(&project.organisation.name);
    format!("{org}-soc2-{}-{}", project.audit.kind, project.audit.end)
}

/// Where an entry's content comes from.
enum Source<'a> {
    Memory(&'a [u8]),
    /// A file at this path (a staged output).
    File(&'a Path),
    /// An evidence file: the entry's name under this project folder, joined only when the file
    /// is opened, not held for every file of the package at once.
    Evidence(&'a Path),
    /// The payload manifest, made line by line from the (sorted) payload entries whenever it is
    /// read: a million files make about 150 MB of it.
    Manifest(&'a [Entry<'a>]),
}

/// One entry of the package: a payload file or a tag file. The package's list of every entry,
/// in the zip's order, is of references to these (8 bytes an entry).
struct Entry<'a> {
    /// Path under `data/` for the payload; the file name for a tag file.
    name: &'a str,
    /// What the content must hash to (payload files; tag files are made here).
    sha256: Option<&'a str>,
    size: u64,
    source: Source<'a>,
    /// Under `data/` (the payload), not a tag file.
    payload: bool,
}

impl Entry<'_> {
    /// The file to read, for a source that is one.
    fn path(&self) -> Option<std::borrow::Cow<'_, Path>> {
        match self.source {
            Source::Memory(_) | Source::Manifest(_) => None,
            Source::File(path) => Some(std::borrow::Cow::Borrowed(path)),
            Source::Evidence(root) => Some(std::borrow::Cow::Owned(root.join(self.name))),
        }
    }

    /// The bytes of the zip name after the bag's folder, which every entry shares: ordering by
    /// it orders by the whole name.
    fn sort_key(&self) -> impl Iterator<Item = u8> + '_ {
        let dir: &[u8] = if self.payload { b"data/" } else { b"" };
        dir.iter().copied().chain(self.name.bytes())
    }

    /// The name in the zip, `{bag}/data/{name}` or `{bag}/{name}`, made only when the entry is
    /// written (a package of a million files does not hold a million names twice).
    fn zip_name(&self, bag: &str) -> String {
        format!("{bag}/{}{}", if self.payload { "data/" } else { "" }, self.name)
    }
}

/// Writes the package to `out`. `artifacts` are the generated files; evidence comes from `index`.
pub fn write<W: Write + Seek>(
    project: &Project,
    index: &EvidenceIndex,
    artifacts: &[Artifact],
    signing_key: Option<&sign::SigningKey>,
    spool: &Path,
    out: W,
) -> Result<Summary, Error> {
    let bag = bag_name(project);
    // The digests of artifacts made in memory (the others' are known already).
    let digests: Vec<String> = artifacts
        .iter()
        .map(|a| match &a.content {
            Content::Bytes(bytes) => hex(&Sha256::digest(bytes)),
            Content::File(_) => String::new(),
        })
        .collect();
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(artifacts.len() + index.evidence.len());
    for (a, digest) in artifacts.iter().zip(&digests) {
        entries.push(match &a.content {
            Content::Bytes(bytes) => Entry {
                name: &a.name,
                sha256: Some(digest),
                size: bytes.len() as u64,
                source: Source::Memory(bytes),
                payload: true,
            },
            Content::File(staged) => Entry {
                name: &a.name,
                sha256: Some(&staged.sha256),
                size: staged.size,
                source: Source::File(&staged.path),
                payload: true,
            },
        });
    }
    for f in &index.evidence {
        entries.push(Entry {
            name: &f.file.path,
            sha256: Some(&f.file.sha256),
            size: f.file.size,
            source: Source::Evidence(&project.root),
            payload: true,
        });
        if let Some(s) = &f.file.sidecar {
            entries.push(Entry {
                name: &s.path,
                sha256: Some(&s.sha256),
                size: s.size,
                source: Source::Evidence(&project.root),
                payload: true,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(b.name));

    let payload_bytes: u64 = entries.iter().map(|e| e.size).sum();
    // The manifest is made again line by line when its entry is written, never held whole.
    let (manifest_sha256, manifest_size) = manifest_digest(&entries);
    let bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_string();
    let bag_info = bag_info(project, &bag, payload_bytes, entries.len());
    let readme = readme(&bag, signing_key);
    let texts: [(&str, &str); 3] = [("README.txt", &readme), ("bag-info.txt", &bag_info), ("bagit.txt", &bagit)];
    let tagmanifest: String = texts
        .iter()
        .map(|(n, t)| (hex(&Sha256::digest(t.as_bytes())), *n))
        .chain([(manifest_sha256, MANIFEST)])
        .map(|(sha, n)| format!("{sha}  {n}\n"))
        .collect();
    let signature = signing_key
        .map(|k| sign::signature_text(k, tagmanifest.as_bytes()))
        .transpose()
        .map_err(|message| Error::Package { path: PathBuf::from(&bag), message })?;
    let tag = |name, source, size| Entry { name, sha256: None, size, source, payload: false };
    let mut tags: Vec<Entry<'_>> =
        texts.iter().map(|(n, t)| tag(*n, Source::Memory(t.as_bytes()), t.len() as u64)).collect();
    tags.push(tag(MANIFEST, Source::Manifest(&entries), manifest_size));
    tags.push(tag(sign::SIGNED_FILE, Source::Memory(tagmanifest.as_bytes()), tagmanifest.len() as u64));
    if let Some(s) = &signature {
        tags.push(tag(sign::SIGNATURE_FILE, Source::Memory(s.as_bytes()), s.len() as u64));
    }

    // One sorted list of every entry, tag files and payload alike.
    let mut all: Vec<&Entry<'_>> = tags.iter().chain(&entries).collect();
    all.sort_by(|a, b| a.sort_key().cmp(b.sort_key()));

    // As many workers as collect's hashing pool (RAYON_NUM_THREADS sets both).
    let packer =
        Packer { spool, bag: &bag, level: project.package.compression_level, workers: rayon::current_num_threads() };
    let d = project.audit.report_date;
    let mut zip = ZipOut::new(out, (d.year(), d.month(), d.day()), all.len());
    let package_err = |e: std::io::Error| Error::Package { path: PathBuf::from(&bag), message: e.to_string() };
    packer.run(&all, &mut zip).map_err(|e| match e {
        PackError::Io(e) => package_err(e),
        PackError::Other(e) => e,
    })?;
    zip.finish(all.iter().map(|e| e.zip_name(&bag))).map_err(package_err)?;
    Ok(Summary { bag_name: bag, payload_files: entries.len(), payload_bytes })
}

/// The payload manifest's name.
const MANIFEST: &str = "manifest-sha256.txt";

/// One line of the payload manifest.
fn manifest_line(e: &Entry<'_>, line: &mut Vec<u8>) {
    line.clear();
    line.extend_from_slice(e.sha256.unwrap_or_default().as_bytes());
    line.extend_from_slice(b"  data/");
    line.extend_from_slice(e.name.as_bytes());
    line.push(b'\n');
}

/// The SHA-256 (hex) and size of the payload manifest, made line by line.
fn manifest_digest(entries: &[Entry<'_>]) -> (String, u64) {
    let (mut sha, mut size, mut line) = (Sha256::new(), 0u64, Vec::new());
    for e in entries {
        manifest_line(e, &mut line);
        sha.update(&line);
        size += line.len() as u64;
    }
    (hex(&sha.finalize()), size)
}

/// The payload manifest as a reader: each line made when it is read.
struct ManifestReader<'a> {
    entries: &'a [Entry<'a>],
    next: usize,
    line: Vec<u8>,
    at: usize,
}

impl<'a> ManifestReader<'a> {
    fn new(entries: &'a [Entry<'a>]) -> Self {
        ManifestReader { entries, next: 0, line: Vec::new(), at: 0 }
    }
}

impl Read for ManifestReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            if self.at == self.line.len() {
                let Some(e) = self.entries.get(self.next) else { break };
                manifest_line(e, &mut self.line);
                self.next += 1;
                self.at = 0;
            }
            let k = (self.line.len() - self.at).min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&self.line[self.at..self.at + k]);
            self.at += k;
            n += k;
        }
        Ok(n)
    }
}

/// How a job's entries are carried from a worker to the writer.
enum Packed {
    /// A run of entries: their bytes as they go into the zip, one after another, and each one's
    /// method, CRC and sizes.
    Run { data: Vec<u8>, metas: Vec<Meta> },
    /// One large entry deflated into an unnamed temporary file.
    Spooled { file: std::fs::File, meta: Meta },
}

impl Packed {
    /// Bytes held in memory.
    fn held(&self) -> u64 {
        match self {
            Packed::Run { data, .. } => data.len() as u64,
            Packed::Spooled { .. } => 0,
        }
    }
}

enum PackError {
    /// Writing the zip.
    Io(std::io::Error),
    Other(Error),
}

impl From<std::io::Error> for PackError {
    fn from(e: std::io::Error) -> Self {
        PackError::Io(e)
    }
}

impl From<Error> for PackError {
    fn from(e: Error) -> Self {
        PackError::Other(e)
    }
}

/// Work for one worker: consecutive entries `start..end` (one large entry, or a run of small ones).
#[derive(Clone, Copy)]
struct Job {
    start: usize,
    end: usize,
    large: bool,
}

/// What the workers and the writer share.
struct Shared {
    /// Position in the job list of the next job to take.
    next_job: usize,
    /// The packed jobs, by job number; taken by the writer.
    slots: Vec<Option<Packed>>,
    /// Bytes of `Packed::Memory` in `slots`.
    pending: u64,
    /// The job the writer waits for.
    writer_at: usize,
    /// Set on the first error: workers stop taking jobs, the writer stops waiting.
    abort: bool,
    /// The first error of a worker, for the writer to return.
    failure: Option<PackError>,
}

/// A run of small entries ends at this many bytes or files: the unit of work a worker takes and
/// hands to the writer.
const RUN_BYTES: u64 = 1 << 20;
const RUN_FILES: usize = 256;

/// Packs entries on every core and writes them in order.
///
/// Workers compress runs of small entries in memory (one reused compressor each), and each large
/// entry that compresses into a temporary file (its chunks deflated on rayon's pool: [`large`]);
/// the writer ([`zipout`]) writes the entries in name order from those, so the output is the
/// same whatever the number of threads or their timing. Large entries are taken first, biggest first, so no core is
/// left alone with a 256 MiB log at the end; runs follow in name order, and workers stop taking
/// them while [`PENDING_MAX`] bytes wait for the writer. Large stored entries are streamed by the
/// writer itself. (zip's `ZipFileBuilder` was tried first: it kept ~300 KB per entry alive; see
/// docs/performance.md.)
struct Packer<'p> {
    spool: &'p Path,
    /// The bag's folder, which every name in the zip starts with.
    bag: &'p str,
    /// Deflate level.
    level: u32,
    /// Worker threads.
    workers: usize,
}

impl Packer<'_> {
    fn run<W: Write + Seek>(&self, all: &[&Entry<'_>], zip: &mut ZipOut<W>) -> Result<(), PackError> {
        // Large entries: stored (streamed by the writer) or compressed, decided from their first bytes.
        let mut direct = vec![false; all.len()];
        let mut large: Vec<Job> = Vec::new();
        for (i, item) in all.iter().enumerate().filter(|(_, it)| it.size > IN_MEMORY_MAX) {
            if deflates(item.name, &sniff(item)?) {
                large.push(Job { start: i, end: i + 1, large: true });
            } else {
                direct[i] = true;
            }
        }
        large.sort_by_key(|j| std::cmp::Reverse(all[j.start].size));
        let mut jobs = large;
        let mut i = 0;
        while i < all.len() {
            if all[i].size > IN_MEMORY_MAX {
                i += 1;
                continue;
            }
            let (start, mut bytes) = (i, 0);
            while i < all.len() && all[i].size <= IN_MEMORY_MAX && i - start < RUN_FILES && bytes < RUN_BYTES {
                bytes += all[i].size;
                i += 1;
            }
            jobs.push(Job { start, end: i, large: false });
        }
        // The job of each entry the writer copies (u32: half the memory on 200,000 files).
        let mut job_of = vec![u32::MAX; all.len()];
        for (n, job) in jobs.iter().enumerate() {
            job_of[job.start..job.end].fill(n as u32);
        }

        let state = std::sync::Mutex::new(Shared {
            next_job: 0,
            slots: (0..jobs.len()).map(|_| None).collect(),
            pending: 0,
            writer_at: 0,
            abort: false,
            failure: None,
        });
        let ready = std::sync::Condvar::new();
        let workers = self.workers.min(jobs.len()).max(1);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| self.work(all, &jobs, &state, &ready));
            }
            let result = self.write_in_order(all, &direct, &job_of, zip, &state, &ready);
            if result.is_err() {
                state.lock().unwrap_or_else(|p| p.into_inner()).abort = true;
                ready.notify_all();
            }
            result
        })
    }

    /// A worker: takes jobs until there are none (or an error stopped the run).
    fn work(&self, all: &[&Entry<'_>], jobs: &[Job], state: &std::sync::Mutex<Shared>, ready: &std::sync::Condvar) {
        let mut buf = vec![0u8; 256 * 1024];
        let mut data = Vec::new();
        let mut deflater = flate2::Compress::new(flate2::Compression::new(self.level), false);
        loop {
            let n = {
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if s.abort || s.next_job == jobs.len() {
                        return;
                    }
                    let n = s.next_job;
                    if jobs[n].large || s.pending < PENDING_MAX || n == s.writer_at {
                        s.next_job += 1;
                        break n;
                    }
                    s = ready.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            };
            let job = jobs[n];
            let packed = if job.large {
                self.pack_large(all[job.start])
            } else {
                self.pack_run(&all[job.start..job.end], &mut data, &mut buf, &mut deflater)
            };
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            match packed {
                Ok(packed) => {
                    s.pending += packed.held();
                    s.slots[n] = Some(packed);
                }
                // The writer may be waiting for a job nobody will now take: it is woken to return this.
                Err(e) => {
                    s.failure.get_or_insert(e);
                    s.abort = true;
                }
            }
            drop(s);
            ready.notify_all();
        }
    }

    /// A large entry that compresses: deflated in chunks on every core ([`large`]) into a
    /// temporary file, checked against its hash on the way.
    fn pack_large(&self, item: &Entry<'_>) -> Result<Packed, PackError> {
        let file =
            tempfile::tempfile_in(self.spool).map_err(|e| Error::io("create a temporary file in", self.spool, e))?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        // Chunks in flight per entry: enough for every core, a few MiB at most.
        let segment = self.workers.clamp(2, 8);
        let path = item.path();
        let deflated = match (&item.source, path.as_deref()) {
            (Source::Manifest(entries), _) => {
                large::deflate(&mut ManifestReader::new(entries), item.size, self.level, segment, &mut out)
            }
            (Source::Memory(bytes), _) => large::deflate(&mut &bytes[..], item.size, self.level, segment, &mut out),
            (_, Some(path)) => std::fs::File::open(path)
                .and_then(|mut f| large::deflate(&mut f, item.size, self.level, segment, &mut out)),
            (_, None) => unreachable!("a file source has a path"),
        };
        let deflated = match (deflated, path.as_deref()) {
            (Ok(d), _) => d,
            (Err(e), Some(path)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(changed_during_build(path).into());
            }
            (Err(e), Some(path)) => return Err(Error::io("copy into the package the evidence file", path, e).into()),
            (Err(e), None) => return Err(Error::io("write a temporary file in", self.spool, e).into()),
        };
        if let (Some(path), Some(expected)) = (path.as_deref(), item.sha256)
            && hex(&deflated.sha256) != expected
        {
            return Err(changed_during_build(path).into());
        }
        let mut file =
            out.into_inner().map_err(|e| Error::io("write a temporary file in", self.spool, e.into_error()))?;
        file.rewind().map_err(|e| Error::io("read a temporary file in", self.spool, e))?;
        let meta = Meta { deflated: true, crc: deflated.crc32, size: item.size, csize: deflated.written };
        Ok(Packed::Spooled { file, meta })
    }

    /// A run of small entries: each read whole (its hash checked), then stored or deflated as its
    /// first bytes say, one after another in memory.
    fn pack_run(
        &self,
        items: &[&Entry<'_>],
        data: &mut Vec<u8>,
        buf: &mut [u8],
        deflater: &mut flate2::Compress,
    ) -> Result<Packed, PackError> {
        let bytes: u64 = items.iter().map(|i| i.size).sum();
        let mut out = Vec::with_capacity(bytes as usize / 2 + 4096);
        let mut metas = Vec::with_capacity(items.len());
        for item in items {
            data.clear();
            write_source(item, self.bag, data, buf)?;
            let start = out.len();
            let deflated = deflates(item.name, data);
            if deflated {
                deflater.reset();
                large::deflate_into(deflater, data, true, &mut out)
                    .map_err(|e| Error::io("compress the package entry", item.zip_name(self.bag), e))?;
            } else {
                out.extend_from_slice(data);
            }
            let csize = (out.len() - start) as u64;
            metas.push(Meta { deflated, crc: crc32fast::hash(data), size: data.len() as u64, csize });
        }
        Ok(Packed::Run { data: out, metas })
    }

    /// The writer: writes every entry into the package in name order.
    fn write_in_order<W: Write + Seek>(
        &self,
        all: &[&Entry<'_>],
        direct: &[bool],
        job_of: &[u32],
        zip: &mut ZipOut<W>,
        state: &std::sync::Mutex<Shared>,
        ready: &std::sync::Condvar,
    ) -> Result<(), PackError> {
        let mut buf = vec![0u8; 1 << 20];
        // The packed job being written from, the next of its entries and where its bytes start.
        let mut open: Option<(u32, Packed, usize, usize)> = None;
        for (i, item) in all.iter().enumerate() {
            let name = item.zip_name(self.bag);
            if direct[i] {
                zip.add_stored_streamed(&name, item.size, |w| {
                    write_source(item, self.bag, w, &mut buf).map_err(PackError::from)
                })?;
                continue;
            }
            let n = job_of[i];
            if open.as_ref().is_none_or(|(j, ..)| *j != n) {
                let packed = {
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    s.writer_at = n as usize;
                    ready.notify_all();
                    loop {
                        if let Some(p) = s.slots[n as usize].take() {
                            s.pending -= p.held();
                            break p;
                        }
                        if s.abort {
                            return Err(s.failure.take().unwrap_or_else(|| {
                                PackError::Other(Error::Package {
                                    path: self.spool.to_path_buf(),
                                    message: "packaging stopped after an error".into(),
                                })
                            }));
                        }
                        s = ready.wait(s).unwrap_or_else(|p| p.into_inner());
                    }
                };
                ready.notify_all();
                open = Some((n, packed, 0, 0));
            }
            let (_, packed, k, at) = open.as_mut().expect("opened above");
            match packed {
                Packed::Run { data, metas } => {
                    let meta = metas[*k];
                    let end = *at + meta.csize as usize;
                    zip.add(&name, meta, &data[*at..end])?;
                    *at = end;
                }
                Packed::Spooled { file, meta } => {
                    zip.add_from(&name, *meta, &mut std::io::BufReader::with_capacity(256 * 1024, file))?;
                }
            }
            *k += 1;
        }
        Ok(())
    }
}

/// Whether an entry whose first bytes are `head` is deflated: not when its extension says the
/// content is already compressed, nor when its bytes look random (an unknown binary format).
fn deflates(name: &str, head: &[u8]) -> bool {
    !(is_precompressed(name) || looks_compressed(&head[..head.len().min(SNIFF_BYTES)]))
}

/// The first bytes of a large entry, to choose its method.
fn sniff<'s>(entry: &'s Entry<'_>) -> Result<std::borrow::Cow<'s, [u8]>, Error> {
    match entry.source {
        Source::Memory(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
        // Text: nothing to sniff.
        Source::Manifest(_) => Ok(std::borrow::Cow::Borrowed(&[])),
        Source::File(_) | Source::Evidence(_) => {
            let path = entry.path().expect("a file");
            let mut head = Vec::with_capacity(SNIFF_BYTES);
            std::fs::File::open(&path)
                .and_then(|f| f.take(SNIFF_BYTES as u64).read_to_end(&mut head))
                .map_err(|e| Error::io("read evidence file", &*path, e))?;
            Ok(std::borrow::Cow::Owned(head))
        }
    }
}

/// Whether `bytes` look already compressed (or random): their byte entropy is close to 8 bits.
/// Too short a sample says nothing, so under 1 KiB the answer is no.
fn looks_compressed(bytes: &[u8]) -> bool {
    if bytes.len() < 1024 {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    let entropy: f64 = counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum();
    entropy > STORED_ENTROPY
}

/// Writes one entry's content: bytes in memory, or a file checked against its hash.
fn write_source<W: Write>(item: &Entry<'_>, bag: &str, out: &mut W, buf: &mut [u8]) -> Result<(), Error> {
    match item.source {
        Source::Memory(bytes) => {
            out.write_all(bytes).map_err(|err| Error::io("write the package entry", item.zip_name(bag), err))
        }
        Source::Manifest(entries) => std::io::copy(&mut ManifestReader::new(entries), out)
            .map(drop)
            .map_err(|err| Error::io("write the package entry", item.zip_name(bag), err)),
        Source::File(_) | Source::Evidence(_) => {
            let path = item.path().expect("a file");
            copy_checked(&path, item.sha256.unwrap_or_default(), out, buf)
        }
    }
}

/// Streams a file into the zip, hashing it on the way; a file that changed since it was
/// collected would make the manifest lie, so that is an error.
fn copy_checked<W: Write>(path: &Path, expected: &str, out: &mut W, buf: &mut [u8]) -> Result<(), Error> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("open evidence file", path, e))?;
    let (hash, _) = crate::collect::copy_hashed(&mut f, out, buf)
        .map_err(|e| Error::io("copy into the package the evidence file", path, e))?;
    if hash != expected {
        return Err(changed_during_build(path));
    }
    Ok(())
}

fn changed_during_build(path: &Path) -> Error {
    Error::Package {
        path: path.to_path_buf(),
        // Named in the message: the caller reports the package's path as the error's path.
        message: format!(
            "the evidence file {} changed while the package was being built; run the build again",
            path.display()
        ),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn bag_info(project: &Project, bag: &str, bytes: u64, files: usize) -> String {
    let a = &project.audit;
    let mut lines = vec![format!("Source-Organization: {}", one_line(&project.organisation.name))];
    if let Some(c) = &project.organisation.contact {
        lines.push(format!("Contact-Email: {}", one_line(c)));
    }
    let kind = match a.kind {
        crate::model::AuditType::Type1 => "Type 1",
        crate::model::AuditType::Type2 => "Type 2",
    };
    lines.push(format!(
        "External-Description: SOC 2 {kind} package for {} ({})",
        one_line(&project.system.name),
        match a.kind {
            crate::model::AuditType::Type1 => format!("as of {}", a.end),
            crate::model::AuditType::Type2 => format!("{} to {}", a.start, a.end),
        }
    ));
    lines.push(format!("External-Identifier: {bag}"));
    lines.push(format!("Bagging-Date: {}", a.report_date));
    lines.push(format!("Payload-Oxum: {bytes}.{files}"));
    lines.push(format!("Bag-Software-Agent: auditpack {}", env!("CARGO_PKG_VERSION")));
    lines.push(format!("Audit-Type: SOC 2 {kind}"));
    match a.kind {
        // A Type 1 report is as of a date: it has no period.
        crate::model::AuditType::Type1 => lines.push(format!("Audit-As-Of-Date: {}", a.end)),
        crate::model::AuditType::Type2 => {
            lines.push(format!("Audit-Period-Start: {}", a.start));
            lines.push(format!("Audit-Period-End: {}", a.end));
        }
    }
    lines.join("\n") + "\n"
}

fn readme(bag: &str, signing_key: Option<&sign::SigningKey>) -> String {
    let mut text = format!(
        "This folder is a BagIt 1.0 bag (RFC 8493) made by auditpack.\n\
         \n\
         data/report/   the report in Markdown, HTML and PDF, and its model as JSON\n\
         data/index.json  every evidence file with its SHA-256, effective date and controls\n\
         data/evidence/ the evidence files, under their paths in the compliance repository\n\
         \n\
         To check that nothing was changed, added or removed, from the folder that holds {bag}/:\n\
         \n\
         \x20 cd {bag} && sha256sum --check --strict manifest-sha256.txt && sha256sum --check tagmanifest-sha256.txt\n\
         \n\
         or with the Library of Congress validator (pip install bagit):\n\
         \n\
         \x20 bagit.py --validate {bag}\n"
    );
    if let Some(key) = signing_key {
        let public = key.public_key();
        text.push_str(&format!(
            "\n\
             The bag is signed: {sig} is an OpenSSH signature (namespace \"{ns}\") of\n\
             tagmanifest-sha256.txt, which holds the checksums of every other file above. The signer is\n\
             \"{who}\", key {id}. Obtain the sender's allowed_signers file by a separate\n\
             channel (not from this package), then, in {bag}/:\n\
             \n\
             \x20 ssh-keygen -Y verify -f allowed_signers -I {who} -n {ns} -s {sig} < {signed}\n\
             \n\
             It prints \"Good \\\"{ns}\\\" signature for {who}\" when the signature holds. Then run the\n\
             sha256sum commands above: together they prove every file is as the signer packaged it.\n\
             auditpack checks the same in one step: auditpack verify {bag}.zip --key allowed_signers\n",
            sig = sign::SIGNATURE_FILE,
            signed = sign::SIGNED_FILE,
            ns = sign::NAMESPACE,
            who = sign::principal(public.comment()),
            id = sign::key_id(public),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_during_build_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("evidence-file.csv");
        std::fs::write(&p, b"changed").unwrap();
        // The message itself names the file: `build` reports the package's path as the error's.
        let Err(Error::Package { message, .. }) = copy_checked(&p, "0000", &mut std::io::sink(), &mut [0u8; 64]) else {
            panic!("a changed file is an error");
        };
        assert!(message.contains("evidence-file.csv"), "{message}");
    }

    /// With one worker, the large entry is packed (and fails) before the run of small ones; the
    /// writer, waiting for that run, which no worker will now take, must return the error rather
    /// than wait forever.
    #[test]
    fn a_file_changed_before_packaging_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let big = root.join("big.log");
            std::fs::write(&big, "a line of a log that compresses\n".repeat(200_000)).unwrap();
            let small = root.join("small.txt");
            std::fs::write(&small, "small").unwrap();
            let sha_small = hex(&Sha256::digest(b"small"));
            let small = Entry {
                name: "a-small.txt",
                sha256: Some(&sha_small),
                size: 5,
                source: Source::File(&small),
                payload: true,
            };
            let big = Entry {
                name: "b-big.log",
                sha256: Some("0"),
                size: 6_400_000,
                source: Source::File(&big),
                payload: true,
            };
            let all = [&small, &big];
            let packer = Packer { spool: &root, bag: "bag", level: 1, workers: 1 };
            let mut zip = ZipOut::new(std::io::Cursor::new(Vec::new()), (2026, 1, 1), all.len());
            let _ = done.send(packer.run(&all, &mut zip).is_err());
        });
        let failed = wait.recv_timeout(std::time::Duration::from_secs(60)).expect("packaging hung after an error");
        assert!(failed, "a file that no longer matches its hash must stop the package");
    }

    #[test]
    fn compressed_formats_are_stored() {
        assert!(is_precompressed("evidence/x/screen.PNG"));
        assert!(is_precompressed("a.tar.gz"));
        assert!(!is_precompressed("evidence/users.csv"));
        assert!(!is_precompressed("README"));
    }
}
