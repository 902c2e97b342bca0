//! Checks every kind of entry shares: ids, criterion lists, words from a fixed set, the id of a
//! table that did not load, and TOML quoted for hints.

use super::raw::S;
use super::toml_de;
use super::toml_de::Value;
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Source};
use crate::model::Category;
use std::collections::BTreeMap;

/// The `id` string of a table that did not deserialize, to recognise later references to it.
pub(super) fn raw_id(value: &Value<'_>) -> Option<String> {
    let toml::de::DeValue::Table(t) = value.get_ref() else { return None };
    match toml_de::get(t, "id")?.get_ref() {
        toml::de::DeValue::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// Criteria ids written for a control, a CUEC or a CSOC (`whose`, e.g. "CUEC `CUEC-1`"): an
/// unknown id is an error, one of a category not in scope a warning. The known ids, in the AICPA order, each once.
pub(super) fn criteria_list(
    src: &Source,
    list: &[S<String>],
    whose: &str,
    categories: &[Category],
    diags: &mut Diagnostics,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cr in list {
        match crate::model::criterion(cr.get_ref()) {
            Some(found) => {
                // Security is mandatory and reported on its own when missing.
                if found.category != Category::Security
                    && !categories.is_empty()
                    && !categories.contains(&found.category)
                {
                    diags.push(
                        Diagnostic::warning(
                            Code::CriterionOutOfScope,
                            format!("{whose} maps to {} ({}), which is not in scope", found.id, found.category.title()),
                        )
                        .at(src.span(cr.span()))
                        .hint(format!("add \"{}\" to [audit] categories, or remove the criterion", found.category)),
                    );
                }
                if !out.contains(&found.id) {
                    out.push(found.id.clone());
                }
            }
            None => diags.push(
                Diagnostic::error(
                    Code::UnknownCriterion,
                    format!("`{}` is not a trust services criterion", cr.get_ref().trim()),
                )
                .at(src.span(cr.span()))
                .hint("use ids from the 2017 TSC such as CC6.1, A1.2 or C1.1 (group headings such as CC6.0 are not criteria)"),
            ),
        }
    }
    out.sort_by_key(|c| crate::model::criterion_rank(c));
    out
}

/// A string as a TOML basic string, quotes included.
pub(super) fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A list of strings as a TOML array: `["CC6.1", "CC6.2"]`.
pub(super) fn toml_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| toml_string(s)).collect::<Vec<_>>().join(", "))
}

pub(super) fn bad_word(src: &Source, s: &S<String>, what: &str, expected: String) -> Diagnostic {
    Diagnostic::error(Code::InvalidValue, format!("unknown {what} `{}`", s.get_ref()))
        .at(src.span(s.span()))
        .hint(format!("use one of {expected}"))
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(super) fn check_id(
    src: &Source,
    id: &S<String>,
    what: &str,
    seen: &mut BTreeMap<String, usize>,
    diags: &mut Diagnostics,
) -> bool {
    let text = id.get_ref();
    if !valid_id(text) {
        diags.push(
            Diagnostic::error(
                Code::InvalidId,
                format!("{what} id `{text}` has characters other than letters, digits, `-`, `_` and `.`"),
            )
            .at(src.span(id.span()))
            .hint("ids name folders and anchors: keep them short and plain, e.g. AC-01"),
        );
        return false;
    }
    if let Some(first) = seen.get(text) {
        diags.push(
            Diagnostic::error(
                match what {
                    "control" => Code::DuplicateControl,
                    "asset" => Code::DuplicateAsset,
                    _ => Code::DuplicateId,
                },
                format!("{what} id `{text}` is used twice"),
            )
            .at(src.span(id.span()))
            .hint(format!("the first use is on line {first}; give each {what} its own id")),
        );
        return false;
    }
    seen.insert(text.clone(), src.span(id.span()).line.unwrap_or(0));
    true
}
