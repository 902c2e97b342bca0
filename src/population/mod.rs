//! Between index and assess: populations counted from system listings, samples drawn from their
//! items, and the provenance (IPE) of every listing and report -> [`Populations`].
//!
//! A control with `[control.population]` has as population the items of its listings dated in
//! the observation period (Type 2), deduplicated by key. The sample is reproducible by anyone:
//! each item is ranked by the SHA-256 of `seed + "\n" + key`, the lowest ranks are selected (see
//! docs/populations.md). Provenance checks run on every evidence file whose sidecar has a
//! `[provenance]` or `[collector]` record, and on every listing.

pub mod listing;

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::index::{EvidenceIndex, IndexedFile};
use crate::model::{AuditType, Frequency};
use crate::project::ipe::{CollectorRun, PopulationSpec, Provenance, utc_date};
use crate::project::{Control, Project};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use jiff::civil::Date;
use listing::{Format, Record};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The version of the selection rule, part of every seed: a new rule gets a new name.
pub const SELECTION: &str = "auditpack-sample/1";

#[derive(Debug, Clone, Default, Serialize)]
pub struct Populations {
    /// Control id -> its population (Type 2 controls with `[control.population]`).
    pub controls: BTreeMap<String, ControlPopulation>,
    /// Every listing of a population and every file with a provenance record, by path.
    pub listings: Vec<ListingRecord>,
}

/// A listing or report with what is known of where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct ListingRecord {
    pub path: String,
    pub sha256: String,
    /// Records in the file (every row or object, before any filter); `None` when not a listing.
    pub records: Option<usize>,
    /// The period the file covers (sidecar `period_start`/`period_end`).
    pub period: Option<(Date, Date)>,
    pub provenance: Option<Provenance>,
    pub collector: Option<CollectorRun>,
    /// Controls whose population is drawn from it.
    pub populations: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlPopulation {
    /// What an item is, in the plural.
    pub items: String,
    pub listings: Vec<String>,
    /// Items dated in the period: the population.
    pub size: usize,
    /// Rows left out: outside the period, without a date, of another value than a filter asks,
    /// or repeating a key already counted.
    pub outside_period: usize,
    pub undated: usize,
    pub filtered: usize,
    pub duplicates: usize,
    pub sample_size: usize,
    pub seed: String,
    pub samples: Vec<SampledItem>,
    /// The rule that links an item to its supporting evidence, when the project gives one.
    pub support: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SampledItem {
    pub key: String,
    pub date: Date,
    pub listing: String,
    pub line: usize,
    /// Supporting evidence found by the support rule (paths), empty when none is on file.
    pub support: Vec<String>,
    /// The SHA-256 rank that selected the item (hex), for reperformance.
    pub rank: String,
}

/// One item of a population while it is being built.
struct Item {
    key: String,
    date: Date,
    listing: String,
    line: usize,
    /// Values of the columns the support rule names.
    values: Vec<String>,
}

pub fn build(project: &Project, index: &EvidenceIndex, diags: &mut Diagnostics) -> Populations {
    let evidence_root = project.root.join(&project.paths.evidence);
    let mut listings: BTreeMap<String, ListingRecord> = BTreeMap::new();
    let mut out = Populations::default();
    for control in &project.controls {
        let Some(spec) = &control.population else { continue };
        let files = matching(index, &spec.listings);
        if files.is_empty() {
            diags.push(
                Diagnostic::warning(
                    Code::ListingNotFound,
                    format!(
                        "control `{}`: no evidence file matches its population listing {}",
                        control.id,
                        quoted(&spec.listings)
                    ),
                )
                .at(spec.at.listing.clone().unwrap_or_else(|| control.location.clone()))
                .hint("put the export of the system listing in the evidence folder, or correct `population.listing`"),
            );
            continue;
        }
        let mut items: Vec<Item> = Vec::new();
        let mut counts = Counts::default();
        let mut readable = true;
        for f in &files {
            let rec = listings.entry(f.file.path.clone()).or_insert_with(|| record_of(f));
            rec.populations.push(control.id.clone());
            match read_items(&evidence_root, f, control, spec, &mut items, &mut counts, diags) {
                Some(n) => rec.records = Some(n),
                None => readable = false,
            }
        }
        if !readable {
            continue;
        }
        check_span(project, control, spec, &files, diags);
        if project.audit.kind != AuditType::Type2 {
            continue;
        }
        // Deduplicate by key: the first listing (by path) that holds an item counts it. The same
        // key with another date is two records of one item that disagree: reported.
        let mut seen: BTreeMap<String, (Date, String, usize)> = BTreeMap::new();
        let mut conflicts = Vec::new();
        items.retain(|i| match seen.get(&i.key) {
            None => {
                seen.insert(i.key.clone(), (i.date, i.listing.clone(), i.line));
                true
            }
            Some((date, listing, line)) => {
                counts.duplicates += 1;
                if *date != i.date {
                    conflicts.push((i.key.clone(), i.date, i.listing.clone(), i.line, *date, listing.clone(), *line));
                }
                false
            }
        });
        for (key, date, listing, line, first_date, first_listing, first_line) in conflicts {
            let mut loc = Location::file(&listing);
            loc.line = Some(line);
            diags.push(
                Diagnostic::warning(
                    Code::ConflictingItem,
                    format!(
                        "control `{}`: item `{key}` is dated {date} here but {first_date} in {first_listing} line {first_line}; the first is counted",
                        control.id
                    ),
                )
                .at(loc)
                .hint("one item, two records: correct the export, or add a column to `population.key` that tells the items apart"),
            );
        }
        let (start, end) = (project.audit.start, project.audit.end);
        let before = items.len();
        items.retain(|i| i.date >= start && i.date <= end);
        counts.outside += before - items.len();
        out.controls.insert(control.id.clone(), population(project, index, control, spec, files, items, counts, diags));
    }
    for f in &index.evidence {
        let has = f.file.sidecar.as_ref().is_some_and(|s| s.meta.provenance.is_some() || s.meta.collector.is_some());
        if has && !listings.contains_key(&f.file.path) {
            let mut rec = record_of(f);
            if let Some(format) = Format::of(&f.file.path) {
                rec.records = listing::count(&evidence_root.join(f.file.rel()), format).ok();
            }
            listings.insert(f.file.path.clone(), rec);
        }
    }
    for rec in listings.values() {
        check_provenance(project, index, rec, diags);
    }
    out.listings = listings.into_values().collect();
    out
}

#[derive(Default)]
struct Counts {
    outside: usize,
    undated: usize,
    filtered: usize,
    duplicates: usize,
}

fn quoted(patterns: &[String]) -> String {
    patterns.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
}

/// Evidence files whose path under the evidence folder matches one of `patterns`, by path.
fn matching<'a>(index: &'a EvidenceIndex, patterns: &[String]) -> Vec<&'a IndexedFile> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        if let Ok(g) = GlobBuilder::new(p).literal_separator(true).build() {
            b.add(g);
        }
    }
    let Ok(set) = b.build() else { return Vec::new() };
    index.evidence.iter().filter(|f| set.is_match(f.file.rel())).collect()
}

