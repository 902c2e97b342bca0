//! Verifying a package: the auditor's side of the seventh stage. A BagIt bag, zipped or
//! unpacked, is checked for completeness (nothing missing, nothing extra), every checksum of
//! every manifest and tag manifest, Payload-Oxum, and the signature when a key is given.
//!
//! A zip is never extracted: entries are streamed through the hashers, reads are bounded by the
//! declared sizes, and hostile archives (`..` or absolute names, duplicate names, overlapping
//! entries, compression bombs) are refused before anything is decompressed. Every problem is a
//! diagnostic; only a package that cannot be read at all is an [`Error`].
//!
//! Files are hashed on one reader thread per core. Each thread has its own view of the zip (the
//! central directory is shared, reads are positioned) and reuses one inflater and two buffers
//! for every entry, so memory stays flat whatever the package holds. Results are kept per file
//! and reported in the bag's order, so the report never depends on which thread finished first.

use super::sign;
use crate::Error;
use crate::collect::hex;
use crate::diag::{Diagnostic, Diagnostics, Location, Severity};
use crate::fsutil;
use serde::Serialize;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use unicode_normalization::UnicodeNormalization;

/// bagit.txt and the signature are two lines: read whole, and refused beyond this.
const SMALL_TAG_LIMIT: u64 = 64 << 10;
/// The signed tag manifest is read whole to check its signature; it lists a few tag files.
const SIGNED_LIMIT: u64 = 16 << 20;
/// Manifests, bag-info.txt and fetch.txt are read line by line, whatever their size; a line is
/// cut (and reported) beyond this many bytes.
const MAX_LINE: usize = 64 << 10;
/// Manifest entries and fetch.txt lines naming files the bag does not have are kept up to this
/// many (each is a finding); the rest are counted.
const UNKNOWN_KEPT: usize = 100_000;
/// Findings of one kind (code and severity) listed; the rest are counted in one last finding.
const FINDINGS_PER_KIND: u64 = 100;
/// Deflate cannot inflate to more than 1032 times its size (a 258-byte match in two bits; block
/// headers only lower it). An entry declaring more than that from its compressed bytes is
/// refused unread: its size is a lie no Deflate stream can keep. Anything up to it is accepted,
/// because a file of zeros really compresses that well (`build` writes such entries), and the
/// reads stay bounded by the declared size whatever the entry holds.
const DEFLATE_MAX_RATIO: u64 = 1032;
/// Headroom for tiny entries: a few bytes of Deflate can legitimately declare a little more.
const DEFLATE_SLACK: u64 = 4 << 10;

/// The most bytes `packed` bytes stored with `method` can give; `None` when the method is not
/// read at all (such an entry is reported unreadable, never inflated).
fn max_inflated(method: Method, packed: u64) -> Option<u64> {
    match method {
        Method::Stored => Some(packed),
        Method::Deflated => Some(packed.saturating_mul(DEFLATE_MAX_RATIO).saturating_add(DEFLATE_SLACK)),
        Method::Other => None,
    }
}
/// Unix file types, as zip entries record them in their external attributes.
const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;
/// The mode `auditpack build` gives every entry.
const BUILD_MODE: u32 = S_IFREG | 0o644;
/// Each reader thread's input and output buffers: small enough that inflated data is still in
/// the core's cache when CRC-32 and the hashers read it.
const BUF_SIZE: usize = 128 << 10;
/// Read-ahead of each view of the zip: local headers and small entries are read through it.
const READ_AHEAD: usize = 16 << 10;
/// Files at least this big are scheduled one by one, biggest first; smaller ones in runs of
/// neighbours (in the container's order) of about this many bytes.
const RUN_BYTES: u64 = 1 << 20;

#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// The public key the signature must verify with; `None` leaves the signature unchecked.
    pub key: Option<sign::TrustedKeys>,
    /// Reader threads; `None` is one per core.
    pub jobs: Option<usize>,
}

/// What `auditpack verify` found. Also the JSON output.
#[derive(Debug, Serialize)]
pub struct Verification {
    pub package: PathBuf,
    pub format: &'static str,
    /// The bag's folder inside the zip (empty for a folder, or a zip with the bag at its root).
    pub bag: String,
    pub bagit_version: Option<String>,
    /// Algorithms of the payload manifests that were checked.
    pub algorithms: Vec<String>,
    pub payload_files: usize,
    pub payload_bytes: u64,
    pub signature: SignatureState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    pub intact: bool,
    pub problems: Diagnostics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureState {
    /// No signature and no key: nothing to check.
    Absent,
    /// A signature is there but no key was given.
    NotChecked,
    Valid,
    Invalid,
    /// A key was given but the bag has no signature.
    Missing,
}

/// Verifies the package at `path`, a zip file or a bag folder.
pub fn verify(path: &Path, opts: &VerifyOptions) -> Result<Verification, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read the package", path, e))?;
    let mut problems = Findings::default();
    let (bag, format) = if meta.is_dir() {
        (Container::folder(path, &mut problems)?, "folder")
    } else if meta.is_file() {
        (Container::zip(path, &mut problems)?, "zip")
    } else {
        // A FIFO would block the open forever, a device never ends: neither is opened.
        let why = format!(
            "not a regular file (it is {}); a package is a .zip file or a bag folder",
            fsutil::kind_of(&meta.file_type())
        );
        return Err(Error::io("read the package", path, std::io::Error::new(std::io::ErrorKind::InvalidInput, why)));
    };
    let mut v = Verification {
        package: path.to_path_buf(),
        format,
        bag: bag.prefix.trim_end_matches('/').to_string(),
        bagit_version: None,
        algorithms: Vec::new(),
        payload_files: 0,
        payload_bytes: 0,
        signature: SignatureState::Absent,
        signed_by: None,
        intact: false,
        problems: Diagnostics::default(),
    };
    if !bag.refused {
        check(&bag, opts, &mut v, &mut problems);
    }
    v.intact = !problems.has_errors();
    v.problems = problems.finish();
    Ok(v)
}

