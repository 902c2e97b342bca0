//! Scanner findings: Trivy (SchemaVersion 2 and the legacy bare array), Grype and SARIF 2.1.0
//! reports found among the evidence or given with `--scan`, normalised to one severity scale,
//! deduplicated and linked to assets through their `scan_targets` globs -> [`ScanResults`].
//!
//! Runs after the index and before the assessment, which uses the findings to raise the
//! likelihood of the risks on affected assets. A report that cannot be read is a located
//! diagnostic; the other reports are still imported.

mod formats;

use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::index::EvidenceIndex;
use crate::project::Project;
use globset::{GlobBuilder, GlobMatcher};
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
}

impl Finding {
    fn key(&self) -> (String, Option<String>, Option<String>, String, Option<String>) {
        (self.id.clone(), self.package.clone(), self.version.clone(), self.target.clone(), self.instance.clone())
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
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanResults {
    pub reports: Vec<ReportInfo>,
    /// Deduplicated, sorted by severity (worst first), id, target.
    pub findings: Vec<Finding>,
    /// Findings removed as duplicates.
    pub duplicates: usize,
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
}

/// Reads the scanner reports among the evidence and the extra files given on the command line.
pub fn import(project: &Project, index: &EvidenceIndex, extra: &[PathBuf], diags: &mut Diagnostics) -> ScanResults {
    use rayon::prelude::*;
    let mut reports = Vec::new();
    let mut all = Vec::new();
    // Every JSON file of the evidence may be a report: read and parsed on every core, then taken
    // in path order so the results do not depend on timing.
    let candidates: Vec<&str> = index
        .evidence
        .iter()
        .filter(|f| {
            let lower = f.file.path.to_ascii_lowercase();
            (lower.ends_with(".json") || lower.ends_with(".sarif")) && f.file.size <= MAX_REPORT_BYTES
        })
        .map(|f| f.file.path.as_str())
        .collect();
    let read: Vec<Read> = candidates.par_iter().map(|p| read_report(&project.root.join(p), p, false)).collect();
    for (shown, r) in candidates.iter().zip(read) {
        take(shown, r, false, &mut reports, &mut all, diags);
    }
    for p in extra {
        let shown = p.display().to_string();
        let r = read_report(p, &shown, true);
        take(&shown, r, true, &mut reports, &mut all, diags);
    }
    link(project, all, reports, diags)
}

/// One file read as a scanner report.
enum Read {
    Unreadable(std::io::Error),
    Parsed(Result<Option<formats::Parsed>, formats::ParseError>),
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
    let sarif_name = shown.to_ascii_lowercase().ends_with(".sarif");
    let strict = required || sarif_name;
    if !strict && !may_be_report(&bytes) {
        return Read::Parsed(Ok(None));
    }
    Read::Parsed(formats::parse(&String::from_utf8_lossy(&bytes), strict))
}

fn take(
    shown: &str,
    read: Read,
    required: bool,
    reports: &mut Vec<ReportInfo>,
    all: &mut Vec<Finding>,
    diags: &mut Diagnostics,
) {
    let parsed = match read {
        Read::Parsed(p) => p,
        Read::Unreadable(e) => {
            if required {
                diags.push(
                    Diagnostic::error("unreadable-file", format!("cannot read the scanner report: {e}"))
                        .at_file(shown)
                        .hint("check the path given with --scan"),
                );
            }
            return;
        }
    };
    match parsed {
        Ok(Some(parsed)) => {
            reports.push(ReportInfo {
                path: shown.to_string(),
                format: parsed.format,
                tool: parsed.tool.clone(),
                findings: parsed.findings.len(),
            });
            all.extend(parsed.findings.into_iter().map(|mut f| {
                f.report = shown.to_string();
                f
            }));
        }
        Ok(None) => {}
        Err(e) => diags.push(
            Diagnostic::error("invalid-scanner-report", format!("cannot read the scanner report: {}", e.message))
                .at(Location { file: PathBuf::from(shown), line: Some(e.line.max(1)), col: Some(e.col.max(1)) })
                .hint(
                    "give the scanner's JSON output unchanged: `trivy --format json`, `grype -o json` or SARIF 2.1.0",
                ),
        ),
    }
}

/// Deduplicates, links findings to assets and sorts them.
fn link(project: &Project, all: Vec<Finding>, reports: Vec<ReportInfo>, diags: &mut Diagnostics) -> ScanResults {
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
    let mut seen = BTreeSet::new();
    let mut duplicates = 0;
    let mut findings = Vec::new();
    for mut f in all {
        if !seen.insert(f.key()) {
            duplicates += 1;
            continue;
        }
        f.assets = matchers
            .iter()
            .filter(|(_, gs)| gs.iter().any(|g| g.is_match(&f.target) || g.is_match(&f.report)))
            .map(|(id, _)| id.to_string())
            .collect();
        findings.push(f);
    }
    findings.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)).then(a.target.cmp(&b.target)).then(a.key().cmp(&b.key()))
    });
    let unmapped: BTreeMap<&str, usize> =
        findings.iter().filter(|f| f.assets.is_empty()).fold(BTreeMap::new(), |mut m, f| {
            *m.entry(f.target.as_str()).or_default() += 1;
            m
        });
    for (target, n) in &unmapped {
        let report = findings.iter().find(|f| f.target == *target).map(|f| f.report.clone()).unwrap_or_default();
        diags.push(
            Diagnostic::note(
                "scan-target-unmapped",
                format!("{n} scanner finding(s) on `{target}` belong to no asset"),
            )
            .at_file(report)
            .hint("add a glob matching the target to the asset's `scan_targets` in assets.toml"),
        );
    }
    let unmapped_targets = unmapped.keys().map(|s| s.to_string()).collect();
    ScanResults { reports, findings, duplicates, unmapped_targets }
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
