//! Third stage: map the [`Inventory`] onto the control catalogue and the responsibility owners
//! -> [`EvidenceIndex`], the structure written as `index.json`.
//!
//! A file evidences a control through the control's glob patterns, a folder named after the
//! control id, or its sidecar. It is attributed to a provider through its sidecar or a folder
//! named after the provider id; that selects the control's owner on that provider.

use crate::collect::dates::Effective;
use crate::collect::{EvidenceFile, Inventory};
use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{AuditType, Frequency, Layer, Owner};
use crate::project::Project;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use jiff::civil::Date;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

pub const SCHEMA: &str = "auditpack-index/1";

#[derive(Debug, Clone)]
pub struct EvidenceIndex {
    pub schema: &'static str,
    pub organisation: String,
    pub system: String,
    pub audit: AuditInfo,
    /// The evidence folder, relative to the project.
    pub evidence_root: String,
    pub totals: Totals,
    pub evidence: Vec<IndexedFile>,
    /// Paths of files mapped to no control.
    pub unmapped: Vec<String>,
    pub controls: BTreeMap<String, IndexedControl>,
    /// owner -> one entry per (control, provider) with that owner.
    pub owners: BTreeMap<Owner, Vec<OwnerEntry>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditInfo {
    #[serde(rename = "type")]
    pub kind: AuditType,
    pub start: Date,
    pub end: Date,
    pub report_date: Date,
}

/// Counted by collect (and kept in its cache), reported by the index.
pub use crate::collect::Totals;

/// One evidence file in the index. Its controls are the ids of `mapped_by` ([`IndexedFile::controls`]),
/// not a list of their own: index.json still shows them as the `controls` field.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    pub file: EvidenceFile,
    /// control id -> why the file maps to it (`pattern:<glob>`, `folder`, `sidecar`).
    pub mapped_by: MappedBy,
    pub provider: Option<String>,
    pub owner: Owner,
}

/// index.json's file object: the file's fields, `controls` (sorted, each once), `mapped_by`,
/// `provider` (when there is one) and `owner`, in that order.
impl Serialize for IndexedFile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Ids<'a>(&'a MappedBy);
        impl Serialize for Ids<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.controls())
            }
        }
        #[derive(Serialize)]
        struct Fields<'a> {
            #[serde(flatten)]
            file: &'a EvidenceFile,
            controls: Ids<'a>,
            mapped_by: &'a MappedBy,
            #[serde(skip_serializing_if = "Option::is_none")]
            provider: &'a Option<String>,
            owner: Owner,
        }
        Fields {
            file: &self.file,
            controls: Ids(&self.mapped_by),
            mapped_by: &self.mapped_by,
            provider: &self.provider,
            owner: self.owner,
        }
        .serialize(s)
    }
}

/// Why a file maps to each of its controls: (control id, reason) pairs sorted by control id,
/// each control's reasons in the order found. Serialised as the object
/// `{ "<control id>": ["pattern:<glob>", "folder", "sidecar"] }`. The ids and patterns are shared
/// with the other files (one allocation per control, not per file).
#[derive(Debug, Clone, Default)]
pub struct MappedBy(Vec<(Arc<str>, Reason)>);

/// Why a file maps to a control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// One of the control's `evidence` patterns matches the file's path.
    Pattern(Arc<str>),
    /// A folder on the file's path is named after the control.
    Folder,
    /// The file's sidecar names the control.
    Sidecar,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Pattern(p) => write!(f, "pattern:{p}"),
            Reason::Folder => f.write_str("folder"),
            Reason::Sidecar => f.write_str("sidecar"),
        }
    }
}

impl MappedBy {
    /// Every (control id, reason), sorted by control id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Reason)> {
        self.0.iter().map(|(c, r)| (&**c, r))
    }
    /// The reasons the file maps to `control`.
    pub fn get<'a>(&'a self, control: &'a str) -> impl Iterator<Item = &'a Reason> + 'a {
        self.0.iter().filter(move |(c, _)| &**c == control).map(|(_, r)| r)
    }
    /// The control ids, sorted, each once.
    pub fn controls(&self) -> impl Iterator<Item = &str> {
        let mut last: Option<&str> = None;
        self.0.iter().filter_map(move |(c, _)| {
            let new = last != Some(&**c);
            last = Some(c);
            new.then_some(&**c)
        })
    }
}

impl Serialize for MappedBy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Reasons<'a>(&'a [(Arc<str>, Reason)]);
        impl Serialize for Reasons<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|(_, r)| Collected(r)))
            }
        }
        struct Collected<'a>(&'a Reason);
        impl Serialize for Collected<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self.0)
            }
        }
        let mut map = s.serialize_map(None)?;
        for group in self.0.chunk_by(|a, b| a.0 == b.0) {
            map.serialize_entry(&*group[0].0, &Reasons(group))?;
        }
        map.end()
    }
}

