//! OpenVEX documents (<https://github.com/openvex/spec>), the exploitability statements Trivy and
//! Grype read: a statement that a product is `not_affected` by a vulnerability (with a
//! justification) or has it `fixed` excepts the matching scanner findings, which are then listed
//! as excepted and do not raise any likelihood.
//!
//! A document is recognised by its `@context` (`https://openvex.dev/ns...`). One that is not valid
//! (not JSON, no timestamp, a statement without a vulnerability, a status or a product, a
//! `not_affected` statement without a justification or impact statement, an unknown label) is
//! reported with the place of each problem and none of its statements is applied.

use super::Finding;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// The justification labels of the VEX status justifications (CISA, June 2022).
pub const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// The status labels of OpenVEX.
pub const STATUSES: [&str; 4] = ["not_affected", "affected", "fixed", "under_investigation"];

/// One valid document.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    /// The file (relative to the project, or as given on the command line).
    pub path: String,
    pub author: String,
    /// When the document was issued (UTC day).
    pub date: jiff::civil::Date,
    pub statements: Vec<Statement>,
}

/// One statement, with what it inherits from its document.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    /// The vulnerability's name and its aliases.
    pub vulnerability: Vec<String>,
    pub products: Vec<Product>,
    pub status: String,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    pub status_notes: Option<String>,
    /// When the statement was known to be true (its own timestamp, else the document's): UTC day.
    pub date: jiff::civil::Date,
    /// The exact timestamp, for ordering statements on the same day.
    #[serde(skip)]
    pub at: jiff::Timestamp,
    /// Position in the document, for ordering statements with the same timestamp.
    #[serde(skip)]
    pub order: usize,
}

/// A product (or subcomponent): its `@id` and identifiers (purl, cpe).
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub ids: Vec<String>,
    pub subcomponents: Vec<Vec<String>>,
}

/// A problem in a document: the message and the byte offset it is at.
#[derive(Debug)]
pub struct Problem {
    pub message: String,
    pub offset: usize,
}

/// Whether `text` is an OpenVEX document (its `@context` names the OpenVEX namespace).
pub fn is_vex(text: &str) -> bool {
    let head: String = text.chars().take(4096).collect();
    head.contains("\"@context\"") && head.contains("openvex.dev/ns")
}

#[derive(Deserialize)]
struct RawDoc<'a> {
    #[serde(rename = "@context")]
    context: Option<String>,
    author: Option<String>,
    timestamp: Option<String>,
    #[serde(borrow)]
    statements: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct RawStatement {
    vulnerability: Option<RawVulnerability>,
    products: Option<Vec<RawComponent>>,
    status: Option<String>,
    justification: Option<String>,
    impact_statement: Option<String>,
    status_notes: Option<String>,
    timestamp: Option<String>,
}

/// `{"name": "CVE-...", "aliases": [...]}`, or the bare name of early OpenVEX documents.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawVulnerability {
    Name(String),
    Struct {
        name: Option<String>,
        #[serde(rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

/// `{"@id": ..., "identifiers": {...}, "subcomponents": [...]}`, or a bare IRI.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawComponent {
    Id(String),
    Struct {
        #[serde(rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        identifiers: BTreeMap<String, String>,
        #[serde(default)]
        subcomponents: Vec<RawComponent>,
    },
}

impl RawComponent {
    fn ids(&self) -> Vec<String> {
        match self {
            RawComponent::Id(s) => vec![s.clone()],
            RawComponent::Struct { id, identifiers, .. } => {
                id.iter().chain(identifiers.values()).filter(|s| !s.trim().is_empty()).cloned().collect()
            }
        }
    }
    fn product(&self) -> Product {
        let subcomponents = match self {
            RawComponent::Id(_) => Vec::new(),
            RawComponent::Struct { subcomponents, .. } => subcomponents.iter().map(RawComponent::ids).collect(),
        };
        Product { ids: self.ids(), subcomponents }
    }
}

/// A timestamp as OpenVEX writes it (RFC 3339).
fn timestamp(s: &str) -> Option<jiff::Timestamp> {
    s.trim().parse().ok()
}

