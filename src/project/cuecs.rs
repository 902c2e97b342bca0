//! Complementary user entity controls: `[[cuec]]` in auditpack.toml, the controls that rely on
//! each, and the ones no control names.

use super::Failed;
use super::controls::Control;
use super::toml_de::Value;
use super::validate::{check_id, criteria_list, raw_id, toml_list};
use super::{raw, toml_de};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use crate::model::Category;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A complementary user entity control (`[[cuec]]` in auditpack.toml, DC 200 item 6): a control
/// management assumes user entities operate, with the criteria that depend on it. Controls name
/// the CUECs they rely on (`cuecs = ["CUEC-1"]`).
#[derive(Debug, Clone, Serialize)]
pub struct Cuec {
    pub id: String,
    pub text: String,
    /// Normalised criterion ids, in the AICPA order.
    pub criteria: Vec<String>,
    #[serde(skip)]
    pub location: Location,
}

/// `[[cuec]]` entries of auditpack.toml, and those written without criteria (id, where).
pub(super) fn load_cuecs(
    src: &Source,
    top: &toml::de::DeTable<'_>,
    categories: &[Category],
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> (Vec<Cuec>, Vec<(String, Location)>) {
    let Some(list) = toml_de::get(top, "cuec") else {
        return (Vec::new(), Vec::new());
    };
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    let mut without = Vec::new();
    for (i, v) in toml_de::array(src, list, "cuec", diags).iter().enumerate() {
        let what = match raw_id(v) {
            Some(id) => format!("in cuec `{id}`"),
            None => format!("in cuec #{}", i + 1),
        };
        let Some(c) = toml_de::deserialize::<raw::Cuec>(src, v, &what, raw::CUEC_KEYS, diags) else {
            failed.cuecs.extend(raw_id(v));
            continue;
        };
        if !check_id(src, &c.id, "cuec", &mut seen, diags) {
            continue;
        }
        let id = c.id.get_ref().clone();
        let text = c.text.get_ref().trim().to_string();
        if text.is_empty() {
            diags.push(
                Diagnostic::error(Code::MissingKey, format!("CUEC `{id}` has an empty `text`"))
                    .at(src.span(c.text.span()))
                    .hint("write the control user entities are expected to operate, e.g. \"User entities remove the accounts of their departed users.\""),
            );
            failed.cuecs.insert(id);
            continue;
        }
        let written = c.criteria.as_ref().map(|l| l.get_ref().as_slice()).unwrap_or_default();
        let criteria = criteria_list(src, written, &format!("CUEC `{id}`"), categories, diags);
        if written.is_empty() {
            let at = c.criteria.as_ref().map(|l| l.span().start).unwrap_or(c.id.span().start);
            without.push((id.clone(), src.location(at)));
        }
        out.push(Cuec { id, text, criteria, location: src.span(c.id.span()) });
    }
    (out, without)
}

/// What the controls files say about the project's CUECs, gathered while they load.
pub(super) struct CuecUse<'a> {
    pub(super) declared: &'a [Cuec],
    pub(super) failed: &'a BTreeSet<String>,
    /// CUEC id -> the controls that name it, including controls that failed to load (so an entry
    /// is not reported unused because the control naming it had another problem).
    named_by: BTreeMap<String, Vec<String>>,
    /// The ids suggested for per-control `cuec` strings, by text, so one text gets one id.
    suggested: Vec<(String, String)>,
}

impl<'a> CuecUse<'a> {
    pub(super) fn new(declared: &'a [Cuec], failed: &'a BTreeSet<String>) -> Self {
        CuecUse { declared, failed, named_by: BTreeMap::new(), suggested: Vec::new() }
    }

    /// Records the `cuecs` a control entry names, read from the raw table (it may not load).
    pub(super) fn record(&mut self, control: &str, value: &Value<'_>) {
        let toml::de::DeValue::Table(t) = value.get_ref() else { return };
        let Some(list) = toml_de::get(t, "cuecs") else { return };
        let toml::de::DeValue::Array(a) = list.get_ref() else { return };
        for v in a {
            if let toml::de::DeValue::String(s) = v.get_ref() {
                let names = self.named_by.entry(s.to_string()).or_default();
                if !names.iter().any(|n| n == control) {
                    names.push(control.to_string());
                }
            }
        }
    }

    /// The id to suggest for a former `cuec` string: the declared CUEC with that text, else the
    /// first `CUEC-n` not yet taken.
    pub(super) fn suggest(&mut self, text: &str) -> String {
        let text = text.trim();
        if let Some(c) = self.declared.iter().find(|c| c.text == text) {
            return c.id.clone();
        }
        if let Some((_, id)) = self.suggested.iter().find(|(t, _)| t == text) {
            return id.clone();
        }
        let taken = |id: &str| {
            self.declared.iter().any(|c| c.id == id)
                || self.failed.contains(id)
                || self.suggested.iter().any(|(_, s)| s == id)
        };
        let id = (1..).map(|n| format!("CUEC-{n}")).find(|id| !taken(id)).unwrap_or_default();
        self.suggested.push((text.to_string(), id.clone()));
        id
    }
}

/// CUECs no control names, and CUECs without criteria (with the criteria of their controls as
/// the suggestion).
pub(super) fn check_cuecs(
    cuecs: &[Cuec],
    without_criteria: &[(String, Location)],
    used: &CuecUse<'_>,
    controls: &[Control],
    diags: &mut Diagnostics,
) {
    for (id, at) in without_criteria {
        let named_by = used.named_by.get(id).cloned().unwrap_or_default();
        let mut criteria: Vec<String> = Vec::new();
        for c in controls.iter().filter(|c| named_by.contains(&c.id)) {
            for cr in &c.criteria {
                if !criteria.contains(cr) {
                    criteria.push(cr.clone());
                }
            }
        }
        criteria.sort_by_key(|c| crate::model::criterion_rank(c));
        let hint = if criteria.is_empty() {
            "list the criteria that are met only if user entities operate it, e.g. criteria = [\"CC6.2\"]".to_string()
        } else {
            format!(
                "list the criteria that are met only if user entities operate it, e.g. those of the controls that rely on it ({}): criteria = {}",
                named_by.join(", "),
                toml_list(&criteria)
            )
        };
        diags.push(
            Diagnostic::warning(Code::CuecWithoutCriteria, format!("CUEC `{id}` is mapped to no criterion"))
                .at(at.clone())
                .hint(hint),
        );
    }
    for c in cuecs {
        if !used.named_by.contains_key(&c.id) {
            diags.push(
                Diagnostic::warning(Code::UnusedCuec, format!("no control relies on CUEC `{}`", c.id))
                    .at(c.location.clone())
                    .hint(format!(
                        "name it in the `cuecs` of the controls designed with it in mind (cuecs = [\"{}\"]), or remove it",
                        c.id
                    )),
            );
        }
    }
}