impl IndexedFile {
    pub fn effective(&self) -> &Effective {
        &self.file.effective
    }
    /// The control ids the file maps to, sorted, each once.
    pub fn controls(&self) -> impl Iterator<Item = &str> {
        self.mapped_by.controls()
    }
    /// Whether the file maps to any control.
    pub fn is_mapped(&self) -> bool {
        !self.mapped_by.0.is_empty()
    }
    /// Whether the file maps to control `id`.
    pub fn maps_to(&self, id: &str) -> bool {
        self.mapped_by.0.iter().any(|(c, _)| &**c == id)
    }
}

/// The lists of evidence per control, assignment and owner hold positions in
/// [`EvidenceIndex::evidence`] (4 bytes each, not a copy of the path); index.json shows paths.
pub type Files = Vec<u32>;

#[derive(Debug, Clone)]
pub struct IndexedControl {
    pub title: String,
    pub criteria: Vec<String>,
    pub layer: Layer,
    pub frequency: Frequency,
    pub owner: Owner,
    pub assignments: Vec<IndexedAssignment>,
    /// Every file evidencing the control.
    pub evidence: Files,
}

#[derive(Debug, Clone)]
pub struct IndexedAssignment {
    pub provider: Option<String>,
    pub owner: Owner,
    pub evidence: Files,
}

#[derive(Debug, Clone)]
pub struct OwnerEntry {
    pub control: String,
    pub provider: Option<String>,
    pub evidence: Files,
}

impl EvidenceIndex {
    /// The files of a list of positions, e.g. [`IndexedControl::evidence`].
    pub fn files<'a>(&'a self, list: &'a [u32]) -> impl Iterator<Item = &'a IndexedFile> + 'a {
        list.iter().map(|&i| &self.evidence[i as usize])
    }

    /// The file at `path` (evidence is sorted by path).
    pub fn file(&self, path: &str) -> Option<&IndexedFile> {
        self.evidence.binary_search_by(|f| f.file.path.as_str().cmp(path)).ok().map(|i| &self.evidence[i])
    }
}

/// index.json: as derived, but with each list of positions written as the files' paths.
impl Serialize for EvidenceIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Paths<'a>(&'a EvidenceIndex, &'a [u32]);
        impl Serialize for Paths<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.files(self.1).map(|f| f.file.path.as_str()))
            }
        }
        #[derive(Serialize)]
        struct Assignment<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            provider: &'a Option<String>,
            owner: Owner,
            evidence: Paths<'a>,
        }
        #[derive(Serialize)]
        struct Control<'a> {
            title: &'a str,
            criteria: &'a [String],
            layer: Layer,
            frequency: Frequency,
            owner: Owner,
            assignments: Vec<Assignment<'a>>,
            evidence: Paths<'a>,
        }
        #[derive(Serialize)]
        struct Entry<'a> {
            control: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            provider: &'a Option<String>,
            evidence: Paths<'a>,
        }
        struct Controls<'a>(&'a EvidenceIndex);
        impl Serialize for Controls<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let ix = self.0;
                s.collect_map(ix.controls.iter().map(|(id, c)| {
                    let assignments = c
                        .assignments
                        .iter()
                        .map(|a| Assignment { provider: &a.provider, owner: a.owner, evidence: Paths(ix, &a.evidence) })
                        .collect();
                    let control = Control {
                        title: &c.title,
                        criteria: &c.criteria,
                        layer: c.layer,
                        frequency: c.frequency,
                        owner: c.owner,
                        assignments,
                        evidence: Paths(ix, &c.evidence),
                    };
                    (id, control)
                }))
            }
        }
        struct Owners<'a>(&'a EvidenceIndex);
        impl Serialize for Owners<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let ix = self.0;
                s.collect_map(ix.owners.iter().map(|(owner, entries)| {
                    let entries: Vec<Entry> = entries
                        .iter()
                        .map(|e| Entry { control: &e.control, provider: &e.provider, evidence: Paths(ix, &e.evidence) })
                        .collect();
                    (owner, entries)
                }))
            }
        }
        let mut st = s.serialize_struct("EvidenceIndex", 10)?;
        st.serialize_field("schema", self.schema)?;
        st.serialize_field("organisation", &self.organisation)?;
        st.serialize_field("system", &self.system)?;
        st.serialize_field("audit", &self.audit)?;
        st.serialize_field("evidence_root", &self.evidence_root)?;
        st.serialize_field("totals", &self.totals)?;
        st.serialize_field("evidence", &self.evidence)?;
        st.serialize_field("unmapped", &self.unmapped)?;
        st.serialize_field("controls", &Controls(self))?;
        st.serialize_field("owners", &Owners(self))?;
        st.end()
    }
}