fn utc_day(t: jiff::Timestamp) -> jiff::civil::Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Reads an OpenVEX document; every problem found, or the document when there is none.
pub fn parse(text: &str, path: &str) -> Result<Document, Vec<Problem>> {
    let base = text.as_ptr() as usize;
    let at_line = |line: usize, col: usize| -> usize {
        let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
        let within = text[start..].chars().take(col.saturating_sub(1)).map(char::len_utf8).sum::<usize>();
        (start + within).min(text.len())
    };
    let doc: RawDoc<'_> = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => return Err(vec![Problem { message: e.to_string(), offset: at_line(e.line(), e.column()) }]),
    };
    let mut problems = Vec::new();
    let at_key = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or(0);
    if !doc.context.as_deref().is_some_and(|c| c.trim().starts_with("https://openvex.dev/ns")) {
        problems.push(Problem {
            message: "`@context` is not the OpenVEX namespace (https://openvex.dev/ns/...)".into(),
            offset: at_key("@context"),
        });
    }
    let doc_time = match doc.timestamp.as_deref() {
        Some(t) => match timestamp(t) {
            Some(t) => Some(t),
            None => {
                problems.push(Problem {
                    message: format!("the document's `timestamp` `{t}` is not an RFC 3339 timestamp"),
                    offset: at_key("timestamp"),
                });
                None
            }
        },
        None => {
            problems
                .push(Problem { message: "the document has no `timestamp` (when it was issued)".into(), offset: 0 });
            None
        }
    };
    let author = doc.author.clone().unwrap_or_default();
    if author.trim().is_empty() {
        problems.push(Problem { message: "the document has no `author`".into(), offset: 0 });
    }
    let Some(raw_statements) = doc.statements else {
        problems.push(Problem { message: "the document has no `statements`".into(), offset: 0 });
        return Err(problems);
    };
    let mut statements = Vec::new();
    for (order, raw) in raw_statements.iter().enumerate() {
        let offset = raw.get().as_ptr() as usize - base;
        let n = order + 1;
        let s: RawStatement = match serde_json::from_str(raw.get()) {
            Ok(s) => s,
            Err(e) => {
                problems.push(Problem { message: format!("statement {n}: {e}"), offset });
                continue;
            }
        };
        let mut bad = |message: String| problems.push(Problem { message: format!("statement {n}: {message}"), offset });
        let vulnerability: Vec<String> = match &s.vulnerability {
            Some(RawVulnerability::Name(name)) => vec![name.trim().to_string()],
            Some(RawVulnerability::Struct { name, id, aliases }) => {
                let mut v: Vec<String> =
                    name.iter().chain(aliases).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                // An `@id` such as https://nvd.nist.gov/vuln/detail/CVE-2021-44228 names it too.
                if let Some(last) = id.as_deref().and_then(|i| i.trim().trim_end_matches('/').rsplit('/').next())
                    && !last.is_empty()
                {
                    v.push(last.to_string());
                }
                v
            }
            None => Vec::new(),
        };
        let named = matches!(&s.vulnerability, Some(RawVulnerability::Name(n)) if !n.trim().is_empty())
            || matches!(&s.vulnerability, Some(RawVulnerability::Struct { name: Some(n), .. }) if !n.trim().is_empty());
        if !named {
            bad("the vulnerability has no `name`".into());
        }
        let status = s.status.as_deref().map(str::trim).unwrap_or_default().to_string();
        if !STATUSES.contains(&status.as_str()) {
            bad(if status.is_empty() {
                "no `status`".into()
            } else {
                format!("`status` `{status}` is not one of {}", STATUSES.join(", "))
            });
        }
        let justification = s.justification.as_deref().map(str::trim).filter(|j| !j.is_empty()).map(String::from);
        if let Some(j) = &justification
            && !JUSTIFICATIONS.contains(&j.as_str())
        {
            bad(format!("`justification` `{j}` is not one of {}", JUSTIFICATIONS.join(", ")));
        }
        let impact_statement = s.impact_statement.as_deref().map(str::trim).filter(|j| !j.is_empty()).map(String::from);
        if status == "not_affected" && justification.is_none() && impact_statement.is_none() {
            bad("a `not_affected` statement needs a `justification` or an `impact_statement`".into());
        }
        let products: Vec<Product> =
            s.products.iter().flatten().map(RawComponent::product).filter(|p| !p.ids.is_empty()).collect();
        if products.is_empty() {
            bad("the statement names no product (`products` with an `@id` or identifiers)".into());
        }
        let at = match s.timestamp.as_deref() {
            Some(t) => match timestamp(t) {
                Some(t) => Some(t),
                None => {
                    bad(format!("`timestamp` `{t}` is not an RFC 3339 timestamp"));
                    None
                }
            },
            None => doc_time,
        };
        let Some(at) = at else { continue };
        statements.push(Statement {
            vulnerability,
            products,
            status,
            justification,
            impact_statement,
            status_notes: s.status_notes.filter(|n| !n.trim().is_empty()),
            date: utc_day(at),
            at,
            order,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let Some(doc_time) = doc_time else { return Err(problems) };
    Ok(Document { path: path.to_string(), author, date: utc_day(doc_time), statements })
}

/// A package URL reduced to what matching needs: type, name, version and qualifiers.
#[derive(Debug, PartialEq, Eq)]
struct Purl {
    kind: String,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn purl(s: &str) -> Option<Purl> {
    let rest = s.trim().strip_prefix("pkg:")?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) => (p, Some(percent_decode(v))),
        None => (path, None),
    };
    let (kind, name_path) = path.split_once('/')?;
    let name = percent_decode(name_path.rsplit('/').next().unwrap_or(name_path));
    let qualifiers = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), percent_decode(v)))
        .collect();
    Some(Purl { kind: kind.to_ascii_lowercase(), name, version, qualifiers })
}

