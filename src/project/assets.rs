//! The asset inventory (assets.toml): the system's components and what scanner targets they are.

use super::Failed;
use super::files::read_source;
use super::providers::Provider;
use super::validate::{bad_word, check_id, raw_id};
use super::{raw, toml_de};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::model::{AssetCategory, Criticality};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Asset {
    pub id: String,
    pub name: String,
    pub category: AssetCategory,
    pub criticality: Criticality,
    pub provider: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
    /// Globs matched against scanner targets (image names, paths) to link findings to the asset.
    pub scan_targets: Vec<String>,
    pub location: Location,
}

pub(super) fn load_assets(
    root: &Path,
    path: &Path,
    providers: &[Provider],
    failed: &mut Failed,
    diags: &mut Diagnostics,
) -> Vec<Asset> {
    if !root.join(path).exists() {
        diags.push(
            Diagnostic::note(Code::NoAssets, format!("no asset inventory at `{}`", path.display()))
                .hint("list the system's assets in assets.toml: the system description's components come from it"),
        );
        return Vec::new();
    }
    let Some(src) = read_source(root, path, diags) else {
        return Vec::new();
    };
    let Some(doc) = toml_de::parse(&src, diags) else {
        return Vec::new();
    };
    toml_de::check_keys(&src, doc.get_ref(), raw::ASSETS_FILE_KEYS, "in assets.toml", diags);
    let Some(list) = toml_de::get(doc.get_ref(), "asset") else {
        return Vec::new();
    };
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for (i, v) in toml_de::array(&src, list, "asset", diags).iter().enumerate() {
        let what = match raw_id(v) {
            Some(id) => format!("in asset `{id}`"),
            None => format!("in asset #{}", i + 1),
        };
        let Some(a) = toml_de::deserialize::<raw::Asset>(&src, v, &what, raw::ASSET_KEYS, diags) else {
            failed.assets.extend(raw_id(v));
            continue;
        };
        let id_ok = check_id(&src, &a.id, "asset", &mut seen, diags);
        let category = AssetCategory::parse(a.category.get_ref());
        if category.is_none() {
            diags.push(bad_word(&src, &a.category, "asset category", AssetCategory::expected()));
        }
        let criticality = Criticality::parse(a.criticality.get_ref());
        if criticality.is_none() {
            diags.push(bad_word(&src, &a.criticality, "criticality", Criticality::expected()));
        }
        for t in &a.scan_targets {
            if let Err(e) = globset::Glob::new(t.get_ref()) {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidPattern,
                        format!("scan target `{}` is not a valid glob: {}", t.get_ref(), e.kind()),
                    )
                    .at(src.span(t.span()))
                    .hint("use `*` for any run of characters (including `/`) and `{a,b}` for alternatives"),
                );
            }
        }
        let mut provider_ok = true;
        if let Some(p) = &a.provider
            && failed.providers.contains(p.get_ref())
        {
            provider_ok = false;
        } else if let Some(p) = &a.provider
            && !providers.iter().any(|x| &x.id == p.get_ref())
        {
            diags.push(
                Diagnostic::error(
                    Code::UnknownProvider,
                    format!("asset `{}` is on provider `{}`, which is not declared", a.id.get_ref(), p.get_ref()),
                )
                .at(src.span(p.span()))
                .hint("declare the provider as a [[provider]] in auditpack.toml"),
            );
            provider_ok = false;
        }
        if id_ok && !(provider_ok && category.is_some() && criticality.is_some()) {
            failed.assets.insert(a.id.get_ref().clone());
        }
        if let (true, true, Some(category), Some(criticality)) = (id_ok, provider_ok, category, criticality) {
            out.push(Asset {
                id: a.id.into_inner(),
                name: a.name,
                category,
                criticality,
                provider: a.provider.map(|p| p.into_inner()),
                owner: a.owner,
                description: a.description,
                scan_targets: a.scan_targets.into_iter().map(|t| t.into_inner()).collect(),
                location: src.span(v.span()),
            });
        }
    }
    out
}
