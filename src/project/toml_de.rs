//! Reading TOML with every problem located: syntax errors, unknown keys (all of them, not just
//! the first) and type errors, each as a diagnostic with `file:line:col`.
//!
//! The document is parsed once into toml's spanned tree; each table that can fail on its own (a
//! section, one `[[control]]`) is deserialized separately, so one bad entry does not hide the
//! problems of the others.

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use serde::de::DeserializeOwned;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub type Value<'a> = Spanned<DeValue<'a>>;

/// Parses `src` as a TOML document; on a syntax error, reports it and returns `None`.
pub fn parse<'a>(src: &'a Source, diags: &mut Diagnostics) -> Option<Spanned<DeTable<'a>>> {
    match DeTable::parse(&src.text) {
        Ok(t) => Some(t),
        Err(e) => {
            let loc = e.span().map(|s| src.location(s.start)).unwrap_or_else(|| Location::file(src.path()));
            diags.push(
                Diagnostic::error(Code::TomlSyntax, format!("invalid TOML: {}", first_line(e.message())))
                    .at(loc)
                    .hint("fix the syntax at this place; see https://toml.io for the format"),
            );
            None
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

/// Looks up `key` in a spanned table.
pub fn get<'t, 'a>(table: &'t DeTable<'a>, key: &str) -> Option<&'t Value<'a>> {
    table.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v)
}

/// Reports every key of `table` that is not in `known`.
pub fn check_keys(src: &Source, table: &DeTable<'_>, known: &[&str], what: &str, diags: &mut Diagnostics) {
    for (k, _) in table.iter() {
        let name: &str = k.get_ref();
        if !known.contains(&name) {
            diags.push(unknown_key(src, k.span(), name, what, known));
        }
    }
}

fn unknown_key(src: &Source, span: Range<usize>, key: &str, what: &str, known: &[&str]) -> Diagnostic {
    let hint = match closest(key, known) {
        Some(k) => format!("did you mean `{k}`? Known keys {what}: {}", known.join(", ")),
        None => format!("known keys {what}: {}; see docs/project.md", known.join(", ")),
    };
    Diagnostic::error(Code::UnknownKey, format!("unknown key `{key}` {what}")).at(src.span(span)).hint(hint)
}

/// The known word nearest to `word` by edit distance, if it is plausibly a typo.
pub fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(&word.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j])).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Deserializes one value into `T`, reporting every unknown key in it and the first type error.
/// `what` names the value in messages (e.g. "in [audit]" or "in control #3").
pub fn deserialize<T: DeserializeOwned>(
    src: &Source,
    value: &Value<'_>,
    what: &str,
    known: &[&str],
    diags: &mut Diagnostics,
) -> Option<T> {
    let mut unknown: Vec<Vec<String>> = Vec::new();
    let de = ValueDeserializer::from(value.clone());
    let result: Result<T, _> = serde_ignored::deserialize(de, |path| unknown.push(segments(&path)));
    for path in unknown {
        let span = key_span(value, &path).unwrap_or(value.span());
        let key = path.join(".");
        // Only the top level of this value is listed in `known`; nested tables name their own.
        let known_here: &[&str] = if path.len() == 1 { known } else { &[] };
        diags.push(unknown_key(src, span, &key, what, known_here));
    }
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            let at = e.span().unwrap_or(value.span());
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("{} {what}", first_line(e.message())))
                    .at(src.span(at))
                    .hint("see docs/project.md for the keys and values this table takes"),
            );
            None
        }
    }
}

fn segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut v = segments(parent);
            v.push(index.to_string());
            v
        }
        Path::Map { parent, key } => {
            let mut v = segments(parent);
            v.push(key.clone());
            v
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => segments(parent),
    }
}

/// The span of the key at `path` (or of the element, for array indices).
fn key_span(value: &Value<'_>, path: &[String]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    match value.get_ref() {
        DeValue::Table(t) => {
            let (k, v) = t.iter().find(|(k, _)| k.get_ref().as_ref() == first.as_str())?;
            if rest.is_empty() { Some(k.span()) } else { key_span(v, rest) }
        }
        DeValue::Array(a) => {
            let v = a.get(first.parse::<usize>().ok()?)?;
            if rest.is_empty() { Some(v.span()) } else { key_span(v, rest) }
        }
        _ => None,
    }
}

/// The elements of an array-of-tables key such as `[[control]]`; reports a non-array value.
pub fn array<'t, 'a>(src: &Source, value: &'t Value<'a>, key: &str, diags: &mut Diagnostics) -> &'t [Value<'a>] {
    match value.get_ref() {
        DeValue::Array(a) => a,
        other => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` must be an array of tables, found a {}", other.type_str()),
                )
                .at(src.span(value.span()))
                .hint(format!("write each entry as a `[[{key}]]` table")),
            );
            &[]
        }
    }
}

/// A date written as a TOML date (`2026-06-30`) or a string (`"2026-06-30"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TomlDate(pub jiff::civil::Date);

impl<'de> serde::Deserialize<'de> for TomlDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TomlDate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a date such as 2026-06-30")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<TomlDate, E> {
                parse_date(s)
                    .map(TomlDate)
                    .ok_or_else(|| E::custom(format!("`{s}` is not a date of the form YYYY-MM-DD")))
            }
            // toml hands a datetime over as a one-entry map holding its text.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TomlDate, A::Error> {
                let _key: Option<String> = map.next_key()?;
                let text: String = map.next_value()?;
                self.visit_str(&text)
            }
        }
        d.deserialize_any(V)
    }
}

/// `YYYY-MM-DD`, nothing else (a time or offset is refused: audit dates are days).
pub fn parse_date(s: &str) -> Option<jiff::civil::Date> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        assert_eq!(closest("titel", &["id", "title", "criteria"]), Some("title"));
        assert_eq!(closest("zzzzzz", &["id", "title"]), None);
    }

    #[test]
    fn dates_are_days_only() {
        assert!(parse_date("2026-06-30").is_some());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("2026-06-30T10:00:00").is_none());
    }
}
