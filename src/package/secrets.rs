//! No secrets to the auditor: before the package is written, every file whose content reaches it
//! (evidence, sidecars, and the project's own files: narratives, controls, register, assets,
//! auditpack.toml, templates, logo) is scanned for private keys and credentials. A hit is an error diagnostic at
//! `file:line` unless the project allows that file under `[package] allow_secrets`.
//!
//! Files are streamed in blocks with bounded memory: blocks of [`BLOCK`] bytes overlap by
//! [`OVERLAP`] bytes, so a match is never cut in two. Binary files are scanned the same way (the
//! patterns are ASCII), UTF-16 text as its every other byte; gzip, zip (docx, xlsx...) and PDF
//! `FlateDecode` streams are inflated (bounded) and scanned too. The patterns, and what is not
//! scanned, are listed in docs/package.md.

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::index::EvidenceIndex;
use crate::project::Project;
use rayon::prelude::*;
use regex::bytes::{Regex, RegexSet};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// Files are scanned in blocks of this size (plus the overlap).
pub const BLOCK: usize = 256 * 1024;
/// Longer than any match of the patterns below.
pub const OVERLAP: usize = 1024;

/// (rule, what it is, pattern). Each is documented in docs/package.md.
pub const PATTERNS: &[(&str, &str, &str)] = &[
    ("private-key", "a PEM private key", r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"),
    ("putty-private-key", "a PuTTY private key", r"PuTTY-User-Key-File-[0-9]+:"),
    // Base64 of "-----BEGIN": a PEM file encoded once more, as in a Kubernetes Secret's
    // `tls.key`; confirmed by decoding (a certificate is not a key), see `confirmed`.
    ("base64-private-key", "a base64-encoded PEM private key", r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,60}"),
    ("aws-access-key-id", "an AWS access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    (
        "aws-secret-access-key",
        "an AWS secret access key",
        // By the names it goes by: aws_secret_access_key (credentials file, .env), "SecretAccessKey"
        // (JSON from the AWS CLI/API), secret_key = "..." (Terraform).
        r#"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key|\bsecret_key)["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}(?:[^A-Za-z0-9/+=]|$)"#,
    ),
    (
        "aws-secret-access-key-csv",
        "an AWS secret access key (credentials CSV)",
        // The console's access-key CSV: a header naming "Secret access key", the key in the row below.
        r"(?i)secret[ _]?access[ _]?key[^\n]{0,200}\r?\n[^\n]{0,200}[,;\t][\x22']?[A-Za-z0-9/+]{40}(?:[^A-Za-z0-9/+=]|$)",
    ),
    ("github-token", "a GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ("slack-token", "a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,250}"),
    (
        "slack-webhook",
        "a Slack webhook URL",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_]+/[A-Za-z0-9_]+/[A-Za-z0-9_]{8,}",
    ),
    // A key may end in `-` or `_`, so the end is "not a key character", not `\b`.
    ("google-api-key", "a Google API key", r"\bAIza[0-9A-Za-z_\-]{35}(?:[^0-9A-Za-z_\-]|$)"),
    ("stripe-secret-key", "a Stripe secret key", r"\b[rs]k_live_[0-9A-Za-z]{24,247}\b"),
    ("jwt", "a JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    ("azure-storage-key", "an Azure storage account key", r"(?i)AccountKey\s*=\s*[A-Za-z0-9+/]{86}=="),
    ("npm-token", "an npm access token", r"\bnpm_[A-Za-z0-9]{36}\b|_authToken\s*=\s*[A-Za-z0-9_\-]{20,}"),
    (
        "env-secret",
        "a password or secret assigned in .env style",
        // NAME=value with PASSWORD/PASSWD/SECRET in an upper-case name, a value of 8+ characters
        // that is not a reference (${VAR}, $VAR) or a placeholder (<...>, ***).
        r#"(?m)^[ \t]*(?:export[ \t]+)?[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET)[A-Z0-9_]*[ \t]*=[ \t]*["']?[^\s"'$<*{#][^\s"']{7,}"#,
    ),
];

/// Second look at a match, for rules whose pattern alone would find harmless text.
fn confirmed(rule: &str, m: &[u8]) -> bool {
    match rule {
        // Decoded, the text must be a private key's header, not a certificate's or public key's.
        "base64-private-key" => {
            let usable = m.len() / 4 * 4;
            let decoded = base64_decode(&m[..usable]);
            let text = String::from_utf8_lossy(&decoded);
            text.starts_with("-----BEGIN") && text.contains("PRIVATE KEY")
        }
        _ => true,
    }
}

/// Standard base64 without padding checks (the matched prefix only).
fn base64_decode(s: &[u8]) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for chunk in s.chunks_exact(4) {
        let Some(n) = chunk.iter().try_fold(0u32, |acc, &c| val(c).map(|v| acc << 6 | v)) else { break };
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out
}

/// Rules whose pattern starts with no literal, each with literals every match of it contains.
/// In the alternation of all patterns (`Rules::any`) such a rule stands for its literals: one
/// pattern without a literal prefix leaves the whole alternation without a prefilter (tree A's
/// 2.9 GB: 600 MB/s with `env-secret`'s pattern, 2.5 GB/s with its literals instead). A block
/// with the literals is then scanned with the rule's pattern itself.
const GATES: &[(&str, &str)] = &[("env-secret", "PASSW|SECRET")];

struct Rules {
    /// All patterns as one alternation (a rule of [`GATES`] as its literals): its literal
    /// prefilter skips clean blocks several times faster than the set, which is only run on a
    /// block where something matched.
    any: Regex,
    set: RegexSet,
    each: Vec<Regex>,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    // ASCII mode (`(?-u)`): the patterns are ASCII, and Unicode word boundaries would keep the
    // regex engine off its fast path on binary evidence (a third of the speed).
    let ascii = |p: &str| format!("(?-u){p}");
    RULES.get_or_init(|| Rules {
        any: Regex::new(&ascii(
            &PATTERNS
                .iter()
                .map(|(rule, _, pattern)| {
                    let gate = GATES.iter().find(|g| g.0 == *rule).map(|g| g.1);
                    format!("(?:{})", gate.unwrap_or(pattern))
                })
                .collect::<Vec<_>>()
                .join("|"),
        ))
        .expect("the built-in patterns are valid"),
        set: RegexSet::new(PATTERNS.iter().map(|p| ascii(p.2))).expect("the built-in patterns are valid"),
        each: PATTERNS.iter().map(|p| Regex::new(&ascii(p.2)).expect("the built-in patterns are valid")).collect(),
    })
}

/// One suspected secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub line: usize,
    pub rule: &'static str,
    pub what: &'static str,
    /// Where inside a container the hit is (`word/document.xml`, "the gzip content", "a PDF
    /// stream"); `line` then counts lines of that content. `None` for the file's own bytes.
    pub inside: Option<String>,
}

