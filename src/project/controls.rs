//! The control catalogue: the controls files, each control checked against the providers, the
//! CUECs and the responsibility matrix, and its owner on each provider.

use super::Failed;
use super::cuecs::CuecUse;
use super::files::{read_source, regular_or_reported};
use super::providers::Provider;
use super::raw::S;
use super::toml_de::Value;
use super::validate::{bad_word, check_id, criteria_list, raw_id, toml_list, toml_string};
use super::{ipe, procedure, raw, toml_de};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use crate::model::{Category, Frequency, Layer, Matrix, Owner, TestType};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Normalised criterion ids, in the AICPA order, without duplicates.
    pub criteria: Vec<String>,
    pub layer: Layer,
    pub providers: Vec<String>,
    pub frequency: Frequency,
    pub performer: Option<String>,
    pub test_procedure: Option<String>,
    /// How the control is tested; inspection when the project does not say.
    pub test_types: Vec<TestType>,
    pub evidence_patterns: Vec<String>,
    /// Ids of the CUECs (`[[cuec]]`) the control relies on, as written, each once.
    pub cuecs: Vec<String>,
    /// Management's response to exceptions (Section V).
    pub management_response: Option<String>,
    /// The listing whose items are the control's population (`[control.population]`).
    pub population: Option<ipe::PopulationSpec>,
    /// The control's owner on each provider it runs on (one entry with no provider for the
    /// company's own controls).
    pub assignments: Vec<Assignment>,
    pub location: Location,
}

/// A control as it applies on one provider (or on none: the company's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub provider: Option<String>,
    pub owner: Owner,
}

impl Control {
    /// The owner of the control taken as a whole: the one owner if all agree, else joint.
    pub fn overall_owner(&self) -> Owner {
        let mut owners = self.assignments.iter().map(|a| a.owner);
        let first = owners.next().unwrap_or(Owner::Tenant);
        if owners.all(|o| o == first) { first } else { Owner::Joint }
    }
}

/// The controls files: one file, or every `*.toml` in a folder, sorted by name.
pub(super) fn control_files(root: &Path, path: &Path, diags: &mut Diagnostics) -> Vec<PathBuf> {
    let full = root.join(path);
    if full.is_dir() {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&full) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .filter(|p| regular_or_reported(root, p, "controls file", diags))
                .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
                .collect(),
            Err(e) => {
                diags.push(
                    Diagnostic::error(Code::UnreadableFile, format!("cannot list the controls folder: {e}"))
                        .at_file(path),
                );
                Vec::new()
            }
        };
        files.sort();
        files
    } else if full.is_file() {
        vec![path.to_path_buf()]
    } else {
        Vec::new()
    }
}

