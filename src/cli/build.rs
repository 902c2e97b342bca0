//! `auditpack collect` and `auditpack build`: run the pipeline and write the outputs.

use super::{Outcome, print_diagnostics, progress_bar};
use crate::Error;
use crate::collect::CollectOptions;
use crate::diag::Diagnostics;
use crate::output::Staging;
use crate::package::Artifact;
use crate::render::{Templates, doc::DocMeta};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(super) fn run(args: &super::CommonArgs, full: bool) -> Result<Outcome, Error> {
    let mut timings = Timings::default();
    let result = run_timed(args, full, &mut timings);
    if args.timings {
        timings.print();
    }
    result
}

fn run_timed(
    args: &super::CommonArgs,
    full: bool,
    timings: &mut Timings,
) -> Result<Outcome, Error> {
    let mut diags = Diagnostics::default();
    let opts = CollectOptions {
        progress: progress_bar(args.quiet),
    };
    let assessed = assess_project(&args.project, &opts, &mut diags, timings);
    if let Some(pb) = &opts.progress {
        pb.finish_and_clear();
    }
    if let Some(a) = &assessed {
        check_out_dir(&a.project, &args.out)?;
    }
    let Some(assessed) = assessed.filter(|_| !diags.has_errors()) else {
        print_diagnostics(&diags, args.verbose, args.quiet);
        return Ok(Outcome::ProjectErrors);
    };

    let mut staging = Staging::new(&args.out)?;
    let index_json = timings.time("index.json", || to_json(&assessed.index))?;
    staging.write("index.json", &index_json)?;
    if full {
        write_build(&assessed, index_json, &mut staging, timings)?;
    }
    let written = timings.time("write outputs", || staging.commit())?;
    print_diagnostics(&diags, args.verbose, args.quiet);
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

/// The stages of [`crate::assess_project`], called one by one so `--timings` can time each.
fn assess_project(
    root: &std::path::Path,
    opts: &CollectOptions,
    diags: &mut Diagnostics,
    timings: &mut Timings,
) -> Option<crate::Assessed> {
    let loaded = timings.time("load", || crate::project::load(root));
    diags.extend(loaded.diags);
    let project = loaded.project?;
    if diags.has_errors() {
        return None;
    }
    let inventory = timings.time("collect (walk + hash)", || {
        crate::collect::collect(&project, opts, diags)
    });
    let index = timings.time("index", || crate::index::build(&project, inventory, diags));
    let assessment = timings.time("assess", || crate::assess::assess(&project, &index, diags));
    let report = timings.time("report model", || {
        crate::report::build(&project, &index, &assessment)
    });
    Some(crate::Assessed {
        project,
        index,
        assessment,
        report,
    })
}

/// Wall time per stage for `--timings`, measured here around the library calls: the library
/// itself never reads a clock.
#[derive(Default)]
struct Timings {
    stages: Vec<(&'static str, Duration)>,
}

impl Timings {
    fn time<T>(&mut self, stage: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = f();
        self.stages.push((stage, start.elapsed()));
        value
    }

    fn print(&self) {
        let total: Duration = self.stages.iter().map(|(_, d)| *d).sum();
        eprintln!("timings (wall):");
        for (stage, d) in &self.stages {
            let share = if total.is_zero() {
                0.0
            } else {
                100.0 * d.as_secs_f64() / total.as_secs_f64()
            };
            eprintln!("  {stage:<22} {:>9.3} s {share:>5.1}%", d.as_secs_f64());
        }
        eprintln!("  {:<22} {:>9.3} s", "total", total.as_secs_f64());
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    let mut s = serde_json::to_vec_pretty(v)
        .map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
    s.push(b'\n');
    Ok(s)
}

/// Refuses an output folder inside the evidence folder: the next run would collect the outputs.
fn check_out_dir(project: &crate::project::Project, out: &std::path::Path) -> Result<(), Error> {
    let evidence = project.root.join(&project.paths.evidence);
    let (Ok(ev), Ok(cwd)) = (evidence.canonicalize(), std::env::current_dir()) else {
        return Ok(());
    };
    let out_abs = if out.is_absolute() {
        out.to_path_buf()
    } else {
        cwd.join(out)
    };
    // The output folder may not exist yet: resolve its nearest existing ancestor.
    let Some(existing) = out_abs.ancestors().find(|a| a.exists()) else {
        return Ok(());
    };
    let (Ok(base), Ok(rest)) = (existing.canonicalize(), out_abs.strip_prefix(existing)) else {
        return Ok(());
    };
    if base.join(rest).starts_with(&ev) {
        return Err(Error::Usage(format!(
            "the output folder {} is inside the evidence folder {}; choose another --out",
            out.display(),
            evidence.display()
        )));
    }
    Ok(())
}

fn write_build(
    a: &crate::Assessed,
    index_json: Vec<u8>,
    staging: &mut Staging,
    timings: &mut Timings,
) -> Result<(), Error> {
    let project = &a.project;
    let markdown = timings.time("render markdown", || {
        let templates = Templates::load(Some(&project.root.join(&project.paths.templates)))?;
        templates.render("report.md", &a.report)
    })?;
    let meta = doc_meta(a)?;
    let document = timings.time("parse markdown", || {
        crate::render::markdown::parse(&markdown, meta, &BTreeMap::new())
    });
    let html = timings.time("render html", || crate::render::html::render(&document));
    let pdf = timings
        .time("render pdf", || crate::render::pdf::render(&document))
        .map_err(|e| Error::Pdf(e.to_string()))?;
    let report_json = timings.time("report.json", || to_json(&a.report))?;

    let artifacts = vec![
        Artifact {
            name: "index.json".into(),
            bytes: index_json,
        },
        Artifact {
            name: "report/report.md".into(),
            bytes: markdown.into_bytes(),
        },
        Artifact {
            name: "report/report.html".into(),
            bytes: html.into_bytes(),
        },
        Artifact {
            name: "report/report.pdf".into(),
            bytes: pdf,
        },
        Artifact {
            name: "report/report.json".into(),
            bytes: report_json,
        },
    ];
    for art in &artifacts[1..] {
        let name = art.name.trim_start_matches("report/");
        staging.write(name, &art.bytes)?;
    }
    let zip_name = format!("{}.zip", crate::package::bag_name(project));
    let zip_path = staging.dir().join(&zip_name);
    let file = staging.file(&zip_name)?;
    let summary = timings
        .time("package (zip)", || {
            crate::package::write(
                project,
                &a.index,
                &artifacts,
                std::io::BufWriter::new(file.as_file_mut()),
            )
        })
        .map_err(|e| match e {
            Error::Package { message, .. } => Error::Package {
                path: zip_path.clone(),
                message,
            },
            other => other,
        })?;
    let _ = summary;
    Ok(())
}

fn doc_meta(a: &crate::Assessed) -> Result<DocMeta, Error> {
    let r = &a.report;
    let logo = match &a.project.branding.logo {
        Some(p) => {
            let full = a.project.root.join(p);
            Some(std::fs::read(&full).map_err(|e| Error::io("read the logo", &full, e))?)
        }
        None => None,
    };
    Ok(DocMeta {
        title: format!("SOC 2 {} Package", r.meta.type_title),
        subtitle: vec![
            r.meta.organisation.clone(),
            r.meta.system.clone(),
            match r.meta.kind {
                crate::model::AuditType::Type1 => format!("Description {}", r.meta.period_text),
                crate::model::AuditType::Type2 => {
                    format!("Observation period: {}", r.meta.period_text)
                }
            },
        ],
        organisation: r.meta.organisation.clone(),
        confidentiality: r.meta.confidentiality.clone(),
        date: r.meta.report_date.clone(),
        accent: r.meta.accent.clone(),
        logo,
    })
}
