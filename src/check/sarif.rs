//! SARIF 2.1.0 for GitHub code scanning: one run, the rules from the code registry (with help
//! and `security-severity`), one result per finding located in the repository.

use crate::diag::{Code, Diagnostic, Diagnostics, Severity};
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};

/// `base` is the project folder as given on the command line; locations are made relative to
/// the current folder (the repository root in CI), e.g. `evidence-samples/risks.json`.
pub fn sarif(diags: &Diagnostics, base: &Path) -> Value {
    let cwd = std::env::current_dir().ok();
    let rules: Vec<Value> = Code::ALL.iter().map(|&c| rule(c)).collect();
    let results: Vec<Value> = diags.sorted().into_iter().map(|d| result(d, base, cwd.as_deref())).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "auditpack",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// GitHub's bands: >= 7 high, >= 4 medium, else low.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "8.0",
        Severity::Warning => "5.0",
        Severity::Note => "2.0",
    }
}

fn rule(c: Code) -> Value {
    let name: String = c
        .as_str()
        .split('-')
        .map(|w| {
            let mut ch = w.chars();
            ch.next().map(|f| f.to_ascii_uppercase().to_string() + ch.as_str()).unwrap_or_default()
        })
        .collect();
    let help = format!("{}. See docs/diagnostics.md, section `{c}`, for an example and the fix.", c.summary());
    json!({
        "id": c.as_str(),
        "name": name,
        "shortDescription": { "text": c.summary() },
        "fullDescription": { "text": c.summary() },
        "help": { "text": help, "markdown": help },
        "defaultConfiguration": { "level": level(c.severity()) },
        "properties": {
            "tags": ["compliance", "soc2"],
            "security-severity": security_severity(c.severity()),
        }
    })
}

fn result(d: &Diagnostic, base: &Path, cwd: Option<&Path>) -> Value {
    let index = Code::ALL.iter().position(|&c| c == d.code);
    let mut message = d.message.clone();
    if let Some(h) = &d.hint {
        message.push_str(&format!(" (hint: {h})"));
    }
    // Code scanning needs a location on every result: the project file when the finding has none.
    let (file, line, col, end_col) = match &d.location {
        Some(l) => (l.file.clone(), l.line.unwrap_or(1), l.col.unwrap_or(1), l.end_col),
        None => (PathBuf::from(crate::project::CONFIG_FILE), 1, 1, None),
    };
    let mut region = json!({ "startLine": line.max(1), "startColumn": col.max(1) });
    if let Some(end) = end_col.filter(|&e| e > col) {
        region["endColumn"] = json!(end);
    }
    let mut r = json!({
        "ruleId": d.code,
        "level": level(d.severity),
        "message": { "text": message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&file, base, cwd) },
                "region": region
            }
        }]
    });
    if let (Some(i), Some(obj)) = (index, r.as_object_mut()) {
        obj.insert("ruleIndex".into(), json!(i));
    }
    r
}

/// A relative, `/`-separated, percent-encoded URI for `file` (relative to the project `base`).
pub fn uri(file: &Path, base: &Path, cwd: Option<&Path>) -> String {
    let full = if file.is_absolute() { file.to_path_buf() } else { base.join(file) };
    let rel = match (full.is_absolute(), cwd) {
        (true, Some(cwd)) => full.strip_prefix(cwd).map(Path::to_path_buf).unwrap_or(full.clone()),
        _ => full.clone(),
    };
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let joined = parts.join("/");
    let mut out = String::with_capacity(joined.len());
    for b in joined.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if rel.is_absolute() { format!("file:///{}", out.trim_start_matches('/')) } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_to_the_repository() {
        let cwd = Path::new("/repo");
        assert_eq!(
            uri(Path::new("risks.json"), Path::new("evidence-samples"), Some(cwd)),
            "evidence-samples/risks.json"
        );
        assert_eq!(uri(Path::new("risks.json"), Path::new("."), Some(cwd)), "risks.json");
        assert_eq!(uri(Path::new("a b.json"), Path::new("/repo/p"), Some(cwd)), "p/a%20b.json");
        assert_eq!(uri(Path::new("x.json"), Path::new("/elsewhere"), Some(cwd)), "file:///elsewhere/x.json");
    }
}