/// Scans one file; each (line, rule) is reported once.
pub fn scan_file(path: &Path) -> std::io::Result<Vec<Hit>> {
    use std::io::{Seek, SeekFrom};
    let mut file = crate::fsutil::open_regular(path)?;
    let mut hits = scan_reader(&mut file)?;
    // Then what is compressed inside, by the file's first bytes (not its name).
    let mut magic = [0u8; 5];
    file.seek(SeekFrom::Start(0))?;
    let n = read_full(&mut file, &mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    let magic = &magic[..n];
    if magic.starts_with(&[0x1f, 0x8b]) {
        hits.extend(scan_gzip(file));
    } else if magic.starts_with(b"PK\x03\x04") {
        hits.extend(scan_zip(file));
    } else if magic.starts_with(b"%PDF-") {
        hits.extend(scan_pdf(file));
    }
    hits.sort();
    hits.dedup();
    Ok(hits)
}

/// Most bytes inflated from one file's compressed content: a compression bomb costs this much
/// reading, no more (what lies beyond is not scanned).
pub const MAX_INFLATED: u64 = 1 << 30;
/// Most entries of one zip archive that are scanned.
pub const MAX_ARCHIVE_ENTRIES: usize = 10_000;
/// The largest PDF whose streams are inflated and scanned (its own bytes are always scanned).
pub const MAX_PDF_BYTES: u64 = 64 << 20;

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Hits of `r`, labelled as found `inside`. A read error (corrupt or truncated compressed
/// data) ends the scan of that content; its hits so far are kept by scanning what was read.
fn scan_inside(r: impl Read, inside: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut r = TolerantReader { inner: r };
    if let Ok(found) = scan_reader(&mut r) {
        hits = found.into_iter().map(|h| Hit { inside: Some(inside.to_string()), ..h }).collect();
    }
    hits
}

/// Turns a read error into the end of the content: damaged compressed data is scanned up to the
/// damage.
struct TolerantReader<R> {
    inner: R,
}

impl<R: Read> Read for TolerantReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return Ok(0),
            }
        }
    }
}

