//! The files as written: serde shapes with spans, before validation turns them into the model.
//! Key lists here are the documented keys (docs/project.md); unknown keys are reported.

use super::toml_de::TomlDate;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub type S<T> = Spanned<T>;

pub const TOP_KEYS: &[&str] = &[
    "organisation",
    "system",
    "audit",
    "paths",
    "branding",
    "provider",
    "responsibility",
    "not_relevant",
    "cuec",
    "sampling",
    "package",
    "report",
    "snapshot",
    "objective",
    "risk",
    "check",
    "assertion",
    "collector",
];

pub const ORGANISATION_KEYS: &[&str] = &["name", "website", "contact"];
#[derive(Deserialize)]
pub struct Organisation {
    pub name: String,
    pub website: Option<String>,
    pub contact: Option<String>,
}

pub const SYSTEM_KEYS: &[&str] = &["name", "summary"];
#[derive(Deserialize)]
pub struct System {
    pub name: String,
    pub summary: Option<String>,
}

pub const AUDIT_KEYS: &[&str] = &["type", "as_of", "period_start", "period_end", "report_date", "categories"];
#[derive(Deserialize)]
pub struct Audit {
    #[serde(rename = "type")]
    pub kind: S<String>,
    pub as_of: Option<S<TomlDate>>,
    pub period_start: Option<S<TomlDate>>,
    pub period_end: Option<S<TomlDate>>,
    pub report_date: Option<S<TomlDate>>,
    pub categories: S<Vec<S<String>>>,
}

pub const PATHS_KEYS: &[&str] = &["evidence", "controls", "assets", "risks", "narrative", "templates"];
#[derive(Deserialize, Default)]
pub struct Paths {
    pub evidence: Option<S<String>>,
    pub controls: Option<S<String>>,
    pub assets: Option<S<String>>,
    pub risks: Option<S<String>>,
    pub narrative: Option<S<String>>,
    pub templates: Option<S<String>>,
}

pub const BRANDING_KEYS: &[&str] = &["confidentiality", "annex_confidentiality", "accent", "logo"];
#[derive(Deserialize, Default)]
pub struct Branding {
    pub confidentiality: Option<String>,
    pub annex_confidentiality: Option<String>,
    pub accent: Option<S<String>>,
    pub logo: Option<S<String>>,
}

pub const PACKAGE_KEYS: &[&str] = &["allow_secrets", "compression_level"];
/// `[package]`: settings of the package stage.
#[derive(Deserialize, Default)]
pub struct Package {
    /// Evidence files (paths or globs relative to the project) that may hold secrets.
    #[serde(default)]
    pub allow_secrets: Vec<S<String>>,
    /// Deflate level for entries that compress, 1 (fastest) to 9 (smallest).
    pub compression_level: Option<S<i64>>,
}

pub const REPORT_KEYS: &[&str] = &["evidence_index_rows"];
/// `[report]`: how much of the evidence the report lists.
#[derive(Deserialize, Default)]
pub struct Report {
    pub evidence_index_rows: Option<S<i64>>,
}

pub const ASSERTION_KEYS: &[&str] = &["signatory", "title", "date", "deviations"];
/// `[assertion]`: what management writes into its assertion itself.
#[derive(Deserialize, Default)]
pub struct Assertion {
    pub signatory: Option<String>,
    pub title: Option<String>,
    pub date: Option<S<TomlDate>>,
    #[serde(default)]
    pub deviations: Vec<String>,
}

pub const SNAPSHOT_KEYS: &[&str] = &["store", "retention", "retention.mode", "retention.days", "tsa"];
/// `[snapshot]`: where snapshots are kept, how long the storage must keep them, who timestamps them.
#[derive(Deserialize, Default)]
pub struct Snapshot {
    pub store: Option<S<String>>,
    pub retention: Option<S<Retention>>,
    pub tsa: Option<S<String>>,
}

/// `[snapshot] retention = { mode = "compliance", days = 400 }`.
#[derive(Deserialize)]
pub struct Retention {
    pub mode: S<String>,
    pub days: S<i64>,
}

pub const PROVIDER_KEYS: &[&str] = &["id", "name", "service_model", "method", "services", "csocs", "assertion"];
#[derive(Deserialize)]
pub struct Provider {
    pub id: S<String>,
    pub name: String,
    pub service_model: S<String>,
    pub method: Option<S<String>>,
    pub services: Option<String>,
    pub csocs: Option<S<Vec<S<RawCsoc>>>>,
    /// Inclusive method: the subservice organisation's own management assertion.
    pub assertion: Option<S<String>>,
}

/// A complementary subservice organisation control: `{ text = "...", criteria = ["CC6.4"] }`,
/// or the bare text of earlier projects (then it has no criteria).
pub enum RawCsoc {
    Text(String),
    Entry { text: Option<String>, criteria: Option<Vec<S<String>>> },
}

impl<'de> Deserialize<'de> for RawCsoc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawCsoc;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a CSOC: { text = \"...\", criteria = [\"CC6.4\"] }")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawCsoc, E> {
                Ok(RawCsoc::Text(s.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawCsoc, A::Error> {
                let (mut text, mut criteria) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "text" => text = Some(map.next_value::<String>()?),
                        "criteria" => criteria = Some(map.next_value::<Vec<S<String>>>()?),
                        // Reported as an unknown key by the caller.
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawCsoc::Entry { text, criteria })
            }
        }
        d.deserialize_any(V)
    }
}

/// `[responsibility]`: model -> layer -> owner, all checked against the vocabularies later.
pub type Responsibility = BTreeMap<String, BTreeMap<String, S<String>>>;

