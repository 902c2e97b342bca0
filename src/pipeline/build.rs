//! `build` and `describe`: assess the project, then write the reports, index.json and the
//! package (or the system description alone) into the output folder, all or nothing.

use super::Common;
use crate::Error;
use crate::collect::CollectOptions;
use crate::diag::{Diagnostics, Severity};
use crate::output::Staging;
use crate::package::{Artifact, Content};
use crate::render::{DocumentKind, Templates, doc::DocMeta};
use std::path::{Path, PathBuf};

/// What a run writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// index.json, the reports and the package
    Build,
    /// the system description alone
    Describe,
}

/// The options only `build` has.
#[derive(Default)]
pub struct BuildOptions {
    /// Sign the package with this key.
    pub signing_key: Option<crate::package::sign::SigningKey>,
    /// Rebuild as of this snapshot (a number, `latest` or a hash prefix) ...
    pub snapshot: Option<String>,
    /// ... of this store (default: the project's).
    pub store: Option<String>,
    /// Overrides `[package] compression_level`.
    pub compression_level: Option<u32>,
    /// Findings of the assessment at deny level stop the build too.
    pub strict: bool,
}

/// How a run ended.
pub enum Ended {
    /// Every output was written (`paths`, in the order written).
    Written { paths: Vec<PathBuf>, totals: crate::index::Totals },
    /// Nothing was written: the project has errors that stop it, or, with `by_strict`, only
    /// findings of the assessment at deny level (which `--strict` makes blocking).
    Stopped { by_strict: bool },
}

/// The result of a run: its findings, what the user should be told besides them, how it ended.
pub struct Built {
    pub diags: Diagnostics,
    /// Lines for the user (a rebuild from a snapshot says so), in order.
    pub notes: Vec<String>,
    pub ended: Ended,
}