/// Whether one of a component's ids names the finding's package (a purl of that name, at its
/// version when the purl gives one, or the package name itself).
fn names_package(ids: &[String], f: &Finding) -> bool {
    let Some(package) = f.package.as_deref() else { return false };
    ids.iter().any(|id| match purl(id) {
        Some(p) => {
            p.name.eq_ignore_ascii_case(package)
                && p.version.as_deref().is_none_or(|v| f.version.as_deref().is_some_and(|fv| fv == v))
        }
        None => id.trim() == package,
    })
}

/// The repository name and tag of an image reference: `ghcr.io/acme/api:1.2` -> (`api`, `1.2`).
fn image(target: &str) -> (&str, Option<&str>) {
    let target = target.split('@').next().unwrap_or(target);
    let last = target.rsplit('/').next().unwrap_or(target);
    match last.split_once(':') {
        Some((name, tag)) => (name, Some(tag)),
        None => (last, None),
    }
}

/// Whether one of a component's ids names the finding's target: the same string, or an OCI or
/// Docker purl of that image (in that repository and with that tag, when the purl gives them).
fn names_target(ids: &[String], f: &Finding) -> bool {
    let (name, tag) = image(&f.target);
    ids.iter().any(|id| {
        if id.trim() == f.target {
            return true;
        }
        let Some(p) = purl(id) else { return false };
        if !matches!(p.kind.as_str(), "oci" | "docker") || !p.name.eq_ignore_ascii_case(name) {
            return false;
        }
        if let Some(repository) = p.qualifiers.get("repository_url")
            && !repository.trim_end_matches('/').eq_ignore_ascii_case(&super::target_key(&f.target))
        {
            return false;
        }
        match (p.qualifiers.get("tag"), tag) {
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
            (None, _) => true,
        }
    })
}

impl Statement {
    /// Whether the statement speaks of this finding: the vulnerability by name or alias, and a
    /// product that is the finding's package, or its target (with the package among the
    /// product's subcomponents when it lists any).
    pub fn covers(&self, f: &Finding) -> bool {
        if !self.vulnerability.iter().any(|v| v.eq_ignore_ascii_case(&f.id)) {
            return false;
        }
        self.products.iter().any(|p| {
            names_package(&p.ids, f)
                || (names_target(&p.ids, f)
                    && (p.subcomponents.is_empty() || p.subcomponents.iter().any(|s| names_package(s, f))))
        })
    }