/// The findings of one verification. Of each kind (code and severity) the first
/// [`FINDINGS_PER_KIND`] are kept and the rest only counted, then summed up in one finding ("and
/// 20,999,900 more"): a hostile bag can make millions of findings, and neither memory nor the
/// report should grow with them.
#[derive(Default)]
struct Findings {
    list: Diagnostics,
    kinds: BTreeMap<(&'static str, Severity), Kind>,
}

#[derive(Default)]
struct Kind {
    kept: u64,
    more: u64,
    /// Where the last kept one was: the summary is listed beside it.
    last: Option<Location>,
}

impl Findings {
    fn push(&mut self, d: Diagnostic) {
        let kind = self.kinds.entry((d.code, d.severity)).or_default();
        if kind.kept < FINDINGS_PER_KIND {
            kind.kept += 1;
            kind.last.clone_from(&d.location);
            self.list.push(d);
        } else {
            kind.more += 1;
        }
    }
    /// Whether findings of this kind are only counted now: a caller making millions of them can
    /// skip building each one and call [`Findings::more`].
    fn full(&self, code: &'static str, severity: Severity) -> bool {
        self.kinds.get(&(code, severity)).is_some_and(|k| k.kept >= FINDINGS_PER_KIND)
    }
    /// Counts `n` findings of a kind that were never made one by one.
    fn more(&mut self, code: &'static str, severity: Severity, n: u64) {
        self.kinds.entry((code, severity)).or_default().more += n;
    }
    fn has_errors(&self) -> bool {
        self.list.has_errors() || self.kinds.iter().any(|((_, s), k)| *s == Severity::Error && k.more > 0)
    }
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    fn finish(self) -> Diagnostics {
        let mut list = self.list;
        for ((code, severity), kind) in self.kinds {
            if kind.more == 0 {
                continue;
            }
            let d = Diagnostic::new(code, severity, format!("and {} more like this, not listed", thousands(kind.more)))
                .hint(format!(
                    "only the first {FINDINGS_PER_KIND} findings of each kind are listed; the bag is damaged or hostile"
                ));
            list.push(match kind.last {
                Some(at) => d.at(at),
                None => d,
            });
        }
        list
    }
}

/// `20999900` as `20,999,900`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One parsed manifest (payload or tag), by path. A path that names a file of the bag shares
/// that file's name rather than a copy of it.
struct Manifest {
    name: String,
    algorithm: Algorithm,
    entries: BTreeMap<Arc<str>, Listed>,
    /// Entries naming files the bag does not have, beyond [`UNKNOWN_KEPT`]: counted, not kept.
    unkept: u64,
}

/// What a manifest line says: the checksum (raw bytes) and the line's number.
struct Listed {
    sum: Box<[u8]>,
    line: usize,
}

/// A bag's files by their path inside the bag.
type Files = BTreeMap<Arc<str>, FileInfo>;

fn check(bag: &Container, opts: &VerifyOptions, v: &mut Verification, problems: &mut Findings) {
    let at = |file: &str| Location::file(file);
    // bagit.txt: strict, always UTF-8.
    let mut encoding = Encoding::Utf8;
    let mut version = (1, 0);
    match bag.read_small("bagit.txt", SMALL_TAG_LIMIT, problems) {
        None if !bag.files.contains_key("bagit.txt") => problems.push(
            Diagnostic::error("missing-bagit-txt", "the bag has no bagit.txt")
                .at(at("bagit.txt"))
                .hint("every bag starts with bagit.txt; this is not a complete BagIt bag"),
        ),
        None => {}
        Some(bytes) => {
            if let Some((ver, enc)) = parse_bagit_txt(&bytes, problems) {
                v.bagit_version = Some(format!("{}.{}", ver.0, ver.1));
                version = ver;
                encoding = enc;
            }
        }
    }
    let strict = version >= (1, 0);

    // Every file by id: its position in the bag's sorted file list.
    let paths: Vec<&str> = bag.files.keys().map(|p| &**p).collect();
    let tag_files: Vec<&str> = paths.iter().copied().filter(|p| !p.starts_with("data/")).collect();
    let mut payload: Vec<Manifest> = Vec::new();
    let mut tags: Vec<Manifest> = Vec::new();
    for &name in &tag_files {
        let (is_tag, alg) = if let Some(a) = name.strip_prefix("tagmanifest-").and_then(|r| r.strip_suffix(".txt")) {
            (true, a)
        } else if let Some(a) = name.strip_prefix("manifest-").and_then(|r| r.strip_suffix(".txt")) {
            (false, a)
        } else {
            continue;
        };
        let Some(algorithm) = Algorithm::parse(alg) else {
            problems.push(
                Diagnostic::warning(
                    "unknown-algorithm",
                    format!("`{alg}` is not a checksum algorithm auditpack knows; {name} was not checked"),
                )
                .at(at(name))
                .hint("auditpack checks md5, sha1, sha224, sha256, sha384 and sha512 manifests"),
            );
            continue;
        };
        let mut parser = ManifestParser::new(name, algorithm, is_tag, strict, &bag.files);
        bag.read_lines(name, encoding, problems, &mut |i, line, long, problems| parser.line(i, line, long, problems));
        let m = parser.manifest;
        if is_tag { tags.push(m) } else { payload.push(m) }
    }
    if payload.is_empty() {
        problems.push(
            Diagnostic::error("missing-manifest", "the bag has no payload manifest (manifest-<algorithm>.txt)")
                .at(at("manifest-sha256.txt"))
                .hint("a bag lists every payload file with its checksum in at least one manifest"),
        );
    }
    v.algorithms = payload.iter().map(|m| m.algorithm.name().to_string()).collect();

    // bag-info.txt: Payload-Oxum.
    let mut info = BagInfo::default();
    if bag.files.contains_key("bag-info.txt") {
        bag.read_lines("bag-info.txt", encoding, problems, &mut |i, line, _, problems| info.line(i, line, problems));
    }
    let oxum = info.oxum;
    check_modes(bag, &info, problems);

    // fetch.txt: files that are meant to be fetched; missing ones make the bag incomplete.
    let mut fetch: BTreeSet<String> = BTreeSet::new();
    if bag.files.contains_key("fetch.txt") {
        bag.read_lines("fetch.txt", encoding, problems, &mut |i, line, _, problems| {
            if line.trim().is_empty() {
                return;
            }
            let mut parts = line.splitn(3, [' ', '\t']);
            let (_url, _len, path) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let loc = Location { file: "fetch.txt".into(), line: Some(i), col: None };
            match normalise_path(path.trim(), problems, &loc) {
                // Only files that are missing matter, and at most this many are kept.
                Some(p) if p.starts_with("data/") => {
                    if fetch.len() < UNKNOWN_KEPT && !bag.files.contains_key(p.as_str()) {
                        fetch.insert(p);
                    }
                }
                _ => problems.push(
                    Diagnostic::error(
                        "path-outside-payload",
                        format!("fetch.txt names `{}`, which is outside data/", path.trim()),
                    )
                    .at(loc)
                    .hint("a fetched file must land inside the bag's data/ folder; the bag may be hostile"),
                ),
            }
        });
    }

    // Which algorithms each file must be hashed with. Payload files are read even when no
    // manifest lists them: their size counts in Payload-Oxum.
    let mut wanted: Vec<Option<AlgSet>> = paths.iter().map(|p| p.starts_with("data/").then(AlgSet::default)).collect();
    let mut resolved: Vec<Vec<Option<usize>>> = Vec::new(); // per manifest, per entry: the file's id
    for m in payload.iter().chain(tags.iter()) {
        let r = resolve(m, &bag.files, problems);
        for &id in r.iter().flatten() {
            wanted[id].get_or_insert_default().insert(m.algorithm);
        }
        resolved.push(r);
    }
    let jobs: Vec<(usize, AlgSet)> = wanted.iter().enumerate().filter_map(|(id, w)| Some((id, (*w)?))).collect();
    drop(wanted);
    let hashed = bag.hash_all(jobs, &paths, opts.jobs.unwrap_or_else(cores));
    // Unreadable files, in the container's order.
    let mut unreadable: Vec<(usize, usize)> = (hashed.iter().enumerate())
        .filter(|(_, h)| matches!(h.get(), Some(Err(_))))
        .map(|(id, _)| (bag.files[paths[id]].order, id))
        .collect();
    unreadable.sort_unstable();
    for (_, id) in unreadable {
        if let Some(Err(msg)) = hashed[id].get() {
            problems.push(
                Diagnostic::error("corrupt-entry", format!("cannot read the file: {msg}"))
                    .at(at(paths[id]))
                    .hint("the package is damaged or was tampered with; ask for a new copy"),
            );
        }
    }

    // Compare every manifest with what is there.
    let system_missing =
        check_manifests(payload.iter().chain(tags.iter()), &resolved, &hashed, &paths, &fetch, &bag.files, problems);
    let payload_ids = || paths.iter().enumerate().filter(|(_, p)| p.starts_with("data/"));
    for (m, r) in payload.iter().zip(&resolved) {
        let mut listed = vec![false; paths.len()];
        for &id in r.iter().flatten() {
            listed[id] = true;
        }
        for (id, p) in payload_ids() {
            if !listed[id] {
                problems.push(
                    Diagnostic::error("unlisted-file", format!("the file is in the payload but not in {}", m.name))
                        .at(at(p))
                        .hint("a file was added to the package after it was made"),
                );
            }
        }
    }
    for (_, p) in payload_ids() {
        if is_system_file(p) {
            problems.push(
                Diagnostic::warning("system-file", "an operating-system metadata file is in the payload")
                    .at(at(p))
                    .hint("files like .DS_Store and Thumbs.db are usually not evidence; check the bag's maker"),
            );
        }
    }

    v.payload_files = payload_ids().count();
    v.payload_bytes = payload_ids()
        .filter_map(|(id, _)| match hashed[id].get() {
            Some(Ok(h)) => Some(h.size),
            _ => None,
        })
        .sum();
    if let Some((bytes, count)) = oxum {
        let (found_bytes, found_count) = (v.payload_bytes, v.payload_files as u64);
        if (bytes, count) != (found_bytes, found_count) {
            // A lost .DS_Store or Thumbs.db explains a shortfall without hiding a real change.
            let explained = system_missing > 0 && count == found_count + system_missing && found_bytes <= bytes;
            let d = if explained { Diagnostic::warning } else { Diagnostic::error };
            problems.push(
                d(
                    "payload-oxum",
                    format!(
                        "Payload-Oxum says {count} files and {bytes} bytes; the payload has {found_count} files and {found_bytes} bytes"
                    ),
                )
                .at(at("bag-info.txt"))
                .hint("files were added, removed or changed in size after the bag was made"),
            );
        }
    }

    let covered: BTreeSet<&str> = tags
        .iter()
        .zip(&resolved[payload.len()..])
        .filter(|(m, _)| m.name == sign::SIGNED_FILE)
        .flat_map(|(_, r)| r.iter().flatten().map(|&id| paths[id]))
        .collect();
    check_signature(bag, opts, v, &covered, &tag_files, problems);
}

/// Maps each manifest entry, in the manifest's order, to the id of the file it names. A name
/// that is absent but differs only in Unicode normalisation or letter case from a file that the
/// same manifest also lists, with the same checksum, is the same file recorded twice by a tool
/// on another file system: a warning.
fn resolve(m: &Manifest, files: &Files, problems: &mut Findings) -> Vec<Option<usize>> {
    // The listed names that are in the bag, by their normalised and lower-cased forms: built
    // only when a name is missing, so a complete bag never pays for it.
    let mut variants: Option<BTreeMap<String, Vec<&Arc<str>>>> = None;
    let mut out = Vec::with_capacity(m.entries.len());
    for (entry, listed) in &m.entries {
        if let Some(f) = files.get(&**entry) {
            out.push(Some(f.id));
            continue;
        }
        let variants = variants.get_or_insert_with(|| {
            let mut v: BTreeMap<String, Vec<&Arc<str>>> = BTreeMap::new();
            for other in m.entries.keys().filter(|o| files.contains_key(&***o)) {
                v.entry(nfc_key(other)).or_default().push(other);
                v.entry(lower_key(other)).or_default().push(other);
            }
            v
        });
        // The first such name in the manifest's order, as a scan of the manifest would find.
        let twin = [nfc_key(entry), lower_key(entry)]
            .iter()
            .filter_map(|k| variants.get(k))
            .flatten()
            .copied()
            .filter(|other| *other != entry && m.entries[&***other].sum == listed.sum)
            .min();
        match twin {
            Some(other) => {
                problems.push(
                    Diagnostic::warning(
                        "duplicate-name-variant",
                        format!(
                            "`{entry}` and `{other}` are listed separately but name one file (case or Unicode normalisation)"
                        ),
                    )
                    .at(Location { file: m.name.clone().into(), line: Some(listed.line), col: None })
                    .hint("the bag was probably made on a case-insensitive or normalising file system"),
                );
                out.push(Some(files[&**other].id));
            }
            None => out.push(None),
        }
    }
    out
}

/// Keys under which two names count as one file: the same after Unicode normalisation (NFC),
/// or the same in lower case. The prefixes keep the two kinds apart.
fn nfc_key(name: &str) -> String {
    format!("n:{}", name.nfc().collect::<String>())
}
fn lower_key(name: &str) -> String {
    format!("l:{}", name.to_lowercase())
}

/// Checks each manifest entry's file and checksum. Returns how many missing files were
/// operating-system metadata files (reported as warnings).
fn check_manifests<'a>(
    manifests: impl Iterator<Item = &'a Manifest>,
    resolved: &[Vec<Option<usize>>],
    hashed: &[Outcome],
    paths: &[&str],
    fetch: &BTreeSet<String>,
    files: &Files,
    problems: &mut Findings,
) -> u64 {
    let mut system_missing = BTreeSet::new();
    for (m, r) in manifests.zip(resolved) {
        if m.unkept > 0 {
            problems.more("missing-from-bag", Severity::Error, m.unkept);
        }
        for ((entry, listed), actual) in m.entries.iter().zip(r) {
            let loc = || Location { file: m.name.clone().into(), line: Some(listed.line), col: None };
            let Some(actual) = *actual else {
                if fetch.contains(&**entry) {
                    problems.push(
                        Diagnostic::error(
                            "incomplete-bag",
                            format!("`{entry}` is listed in fetch.txt but was never fetched"),
                        )
                        .at(loc())
                        .hint("fetch the file into the bag before relying on it"),
                    );
                } else if is_system_file(entry) && !files.contains_key(&**entry) {
                    system_missing.insert(entry.clone());
                    problems.push(
                        Diagnostic::warning(
                            "missing-system-file",
                            format!("`{entry}` is listed in {} but missing", m.name),
                        )
                        .at(loc())
                        .hint("operating-system metadata files are often dropped by copies and archivers"),
                    );
                } else {
                    problems.push(
                        Diagnostic::error("missing-from-bag", format!("`{entry}` is listed in {} but missing", m.name))
                            .at(loc())
                            .hint("a file was deleted or renamed after the package was made"),
                    );
                }
                continue;
            };
            // An unreadable file was reported already.
            let Some(Ok(h)) = hashed[actual].get() else {
                continue;
            };
            let Some(found) = h.digest(m.algorithm) else {
                continue;
            };
            if found != &*listed.sum {
                let actual = paths[actual];
                problems.push(
                    Diagnostic::error(
                        "checksum-mismatch",
                        format!(
                            "`{actual}` has {} {}, {} says {}",
                            m.algorithm.name(),
                            hex(found),
                            m.name,
                            hex(&listed.sum)
                        ),
                    )
                    .at(loc())
                    .hint(if actual.starts_with("data/") {
                        "the file was changed after the package was made"
                    } else {
                        "a tag file (manifest, bag-info.txt) was changed after the package was made"
                    }),
                );
            }
        }
    }
    system_missing.len() as u64
}

