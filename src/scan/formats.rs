//! The three report formats, recognised by shape and read with serde so that a malformed
//! report is located (line and column) in its file.

#![allow(non_snake_case)] // field names are the scanners' own

use super::{Finding, ScanSeverity};
use serde::Deserialize;
use serde_json::Value;

/// The findings of one report, before deduplication and asset linking.
#[derive(Debug)]
pub struct Parsed {
    pub format: &'static str,
    pub tool: String,
    pub findings: Vec<Finding>,
    /// When the scan ran, as the report says (Trivy `CreatedAt`, Grype `descriptor.timestamp`,
    /// SARIF `invocations[].startTimeUtc`), if it says.
    pub created: Option<jiff::Timestamp>,
    /// What the report scanned ([`super::target_key`] of each), findings or not: a later scan of
    /// the same target supersedes it.
    pub scanned: Vec<String>,
}

/// A timestamp as the scanners write it (RFC 3339); an unreadable one is no date.
fn created(s: Option<&str>) -> Option<jiff::Timestamp> {
    s?.trim().parse().ok()
}

#[derive(Debug)]
pub struct ParseError {
    pub message: String,
    pub line: usize,
    pub col: usize,
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError { message: e.to_string(), line: e.line(), col: e.column() }
    }
}

/// Reads `text` as a scanner report. `Ok(None)`: some other JSON (evidence that is not a
/// report). With `required`, text that is no report at all is an error too.
pub fn parse(text: &str, required: bool) -> Result<Option<Parsed>, ParseError> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) if required || looks_like_report(text) => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    let parsed = match &value {
        Value::Object(o) if o.contains_key("SchemaVersion") || o.contains_key("ArtifactName") => {
            Some(trivy(serde_json::from_str(text)?))
        }
        Value::Object(o) if o.contains_key("matches") => Some(grype(serde_json::from_str(text)?)),
        Value::Object(o) if o.contains_key("runs") => Some(sarif(serde_json::from_str(text)?)?),
        Value::Array(a) if !a.is_empty() && a.iter().all(|r| r.get("Target").is_some()) => {
            let results: Vec<TrivyResult> = serde_json::from_str(text)?;
            Some(trivy_results(None, results, "trivy-legacy"))
        }
        _ => None,
    };
    if parsed.is_none() && required {
        return Err(ParseError { message: "not a Trivy, Grype or SARIF 2.1.0 report".into(), line: 1, col: 1 });
    }
    Ok(parsed)
}

/// A report that fails to parse is only an error when it was meant to be one.
fn looks_like_report(text: &str) -> bool {
    let head: String = text.chars().take(4096).collect();
    ["\"SchemaVersion\"", "\"Vulnerabilities\"", "\"matches\"", "\"runs\"", "sarif"].iter().any(|m| head.contains(m))
}

// ---- Trivy ----

#[derive(Deserialize)]
struct TrivyReport {
    ArtifactName: Option<String>,
    CreatedAt: Option<String>,
    #[serde(default)]
    Results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
struct TrivyResult {
    #[serde(default)]
    Target: String,
    Vulnerabilities: Option<Vec<TrivyVuln>>,
    Misconfigurations: Option<Vec<TrivyMisconf>>,
    Secrets: Option<Vec<TrivySecret>>,
}

#[derive(Deserialize)]
struct TrivyVuln {
    VulnerabilityID: Option<String>,
    PkgName: Option<String>,
    InstalledVersion: Option<String>,
    FixedVersion: Option<String>,
    Severity: Option<String>,
    Title: Option<String>,
}

#[derive(Deserialize)]
struct TrivyMisconf {
    ID: Option<String>,
    Title: Option<String>,
    Severity: Option<String>,
    Status: Option<String>,
}

#[derive(Deserialize)]
struct TrivySecret {
    RuleID: Option<String>,
    Title: Option<String>,
    Severity: Option<String>,
    StartLine: Option<u64>,
}

fn trivy(r: TrivyReport) -> Parsed {
    let mut p = trivy_results(r.ArtifactName, r.Results.unwrap_or_default(), "trivy");
    p.created = created(r.CreatedAt.as_deref());
    p
}

fn trivy_results(artifact: Option<String>, results: Vec<TrivyResult>, format: &'static str) -> Parsed {
    let mut findings = Vec::new();
    let mut scanned = Vec::new();
    for res in results {
        // SchemaVersion 2 names the scanned artifact (an image); legacy reports only the target.
        let target = artifact.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| res.Target.clone());
        let key = super::target_key(&target);
        if !scanned.contains(&key) {
            scanned.push(key.clone());
        }
        let base = |kind, id: String, sev: Option<&str>, title: Option<String>| Finding {
            tool: "Trivy".into(),
            kind,
            title: title.unwrap_or_else(|| id.clone()),
            id,
            package: None,
            version: None,
            fixed_version: None,
            target: target.clone(),
            instance: None,
            severity: ScanSeverity::from_word(sev.unwrap_or("unknown")),
            report: String::new(),
            assets: Vec::new(),
            scanned: key.clone(),
        };
        for v in res.Vulnerabilities.unwrap_or_default() {
            let Some(id) = v.VulnerabilityID.filter(|s| !s.is_empty()) else { continue };
            let mut f = base("vulnerability", id, v.Severity.as_deref(), v.Title);
            f.package = v.PkgName;
            f.version = v.InstalledVersion;
            f.fixed_version = v.FixedVersion.filter(|s| !s.is_empty());
            if artifact.is_some() && res.Target != target {
                // Keep the lock file or layer inside the image apart.
                f.instance = Some(res.Target.clone());
            }
            findings.push(f);
        }
        for m in res.Misconfigurations.unwrap_or_default() {
            if m.Status.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("fail")) {
                continue;
            }
            let Some(id) = m.ID else { continue };
            let mut f = base("misconfiguration", id, m.Severity.as_deref(), m.Title);
            f.instance = Some(res.Target.clone());
            findings.push(f);
        }
        for s in res.Secrets.unwrap_or_default() {
            let Some(id) = s.RuleID else { continue };
            let mut f = base("secret", id, s.Severity.as_deref(), s.Title);
            f.instance = Some(format!("{}:{}", res.Target, s.StartLine.unwrap_or(0)));
            findings.push(f);
        }
    }
    if let Some(a) = artifact.filter(|a| !a.is_empty()) {
        // An image without findings has no results at all, yet it was scanned.
        let key = super::target_key(&a);
        if !scanned.contains(&key) {
            scanned.push(key);
        }
    }
    Parsed { format, tool: "Trivy".into(), findings, created: None, scanned }
}

