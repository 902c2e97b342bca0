//! The command line: argv -> a command -> an exit code. The only place that prints.
//!
//! Exit codes: 0 success, 1 the project has errors (diagnostics at error level), 2 the tool
//! failed (bad arguments, I/O, a broken template).

mod build;
mod init;

use crate::diag::{Diagnostics, Severity};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "auditpack", version, about = "Turns a compliance repository into the SOC 2 package its auditor receives", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a minimal project that builds into DIR (refuses to overwrite an existing project)
    Init {
        /// Folder for the new project; created if missing
        dir: PathBuf,
    },
    /// Hash and index the evidence; writes index.json to the output folder
    Collect(CommonArgs),
    /// Collect, assess and write the reports (Markdown, HTML, PDF), index.json and the package zip
    Build(CommonArgs),
    /// Write the built-in report templates into DIR for editing (existing files are kept)
    Templates {
        /// Folder to write the templates to, usually PROJECT/templates
        dir: PathBuf,
    },
}

#[derive(Args)]
struct CommonArgs {
    /// The project folder (holding auditpack.toml)
    #[arg(default_value = ".")]
    project: PathBuf,
    /// Where to write the outputs
    #[arg(long, default_value = "output")]
    out: PathBuf,
    /// Also print notes (unmapped files, inferred dates ...)
    #[arg(long, short)]
    verbose: bool,
    /// Print nothing but errors
    #[arg(long, short, conflicts_with = "verbose")]
    quiet: bool,
    /// Print the time each stage took to stderr (load, collect, index, assess, render, package)
    #[arg(long)]
    timings: bool,
}

/// Parses argv and runs the command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let result = match cli.command {
        Command::Init { dir } => init::run(&dir),
        Command::Collect(args) => build::run(&args, false),
        Command::Build(args) => build::run(&args, true),
        Command::Templates { dir } => crate::render::write_defaults(&dir).map(|written| {
            for n in &written {
                eprintln!("wrote {}", dir.join(n).display());
            }
            if written.is_empty() {
                eprintln!(
                    "every template already exists in {}; nothing written",
                    dir.display()
                );
            }
            Outcome::Ok
        }),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::ProjectErrors) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

pub(crate) enum Outcome {
    Ok,
    ProjectErrors,
}

/// Prints diagnostics to stderr, errors and warnings always, notes with `--verbose`.
fn print_diagnostics(diags: &Diagnostics, verbose: bool, quiet: bool) {
    let mut hidden = 0;
    for d in diags.sorted() {
        let show = match d.severity {
            Severity::Error => true,
            Severity::Warning => !quiet,
            Severity::Note => verbose,
        };
        if show {
            eprintln!("{d}");
        } else if d.severity == Severity::Note {
            hidden += 1;
        }
    }
    if !quiet {
        let (e, w) = (diags.count(Severity::Error), diags.count(Severity::Warning));
        let mut line = format!("{e} error(s), {w} warning(s)");
        if hidden > 0 {
            line.push_str(&format!(", {hidden} note(s) (--verbose shows them)"));
        }
        eprintln!("{line}");
    }
}

fn progress_bar(quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "hashing {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}
