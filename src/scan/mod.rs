//! Scanner findings: Trivy (SchemaVersion 2 and the legacy bare array), Grype and SARIF 2.1.0
//! reports found among the evidence or given with `--scan`, normalised to one severity scale and
//! linked to assets through their `scan_targets` globs -> [`ScanResults`].
//!
//! What counts, so that an auditor can follow it from the annex: only the latest scan of each
//! target (an image without its tag, a folder, a SARIF tool on a repository) on or before the end
//! of the period; older scans of the same target are listed as superseded. Duplicates (one
//! vulnerability in one package of one target) collapse. A finding that an OpenVEX document among
//! the evidence states `not_affected` (with a justification) or `fixed` is listed as excepted and
//! does not count ([`vex`]).
//!
//! Runs after the index and before the assessment, which uses the counted findings to raise the
//! likelihood of the risks on affected assets. A report or VEX document that cannot be read is a
//! located diagnostic; the other files are still imported.

mod formats;
pub mod vex;

use crate::collect::dates::DateSource;
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::index::EvidenceIndex;
use crate::project::Project;
use globset::{GlobBuilder, GlobMatcher};
use jiff::civil::Date;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use formats::{Parsed, parse};

/// Reports larger than this are not read (scanner JSON is rarely over a few MB).
const MAX_REPORT_BYTES: u64 = 64 << 20;

/// One normalised severity scale for every scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanSeverity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl ScanSeverity {
    pub const ALL: [ScanSeverity; 5] =
        [ScanSeverity::Critical, ScanSeverity::High, ScanSeverity::Medium, ScanSeverity::Low, ScanSeverity::Info];

    /// Trivy's UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL and Grype's
    /// Unknown|Negligible|Low|Medium|High|Critical, case-insensitive.
    pub fn from_word(w: &str) -> ScanSeverity {
        match w.trim().to_ascii_lowercase().as_str() {
            "critical" => ScanSeverity::Critical,
            "high" => ScanSeverity::High,
            "medium" | "moderate" => ScanSeverity::Medium,
            "low" => ScanSeverity::Low,
            _ => ScanSeverity::Info, // unknown, negligible, none
        }
    }

    /// A CVSS-like score (SARIF `security-severity`), with GitHub's bands.
    pub fn from_score(s: f64) -> ScanSeverity {
        if s >= 9.0 {
            ScanSeverity::Critical
        } else if s >= 7.0 {
            ScanSeverity::High
        } else if s >= 4.0 {
            ScanSeverity::Medium
        } else if s > 0.0 {
            ScanSeverity::Low
        } else {
            ScanSeverity::Info
        }
    }

    /// A SARIF `level`: error -> high, warning -> medium, note -> low, none -> info.
    pub fn from_sarif_level(level: &str) -> ScanSeverity {
        match level {
            "error" => ScanSeverity::High,
            "warning" => ScanSeverity::Medium,
            "note" => ScanSeverity::Low,
            _ => ScanSeverity::Info,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScanSeverity::Critical => "critical",
            ScanSeverity::High => "high",
            ScanSeverity::Medium => "medium",
            ScanSeverity::Low => "low",
            ScanSeverity::Info => "info",
        }
    }

    /// How many likelihood steps a finding of this severity adds to its assets' risks.
    pub fn likelihood_raise(self) -> usize {
        match self {
            ScanSeverity::Critical => 2,
            ScanSeverity::High => 1,
            _ => 0,
        }
    }
}

/// One finding, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub tool: String,
    /// `vulnerability`, `misconfiguration`, `secret` or `result` (SARIF).
    pub kind: &'static str,
    /// CVE/GHSA id, misconfiguration id, secret rule or SARIF rule id.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// What was scanned: image or artifact name, lock file, or the SARIF result's file.
    pub target: String,
    /// SARIF only: `line:col` in the target, part of the deduplication key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub severity: ScanSeverity,
    pub title: String,
    /// The report it came from (relative to the project, or as given on the command line).
    pub report: String,
    /// Asset ids whose `scan_targets` match.
    pub assets: Vec<String>,
    /// The scanned target whose latest scan counts ([`target_key`]: an image without its tag).
    #[serde(skip)]
    pub scanned: String,
}

impl Finding {
    /// What makes two findings one: a vulnerability is its id in a package of a target (another
    /// version or lock file of the same package in the same image is the same finding); other
    /// findings are their rule at a place of a target.
    fn key(&self) -> (String, Option<String>, String, Option<String>) {
        if self.kind == "vulnerability" {
            (self.id.clone(), self.package.clone(), self.target.clone(), None)
        } else {
            (self.id.clone(), self.package.clone(), self.target.clone(), self.instance.clone())
        }
    }
}