// ---- Grype ----

#[derive(Deserialize)]
struct GrypeReport {
    matches: Vec<GrypeMatch>,
    source: Option<GrypeSource>,
    descriptor: Option<GrypeDescriptor>,
}

#[derive(Deserialize)]
struct GrypeSource {
    target: Option<Value>,
}

#[derive(Deserialize)]
struct GrypeDescriptor {
    name: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    artifact: GrypeArtifact,
}

#[derive(Deserialize)]
struct GrypeVuln {
    id: String,
    severity: Option<String>,
    description: Option<String>,
    fix: Option<GrypeFix>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    name: String,
    version: Option<String>,
}

fn grype(r: GrypeReport) -> Parsed {
    // `source.target` is a string for directories and an object (`userInput`) for images.
    let target = match r.source.and_then(|s| s.target) {
        Some(Value::String(s)) => s,
        Some(Value::Object(o)) => o.get("userInput").and_then(Value::as_str).unwrap_or_default().to_string(),
        _ => String::new(),
    };
    let (tool, timestamp) = match r.descriptor {
        Some(d) => (d.name.unwrap_or_else(|| "grype".into()), d.timestamp),
        None => ("grype".into(), None),
    };
    let key = super::target_key(&target);
    let findings = r
        .matches
        .into_iter()
        .map(|m| Finding {
            tool: tool.clone(),
            kind: "vulnerability",
            title: m
                .vulnerability
                .description
                .as_deref()
                .map(|d| first_sentence(d, 120))
                .unwrap_or_else(|| m.vulnerability.id.clone()),
            id: m.vulnerability.id,
            package: Some(m.artifact.name),
            version: m.artifact.version,
            fixed_version: m.vulnerability.fix.and_then(|f| f.versions.first().cloned()),
            target: target.clone(),
            instance: None,
            severity: ScanSeverity::from_word(m.vulnerability.severity.as_deref().unwrap_or("unknown")),
            report: String::new(),
            assets: Vec::new(),
            scanned: key.clone(),
        })
        .collect();
    Parsed { format: "grype", tool, findings, created: created(timestamp.as_deref()), scanned: vec![key] }
}

fn first_sentence(s: &str, max: usize) -> String {
    let s = s.split(". ").next().unwrap_or(s).trim();
    if s.chars().count() > max { format!("{}...", s.chars().take(max).collect::<String>()) } else { s.to_string() }
}

// ---- SARIF 2.1.0 ----

#[derive(Deserialize)]
struct SarifLog {
    version: String,
    runs: Vec<SarifRun>,
}

#[derive(Deserialize)]
struct SarifRun {
    tool: SarifTool,
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
    #[serde(default)]
    invocations: Option<Vec<SarifInvocation>>,
    #[serde(default)]
    versionControlProvenance: Option<Vec<SarifVersionControl>>,
    #[serde(default)]
    automationDetails: Option<SarifAutomation>,
}

#[derive(Deserialize)]
struct SarifInvocation {
    startTimeUtc: Option<String>,
    endTimeUtc: Option<String>,
}

#[derive(Deserialize)]
struct SarifVersionControl {
    repositoryUri: Option<String>,
}

#[derive(Deserialize)]
struct SarifAutomation {
    id: Option<String>,
}

#[derive(Deserialize)]
struct SarifTool {
    driver: SarifDriver,
}

#[derive(Deserialize)]
struct SarifDriver {
    name: String,
    #[serde(default)]
    rules: Option<Vec<SarifRule>>,
}

#[derive(Deserialize)]
struct SarifRule {
    id: String,
    #[serde(default)]
    properties: Option<Value>,
    #[serde(default)]
    defaultConfiguration: Option<SarifConfig>,
    #[serde(default)]
    shortDescription: Option<SarifMessage>,
}

