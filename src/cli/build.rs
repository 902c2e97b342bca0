//! `auditpack build` and `auditpack describe`: the arguments to `pipeline::build`, its result to
//! the terminal, and `--timings`.

use super::{Outcome, print_diagnostics};
use crate::Error;
pub(super) use crate::pipeline::build::Mode;
use crate::pipeline::build::{BuildOptions, Ended};
use std::path::PathBuf;

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
    let options = full.map(|b| BuildOptions {
        signing_key,
        snapshot: b.snapshot.clone(),
        store: b.store.clone(),
        compression_level: b.compression_level,
        strict: b.strict,
    });
    let mut timings = Timings::new();
    let built = crate::pipeline::build::run(&args.pipeline(), mode, options.as_ref(), &mut |s| timings.mark(s));
    if args.timings {
        timings.print();
    }
    let built = built?;
    if !args.quiet {
        built.notes.iter().for_each(|n| eprintln!("{n}"));
    }
    print_diagnostics(&built.diags, &args.project, args.verbose, args.quiet);
    match built.ended {
        Ended::Stopped { by_strict } => {
            if by_strict && !args.quiet {
                eprintln!("--strict: findings at deny level stop the build; nothing was written");
            }
            Ok(Outcome::ProjectErrors)
        }
        Ended::Written { paths, totals } => {
            if !args.quiet && built.diags.has_errors() {
                eprintln!(
                    "the package was written: findings at deny level are part of its gap analysis (`build --strict` stops on them instead)"
                );
            }
            if !args.quiet {
                super::print_totals(&totals);
                paths.iter().for_each(|p| eprintln!("wrote {}", p.display()));
            }
            Ok(Outcome::Ok)
        }
    }
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
