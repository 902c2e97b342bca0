//! The tool's own failures, as opposed to problems in the user's data (those are
//! [`crate::diag`] diagnostics). Part of the ground floor: every stage may return one.

use std::path::{Path, PathBuf};

/// A failure of the tool (as opposed to a problem in the user's data): exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {op} {}: {source}", path.display())]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error("template `{name}`: {message}")]
    Template { name: String, message: String },
    #[error("PDF rendering failed: {0}")]
    Pdf(String),
    #[error("cannot write the package {}: {message}", path.display())]
    Package { path: PathBuf, message: String },
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.as_ref().to_path_buf(), source }
    }
}
