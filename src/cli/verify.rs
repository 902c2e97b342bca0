//! `auditpack verify PACKAGE [--key PUBKEY]`: the auditor's check of a package, printed as text
//! or JSON on stdout. Exit 0 intact, 1 tampered or incomplete, 2 unreadable.

use super::Outcome;
use crate::Error;
use crate::diag::{Severity, escape_controls, shown};
use crate::package::verify::{SignatureState, VerifyOptions, verify};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct VerifyArgs {
    /// The package: a .zip, or a folder holding the unpacked bag
    package: PathBuf,
    /// The signer's public key or allowed_signers file (from `auditpack keygen`); the signature must then be valid
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Files read and hashed at once (reader threads); default: one per core
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// `--quiet`: nothing when intact, else only the problems at error level; `--verbose` adds
/// nothing to the text, which already lists every problem.
pub(super) fn run(args: &VerifyArgs, v: super::Verbosity) -> Result<Outcome, Error> {
    let key = match &args.key {
        Some(p) => {
            let text = super::read_key(p, "read the public key")?;
            Some(
                crate::package::sign::parse_public_key(&text)
                    .map_err(|e| Error::Usage(format!("{}: {e}", p.display())))?,
            )
        }
        None => None,
    };
    let quiet = v.quiet;
    let v = verify(&args.package, &VerifyOptions { key, jobs: args.jobs.map(usize::from) })?;
    let mut out = super::Out::new();
    match args.format {
        Format::Json => {
            let s =
                serde_json::to_string_pretty(&v).map_err(|e| Error::Usage(format!("cannot serialise JSON: {e}")))?;
            outln!(out, "{s}");
        }
        Format::Text if quiet => {
            for d in v.problems.sorted().into_iter().filter(|d| d.severity == Severity::Error) {
                println!("{d}");
            }
        }
        Format::Text => {
            let verdict = if v.intact { "intact" } else { "NOT INTACT" };
            outln!(out, "{}: {verdict}", shown(&v.package));
            if !v.bag.is_empty() {
                outln!(out, "  bag:        {}", escape_controls(&v.bag, false));
            }
            if let Some(ver) = &v.bagit_version {
                outln!(out, "  BagIt:      {ver}, manifests {}", v.algorithms.join(", "));
            }
            outln!(out, "  payload:    {} files, {} bytes", v.payload_files, v.payload_bytes);
            let sig = match v.signature {
                SignatureState::Absent => "none".to_string(),
                SignatureState::NotChecked => {
                    format!("present (key {}), not checked: give --key", v.signed_by.as_deref().unwrap_or("?"))
                }
                SignatureState::Valid => {
                    format!("valid (key {})", v.signed_by.as_deref().unwrap_or("?"))
                }
                SignatureState::Invalid => "INVALID".to_string(),
                SignatureState::Missing => "MISSING (a key was given)".to_string(),
            };
            outln!(out, "  signature:  {sig}");
            for d in v.problems.sorted() {
                outln!(out, "{d}");
            }
            let (e, w) = (v.problems.count(Severity::Error), v.problems.count(Severity::Warning));
            outln!(out, "{e} error(s), {w} warning(s)");
        }
    }
    Ok(if v.intact { Outcome::Ok } else { Outcome::ProjectErrors })
}