#[allow(clippy::too_many_arguments)] // the loaded context controls are checked against
pub(super) fn load_controls(
    root: &Path,
    path: &Path,
    providers: &[Provider],
    matrix: &Matrix,
    categories: &[Category],
    cuecs: &mut CuecUse<'_>,
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> Vec<Control> {
    let files = control_files(root, path, diags);
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for file in &files {
        let Some(src) = read_source(root, file, diags) else {
            continue;
        };
        let Some(doc) = toml_de::parse(&src, diags) else {
            continue;
        };
        toml_de::check_keys(&src, doc.get_ref(), raw::CONTROLS_FILE_KEYS, "in a controls file", diags);
        let Some(list) = toml_de::get(doc.get_ref(), "control") else {
            continue;
        };
        for (i, v) in toml_de::array(&src, list, "control", diags).iter().enumerate() {
            let what = match raw_id(v) {
                Some(id) => format!("in control `{id}`"),
                None => format!("in control #{}", i + 1),
            };
            cuecs.record(&raw_id(v).unwrap_or_default(), v);
            let Some(c) = toml_de::deserialize::<raw::Control>(&src, v, &what, raw::CONTROL_KEYS, diags) else {
                failed.controls.extend(raw_id(v));
                continue;
            };
            if !check_id(&src, &c.id, "control", &mut seen, diags) {
                continue;
            }
            let id = c.id.get_ref().clone();
            match validate_control(&src, c, v, providers, matrix, categories, &failed.providers, cuecs, diags) {
                Some(c) => out.push(c),
                None => {
                    failed.controls.insert(id);
                }
            }
        }
    }
    if out.is_empty() && failed.controls.is_empty() && !diags.has_errors() {
        diags.push(
            Diagnostic::error(Code::NoControls, "the project has no controls")
                .at_file(path)
                .hint("describe the controls in controls.toml as [[control]] tables; see docs/project.md"),
        );
    }
    out
}

#[allow(clippy::too_many_arguments)] // the loaded context a control is checked against
fn validate_control(
    src: &Source,
    c: raw::Control,
    value: &Value<'_>,
    providers: &[Provider],
    matrix: &Matrix,
    categories: &[Category],
    failed_providers: &BTreeSet<String>,
    cuecs: &mut CuecUse<'_>,
    diags: &mut Diagnostics,
) -> Option<Control> {
    let id = c.id.get_ref().clone();
    let mut ok = true;
    let layer = Layer::parse(c.layer.get_ref());
    if layer.is_none() {
        diags.push(bad_word(src, &c.layer, "layer", Layer::expected()));
        ok = false;
    }
    let frequency = Frequency::parse(c.frequency.get_ref());
    if frequency.is_none() {
        diags.push(bad_word(src, &c.frequency, "frequency", Frequency::expected()));
        ok = false;
    }
    let criteria = criteria_list(src, c.criteria.get_ref(), &format!("control `{id}`"), categories, diags);
    if c.criteria.get_ref().iter().any(|cr| crate::model::criterion(cr.get_ref()).is_none()) {
        ok = false;
    }
    if c.criteria.get_ref().is_empty() {
        diags.push(
            Diagnostic::error(Code::MissingCriteria, format!("control `{id}` maps to no criterion"))
                .at(src.span(c.criteria.span()))
                .hint("list the trust services criteria the control addresses, e.g. criteria = [\"CC6.1\"]"),
        );
        ok = false;
    }

    let mut provider_ids = Vec::new();
    for p in &c.providers {
        if providers.iter().any(|x| &x.id == p.get_ref()) {
            if !provider_ids.contains(p.get_ref()) {
                provider_ids.push(p.get_ref().clone());
            }
        } else if failed_providers.contains(p.get_ref()) {
            // The provider's own entry is already reported; the control cannot be assigned.
            ok = false;
        } else {
            let known: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    Code::UnknownProvider,
                    format!("control `{id}` runs on provider `{}`, which is not declared", p.get_ref()),
                )
                .at(src.span(p.span()))
                .hint(if known.is_empty() {
                    "declare it as a [[provider]] in auditpack.toml".to_string()
                } else {
                    format!("declare it as a [[provider]] in auditpack.toml, or use one of: {}", known.join(", "))
                }),
            );
            ok = false;
        }
    }
    let mut cuec_ids: Vec<String> = Vec::new();
    for r in &c.cuecs {
        let name = r.get_ref().trim();
        if cuecs.declared.iter().any(|x| x.id == name) {
            if !cuec_ids.iter().any(|x| x == name) {
                cuec_ids.push(name.to_string());
            }
        } else if !cuecs.failed.contains(name) {
            let known: Vec<&str> = cuecs.declared.iter().map(|x| x.id.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    Code::UnknownCuec,
                    format!("control `{id}` relies on CUEC `{name}`, which is not declared"),
                )
                .at(src.span(r.span()))
                .hint(if known.is_empty() {
                    format!("declare it in auditpack.toml: [[cuec]] id = \"{name}\", text = \"...\", criteria = [...]")
                } else {
                    format!("declare it as a [[cuec]] in auditpack.toml, or use one of: {}", known.join(", "))
                }),
            );
        }
    }
    if let Some(old) = &c.cuec {
        let text = old.get_ref().trim();
        let suggested = cuecs.suggest(text);
        let mut ids = cuec_ids.clone();
        if !ids.contains(&suggested) {
            ids.push(suggested.clone());
        }
        let declared = cuecs.declared.iter().any(|x| x.id == suggested);
        let add = if declared {
            format!("`{suggested}` in auditpack.toml has this text already; ")
        } else {
            format!(
                "add to auditpack.toml:\n    [[cuec]]\n    id = \"{suggested}\"\n    text = {}\n    criteria = {}\n  and ",
                toml_string(text),
                toml_list(&criteria)
            )
        };
        diags.push(
            Diagnostic::error(
                Code::CuecString,
                format!("control `{id}` gives its CUEC as a string; CUECs are now one list for the project"),
            )
            .at(src.span(old.span()))
            .hint(format!(
                "{add}replace the `cuec = ...` line of control `{id}` with:\n    cuecs = {}",
                toml_list(&ids)
            )),
        );
    }
    let overrides = validate_owner_override(src, &id, c.owner.as_ref(), &provider_ids, diags)?;
    let mut test_types = Vec::new();
    for t in c.test_types.iter().flatten() {
        match TestType::parse(t.get_ref()) {
            Some(tt) if !test_types.contains(&tt) => test_types.push(tt),
            Some(_) => {}
            None => {
                diags.push(bad_word(src, t, "test type", TestType::expected()));
                ok = false;
            }
        }
    }
    if let Some(p) = &c.test_procedure {
        procedure::check(src, &id, p, c.test_types.as_ref().map(|_| test_types.as_slice()), diags);
    }
    if test_types.is_empty() {
        // Undeclared: what the procedure describes, else inspection.
        test_types = c.test_procedure.as_ref().map(|p| procedure::described_types(p.get_ref())).unwrap_or_default();
    }
    if test_types.is_empty() {
        test_types.push(TestType::Inspection);
    }
    for pat in &c.evidence {
        if let Err(e) = globset::Glob::new(pat.get_ref()) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidPattern,
                    format!("evidence pattern `{}` is not a valid glob: {}", pat.get_ref(), e.kind()),
                )
                .at(src.span(pat.span()))
                .hint("use `*` within a folder, `**` across folders and `{a,b}` for alternatives"),
            );
            ok = false;
        }
    }
    let population = match c.population {
        Some(p) => {
            let spec = ipe::population(src, &id, p, diags);
            ok &= spec.is_some();
            spec
        }
        None => None,
    };
    if !ok {
        return None;
    }
    let layer = layer?;
    let assignments = if provider_ids.is_empty() {
        vec![Assignment { provider: None, owner: overrides.get(&None).copied().unwrap_or(Owner::Tenant) }]
    } else {
        provider_ids
            .iter()
            .map(|pid| {
                let p = providers.iter().find(|p| &p.id == pid).expect("checked above");
                let owner = overrides
                    .get(&Some(pid.clone()))
                    .or(overrides.get(&None))
                    .copied()
                    .unwrap_or_else(|| matrix.get(p.service_model, layer));
                Assignment { provider: Some(pid.clone()), owner }
            })
            .collect()
    };
    Some(Control {
        id,
        title: c.title,
        description: c.description,
        criteria,
        layer,
        providers: provider_ids,
        frequency: frequency?,
        performer: c.performer,
        test_procedure: c.test_procedure.map(|p| p.into_inner()),
        test_types,
        cuecs: cuec_ids,
        management_response: c.management_response,
        evidence_patterns: c.evidence.into_iter().map(|p| p.into_inner()).collect(),
        population,
        assignments,
        location: src.span(value.span()),
    })
}

