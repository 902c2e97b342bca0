//! `auditpack build` and `auditpack describe`: run the pipeline and write the outputs.

use super::{Outcome, print_diagnostics, progress_bar};
use crate::Error;
use crate::collect::CollectOptions;
use crate::diag::Diagnostics;
use crate::output::Staging;
use crate::package::{Artifact, Content};
use crate::render::{DocumentKind, Templates, doc::DocMeta};
use std::path::PathBuf;

/// What a run writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// index.json, the reports and the package
    Build,
    /// the system description alone
    Describe,
}

#[derive(clap::Args)]
pub(super) struct BuildArgs {
    #[command(flatten)]
    pub(super) common: super::CommonArgs,
    /// Sign the package with this OpenSSH ed25519 private key (from `auditpack keygen` or `ssh-keygen -t ed25519`)
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Rebuild the package exactly as of snapshot ID (a number, `latest`, or a hash prefix)
    #[arg(long, value_name = "ID")]
    snapshot: Option<String>,
    /// The snapshot store, a folder or s3://bucket/prefix (default: `[snapshot] store` in auditpack.toml, else PROJECT/.auditpack/snapshots)
    #[arg(long, value_name = "STORE", requires = "snapshot")]
    store: Option<String>,
    /// Deflate level of the package, 1 (fastest) to 9 (smallest) [default: `[package] compression_level`, else 6]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=9))]
    compression_level: Option<u32>,
    /// Stop without writing anything when a finding of the assessment (a gap, a risk check) is
    /// at deny level, as `auditpack check` would fail; by default the package is still written
    #[arg(long)]
    strict: bool,
}

/// `full` carries the options only `build` has (signing, snapshots).
pub(super) fn run(args: &super::CommonArgs, mode: Mode, full: Option<&BuildArgs>) -> Result<Outcome, Error> {
    let mut timings = Timings::new();
    let result = run_timed(args, mode, full, &mut timings);
    if args.timings {
        timings.print();
    }
    result
}