/// What a scan is a scan of, so that a later scan of the same supersedes it: an image reference
/// without its tag or digest (`registry/team/api:2026.06.1` -> `registry/team/api`), anything else
/// (a folder, a lock file, a SARIF run's tool and repository) as it is.
pub fn target_key(target: &str) -> String {
    let t = target.trim();
    let t = t.split_once('@').map(|(name, _)| name).unwrap_or(t);
    match t.rsplit_once('/') {
        Some((dir, last)) => match last.split_once(':') {
            Some((name, _)) => format!("{dir}/{name}"),
            None => t.to_string(),
        },
        None => match t.split_once(':') {
            // `api:1.2`, not `C:` nor a name with a space such as `trivy-ci-test (alpine 3.7.1)`.
            Some((name, tag)) if !name.is_empty() && !tag.is_empty() && !t.contains(' ') => name.to_string(),
            _ => t.to_string(),
        },
    }
}

/// One report read.
#[derive(Debug, Clone, Serialize)]
pub struct ReportInfo {
    pub path: String,
    /// `trivy`, `trivy-legacy`, `grype` or `sarif`.
    pub format: &'static str,
    pub tool: String,
    /// Findings in the report before deduplication.
    pub findings: usize,
    /// The day the scan ran.
    pub date: Date,
    /// Where the date comes from: "report" (the scanner's own timestamp), "sidecar", "file name",
    /// "modification time (weak)", or for an undated `--scan` file the end of the period.
    pub date_source: &'static str,
    /// What it scanned ([`target_key`]).
    pub targets: Vec<String>,
    /// Whether its findings count: `counted`, `superseded` (a later scan of each of its targets),
    /// `partly superseded`, or `after the period` (dated after the end of the period or the
    /// as-of date).
    pub status: &'static str,
    /// The later reports that supersede it, for its targets.
    pub superseded_by: Vec<String>,
    /// Its findings on targets of which it is the latest scan (before duplicates collapse).
    pub counted: usize,
    /// Exact time, when the report gives one: orders two scans of the same day.
    #[serde(skip)]
    created: Option<jiff::Timestamp>,
    #[serde(skip)]
    scanned: Vec<String>,
}

/// A finding that an OpenVEX statement excepts: listed, not counted.
#[derive(Debug, Clone, Serialize)]
pub struct Excepted {
    #[serde(flatten)]
    pub finding: Finding,
    /// `not_affected` or `fixed`.
    pub status: String,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    pub status_notes: Option<String>,
    /// The VEX document and the day of the statement.
    pub vex: String,
    pub vex_author: String,
    pub statement_date: Date,
}

/// An OpenVEX document read, with what it changed.
#[derive(Debug, Clone, Serialize)]
pub struct VexInfo {
    pub path: String,
    pub author: String,
    pub date: Date,
    pub statements: usize,
    /// Statements dated after the end of the period (or the as-of date): not applied.
    pub after_period: usize,
    /// Findings it excepts.
    pub excepted: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanResults {
    pub reports: Vec<ReportInfo>,
    /// The findings that count: of the latest scan of each target, duplicates collapsed, not
    /// excepted by a VEX statement. Sorted by severity (worst first), id, target.
    pub findings: Vec<Finding>,
    /// Findings of the latest scans that a VEX statement excepts (`not_affected` or `fixed`).
    pub excepted: Vec<Excepted>,
    /// Findings of the latest scans removed as duplicates.
    pub duplicates: usize,
    /// Findings of superseded scans and of scans after the period: not counted.
    pub superseded: usize,
    /// The OpenVEX documents read.
    pub vex: Vec<VexInfo>,
    /// Targets that match no asset's `scan_targets`.
    pub unmapped_targets: Vec<String>,
}

impl ScanResults {
    /// The worst severity among the findings on `asset`.
    pub fn worst_on(&self, asset: &str) -> Option<ScanSeverity> {
        self.findings.iter().filter(|f| f.assets.iter().any(|a| a == asset)).map(|f| f.severity).max()
    }

    pub fn on_asset<'a>(&'a self, asset: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.assets.iter().any(|a| a == asset))
    }

    /// The findings on any of `assets`, each once.
    pub fn on_assets<'a>(&'a self, assets: &'a [String]) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.assets.iter().any(|a| assets.contains(a)))
    }
}