fn record_of(f: &IndexedFile) -> ListingRecord {
    let meta = f.file.sidecar.as_ref().map(|s| &s.meta);
    ListingRecord {
        path: f.file.path.clone(),
        sha256: f.file.sha256.clone(),
        records: None,
        period: meta.and_then(|m| m.period),
        provenance: meta.and_then(|m| m.provenance.clone()),
        collector: meta.and_then(|m| m.collector.clone()),
        populations: Vec::new(),
    }
}

/// The columns of `spec` that `support` names as `{column}`.
fn support_columns(support: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = support;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    out
}

/// `_file` is the listing's file name, so that listings of several systems can be told apart.
const FILE_COLUMN: &str = "_file";

/// Reads one listing's items into `items`; returns its record count, or `None` after reporting
/// a listing that cannot be used.
#[allow(clippy::too_many_arguments)] // the control, its spec and the two accumulators
fn read_items(
    evidence_root: &std::path::Path,
    f: &IndexedFile,
    control: &Control,
    spec: &PopulationSpec,
    items: &mut Vec<Item>,
    counts: &mut Counts,
    diags: &mut Diagnostics,
) -> Option<usize> {
    let path = &f.file.path;
    let Some(format) = Format::of(path) else {
        diags.push(
            Diagnostic::error(Code::InvalidListing, format!("control `{}`: the listing `{path}` is not CSV, JSON or JSON lines", control.id))
                .at_file(path)
                .hint("export the listing as .csv (with a header row), .json (an array of objects) or .jsonl, or narrow `population.listing`"),
        );
        return None;
    };
    let file_name = f.file.rel().rsplit('/').next().unwrap_or(f.file.rel()).to_string();
    let support_cols = spec.support.as_deref().map(support_columns).unwrap_or_default();
    let wanted: Vec<(&str, Option<&Location>)> = spec
        .key
        .iter()
        .map(|k| (k.as_str(), spec.at.key.as_ref()))
        .chain([(spec.date.as_str(), spec.at.date.as_ref())])
        .chain(spec.filters.iter().zip(&spec.at.filters).map(|((c, _), at)| (c.as_str(), Some(at))))
        .chain(support_cols.iter().map(|c| (c.as_str(), spec.at.support.as_ref())))
        .collect();
    let mut seen_columns: BTreeSet<String> = BTreeSet::new();
    let mut bad_dates: Vec<(usize, String)> = Vec::new();
    let mut undated_first: Option<usize> = None;
    let mut new_items = Vec::new();
    let value = |r: &Record<'_>, c: &str| if c == FILE_COLUMN { Some(file_name.clone()) } else { r.get(c) };
    let summary = listing::read(&evidence_root.join(f.file.rel()), format, |r| {
        for (c, _) in &wanted {
            if value(r, c).is_some() {
                seen_columns.insert(c.to_string());
            }
        }
        let keep =
            spec.filters.iter().all(|(c, allowed)| value(r, c).is_some_and(|v| allowed.iter().any(|a| a == v.trim())));
        if !keep {
            counts.filtered += 1;
            return;
        }
        let raw_date = value(r, &spec.date).unwrap_or_default();
        let raw_date = raw_date.trim();
        if raw_date.is_empty() {
            counts.undated += 1;
            undated_first.get_or_insert(r.line());
            return;
        }
        let Some(date) = parse_item_date(raw_date) else {
            bad_dates.push((r.line(), raw_date.to_string()));
            return;
        };
        let key =
            spec.key.iter().map(|k| value(r, k).unwrap_or_default().trim().to_string()).collect::<Vec<_>>().join(" / ");
        let values = support_cols.iter().map(|c| value(r, c).unwrap_or_default().trim().to_string()).collect();
        new_items.push(Item { key, date, listing: path.clone(), line: r.line(), values });
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            let mut loc = Location::file(path);
            loc.line = e.line;
            diags.push(
                Diagnostic::error(
                    Code::InvalidListing,
                    format!("the listing of control `{}` cannot be read: {}", control.id, e.message),
                )
                .at(loc)
                .hint("export it again from the source system, or correct the line"),
            );
            return None;
        }
    };
    let mut ok = true;
    for (c, at) in &wanted {
        if *c != FILE_COLUMN && !seen_columns.contains(*c) && summary.records > 0 {
            diags.push(
                Diagnostic::error(
                    Code::UnknownColumn,
                    format!("control `{}`: the listing `{path}` has no column `{c}`", control.id),
                )
                .at(at.map(|l| (*l).clone()).unwrap_or_else(|| control.location.clone()))
                .hint(format!("its columns are: {}", summary.columns.join(", "))),
            );
            ok = false;
        }
    }
    if let Some((line, v)) = bad_dates.first() {
        let mut loc = Location::file(path);
        loc.line = Some(*line);
        let more =
            if bad_dates.len() > 1 { format!(" (and {} more rows)", bad_dates.len() - 1) } else { String::new() };
        diags.push(
            Diagnostic::error(
                Code::InvalidListingDate,
                format!("the `{}` value \"{v}\" is not a date{more}", spec.date),
            )
            .at(loc)
            .hint("dates are YYYY-MM-DD or an RFC 3339 time such as 2026-03-04T10:00:00Z"),
        );
        ok = false;
    }
    if let Some(line) = undated_first {
        let mut loc = Location::file(path);
        loc.line = Some(line);
        diags.push(
            Diagnostic::warning(
                Code::UndatedItems,
                format!("{} row(s) of the listing have no `{}` value and are not in the population of `{}`", counts.undated, spec.date, control.id),
            )
            .at(loc)
            .hint("filter such rows out with `population.filter` if they are not items (e.g. pull requests never merged), or complete the export"),
        );
    }
    if !ok {
        return None;
    }
    items.extend(new_items);
    Some(summary.records)
}