/// Runs `build` (with `Some(options)`) or `describe` (`mode` Describe, options `None`).
pub fn run(
    common: &Common,
    mode: Mode,
    options: Option<&BuildOptions>,
    stage_done: &mut dyn FnMut(&'static str),
) -> Result<Built, Error> {
    // Before anything is read or written: a refused output path leaves no trace.
    check_outputs(common)?;
    let mut notes = Vec::new();
    // `--snapshot`: the project as it was, written to a temporary folder, with the history the
    // store held then; everything below runs on it as on the live project.
    let mut root = common.project.clone();
    let mut history = super::History::Project;
    let mut _as_of = None;
    if let Some(id) = options.and_then(|b| b.snapshot.as_ref()) {
        let store_arg = options.and_then(|b| b.store.as_deref());
        let location = crate::snapshot::StoreLocation::of_project(&common.project, None, store_arg)?;
        let store = crate::snapshot::Store::open(location)?;
        let n = store.resolve(id)?;
        let tmp = private_temp_dir(&common.out)?;
        let manifest = crate::snapshot::materialize(&store, n, tmp.path())?;
        if manifest.auditpack != env!("CARGO_PKG_VERSION") {
            notes.push(format!(
                "note: snapshot {n} was taken by auditpack {}; this is {}, so the package may differ from one built then",
                manifest.auditpack,
                env!("CARGO_PKG_VERSION")
            ));
        }
        root = tmp.path().to_path_buf();
        history = super::History::Store { location: store.location.clone(), upto: n };
        _as_of = Some(tmp);
        notes.push(format!("building the package as of snapshot {n}"));
    }
    let opts = CollectOptions {
        progress: common.progress.clone(),
        // A rebuild from a snapshot reads a fresh temporary copy: no cache to trust there.
        cache_dir: match _as_of {
            Some(_) => None,
            None => Some(common.cache_dir()),
        },
        rehash: common.rehash,
    };
    let inputs = super::Inputs {
        history,
        scans: common.scans.clone(),
        keep_going: false,
        count_inferred_dates: !common.keep_notes,
    };
    let mut diags = Diagnostics::default();
    let assessed = super::assess_project_with(&root, &opts, &inputs, stage_done, &mut diags);
    super::clear(&opts.progress);
    // `[check] levels` apply to the build too, so a denied finding stops the package.
    let levels = assessed.as_ref().map(|a| a.project.check.clone());
    let mut diags = crate::check::apply_levels(diags, levels.as_ref());
    // Nothing secret goes to the auditor: scanned before anything is written.
    // `describe` packages no evidence, but its description carries the project's own text.
    if let Some(a) = &assessed {
        let index = options.map(|_| &a.index);
        crate::package::secrets::scan_files(&a.project, index, &mut diags);
        check_out_dir(&a.project, &common.out)?;
    }
    // What stops the build: an error that keeps the project from loading or packaging; findings
    // about the posture (the gap analysis) only with --strict.
    let strict = options.is_some_and(|b| b.strict);
    let blocking = diags.iter().any(|d| d.severity == Severity::Error && (strict || !d.code.is_posture()));
    let Some(mut assessed) = assessed.filter(|_| !blocking) else {
        let by_strict = strict && diags.iter().all(|d| d.severity != Severity::Error || d.code.is_posture());
        return Ok(Built { diags, notes, ended: Ended::Stopped { by_strict } });
    };

    if let Some(level) = options.and_then(|b| b.compression_level) {
        assessed.project.package.compression_level = level;
    }
    let mut staging = Staging::new(&common.out)?;
    stage_done("checks and secrets");
    match mode {
        Mode::Build => {
            let index_json = staging.write_json("index.json", &assessed.index)?;
            stage_done("index.json");
            let key = options.and_then(|b| b.signing_key.as_ref());
            write_build(&assessed, index_json, key, &mut staging, stage_done)?;
        }
        Mode::Describe => write_description(&assessed, &mut staging, stage_done)?,
    }
    let paths = staging.commit()?;
    stage_done("write outputs");
    let totals = assessed.index.totals.clone();
    Ok(Built { diags, notes, ended: Ended::Written { paths, totals } })
}

/// A private (0700) folder beside the outputs, on their filesystem, for a project extracted from
/// a snapshot: the project's files are for this user only, and a killed run's folder is removed
/// by the next run (`.auditpack-snapshot-*`, once stale).
fn private_temp_dir(out: &Path) -> Result<tempfile::TempDir, Error> {
    std::fs::create_dir_all(out).map_err(|e| Error::io("create the output folder", out, e))?;
    crate::output::remove_stale_temporaries(out);
    let mut builder = tempfile::Builder::new();
    builder.prefix(crate::output::SNAPSHOT_TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(out).map_err(|e| Error::io("create a temporary folder in", out, e))
}

/// Pretty JSON with a final newline.
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    let mut s = serde_json::to_vec_pretty(v).map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
    s.push(b'\n');
    Ok(s)
}

/// Refuses an output folder inside the evidence folder: the next run would collect the outputs.
pub(super) fn check_out_dir(project: &crate::project::Project, out: &Path) -> Result<(), Error> {
    refuse_inside_evidence(&project.root.join(&project.paths.evidence), out, "output folder", "--out")
}

/// Checks every path a run will write (the output folder, the hash cache) before anything is
/// read or written: a refused path must leave no trace.
pub(super) fn check_outputs(common: &Common) -> Result<(), Error> {
    let evidence = crate::project::evidence_dir_of(&common.project);
    refuse_inside_evidence(&evidence, &common.out, "output folder", "--out")?;
    if let Some(cache) = &common.cache {
        refuse_inside_evidence(&evidence, cache, "cache folder", "--cache")?;
    }
    Ok(())
}

fn refuse_inside_evidence(evidence: &Path, out: &Path, what: &str, flag: &str) -> Result<(), Error> {
    if evidence.exists() && crate::output::is_inside(out, evidence) {
        return Err(Error::Usage(format!(
            "the {what} {} is inside the evidence folder {}; choose another {flag} (the next run would package it as evidence)",
            out.display(),
            evidence.display()
        )));
    }
    Ok(())
}

/// The three formats of one template: Markdown, then HTML and PDF from that Markdown.
struct Rendered {
    markdown: String,
    html: String,
    pdf: Vec<u8>,
}

fn render(
    a: &super::Assessed,
    templates: &Templates,
    kind: DocumentKind,
    meta: DocMeta,
    stage_done: &mut dyn FnMut(&'static str),
) -> Result<Rendered, Error> {
    let [md_done, parse_done, html_done, pdf_done] = render_stages(kind);
    let markdown = templates.render_document(kind, &a.report)?;
    stage_done(md_done);
    let charts = crate::render::charts::charts(&a.report);
    let document = crate::render::markdown::parse(&markdown, meta, &charts);
    stage_done(parse_done);
    let html = crate::render::html::render(&document);
    stage_done(html_done);
    let pdf = crate::render::pdf::render(&document).map_err(|e| Error::Pdf(e.to_string()))?;
    stage_done(pdf_done);
    Ok(Rendered { markdown, html, pdf })
}

/// The `--timings` names of rendering one document's four steps, naming the document, since a
/// build renders two (the report and the annex).
fn render_stages(kind: DocumentKind) -> [&'static str; 4] {
    macro_rules! stages {
        ($doc:literal) => {
            [
                concat!("render markdown (", $doc, ")"),
                concat!("parse markdown (", $doc, ")"),
                concat!("render html (", $doc, ")"),
                concat!("render pdf (", $doc, ")"),
            ]
        };
    }
    match kind {
        DocumentKind::Report => stages!("report"),
        DocumentKind::Annex => stages!("annex"),
        DocumentKind::Describe => stages!("description"),
    }
}

fn load_templates(a: &super::Assessed) -> Result<Templates, Error> {
    Templates::load(Some(&a.project.root.join(&a.project.paths.templates)))
}

fn write_description(
    a: &super::Assessed,
    staging: &mut Staging,
    stage_done: &mut dyn FnMut(&'static str),
) -> Result<(), Error> {
    let mut meta = doc_meta(a, DocumentKind::Describe)?;
    meta.title = format!("Description of the {}", a.report.meta.system);
    meta.subtitle = vec![
        a.report.meta.organisation.clone(),
        match a.report.meta.kind {
            crate::model::AuditType::Type1 => a.report.meta.period_text.replacen("as of", "As of", 1),
            crate::model::AuditType::Type2 => {
                format!("For the period {}", a.report.meta.period_text)
            }
        },
        "Prepared in accordance with DC 200".to_string(),
    ];
    meta.date_text = a.report.meta.report_date_text.clone();
    let r = render(a, &load_templates(a)?, DocumentKind::Describe, meta, stage_done)?;
    staging.write("description.md", r.markdown.as_bytes())?;
    staging.write("description.html", r.html.as_bytes())?;
    staging.write("description.pdf", &r.pdf)
}

fn write_build(
    a: &super::Assessed,
    index_json: crate::output::Staged,
    signing_key: Option<&crate::package::sign::SigningKey>,
    staging: &mut Staging,
    stage_done: &mut dyn FnMut(&'static str),
) -> Result<(), Error> {
    let project = &a.project;
    let templates = load_templates(a)?;
    let report = render(a, &templates, DocumentKind::Report, doc_meta(a, DocumentKind::Report)?, stage_done)?;
    let annex = render(a, &templates, DocumentKind::Annex, doc_meta(a, DocumentKind::Annex)?, stage_done)?;
    let report_json = staging.write_json("report.json", &a.report)?;
    let register_csv = crate::project::risks_csv::export(&a.project.risks);
    // Every file, whatever the report lists: written row by row from the index.
    let evidence_csv = staging.write_streamed("evidence-index.csv", |w| {
        crate::report::write_evidence_csv(&a.index, w).and_then(|w| w.flush())
    })?;

    let artifacts = vec![
        Artifact { name: "index.json".into(), content: Content::File(index_json) },
        Artifact { name: "report/annex.html".into(), content: Content::Bytes(annex.html.into_bytes()) },
        Artifact { name: "report/annex.md".into(), content: Content::Bytes(annex.markdown.into_bytes()) },
        Artifact { name: "report/annex.pdf".into(), content: Content::Bytes(annex.pdf) },
        Artifact { name: "report/report.md".into(), content: Content::Bytes(report.markdown.into_bytes()) },
        Artifact { name: "report/report.html".into(), content: Content::Bytes(report.html.into_bytes()) },
        Artifact { name: "report/report.pdf".into(), content: Content::Bytes(report.pdf) },
        Artifact { name: "report/report.json".into(), content: Content::File(report_json) },
        Artifact { name: "report/risk-register.csv".into(), content: Content::Bytes(register_csv.into_bytes()) },
        Artifact { name: crate::report::EVIDENCE_CSV.into(), content: Content::File(evidence_csv) },
    ];
    for art in &artifacts {
        if let Content::Bytes(bytes) = &art.content {
            staging.write(art.name.trim_start_matches("report/"), bytes)?;
        }
    }
    let zip_name = format!("{}.zip", crate::package::bag_name(project));
    let zip_path = staging.dir().join(&zip_name);
    let spool = staging.dir().to_path_buf();
    let file = staging.file(&zip_name)?;
    crate::package::write(
        project,
        &a.index,
        &artifacts,
        signing_key,
        &spool,
        std::io::BufWriter::new(file.as_file_mut()),
    )
    .map_err(|e| match e {
        Error::Package { message, .. } => Error::Package { path: zip_path.clone(), message },
        other => other,
    })?;
    stage_done("package (zip)");
    Ok(())
}

/// The cover and running header of each document: the annex is never "prepared for customers".
fn doc_meta(a: &super::Assessed, kind: DocumentKind) -> Result<DocMeta, Error> {
    let r = &a.report;
    let logo = match &a.project.branding.logo {
        Some(p) => {
            let full = a.project.root.join(p);
            Some(std::fs::read(&full).map_err(|e| Error::io("read the logo", &full, e))?)
        }
        None => None,
    };
    let period = match r.meta.kind {
        crate::model::AuditType::Type1 => format!("Description {}", r.meta.period_text),
        crate::model::AuditType::Type2 => format!("For the period {}", r.meta.period_text),
    };
    let (title, confidentiality, date_text) = match kind {
        DocumentKind::Annex => (
            format!("Auditor's annex to the SOC 2 {} report", r.meta.type_title),
            r.meta.annex_confidentiality.clone(),
            format!("Readiness material, prepared {}", r.meta.report_date_text),
        ),
        _ => (
            format!("Draft SOC 2 {} report", r.meta.type_title),
            r.meta.confidentiality.clone(),
            format!("Draft of {}", r.meta.report_date_text),
        ),
    };
    Ok(DocMeta {
        title,
        subtitle: vec![r.meta.organisation.clone(), r.meta.system.clone(), period],
        organisation: r.meta.organisation.clone(),
        confidentiality,
        date: r.meta.report_date.clone(),
        date_text,
        accent: r.meta.accent.clone(),
        logo,
    })
}
