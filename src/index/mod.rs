//! Third stage: map the [`Inventory`] onto the control catalogue and the responsibility owners
//! -> [`EvidenceIndex`], the structure written as `index.json`.
//!
//! A file evidences a control through the control's glob patterns, a folder named after the
//! control id, or its sidecar. It is attributed to a provider through its sidecar or a folder
//! named after the provider id; that selects the control's owner on that provider.

use crate::collect::dates::Effective;
use crate::collect::{EvidenceFile, Inventory};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{AuditType, Frequency, Layer, Owner};
use crate::project::Project;
use globset::{Glob, GlobSet, GlobSetBuilder};
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

#[derive(Debug, Clone, Serialize)]
pub struct IndexedFile {
    #[serde(flatten)]
    pub file: EvidenceFile,
    /// Control ids, sorted.
    pub controls: Vec<String>,
    /// control id -> why the file maps to it (`pattern:<glob>`, `folder`, `sidecar`).
    pub mapped_by: MappedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub owner: Owner,
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
            // Patterns were validated when the project was loaded.
            if let Ok(g) = Glob::new(p) {
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
        let dirs = match file.rel.rfind('/') {
            Some(i) => &file.rel[..i],
            None => "",
        };
        for k in matcher.matches(&file.rel) {
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
        let controls: Vec<String> = mapped_by.controls().map(str::to_string).collect();
        let owner = file_owner(&by_id, &controls, provider.as_deref());
        evidence.push(IndexedFile { file, controls, mapped_by, provider, owner });
    }

    for (ci, c) in project.controls.iter().enumerate() {
        for (pi, p) in c.evidence_patterns.iter().enumerate() {
            if !pattern_hits.contains_key(&(ci, pi)) {
                diags.push(
                    Diagnostic::warning(
                        "pattern-matches-nothing",
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
        if f.controls.is_empty() || !project.assessable {
            continue;
        }
        if f.file.size == 0 {
            diags.push(
                Diagnostic::warning("empty-evidence", "the evidence file is empty; it counts for no control")
                    .at_file(&f.file.path)
                    .hint("replace it with the real export or document, or remove it"),
            );
        } else if f.effective().start > end {
            diags.push(
                Diagnostic::warning(
                    "evidence-after-period",
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
        for id in &f.controls {
            let Some(c) = by_id.get(id.as_str()) else { continue };
            if !fits_provider(c, f) {
                diags.push(
                    Diagnostic::warning(
                        "evidence-other-provider",
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
            files_of.entry(id.as_str()).or_default().push(i as u32);
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

    let unmapped: Vec<String> =
        evidence.iter().filter(|f| f.controls.is_empty()).map(|f| f.file.path.clone()).collect();
    for path in &unmapped {
        diags.push(
            Diagnostic::note("unmapped-evidence", "the file evidences no control")
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
        evidence_root: crate::collect::slash(&project.paths.evidence),
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
fn file_owner(by_id: &HashMap<&str, &crate::project::Control>, controls: &[String], provider: Option<&str>) -> Owner {
    let mut owners = BTreeSet::new();
    for id in controls {
        let Some(c) = by_id.get(id.as_str()) else {
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
