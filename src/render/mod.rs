//! Sixth stage: render the report model. Templates (tera) turn it into Markdown; that Markdown
//! is parsed once into a [`doc::Document`], from which HTML and PDF are both drawn.
//!
//! Built-in templates are embedded; a project's `templates/` folder overrides them by name.

pub mod charts;
pub mod doc;
pub mod html;
pub mod markdown;
pub mod pdf;

use crate::Error;
use std::collections::BTreeMap;
use std::path::Path;

/// The built-in templates, by name. `auditpack templates DIR` writes them out for editing.
pub const BUILTIN: &[(&str, &str)] = &[
    ("report.md", include_str!("../../templates/report.md")),
    ("auditor.md", include_str!("../../templates/auditor.md")),
    ("assertion.md", include_str!("../../templates/assertion.md")),
    ("description.md", include_str!("../../templates/description.md")),
    ("describe.md", include_str!("../../templates/describe.md")),
    ("controls.md", include_str!("../../templates/controls.md")),
    ("other-information.md", include_str!("../../templates/other-information.md")),
    ("risk.md", include_str!("../../templates/risk.md")),
    ("evidence-index.md", include_str!("../../templates/evidence-index.md")),
];

pub struct Templates {
    tera: tera::Tera,
    /// Names that came from the project, for `--verbose` output and tests.
    pub overridden: Vec<String>,
}

impl Templates {
    /// The built-in templates, then the project's `*.md` files in `dir` (same name wins).
    pub fn load(dir: Option<&Path>) -> Result<Self, Error> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        tera.register_filter("md", filter(markdown::escape));
        tera.register_filter("cell", filter(markdown::escape_cell));
        tera.register_filter("code", filter(markdown::code_span));
        tera.register_filter("code_cell", filter(markdown::code_cell));
        tera.register_filter("anchor", anchor_filter);
        tera.register_filter("id", filter(|s| format!("{{#{}}}", crate::report::anchor_slug(s))));
        tera.register_filter("bytes", bytes_filter);
        tera.register_filter("demote", demote_filter);
        let mut sources: BTreeMap<String, String> =
            BUILTIN.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
        let mut overridden = Vec::new();
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            let rd = std::fs::read_dir(dir).map_err(|e| Error::io("list templates in", dir, e))?;
            let mut files: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            files.sort();
            for p in files {
                if p.extension().is_some_and(|x| x == "md") && p.is_file() {
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let text = std::fs::read_to_string(&p).map_err(|e| Error::io("read template", &p, e))?;
                    overridden.push(name.clone());
                    sources.insert(name, text);
                }
            }
        }
        tera.add_raw_templates(sources.iter().map(|(n, s)| (n.as_str(), s.as_str())))
            .map_err(|e| Error::Template { name: "templates".into(), message: tera_message(&e) })?;
        Ok(Templates { tera, overridden })
    }

    /// Renders template `name` with `value` as its context (the report model's fields at top level).
    pub fn render<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<String, Error> {
        let ctx = tera::Context::from_serialize(value)
            .map_err(|e| Error::Template { name: name.into(), message: tera_message(&e) })?;
        let text = self
            .tera
            .render(name, &ctx)
            .map_err(|e| Error::Template { name: name.into(), message: tera_message(&e) })?;
        Ok(tidy(&text))
    }
}

/// Template logic leaves runs of blank lines; keep at most one, except inside code blocks
/// (fenced or indented, as the parser finds them).
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = true; // also drops blank lines at the top
    let code = markdown::code_block_ranges(text);
    let mut offset = 0;
    for line in text.lines() {
        let at = offset;
        offset += line.len() + 1;
        let in_code = code.iter().any(|r| r.start < at && at < r.end);
        if !in_code && line.trim().is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        blank = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// tera's error with its causes, which hold the useful part (line, variable name).
fn tera_message(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn filter(f: fn(&str) -> String) -> impl tera::Filter {
    move |v: &tera::Value, _: &std::collections::HashMap<String, tera::Value>| -> tera::Result<tera::Value> {
        let s = match v {
            tera::Value::String(s) => s.clone(),
            tera::Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(tera::Value::String(f(&s)))
    }
}

/// `{{ id | anchor(prefix="criterion") }}` -> `criterion-cc6-1`, the anchor the report model uses.
fn anchor_filter(v: &tera::Value, args: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let id = v.as_str().unwrap_or_default();
    Ok(tera::Value::String(match args.get("prefix").and_then(|p| p.as_str()) {
        Some(prefix) => crate::report::anchor(prefix, id),
        None => crate::report::anchor_slug(id),
    }))
}

/// `{{ narrative | demote(by=3) }}`: pushes the headings of user Markdown down so they nest
/// under the template's own (a narrative's `#` becomes `####`).
fn demote_filter(v: &tera::Value, args: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let by = args.get("by").and_then(|b| b.as_u64()).unwrap_or(2) as usize;
    Ok(tera::Value::String(markdown::demote_headings(v.as_str().unwrap_or_default(), by)))
}

fn bytes_filter(v: &tera::Value, _: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let n = v.as_u64().unwrap_or(0);
    Ok(tera::Value::String(human_bytes(n)))
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Writes the built-in templates into `dir` for editing; existing files are left alone.
/// Returns the names written.
pub fn write_defaults(dir: &Path) -> Result<Vec<String>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut written = Vec::new();
    for (name, text) in BUILTIN {
        let p = dir.join(name);
        if p.exists() {
            continue;
        }
        std::fs::write(&p, text).map_err(|e| Error::io("write", &p, e))?;
        written.push(name.to_string());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_templates_override_builtins_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("evidence-index.md"), "custom {{ meta.organisation | md }}").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(t.overridden, ["evidence-index.md"]);
        let out = t.render("evidence-index.md", &serde_json::json!({"meta": {"organisation": "A*B"}})).unwrap();
        assert_eq!(out, "custom A\\*B\n");
    }

    #[test]
    fn a_broken_template_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("controls.md"), "{% for x in %}").unwrap();
        let err = Templates::load(Some(dir.path())).err().expect("parse error");
        assert!(err.to_string().contains("controls.md"), "{err}");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
