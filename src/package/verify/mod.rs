//! Verifying a package: the auditor's side of the seventh stage. A BagIt bag, zipped or
//! unpacked, is checked for completeness (nothing missing, nothing extra), every checksum of
//! every manifest and tag manifest, Payload-Oxum, and the signature when a key is given.
//!
//! A zip is never extracted: entries are streamed through the hashers, reads are bounded by the
//! declared sizes, and hostile archives (`..` or absolute names, duplicate names, overlapping
//! entries, compression bombs) are refused before anything is decompressed. Every problem is a
//! diagnostic; only a package that cannot be read at all is an [`Error`].
//!
//! Files are hashed on one reader thread per core. Each thread has its own view of the zip (the
//! central directory is shared, reads are positioned) and reuses one inflater and two buffers
//! for every entry, so memory stays flat whatever the package holds. Results are kept per file
//! and reported in the bag's order, so the report never depends on which thread finished first.
//!
//! The rooms: `container` opens the bag (a folder, or a zip whose structure `archive` checks
//! first) and hashes its files through `reader` into `digest`'s sinks; `bagit` checks bagit.txt,
//! the `manifest`s, bag-info.txt and fetch.txt (tag files read through `lines`) and `signature`
//! the signature; every problem goes into the capped `findings`.

mod archive;
mod bagit;
mod container;
mod digest;
mod findings;
mod lines;
mod manifest;
mod reader;
mod signature;

use super::sign;
use crate::Error;
use crate::diag::Diagnostics;
use crate::fsutil;
use bagit::check;
use container::Container;
use findings::Findings;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// The public key the signature must verify with; `None` leaves the signature unchecked.
    pub key: Option<sign::TrustedKeys>,
    /// Reader threads; `None` is one per core.
    pub jobs: Option<usize>,
}

/// What `auditpack verify` found. Also the JSON output.
#[derive(Debug, Serialize)]
pub struct Verification {
    pub package: PathBuf,
    pub format: &'static str,
    /// The bag's folder inside the zip (empty for a folder, or a zip with the bag at its root).
    pub bag: String,
    pub bagit_version: Option<String>,
    /// Algorithms of the payload manifests that were checked.
    pub algorithms: Vec<String>,
    pub payload_files: usize,
    pub payload_bytes: u64,
    pub signature: SignatureState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    pub intact: bool,
    pub problems: Diagnostics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureState {
    /// No signature and no key: nothing to check.
    Absent,
    /// A signature is there but no key was given.
    NotChecked,
    Valid,
    Invalid,
    /// A key was given but the bag has no signature.
    Missing,
}

/// Verifies the package at `path`, a zip file or a bag folder.
pub fn verify(path: &Path, opts: &VerifyOptions) -> Result<Verification, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read the package", path, e))?;
    let mut problems = Findings::default();
    let (bag, format) = if meta.is_dir() {
        (Container::folder(path, &mut problems)?, "folder")
    } else if meta.is_file() {
        (Container::zip(path, &mut problems)?, "zip")
    } else {
        // A FIFO would block the open forever, a device never ends: neither is opened.
        let why = format!(
            "not a regular file (it is {}); a package is a .zip file or a bag folder",
            fsutil::kind_of(&meta.file_type())
        );
        return Err(Error::io("read the package", path, std::io::Error::new(std::io::ErrorKind::InvalidInput, why)));
    };
    let mut v = Verification {
        package: path.to_path_buf(),
        format,
        bag: bag.prefix.trim_end_matches('/').to_string(),
        bagit_version: None,
        algorithms: Vec::new(),
        payload_files: 0,
        payload_bytes: 0,
        signature: SignatureState::Absent,
        signed_by: None,
        intact: false,
        problems: Diagnostics::default(),
    };
    if !bag.refused {
        check(&bag, opts, &mut v, &mut problems);
    }
    v.intact = !problems.has_errors();
    v.problems = problems.finish();
    Ok(v)
}
