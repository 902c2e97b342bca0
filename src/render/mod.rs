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
    ("annex.md", include_str!("../../templates/annex.md")),
    ("gap-analysis.md", include_str!("../../templates/gap-analysis.md")),
    ("risk.md", include_str!("../../templates/risk.md")),
    ("control-evidence.md", include_str!("../../templates/control-evidence.md")),
    ("populations.md", include_str!("../../templates/populations.md")),
    ("snapshots.md", include_str!("../../templates/snapshots.md")),
    ("responses.md", include_str!("../../templates/responses.md")),
    ("evidence-index.md", include_str!("../../templates/evidence-index.md")),
];

/// How deep `{% include %}`s may nest: far beyond what the built-in templates use (two).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Refuses a template that includes itself, directly or through others, or includes nested
/// deeper than [`MAX_INCLUDE_DEPTH`]: tera would recurse until the stack overflows and the
/// process aborts. The error names the template and the line of the include.
fn check_includes(sources: &BTreeMap<String, String>) -> Result<(), Error> {
    let include = regex::Regex::new(r#"\{%-?\s*include\s+"([^"]+)""#).expect("a valid pattern");
    // name -> [(included, line)]
    let edges: BTreeMap<&str, Vec<(String, usize)>> = sources
        .iter()
        .map(|(name, text)| {
            let list = include
                .captures_iter(text)
                .map(|c| {
                    let at = c.get(0).map(|m| m.start()).unwrap_or(0);
                    (c[1].to_string(), text[..at].matches('\n').count() + 1)
                })
                .collect();
            (name.as_str(), list)
        })
        .collect();
    fn visit<'a>(
        name: &'a str,
        edges: &'a BTreeMap<&str, Vec<(String, usize)>>,
        stack: &mut Vec<(&'a str, usize)>,
    ) -> Result<(), Error> {
        for (next, line) in edges.get(name).into_iter().flatten() {
            let chain = || {
                let mut names: Vec<String> = stack.iter().map(|(n, l)| format!("{n}:{l}")).collect();
                names.push(format!("{name}:{line}"));
                names.push(next.clone());
                names.join(" -> ")
            };
            if next == name || stack.iter().any(|(n, _)| n == next) {
                return Err(Error::Template {
                    name: name.to_string(),
                    message: format!(
                        "line {line}: `{{% include \"{next}\" %}}` includes a template that includes it back ({}); an include cycle never ends",
                        chain()
                    ),
                });
            }
            if stack.len() + 1 >= MAX_INCLUDE_DEPTH {
                return Err(Error::Template {
                    name: name.to_string(),
                    message: format!("line {line}: includes nest deeper than {MAX_INCLUDE_DEPTH} ({})", chain()),
                });
            }
            stack.push((name, *line));
            visit(next.as_str(), edges, stack)?;
            stack.pop();
        }
        Ok(())
    }
    for name in edges.keys() {
        visit(name, &edges, &mut Vec::new())?;
    }
    Ok(())
}

/// Refuses macros that call themselves, directly or through other macros: tera has no depth
/// limit for macro calls, so a recursive macro overflows the stack and aborts the process (no
/// error, no message) whatever the data. The report model has no recursive structure, so no
/// template needs recursion. Calls are `NS::name(` inside a macro body, where `NS` is `self` or a
/// namespace of `{% import "FILE" as NS %}` in the same template. The error names the template,
/// the line of the call and the chain of calls.
fn check_macros(sources: &BTreeMap<String, String>) -> Result<(), Error> {
    let define = regex::Regex::new(r"\{%-?\s*macro\s+(\w+)\s*\(").expect("a valid pattern");
    let end = regex::Regex::new(r"\{%-?\s*endmacro").expect("a valid pattern");
    let import = regex::Regex::new(r#"\{%-?\s*import\s+"([^"]+)"\s+as\s+(\w+)"#).expect("a valid pattern");
    let call = regex::Regex::new(r"\b(\w+)::(\w+)\s*\(").expect("a valid pattern");
    let line_of = |text: &str, at: usize| text[..at].matches('\n').count() + 1;
    // (template, macro) -> [((template, macro) called, line of the call)]
    type Node = (String, String);
    let mut edges: BTreeMap<Node, Vec<(Node, usize)>> = BTreeMap::new();
    for (name, text) in sources {
        let namespaces: BTreeMap<&str, &str> = import
            .captures_iter(text)
            .filter_map(|c| Some((c.get(2)?.as_str(), c.get(1)?.as_str())))
            .chain([("self", name.as_str())])
            .collect();
        for d in define.captures_iter(text) {
            let (Some(whole), Some(m)) = (d.get(0), d.get(1)) else { continue };
            let body_end = end.find_at(text, whole.end()).map(|e| e.start()).unwrap_or(text.len());
            let body = &text[whole.end()..body_end];
            let calls = call
                .captures_iter(body)
                .filter_map(|c| {
                    let file = namespaces.get(c.get(1)?.as_str())?;
                    let at = whole.end() + c.get(0)?.start();
                    Some(((file.to_string(), c[2].to_string()), line_of(text, at)))
                })
                .collect();
            edges.insert((name.clone(), m.as_str().to_string()), calls);
        }
    }
    fn visit<'a>(
        node: &'a Node,
        edges: &'a BTreeMap<Node, Vec<(Node, usize)>>,
        stack: &mut Vec<(&'a Node, usize)>,
        done: &mut std::collections::BTreeSet<&'a Node>,
    ) -> Result<(), Error> {
        if done.contains(node) {
            return Ok(());
        }
        for (next, line) in edges.get(node).into_iter().flatten() {
            if next == node || stack.iter().any(|(n, _)| *n == next) {
                let mut chain: Vec<String> = stack.iter().map(|((t, m), l)| format!("{t}:{l} {m}")).collect();
                chain.push(format!("{}:{line} {}", node.0, node.1));
                chain.push(next.1.clone());
                return Err(Error::Template {
                    name: node.0.clone(),
                    message: format!(
                        "line {line}: macro `{}` calls `{}`, which calls it back ({}); tera has no limit on macro recursion, so templates may not recurse",
                        node.1,
                        next.1,
                        chain.join(" -> ")
                    ),
                });
            }
            stack.push((node, *line));
            visit(next, edges, stack, done)?;
            stack.pop();
        }
        done.insert(node);
        Ok(())
    }
    let mut done = std::collections::BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

/// The documents rendered from the one report model, by the template each starts from. A
/// template sees which one it is rendering as `document`, so a part shared by two documents
/// (the system description) links only to sections the document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// The draft SOC 2 report (`report.md`): for customers under NDA.
    Report,
    /// The auditor's annex (`annex.md`): readiness material for management and the auditor.
    Annex,
    /// The system description alone (`describe.md`).
    Describe,
}

impl DocumentKind {
    pub fn template(self) -> &'static str {
        match self {
            DocumentKind::Report => "report.md",
            DocumentKind::Annex => "annex.md",
            DocumentKind::Describe => "describe.md",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DocumentKind::Report => "report",
            DocumentKind::Annex => "annex",
            DocumentKind::Describe => "describe",
        }
    }
}

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
        tera.register_filter("id", filter(|s| format!("{{#{}}}", crate::text::slug(s))));
        tera.register_filter("bytes", bytes_filter);
        tera.register_filter("demote", demote_filter);
        let mut sources: BTreeMap<String, String> =
            BUILTIN.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
        let mut overridden = Vec::new();
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            std::fs::read_dir(dir).map_err(|e| Error::io("list templates in", dir, e))?;
            for p in Self::override_files(dir) {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let bytes = crate::fsutil::read_limited(&p, crate::project::MAX_FILE_BYTES)
                    .map_err(|e| Error::io("read template", &p, e))?;
                let text = String::from_utf8(bytes).map_err(|e| {
                    Error::io("read template", &p, std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                })?;
                overridden.push(name.clone());
                sources.insert(name, text);
            }
        }
        check_includes(&sources)?;
        check_macros(&sources)?;
        tera.add_raw_templates(sources.iter().map(|(n, s)| (n.as_str(), s.as_str())))
            .map_err(|e| Error::Template { name: "templates".into(), message: tera_message(&e) })?;
        Ok(Templates { tera, overridden })
    }

    /// The project's template overrides in `dir`: every `*.md` entry that is a file, sorted (what
    /// [`Templates::load`] reads, and what a snapshot records).
    pub fn override_files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "md") && p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Renders template `name` with `value` as its context (the report model's fields at top level).
    pub fn render<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<String, Error> {
        self.render_as(name, value, None)
    }

    /// Renders document `kind` from the report model; `document` in the context names it.
    pub fn render_document<T: serde::Serialize>(&self, kind: DocumentKind, value: &T) -> Result<String, Error> {
        self.render_as(kind.template(), value, Some(kind))
    }

    fn render_as<T: serde::Serialize>(
        &self,
        name: &str,
        value: &T,
        kind: Option<DocumentKind>,
    ) -> Result<String, Error> {
        let mut ctx = tera::Context::from_serialize(value)
            .map_err(|e| Error::Template { name: name.into(), message: tera_message(&e) })?;
        ctx.insert("document", kind.map_or("", DocumentKind::name));
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
        if in_code {
            out.push_str(line);
        } else {
            single_full_stop(line, &mut out);
        }
        out.push('\n');
    }
    out
}

