//! Domain types shared by every stage: categories, criteria, layers, service models, owners,
//! frequencies, and the shared-responsibility matrix.
//!
//! Nothing here does I/O; the stages further down the pipeline only depend on these names.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// Defines a closed vocabulary: kebab-case names in files and output, `parse` for lookups that
/// report the allowed words, `ALL` for documentation and tables.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Case-insensitive, surrounding blanks ignored.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
            /// "a, b or c" for error messages.
            pub fn expected() -> String {
                let names: Vec<String> = Self::ALL.iter().map(|v| format!("`{}`", v.as_str())).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {}", rest.join(", "), last),
                    _ => names.join(""),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

vocabulary!(
    /// Trust services categories.
    Category {
        Security = "security",
        Availability = "availability",
        ProcessingIntegrity = "processing-integrity",
        Confidentiality = "confidentiality",
        Privacy = "privacy",
    }
);

vocabulary!(
    /// The layer of the stack a control sits in (rows of the responsibility matrix).
    Layer {
        Data = "data",
        Application = "application",
        Compute = "compute",
        Storage = "storage",
        Network = "network",
        Physical = "physical",
    }
);

vocabulary!(
    /// A provider's cloud service model (columns of the responsibility matrix).
    ServiceModel { Saas = "saas", Paas = "paas", Iaas = "iaas" }
);

vocabulary!(
    /// Who is responsible for a control on a given provider.
    Owner { Provider = "provider", Joint = "joint", Tenant = "tenant" }
);

vocabulary!(
    /// How a subservice organisation is presented in the report.
    Method { CarveOut = "carve-out", Inclusive = "inclusive" }
);

vocabulary!(
    /// How often a control operates.
    Frequency {
        Annual = "annual",
        Semiannual = "semiannual",
        Quarterly = "quarterly",
        Monthly = "monthly",
        Weekly = "weekly",
        Daily = "daily",
        Continuous = "continuous",
        PerEvent = "per-event",
    }
);

vocabulary!(
    /// Asset categories; they map onto the DC 200 component kinds.
    AssetCategory {
        Infrastructure = "infrastructure",
        Data = "data",
        Software = "software",
        Human = "human",
        Vendor = "vendor",
    }
);

vocabulary!(
    Criticality { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
);

vocabulary!(
    /// The audit type.
    AuditType { Type1 = "type1", Type2 = "type2" }
);

vocabulary!(
    /// How an auditor tests a control (Section IV vocabulary).
    TestType {
        Inquiry = "inquiry",
        Observation = "observation",
        Inspection = "inspection",
        Reperformance = "reperformance",
    }
);

impl Category {
    pub fn title(self) -> &'static str {
        match self {
            Category::Security => "Security",
            Category::Availability => "Availability",
            Category::ProcessingIntegrity => "Processing Integrity",
            Category::Confidentiality => "Confidentiality",
            Category::Privacy => "Privacy",
        }
    }
}

impl Owner {
    pub fn title(self) -> &'static str {
        match self {
            Owner::Provider => "Provider",
            Owner::Joint => "Joint",
            Owner::Tenant => "Tenant",
        }
    }
}

impl Frequency {
    /// Days after which evidence of a control of this frequency is stale: one period plus a
    /// grace of a quarter of it (at least a week). `None`: per-event controls have no cadence.
    pub fn max_age_days(self) -> Option<i64> {
        let period: i64 = match self {
            Frequency::Annual => 365,
            Frequency::Semiannual => 182,
            Frequency::Quarterly => 92,
            Frequency::Monthly => 31,
            Frequency::Weekly => 7,
            Frequency::Daily => 1,
            Frequency::Continuous => 31,
            Frequency::PerEvent => return None,
        };
        Some(period + (period / 4).max(7))
    }
}

/// How many occurrences of a control are sampled for a Type 2 test.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum Sampling {
    /// A size per frequency, as commonly practised.
    Table { sizes: BTreeMap<Frequency, u32> },
    /// Attribute sampling with zero expected deviations: n = ceil(ln(risk) / ln(1 - rate)).
    Statistical { tolerable_rate: f64, risk: f64 },
}

impl Default for Sampling {
    /// Common practice by frequency (docs/assessment.md, sample sizes): the low
    /// end of each range, which auditors raise with risk.
    fn default() -> Self {
        use Frequency::*;
        Sampling::Table {
            sizes: BTreeMap::from([
                (Annual, 1),
                (Semiannual, 1),
                (Quarterly, 2),
                (Monthly, 2),
                (Weekly, 5),
                (Daily, 25),
                (Continuous, 25),
                (PerEvent, 25),
            ]),
        }
    }
}

impl Sampling {
    /// The sample size for a population of `population` occurrences of a `freq` control.
    pub fn size(&self, freq: Frequency, population: usize) -> usize {
        let n = match self {
            Sampling::Table { sizes } => sizes.get(&freq).copied().unwrap_or(1) as usize,
            Sampling::Statistical { tolerable_rate, risk } => statistical_size(*tolerable_rate, *risk),
        };
        n.min(population)
    }
}