pub const CONTROLS_FILE_KEYS: &[&str] = &["control"];
pub const CONTROL_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "criteria",
    "layer",
    "providers",
    "owner",
    "frequency",
    "performer",
    "test_procedure",
    "test_types",
    "evidence",
    "cuecs",
    "cuec",
    "management_response",
    "population",
];
#[derive(Deserialize)]
pub struct Control {
    pub id: S<String>,
    pub title: String,
    pub description: String,
    pub criteria: S<Vec<S<String>>>,
    pub layer: S<String>,
    #[serde(default)]
    pub providers: Vec<S<String>>,
    pub owner: Option<S<OwnerSpec>>,
    pub frequency: S<String>,
    pub performer: Option<String>,
    pub test_procedure: Option<S<String>>,
    pub test_types: Option<Vec<S<String>>>,
    #[serde(default)]
    pub evidence: Vec<S<String>>,
    /// Ids of the project's `[[cuec]]` entries the control relies on.
    #[serde(default)]
    pub cuecs: Vec<S<String>>,
    /// The former one-string CUEC of a control: read only to say what to write instead.
    pub cuec: Option<S<String>>,
    pub management_response: Option<String>,
    pub population: Option<S<super::ipe::RawPopulation>>,
}

/// `owner = "joint"` for every provider, or `owner = { aws = "tenant" }` per provider.
pub enum OwnerSpec {
    All(String),
    PerProvider(BTreeMap<String, String>),
}

impl<'de> Deserialize<'de> for OwnerSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OwnerSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an owner (\"provider\", \"joint\" or \"tenant\") or a table of provider = owner")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<OwnerSpec, E> {
                Ok(OwnerSpec::All(s.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<OwnerSpec, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.insert(k, v);
                }
                Ok(OwnerSpec::PerProvider(out))
            }
        }
        d.deserialize_any(V)
    }
}

pub const ASSETS_FILE_KEYS: &[&str] = &["asset"];
pub const ASSET_KEYS: &[&str] =
    &["id", "name", "category", "criticality", "provider", "owner", "description", "scan_targets"];
#[derive(Deserialize)]
pub struct Asset {
    pub id: S<String>,
    pub name: String,
    pub category: S<String>,
    pub criticality: S<String>,
    pub provider: Option<S<String>>,
    pub owner: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub scan_targets: Vec<S<String>>,
}

pub const SIDECAR_KEYS: &[&str] = &[
    "controls",
    "effective",
    "period_start",
    "period_end",
    "provider",
    "assurance",
    "source",
    "description",
    "no_occurrence",
    "attested_by",
    "provenance",
    "collector",
];
#[derive(Deserialize)]
pub struct Sidecar {
    #[serde(default)]
    pub controls: Vec<S<String>>,
    pub effective: Option<S<TomlDate>>,
    pub period_start: Option<S<TomlDate>>,
    pub period_end: Option<S<TomlDate>>,
    pub assurance: Option<S<String>>,
    pub provider: Option<S<String>>,
    pub source: Option<String>,
    pub description: Option<String>,
    /// The file is management's statement that its controls had no occurrence in a period.
    /// (Its period is the sidecar's `period_start`/`period_end`, the period the file covers.)
    pub no_occurrence: Option<S<bool>>,
    pub attested_by: Option<S<String>>,
    pub provenance: Option<S<super::ipe::RawProvenance>>,
    pub collector: Option<S<super::ipe::RawRun>>,
}

pub const NOT_RELEVANT_KEYS: &[&str] = &["criterion", "reason"];
#[derive(Deserialize)]
pub struct NotRelevant {
    pub criterion: S<String>,
    pub reason: String,
}

/// `[[cuec]]`: a complementary user entity control, once for the project (DC 200 item 6).
pub const CUEC_KEYS: &[&str] = &["id", "text", "criteria"];
#[derive(Deserialize)]
pub struct Cuec {
    pub id: S<String>,
    pub text: S<String>,
    pub criteria: Option<S<Vec<S<String>>>>,
}

pub const SAMPLING_KEYS: &[&str] = &["method", "tolerable_rate", "risk", "sizes"];
#[derive(Deserialize, Default)]
pub struct Sampling {
    pub method: Option<S<String>>,
    pub tolerable_rate: Option<S<f64>>,
    pub risk: Option<S<f64>>,
    pub sizes: Option<BTreeMap<String, S<i64>>>,
}

/// `[[objective]]`: a CC3.1 objective the risks are assessed against.
pub const OBJECTIVE_KEYS: &[&str] = &["id", "title", "description", "categories"];
#[derive(Deserialize)]
pub struct Objective {
    pub id: S<String>,
    pub title: String,
    pub description: Option<String>,
    #[serde(default)]
    pub categories: Vec<S<String>>,
}

/// `[risk]`: the scoring matrix and the review rules.
pub const RISK_KEYS: &[&str] = &["matrix", "likelihood", "impact", "levels", "high", "review_months", "minutes"];
#[derive(Deserialize, Default)]
pub struct RiskConfig {
    pub matrix: Option<S<String>>,
    pub likelihood: Option<S<Vec<String>>>,
    pub impact: Option<S<Vec<String>>>,
    pub levels: Option<S<Vec<RiskLevel>>>,
    pub high: Option<S<String>>,
    pub review_months: Option<S<i64>>,
    pub minutes: Option<Vec<S<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskLevel {
    pub name: String,
    pub max: u32,
    pub colour: Option<String>,
}

/// `[check]`: per-code levels for `auditpack check`.
pub const CHECK_KEYS: &[&str] = &["levels"];
#[derive(Deserialize, Default)]
pub struct CheckConfig {
    #[serde(default)]
    pub levels: BTreeMap<String, S<String>>,
}
