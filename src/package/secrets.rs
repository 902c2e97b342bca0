//! No secrets to the auditor: before the package is written, every evidence file (and sidecar)
//! is scanned for private keys and cloud credentials. A hit is an error diagnostic at
//! `file:line` unless the project allows that file under `[package] allow_secrets`.
//!
//! Files are streamed in blocks with bounded memory: blocks of [`BLOCK`] bytes overlap by
//! [`OVERLAP`] bytes, so a match is never cut in two. Binary files are scanned the same way (the
//! patterns are ASCII);
//! compressed files (zip, gz, pdf streams, docx) are not decompressed. The patterns are listed in
//! docs/package.md.

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
    ("aws-access-key-id", "an AWS access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    (
        "aws-secret-access-key",
        "an AWS secret access key",
        r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}(?:[^A-Za-z0-9/+=]|$)"#,
    ),
    ("github-token", "a GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ("slack-token", "a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,250}"),
    ("google-api-key", "a Google API key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    ("stripe-secret-key", "a Stripe secret key", r"\b[rs]k_live_[0-9A-Za-z]{24,247}\b"),
];

struct Rules {
    /// All patterns as one alternation: its literal prefilter skips clean blocks several times
    /// faster than the set, which is only run on a block where something matched.
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
        any: Regex::new(&ascii(&PATTERNS.iter().map(|p| format!("(?:{})", p.2)).collect::<Vec<_>>().join("|")))
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
}

/// Scans one file; each (line, rule) is reported once.
pub fn scan_file(path: &Path) -> std::io::Result<Vec<Hit>> {
    scan_reader(std::fs::File::open(path)?)
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
        let candidates: Vec<usize> =
            if rules.any.is_match(block) { rules.set.matches(block).into_iter().collect() } else { Vec::new() };
        for i in candidates {
            for m in rules.each[i].find_iter(block) {
                let line = line_at + memchr_count(&block[..m.start()]);
                hits.insert(Hit { line, rule: PATTERNS[i].0, what: PATTERNS[i].1 });
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

fn memchr_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

pub fn scan(project: &Project, index: &EvidenceIndex, diags: &mut Diagnostics) {
    let mut files: Vec<&str> = Vec::new();
    for f in &index.evidence {
        files.push(&f.file.path);
        if let Some(s) = &f.file.sidecar {
            files.push(&s.path);
        }
    }
    let results: Vec<(&str, std::io::Result<Vec<Hit>>)> =
        files.par_iter().map(|p| (*p, scan_file(&project.root.join(p)))).collect();

    let allow: Vec<(usize, globset::GlobMatcher)> = project
        .package
        .allow_secrets
        .iter()
        .enumerate()
        .filter_map(|(i, a)| globset::Glob::new(&a.pattern).ok().map(|g| (i, g.compile_matcher())))
        .collect();
    let mut used = BTreeSet::new();
    for (path, result) in results {
        let hits = match result {
            Ok(h) => h,
            Err(e) => {
                diags.push(
                    Diagnostic::error("unreadable-file", format!("cannot scan the file for secrets: {e}"))
                        .at_file(path)
                        .hint("fix its permissions or remove it"),
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
            let at = Location { file: path.into(), line: Some(h.line), col: None };
            if allowed.is_empty() {
                diags.push(
                    Diagnostic::error("secret-in-evidence", format!("the line looks like {} ({})", h.what, h.rule))
                        .at(at)
                        .hint(format!(
                            "remove or redact the secret (and rotate it); if the auditor must receive the file as it is, add \"{path}\" to `allow_secrets` under [package] in auditpack.toml"
                        )),
                );
            } else {
                diags.push(
                    Diagnostic::note(
                        "secret-allowed",
                        format!(
                            "the line looks like {} ({}); packaged because allow_secrets lists the file",
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
                    "unused-allow-secrets",
                    format!("`{}` in allow_secrets matches no evidence file with a secret", a.pattern),
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
