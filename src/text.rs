//! Text forms every stage shares: hex digests, paths with `/`, anchors, dates in words. Part of the ground
//! floor (with `diag`, `error`, `fsutil`, `model`, `output`): it depends on nothing else in the
//! crate.

use std::path::Path;

/// A relative path with `/` between its components, as the evidence index, the bag and the
/// reports name files on every platform.
pub fn slash(p: &Path) -> String {
    p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Lower-case hex, as SHA-256 digests are written everywhere.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// An anchor from text: lower-case ASCII words joined by `-` (`CC6.1` -> `cc6-1`, `1.2 Scope` ->
/// `1-2-scope`), `section` when no letter or digit is left. The one slug: Markdown headings,
/// the report's anchors for ids (and so the HTML ids and PDF link targets made from them) and the
/// package's name all use it. Applied to its own result it changes nothing.
pub fn slug(text: &str) -> String {
    let mut s = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "section".to_string() } else { s }
}

/// "30 June 2026"
pub fn long_date(d: jiff::civil::Date) -> String {
    d.strftime("%-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slug_for_headings_anchors_and_names() {
        assert_eq!(slug("CC6.1"), "cc6-1");
        assert_eq!(slug("1.2 Scope of the System"), "1-2-scope-of-the-system");
        assert_eq!(slug("Nimbus Analytics, Inc."), "nimbus-analytics-inc");
        assert_eq!(slug(" — "), "section");
        // The `id` filter slugs an anchor the report made already: the heading keeps the anchor
        // its links name.
        for s in ["AC-01", "CC6.1", "R..1_x", " Über café ", "control-cc6-1"] {
            let once = slug(s);
            assert_eq!(slug(&once), once, "{s}");
        }
    }
}