/// Builds the index. Reports patterns that match nothing and files mapped to no control.
pub fn build(project: &Project, inventory: Inventory, diags: &mut Diagnostics) -> EvidenceIndex {
    // One matcher over every control's patterns: a file is matched once, not once per control.
    let mut pattern_of: Vec<(usize, usize)> = Vec::new();
    let mut builder = GlobSetBuilder::new();
    for (ci, c) in project.controls.iter().enumerate() {
        for (pi, p) in c.evidence_patterns.iter().enumerate() {
            // Patterns were validated when the project was loaded. `*` stays within a folder,
            // `**` crosses folders (docs/project.md), as in population listings.
            if let Ok(g) = GlobBuilder::new(p).literal_separator(true).build() {
                builder.add(g);
                pattern_of.push((ci, pi));
            }
        }
    }
    let matcher = builder.build().unwrap_or_else(|_| GlobSet::empty());
    let by_id: HashMap<&str, &crate::project::Control> = project.controls.iter().map(|c| (c.id.as_str(), c)).collect();
    let provider_ids: BTreeSet<&str> = project.providers.iter().map(|p| p.id.as_str()).collect();
    let mut pattern_hits: BTreeMap<(usize, usize), usize> = BTreeMap::new();

    // Shared by every file that names them: one allocation per control and pattern.
    let ids: HashMap<&str, Arc<str>> =
        project.controls.iter().map(|c| (c.id.as_str(), Arc::from(c.id.as_str()))).collect();
    let patterns: Vec<Arc<str>> =
        pattern_of.iter().map(|&(ci, pi)| Arc::from(project.controls[ci].evidence_patterns[pi].as_str())).collect();
    let shared = |id: &str| ids.get(id).cloned().unwrap_or_else(|| Arc::from(id));

    let mut evidence = Vec::with_capacity(inventory.files.len());
    for file in inventory.files {
        let mut mapped: Vec<(Arc<str>, Reason)> = Vec::new();
        let dirs = match file.rel().rfind('/') {
            Some(i) => &file.rel()[..i],
            None => "",
        };
        for k in matcher.matches(file.rel()) {
            let (ci, _) = pattern_of[k];
            *pattern_hits.entry(pattern_of[k]).or_default() += 1;
            mapped.push((shared(&project.controls[ci].id), Reason::Pattern(patterns[k].clone())));
        }
        for d in dirs.split('/').filter(|d| !d.is_empty()) {
            if let Some(id) = ids.get(d) {
                mapped.push((id.clone(), Reason::Folder));
            }
        }
        if let Some(s) = &file.sidecar {
            for c in &s.meta.controls {
                mapped.push((shared(c), Reason::Sidecar));
            }
        }
        // Stable: each control's reasons stay in the order they were found.
        mapped.sort_by(|a, b| a.0.cmp(&b.0));
        mapped.shrink_to_fit();
        let mapped_by = MappedBy(mapped);
        let provider = file
            .sidecar
            .as_ref()
            .and_then(|s| s.meta.provider.clone())
            .or_else(|| dirs.split('/').find(|d| provider_ids.contains(*d)).map(|d| d.to_string()));
        let owner = file_owner(&by_id, mapped_by.controls(), provider.as_deref());
        evidence.push(IndexedFile { file, mapped_by, provider, owner });
    }

    for (ci, c) in project.controls.iter().enumerate() {
        for (pi, p) in c.evidence_patterns.iter().enumerate() {
            if !pattern_hits.contains_key(&(ci, pi)) {
                diags.push(
                    Diagnostic::warning(
                        Code::PatternMatchesNothing,
                        format!("evidence pattern `{p}` of control `{}` matches no file", c.id),
                    )
                    .at(c.location.clone())
                    .hint("patterns are relative to the evidence folder; check the folder names and extensions"),
                );
            }
        }
    }

    // What counts as evidence of a control: not an empty file, not effective only after the end
    // of the period (or the as-of date), and for a control that runs on providers, evidence of
    // one of them (a file of no provider only when the control's patterns or sidecar name it).
    let end = project.audit.end;
    for f in &evidence {
        if !f.is_mapped() || !project.assessable {
            continue;
        }
        if f.file.size == 0 {
            diags.push(
                Diagnostic::warning(Code::EmptyEvidence, "the evidence file is empty; it counts for no control")
                    .at_file(&f.file.path)
                    .hint("replace it with the real export or document, or remove it"),
            );
        } else if f.effective().start > end {
            diags.push(
                Diagnostic::warning(
                    Code::EvidenceAfterPeriod,
                    format!(
                        "the file is effective from {} ({}), after {end}, the {}; it counts for no control",
                        f.effective().start,
                        f.effective().source.text(),
                        match project.audit.kind {
                            AuditType::Type1 => "as-of date",
                            AuditType::Type2 => "end of the period",
                        }
                    ),
                )
                .at_file(&f.file.path)
                .hint("evidence for this audit must be effective by its date: give the file its real date (in the name or a sidecar `effective`), or leave it out"),
            );
        }
    }
    let mut controls = BTreeMap::new();
    let mut owners: BTreeMap<Owner, Vec<OwnerEntry>> = BTreeMap::new();
    let mut files_of: HashMap<&str, Files> = HashMap::new();
    for (i, f) in evidence.iter().enumerate() {
        if f.file.size == 0 || (project.assessable && f.effective().start > end) {
            continue;
        }
        for id in f.controls() {
            let Some(c) = by_id.get(id) else { continue };
            if !fits_provider(c, f) {
                diags.push(
                    Diagnostic::warning(
                        Code::EvidenceOtherProvider,
                        format!(
                            "the file is evidence of provider `{}`, on which control `{id}` does not run ({}); it does not count for it",
                            f.provider.as_deref().unwrap_or_default(),
                            c.providers.join(", ")
                        ),
                    )
                    .at_file(&f.file.path)
                    .hint("add the provider to the control's `providers`, or map the file to the control of that provider (its folder, pattern or sidecar)"),
                );
                continue;
            }
            files_of.entry(id).or_default().push(i as u32);
        }
    }
    for c in &project.controls {
        let files: &[u32] = files_of.get(c.id.as_str()).map(Vec::as_slice).unwrap_or_default();
        let assignments: Vec<IndexedAssignment> = c
            .assignments
            .iter()
            .map(|a| IndexedAssignment {
                provider: a.provider.clone(),
                owner: a.owner,
                evidence: files
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let f = &evidence[i as usize];
                        f.provider.is_none() || a.provider.is_none() || f.provider == a.provider
                    })
                    .collect(),
            })
            .collect();
        for a in &assignments {
            owners.entry(a.owner).or_default().push(OwnerEntry {
                control: c.id.clone(),
                provider: a.provider.clone(),
                evidence: a.evidence.clone(),
            });
        }
        controls.insert(
            c.id.clone(),
            IndexedControl {
                title: c.title.clone(),
                criteria: c.criteria.clone(),
                layer: c.layer,
                frequency: c.frequency,
                owner: c.overall_owner(),
                assignments,
                evidence: files.to_vec(),
            },
        );
    }

    let unmapped: Vec<String> = evidence.iter().filter(|f| !f.is_mapped()).map(|f| f.file.path.clone()).collect();
    for path in &unmapped {
        diags.push(
            Diagnostic::note(Code::UnmappedEvidence, "the file evidences no control")
                .at_file(path)
                .hint("map it with a control's `evidence` pattern, a folder named after the control id, or a sidecar; it is still packaged"),
        );
    }
    let totals = Totals {
        files: evidence.len(),
        bytes: evidence.iter().map(|f| f.file.size).sum(),
        mapped: evidence.len() - unmapped.len(),
        unmapped: unmapped.len(),
    };
    EvidenceIndex {
        schema: SCHEMA,
        organisation: project.organisation.name.clone(),
        system: project.system.name.clone(),
        audit: AuditInfo {
            kind: project.audit.kind,
            start: project.audit.start,
            end: project.audit.end,
            report_date: project.audit.report_date,
        },
        evidence_root: crate::text::slash(&project.paths.evidence),
        totals,
        evidence,
        unmapped,
        controls,
        owners,
    }
}