/// A name that ends with a full stop ("Inc.") at the end of a sentence the template closes gets
/// one full stop, not two: "Inc.." becomes "Inc.". An ellipsis and code spans are left alone.
fn single_full_stop(line: &str, out: &mut String) {
    let b = line.as_bytes();
    let mut in_code = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'`' {
            in_code = !in_code;
        }
        let doubled = !in_code
            && c == b'.'
            && i > 0
            && b[i - 1].is_ascii_alphabetic()
            && b.get(i + 1) == Some(&b'.')
            && b.get(i + 2).is_none_or(|n| n.is_ascii_whitespace() || matches!(n, b'*' | b')' | b'|'));
        if doubled {
            out.push('.');
            i += 2;
            continue;
        }
        let ch_len = line[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&line[i..i + ch_len]);
        i += ch_len;
    }
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
        None => crate::text::slug(id),
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
    fn a_recursive_template_is_an_error_with_its_line_not_a_stack_overflow() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("controls.md"), "# Controls\n\n{% include \"controls.md\" %}\n").unwrap();
        let err = Templates::load(Some(dir.path())).err().expect("refused");
        let text = err.to_string();
        assert!(text.contains("controls.md") && text.contains("line 3") && text.contains("cycle"), "{text}");
        // Through another template.
        std::fs::write(dir.path().join("controls.md"), "{% include \"risk.md\" %}").unwrap();
        std::fs::write(dir.path().join("risk.md"), "x\n{%- include \"controls.md\" -%}").unwrap();
        let text = Templates::load(Some(dir.path())).err().expect("refused").to_string();
        assert!(text.contains("cycle") && text.contains("risk.md:2"), "{text}");
    }

    #[test]
    fn a_recursive_macro_is_an_error_with_its_line_not_a_stack_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let self_call =
            "{% macro walk(n) %}\n{{ n }}\n{{ self::walk(n=n) }}\n{% endmacro walk %}\n{{ self::walk(n=1) }}\n";
        std::fs::write(dir.path().join("controls.md"), self_call).unwrap();
        let text = Templates::load(Some(dir.path())).err().expect("refused").to_string();
        assert!(text.contains("controls.md") && text.contains("line 3") && text.contains("`walk`"), "{text}");
        // Through a macro of an imported template.
        std::fs::write(dir.path().join("controls.md"), "{% import \"m.md\" as m %}{{ m::a() }}").unwrap();
        std::fs::write(
            dir.path().join("m.md"),
            "{% macro a() %}{{ self::b() }}{% endmacro a %}\n{% macro b() %}\n{{ self::a() }}{% endmacro b %}",
        )
        .unwrap();
        let text = Templates::load(Some(dir.path())).err().expect("refused").to_string();
        assert!(text.contains("m.md") && text.contains("calls it back"), "{text}");
        // Macros calling other macros without a cycle are fine.
        std::fs::write(
            dir.path().join("m.md"),
            "{% macro a() %}{{ self::b() }}{{ self::b() }}{% endmacro a %}{% macro b() %}b{% endmacro b %}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).expect("accepted");
        assert!(t.overridden.contains(&"m.md".to_string()));
    }

    #[test]
    fn an_abbreviation_ends_a_sentence_with_one_full_stop() {
        assert_eq!(
            tidy("the controls at Nimbus Analytics, Inc.. These are\n"),
            "the controls at Nimbus Analytics, Inc. These are\n"
        );
        assert_eq!(tidy("Inc..\n"), "Inc.\n");
        assert_eq!(tidy("wait... and `a..` and x..y\n"), "wait... and `a..` and x..y\n");
        assert_eq!(tidy("```\nInc.. \n```\n"), "```\nInc.. \n```\n");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
