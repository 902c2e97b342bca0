//! Diagnostics on the terminal: the one-line form `file:line:col: severity[code]: message` first
//! (what scripts and editors match, and all that `--format` machine outputs carry), then, where
//! the diagnostic points into a project file auditpack can read, that source line with a caret
//! under the offending text, and the hint. annotate-snippets draws the line and the caret.

use super::{Code, Diagnostic, Location, Severity, Source, escape_controls};
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use std::path::{Path, PathBuf};

/// Source lines longer than this are not shown (a minified JSON file would fill the screen).
const MAX_LINE: usize = 300;
/// Files larger than this are not read for their line.
const MAX_FILE: u64 = 16 << 20;

/// `d` as shown on the terminal; `line` is the text of the line `d` points at, if it was read.
pub fn render(d: &Diagnostic, line: Option<&str>) -> String {
    let snippet = match (line, d.location.as_ref().and_then(|l| Some((l.line?, l.col?, l.end_col)))) {
        (Some(text), Some((number, col, end_col))) => Some((text, number, col, end_col)),
        _ => None,
    };
    let Some((text, number, col, end_col)) = snippet else {
        return d.to_string();
    };
    let mut out = d.headline();
    let hint = d.hint.as_deref().map(|h| escape_controls(h, true));
    let span = char_span(text, col, end_col);
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    let mut group = Group::with_level(level)
        .element(Snippet::source(text).line_start(number).annotation(AnnotationKind::Primary.span(span)));
    if let Some(hint) = &hint {
        group = group.element(Level::HELP.with_name(Some("hint")).message(hint.as_ref()));
    }
    out.push('\n');
    out.push_str(&Renderer::plain().render(&[group]));
    out
}

/// The byte range of columns `col..end_col` (1-based, in characters) of `text`; one character
/// (or the end of the line) when there is no end column.
fn char_span(text: &str, col: usize, end_col: Option<usize>) -> std::ops::Range<usize> {
    let byte = |c: usize| text.char_indices().nth(c.saturating_sub(1)).map_or(text.len(), |(i, _)| i);
    let start = byte(col);
    let end = match end_col {
        Some(e) if e > col => byte(e),
        _ => text[start..].chars().next().map_or(start, |c| start + c.len_utf8()),
    };
    start..end
}

/// The lines diagnostics point at, read from the project folder: each file read once (the
/// diagnostics come sorted by file), and only a regular file of at most 16 MiB in UTF-8. A line is
/// given only if it has at most 300 characters and no control character but a tab, and never for
/// a diagnostic about a secret, whose line is the secret.
pub struct SourceLines<'r> {
    root: &'r Path,
    /// The file read last: its path, and its text, if it could be read.
    current: Option<(PathBuf, Option<Source>)>,
}

impl<'r> SourceLines<'r> {
    pub fn new(root: &'r Path) -> Self {
        SourceLines { root, current: None }
    }

    /// The text of the line `d` points at, if it may be shown.
    pub fn line(&mut self, d: &Diagnostic) -> Option<String> {
        let loc: &Location = d.location.as_ref()?;
        if matches!(d.code, Code::SecretInEvidence | Code::SecretInProject | Code::CollectorSecret) {
            return None;
        }
        let number = loc.line?;
        loc.col?;
        let path = if loc.file.is_absolute() { loc.file.clone() } else { self.root.join(&loc.file) };
        if self.current.as_ref().is_none_or(|(p, _)| *p != path) {
            let text = crate::fsutil::read_limited(&path, MAX_FILE).ok().and_then(|b| String::from_utf8(b).ok());
            self.current = Some((path.clone(), text.map(|t| Source::new(&path, t))));
        }
        let line = self.current.as_ref()?.1.as_ref()?.line(number)?;
        let line = if number == 1 { line.strip_prefix('\u{feff}').unwrap_or(line) } else { line };
        if line.chars().count() > MAX_LINE || line.chars().any(|c| c.is_control() && c != '\t') {
            return None;
        }
        Some(line.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown_key() -> Diagnostic {
        let mut at = Location::at("controls.toml", 3, 1);
        at.end_col = Some(6);
        Diagnostic::error(Code::UnknownKey, "unknown key `titel` in control AC-01").at(at).hint("did you mean `title`?")
    }

    #[test]
    fn the_line_and_a_caret_under_the_span_follow_the_one_line_form() {
        let text = render(&unknown_key(), Some("titel = \"Access reviews\""));
        assert_eq!(
            text,
            "controls.toml:3:1: error[unknown-key]: unknown key `titel` in control AC-01\n  |\n3 | titel = \"Access reviews\"\n  | ^^^^^\n  |\n  = hint: did you mean `title`?"
        );
    }

    #[test]
    fn without_the_line_it_is_the_one_line_form_and_the_hint() {
        assert_eq!(
            render(&unknown_key(), None),
            "controls.toml:3:1: error[unknown-key]: unknown key `titel` in control AC-01\n  = hint: did you mean `title`?"
        );
        assert_eq!(render(&unknown_key(), None), unknown_key().to_string());
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(char_span("é = 1", 1, Some(2)), 0..2);
        assert_eq!(char_span("a = é", 5, None), 4..6);
        assert_eq!(char_span("ab", 3, None), 2..2, "a column just past the end marks the end");
    }

    #[test]
    fn lines_are_read_only_where_safe() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("controls.toml"), "[[control]]\r\nid = \"AC-01\"\n\ntitel = \"x\"\n").unwrap();
        let at = |line| Diagnostic::error(Code::UnknownKey, "m").at(Location::at("controls.toml", line, 1));
        let mut lines = SourceLines::new(dir.path());
        assert_eq!(lines.line(&at(2)).as_deref(), Some("id = \"AC-01\""));
        assert_eq!(lines.line(&at(1)).as_deref(), Some("[[control]]"));
        assert_eq!(lines.line(&at(3)).as_deref(), Some(""));
        assert_eq!(lines.line(&at(4)).as_deref(), Some("titel = \"x\""));
        assert_eq!(lines.line(&at(5)), None, "past the end");
        assert_eq!(lines.line(&at(0)), None);
        let secret = Diagnostic::error(Code::SecretInProject, "m").at(Location::at("controls.toml", 2, 1));
        assert_eq!(lines.line(&secret), None, "a secret's line is never printed");
        std::fs::write(dir.path().join("esc.toml"), "a = \"\u{1b}[2J\"\n").unwrap();
        let esc = Diagnostic::error(Code::TomlSyntax, "m").at(Location::at("esc.toml", 1, 1));
        assert_eq!(lines.line(&esc), None, "control characters never reach the terminal");
        let folder = Diagnostic::error(Code::TomlSyntax, "m").at(Location::at(".", 1, 1));
        assert_eq!(lines.line(&folder), None);
        assert_eq!(lines.line(&at(2)).as_deref(), Some("id = \"AC-01\""), "back to the first file");
    }
}
