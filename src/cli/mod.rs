//! The command line: argv -> a command -> an exit code. The only place that prints.
//!
//! Exit codes: 0 success, 1 the project has errors (diagnostics at error level), 2 the tool
//! failed (bad arguments, I/O, a broken template).

/// `outln!(out, ...)`: one line of a report on standard output, through [`Out`].
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))?
    };
}

mod build;
mod check;
mod collect;
mod fetch;
pub(crate) mod init;
mod keygen;
mod snapshot;
mod verify;

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
    /// Also print notes (unmapped files, inferred dates ...); every command takes it
    #[arg(long, short, global = true)]
    verbose: bool,
    /// Print nothing but errors; every command takes it
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

/// How much a command prints: `--quiet` only errors, `--verbose` notes too.
#[derive(Clone, Copy, Default)]
pub(crate) struct Verbosity {
    pub verbose: bool,
    pub quiet: bool,
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
    /// Run the project's collectors ([[collector]]) and write each output, with a sidecar recording
    /// how it was produced, into the evidence folder (new files only, never an overwrite)
    Fetch(fetch::FetchArgs),
    /// Collect, assess, scan for secrets and write the reports (Markdown, HTML, PDF), index.json and the package zip
    Build(build::BuildArgs),
    /// Render only the system description (Section III) as description.md, .html and .pdf
    Describe(CommonArgs),
    /// Run every check (project, evidence, controls, risk register, scanner findings) and report
    /// every finding; exit 1 when something is at deny level
    Check(CheckArgs),
    /// Print the risk register converted to CSV or JSON (e.g. to import a spreadsheet register)
    Register(RegisterArgs),
    /// Check a package (zip or unpacked folder): checksums, completeness, Payload-Oxum, signature.
    /// Exit 0 intact, 1 tampered or incomplete, 2 unreadable
    Verify(verify::VerifyArgs),
    /// Record the project and its evidence in the snapshot store; `list`, `diff` and `verify` read the store
    Snapshot(snapshot::SnapshotArgs),
    /// Write a new ed25519 key pair (OpenSSH format) and allowed_signers for signing packages into DIR
    Keygen {
        /// Folder for auditpack-signing.key (OpenSSH private key, mode 0600), auditpack-signing.pub
        /// and allowed_signers (for `ssh-keygen -Y verify`)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Who signs: the key's comment and its principal in allowed_signers
        #[arg(long, value_name = "NAME", default_value = "auditpack-signer")]
        identity: String,
    },
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
    /// Set from the global `--verbose`
    #[arg(skip)]
    verbose: bool,
    /// Set from the global `--quiet`
    #[arg(skip)]
    quiet: bool,
    /// Folder of the hash cache [default: OUT/.auditpack-cache]
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Hash every file again, even those the cache proves unchanged
    #[arg(long)]
    rehash: bool,
    /// A scanner report (Trivy or Grype JSON, SARIF 2.1.0) to import besides those in the evidence; repeatable
    #[arg(long = "scan", value_name = "FILE")]
    scan: Vec<PathBuf>,
    /// Print the time each stage took to stderr (load, collect, index, assess, render, package)
    #[arg(long)]
    timings: bool,
}

impl CommonArgs {
    /// What the pipeline takes from these arguments.
    fn pipeline(&self) -> crate::pipeline::Common {
        crate::pipeline::Common {
            project: self.project.clone(),
            out: self.out.clone(),
            cache: self.cache.clone(),
            rehash: self.rehash,
            scans: self.scan.clone(),
            progress: progress_bar(self.quiet),
            keep_notes: self.verbose,
        }
    }
}

#[derive(Args)]
struct CheckArgs {
    /// The project folder (holding auditpack.toml)
    #[arg(default_value = ".")]
    project: PathBuf,
    /// Output format: text for people (stderr), json or sarif (stdout)
    #[arg(long, value_enum, default_value = "text")]
    format: CheckFormat,
    /// A scanner report (Trivy or Grype JSON, SARIF 2.1.0) to import besides those in the evidence; repeatable
    #[arg(long = "scan", value_name = "FILE")]
    scan: Vec<PathBuf>,
    /// Set from the global `--verbose`
    #[arg(skip)]
    verbose: bool,
    /// Set from the global `--quiet`
    #[arg(skip)]
    quiet: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CheckFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Args)]