/// Whether `f` can evidence `c`: any file for the company's own controls; for a control that runs
/// on providers, a file of one of them, or of no provider (one record for all of them, mapped to
/// the control by its folder, a pattern or a sidecar), never a file of another provider.
fn fits_provider(c: &crate::project::Control, f: &IndexedFile) -> bool {
    match &f.provider {
        Some(p) => c.providers.is_empty() || c.providers.contains(p),
        None => true,
    }
}

/// A file's owner: the owners of the (control, provider) pairs it evidences, combined (the one
/// owner if all agree, else joint). A file that evidences no control is the company's own record.
fn file_owner<'a>(
    by_id: &HashMap<&str, &crate::project::Control>,
    controls: impl Iterator<Item = &'a str>,
    provider: Option<&str>,
) -> Owner {
    let mut owners = BTreeSet::new();
    for id in controls {
        let Some(c) = by_id.get(id) else {
            continue;
        };
        for a in &c.assignments {
            if provider.is_none() || a.provider.is_none() || a.provider.as_deref() == provider {
                owners.insert(a.owner);
            }
        }
    }
    match owners.len() {
        0 => Owner::Tenant,
        1 => *owners.iter().next().expect("one owner"),
        _ => Owner::Joint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A second provider: a SaaS, on which an application-layer control is joint.
    const OKTA: &str = r#"
[[provider]]
id = "okta"
name = "Okta"
service_model = "saas"
method = "carve-out"
services = "Workforce identity."
"#;

    /// One control of each owner: GOV-01 the company's own (tenant), AC-01 on aws (iaas,
    /// application: tenant) and okta (saas, application: joint), PE-01 on aws (physical: provider).
    const CONTROLS: &str = r#"
[[control]]
id = "GOV-01"
title = "Information security policy"
description = "Management approves the information security policy annually."
criteria = ["CC1.1", "CC2.2", "CC5.3"]
layer = "application"
frequency = "annual"

[[control]]
id = "AC-01"
title = "Quarterly user access reviews"
description = "System owners review user access every quarter."
criteria = ["CC6.1", "CC6.2", "CC6.3"]
layer = "application"
providers = ["aws", "okta"]
frequency = "quarterly"
evidence = ["access-reviews/**/*.csv"]

[[control]]
id = "PE-01"
title = "Data centre physical access"
description = "Physical access to data centres is restricted."
criteria = ["CC6.4"]
layer = "physical"
providers = ["aws"]
frequency = "annual"
evidence = ["datacentre/*.pdf", "facilities/**/*.pdf"]
"#;

    /// Evidence beside the two files of `auditpack init` (GOV-01/ and AC-01/ folders).
    const EVIDENCE: &[(&str, &str)] = &[
        ("evidence/access-reviews/okta/users-2026-Q2.csv", "user,decision\nana,keep\n"),
        ("evidence/access-reviews/aws/iam-users-2026-Q2.csv", "user,decision\nbob,remove\ncy,keep\n"),
        ("evidence/datacentre/aws-physical-review-2026-03-31.pdf", "%PDF-1.4 review"),
        ("evidence/misc/team-offsite-2026-05-04.txt", "agenda"),
    ];

    /// The `auditpack init` project with the okta provider, [`CONTROLS`], [`EVIDENCE`] and `extra`
    /// files (path, text), in a temporary folder.
    fn project(extra: &[(&str, &str)]) -> tempfile::TempDir {
        let files = EVIDENCE.iter().chain(extra).map(|(n, t)| (*n, t.to_string()));
        crate::testing::project(false, CONTROLS, OKTA, files)
    }

    /// load -> collect -> index; the project must load without errors.
    fn index_of(dir: &Path) -> (EvidenceIndex, Diagnostics) {
        let (_, index, diags) = crate::testing::index(dir);
        (index, diags)
    }

    /// The diagnostics with `code`.
    fn with_code<'a>(diags: &'a Diagnostics, code: &str) -> Vec<&'a Diagnostic> {
        diags.iter().filter(|d| d.code == code).collect()
    }

    /// The file a diagnostic is located at.
    fn at(d: &Diagnostic) -> Option<&Path> {
        d.location.as_ref().map(|l| l.file.as_path())
    }

    fn file<'a>(ix: &'a EvidenceIndex, path: &str) -> &'a IndexedFile {
        ix.file(path).unwrap_or_else(|| panic!("{path} is not in the index"))
    }

    fn paths(ix: &EvidenceIndex, list: &[u32]) -> Vec<String> {
        ix.files(list).map(|f| f.file.path.clone()).collect()
    }

    #[test]
    fn files_map_to_controls_by_pattern_folder_and_sidecar() {
        let dir = project(&[
            ("evidence/exports/mfa-report.json", "{}"),
            ("evidence/exports/mfa-report.json.meta.toml", "controls = [\"GOV-01\"]\neffective = 2026-06-01\n"),
        ]);
        let (ix, _) = index_of(dir.path());

        let by_pattern = file(&ix, "evidence/access-reviews/okta/users-2026-Q2.csv");
        assert_eq!(by_pattern.controls().collect::<Vec<_>>(), ["AC-01"]);
        let reasons: Vec<&Reason> = by_pattern.mapped_by.get("AC-01").collect();
        assert_eq!(reasons, [&Reason::Pattern("access-reviews/**/*.csv".into())]);

        let by_folder = file(&ix, "evidence/AC-01/access-review-2026-Q2.csv");
        assert_eq!(by_folder.controls().collect::<Vec<_>>(), ["AC-01"]);
        assert_eq!(by_folder.mapped_by.get("AC-01").collect::<Vec<_>>(), [&Reason::Folder]);

        let by_sidecar = file(&ix, "evidence/exports/mfa-report.json");
        assert_eq!(by_sidecar.controls().collect::<Vec<_>>(), ["GOV-01"]);
        assert_eq!(by_sidecar.mapped_by.get("GOV-01").collect::<Vec<_>>(), [&Reason::Sidecar]);
        assert_eq!(by_sidecar.effective().date.to_string(), "2026-06-01", "the sidecar's date wins");

        assert_eq!(
            paths(&ix, &ix.controls["AC-01"].evidence),
            [
                "evidence/AC-01/access-review-2026-Q2.csv",
                "evidence/access-reviews/aws/iam-users-2026-Q2.csv",
                "evidence/access-reviews/okta/users-2026-Q2.csv",
            ]
        );
        assert_eq!(
            paths(&ix, &ix.controls["GOV-01"].evidence),
            ["evidence/GOV-01/information-security-policy-2026-01-15.md", "evidence/exports/mfa-report.json"]
        );
    }

    #[test]
    fn a_file_mapped_several_ways_keeps_every_reason_and_each_control_once() {
        let dir = project(&[("evidence/access-reviews/AC-01/GOV-01/signoff-2026-Q2.csv", "signed")]);
        let (ix, _) = index_of(dir.path());
        let f = file(&ix, "evidence/access-reviews/AC-01/GOV-01/signoff-2026-Q2.csv");
        assert_eq!(f.controls().collect::<Vec<_>>(), ["AC-01", "GOV-01"], "sorted, each once");
        let ac: Vec<&Reason> = f.mapped_by.get("AC-01").collect();
        assert_eq!(ac, [&Reason::Pattern("access-reviews/**/*.csv".into()), &Reason::Folder]);
        // index.json: { "<control>": ["pattern:<glob>", "folder"] }
        let json = serde_json::to_value(&f.mapped_by).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "AC-01": ["pattern:access-reviews/**/*.csv", "folder"], "GOV-01": ["folder"] })
        );
        // Tenant on GOV-01 and on AC-01's aws, joint on AC-01's okta: the owners differ.
        assert_eq!(f.owner, Owner::Joint);
    }

    #[test]
    fn a_file_matching_no_pattern_is_unmapped() {
        let dir = project(&[]);
        let (ix, diags) = index_of(dir.path());
        let f = file(&ix, "evidence/misc/team-offsite-2026-05-04.txt");
        assert!(!f.is_mapped());
        assert_eq!(f.mapped_by.iter().count(), 0);
        assert_eq!(f.owner, Owner::Tenant, "a file of no control is the company's own record");
        assert_eq!(ix.unmapped, ["evidence/misc/team-offsite-2026-05-04.txt"]);
        let notes = with_code(&diags, "unmapped-evidence");
        assert_eq!(notes.len(), 1);
        assert_eq!(at(notes[0]), Some(Path::new("evidence/misc/team-offsite-2026-05-04.txt")));
        // Still indexed (and packaged), only under no control.
        assert!(ix.controls.values().all(|c| ix.files(&c.evidence).all(|e| e.file.path != f.file.path)));
    }

    #[test]
    fn a_star_in_a_pattern_stays_within_one_folder() {
        // docs/project.md: `*` within a folder, `**` across folders (as population listings).
        let dir = project(&[("evidence/datacentre/archive/old-review-2025-03-31.pdf", "%PDF old")]);
        let (ix, _) = index_of(dir.path());
        let nested = file(&ix, "evidence/datacentre/archive/old-review-2025-03-31.pdf");
        assert!(!nested.is_mapped(), "`datacentre/*.pdf` matched {}", nested.file.path);
        assert!(ix.unmapped.contains(&nested.file.path));
        assert_eq!(
            file(&ix, "evidence/datacentre/aws-physical-review-2026-03-31.pdf").controls().collect::<Vec<_>>(),
            ["PE-01"]
        );
        assert_eq!(
            file(&ix, "evidence/access-reviews/okta/users-2026-Q2.csv").controls().collect::<Vec<_>>(),
            ["AC-01"],
            "`**` crosses"
        );
    }

    #[test]
    fn totals_count_files_bytes_mapped_and_unmapped() {
        let dir = project(&[]);
        let (ix, _) = index_of(dir.path());
        let evidence: Vec<&(&str, &str)> =
            crate::cli::init::FILES.iter().chain(EVIDENCE).filter(|(n, _)| n.starts_with("evidence/")).collect();
        let bytes: u64 = evidence.iter().map(|(_, t)| t.len() as u64).sum();
        assert_eq!(ix.totals.files, evidence.len());
        assert_eq!(ix.totals.files, 6);
        assert_eq!(ix.totals.bytes, bytes);
        assert_eq!((ix.totals.mapped, ix.totals.unmapped), (5, 1));
        assert_eq!(ix.evidence.len(), ix.totals.files);
    }

    #[test]
    fn each_file_gets_the_owner_of_its_controls_on_its_provider() {
        let dir = project(&[("evidence/GOV-01/PE-01/visitor-policy-2026-03-31.pdf", "policy")]);
        let (ix, _) = index_of(dir.path());
        let owner = |p: &str| (file(&ix, p).provider.clone(), file(&ix, p).owner);
        assert_eq!(owner("evidence/GOV-01/information-security-policy-2026-01-15.md"), (None, Owner::Tenant));
        assert_eq!(owner("evidence/access-reviews/aws/iam-users-2026-Q2.csv"), (Some("aws".into()), Owner::Tenant));
        assert_eq!(owner("evidence/access-reviews/okta/users-2026-Q2.csv"), (Some("okta".into()), Owner::Joint));
        // No provider: it counts for both of AC-01's providers, tenant on aws and joint on okta.
        assert_eq!(owner("evidence/AC-01/access-review-2026-Q2.csv"), (None, Owner::Joint));
        assert_eq!(owner("evidence/datacentre/aws-physical-review-2026-03-31.pdf"), (None, Owner::Provider));
        // Tenant on GOV-01, provider on PE-01's aws: the owners differ.
        assert_eq!(owner("evidence/GOV-01/PE-01/visitor-policy-2026-03-31.pdf"), (None, Owner::Joint));
    }

    #[test]
    fn controls_and_owners_list_each_control_on_each_provider() {
        let dir = project(&[]);
        let (ix, _) = index_of(dir.path());
        let ac = &ix.controls["AC-01"];
        assert_eq!(ac.owner, Owner::Joint, "tenant on aws, joint on okta");
        let assignments: Vec<(Option<&str>, Owner, Vec<String>)> =
            ac.assignments.iter().map(|a| (a.provider.as_deref(), a.owner, paths(&ix, &a.evidence))).collect();
        assert_eq!(
            assignments,
            [
                (
                    Some("aws"),
                    Owner::Tenant,
                    vec![
                        "evidence/AC-01/access-review-2026-Q2.csv".to_string(),
                        "evidence/access-reviews/aws/iam-users-2026-Q2.csv".into()
                    ]
                ),
                (
                    Some("okta"),
                    Owner::Joint,
                    vec![
                        "evidence/AC-01/access-review-2026-Q2.csv".to_string(),
                        "evidence/access-reviews/okta/users-2026-Q2.csv".into()
                    ]
                ),
            ]
        );
        let entries = |o: Owner| -> Vec<(String, Option<String>, usize)> {
            ix.owners
                .get(&o)
                .map(|es| es.iter().map(|e| (e.control.clone(), e.provider.clone(), e.evidence.len())).collect())
                .unwrap_or_default()
        };
        assert_eq!(entries(Owner::Tenant), [("GOV-01".into(), None, 1), ("AC-01".into(), Some("aws".into()), 2)]);
        assert_eq!(entries(Owner::Joint), [("AC-01".into(), Some("okta".into()), 2)]);
        assert_eq!(entries(Owner::Provider), [("PE-01".into(), Some("aws".into()), 1)]);
    }

    #[test]
    fn a_pattern_that_matches_nothing_is_reported() {
        let dir = project(&[]);
        let (_, diags) = index_of(dir.path());
        let found = with_code(&diags, "pattern-matches-nothing");
        assert_eq!(found.len(), 1, "only PE-01's second pattern matches no file");
        assert!(found[0].message.contains("`facilities/**/*.pdf`") && found[0].message.contains("PE-01"));

        let dir = project(&[("evidence/facilities/berlin/badge-log-2026-03-31.pdf", "%PDF")]);
        let (_, diags) = index_of(dir.path());
        assert!(with_code(&diags, "pattern-matches-nothing").is_empty());
    }

    #[test]
    fn a_sidecar_naming_an_unknown_control_is_reported_and_maps_nothing() {
        let dir = project(&[
            ("evidence/exports/legacy.json", "{}"),
            ("evidence/exports/legacy.json.meta.toml", "controls = [\"ZZ-99\"]\neffective = 2026-06-01\n"),
        ]);
        let (ix, diags) = index_of(dir.path());
        let unknown = with_code(&diags, "unknown-control");
        assert_eq!(unknown.len(), 1);
        assert!(unknown[0].message.contains("ZZ-99"), "{}", unknown[0].message);
        assert_eq!(at(unknown[0]), Some(Path::new("evidence/exports/legacy.json.meta.toml")));
        let f = file(&ix, "evidence/exports/legacy.json");
        assert!(!f.is_mapped(), "{:?}", f.mapped_by);
        assert!(ix.unmapped.contains(&f.file.path));
        assert!(!ix.controls.contains_key("ZZ-99"));
        assert_eq!((ix.totals.mapped, ix.totals.unmapped), (5, 2));
    }

    #[test]
    fn a_sidecar_provider_wins_over_a_provider_folder() {
        let dir = project(&[
            ("evidence/access-reviews/aws/sso-2026-Q2.csv", "user\n"),
            ("evidence/access-reviews/aws/sso-2026-Q2.csv.meta.toml", "provider = \"okta\"\n"),
        ]);
        let (ix, _) = index_of(dir.path());
        let f = file(&ix, "evidence/access-reviews/aws/sso-2026-Q2.csv");
        assert_eq!(f.provider.as_deref(), Some("okta"));
        assert_eq!(f.owner, Owner::Joint);
        let on = |p: &str| {
            let a = ix.controls["AC-01"].assignments.iter().find(|a| a.provider.as_deref() == Some(p)).unwrap();
            paths(&ix, &a.evidence).contains(&f.file.path)
        };
        assert!(on("okta") && !on("aws"));
    }

    #[test]
    fn an_empty_file_is_mapped_but_counts_for_no_control() {
        let dir = project(&[("evidence/GOV-01/policy-acknowledgements-2026-02-01.csv", "")]);
        let (ix, diags) = index_of(dir.path());
        let f = file(&ix, "evidence/GOV-01/policy-acknowledgements-2026-02-01.csv");
        assert_eq!(f.controls().collect::<Vec<_>>(), ["GOV-01"]);
        assert!(!paths(&ix, &ix.controls["GOV-01"].evidence).contains(&f.file.path));
        let empty = with_code(&diags, "empty-evidence");
        assert_eq!(empty.len(), 1);
        assert_eq!(at(empty[0]), Some(Path::new(f.file.path.as_str())));
        assert_eq!(ix.totals.mapped, 6, "mapped counts the mapping, not what counts as evidence");
    }

    #[test]
    fn evidence_effective_after_the_as_of_date_counts_for_no_control() {
        let dir = project(&[("evidence/GOV-01/policy-review-2026-09-01.md", "reviewed")]);
        let (ix, diags) = index_of(dir.path());
        let late = with_code(&diags, "evidence-after-period");
        assert_eq!(late.len(), 1);
        assert_eq!(at(late[0]), Some(Path::new("evidence/GOV-01/policy-review-2026-09-01.md")));
        assert!(late[0].message.contains("as-of date"), "{}", late[0].message);
        assert_eq!(
            paths(&ix, &ix.controls["GOV-01"].evidence),
            ["evidence/GOV-01/information-security-policy-2026-01-15.md"]
        );
        // On the as-of date itself it counts.
        let dir = project(&[("evidence/GOV-01/policy-review-2026-06-30.md", "reviewed")]);
        let (ix, diags) = index_of(dir.path());
        assert!(with_code(&diags, "evidence-after-period").is_empty());
        assert_eq!(ix.controls["GOV-01"].evidence.len(), 2);
    }

    #[test]
    fn a_file_of_another_provider_does_not_count_for_the_control() {
        let dir = project(&[("evidence/okta/PE-01/badge-review-2026-03-31.pdf", "%PDF")]);
        let (ix, diags) = index_of(dir.path());
        let f = file(&ix, "evidence/okta/PE-01/badge-review-2026-03-31.pdf");
        assert_eq!((f.controls().collect::<Vec<_>>(), f.provider.as_deref()), (vec!["PE-01"], Some("okta")));
        let other = with_code(&diags, "evidence-other-provider");
        assert_eq!(other.len(), 1);
        assert!(other[0].message.contains("`okta`") && other[0].message.contains("PE-01"), "{}", other[0].message);
        assert_eq!(
            paths(&ix, &ix.controls["PE-01"].evidence),
            ["evidence/datacentre/aws-physical-review-2026-03-31.pdf"]
        );
        // A control of the company's own takes a file of any provider.
        let dir = project(&[("evidence/okta/GOV-01/policy-2026-03-31.md", "policy")]);
        let (ix, diags) = index_of(dir.path());
        assert!(with_code(&diags, "evidence-other-provider").is_empty());
        assert_eq!(ix.controls["GOV-01"].evidence.len(), 2);
    }

    #[test]
    fn the_index_is_sorted_by_path_and_serialises_identically_twice() {
        let dir = project(&[
            // Sorted as strings: `a.txt` before `a/...` ('.' < '/'), whatever the walk order.
            ("evidence/a.txt", "a file"),
            ("evidence/a/z-2026-01-01.txt", "a file in a folder"),
        ]);
        let (one, _) = index_of(dir.path());
        let (two, _) = index_of(dir.path());
        let sorted: Vec<&str> = one.evidence.iter().map(|f| f.file.path.as_str()).collect();
        let mut expected = sorted.clone();
        expected.sort();
        assert_eq!(sorted, expected);
        assert!(sorted.iter().all(|p| one.file(p).is_some_and(|f| f.file.path == *p)), "found by binary search");
        let (a, b) = (serde_json::to_string(&one).unwrap(), serde_json::to_string(&two).unwrap());
        assert_eq!(a, b);
        let json: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["totals"]["files"], 8);
        // Lists of positions are written as paths.
        assert_eq!(
            json["controls"]["PE-01"]["evidence"],
            serde_json::json!(["evidence/datacentre/aws-physical-review-2026-03-31.pdf"])
        );
        assert_eq!(json["owners"]["provider"][0]["control"], "PE-01");
    }
}
