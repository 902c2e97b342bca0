//! auditpack turns a compliance repository into the SOC 2 package its auditor receives.
//!
//! The pipeline, one module per stage, each a value in and a value out:
//!
//! ```text
//! project::load -> collect::collect -> index::build -> population::build -> scan::import
//!     -> assess::assess -> report::build -> render (Markdown -> Document -> HTML, PDF)
//!     -> package::write -> snapshot::take        (fetch runs collectors into the evidence)
//! ```
//!
//! Each stage depends only on the stages before it and on the ground floor (`error`, `diag`,
//! `text`, `fsutil`, `model`, `output`). [`pipeline`] is the driver: it runs the stages in order
//! for every command; `cli` turns arguments into a call to it and its result into output and an
//! exit code. docs/architecture.md draws the layers; a test keeps the code to them.
//!
//! Earlier snapshots feed back into `assess` as [`assess::PastEvidence`], so evidence replaced
//! since it was recorded still counts for its period.
//!
//! Problems in the user's data are [`diag::Diagnostic`]s, each of a [`diag::Code`] (one enum
//! of every code with its default severity), collected across the whole run;
//! failures of the tool itself (I/O, a template that does not parse) are [`Error`]s. The library
//! never prints: `cli` decides what reaches the terminal and the exit code. Nothing reads the
//! wall clock: dates come from the project, so the same input gives the same bytes.

pub mod assess;
pub mod check;
pub mod cli;
pub mod collect;
pub mod diag;
pub mod error;
pub mod fetch;
pub mod fsutil;
pub mod index;
pub mod model;
pub mod output;
pub mod package;
pub mod pipeline;
pub mod population;
pub mod project;
pub mod render;
pub mod report;
pub mod scan;
pub mod snapshot;
#[cfg(test)]
mod testing;
pub mod text;

pub use error::Error;
