//! Subservice organisations: `[[provider]]` in auditpack.toml, with a carve-out provider's CSOCs
//! and an inclusive provider's own assertion.

use super::Failed;
use super::raw;
use super::validate::{bad_word, check_id, criteria_list, toml_string};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use crate::model::{Category, Method, ServiceModel};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub service_model: ServiceModel,
    pub method: Method,
    pub services: Option<String>,
    /// Carve-out only: the controls assumed at the provider, each with the criteria that depend
    /// on it (an inclusive provider's are dropped with a warning).
    pub csocs: Vec<Csoc>,
    /// Inclusive only: the subservice organisation's own management assertion, as management
    /// names it (e.g. "Okta, Inc.'s management assertion dated 15 October 2026").
    pub assertion: Option<String>,
    /// Where the provider is declared (its `id`).
    #[serde(skip)]
    pub location: Location,
}

/// A complementary subservice organisation control: what a carved-out provider is assumed to
/// operate, and the criteria met only if it does.
#[derive(Debug, Clone, Serialize)]
pub struct Csoc {
    pub text: String,
    /// Normalised criterion ids, in the AICPA order.
    pub criteria: Vec<String>,
}

pub(super) fn validate_providers(
    src: &Source,
    raw: Vec<raw::Provider>,
    categories: &[Category],
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> Vec<Provider> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for p in raw {
        let ok = check_id(src, &p.id, "provider", &mut seen, diags);
        let model = ServiceModel::parse(p.service_model.get_ref());
        if model.is_none() {
            diags.push(bad_word(src, &p.service_model, "service model", ServiceModel::expected()));
        }
        let method = match &p.method {
            None => Some(Method::CarveOut),
            Some(m) => {
                let parsed = Method::parse(m.get_ref());
                if parsed.is_none() {
                    diags.push(bad_word(src, m, "method", Method::expected()));
                }
                parsed
            }
        };
        if ok && (model.is_none() || method.is_none()) {
            failed.providers.insert(p.id.get_ref().clone());
        }
        if let (true, Some(service_model), Some(method)) = (ok, model, method) {
            let csocs = validate_csocs(src, &p, method, categories, diags);
            let assertion = validate_subservice_assertion(src, &p, method, diags);
            out.push(Provider {
                location: src.span(p.id.span()),
                id: p.id.into_inner(),
                name: p.name,
                service_model,
                method,
                services: p.services,
                csocs,
                assertion,
            });
        }
    }
    out
}

/// A carve-out provider's CSOCs, each mapped to criteria; an inclusive provider has none (its
/// controls are part of the description).
fn validate_csocs(
    src: &Source,
    p: &raw::Provider,
    method: Method,
    categories: &[Category],
    diags: &mut Diagnostics,
) -> Vec<Csoc> {
    let id = p.id.get_ref();
    let Some(list) = &p.csocs else { return Vec::new() };
    if method == Method::Inclusive {
        if !list.get_ref().is_empty() {
            diags.push(
                Diagnostic::warning(
                    Code::CsocsOnInclusive,
                    format!("provider `{id}` is presented with the inclusive method but lists CSOCs; they are not used"),
                )
                .at(src.span(list.span()))
                .hint(format!(
                    "with the inclusive method {}'s relevant controls are part of the description: write them as controls (providers = [\"{id}\"], owner = \"provider\") and remove `csocs`; or use method = \"carve-out\"",
                    p.name
                )),
            );
        }
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in list.get_ref() {
        let at = src.span(c.span());
        let whose = format!("a CSOC of provider `{id}`");
        let (text, criteria) = match c.get_ref() {
            raw::RawCsoc::Text(t) => (t.trim().to_string(), None),
            raw::RawCsoc::Entry { text, criteria } => {
                (text.as_deref().map(str::trim).unwrap_or_default().to_string(), criteria.as_deref())
            }
        };
        if text.is_empty() {
            diags.push(
                Diagnostic::error(Code::MissingKey, format!("{whose} has no `text`"))
                    .at(at)
                    .hint("write what the provider is assumed to do: { text = \"...\", criteria = [\"CC6.4\"] }"),
            );
            continue;
        }
        let written = criteria.unwrap_or_default();
        let mapped = criteria_list(src, written, &whose, categories, diags);
        if written.is_empty() {
            let replacement = format!("{{ text = {}, criteria = [...] }}", toml_string(&text));
            diags.push(
                Diagnostic::warning(
                    Code::CsocWithoutCriteria,
                    format!("{whose} is mapped to no criterion: \"{}\"", abbreviate_text(&text, 60)),
                )
                .at(at)
                .hint(format!(
                    "write it as {replacement}, listing the criteria met only if {} operates it (e.g. CC6.4 for physical access to its data centres): the assertion and DC 200 item 7 name them",
                    p.name
                )),
            );
        }
        out.push(Csoc { text, criteria: mapped });
    }
    out
}

/// The first `max` characters of `s`, with an ellipsis when cut.
fn abbreviate_text(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}...", s.chars().take(max).collect::<String>()) }
}

/// An inclusive provider's reference to its own management assertion: required; a carve-out
/// provider has none.
fn validate_subservice_assertion(
    src: &Source,
    p: &raw::Provider,
    method: Method,
    diags: &mut Diagnostics,
) -> Option<String> {
    let id = p.id.get_ref();
    let text = p.assertion.as_ref().map(|a| a.get_ref().trim().to_string()).filter(|a| !a.is_empty());
    match method {
        Method::Inclusive if text.is_none() => {
            diags.push(
                Diagnostic::error(
                    Code::InclusiveWithoutAssertion,
                    format!("inclusive provider `{id}` does not name its own management assertion"),
                )
                .at(src.location(p.assertion.as_ref().map(|a| a.span().start).unwrap_or(p.id.span().start)))
                .hint(format!(
                    "with the inclusive method the report carries {}'s own assertion about its controls: add assertion = \"{}'s management assertion dated ..., presented with management's assertion\"",
                    p.name, p.name
                )),
            );
            None
        }
        Method::CarveOut if text.is_some() => {
            let at = p.assertion.as_ref().map(|a| a.span().start).unwrap_or(p.id.span().start);
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("provider `{id}` is carved out; `assertion` is only for inclusive providers"),
                )
                .at(src.location(at))
                .hint("remove `assertion`, or set method = \"inclusive\" if the description includes the provider's controls"),
            );
            None
        }
        _ => text,
    }
}