/// Where a report's date comes from, as the annex names it: the scanner's own timestamp.
const FROM_REPORT: &str = "report";
/// A `--scan` file with no date of its own or in its name: taken as of the end of the period.
const FROM_COMMAND_LINE: &str = "--scan, undated: the end of the period";

/// Reads the scanner reports and OpenVEX documents among the evidence and the extra files given
/// on the command line.
pub fn import(project: &Project, index: &EvidenceIndex, extra: &[PathBuf], diags: &mut Diagnostics) -> ScanResults {
    use rayon::prelude::*;
    let mut found = Found::default();
    // Every JSON file of the evidence may be a report: read and parsed on every core, then taken
    // in path order so the results do not depend on timing.
    let candidates: Vec<&crate::index::IndexedFile> = index
        .evidence
        .iter()
        .filter(|f| {
            let lower = f.file.path.to_ascii_lowercase();
            (lower.ends_with(".json") || lower.ends_with(".sarif")) && f.file.size <= MAX_REPORT_BYTES
        })
        .collect();
    let read: Vec<Read> =
        candidates.par_iter().map(|f| read_report(&project.root.join(&f.file.path), &f.file.path, false)).collect();
    for (f, r) in candidates.iter().zip(read) {
        let e = f.effective();
        let dated = Dated { date: e.date, source: e.source.text(), from_sidecar: e.source == DateSource::Sidecar };
        take(&f.file.path, r, false, dated, &mut found, diags);
    }
    for p in extra {
        let shown = p.display().to_string();
        let r = read_report(p, &shown, true);
        // A report given for this build: its own date, else the date in its name, else the end of
        // the period (never a modification time, which says when it was copied).
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dated = match crate::collect::dates::from_file_name(&name) {
            Some(e) => Dated { date: e.date, source: DateSource::FileName.text(), from_sidecar: false },
            None => Dated { date: project.audit.end, source: FROM_COMMAND_LINE, from_sidecar: false },
        };
        take(&shown, r, true, dated, &mut found, diags);
    }
    link(project, found, diags)
}

/// A report's date from the evidence index (or the file's modification time).
#[derive(Clone, Copy)]
struct Dated {
    date: Date,
    source: &'static str,
    from_sidecar: bool,
}

#[derive(Default)]
struct Found {
    reports: Vec<(ReportInfo, Vec<Finding>)>,
    vex: Vec<vex::Document>,
}

/// One file read as a scanner report or VEX document.
enum Read {
    Unreadable(std::io::Error),
    Parsed(Result<Option<formats::Parsed>, formats::ParseError>),
    /// An OpenVEX document, with its text to locate problems in.
    Vex(Result<vex::Document, Vec<vex::Problem>>, String),
}

/// The keys one of which every format [`formats::parse`] recognises has; a JSON file without any
/// of them is other evidence, and is not parsed at all (most JSON evidence is not a report).
fn may_be_report(bytes: &[u8]) -> bool {
    static KEYS: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        regex::bytes::Regex::new(r#"(?-u)"(?:SchemaVersion|ArtifactName|matches|runs|Target)""#)
            .expect("a valid pattern")
    })
    .is_match(bytes)
}