fn scan_gzip(file: std::fs::File) -> Vec<Hit> {
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    scan_inside(gz.take(MAX_INFLATED), "the gzip content")
}

/// Each entry of a zip (and so of docx, xlsx, pptx, odt, jar) inflated and scanned; entries
/// that are encrypted or use another method are passed over. Nested archives are not opened.
fn scan_zip(file: std::fs::File) -> Vec<Hit> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return Vec::new();
    };
    let mut hits = Vec::new();
    let mut budget = MAX_INFLATED;
    for i in 0..archive.len().min(MAX_ARCHIVE_ENTRIES) {
        if budget == 0 {
            break;
        }
        let Ok(entry) = archive.by_index(i) else { continue };
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map(|n| n.escape_debug().to_string()).unwrap_or_else(|_| format!("entry #{}", i + 1));
        let mut counted = CountingReader { inner: entry.take(budget), count: 0 };
        hits.extend(scan_inside(&mut counted, &name));
        budget = budget.saturating_sub(counted.count);
    }
    hits
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// A PDF's `FlateDecode` streams (where its text is), each inflated and scanned. Streams with
/// other filters fail to inflate at their first bytes and are passed over.
fn scan_pdf(file: std::fs::File) -> Vec<Hit> {
    let mut bytes = Vec::new();
    if file.take(MAX_PDF_BYTES + 1).read_to_end(&mut bytes).is_err() || bytes.len() as u64 > MAX_PDF_BYTES {
        return Vec::new();
    }
    static STREAM: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (start, end) = STREAM.get_or_init(|| {
        (
            Regex::new(r"(?-u)stream\r?\n").expect("a valid pattern"),
            Regex::new(r"(?-u)\r?\n?endstream").expect("a valid pattern"),
        )
    });
    let mut hits = Vec::new();
    let mut budget = MAX_INFLATED;
    let mut at = 0;
    let mut n = 0;
    while let Some(m) = start.find_at(&bytes, at) {
        // `endstream` itself ends in "stream\n": skip it.
        if m.start() >= 3 && &bytes[m.start() - 3..m.start()] == b"end" {
            at = m.end();
            continue;
        }
        let data_start = m.end();
        let Some(e) = end.find_at(&bytes, data_start) else { break };
        at = e.end();
        n += 1;
        if budget == 0 {
            break;
        }
        let data = &bytes[data_start..e.start()];
        if data.first().is_none_or(|b| b & 0x0f != 8) {
            continue; // not zlib (a JPEG, plain text, another filter)
        }
        let mut counted = CountingReader { inner: flate2::read::ZlibDecoder::new(data).take(budget), count: 0 };
        hits.extend(scan_inside(&mut counted, &format!("PDF stream #{n}")));
        budget = budget.saturating_sub(counted.count);
    }
    hits
}

