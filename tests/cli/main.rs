//! Integration tests: the real binary on fixture projects. One test binary, a module per area.

mod architecture;
mod build_outputs;
mod cache;
mod collect_index;
mod evidence_status;
mod harness;
mod hostile_project;
mod issue13;
mod load_errors;
mod populations;
mod risk;
mod sample;
mod sections;
mod snapshot_folder;
mod snapshot_s3;
mod stderr;
mod verify;
