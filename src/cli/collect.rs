//! `auditpack collect`: the arguments to `pipeline::collect`, its result to the terminal.

use super::build::Timings;
use super::{Outcome, print_diagnostics};
use crate::Error;
use crate::pipeline::collect::Ended;

pub(super) fn run(args: &super::CommonArgs) -> Result<Outcome, Error> {
    let mut timings = Timings::new();
    let collected = crate::pipeline::collect::run(&args.pipeline(), &mut |s| timings.mark(s));
    if args.timings {
        timings.print();
    }
    let collected = collected?;
    print_diagnostics(&collected.diags, &args.project, args.verbose, args.quiet);
    let (totals, written) = match collected.ended {
        Ended::Stopped => return Ok(Outcome::ProjectErrors),
        Ended::Written { paths, totals } => (totals, Ok(paths)),
        Ended::UpToDate { index, totals } => (totals, Err(index)),
    };
    if !args.quiet {
        super::print_totals(&totals);
        match written {
            Ok(paths) => paths.iter().for_each(|p| eprintln!("wrote {}", p.display())),
            Err(index) => eprintln!("{} is up to date (the project and the evidence are unchanged)", index.display()),
        }
    }
    Ok(Outcome::Ok)
}