/// `2026-03-04`, or an RFC 3339 time whose UTC day is taken (`2026-03-04T23:30:00-05:00` is the
/// 5th).
pub fn parse_item_date(s: &str) -> Option<Date> {
    if let Some(d) = crate::project::toml_de::parse_date(s) {
        return Some(d);
    }
    s.parse::<jiff::Timestamp>().ok().map(utc_date)
}

/// The rank of an item in the selection: SHA-256 of the seed, a newline and the item's key.
pub fn rank(seed: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update(b"\n");
    h.update(key.as_bytes());
    crate::text::hex(&h.finalize())
}

/// The seed of a control's selection: the rule, the organisation, the system, the control and
/// the period.
pub fn seed(project: &Project, control: &str) -> String {
    format!(
        "{SELECTION}|{}|{}|{control}|{}|{}",
        project.organisation.name, project.system.name, project.audit.start, project.audit.end
    )
}

#[allow(clippy::too_many_arguments)] // the parts of one population, gathered above
fn population(
    project: &Project,
    index: &EvidenceIndex,
    control: &Control,
    spec: &PopulationSpec,
    files: Vec<&IndexedFile>,
    items: Vec<Item>,
    counts: Counts,
    diags: &mut Diagnostics,
) -> ControlPopulation {
    let seed = seed(project, &control.id);
    // The items are the events the control acts on: sized as per-event, whatever the control's
    // own frequency.
    let n = project.sampling.size(Frequency::PerEvent, items.len());
    let mut ranked: Vec<(String, &Item)> = items.iter().map(|i| (rank(&seed, &i.key), i)).collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
    ranked.truncate(n);
    ranked.sort_by(|a, b| (a.1.date, &a.1.key).cmp(&(b.1.date, &b.1.key)));
    let supports = spec.support.as_ref().map(|s| support_of(index, s, ranked.iter().map(|(_, i)| *i)));
    let samples: Vec<SampledItem> = ranked
        .iter()
        .enumerate()
        .map(|(k, (rank, i))| SampledItem {
            key: i.key.clone(),
            date: i.date,
            listing: i.listing.clone(),
            line: i.line,
            support: supports.as_ref().map(|s| s[k].clone()).unwrap_or_default(),
            rank: rank.clone(),
        })
        .collect();
    if spec.support.is_some() {
        let unsupported: Vec<&str> = samples.iter().filter(|s| s.support.is_empty()).map(|s| s.key.as_str()).collect();
        if !unsupported.is_empty() {
            diags.push(
                Diagnostic::warning(
                    Code::SampleWithoutSupport,
                    format!(
                        "control `{}`: {} of {} sampled {} have no supporting evidence on file: {}",
                        control.id,
                        unsupported.len(),
                        samples.len(),
                        spec.items,
                        unsupported.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                            + if unsupported.len() > 5 { ", ..." } else { "" }
                    ),
                )
                .at(spec.at.support.clone().unwrap_or_else(|| control.location.clone()))
                .hint("add each item's supporting evidence under the name the support pattern gives, or correct `population.support`"),
            );
        }
    }
    ControlPopulation {
        items: spec.items.clone(),
        listings: files.iter().map(|f| f.file.path.clone()).collect(),
        size: items.len(),
        outside_period: counts.outside,
        undated: counts.undated,
        filtered: counts.filtered,
        duplicates: counts.duplicates,
        sample_size: samples.len(),
        seed,
        samples,
        support: spec.support.clone(),
    }
}

