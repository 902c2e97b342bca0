//! `auditpack check [PROJECT] [--format text|json|sarif]`: every finding in one run.
//! Exit 0 when nothing is at deny (error) level, 1 when something is, 2 when the tool failed.

use super::{CheckArgs, CheckFormat, Outcome, print_diagnostics};
use crate::Error;
use std::io::Write;

pub(super) fn run(args: &CheckArgs) -> Result<Outcome, Error> {
    let diags = crate::pipeline::check::run(&args.project, &args.scan);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let write_err = |e: std::io::Error| Error::io("write", "standard output", e);
    match args.format {
        CheckFormat::Text => print_diagnostics(&diags, &args.project, args.verbose, args.quiet),
        CheckFormat::Json => {
            let text = serde_json::to_string_pretty(&crate::check::json(&diags))
                .map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
            writeln!(out, "{text}").map_err(write_err)?;
        }
        CheckFormat::Sarif => {
            let text = serde_json::to_string_pretty(&crate::check::sarif::sarif(&diags, &args.project))
                .map_err(|e| Error::Usage(format!("cannot serialise SARIF: {e}")))?;
            writeln!(out, "{text}").map_err(write_err)?;
        }
    }
    Ok(if diags.has_errors() { Outcome::ProjectErrors } else { Outcome::Ok })
}

/// `auditpack register [PROJECT] --to csv|json`: the register converted, on standard output.
pub(super) fn register(args: &super::RegisterArgs, v: super::Verbosity) -> Result<Outcome, Error> {
    let loaded = crate::project::load(&args.project);
    let register_errors = loaded.diags.iter().any(|d| {
        d.severity == crate::diag::Severity::Error
            && d.location.as_ref().is_some_and(|l| loaded.project.as_ref().is_some_and(|p| l.file == p.paths.risks))
    });
    // The register's own problems matter here; the rest of the project only with --verbose.
    print_diagnostics(&loaded.diags, &args.project, v.verbose, !v.verbose);
    let Some(project) = loaded.project else { return Ok(Outcome::ProjectErrors) };
    let text = match args.to {
        super::RegisterFormat::Csv => crate::project::risks_csv::export(&project.risks),
        super::RegisterFormat::Json => {
            let mut s = serde_json::to_string_pretty(&project.risks)
                .map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
            s.push('\n');
            s
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Error::io("write", "standard output", e))?;
    Ok(if register_errors { Outcome::ProjectErrors } else { Outcome::Ok })
}