/// n = ceil(ln(risk) / ln(1 - rate)); 59 at 5% / 5%, 25 at 9% / 10%.
pub fn statistical_size(tolerable_rate: f64, risk: f64) -> usize {
    if !(tolerable_rate > 0.0 && tolerable_rate < 1.0 && risk > 0.0 && risk < 1.0) {
        return 1;
    }
    // Round before ceil so 58.0000001 from floating point does not become 59.
    let n = risk.ln() / (1.0 - tolerable_rate).ln();
    ((n * 1e6).round() / 1e6).ceil() as usize
}

/// One trust services criterion from the embedded 2017 TSC list (points of focus rev. 2022).
#[derive(Debug, Clone, Serialize)]
pub struct Criterion {
    pub id: String,
    pub family: String,
    pub family_title: String,
    pub category: Category,
    pub title: String,
}

#[derive(Deserialize)]
struct TscFile {
    families: Vec<TscFamily>,
}
#[derive(Deserialize)]
struct TscFamily {
    id: String,
    category: String,
    title: String,
    criteria: Vec<(String, String)>,
}

/// The 61 criteria, in the AICPA's order.
pub fn criteria() -> &'static [Criterion] {
    static CRITERIA: OnceLock<Vec<Criterion>> = OnceLock::new();
    CRITERIA.get_or_init(|| {
        // The file is embedded and checked by a unit test, so a parse failure is a build defect.
        let file: TscFile = serde_json::from_str(include_str!("../assets/tsc-criteria.json"))
            .expect("embedded tsc-criteria.json is valid");
        file.families
            .into_iter()
            .flat_map(|fam| {
                let category = Category::parse(&fam.category).expect("known category in tsc-criteria.json");
                fam.criteria.into_iter().map(move |(id, title)| Criterion {
                    id,
                    family: fam.id.clone(),
                    family_title: fam.title.clone(),
                    category,
                    title,
                })
            })
            .collect()
    })
}

/// Normalises `cc6.1`, ` CC6.1 ` to `CC6.1` and returns the criterion, if it exists.
pub fn criterion(id: &str) -> Option<&'static Criterion> {
    let norm = id.trim().to_ascii_uppercase();
    criteria().iter().find(|c| c.id == norm)
}

/// The position of a criterion id in the AICPA order, for sorting.
pub fn criterion_rank(id: &str) -> usize {
    criteria().iter().position(|c| c.id == id).unwrap_or(usize::MAX)
}

/// The shared-responsibility matrix: service model x layer -> owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix(BTreeMap<ServiceModel, BTreeMap<Layer, Owner>>);

impl Default for Matrix {
    /// The reference table (docs/responsibility.md).
    fn default() -> Self {
        use Layer::*;
        use Owner::*;
        let column = |cells: [Owner; 6]| -> BTreeMap<Layer, Owner> {
            [Data, Application, Compute, Storage, Network, Physical].into_iter().zip(cells).collect()
        };
        Matrix(BTreeMap::from([
            (ServiceModel::Saas, column([Joint, Joint, Provider, Provider, Provider, Provider])),
            (ServiceModel::Paas, column([Tenant, Joint, Joint, Provider, Provider, Provider])),
            (ServiceModel::Iaas, column([Tenant, Tenant, Tenant, Joint, Joint, Provider])),
        ]))
    }
}

impl Matrix {
    pub fn get(&self, model: ServiceModel, layer: Layer) -> Owner {
        self.0[&model][&layer]
    }
    pub fn set(&mut self, model: ServiceModel, layer: Layer, owner: Owner) {
        self.0.entry(model).or_default().insert(layer, owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_one_criteria_in_five_categories() {
        let all = criteria();
        assert_eq!(all.len(), 61);
        assert_eq!(all.iter().filter(|c| c.category == Category::Security).count(), 33);
        assert_eq!(all.iter().filter(|c| c.category == Category::Privacy).count(), 18);
    }

    #[test]
    fn criterion_ids_are_normalised() {
        assert_eq!(criterion(" cc6.1 ").map(|c| c.id.as_str()), Some("CC6.1"));
        assert!(criterion("CC6.9").is_none());
        assert!(criterion("CC1.0").is_none(), "group headings are not criteria");
    }

    #[test]
    fn default_matrix_is_the_reference_table() {
        let m = Matrix::default();
        assert_eq!(m.get(ServiceModel::Saas, Layer::Data), Owner::Joint);
        assert_eq!(m.get(ServiceModel::Paas, Layer::Compute), Owner::Joint);
        assert_eq!(m.get(ServiceModel::Iaas, Layer::Network), Owner::Joint);
        assert_eq!(m.get(ServiceModel::Iaas, Layer::Physical), Owner::Provider);
        assert_eq!(m.get(ServiceModel::Iaas, Layer::Application), Owner::Tenant);
    }

    #[test]
    fn sample_sizes() {
        assert_eq!(statistical_size(0.05, 0.05), 59);
        assert_eq!(statistical_size(0.09, 0.10), 25);
        let s = Sampling::default();
        assert_eq!(s.size(Frequency::Quarterly, 2), 2);
        assert_eq!(s.size(Frequency::Daily, 181), 25);
        assert_eq!(s.size(Frequency::Daily, 10), 10, "never more than the population");
    }

    #[test]
    fn vocabulary_parse_is_case_insensitive_and_lists_choices() {
        assert_eq!(Layer::parse(" Network "), Some(Layer::Network));
        assert_eq!(ServiceModel::expected(), "`saas`, `paas` or `iaas`");
    }
}