/// Scans `r` in blocks of [`BLOCK`] bytes that overlap by [`OVERLAP`], so memory stays flat and a
/// match is never cut in two; a hit's line is counted from the newlines before it. Scanning whole
/// blocks rather than single lines lets the regex engine skip clean text quickly.
pub fn scan_reader<R: Read>(mut r: R) -> std::io::Result<Vec<Hit>> {
    let rules = rules();
    let mut hits = BTreeSet::new();
    let mut buf = vec![0u8; BLOCK + OVERLAP];
    let mut carry = 0;
    // The line number of buf[0].
    let mut line_at = 1;
    loop {
        let mut len = carry;
        while len < buf.len() {
            match r.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let block = &buf[..len];
        scan_block(rules, block, line_at, &mut hits);
        // UTF-16 text (a Windows export, PowerShell output): its ASCII characters are every other
        // byte. A block with many NUL bytes is scanned again as its even and its odd bytes.
        if memchr_zero_count(block) * 4 >= block.len() && !block.is_empty() {
            for parity in 0..2 {
                let narrow: Vec<u8> = block.iter().skip(parity).step_by(2).copied().collect();
                scan_block(rules, &narrow, line_at, &mut hits);
            }
        }
        if len < buf.len() {
            break; // end of input
        }
        let keep = len - OVERLAP;
        line_at += memchr_count(&block[..keep]);
        buf.copy_within(keep..len, 0);
        carry = OVERLAP;
    }
    Ok(hits.into_iter().collect())
}

/// Scans one block; `line_at` is the line number of its first byte.
fn scan_block(rules: &Rules, block: &[u8], line_at: usize, hits: &mut BTreeSet<Hit>) {
    if !rules.any.is_match(block) {
        return;
    }
    for i in rules.set.matches(block).into_iter() {
        for m in rules.each[i].find_iter(block) {
            if !confirmed(PATTERNS[i].0, m.as_bytes()) {
                continue;
            }
            let line = line_at + memchr_count(&block[..m.start()]);
            hits.insert(Hit { line, rule: PATTERNS[i].0, what: PATTERNS[i].1, inside: None });
        }
    }
}

fn memchr_zero_count(bytes: &[u8]) -> usize {
    memchr::memchr_iter(0, bytes).count()
}

fn memchr_count(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// The project's own files whose text reaches the package (narratives, control titles and
/// descriptions, the register, assets, auditpack.toml, template overrides, the logo), relative to
/// the root.
pub fn project_files(project: &Project) -> Vec<String> {
    let mut out: BTreeSet<String> = project.sources.iter().map(|p| crate::text::slash(p)).collect();
    for p in crate::render::Templates::override_files(&project.root.join(&project.paths.templates)) {
        if let Some(name) = p.file_name() {
            out.insert(crate::text::slash(&project.paths.templates.join(name)));
        }
    }
    if let Some(logo) = &project.branding.logo {
        out.insert(crate::text::slash(logo));
    }
    out.into_iter().collect()
}

/// Scans every file whose content reaches the package: the evidence and sidecars in `index`
/// (when given) and the project's own files ([`project_files`]), with the same `allow_secrets`
/// rule for both.
pub fn scan(project: &Project, index: &EvidenceIndex, diags: &mut Diagnostics) {
    scan_files(project, Some(index), diags)
}

/// [`scan`]; without an index, the project's own files only (`describe`).
pub fn scan_files(project: &Project, index: Option<&EvidenceIndex>, diags: &mut Diagnostics) {
    // (path, whether it is evidence)
    let mut files: Vec<(String, bool)> = Vec::new();
    for f in index.iter().flat_map(|i| &i.evidence) {
        files.push((f.file.path.clone(), true));
        if let Some(s) = &f.file.sidecar {
            files.push((s.path.clone(), true));
        }
    }
    let evidence: BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    let own: Vec<(String, bool)> =
        project_files(project).into_iter().filter(|p| !evidence.contains(p.as_str())).map(|p| (p, false)).collect();
    files.extend(own);
    let results: Vec<(&str, bool, std::io::Result<Vec<Hit>>)> =
        files.par_iter().map(|(p, ev)| (p.as_str(), *ev, scan_file(&project.root.join(p)))).collect();

    let allow: Vec<(usize, globset::GlobMatcher)> = project
        .package
        .allow_secrets
        .iter()
        .enumerate()
        .filter_map(|(i, a)| globset::Glob::new(&a.pattern).ok().map(|g| (i, g.compile_matcher())))
        .collect();
    let mut used = BTreeSet::new();
    for (path, is_evidence, result) in results {
        let hits = match result {
            Ok(h) => h,
            Err(e) => {
                diags.push(
                    Diagnostic::error(Code::UnreadableFile, format!("cannot scan the file for secrets: {e}"))
                        .at_file(path)
                        .hint(crate::project::io_hint(&e)),
                );
                continue;
            }
        };
        if hits.is_empty() {
            continue;
        }
        let allowed: Vec<usize> = allow.iter().filter(|(_, m)| m.is_match(path)).map(|(i, _)| *i).collect();
        used.extend(allowed.iter().copied());
        for h in hits {
            // A hit inside a container: its line counts lines of that content, said in the
            // message, not given as a line of the file.
            let at =
                Location { file: path.into(), line: h.inside.is_none().then_some(h.line), col: None, end_col: None };
            let h = Hit {
                what: h.what,
                rule: h.rule,
                line: h.line,
                inside: h.inside.map(|i| format!(" (inside {i}, line {})", h.line)),
            };
            let inside = h.inside.as_deref().unwrap_or("");
            if allowed.is_empty() && !is_evidence {
                diags.push(
                    Diagnostic::error(
                        Code::SecretInProject,
                        format!("the line looks like {} ({}){inside}; its text would reach the report and the package", h.what, h.rule),
                    )
                    .at(at)
                    .hint(format!(
                        "remove or redact the secret (and rotate it); if it is a documented example, add \"{path}\" to `allow_secrets` under [package] in auditpack.toml"
                    )),
                );
            } else if allowed.is_empty() {
                diags.push(
                    Diagnostic::error(Code::SecretInEvidence, format!("the line looks like {} ({}){inside}", h.what, h.rule))
                        .at(at)
                        .hint(format!(
                            "remove or redact the secret (and rotate it); if the auditor must receive the file as it is, add \"{path}\" to `allow_secrets` under [package] in auditpack.toml"
                        )),
                );
            } else {
                diags.push(
                    Diagnostic::note(
                        Code::SecretAllowed,
                        format!(
                            "the line looks like {} ({}){inside}; packaged because allow_secrets lists the file",
                            h.what, h.rule
                        ),
                    )
                    .at(at),
                );
            }
        }
    }
    for (i, a) in project.package.allow_secrets.iter().enumerate() {
        if !used.contains(&i) {
            diags.push(
                Diagnostic::warning(
                    Code::UnusedAllowSecrets,
                    format!("`{}` in allow_secrets matches no file with a secret", a.pattern),
                )
                .at(a.location.clone())
                .hint("remove the entry: an exception that is no longer needed should not linger"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_in(text: &str) -> Vec<&'static str> {
        scan_reader(text.as_bytes()).unwrap().into_iter().map(|h| h.rule).collect()
    }

    #[test]
    fn each_documented_pattern_is_found_and_ordinary_text_is_not() {
        assert_eq!(rules_in("x\n-----BEGIN OPENSSH PRIVATE KEY-----\n"), ["private-key"]);
        assert_eq!(rules_in("-----BEGIN PRIVATE KEY-----"), ["private-key"]);
        assert_eq!(rules_in("id: AKIAIOSFODNN7EXAMPLE,"), ["aws-access-key-id"]);
        assert_eq!(
            rules_in("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            ["aws-secret-access-key"]
        );
        assert_eq!(rules_in("token ghp_0123456789abcdefghijklmnopqrstuvwxyz"), ["github-token"]);
        assert_eq!(rules_in("xoxb-1234567890-abcdefghij"), ["slack-token"]);
        assert_eq!(rules_in("key=AIzaSyA-0123456789abcdefghijklmnopqrstu"), ["google-api-key"]);
        assert!(rules_in("-----BEGIN PUBLIC KEY-----\nAKIA lower case\nghp_short\n").is_empty());
    }

    #[test]
    fn google_api_key_ending_in_dash_is_found() {
        assert_eq!(rules_in("key=AIzaSyA-0123456789abcdefghijklmnopqrst-\n"), ["google-api-key"]);
        assert_eq!(rules_in("key=AIzaSyA-0123456789abcdefghijklmnopqrst-"), ["google-api-key"]);
        assert_eq!(rules_in("\"AIzaSyA-0123456789abcdefghijklmnopqrst_\""), ["google-api-key"]);
        assert!(rules_in("AIzaSyA-0123456789abcdefghijklmnopqrst-x").is_empty(), "36 characters is not a key");
    }

    const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn aws_secret_access_key_without_key_id_in_json_csv_and_terraform() {
        assert_eq!(rules_in(&format!("{{\n  \"SecretAccessKey\": \"{AWS_SECRET}\",\n}}")), ["aws-secret-access-key"]);
        assert_eq!(
            rules_in(&format!("provider \"aws\" {{\n  secret_key = \"{AWS_SECRET}\"\n}}\n")),
            ["aws-secret-access-key"]
        );
        assert_eq!(
            rules_in(&format!("User name,Secret access key,Console login link\nci-bot,{AWS_SECRET},https://x\n")),
            ["aws-secret-access-key-csv"]
        );
    }

    #[test]
    fn jwt_is_found() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(rules_in(&format!("Authorization: Bearer {jwt}\n")), ["jwt"]);
        assert!(rules_in("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.").is_empty(), "an unsigned token carries no secret");
    }

    #[test]
    fn env_style_password_and_secret_assignments_are_found() {
        assert_eq!(rules_in("DB_HOST=db\nDB_PASSWORD=hunter2hunter2\n"), ["env-secret"]);
        assert_eq!(rules_in("export JWT_SECRET=\"s3cr3t-value-123\"\n"), ["env-secret"]);
        for harmless in [
            "DB_PASSWORD=${DB_PASSWORD}\n",
            "DB_PASSWORD=<redacted>\n",
            "DB_PASSWORD=****\n",
            "PASSWORD_MIN_LENGTH=12\n",
            "the password=hunter2hunter2 in prose\n",
        ] {
            assert!(rules_in(harmless).is_empty(), "{harmless}");
        }
    }

    #[test]
    fn a_gated_rule_is_found_through_its_literals_in_a_long_clean_block() {
        for (rule, gate) in GATES {
            assert!(PATTERNS.iter().any(|p| p.0 == *rule), "{rule} is not a rule");
            let gate = Regex::new(gate).unwrap();
            let pattern = rules().each[PATTERNS.iter().position(|p| p.0 == *rule).unwrap()].clone();
            for m in ["DB_PASSWORD=hunter2hunter2", "LDAP_PASSWD=hunter2hunter2", "export JWT_SECRET=s3cr3t-value"] {
                assert!(pattern.is_match(m.as_bytes()) && gate.is_match(m.as_bytes()), "{rule}: {m}");
            }
        }
        // The match alone in a block of clean text, far from the start, and across a block edge.
        for at in [100_000, BLOCK - 10] {
            let mut text = "ordinary log line without anything in it\n".repeat(at / 41);
            text.push_str("LDAP_PASSWD=hunter2hunter2\n");
            text.push_str(&"more clean text\n".repeat(1000));
            assert_eq!(rules_in(&text), ["env-secret"], "at {at}");
        }
    }

    #[test]
    fn slack_webhook_azure_connection_string_npm_and_putty_are_found() {
        assert_eq!(
            rules_in("url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n"),
            ["slack-webhook"]
        );
        let key = format!("{}==", "A".repeat(40) + &"b1+/".repeat(11) + "xy");
        assert_eq!(key.len(), 88);
        assert_eq!(
            rules_in(&format!(
                "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={key};EndpointSuffix=core.windows.net"
            )),
            ["azure-storage-key"]
        );
        assert_eq!(rules_in("//registry.npmjs.org/:_authToken=npm_0123456789abcdefghijklmnopqrstuvwxyz\n").len(), 1);
        assert_eq!(rules_in("token npm_0123456789abcdefghijklmnopqrstuvwxyz\n"), ["npm-token"]);
        assert!(rules_in("//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n").is_empty());
        assert_eq!(rules_in("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n"), ["putty-private-key"]);
    }

    #[test]
    fn base64_encoded_pem_private_key_in_a_kubernetes_secret_is_found_but_not_a_certificate() {
        let b64 = |s: &str| {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::new();
            for c in s.as_bytes().chunks(3) {
                let n = c.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
                for i in 0..=c.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                }
            }
            out
        };
        for header in [
            "-----BEGIN PRIVATE KEY-----\nMIIE",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl",
        ] {
            let secret = format!("apiVersion: v1\nkind: Secret\ndata:\n  tls.key: {}\n", b64(header));
            assert_eq!(rules_in(&secret), ["base64-private-key"], "{header}");
        }
        let cert = format!("  tls.crt: {}\n", b64("-----BEGIN CERTIFICATE-----\nMIIDdzCC"));
        assert!(rules_in(&cert).is_empty());
    }

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, bytes).unwrap();
        (dir, p)
    }

    fn deflate_zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn keys_inside_gz_zip_docx_and_pdf_streams_are_found() {
        use std::io::Write;
        let secret = b"config\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        // gzip
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(secret).unwrap();
        let (_d, p) = file_with(&gz.finish().unwrap());
        let hits = scan_file(&p).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(
            (hits[0].rule, hits[0].line, hits[0].inside.as_deref()),
            ("aws-secret-access-key", 2, Some("the gzip content"))
        );
        // zip / docx
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.start_file("[Content_Types].xml", opts).unwrap();
        z.write_all(b"<Types/>").unwrap();
        z.start_file("word/document.xml", opts).unwrap();
        z.write_all(b"<w:t>token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB</w:t>").unwrap();
        let (_d, p) = file_with(&z.finish().unwrap().into_inner());
        let hits = scan_file(&p).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].rule, hits[0].inside.as_deref()), ("github-token", Some("word/document.xml")));
        // PDF: a FlateDecode content stream
        let stream = deflate_zlib(b"BT /F1 12 Tf (xoxb-1234567890-abcdefghij) Tj ET");
        let mut pdf = b"%PDF-1.7\n1 0 obj\n<< /Length 10 /Filter /FlateDecode >>\nstream\n".to_vec();
        pdf.extend_from_slice(&stream);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        let (_d, p) = file_with(&pdf);
        let hits = scan_file(&p).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].rule, hits[0].inside.as_deref()), ("slack-token", Some("PDF stream #1")));
        // A damaged stream is passed over, not an error.
        let (_d, p) = file_with(b"%PDF-1.7\nstream\nx\x9c garbage\nendstream\n");
        assert!(scan_file(&p).unwrap().is_empty());
    }

    #[test]
    fn utf16_text_is_scanned() {
        let text = "line one\nkey AKIAIOSFODNN7EXAMPLE\n";
        let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
        let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(|u| u.to_be_bytes())).collect();
        for bytes in [le, be] {
            let hits = scan_reader(bytes.as_slice()).unwrap();
            assert_eq!(hits.iter().map(|h| (h.rule, h.line)).collect::<Vec<_>>(), [("aws-access-key-id", 2)]);
        }
    }

    #[test]
    fn lines_are_counted_and_long_lines_scanned_across_window_edges() {
        let hits = scan_reader("a\nb\nc AKIAIOSFODNN7EXAMPLE\n".as_bytes()).unwrap();
        assert_eq!(hits[0].line, 3);
        // A secret straddling the window boundary of a huge line is still found, once.
        let mut long = vec![b'x'; BLOCK + 100];
        long.extend_from_slice(b" AKIAIOSFODNN7EXAMPLE ");
        long.extend(vec![b'y'; 3 * BLOCK]);
        let r = std::io::BufReader::with_capacity(1000, long.as_slice());
        assert_eq!(scan_reader(r).unwrap().len(), 1);
        // Cut in two by the end of the first block, on line 3 of a multi-block file.
        let mut cut = b"1\n2\n".to_vec();
        cut.extend(vec![b'x'; BLOCK + OVERLAP - 11 - cut.len()]);
        cut.extend_from_slice(b" AKIAIOSFODNN7EXAMPLE\n4\n");
        cut.extend(vec![b'z'; 2 * BLOCK]);
        cut.extend_from_slice(b"\nAKIAIOSFODNN7EXAMPL2\n");
        let hits = scan_reader(cut.as_slice()).unwrap();
        assert_eq!(hits.iter().map(|h| h.line).collect::<Vec<_>>(), [3, 6]);
    }
}