#[derive(Deserialize)]
struct SarifConfig {
    level: Option<String>,
}

#[derive(Deserialize)]
struct SarifMessage {
    text: Option<String>,
}

#[derive(Deserialize)]
struct SarifResult {
    ruleId: Option<String>,
    ruleIndex: Option<usize>,
    rule: Option<SarifRuleRef>,
    level: Option<String>,
    message: Option<SarifMessage>,
    #[serde(default)]
    locations: Option<Vec<SarifLocation>>,
    #[serde(default)]
    properties: Option<Value>,
}

#[derive(Deserialize)]
struct SarifRuleRef {
    id: Option<String>,
    index: Option<usize>,
}

#[derive(Deserialize)]
struct SarifLocation {
    physicalLocation: Option<SarifPhysical>,
}

#[derive(Deserialize)]
struct SarifPhysical {
    artifactLocation: Option<SarifArtifact>,
    region: Option<SarifRegion>,
}

#[derive(Deserialize)]
struct SarifArtifact {
    uri: Option<String>,
}

#[derive(Deserialize)]
struct SarifRegion {
    startLine: Option<u64>,
    startColumn: Option<u64>,
}

fn security_severity(props: Option<&Value>) -> Option<f64> {
    let v = props?.get("security-severity")?;
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn sarif(log: SarifLog) -> Result<Parsed, ParseError> {
    if log.version != "2.1.0" {
        return Err(ParseError {
            message: format!("SARIF version `{}` is not supported; auditpack reads SARIF 2.1.0", log.version),
            line: 1,
            col: 1,
        });
    }
    let mut tools = Vec::new();
    let mut findings = Vec::new();
    let mut scanned = Vec::new();
    let mut when = None;
    for run in log.runs {
        let tool = run.tool.driver.name;
        tools.push(tool.clone());
        // A run's target is its tool on its repository and category (as GitHub code scanning
        // keys analyses): a later run of the same supersedes it.
        let repository = run.versionControlProvenance.iter().flatten().find_map(|v| v.repositoryUri.clone());
        let category = run
            .automationDetails
            .and_then(|a| a.id)
            .map(|id| id.rsplit_once('/').map(|(c, _)| c.to_string()).unwrap_or(id))
            .filter(|c| !c.is_empty());
        let key = [Some(tool.clone()), repository, category].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if !scanned.contains(&key) {
            scanned.push(key.clone());
        }
        let started = run
            .invocations
            .iter()
            .flatten()
            .filter_map(|i| created(i.startTimeUtc.as_deref().or(i.endTimeUtc.as_deref())))
            .max();
        when = when.max(started);
        let rules = run.tool.driver.rules.unwrap_or_default();
        for res in run.results.unwrap_or_default() {
            let index = res.ruleIndex.or(res.rule.as_ref().and_then(|r| r.index));
            let rule = res
                .ruleId
                .as_deref()
                .or(res.rule.as_ref().and_then(|r| r.id.as_deref()))
                .and_then(|id| rules.iter().find(|r| r.id == id))
                .or(index.and_then(|i| rules.get(i)));
            let id = res
                .ruleId
                .clone()
                .or(res.rule.as_ref().and_then(|r| r.id.clone()))
                .or(rule.map(|r| r.id.clone()))
                .unwrap_or_else(|| format!("{tool} result"));
            let severity = match security_severity(res.properties.as_ref())
                .or(rule.and_then(|r| security_severity(r.properties.as_ref())))
            {
                Some(score) => ScanSeverity::from_score(score),
                None => ScanSeverity::from_sarif_level(
                    res.level
                        .as_deref()
                        .or(rule.and_then(|r| r.defaultConfiguration.as_ref()).and_then(|c| c.level.as_deref()))
                        .unwrap_or("warning"),
                ),
            };
            let phys = res.locations.as_ref().and_then(|l| l.first()).and_then(|l| l.physicalLocation.as_ref());
            let target = phys
                .and_then(|p| p.artifactLocation.as_ref())
                .and_then(|a| a.uri.clone())
                .unwrap_or_else(|| tool.clone());
            let region = phys.and_then(|p| p.region.as_ref());
            let instance = region.map(|r| format!("{}:{}", r.startLine.unwrap_or(0), r.startColumn.unwrap_or(1)));
            let title = res
                .message
                .as_ref()
                .and_then(|m| m.text.clone())
                .or(rule.and_then(|r| r.shortDescription.as_ref()).and_then(|d| d.text.clone()))
                .unwrap_or_else(|| id.clone());
            findings.push(Finding {
                tool: tool.clone(),
                kind: "result",
                id,
                package: None,
                version: None,
                fixed_version: None,
                target,
                instance,
                severity,
                title: first_sentence(&title, 160),
                report: String::new(),
                assets: Vec::new(),
                scanned: key.clone(),
            });
        }
    }
    Ok(Parsed {
        format: "sarif",
        tool: if tools.is_empty() { "SARIF".into() } else { tools.join(", ") },
        findings,
        created: when,
        scanned,
    })
}