/// `owner` on a control: `None` key = every provider. Returns `None` after reporting a problem.
fn validate_owner_override(
    src: &Source,
    id: &str,
    spec: Option<&S<raw::OwnerSpec>>,
    providers: &[String],
    diags: &mut Diagnostics,
) -> Option<BTreeMap<Option<String>, Owner>> {
    let mut out = BTreeMap::new();
    let Some(spec) = spec else { return Some(out) };
    let at = src.span(spec.span());
    let parse = |word: &str, diags: &mut Diagnostics| -> Option<Owner> {
        let o = Owner::parse(word);
        if o.is_none() {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("unknown owner `{word}` on control `{id}`"))
                    .at(at.clone())
                    .hint(format!("use one of {}", Owner::expected())),
            );
        }
        o
    };
    match spec.get_ref() {
        raw::OwnerSpec::All(word) => {
            out.insert(None, parse(word, diags)?);
        }
        raw::OwnerSpec::PerProvider(map) => {
            let mut ok = true;
            for (pid, word) in map {
                if !providers.contains(pid) {
                    diags.push(
                        Diagnostic::error(
                            Code::UnknownProvider,
                            format!("control `{id}` sets an owner for `{pid}`, which is not one of its providers"),
                        )
                        .at(at.clone())
                        .hint("list the provider in the control's `providers`, or remove it from `owner`"),
                    );
                    ok = false;
                    continue;
                }
                match parse(word, diags) {
                    Some(o) => {
                        out.insert(Some(pid.clone()), o);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
        }
    }
    Some(out)
}
