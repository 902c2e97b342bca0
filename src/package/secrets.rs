//! No secrets to the auditor: before the package is written, every evidence file (and sidecar)
//! is scanned for private keys and cloud credentials. A hit is an error diagnostic at
//! `file:line` unless the project allows that file under `[package] allow_secrets`.
//!
//! Files are streamed line by line with bounded memory: a line longer than [`MAX_LINE`] (or a
//! binary file without line breaks) is scanned in windows that overlap by [`OVERLAP`] bytes, so
//! a match is never cut in two. Binary files are scanned the same way (the patterns are ASCII);
//! compressed files (zip, gz, pdf streams, docx) are not decompressed. The patterns are listed in
//! docs/package.md.

use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::index::EvidenceIndex;
use crate::project::Project;
use rayon::prelude::*;
use regex::bytes::{Regex, RegexSet};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::OnceLock;

/// Lines are scanned whole up to this length; longer ones in overlapping windows.
pub const MAX_LINE: usize = 64 * 1024;
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
    set: RegexSet,
    each: Vec<Regex>,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| Rules {
        set: RegexSet::new(PATTERNS.iter().map(|p| p.2)).expect("the built-in patterns are valid"),
        each: PATTERNS.iter().map(|p| Regex::new(p.2).expect("the built-in patterns are valid")).collect(),
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
    let file = std::fs::File::open(path)?;
    scan_reader(BufReader::with_capacity(64 * 1024, file))
}

pub fn scan_reader<R: BufRead>(mut r: R) -> std::io::Result<Vec<Hit>> {
    let mut hits = BTreeSet::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_no = 1;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            scan_bytes(&line, line_no, &mut hits);
            break;
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&buf[..i]);
                r.consume(i + 1);
                scan_bytes(&line, line_no, &mut hits);
                line.clear();
                line_no += 1;
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                r.consume(n);
                if line.len() > MAX_LINE {
                    scan_bytes(&line, line_no, &mut hits);
                    line.drain(..line.len() - OVERLAP);
                }
            }
        }
    }
    Ok(hits.into_iter().collect())
}

fn scan_bytes(bytes: &[u8], line: usize, hits: &mut BTreeSet<Hit>) {
    let r = rules();
    for i in r.set.matches(bytes).iter() {
        if r.each[i].is_match(bytes) {
            hits.insert(Hit { line, rule: PATTERNS[i].0, what: PATTERNS[i].1 });
        }
    }
}

/// Scans every evidence file and sidecar of the index. Hits in files the project allows are
/// notes; others are errors that stop the package. Allow entries that match no file with a hit
/// are warnings, so a stale exception does not linger.
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
        let mut long = vec![b'x'; MAX_LINE + 100];
        long.extend_from_slice(b" AKIAIOSFODNN7EXAMPLE ");
        long.extend(vec![b'y'; 3 * MAX_LINE]);
        let r = std::io::BufReader::with_capacity(1000, long.as_slice());
        assert_eq!(scan_reader(r).unwrap().len(), 1);
    }
}
