//! The BagIt checks: bagit.txt, the manifests and tag manifests against the files and their
//! digests, bag-info.txt's Payload-Oxum, fetch.txt, and the zip entries' modes.

use super::archive::BUILD_MODE;
use super::container::{Container, FileInfo, Files, Outcome, Source};
use super::digest::{AlgSet, Algorithm};
use super::findings::Findings;
use super::lines::Encoding;
use super::manifest::{Manifest, ManifestParser, UNKNOWN_KEPT, normalise_path};
use super::signature::check_signature;
use super::{Verification, VerifyOptions};
use crate::diag::Code;
use crate::diag::{Diagnostic, Location, Severity};
use crate::package::sign;
use crate::text::hex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use unicode_normalization::UnicodeNormalization;

/// bagit.txt and the signature are two lines: read whole, and refused beyond this.
pub(super) const SMALL_TAG_LIMIT: u64 = 64 << 10;

pub(super) fn check(bag: &Container, opts: &VerifyOptions, v: &mut Verification, problems: &mut Findings) {
    let at = |file: &str| Location::file(file);
    // bagit.txt: strict, always UTF-8.
    let mut encoding = Encoding::Utf8;
    let mut version = (1, 0);
    match bag.read_small("bagit.txt", SMALL_TAG_LIMIT, problems) {
        None if !bag.files.contains_key("bagit.txt") => problems.push(
            Diagnostic::error(Code::MissingBagitTxt, "the bag has no bagit.txt")
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
                    Code::UnknownAlgorithm,
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
            Diagnostic::error(Code::MissingManifest, "the bag has no payload manifest (manifest-<algorithm>.txt)")
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
            let loc = Location { file: "fetch.txt".into(), line: Some(i), col: None, end_col: None };
            match normalise_path(path.trim(), problems, &loc) {
                // Only files that are missing matter, and at most this many are kept.
                Some(p) if p.starts_with("data/") => {
                    if fetch.len() < UNKNOWN_KEPT && !bag.files.contains_key(p.as_str()) {
                        fetch.insert(p);
                    }
                }
                _ => problems.push(
                    Diagnostic::error(
                        Code::PathOutsidePayload,
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
                Diagnostic::error(Code::CorruptEntry, format!("cannot read the file: {msg}"))
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
                    Diagnostic::error(Code::UnlistedFile, format!("the file is in the payload but not in {}", m.name))
                        .at(at(p))
                        .hint("a file was added to the package after it was made"),
                );
            }
        }
    }
    for (_, p) in payload_ids() {
        if is_system_file(p) {
            problems.push(
                Diagnostic::warning(Code::SystemFile, "an operating-system metadata file is in the payload")
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
                    Code::PayloadOxum,
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
                        Code::DuplicateNameVariant,
                        format!(
                            "`{entry}` and `{other}` are listed separately but name one file (case or Unicode normalisation)"
                        ),
                    )
                    .at(Location { file: m.name.clone().into(), line: Some(listed.line), col: None, end_col: None })
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
            problems.more(Code::MissingFromBag, Severity::Error, m.unkept);
        }
        for ((entry, listed), actual) in m.entries.iter().zip(r) {
            let loc = || Location { file: m.name.clone().into(), line: Some(listed.line), col: None, end_col: None };
            let Some(actual) = *actual else {
                if fetch.contains(&**entry) {
                    problems.push(
                        Diagnostic::error(
                            Code::IncompleteBag,
                            format!("`{entry}` is listed in fetch.txt but was never fetched"),
                        )
                        .at(loc())
                        .hint("fetch the file into the bag before relying on it"),
                    );
                } else if is_system_file(entry) && !files.contains_key(&**entry) {
                    system_missing.insert(entry.clone());
                    problems.push(
                        Diagnostic::warning(
                            Code::MissingSystemFile,
                            format!("`{entry}` is listed in {} but missing", m.name),
                        )
                        .at(loc())
                        .hint("operating-system metadata files are often dropped by copies and archivers"),
                    );
                } else {
                    problems.push(
                        Diagnostic::error(
                            Code::MissingFromBag,
                            format!("`{entry}` is listed in {} but missing", m.name),
                        )
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
                        Code::ChecksumMismatch,
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

/// Parses bagit.txt strictly: `BagIt-Version: M.N` and `Tag-File-Character-Encoding: X`.
fn parse_bagit_txt(bytes: &[u8], problems: &mut Findings) -> Option<((u32, u32), Encoding)> {
    let err = |line: Option<usize>, msg: String, hint: &str| {
        Diagnostic::error(Code::InvalidBagitTxt, msg)
            .at(Location { file: "bagit.txt".into(), line, col: None, end_col: None })
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
                            Code::UnsupportedEncoding,
                            format!("tag files are in `{e}`, which auditpack cannot read"),
                        )
                        .at(Location { file: "bagit.txt".into(), line: Some(i + 1), col: None, end_col: None })
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
        let loc = Location { file: "bag-info.txt".into(), line: Some(number), col: None, end_col: None };
        let parsed =
            value.trim().split_once('.').and_then(|(b, n)| Some((b.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
        match (parsed, self.oxum) {
            (None, _) => problems.push(
                Diagnostic::error(
                    Code::PayloadOxum,
                    format!(
                        "Payload-Oxum `{}` is not <bytes>.<files>",
                        value.trim().chars().take(200).collect::<String>()
                    ),
                )
                .at(loc)
                .hint("the bag-info.txt was damaged or edited"),
            ),
            (Some(_), Some(_)) => problems.push(
                Diagnostic::error(Code::PayloadOxum, "Payload-Oxum appears more than once")
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
                    Code::FileMode,
                    format!("the entry has mode {:o}; auditpack writes every file as {BUILD_MODE:o} (-rw-r--r--)", mode),
                )
                .at(at)
                .hint("the archive's file modes were changed after the package was made; ask the sender for a new copy"),
            ),
            None if strict => problems.push(
                Diagnostic::error(Code::FileMode, "the entry has no Unix mode; auditpack writes every file with one")
                    .at(at)
                    .hint("the archive's file attributes were changed after the package was made; ask the sender for a new copy"),
            ),
            Some(mode) if !strict && mode & 0o111 != 0 => problems.push(
                Diagnostic::warning(Code::FileMode, format!("the entry is executable (mode {mode:o})"))
                    .at(at)
                    .hint("evidence is data, not programs; do not run it"),
            ),
            Some(mode) if !strict && mode & 0o002 != 0 => problems.push(
                Diagnostic::warning(Code::FileMode, format!("the entry is writable by anyone (mode {mode:o})"))
                    .at(at)
                    .hint("extracted as it is, any user could change the file"),
            ),
            _ => {}
        }
    }
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

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