/// The bytes a string of hex digits (either case, already checked) spells.
fn unhex(hex: &str) -> Box<[u8]> {
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    hex.as_bytes().chunks_exact(2).map(|pair| (digit(pair[0]) << 4) | digit(pair[1])).collect()
}

/// `covered`: the tag files the signed tag manifest lists.
fn check_signature(
    bag: &Container,
    opts: &VerifyOptions,
    v: &mut Verification,
    covered: &BTreeSet<&str>,
    tag_files: &[&str],
    problems: &mut Findings,
) {
    let at = Location::file(sign::SIGNATURE_FILE);
    let present = bag.files.contains_key(sign::SIGNATURE_FILE);
    let parsed = if present {
        bag.read_small(sign::SIGNATURE_FILE, SMALL_TAG_LIMIT, problems)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map(|t| sign::parse_signature(&t))
    } else {
        None
    };
    // An unreadable signature is the same finding with or without a key.
    let parsed = match parsed {
        Some(Err(e)) => {
            v.signature = SignatureState::Invalid;
            problems.push(
                Diagnostic::error("signature-invalid", format!("the signature file cannot be read: {e}"))
                    .at(at)
                    .hint("the signature was damaged or forged"),
            );
            return;
        }
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let Some(key) = &opts.key else {
        if let Some(s) = parsed {
            v.signature = SignatureState::NotChecked;
            v.signed_by = Some(s.key_id.clone());
            problems.push(
                Diagnostic::note(
                    "signature-not-checked",
                    format!("the package is signed by key {}; it was not checked", s.key_id),
                )
                .at(at)
                .hint("give the signer's public key with --key to check the signature"),
            );
        }
        return;
    };
    let wanted = key.ids();
    let sig = match parsed {
        None => {
            v.signature = SignatureState::Missing;
            problems.push(
                Diagnostic::error(
                    "signature-missing",
                    format!("a key ({wanted}) was given but the package is not signed"),
                )
                .at(at)
                .hint("the signature was removed, or the package was built without --sign"),
            );
            return;
        }
        Some(s) => s,
    };
    v.signed_by = Some(sig.key_id.clone());
    let signed = if bag.files.contains_key(sign::SIGNED_FILE) {
        bag.read_small(sign::SIGNED_FILE, SIGNED_LIMIT, problems)
    } else {
        None
    };
    let signer = signed.as_deref().and_then(|b| sign::verify(key, b, &sig));
    if let Some(who) = signer {
        v.signature = SignatureState::Valid;
        v.signed_by = Some(who);
    } else {
        v.signature = SignatureState::Invalid;
        let why = if signed.is_none() {
            format!("{} is missing, so the signature covers nothing", sign::SIGNED_FILE)
        } else if !key.keys.iter().any(|(_, k)| k.key_data() == sig.signature.public_key()) {
            format!("the package was signed by key {}, not by the given key {wanted}", sig.key_id)
        } else {
            format!("the signature does not match {}: the manifests were changed after signing", sign::SIGNED_FILE)
        };
        problems.push(
            Diagnostic::error("signature-invalid", why)
                .at(at)
                .hint("do not trust this package; ask the sender for a new copy and compare the key fingerprint"),
        );
        return;
    }
    // Everything the signature vouches for must go through the signed tag manifest.
    for &t in tag_files {
        let is_manifest_of_tags = t.starts_with("tagmanifest-") && t.ends_with(".txt");
        if t != sign::SIGNATURE_FILE && !is_manifest_of_tags && !covered.contains(t) {
            problems.push(
                Diagnostic::error(
                    "unsigned-tag-file",
                    format!("`{t}` is not covered by the signed {}", sign::SIGNED_FILE),
                )
                .at(Location::file(t))
                .hint("a tag file was added after signing; do not trust it"),
            );
        }
    }
}

/// Parses bagit.txt strictly: `BagIt-Version: M.N` and `Tag-File-Character-Encoding: X`.
fn parse_bagit_txt(bytes: &[u8], problems: &mut Findings) -> Option<((u32, u32), Encoding)> {
    let err = |line: Option<usize>, msg: String, hint: &str| {
        Diagnostic::error("invalid-bagit-txt", msg)
            .at(Location { file: "bagit.txt".into(), line, col: None })
            .hint(hint.to_string())
    };
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        problems.push(err(
            Some(1),
            "bagit.txt starts with a byte-order mark".into(),
            "BagIt forbids a BOM in bagit.txt",
        ));
        return None;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        problems.push(err(None, "bagit.txt is not UTF-8".into(), "bagit.txt is always UTF-8"));
        return None;
    };
    let (mut version, mut encoding) = (None, None);
    let mut ok = true;
    for (i, line) in split_lines(text).into_iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        match line.split_once(": ") {
            Some(("BagIt-Version", v)) => {
                let parsed = v.split_once('.').and_then(|(a, b)| {
                    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
                    if digits(a) && digits(b) { Some((a.parse().ok()?, b.parse().ok()?)) } else { None }
                });
                match parsed {
                    Some(p) => version = Some(p),
                    None => {
                        ok = false;
                        problems.push(err(
                            Some(i + 1),
                            format!("`{v}` is not a BagIt version"),
                            "write the version as MAJOR.MINOR, e.g. 1.0",
                        ));
                    }
                }
            }
            Some(("Tag-File-Character-Encoding", e)) => match Encoding::parse(e) {
                Some(enc) => encoding = Some(enc),
                None => {
                    ok = false;
                    problems.push(
                        Diagnostic::error(
                            "unsupported-encoding",
                            format!("tag files are in `{e}`, which auditpack cannot read"),
                        )
                        .at(Location { file: "bagit.txt".into(), line: Some(i + 1), col: None })
                        .hint("auditpack reads UTF-8, UTF-16 and ISO-8859-1 tag files"),
                    );
                }
            },
            _ => {
                ok = false;
                problems.push(err(
                    Some(i + 1),
                    format!("unexpected line `{}`", line.escape_debug()),
                    "bagit.txt holds exactly `BagIt-Version: M.N` and `Tag-File-Character-Encoding: ENCODING`",
                ));
            }
        }
    }
    if version.is_none() && ok {
        problems.push(err(None, "bagit.txt has no BagIt-Version".into(), "add `BagIt-Version: 1.0`"));
    }
    if encoding.is_none() && ok {
        problems.push(err(
            None,
            "bagit.txt has no Tag-File-Character-Encoding".into(),
            "add `Tag-File-Character-Encoding: UTF-8`",
        ));
    }
    Some((version?, encoding?)).filter(|_| ok)
}

