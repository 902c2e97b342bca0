//! The docs stay true: every diagnostic code the code can emit is documented.

use crate::harness::{repo, rust_files};

/// Codes in `Diagnostic::error("code"` (and warning/note/new) calls and `=> "code"` arms.
fn codes_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["Diagnostic::error(", "Diagnostic::warning(", "Diagnostic::note(", "=> \""] {
        let mut rest = text;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            let s = rest.trim_start().trim_start_matches('"');
            let code: String =
                s.chars().take_while(|c| c.is_ascii_lowercase() || *c == '-' || c.is_ascii_digit()).collect();
            if code.contains('-') && s[code.len()..].starts_with('"') {
                out.push(code);
            }
        }
    }
    out
}

#[test]
fn every_diagnostic_code_is_documented() {
    let docs = std::fs::read_to_string(repo().join("docs/diagnostics.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let mut missing = Vec::new();
    let mut seen = 0;
    for f in files {
        for code in codes_in(&std::fs::read_to_string(&f).unwrap()) {
            seen += 1;
            if !docs.contains(&format!("`{code}`")) {
                missing.push(format!("{code} ({})", f.display()));
            }
        }
    }
    assert!(seen > 30, "the scan found the codes ({seen})");
    assert!(missing.is_empty(), "undocumented diagnostic codes: {missing:?}");
}