/// `*`, `?`, `[`, `]`, `{`, `}` and `\` in an item's value are matched as themselves.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// For each item, the evidence files the support pattern names (one pass over the evidence).
fn support_of<'a>(index: &EvidenceIndex, support: &str, items: impl Iterator<Item = &'a Item>) -> Vec<Vec<String>> {
    let columns = support_columns(support);
    let mut b = GlobSetBuilder::new();
    let mut slots = Vec::new();
    for (k, item) in items.enumerate() {
        let mut pattern = support.to_string();
        for (c, v) in columns.iter().zip(&item.values) {
            pattern = pattern.replace(&format!("{{{c}}}"), &glob_escape(v));
        }
        // An item without a value for a placeholder has no supporting evidence by this rule.
        if item.values.iter().any(|v| v.is_empty()) {
            slots.push(None);
            continue;
        }
        match GlobBuilder::new(&pattern).literal_separator(true).backslash_escape(true).build() {
            Ok(g) => {
                b.add(g);
                slots.push(Some(k));
            }
            Err(_) => slots.push(None),
        }
    }
    let mut out = vec![Vec::new(); slots.len()];
    let set: GlobSet = b.build().unwrap_or_else(|_| GlobSet::empty());
    // Glob index -> item position.
    let owners: Vec<usize> = slots.iter().flatten().copied().collect();
    for f in &index.evidence {
        for g in set.matches(f.file.rel()) {
            out[owners[g]].push(f.file.path.clone());
        }
    }
    out
}