/// What verify reads from bag-info.txt.
#[derive(Default)]
struct BagInfo {
    /// Payload-Oxum: bytes and files.
    oxum: Option<(u64, u64)>,
    /// Bag-Software-Agent: the tool that made the bag.
    agent: Option<String>,
}

impl BagInfo {
    /// Reads line `number` of bag-info.txt, reporting a malformed or repeated Payload-Oxum.
    fn line(&mut self, number: usize, line: &str, problems: &mut Findings) {
        let Some((label, value)) = line.split_once(':') else {
            return;
        };
        if line.starts_with([' ', '\t']) {
            return;
        }
        if label.trim() == "Bag-Software-Agent" && self.agent.is_none() {
            self.agent = Some(value.trim().chars().take(200).collect());
        }
        if label.trim() != "Payload-Oxum" {
            return;
        }
        let loc = Location { file: "bag-info.txt".into(), line: Some(number), col: None };
        let parsed =
            value.trim().split_once('.').and_then(|(b, n)| Some((b.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
        match (parsed, self.oxum) {
            (None, _) => problems.push(
                Diagnostic::error(
                    "payload-oxum",
                    format!(
                        "Payload-Oxum `{}` is not <bytes>.<files>",
                        value.trim().chars().take(200).collect::<String>()
                    ),
                )
                .at(loc)
                .hint("the bag-info.txt was damaged or edited"),
            ),
            (Some(_), Some(_)) => problems.push(
                Diagnostic::error("payload-oxum", "Payload-Oxum appears more than once")
                    .at(loc)
                    .hint("BagIt allows one Payload-Oxum; bag-info.txt was edited"),
            ),
            (Some(p), None) => self.oxum = Some(p),
        }
    }

    /// Whether auditpack made the bag: then every zip entry has the mode `build` gives it.
    fn made_by_auditpack(&self) -> bool {
        self.agent.as_deref().is_some_and(|a| a == "auditpack" || a.starts_with("auditpack "))
    }
}

/// Checks the Unix modes of a zip's entries (types were checked when the archive was opened).
/// A bag auditpack made has every file `-rw-r--r--`: any other mode was changed after the
/// package was made, which neither checksums nor the signature cover. Other tools' bags may hold
/// executables or world-writable files; that is worth a warning, not a refusal.
fn check_modes(bag: &Container, info: &BagInfo, problems: &mut Findings) {
    if !matches!(bag.source, Source::Zip(_)) {
        return;
    }
    let strict = info.made_by_auditpack();
    let mut files: Vec<(&Arc<str>, &FileInfo)> = bag.files.iter().collect();
    files.sort_by_key(|(_, f)| f.order);
    for (path, f) in files {
        let at = Location::file(&**path);
        match f.mode {
            Some(mode) if strict && mode != BUILD_MODE => problems.push(
                Diagnostic::error(
                    "file-mode",
                    format!("the entry has mode {:o}; auditpack writes every file as {BUILD_MODE:o} (-rw-r--r--)", mode),
                )
                .at(at)
                .hint("the archive's file modes were changed after the package was made; ask the sender for a new copy"),
            ),
            None if strict => problems.push(
                Diagnostic::error("file-mode", "the entry has no Unix mode; auditpack writes every file with one")
                    .at(at)
                    .hint("the archive's file attributes were changed after the package was made; ask the sender for a new copy"),
            ),
            Some(mode) if !strict && mode & 0o111 != 0 => problems.push(
                Diagnostic::warning("file-mode", format!("the entry is executable (mode {mode:o})"))
                    .at(at)
                    .hint("evidence is data, not programs; do not run it"),
            ),
            Some(mode) if !strict && mode & 0o002 != 0 => problems.push(
                Diagnostic::warning("file-mode", format!("the entry is writable by anyone (mode {mode:o})"))
                    .at(at)
                    .hint("extracted as it is, any user could change the file"),
            ),
            _ => {}
        }
    }
}

/// Parses a manifest line by line as it is read. Memory holds the entries that name files of
/// the bag (as many as the bag has) and at most [`UNKNOWN_KEPT`] others; the rest are counted.
struct ManifestParser<'f> {
    manifest: Manifest,
    is_tag: bool,
    strict: bool,
    files: &'f Files,
    unknown: usize,
}

impl<'f> ManifestParser<'f> {
    fn new(name: &str, algorithm: Algorithm, is_tag: bool, strict: bool, files: &'f Files) -> Self {
        let manifest = Manifest { name: name.to_string(), algorithm, entries: BTreeMap::new(), unkept: 0 };
        ManifestParser { manifest, is_tag, strict, files, unknown: 0 }
    }

    /// Line `number` (1-based); `overlong` when it was cut at [`MAX_LINE`] bytes.
    fn line(&mut self, number: usize, line: &str, overlong: bool, problems: &mut Findings) {
        let Manifest { name, algorithm, entries, unkept } = &mut self.manifest;
        let (name, algorithm) = (name.as_str(), *algorithm);
        let loc = Location { file: name.into(), line: Some(number), col: None };
        if line.trim().is_empty() && !overlong {
            return;
        }
        let hex_len = algorithm.hex_len();
        let (sum, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let path = rest.trim_start_matches([' ', '\t']);
        if overlong || sum.len() != hex_len || !sum.bytes().all(|b| b.is_ascii_hexdigit()) || path.is_empty() {
            if problems.full("invalid-manifest-line", Severity::Error) {
                return problems.more("invalid-manifest-line", Severity::Error, 1);
            }
            let shown: String = line.chars().take(200).collect();
            let msg = if overlong {
                format!("the line is longer than {MAX_LINE} bytes: `{}...`", shown.escape_debug())
            } else {
                format!("not `<{} checksum> <path>`: `{}`", algorithm.name(), shown.escape_debug())
            };
            problems.push(
                Diagnostic::error("invalid-manifest-line", msg)
                    .at(loc)
                    .hint("the manifest was damaged or edited by hand"),
            );
            return;
        }
        let path = match path.strip_prefix('*') {
            Some(p) => {
                problems.push(
                    Diagnostic::warning(
                        "binary-marker",
                        "the path starts with `*`, as written by md5sum/sha256sum in binary mode",
                    )
                    .at(loc.clone())
                    .hint("BagIt manifests have no mode marker; it was ignored"),
                );
                p
            }
            None => path,
        };
        let Some(p) = normalise_path(path, problems, &loc) else {
            problems.push(
                Diagnostic::error("path-outside-bag", format!("`{}` points outside the bag", path.escape_debug()))
                    .at(loc)
                    .hint("manifest paths are relative to the bag and may not use `..`, `~` or absolute paths; the bag may be hostile"),
            );
            return;
        };
        if self.is_tag == p.starts_with("data/") {
            let (code, msg) = if self.is_tag {
                ("payload-in-tag-manifest", format!("the tag manifest lists payload file `{}`", p.escape_debug()))
            } else {
                (
                    "path-outside-payload",
                    format!("the payload manifest lists `{}`, which is outside data/", p.escape_debug()),
                )
            };
            problems
                .push(Diagnostic::error(code, msg).at(loc).hint("the manifest was made by a broken tool or edited"));
            return;
        }
        let sum = unhex(sum);
        if let Some(prev) = entries.get(p.as_str()) {
            let severity = if self.strict || prev.sum != sum { Severity::Error } else { Severity::Warning };
            if problems.full("duplicate-manifest-entry", severity) {
                return problems.more("duplicate-manifest-entry", severity, 1);
            }
        }
        match entries.get(p.as_str()) {
            Some(prev) if prev.sum != sum => problems.push(
                Diagnostic::error(
                    "duplicate-manifest-entry",
                    format!("`{}` is listed twice with different checksums", p.escape_debug()),
                )
                .at(loc)
                .hint("a manifest lists each file once; it was edited"),
            ),
            Some(_) => problems.push(
                if self.strict { Diagnostic::error } else { Diagnostic::warning }(
                    "duplicate-manifest-entry",
                    format!("`{}` is listed twice", p.escape_debug()),
                )
                .at(loc)
                .hint("a manifest lists each file once (BagIt 1.0 makes this an error)"),
            ),
            None => match self.files.get_key_value(p.as_str()) {
                Some((known, _)) => {
                    entries.insert(known.clone(), Listed { sum, line: number });
                }
                // A name the bag does not have: a finding later, kept up to a bound.
                None if self.unknown < UNKNOWN_KEPT => {
                    self.unknown += 1;
                    entries.insert(p.into(), Listed { sum, line: number });
                }
                None => *unkept += 1,
            },
        }
    }
}

/// Decodes BagIt's percent-encoding of CR, LF and `%`, drops a leading `./`, and refuses paths
/// that leave the bag. Returns `None` for a hostile path.
fn normalise_path(raw: &str, problems: &mut Findings, loc: &Location) -> Option<String> {
    let mut p = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('%') {
        p.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).unwrap_or("");
        match code.to_ascii_uppercase().as_str() {
            "0A" => p.push('\n'),
            "0D" => p.push('\r'),
            "25" => p.push('%'),
            _ => {
                p.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    p.push_str(rest);
    if let Some(stripped) = p.strip_prefix("./") {
        problems.push(
            Diagnostic::warning("dot-slash-path", format!("the path `{raw}` starts with `./`"))
                .at(loc.clone())
                .hint("BagIt paths are written without `./`; it was ignored"),
        );
        p = stripped.to_string();
    }
    let hostile = p.starts_with('/')
        || p.starts_with('~')
        || p.contains('\\')
        || p.contains('\0')
        || p.as_bytes().get(1) == Some(&b':')
        || p.split('/').any(|c| c == ".." || c == "." || c.is_empty());
    if hostile { None } else { Some(p) }
}

fn is_system_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(name, ".DS_Store" | "Thumbs.db" | "desktop.ini" | "ehthumbs.db") || name.starts_with("._")
}

/// Splits on LF, CRLF or CR (BagIt allows each).
fn split_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            out.push(&text[start..i]);
            if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start < b.len() {
        out.push(&text[start..]);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16,
    Latin1,
}

impl Encoding {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Some(Encoding::Utf8),
            "UTF-16" | "UTF16" => Some(Encoding::Utf16),
            "ISO-8859-1" | "LATIN-1" | "LATIN1" | "ISO8859-1" => Some(Encoding::Latin1),
            _ => None,
        }
    }
}

/// Splits a tag file into lines while it is read, decoding it on the way: memory holds one line
/// (at most [`MAX_LINE`] bytes), never the file. Lines end at LF, CRLF or CR, as BagIt allows.
struct Lines<'c> {
    enc: Encoding,
    /// The current line: UTF-8 (UTF-16 is transcoded first), or Latin-1 bytes.
    line: Vec<u8>,
    overlong: bool,
    after_cr: bool,
    number: usize,
    /// A line was not valid UTF-8.
    invalid: bool,
    /// UTF-16: a byte waiting for its pair, the byte order once known, a high surrogate.
    odd: Option<u8>,
    big_endian: Option<bool>,
    high: Option<u16>,
    each: &'c mut dyn FnMut(usize, &str, bool),
}

impl<'c> Lines<'c> {
    fn new(enc: Encoding, each: &'c mut dyn FnMut(usize, &str, bool)) -> Self {
        Lines {
            enc,
            line: Vec::new(),
            overlong: false,
            after_cr: false,
            number: 0,
            invalid: false,
            odd: None,
            big_endian: None,
            high: None,
            each,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        if self.enc == Encoding::Utf16 { self.utf16(bytes) } else { self.bytes(bytes) }
    }

    fn bytes(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            if std::mem::take(&mut self.after_cr) && b[0] == b'\n' {
                b = &b[1..];
                continue;
            }
            match b.iter().position(|&c| c == b'\n' || c == b'\r') {
                None => {
                    self.push(b);
                    return;
                }
                Some(i) => {
                    self.push(&b[..i]);
                    self.after_cr = b[i] == b'\r';
                    self.emit();
                    b = &b[i + 1..];
                }
            }
        }
    }