fn read_report(full: &Path, shown: &str, required: bool) -> Read {
    let bytes = match std::fs::read(full) {
        Ok(b) => b,
        Err(e) => return Read::Unreadable(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    if vex::is_vex(&text) {
        return Read::Vex(vex::parse(&text, shown), text.into_owned());
    }
    let sarif_name = shown.to_ascii_lowercase().ends_with(".sarif");
    let strict = required || sarif_name;
    if !strict && !may_be_report(&bytes) {
        return Read::Parsed(Ok(None));
    }
    Read::Parsed(formats::parse(&text, strict))
}

/// `file:line:col` of a byte offset in `text`.
fn locate(shown: &str, text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or(before).chars().count() + 1;
    Location { file: PathBuf::from(shown), line: Some(line), col: Some(col), end_col: None }
}

fn take(shown: &str, read: Read, required: bool, dated: Dated, found: &mut Found, diags: &mut Diagnostics) {
    let parsed = match read {
        Read::Parsed(p) => p,
        Read::Vex(Ok(doc), _) => {
            found.vex.push(doc);
            return;
        }
        Read::Vex(Err(problems), text) => {
            for p in problems {
                diags.push(
                    Diagnostic::error(Code::InvalidVex, format!("the OpenVEX document is not valid: {}", p.message))
                        .at(locate(shown, &text, p.offset))
                        .hint("fix the document (https://github.com/openvex/spec); until it is valid none of its statements excepts a finding"),
                );
            }
            return;
        }
        Read::Unreadable(e) => {
            if required {
                diags.push(
                    Diagnostic::error(Code::UnreadableFile, format!("cannot read the scanner report: {e}"))
                        .at_file(shown)
                        .hint("check the path given with --scan"),
                );
            }
            return;
        }
    };
    match parsed {
        Ok(Some(parsed)) => {
            // The sidecar's date is the user's word; else the scanner's own timestamp; else the
            // file's name or modification time.
            let (date, date_source) = match parsed.created {
                Some(t) if !dated.from_sidecar => (t.to_zoned(jiff::tz::TimeZone::UTC).date(), FROM_REPORT),
                _ => (dated.date, dated.source),
            };
            let info = ReportInfo {
                path: shown.to_string(),
                format: parsed.format,
                tool: parsed.tool.clone(),
                findings: parsed.findings.len(),
                date,
                date_source,
                targets: parsed.scanned.clone(),
                status: "counted",
                superseded_by: Vec::new(),
                counted: 0,
                created: parsed.created,
                scanned: parsed.scanned,
            };
            let findings = parsed
                .findings
                .into_iter()
                .map(|mut f| {
                    f.report = shown.to_string();
                    f
                })
                .collect();
            found.reports.push((info, findings));
        }
        Ok(None) => {}
        Err(e) => diags.push(
            Diagnostic::error(Code::InvalidScannerReport, format!("cannot read the scanner report: {}", e.message))
                .at(Location {
                    file: PathBuf::from(shown),
                    line: Some(e.line.max(1)),
                    col: Some(e.col.max(1)),
                    end_col: None,
                })
                .hint(
                    "give the scanner's JSON output unchanged: `trivy --format json`, `grype -o json` or SARIF 2.1.0",
                ),
        ),
    }
}

/// Keeps the latest scan of each target, collapses duplicates, applies the VEX statements, links
/// findings to assets and sorts them.
fn link(project: &Project, found: Found, diags: &mut Diagnostics) -> ScanResults {
    let end = project.audit.end;
    let Found { mut reports, mut vex } = found;
    // The latest scan of each target, among the scans on or before the end of the period.
    let when = |r: &ReportInfo| (r.date, r.created);
    let mut latest: BTreeMap<String, (Date, Option<jiff::Timestamp>)> = BTreeMap::new();
    for (r, _) in reports.iter().filter(|(r, _)| r.date <= end) {
        for t in &r.scanned {
            let w = when(r);
            let e = latest.entry(t.clone()).or_insert(w);
            if w > *e {
                *e = w;
            }
        }
    }
    let holders: BTreeMap<String, Vec<String>> = latest
        .iter()
        .map(|(t, w)| {
            let paths = reports
                .iter()
                .filter(|(r, _)| r.date <= end && when(r) == *w && r.scanned.contains(t))
                .map(|(r, _)| r.path.clone())
                .collect();
            (t.clone(), paths)
        })
        .collect();
    let mut superseded = 0;
    let mut current: Vec<Finding> = Vec::new();
    for (r, findings) in &mut reports {
        if r.date > end {
            r.status = "after the period";
            superseded += findings.len();
            continue;
        }
        let mine = when(r);
        let stale: Vec<&String> = r.scanned.iter().filter(|t| latest.get(*t).is_some_and(|w| *w > mine)).collect();
        for t in &stale {
            for p in holders.get(*t).into_iter().flatten() {
                if !r.superseded_by.contains(p) {
                    r.superseded_by.push(p.clone());
                }
            }
        }
        r.status = if stale.is_empty() {
            "counted"
        } else if stale.len() == r.scanned.len() {
            "superseded"
        } else {
            "partly superseded"
        };
        for f in findings.drain(..) {
            if stale.contains(&&f.scanned) {
                superseded += 1;
            } else {
                r.counted += 1;
                current.push(f);
            }
        }
    }

    let mut seen = BTreeSet::new();
    let mut duplicates = 0;
    current.retain(|f| {
        let new = seen.insert(f.key());
        duplicates += usize::from(!new);
        new
    });

    // VEX: the latest statement on a finding decides; statements after the period do not count.
    vex.sort_by(|a, b| a.path.cmp(&b.path));
    let mut vex_info: Vec<VexInfo> = vex
        .iter()
        .map(|d| VexInfo {
            path: d.path.clone(),
            author: d.author.clone(),
            date: d.date,
            statements: d.statements.len(),
            after_period: d.statements.iter().filter(|s| s.date > end).count(),
            excepted: 0,
        })
        .collect();
    let mut excepted = Vec::new();
    let mut findings = Vec::new();
    for f in current {
        let decisive = vex
            .iter()
            .enumerate()
            .flat_map(|(di, d)| d.statements.iter().map(move |s| (di, s)))
            .filter(|(_, s)| s.date <= end && s.covers(&f))
            .max_by_key(|(di, s)| (s.at, *di, s.order));
        match decisive {
            Some((di, s)) if s.excepts() => {
                vex_info[di].excepted += 1;
                excepted.push(Excepted {
                    status: s.status.clone(),
                    justification: s.justification.clone(),
                    impact_statement: s.impact_statement.clone(),
                    status_notes: s.status_notes.clone(),
                    vex: vex[di].path.clone(),
                    vex_author: vex[di].author.clone(),
                    statement_date: s.date,
                    finding: f,
                });
            }
            _ => findings.push(f),
        }
    }

    let matchers: Vec<(&str, Vec<GlobMatcher>)> = project
        .assets
        .iter()
        .map(|a| {
            let globs = a
                .scan_targets
                .iter()
                .filter_map(|g| GlobBuilder::new(g).case_insensitive(true).build().ok())
                .map(|g| g.compile_matcher())
                .collect();
            (a.id.as_str(), globs)
        })
        .collect();
    let assets_of = |f: &Finding| -> Vec<String> {
        matchers
            .iter()
            .filter(|(_, gs)| gs.iter().any(|g| g.is_match(&f.target) || g.is_match(&f.report)))
            .map(|(id, _)| id.to_string())
            .collect()
    };
    for f in &mut findings {
        f.assets = assets_of(f);
    }
    for e in &mut excepted {
        e.finding.assets = assets_of(&e.finding);
    }
    let order = |a: &Finding, b: &Finding| {
        b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)).then(a.target.cmp(&b.target)).then(a.key().cmp(&b.key()))
    };
    findings.sort_by(order);
    excepted.sort_by(|a, b| order(&a.finding, &b.finding));
    let unmapped: BTreeMap<&str, usize> = findings
        .iter()
        .chain(excepted.iter().map(|e| &e.finding))
        .filter(|f| f.assets.is_empty())
        .fold(BTreeMap::new(), |mut m, f| {
            *m.entry(f.target.as_str()).or_default() += 1;
            m
        });
    for (target, n) in &unmapped {
        let report = findings
            .iter()
            .chain(excepted.iter().map(|e| &e.finding))
            .find(|f| f.target == *target)
            .map(|f| f.report.clone())
            .unwrap_or_default();
        diags.push(
            Diagnostic::note(
                Code::ScanTargetUnmapped,
                format!("{n} scanner finding(s) on `{target}` belong to no asset"),
            )
            .at_file(report)
            .hint("add a glob matching the target to the asset's `scan_targets` in assets.toml"),
        );
    }
    let unmapped_targets = unmapped.keys().map(|s| s.to_string()).collect();
    ScanResults {
        reports: reports.into_iter().map(|(r, _)| r).collect(),
        findings,
        excepted,
        duplicates,
        superseded,
        vex: vex_info,
        unmapped_targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(p: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/external/scanners").join(p))
            .unwrap_or_else(|e| panic!("fixture {p}: {e}"))
    }

    fn parsed(p: &str) -> Parsed {
        parse(&fixture(p), true).unwrap_or_else(|e| panic!("{p}: {e:?}")).unwrap_or_else(|| panic!("{p}: not a report"))
    }

    fn dedup(p: Parsed) -> Vec<Finding> {
        let mut seen = BTreeSet::new();
        p.findings.into_iter().filter(|f| seen.insert(f.key())).collect()
    }

    #[test]
    fn targets_are_images_without_their_tag() {
        assert_eq!(target_key("ghcr.io/acme/api:1.4"), "ghcr.io/acme/api");
        assert_eq!(target_key("acme/api@sha256:abcd"), "acme/api");
        assert_eq!(target_key("localhost:5000/api:2"), "localhost:5000/api");
        assert_eq!(target_key("teamdojo:latest"), "teamdojo");
        assert_eq!(target_key("node-app/package-lock.json"), "node-app/package-lock.json");
        assert_eq!(target_key("trivy-ci-test (alpine 3.7.1)"), "trivy-ci-test (alpine 3.7.1)");
        assert_eq!(target_key("."), ".");
    }

    #[test]
    fn trivy_schema_2() {
        let p = parsed("trivy/scheme_2_many_vulns.json");
        assert_eq!(p.format, "trivy");
        assert!(!p.findings.is_empty());
        assert!(p.findings.iter().all(|f| f.target == "teamdojo:latest"));
        assert!(p.findings.iter().any(|f| f.id == "CVE-2020-15999" && f.severity == ScanSeverity::Medium));
        assert!(parsed("trivy/scheme_2_no_vuln.json").findings.is_empty());
    }

    #[test]
    fn trivy_legacy_array() {
        let p = parsed("trivy/legacy_trivy_mix.json");
        assert_eq!(p.format, "trivy-legacy");
        assert!(p.findings.iter().any(|f| f.id == "CVE-2018-16487" && f.package.as_deref() == Some("lodash")));
        assert!(p.findings.iter().any(|f| f.target == "node-app/package-lock.json"));
        assert!(p.findings.iter().all(|f| !f.id.is_empty()), "entries without an id are skipped");
    }

    #[test]
    fn trivy_misconfigurations_and_secrets() {
        let p = parsed("trivy/misconfigurations_and_secrets.json");
        assert!(p.findings.iter().any(|f| f.kind == "secret" && f.severity == ScanSeverity::Critical));
        assert!(p.findings.iter().any(|f| f.kind == "misconfiguration"));
    }

    #[test]
    fn trivy_severity_is_normalised() {
        let p = parsed("trivy/severity_prio.json");
        let f = p.findings.iter().find(|f| f.id == "CVE-2023-37920").unwrap();
        assert_eq!(f.severity, ScanSeverity::Critical);
    }

    #[test]
    fn grype_same_cve_different_paths_is_one_finding() {
        let p = parsed("grype/same_cve_different_paths.json");
        assert_eq!(p.format, "grype");
        assert_eq!(p.findings.len(), 2);
        let d = dedup(p);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].target, "test-image:latest");
    }

    #[test]
    fn grype_severities() {
        let p = parsed("grype/check_all_fields.json");
        assert!(p.findings.iter().any(|f| f.id == "CVE-2004-0971" && f.severity == ScanSeverity::Info));
        assert!(p.findings.iter().any(|f| f.id == "CVE-2021-33574" && f.severity == ScanSeverity::Critical));
        let d = dedup(parsed("grype/check_all_fields.json"));
        assert_eq!(d.iter().filter(|f| f.id == "GHSA-v6rh-hp5x-86rv").count(), 1);
        assert!(parsed("grype/no_vuln.json").findings.is_empty());
    }

    #[test]
    fn sarif_reports() {
        let p = parsed("sarif/no_runs.sarif");
        assert_eq!(p.format, "sarif");
        assert!(p.findings.is_empty());
        let p = parsed("sarif/dockle_0_3_15.sarif");
        assert_eq!(p.tool, "Dockle");
        assert!(p.findings.iter().any(|f| f.id == "CIS-DI-0010" && f.severity == ScanSeverity::High));
        let p = parsed("sarif/gitleaks_7.5.0.sarif");
        assert_eq!(p.findings.len(), 8, "results without a ruleId are kept");
        let p = parsed("sarif/njsscan.sarif");
        assert!(p.findings.iter().any(|f| f.id == "node_password"));
        let p = parsed("sarif/appendix_k2.sarif");
        assert_eq!(p.findings[0].target, "src/collections/list.cpp");
        assert_eq!(p.findings[0].instance.as_deref(), Some("15:1"));
        assert!(parsed("sarif/appendix_k1.sarif").findings.is_empty());
    }

    #[test]
    fn malformed_reports_are_located_errors() {
        let e = parse("{\n  \"SchemaVersion\": 2,\n  \"Results\": 5\n}", false).unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("{\"version\": \"2.1.0\", \"runs\": [", true).unwrap_err();
        assert!(e.message.contains("EOF") || e.message.contains("end"), "{}", e.message);
        let e = parse("{\"version\": \"1.0\", \"runs\": []}", true).unwrap_err();
        assert!(e.message.contains("2.1.0"));
        assert!(parse("{\"users\": []}", false).unwrap().is_none(), "other JSON evidence is not a report");
        assert!(parse("not json", false).unwrap().is_none());
        assert!(parse("not json", true).is_err());
    }
}