/// The provenance checks of one listing or report.
fn check_provenance(project: &Project, index: &EvidenceIndex, rec: &ListingRecord, diags: &mut Diagnostics) {
    let sidecar_path = format!("{}.meta.toml", rec.path);
    if let Some(run) = &rec.collector
        && run.sha256 != rec.sha256
    {
        diags.push(
            Diagnostic::error(
                Code::CollectorOutputChanged,
                format!("`{}` is not the file its collector `{}` wrote: its SHA-256 has changed since {}", rec.path, run.id, run.finished_at),
            )
            .at(run.sha256_at.clone().unwrap_or_else(|| Location::file(&sidecar_path)))
            .hint("evidence is kept as the collector produced it: run `auditpack fetch` again for a new file instead of editing this one"),
        );
    }
    let is_population = !rec.populations.is_empty();
    let Some(prov) = &rec.provenance else {
        if is_population && rec.collector.is_none() {
            diags.push(
                Diagnostic::warning(
                    Code::ListingWithoutProvenance,
                    format!("the population listing `{}` has no provenance record", rec.path),
                )
                .at_file(&rec.path)
                .hint(format!(
                    "add a [provenance] table to `{sidecar_path}`: source_system, report or query, generated_at, generated_by, record_count (see docs/populations.md)"
                )),
            );
        }
        return;
    };
    let prov_at = prov.at.clone().unwrap_or_else(|| Location::file(&sidecar_path));
    let missing = prov.missing(rec.period.is_some());
    if !missing.is_empty() {
        diags.push(
            Diagnostic::warning(Code::ProvenanceIncomplete, format!("the provenance of `{}` does not give {}", rec.path, missing.join(", ")))
                .at(prov_at.clone())
                .hint("an auditor asks where a listing came from, which report or query with which parameters, when it ran, who ran it, and how many records it had"),
        );
    }
    if let (Some(declared), Some(actual)) = (prov.record_count, rec.records)
        && declared != actual as u64
    {
        diags.push(
            Diagnostic::error(
                Code::RecordCountMismatch,
                format!(
                    "`{}` holds {actual} records, but its provenance says the source reported {declared}",
                    rec.path
                ),
            )
            .at(prov.record_count_at.clone().unwrap_or(prov_at.clone()))
            .hint(
                "the listing is incomplete or was edited: export it again and record the count the source system shows",
            ),
        );
    }
    if let (Some(at), Some((_, end))) = (prov.generated_at, rec.period)
        && utc_date(at) <= end
    {
        diags.push(
            Diagnostic::warning(
                Code::ListingGeneratedEarly,
                format!("`{}` was generated at {at}, before the period it covers ends ({end})", rec.path),
            )
            .at(prov_at.clone())
            .hint("a listing generated before its period ends cannot hold the whole period: export it again after the period, or correct period_end"),
        );
    }
    let _ = (project, index);
}

/// The listings of a population together must cover the period (Type 2) or the as-of date
/// (Type 1); a listing without a period is reported by the provenance checks instead.
fn check_span(
    project: &Project,
    control: &Control,
    spec: &PopulationSpec,
    files: &[&IndexedFile],
    diags: &mut Diagnostics,
) {
    let mut periods: Vec<(Date, Date)> = Vec::new();
    for f in files {
        match f.file.sidecar.as_ref().and_then(|s| s.meta.period) {
            Some(p) => periods.push(p),
            None => return,
        }
    }
    let audit = &project.audit;
    let (need_start, need_end) = match audit.kind {
        AuditType::Type2 => (audit.start, audit.end),
        AuditType::Type1 => (audit.end, audit.end),
    };
    periods.sort();
    let mut gaps: Vec<(Date, Date)> = Vec::new();
    let mut cursor = need_start;
    for (s, e) in periods {
        if cursor > need_end {
            break;
        }
        if s > cursor {
            gaps.push((cursor, s.yesterday().unwrap_or(s).min(need_end)));
        }
        if e >= cursor {
            cursor = e.tomorrow().unwrap_or(e);
        }
    }
    if cursor <= need_end {
        gaps.push((cursor, need_end));
    }
    if gaps.is_empty() {
        return;
    }
    let gaps: Vec<String> =
        gaps.iter().map(|(s, e)| if s == e { s.to_string() } else { format!("{s} to {e}") }).collect();
    diags.push(
        Diagnostic::warning(
            Code::ListingPeriodShort,
            format!("control `{}`: the population listings do not cover {}", control.id, gaps.join(", ")),
        )
        .at(spec.at.listing.clone().unwrap_or_else(|| control.location.clone()))
        .hint("add the export of the missing days, or correct the listings' period_start and period_end"),
    );
}