struct RegisterArgs {
    /// The project folder (holding auditpack.toml)
    #[arg(default_value = ".")]
    project: PathBuf,
    /// The format to print the register in
    #[arg(long, value_enum, default_value = "csv")]
    to: RegisterFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RegisterFormat {
    Csv,
    Json,
}

/// Parses argv and runs the command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(2),
            };
        }
    };
    let v = Verbosity { verbose: cli.verbose, quiet: cli.quiet };
    let common = |mut a: CommonArgs| {
        a.verbose = v.verbose;
        a.quiet = v.quiet;
        a
    };
    let result = match cli.command {
        Command::Init { dir } => init::run(&dir, v),
        Command::Collect(args) => collect::run(&common(args)),
        Command::Fetch(args) => fetch::run(&args, v),
        Command::Build(mut args) => {
            args.common = common(args.common);
            build::run(&args.common, build::Mode::Build, Some(&args))
        }
        Command::Describe(args) => build::run(&common(args), build::Mode::Describe, None),
        Command::Check(mut args) => {
            (args.verbose, args.quiet) = (v.verbose, v.quiet);
            check::run(&args)
        }
        Command::Register(args) => check::register(&args, v),
        Command::Verify(args) => verify::run(&args, v),
        Command::Keygen { out, identity } => keygen::run(&out, &identity, v),
        Command::Snapshot(mut args) => {
            args.set_verbosity(v);
            snapshot::run(&args)
        }
        Command::Templates { dir } => crate::render::write_defaults(&dir).map(|written| {
            if !v.quiet {
                for n in &written {
                    eprintln!("wrote {}", dir.join(n).display());
                }
                if written.is_empty() {
                    eprintln!("every template already exists in {}; nothing written", dir.display());
                }
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

/// A command's report on standard output. A reader that stops early (`auditpack verify PKG |
/// head -1`) is not a failure: printing stops quietly and the command exits as it would have;
/// any other write error is one (exit 2). `println!` would panic instead.
pub(crate) struct Out {
    stdout: std::io::StdoutLock<'static>,
    closed: bool,
}

impl Out {
    pub(crate) fn new() -> Out {
        Out { stdout: std::io::stdout().lock(), closed: false }
    }
    pub(crate) fn line(&mut self, args: std::fmt::Arguments<'_>) -> Result<(), crate::Error> {
        use std::io::Write;
        if self.closed {
            return Ok(());
        }
        match writeln!(self.stdout, "{args}").and_then(|_| self.stdout.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r.map_err(|e| crate::Error::io("write", "standard output", e)),
        }
    }
}

pub(crate) enum Outcome {
    Ok,
    ProjectErrors,
}

/// Prints diagnostics to stderr, errors and warnings always, notes with `--verbose`.
/// Each diagnostic in its one-line form, then, where it points into a project file under `root`,
/// that line with a caret (see [`crate::diag::render`]), then the totals.
fn print_diagnostics(diags: &Diagnostics, root: &std::path::Path, verbose: bool, quiet: bool) {
    let mut hidden = diags.counted_notes();
    let mut lines = crate::diag::render::SourceLines::new(root);
    // Several findings at one place (every uncovered criterion at `categories`) show its line once.
    let mut last_shown: Option<&crate::diag::Location> = None;
    for d in diags.sorted() {
        let show = match d.severity {
            Severity::Error => true,
            Severity::Warning => !quiet,
            Severity::Note => verbose,
        };
        if show {
            let again = d.location.is_some() && last_shown == d.location.as_ref();
            let line = if again { None } else { lines.line(d) };
            if line.is_some() {
                last_shown = d.location.as_ref();
            }
            eprintln!("{}", crate::diag::render::render(d, line.as_deref()));
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

/// The last line of `build` and `collect` before the files written.
fn print_totals(t: &crate::index::Totals) {
    eprintln!(
        "{} evidence files ({}), {} mapped to controls, {} unmapped",
        t.files,
        crate::render::human_bytes(t.bytes),
        t.mapped,
        t.unmapped
    );
}

/// Key files are a line or two of text; anything bigger is not a key (and /dev/zero never ends).
const KEY_FILE_LIMIT: u64 = 64 << 10;

/// Reads a key file given on the command line: a regular file, at most [`KEY_FILE_LIMIT`] bytes,
/// UTF-8. A FIFO or a device is refused without being opened for a blocking read.
fn read_key(path: &std::path::Path, op: &'static str) -> Result<String, crate::Error> {
    let bytes = crate::fsutil::read_limited(path, KEY_FILE_LIMIT).map_err(|e| crate::Error::io(op, path, e))?;
    String::from_utf8(bytes)
        .map_err(|_| crate::Error::Usage(format!("{}: the key file is not UTF-8 text", path.display())))
}

fn progress_bar(quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template("hashing {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}