fn run_timed(
    args: &super::CommonArgs,
    mode: Mode,
    full: Option<&BuildArgs>,
    timings: &mut Timings,
) -> Result<Outcome, Error> {
    // Before anything is read or written: a refused output path leaves no trace.
    check_outputs(args)?;
    let signing_key = match full.and_then(|b| b.sign.as_ref()) {
        Some(p) => {
            let text = super::read_key(p, "read the signing key")?;
            Some(
                crate::package::sign::parse_private_key(&text)
                    .map_err(|e| Error::Usage(format!("{}: {e}", p.display())))?,
            )
        }
        None => None,
    };
    // `--snapshot`: the project as it was, written to a temporary folder, with the history the
    // store held then; everything below runs on it as on the live project.
    let mut root = args.project.clone();
    let mut history = crate::History::Project;
    let mut _as_of = None;
    if let Some(b) = full
        && let Some(id) = &b.snapshot
    {
        let location = crate::snapshot::StoreLocation::of_project(&args.project, None, b.store.as_deref())?;
        let store = crate::snapshot::Store::open(location)?;
        let n = store.resolve(id)?;
        // Extracted into a private (0700) folder beside the outputs, on their filesystem: the
        // project's files are for this user only, and a killed run's folder is removed by the
        // next run (`.auditpack-snapshot-*`, once stale).
        std::fs::create_dir_all(&args.out).map_err(|e| Error::io("create the output folder", &args.out, e))?;
        crate::output::remove_stale_temporaries(&args.out);
        let mut builder = tempfile::Builder::new();
        builder.prefix(crate::output::SNAPSHOT_TEMP_PREFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let tmp = builder.tempdir_in(&args.out).map_err(|e| Error::io("create a temporary folder in", &args.out, e))?;
        let manifest = crate::snapshot::materialize(&store, n, tmp.path())?;
        if manifest.auditpack != env!("CARGO_PKG_VERSION") && !args.quiet {
            eprintln!(
                "note: snapshot {n} was taken by auditpack {}; this is {}, so the package may differ from one built then",
                manifest.auditpack,
                env!("CARGO_PKG_VERSION")
            );
        }
        root = tmp.path().to_path_buf();
        history = crate::History::Store { location: store.location.clone(), upto: n };
        _as_of = Some(tmp);
        if !args.quiet {
            eprintln!("building the package as of snapshot {n}");
        }
    }
    let mut diags = Diagnostics::default();
    let opts = CollectOptions {
        progress: progress_bar(args.quiet),
        // A rebuild from a snapshot reads a fresh temporary copy: no cache to trust there.
        cache_dir: match full.and_then(|b| b.snapshot.as_ref()) {
            Some(_) => None,
            None => Some(args.cache.clone().unwrap_or_else(|| args.out.join(".auditpack-cache"))),
        },
        rehash: args.rehash,
    };
    let inputs = crate::Inputs { history, scans: args.scan.clone(), keep_going: false };
    let assessed = crate::assess_project_with(&root, &opts, &inputs, &mut |stage| timings.mark(stage), &mut diags);
    // `[check] levels` apply to the build too, so a denied finding stops the package.
    let levels = assessed.as_ref().map(|a| a.project.check.clone());
    let mut diags = crate::check::apply_levels(diags, levels.as_ref());
    if let Some(pb) = &opts.progress {
        pb.finish_and_clear();
    }
    // Nothing secret goes to the auditor: scanned before anything is written.
    // `describe` packages no evidence, but its description carries the project's own text.
    if let Some(a) = &assessed {
        let index = full.map(|_| &a.index);
        crate::package::secrets::scan_files(&a.project, index, &mut diags);
    }
    if let Some(a) = &assessed {
        check_out_dir(&a.project, &args.out)?;
    }
    // What stops the build: an error that keeps the project from loading or packaging; findings
    // about the posture (the gap analysis) only with --strict.
    let strict = full.is_some_and(|b| b.strict);
    let blocking = diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error && (strict || !crate::check::codes::is_posture(d.code)));
    let Some(mut assessed) = assessed.filter(|_| !blocking) else {
        print_diagnostics(&diags, args.verbose, args.quiet);
        if strict
            && !args.quiet
            && diags
                .iter()
                .all(|d| d.severity != crate::diag::Severity::Error || crate::check::codes::is_posture(d.code))
        {
            eprintln!("--strict: findings at deny level stop the build; nothing was written");
        }
        return Ok(Outcome::ProjectErrors);
    };

    if let Some(level) = full.and_then(|b| b.compression_level) {
        assessed.project.package.compression_level = level;
    }
    let mut staging = Staging::new(&args.out)?;
    timings.mark("checks and secrets");
    match mode {
        Mode::Build => {
            let index_json = staging.write_json("index.json", &assessed.index)?;
            timings.mark("index.json");
            write_build(&assessed, index_json, signing_key.as_ref(), &mut staging, timings)?;
        }
        Mode::Describe => write_description(&assessed, &mut staging, timings)?,
    }
    let written = staging.commit()?;
    timings.mark("write outputs");
    print_diagnostics(&diags, args.verbose, args.quiet);
    if !args.quiet && diags.has_errors() {
        eprintln!(
            "the package was written: findings at deny level are part of its gap analysis (`build --strict` stops on them instead)"
        );
    }
    if !args.quiet {
        let t = &assessed.index.totals;
        eprintln!(
            "{} evidence files ({}), {} mapped to controls, {} unmapped",
            t.files,
            crate::render::human_bytes(t.bytes),
            t.mapped,
            t.unmapped
        );
        for p in written {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(Outcome::Ok)
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    let mut s = serde_json::to_vec_pretty(v).map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
    s.push(b'\n');
    Ok(s)
}

/// Refuses an output folder inside the evidence folder: the next run would collect the outputs.
pub(super) fn check_out_dir(project: &crate::project::Project, out: &std::path::Path) -> Result<(), Error> {
    refuse_inside_evidence(&project.root.join(&project.paths.evidence), out, "output folder", "--out")
}

/// Checks every path a run will write (the output folder, the hash cache) before anything is
/// read or written: a refused path must leave no trace.
pub(super) fn check_outputs(args: &super::CommonArgs) -> Result<(), Error> {
    let evidence = crate::project::evidence_dir_of(&args.project);
    refuse_inside_evidence(&evidence, &args.out, "output folder", "--out")?;
    if let Some(cache) = &args.cache {
        refuse_inside_evidence(&evidence, cache, "cache folder", "--cache")?;
    }
    Ok(())
}

fn refuse_inside_evidence(
    evidence: &std::path::Path,
    out: &std::path::Path,
    what: &str,
    flag: &str,
) -> Result<(), Error> {
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
    a: &crate::Assessed,
    templates: &Templates,
    kind: DocumentKind,
    meta: DocMeta,
    timings: &mut Timings,
) -> Result<Rendered, Error> {
    let markdown = templates.render_document(kind, &a.report)?;
    timings.mark("render markdown");
    let charts = crate::render::charts::charts(&a.report);
    let document = crate::render::markdown::parse(&markdown, meta, &charts);
    timings.mark("parse markdown");
    let html = crate::render::html::render(&document);
    timings.mark("render html");
    let pdf = crate::render::pdf::render(&document).map_err(|e| Error::Pdf(e.to_string()))?;
    timings.mark("render pdf");
    Ok(Rendered { markdown, html, pdf })
}

fn load_templates(a: &crate::Assessed) -> Result<Templates, Error> {
    Templates::load(Some(&a.project.root.join(&a.project.paths.templates)))
}

fn write_description(a: &crate::Assessed, staging: &mut Staging, timings: &mut Timings) -> Result<(), Error> {
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
    let r = render(a, &load_templates(a)?, DocumentKind::Describe, meta, timings)?;
    staging.write("description.md", r.markdown.as_bytes())?;
    staging.write("description.html", r.html.as_bytes())?;
    staging.write("description.pdf", &r.pdf)
}

fn write_build(
    a: &crate::Assessed,
    index_json: crate::output::Staged,
    signing_key: Option<&crate::package::sign::SigningKey>,
    staging: &mut Staging,
    timings: &mut Timings,
) -> Result<(), Error> {
    let project = &a.project;
    let templates = load_templates(a)?;
    let report = render(a, &templates, DocumentKind::Report, doc_meta(a, DocumentKind::Report)?, timings)?;
    let annex = render(a, &templates, DocumentKind::Annex, doc_meta(a, DocumentKind::Annex)?, timings)?;
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
    timings.mark("package (zip)");
    Ok(())
}

/// The cover and running header of each document: the annex is never "prepared for customers".
fn doc_meta(a: &crate::Assessed, kind: DocumentKind) -> Result<DocMeta, Error> {
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

/// Wall time per stage for `--timings`. The library signals where each stage ends; the clock is
/// read here, in the CLI, so the library stays free of it.
pub(super) struct Timings {
    last: std::time::Instant,
    /// Stage, its wall time, and the process's peak resident memory when it ended (if known).
    stages: Vec<(&'static str, std::time::Duration, Option<u64>)>,
}

impl Timings {
    pub(super) fn new() -> Self {
        Timings { last: std::time::Instant::now(), stages: Vec::new() }
    }

    /// Ends the stage `stage`: the time since the previous mark is its own.
    pub(super) fn mark(&mut self, stage: &'static str) {
        let now = std::time::Instant::now();
        self.stages.push((stage, now - self.last, peak_rss_kib()));
        self.last = now;
    }

    pub(super) fn print(&self) {
        let total: std::time::Duration = self.stages.iter().map(|(_, d, _)| *d).sum();
        eprintln!("timings (wall; peak memory so far):");
        for (stage, d, peak) in &self.stages {
            let share = if total.is_zero() { 0.0 } else { 100.0 * d.as_secs_f64() / total.as_secs_f64() };
            let peak = peak.map(|k| format!("{:>7} MB", k / 1024)).unwrap_or_default();
            eprintln!("  {stage:<36} {:>9.3} s {share:>5.1}% {peak}", d.as_secs_f64());
        }
        eprintln!("  {:<36} {:>9.3} s", "total", total.as_secs_f64());
    }
}

/// The peak resident set of this process so far (`VmHWM`, Linux), in KiB: which stage raised it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