    /// Whether the statement excepts what it covers: not affected, or fixed.
    pub fn excepts(&self) -> bool {
        matches!(self.status.as_str(), "not_affected" | "fixed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, package: &str, version: &str, target: &str) -> Finding {
        Finding {
            tool: "Trivy".into(),
            kind: "vulnerability",
            id: id.into(),
            package: Some(package.into()),
            version: Some(version.into()),
            fixed_version: None,
            target: target.into(),
            instance: None,
            severity: super::super::ScanSeverity::High,
            title: String::new(),
            report: String::new(),
            assets: Vec::new(),
            scanned: super::super::target_key(target),
        }
    }

    const DOC: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://openvex.dev/docs/example/vex-1",
  "author": "Security team",
  "timestamp": "2026-09-01T10:00:00Z",
  "version": 1,
  "statements": [
    {
      "vulnerability": {"name": "CVE-2020-28196", "aliases": ["GHSA-xxxx"]},
      "products": [{"@id": "pkg:oci/teamdojo?tag=latest", "subcomponents": [{"@id": "pkg:apk/alpine/krb5-libs"}]}],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path"
    },
    {
      "vulnerability": {"name": "CVE-2019-12900"},
      "products": [{"@id": "pkg:apk/alpine/libbz2@1.0.6-r6"}],
      "status": "fixed",
      "timestamp": "2026-09-02T00:00:00Z"
    }
  ]
}"#;

    #[test]
    fn statements_cover_findings_by_package_or_by_image_and_subcomponent() {
        let d = parse(DOC, "vex.json").unwrap();
        assert_eq!(d.statements.len(), 2);
        assert_eq!(d.date.to_string(), "2026-09-01");
        let a = &d.statements[0];
        assert!(a.covers(&finding("CVE-2020-28196", "krb5-libs", "1.15.5-r0", "teamdojo:latest")));
        assert!(a.covers(&finding("GHSA-xxxx", "krb5-libs", "1.15.5-r0", "teamdojo:latest")), "by alias");
        assert!(!a.covers(&finding("CVE-2020-28196", "krb5-libs", "1.15.5-r0", "teamdojo:v2")), "another tag");
        assert!(!a.covers(&finding("CVE-2020-28196", "openssl", "1.1", "teamdojo:latest")), "another package");
        let in_repo = Statement {
            products: vec![Product {
                ids: vec!["pkg:oci/api?repository_url=ghcr.io/acme/api".into()],
                subcomponents: Vec::new(),
            }],
            ..a.clone()
        };
        assert!(in_repo.covers(&finding("CVE-2020-28196", "krb5-libs", "1", "ghcr.io/acme/api:1.4")));
        assert!(!in_repo.covers(&finding("CVE-2020-28196", "krb5-libs", "1", "ghcr.io/other/api:1.4")));
        let b = &d.statements[1];
        assert_eq!(b.date.to_string(), "2026-09-02");
        assert!(b.covers(&finding("CVE-2019-12900", "libbz2", "1.0.6-r6", "anything")));
        assert!(!b.covers(&finding("CVE-2019-12900", "libbz2", "1.0.6-r7", "anything")), "another version");
        assert!(a.excepts() && b.excepts());
    }

    #[test]
    fn invalid_documents_are_located() {
        let bad = DOC.replace("\"justification\": \"vulnerable_code_not_in_execute_path\"", "\"status_notes\": \"x\"");
        let problems = parse(&bad, "vex.json").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("justification"), "{}", problems[0].message);
        assert_eq!(&bad[problems[0].offset..problems[0].offset + 1], "{", "at the statement");
        let problems = parse("{\"@context\": \"https://openvex.dev/ns\",\n \"statements\": [", "v").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(parse(&DOC.replace("\"fixed\"", "\"patched\""), "v").is_err());
        assert!(parse(&DOC.replace("\"timestamp\": \"2026-09-01T10:00:00Z\",", ""), "v").is_err());
    }

    #[test]
    fn purls_are_read() {
        let p = purl("pkg:npm/%40angular/core@16.0.0?arch=x86#sub").unwrap();
        assert_eq!((p.kind.as_str(), p.name.as_str(), p.version.as_deref()), ("npm", "core", Some("16.0.0")));
        assert_eq!(p.qualifiers.get("arch").map(String::as_str), Some("x86"));
        assert!(purl("CVE-1").is_none());
    }
}
