//! Diagnostics: problems in the user's compliance data, as opposed to failures of the tool.
//!
//! Every stage adds to a [`Diagnostics`] list instead of returning early, so one run reports every
//! problem. Each diagnostic has a stable kebab-case code (documented in docs/diagnostics.md), a
//! severity, an optional `file:line:col` location and a hint saying how to fix it.

pub mod codes;
pub mod render;

pub use codes::Code;

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// A place in a user file. `line` and `col` are 1-based; `col` counts characters. `end_col`, when
/// known, is the column just after the offending text on the same line (a span), for the caret
/// under the source line; it is never printed in the one-line form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub col: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_col: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location { file: file.into(), line: None, col: None, end_col: None }
    }
    /// Line `line`, column `col` of `file` (both 1-based).
    pub fn at(file: impl Into<PathBuf>, line: usize, col: usize) -> Self {
        Location { file: file.into(), line: Some(line), col: Some(col), end_col: None }
    }
}

/// `s` with every control character escaped (`\u{1b}`, `\0`, `\n` ...): names from archives and
/// projects are printed this way, so no raw ESC or NUL reaches the terminal. `keep_lines` leaves
/// line breaks and tabs alone, for messages that are laid out on several lines.
pub fn escape_controls(s: &str, keep_lines: bool) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !(keep_lines && (c == '\n' || c == '\t'));
    if !s.chars().any(escaped) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escaped(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A path as printed to the terminal: lossy UTF-8, control characters escaped.
pub fn shown(path: &Path) -> String {
    escape_controls(&path.to_string_lossy(), false).into_owned()
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", shown(&self.file))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.col {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic { code, severity, message: message.into(), location: None, hint: None }
    }
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }
    pub fn note(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Note, message)
    }
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
    pub fn at_file(self, file: impl Into<PathBuf>) -> Self {
        self.at(Location::file(file))
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl Diagnostic {
    /// The one-line form, `file:line:col: severity[code]: message`, without the hint.
    pub fn headline(&self) -> String {
        let at = self.location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
        format!("{at}{}[{}]: {}", self.severity, self.code, escape_controls(&self.message, true))
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: severity[code]: message` then an indented hint, like a compiler.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {}", escape_controls(hint, true))?;
        }
        Ok(())
    }
}

/// The diagnostics of one run, in the order they were found.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// Codes whose notes are only counted, not kept (see [`Diagnostics::count_notes_only`]).
    count_only: Vec<Code>,
    counted: usize,
}

impl Serialize for Diagnostics {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(s)
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        if d.severity == Severity::Note && self.count_only.contains(&d.code) {
            self.counted += 1;
        } else {
            self.list.push(d);
        }
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.counted += other.counted;
        for d in other.list {
            self.push(d);
        }
    }
    /// From now on, notes with `code` are counted but not kept: for a run that will not show
    /// them (no `--verbose`) and may make one per evidence file. Only for a code whose level the
    /// project leaves alone, so that such a note stays a note.
    pub fn count_notes_only(&mut self, code: Code) {
        self.count_only.push(code);
    }
    /// The notes counted but not kept.
    pub fn counted_notes(&self) -> usize {
        self.counted
    }
    /// Replaces each diagnostic by `f` of it (dropped when `None`); counted notes stay counted.
    pub fn map(self, f: impl FnMut(Diagnostic) -> Option<Diagnostic>) -> Diagnostics {
        Diagnostics { list: self.list.into_iter().filter_map(f).collect(), ..self }
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }
    pub fn len(&self) -> usize {
        self.list.len() + self.counted
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn count(&self, severity: Severity) -> usize {
        let counted = if severity == Severity::Note { self.counted } else { 0 };
        self.list.iter().filter(|d| d.severity == severity).count() + counted
    }
    /// Stable order for output: by file, line, column, then code name.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.list.iter().collect();
        v.sort_by(|a, b| a.location.cmp(&b.location).then(a.code.cmp(&b.code)));
        v
    }
}

/// The text of one user file, kept to turn byte offsets into line and column.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path as shown to the user (relative to the project when possible).
    pub display: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(display: impl Into<PathBuf>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source { display: display.into(), text, line_starts }
    }

    /// The location of byte `offset` (clamped to the text).
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().count() + 1;
        Location::at(self.display.clone(), line + 1, col)
    }

    /// The location of the text at `span`, with its end column when the span ends on the line it
    /// starts on (a span across lines is marked from its start to the end of that line).
    pub fn span(&self, span: std::ops::Range<usize>) -> Location {
        let start = self.location(span.start);
        let end = self.location(span.end.max(span.start));
        let end_col = if end.line == start.line { end.col } else { None };
        Location { end_col: end_col.filter(|&e| Some(e) > start.col), ..start }
    }

    pub fn path(&self) -> &Path {
        &self.display
    }

    /// The text of line `number` (1-based) without its line break; `None` past the last line.
    pub fn line(&self, number: usize) -> Option<&str> {
        let start = *self.line_starts.get(number.checked_sub(1)?)?;
        if start == self.text.len() && start > 0 {
            return None; // after the final line break
        }
        let end = self.line_starts.get(number).copied().unwrap_or(self.text.len());
        let line = &self.text[start..end];
        let line = line.strip_suffix('\n').unwrap_or(line);
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_lines_and_char_columns() {
        let s = Source::new("a.toml", "ab\nçd = 1\n".to_string());
        assert_eq!(s.location(0).line, Some(1));
        let l = s.location(5); // 'd' after the two-byte 'ç'
        assert_eq!((l.line, l.col), (Some(2), Some(2)));
        assert_eq!(s.location(999).line, Some(3));
        let span = s.span(3..5); // "ç" -> column 1, up to column 2
        assert_eq!((span.line, span.col, span.end_col), (Some(2), Some(1), Some(2)));
        assert_eq!(s.span(3..7).end_col, Some(4));
        assert_eq!(s.span(0..7).end_col, None, "a span across lines has no end column");
    }

    #[test]
    fn control_characters_in_names_never_reach_the_terminal() {
        let d = Diagnostic::error(Code::UnlistedFile, "the entry `a\u{1b}[2Jb\0` is bad")
            .at(Location::file("evil\u{1b}]0;title\u{7}\nname"));
        let text = d.to_string();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert_eq!(text, "evil\\u{1b}]0;title\\u{7}\\nname: error[unlisted-file]: the entry `a\\u{1b}[2Jb\\0` is bad");
    }

    #[test]
    fn display_reads_like_a_compiler() {
        let d = Diagnostic::error(Code::UnknownKey, "unknown key `titel`")
            .at(Location::at("controls.toml", 3, 1))
            .hint("did you mean `title`?");
        assert_eq!(
            d.to_string(),
            "controls.toml:3:1: error[unknown-key]: unknown key `titel`\n  = hint: did you mean `title`?"
        );
    }
}
