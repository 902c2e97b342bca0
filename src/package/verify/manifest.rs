//! Manifests read line by line: each entry's checksum and path, paths decoded and refused when
//! they leave the bag, names the bag does not have kept only up to a bound.

use super::container::Files;
use super::digest::Algorithm;
use super::findings::Findings;
use super::lines::MAX_LINE;
use crate::diag::Code;
use crate::diag::{Diagnostic, Location, Severity};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Manifest entries and fetch.txt lines naming files the bag does not have are kept up to this
/// many (each is a finding); the rest are counted.
pub(super) const UNKNOWN_KEPT: usize = 100_000;

/// One parsed manifest (payload or tag), by path. A path that names a file of the bag shares
/// that file's name rather than a copy of it.
pub(super) struct Manifest {
    pub(super) name: String,
    pub(super) algorithm: Algorithm,
    pub(super) entries: BTreeMap<Arc<str>, Listed>,
    /// Entries naming files the bag does not have, beyond [`UNKNOWN_KEPT`]: counted, not kept.
    pub(super) unkept: u64,
}

/// What a manifest line says: the checksum (raw bytes) and the line's number.
pub(super) struct Listed {
    pub(super) sum: Box<[u8]>,
    pub(super) line: usize,
}

/// The bytes a string of hex digits (either case, already checked) spells.
fn unhex(hex: &str) -> Box<[u8]> {
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    hex.as_bytes().chunks_exact(2).map(|pair| (digit(pair[0]) << 4) | digit(pair[1])).collect()
}

/// Parses a manifest line by line as it is read. Memory holds the entries that name files of
/// the bag (as many as the bag has) and at most [`UNKNOWN_KEPT`] others; the rest are counted.
pub(super) struct ManifestParser<'f> {
    pub(super) manifest: Manifest,
    is_tag: bool,
    strict: bool,
    files: &'f Files,
    unknown: usize,
}

impl<'f> ManifestParser<'f> {
    pub(super) fn new(name: &str, algorithm: Algorithm, is_tag: bool, strict: bool, files: &'f Files) -> Self {
        let manifest = Manifest { name: name.to_string(), algorithm, entries: BTreeMap::new(), unkept: 0 };
        ManifestParser { manifest, is_tag, strict, files, unknown: 0 }
    }

    /// Line `number` (1-based); `overlong` when it was cut at [`MAX_LINE`] bytes.
    pub(super) fn line(&mut self, number: usize, line: &str, overlong: bool, problems: &mut Findings) {
        let Manifest { name, algorithm, entries, unkept } = &mut self.manifest;
        let (name, algorithm) = (name.as_str(), *algorithm);
        let loc = Location { file: name.into(), line: Some(number), col: None, end_col: None };
        if line.trim().is_empty() && !overlong {
            return;
        }
        let hex_len = algorithm.hex_len();
        let (sum, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let path = rest.trim_start_matches([' ', '\t']);
        if overlong || sum.len() != hex_len || !sum.bytes().all(|b| b.is_ascii_hexdigit()) || path.is_empty() {
            if problems.full(Code::InvalidManifestLine, Severity::Error) {
                return problems.more(Code::InvalidManifestLine, Severity::Error, 1);
            }
            let shown: String = line.chars().take(200).collect();
            let msg = if overlong {
                format!("the line is longer than {MAX_LINE} bytes: `{}...`", shown.escape_debug())
            } else {
                format!("not `<{} checksum> <path>`: `{}`", algorithm.name(), shown.escape_debug())
            };
            problems.push(
                Diagnostic::error(Code::InvalidManifestLine, msg)
                    .at(loc)
                    .hint("the manifest was damaged or edited by hand"),
            );
            return;
        }
        let path = match path.strip_prefix('*') {
            Some(p) => {
                problems.push(
                    Diagnostic::warning(
                        Code::BinaryMarker,
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
                Diagnostic::error(Code::PathOutsideBag, format!("`{}` points outside the bag", path.escape_debug()))
                    .at(loc)
                    .hint("manifest paths are relative to the bag and may not use `..`, `~` or absolute paths; the bag may be hostile"),
            );
            return;
        };
        if self.is_tag == p.starts_with("data/") {
            let (code, msg) = if self.is_tag {
                (Code::PayloadInTagManifest, format!("the tag manifest lists payload file `{}`", p.escape_debug()))
            } else {
                (
                    Code::PathOutsidePayload,
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
            if problems.full(Code::DuplicateManifestEntry, severity) {
                return problems.more(Code::DuplicateManifestEntry, severity, 1);
            }
        }
        match entries.get(p.as_str()) {
            Some(prev) if prev.sum != sum => problems.push(
                Diagnostic::error(
                    Code::DuplicateManifestEntry,
                    format!("`{}` is listed twice with different checksums", p.escape_debug()),
                )
                .at(loc)
                .hint("a manifest lists each file once; it was edited"),
            ),
            Some(_) => problems.push(
                if self.strict { Diagnostic::error } else { Diagnostic::warning }(
                    Code::DuplicateManifestEntry,
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
pub(super) fn normalise_path(raw: &str, problems: &mut Findings, loc: &Location) -> Option<String> {
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
            Diagnostic::warning(Code::DotSlashPath, format!("the path `{raw}` starts with `./`"))
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
}