    fn push(&mut self, b: &[u8]) {
        let room = MAX_LINE - self.line.len();
        if b.len() > room {
            self.overlong = true;
            self.line.extend_from_slice(&b[..room]);
        } else {
            self.line.extend_from_slice(b);
        }
    }

    fn emit(&mut self) {
        self.number += 1;
        let mut bytes = &self.line[..];
        if self.number == 1 && self.enc == Encoding::Utf8 && bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            bytes = &bytes[3..];
        }
        let text: std::borrow::Cow<'_, str> = match self.enc {
            Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect::<String>().into(),
            _ => match std::str::from_utf8(bytes) {
                Ok(t) => t.into(),
                Err(e) => {
                    // A line cut at MAX_LINE may end inside a character; that is reported as too long.
                    if !(self.overlong && e.error_len().is_none()) {
                        self.invalid = true;
                    }
                    String::from_utf8_lossy(bytes)
                }
            },
        };
        (self.each)(self.number, &text, self.overlong);
        self.line.clear();
        self.overlong = false;
    }

    /// UTF-16 (byte order from its BOM, big-endian without one), transcoded to UTF-8.
    fn utf16(&mut self, b: &[u8]) {
        let mut text = String::with_capacity(b.len());
        let mut rest = b;
        if let Some(first) = self.odd.take() {
            let Some((&second, tail)) = rest.split_first() else {
                self.odd = Some(first);
                return;
            };
            self.unit([first, second], &mut text);
            rest = tail;
        }
        let mut pairs = rest.chunks_exact(2);
        for pair in &mut pairs {
            self.unit([pair[0], pair[1]], &mut text);
        }
        if let [last] = pairs.remainder() {
            self.odd = Some(*last);
        }
        self.bytes(text.as_bytes());
    }

    fn unit(&mut self, pair: [u8; 2], text: &mut String) {
        let big = match self.big_endian {
            Some(big) => big,
            None => {
                let big = pair != [0xFF, 0xFE];
                self.big_endian = Some(big);
                if pair == [0xFF, 0xFE] || pair == [0xFE, 0xFF] {
                    return;
                }
                big
            }
        };
        let u = if big { u16::from_be_bytes(pair) } else { u16::from_le_bytes(pair) };
        if let Some(high) = self.high.take() {
            if (0xDC00..0xE000).contains(&u) {
                let c = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                text.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                return;
            }
            text.push('\u{FFFD}');
        }
        match u {
            0xD800..0xDC00 => self.high = Some(u),
            0xDC00..0xE000 => text.push('\u{FFFD}'),
            _ => text.push(char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}')),
        }
    }

    /// The last line, if the file does not end with a line break.
    fn finish(&mut self) {
        if self.enc == Encoding::Utf16 {
            let mut text = String::new();
            if let Some(last) = self.odd.take() {
                self.unit([last, 0], &mut text);
            }
            if self.high.take().is_some() {
                text.push('\u{FFFD}');
            }
            self.bytes(text.as_bytes());
        }
        if !self.line.is_empty() || self.overlong {
            self.emit();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    const ALL: [Algorithm; 6] =
        [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha224, Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "md5" => Algorithm::Md5,
            "sha1" => Algorithm::Sha1,
            "sha224" => Algorithm::Sha224,
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha224 => "sha224",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha1 => 40,
            Algorithm::Sha224 => 56,
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }
    fn hasher(self) -> Hasher {
        match self {
            Algorithm::Md5 => Hasher::Md5(md5::Md5::new()),
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// The digest's length in bytes.
    fn len(&self) -> usize {
        match self {
            Hasher::Md5(_) => 16,
            Hasher::Sha1(_) => 20,
            Hasher::Sha224(_) => 28,
            Hasher::Sha256(_) => 32,
            Hasher::Sha384(_) => 48,
            Hasher::Sha512(_) => 64,
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha224(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn finish_into(self, out: &mut Vec<u8>) {
        match self {
            Hasher::Md5(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha1(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha224(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha256(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha384(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha512(h) => out.extend_from_slice(&h.finalize()),
        }
    }
}

/// A set of algorithms, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct AlgSet(u8);

impl AlgSet {
    fn insert(&mut self, a: Algorithm) {
        self.0 |= 1 << a as u8;
    }
    fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL.into_iter().filter(move |a| self.0 & (1 << *a as u8) != 0)
    }
}

/// A file read to its end: its size and its digests, raw, in the order of [`AlgSet::iter`].
struct Hashed {
    size: u64,
    algs: AlgSet,
    digests: Box<[u8]>,
}

impl Hashed {
    fn digest(&self, alg: Algorithm) -> Option<&[u8]> {
        let mut at = 0;
        for a in self.algs.iter() {
            let n = a.hex_len() / 2;
            if a == alg {
                return self.digests.get(at..at + n);
            }
            at += n;
        }
        None
    }
}

/// Where a file's bytes go, in one pass: the hashers, CRC-32 (for a zip entry), and a count
/// bounded by the declared size.
/// A consumer of a file's bytes as they are read.
type Tap<'t> = &'t mut dyn FnMut(&[u8]);

struct Sink<'t> {
    hashers: Vec<Hasher>,
    algs: AlgSet,
    crc: crc32fast::Hasher,
    total: u64,
    /// The declared size (zip entries): more is an error as soon as it is read.
    declared: Option<u64>,
    /// The bytes themselves, for a small tag file that is read whole.
    keep: Option<Vec<u8>>,
    /// Where the bytes go as they are read, for a tag file that is parsed line by line.
    tap: Option<Tap<'t>>,
}

impl<'t> Sink<'t> {
    fn new(algs: AlgSet, declared: Option<u64>) -> Sink<'t> {
        let hashers = algs.iter().map(Algorithm::hasher).collect();
        Sink { hashers, algs, crc: Default::default(), total: 0, declared, keep: None, tap: None }
    }
    fn update(&mut self, b: &[u8]) -> Result<(), String> {
        self.total += b.len() as u64;
        if let Some(limit) = self.declared {
            if self.total > limit {
                return Err(format!("it holds more than its declared {limit} bytes"));
            }
            self.crc.update(b);
        }
        for h in &mut self.hashers {
            h.update(b);
        }
        if let Some(keep) = &mut self.keep {
            keep.extend_from_slice(b);
        }
        if let Some(tap) = &mut self.tap {
            tap(b);
        }
        Ok(())
    }
    /// Checks the size read against the declared one and the CRC-32 against `crc`, the one the
    /// archive records for the entry.
    fn check(&self, crc: Option<u32>) -> Result<(), String> {
        if let Some(declared) = self.declared
            && self.total != declared
        {
            return Err(format!("it holds {} bytes but declares {declared}", self.total));
        }
        if let Some(crc) = crc
            && self.crc.clone().finalize() != crc
        {
            return Err("its content does not match the CRC-32 the archive records".into());
        }
        Ok(())
    }
    fn finish(self, crc: Option<u32>) -> Result<Hashed, String> {
        self.check(crc)?;
        let mut digests = Vec::with_capacity(self.hashers.iter().map(|h| h.len()).sum());
        for h in self.hashers {
            h.finish_into(&mut digests);
        }
        Ok(Hashed { size: self.total, algs: self.algs, digests: digests.into_boxed_slice() })
    }
}

/// Reads `r` to its end into `sink`, through `buf`.
fn pump(mut r: impl Read, buf: &mut [u8], sink: &mut Sink) -> Result<(), String> {
    loop {
        match r.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink.update(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Inflates the raw Deflate stream `r` into `sink`. The inflater is reset, not rebuilt: one per
/// thread serves every entry.
fn inflate(
    d: &mut flate2::Decompress,
    mut r: impl Read,
    input: &mut [u8],
    output: &mut [u8],
    sink: &mut Sink,
) -> Result<(), String> {
    d.reset(false);
    let (mut start, mut end, mut eof) = (0, 0, false);
    loop {
        if start == end && !eof {
            end = loop {
                match r.read(input) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.to_string()),
                }
            };
            start = 0;
            eof = end == 0;
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let flush = if eof { flate2::FlushDecompress::Finish } else { flate2::FlushDecompress::None };
        let status = d
            .decompress(&input[start..end], output, flush)
            .map_err(|e| format!("its compressed data is corrupt ({e})"))?;
        let used = (d.total_in() - in_before) as usize;
        let made = (d.total_out() - out_before) as usize;
        start += used;
        sink.update(&output[..made])?;
        match status {
            flate2::Status::StreamEnd => return Ok(()),
            _ if used == 0 && made == 0 && (eof || start < end) => {
                return Err("its compressed data ends before the entry does".into());
            }
            _ => {}
        }
    }
}

/// What one reader thread owns: its own view of the package, an inflater and two buffers, all
/// reused for every file it reads.
struct Reader {
    zip: Option<PackageFile>,
    inflater: flate2::Decompress,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl Reader {
    fn new(source: &Source) -> Reader {
        let zip = match source {
            Source::Zip(file) => Some(file.clone()),
            Source::Folder(_) => None,
        };
        Reader { zip, inflater: flate2::Decompress::new(false), input: vec![0; BUF_SIZE], output: vec![0; BUF_SIZE] }
    }

    /// Streams a file through the hashers of `algs`; returns its real size and the digests.
    fn hash(&mut self, source: &Source, rel: &str, info: FileInfo, algs: AlgSet) -> Result<Hashed, String> {
        let zip = self.zip.is_some();
        let mut sink = Sink::new(algs, zip.then_some(info.size));
        self.read(source, rel, info, &mut sink)?;
        sink.finish(zip.then_some(info.crc))
    }

    /// Reads a file whole.
    fn read_whole(&mut self, source: &Source, rel: &str, info: FileInfo) -> Result<Vec<u8>, String> {
        let zip = self.zip.is_some();
        let mut sink = Sink::new(AlgSet::default(), zip.then_some(info.size));
        sink.keep = Some(Vec::with_capacity(info.size as usize));
        self.read(source, rel, info, &mut sink)?;
        sink.check(zip.then_some(info.crc))?;
        Ok(sink.keep.unwrap_or_default())
    }

    /// Reads a file to its end into `sink`. A zip entry is found through its local header and
    /// read raw, bounded by its compressed size, and inflated here; the zip crate would do the
    /// same, with a new inflater for every entry.
    fn read(&mut self, source: &Source, rel: &str, info: FileInfo, sink: &mut Sink) -> Result<(), String> {
        let Reader { zip, inflater, input, output } = self;
        let Some(file) = zip else {
            let Source::Folder(root) = source else { unreachable!("a reader of a zip has its own view of it") };
            let f = fsutil::open_regular(&root.join(rel)).map_err(|e| e.to_string())?;
            return pump(f, output, sink);
        };
        let damaged = |e: std::io::Error| format!("its local header cannot be read ({e})");
        let mut header = [0u8; 30];
        file.seek(SeekFrom::Start(info.header_start)).map_err(damaged)?;
        file.read_exact(&mut header).map_err(damaged)?;
        if header[..4] != *b"PK\x03\x04" {
            return Err("its local header is damaged".into());
        }
        let field = |at: usize| u64::from(u16::from_le_bytes([header[at], header[at + 1]]));
        // The name and the extra field; the zip crate found the data at the same place when it
        // checked that no entries overlap.
        file.seek(SeekFrom::Current((field(26) + field(28)) as i64)).map_err(damaged)?;
        let data = file.take(info.packed);
        match info.method {
            Method::Stored => pump(data, output, sink),
            Method::Deflated => inflate(inflater, data, input, output, sink),
            Method::Other => {
                Err("it is compressed with a method auditpack does not read (only Stored and Deflate)".into())
            }
        }
    }
}

/// The Unix mode an entry records, whole: the zip crate's `unix_mode` clears the setuid, setgid
/// and sticky bits, which are exactly what must be seen. MS-DOS attributes carry none.
fn unix_mode(e: &zip::read::ZipFileEntry<'_>) -> Option<u32> {
    let mode = e.external_attributes() >> 16;
    (e.system() != zip::System::Dos && mode != 0).then_some(mode)
}

/// Where an entry's headers and data are, from the central directory.
struct EntryPlace {
    header: u64,
    central: u64,
    packed: u64,
    size: u64,
}

/// Reads every entry's local header and checks it against its central-directory record (name,
/// version needed, flags, method, CRC-32 and sizes), and that the entries, one after another,
/// fill the archive from its first byte up to the central directory: an extracting tool that
/// reads local headers (`unzip` streaming, `bsdtar`) must find exactly the files verify checked,
/// never a `../../tmp/evil` or an entry hidden between two others. Returns the hostile findings.
fn check_local_headers(
    file: &mut PackageFile,
    places: &mut [EntryPlace],
    dir_start: u64,
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    places.sort_by_key(|p| p.header);
    let mut expected_at = 0u64;
    for p in places.iter() {
        let mut central = [0u8; 46];
        let mut local = [0u8; 30];
        let read = |file: &mut PackageFile, at: u64, buf: &mut [u8]| -> std::io::Result<()> {
            file.seek(SeekFrom::Start(at))?;
            file.read_exact(buf)
        };
        if read(file, p.central, &mut central).is_err() || central[..4] != *b"PK\x01\x02" {
            out.push(("a central directory record cannot be read".to_string(), None));
            return out;
        }
        let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
        let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut name = vec![0u8; usize::from(u16_at(&central, 28))];
        if read(file, p.central + 46, &mut name).is_err() {
            out.push(("a central directory record cannot be read".to_string(), None));
            return out;
        }
        let shown = String::from_utf8_lossy(&name).escape_debug().to_string();
        let named = Some(String::from_utf8_lossy(&name).into_owned());
        if p.header != expected_at {
            let what = if p.header > expected_at {
                format!(
                    "{} bytes before the entry `{shown}` belong to no entry of the central directory (a hidden entry?)",
                    p.header - expected_at
                )
            } else {
                format!("the entry `{shown}` starts inside the one before it")
            };
            out.push((what, named.clone()));
        }
        if read(file, p.header, &mut local).is_err() || local[..4] != *b"PK\x03\x04" {
            out.push((format!("the entry `{shown}` has no local header where the central directory says"), named));
            return out;
        }
        let (name_len, extra_len) = (usize::from(u16_at(&local, 26)), usize::from(u16_at(&local, 28)));
        let mut local_name = vec![0u8; name_len];
        let mut extra = vec![0u8; extra_len];
        if read(file, p.header + 30, &mut local_name).is_err() || file.read_exact(&mut extra).is_err() {
            out.push((format!("the local header of `{shown}` is cut short"), named));
            return out;
        }
        let mut differs = Vec::new();
        if local_name != name {
            differs.push(format!("name `{}`", String::from_utf8_lossy(&local_name).escape_debug()));
        }
        if u16_at(&local, 4) != u16_at(&central, 6) {
            differs.push(format!("version needed {}", u16_at(&local, 4)));
        }
        let flags = u16_at(&local, 6);
        if flags != u16_at(&central, 8) {
            differs.push(format!("flags {flags:#06x}"));
        }
        if u16_at(&local, 8) != u16_at(&central, 10) {
            differs.push(format!("compression method {}", u16_at(&local, 8)));
        }
        // With a data descriptor (flag bit 3) the local CRC and sizes may be left zero.
        let deferred = flags & 0x0008 != 0;
        let crc = u32_at(&local, 14);
        if crc != u32_at(&central, 16) && !(deferred && crc == 0) {
            differs.push(format!("CRC-32 {crc:08x}"));
        }
        let (mut packed, mut size) = (u64::from(u32_at(&local, 18)), u64::from(u32_at(&local, 22)));
        if packed == 0xFFFF_FFFF || size == 0xFFFF_FFFF {
            // Zip64: the real sizes are in the local extra field, uncompressed first.
            let (mut i, mut found) = (0, None);
            while i + 4 <= extra.len() {
                let (id, len) = (u16_at(&extra, i), usize::from(u16_at(&extra, i + 2)));
                let body = extra.get(i + 4..i + 4 + len).unwrap_or(&[]);
                if id == 0x0001 {
                    found = Some(body);
                    break;
                }
                i += 4 + len;
            }
            let body = found.unwrap_or(&[]);
            let u64_at = |at: usize| body.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
            let mut at = 0;
            if size == 0xFFFF_FFFF {
                size = u64_at(at).unwrap_or(u64::MAX);
                at += 8;
            }
            if packed == 0xFFFF_FFFF {
                packed = u64_at(at).unwrap_or(u64::MAX);
            }
        }
        if (packed, size) != (p.packed, p.size) && !(deferred && (packed, size) == (0, 0)) {
            differs.push(format!("sizes {packed} compressed, {size} uncompressed"));
        }
        if !differs.is_empty() {
            out.push((
                format!(
                    "the local header of `{shown}` disagrees with the central directory: it says {}",
                    differs.join(", ")
                ),
                named.clone(),
            ));
        }
        let data_end = p.header + 30 + name_len as u64 + extra_len as u64 + p.packed;
        // A data descriptor follows the data: CRC-32 and sizes (4 or 8 bytes each), with or
        // without its signature.
        expected_at = data_end;
        if deferred {
            let mut sig = [0u8; 4];
            let signed = read(file, data_end, &mut sig).is_ok() && sig == *b"PK\x07\x08";
            let next = places.iter().map(|q| q.header).filter(|&h| h > p.header).min().unwrap_or(dir_start);
            let base = data_end + if signed { 4 } else { 0 };
            expected_at = [base + 12, base + 20].into_iter().find(|&end| end == next).unwrap_or(base + 12);
        }
    }
    if expected_at != dir_start && out.is_empty() {
        let what = if dir_start > expected_at {
            format!(
                "{} bytes before the central directory belong to no entry (a hidden entry?)",
                dir_start - expected_at
            )
        } else {
            "the last entry runs into the central directory".to_string()
        };
        out.push((what, None));
    }
    out
}

/// The package file as each reader thread sees it: its own position over one shared file,
/// positioned reads (so threads never move each other's cursor), and a small read-ahead for the
/// local headers and small entries.
#[derive(Clone)]
struct PackageFile {
    file: Arc<File>,
    len: u64,
    pos: u64,
    ahead: Box<[u8]>,
    /// The read-ahead holds `ahead[..ahead_len]`, from `ahead_at` in the file.
    ahead_at: u64,
    ahead_len: usize,
}

impl PackageFile {
    fn new(file: File) -> std::io::Result<PackageFile> {
        let len = file.metadata()?.len();
        Ok(PackageFile {
            file: Arc::new(file),
            len,
            pos: 0,
            ahead: vec![0; READ_AHEAD].into(),
            ahead_at: 0,
            ahead_len: 0,
        })
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, at)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, at)
}

impl Read for PackageFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let ahead_end = self.ahead_at + self.ahead_len as u64;
        if !(self.ahead_at..ahead_end).contains(&self.pos) {
            if buf.len() >= READ_AHEAD {
                let n = read_at(&self.file, buf, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.ahead_len = 0;
            let n = read_at(&self.file, &mut self.ahead, self.pos)?;
            (self.ahead_at, self.ahead_len) = (self.pos, n);
            if n == 0 {
                return Ok(0);
            }
        }
        let from = (self.pos - self.ahead_at) as usize;
        let n = buf.len().min(self.ahead_len - from);
        buf[..n].copy_from_slice(&self.ahead[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PackageFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos =
            pos.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek out of the package"))?;
        Ok(self.pos)
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[derive(Debug, Clone, Copy)]
struct FileInfo {
    /// Declared (zip) or real (folder) size.
    size: u64,
    /// Position in the container (the entry's index in a zip).
    order: usize,
    /// Position in the bag's sorted file list.
    id: usize,
    /// Where a zip entry is and how it is stored, from the central directory (unused for a
    /// folder): the archive itself is not kept once the bag's files are known.
    header_start: u64,
    packed: u64,
    crc: u32,
    method: Method,
    /// The Unix mode a zip entry records (type and permissions), if any.
    mode: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
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
struct Container {
    files: Files,
    /// The bag's folder inside the zip, with a trailing `/` (empty for a folder).
    prefix: String,
    /// A hostile archive: nothing more is read from it.
    refused: bool,
    source: Source,
}

enum Source {
    Folder(PathBuf),
    Zip(PackageFile),
}

impl Container {
    fn folder(path: &Path, problems: &mut Findings) -> Result<Container, Error> {
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
            let Some(rel) = rel_path.to_str().map(|_| crate::collect::slash(rel_path)) else {
                problems.push(
                    Diagnostic::error("invalid-file-name", "a file name is not valid UTF-8")
                        .at(Location::file(crate::collect::slash(rel_path)))
                        .hint("BagIt manifests are text; the file cannot be listed in one"),
                );
                continue;
            };
            if entry.file_type().is_symlink() {
                problems.push(
                    Diagnostic::error("symlink-in-bag", "the bag holds a symbolic link; it was not followed")
                        .at(Location::file(rel.as_str()))
                        .hint("a bag holds regular files only; the link may point outside it"),
                );
                continue;
            }
            if !entry.file_type().is_file() {
                // Opening a FIFO blocks until someone writes; a device may never end.
                let kind = entry.metadata().map_or("a special file", |m| fsutil::kind_of(&m.file_type()));
                problems.push(
                    Diagnostic::error("special-file-in-bag", format!("the bag holds {kind}; it was not opened"))
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

    fn zip(path: &Path, problems: &mut Findings) -> Result<Container, Error> {
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
            let d = Diagnostic::error("hostile-archive", msg)
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
                        Diagnostic::error("not-a-bag", "the archive does not hold one bag folder")
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
    fn read_small(&self, rel: &str, limit: u64, problems: &mut Findings) -> Option<Vec<u8>> {
        let info = *self.files.get(rel)?;
        let oversized = |problems: &mut Findings, size: u64| {
            problems.push(
                Diagnostic::error(
                    "oversized-tag-file",
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
                    Diagnostic::error("corrupt-entry", format!("cannot read the file: {e}"))
                        .at(Location::file(rel))
                        .hint("the package is damaged or was tampered with; ask for a new copy"),
                );
                None
            }
        }
    }

    /// Reads a tag file line by line in `enc`, in bounded memory whatever its size: `each` gets
    /// the line's number (1-based), its text and whether it was cut at [`MAX_LINE`] bytes.
    /// Problems reading or decoding it are reported.
    fn read_lines(
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
                Diagnostic::error("invalid-tag-file", "the tag file is not valid UTF-8")
                    .at(Location::file(rel))
                    .hint("bagit.txt declares UTF-8; the file was damaged"),
            );
        }
        if let Err(e) = result {
            problems.push(
                Diagnostic::error("corrupt-entry", format!("cannot read the file: {e}"))
                    .at(Location::file(rel))
                    .hint("the package is damaged or was tampered with; ask for a new copy"),
            );
        }
    }

    /// Hashes the files `jobs` names (file id, algorithms) on `threads` reader threads. Files of
    /// at least [`RUN_BYTES`] go one by one, biggest first, so the last one to finish is small;
    /// smaller ones go in runs of neighbours, so a thread reads on where it was. Returns the
    /// outcome of each file by id (unset for files not asked for).
    fn hash_all(&self, mut jobs: Vec<(usize, AlgSet)>, paths: &[&str], threads: usize) -> Vec<Outcome> {
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
type Outcome = OnceLock<Result<Hashed, String>>;

/// Numbers the files in the order of their paths: the ids the checks use.
fn number(files: &mut Files) {
    for (id, f) in files.values_mut().enumerate() {
        f.id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths_are_refused_and_encodings_decoded() {
        let mut d = Findings::default();
        let loc = Location::file("m");
        assert_eq!(normalise_path("data/a%0Ab%25c", &mut d, &loc).as_deref(), Some("data/a\nb%c"));
        assert_eq!(normalise_path("data/%7Ex", &mut d, &loc).as_deref(), Some("data/%7Ex"));
        assert_eq!(normalise_path("./data/x", &mut d, &loc).as_deref(), Some("data/x"));
        for bad in ["../x", "data/../../x", "/etc/passwd", "~/x", "C:\\x", "data//x"] {
            assert_eq!(normalise_path(bad, &mut d, &loc), None, "{bad}");
        }
    }

    #[test]
    fn bagit_txt_is_strict() {
        let mut d = Findings::default();
        assert!(parse_bagit_txt(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", &mut d).is_some());
        assert!(d.is_empty());
        assert!(parse_bagit_txt(b"BagIt-Version : 1.0\nTag-File-Character-Encoding : UTF-8\n", &mut d).is_none());
        assert!(parse_bagit_txt(b"BagIt-Version: .97\nTag-File-Character-Encoding: UTF-8\n", &mut d).is_none());
        assert!(parse_bagit_txt(b"BagIt-Version: 0.97\n", &mut d).is_none());
    }

    #[test]
    fn lines_split_on_any_convention() {
        assert_eq!(split_lines("a\r\nb\rc\nd"), vec!["a", "b", "c", "d"]);
    }

    /// The lines of `bytes` in `enc`, fed to [`Lines`] `chunk` bytes at a time.
    fn streamed(bytes: &[u8], enc: Encoding, chunk: usize) -> (Vec<(usize, String, bool)>, bool) {
        let mut got = Vec::new();
        let mut each = |n: usize, line: &str, long: bool| got.push((n, line.to_string(), long));
        let mut lines = Lines::new(enc, &mut each);
        for c in bytes.chunks(chunk) {
            lines.feed(c);
        }
        lines.finish();
        let invalid = lines.invalid;
        (got, invalid)
    }

    #[test]
    fn streamed_lines_are_the_same_whatever_the_chunks() {
        let text = "\u{feff}a\r\nb\rc\n\nd\u{e9}\u{1F600}";
        let want: Vec<(usize, String, bool)> = ["a", "b", "c", "", "d\u{e9}\u{1F600}"]
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_string(), false))
            .collect();
        let utf16le: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain(text[3..].encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let utf16be: Vec<u8> = text[3..].encode_utf16().flat_map(u16::to_be_bytes).collect();
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(streamed(text.as_bytes(), Encoding::Utf8, chunk), (want.clone(), false), "utf-8 by {chunk}");
            assert_eq!(streamed(&utf16le, Encoding::Utf16, chunk), (want.clone(), false), "utf-16le by {chunk}");
            assert_eq!(streamed(&utf16be, Encoding::Utf16, chunk), (want.clone(), false), "utf-16be by {chunk}");
        }
        let (latin, _) = streamed(b"caf\xe9\n", Encoding::Latin1, 2);
        assert_eq!(latin, vec![(1, "caf\u{e9}".to_string(), false)]);
        let (_, invalid) = streamed(b"ok\n\xff\n", Encoding::Utf8, 4);
        assert!(invalid);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_and_flagged() {
        let mut text = vec![b'x'; MAX_LINE * 3];
        text.extend_from_slice(b"\nnext\n");
        let (got, invalid) = streamed(&text, Encoding::Utf8, 4096);
        assert!(!invalid);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].1.len(), got[0].2), (MAX_LINE, true));
        assert_eq!(got[1], (2, "next".to_string(), false));
    }

    #[test]
    fn findings_of_one_kind_are_capped_with_a_count() {
        let mut f = Findings::default();
        for i in 0..(FINDINGS_PER_KIND + 1_234_567) {
            f.push(Diagnostic::error("duplicate-manifest-entry", "x").at(Location {
                file: "m".into(),
                line: Some(i as usize),
                col: None,
            }));
        }
        f.push(Diagnostic::warning("binary-marker", "y"));
        let d = f.finish();
        assert_eq!(d.len() as u64, FINDINGS_PER_KIND + 2);
        assert!(d.iter().any(|d| d.message == "and 1,234,567 more like this, not listed"));
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(999), "999");
    }
}
