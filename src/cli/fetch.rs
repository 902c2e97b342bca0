//! `auditpack fetch`: runs the collectors and says what each wrote.

use super::{Out, Outcome, Verbosity, print_diagnostics};
use crate::pipeline::fetch::Fetched;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct FetchArgs {
    /// The project folder (holding auditpack.toml)
    #[arg(default_value = ".")]
    project: PathBuf,
    /// Run only this collector (its `id`); repeatable
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
}

pub fn run(args: &FetchArgs, v: Verbosity) -> Result<Outcome, crate::Error> {
    let mut diags = crate::diag::Diagnostics::default();
    let fetched = match crate::pipeline::fetch::run(&args.project, &args.only, &mut diags) {
        Fetched::ProjectErrors => {
            print_diagnostics(&diags, &args.project, v.verbose, v.quiet);
            eprintln!("the project has errors: no collector was run");
            return Ok(Outcome::ProjectErrors);
        }
        Fetched::NoCollectors => {
            print_diagnostics(&diags, &args.project, v.verbose, v.quiet);
            eprintln!("the project has no [[collector]]; see docs/populations.md");
            return Ok(Outcome::Ok);
        }
        Fetched::Ran(fetched) => fetched,
    };
    let mut out = Out::new();
    for f in &fetched {
        if !v.quiet {
            let records = f.records.map(|n| format!(", {n} records")).unwrap_or_default();
            outln!(
                out,
                "{}: wrote {} ({} bytes{records}, SHA-256 {}) and {}",
                f.collector,
                f.output.display(),
                f.size,
                f.sha256,
                f.sidecar.display()
            );
        }
    }
    print_diagnostics(&diags, &args.project, v.verbose, v.quiet);
    Ok(if diags.has_errors() { Outcome::ProjectErrors } else { Outcome::Ok })
}
