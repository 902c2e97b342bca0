//! Shared by tests/verify.rs and tests/snapshots.rs: a fixture project in a temporary folder
//! (the one `auditpack init` writes) and a runner capturing exit code, stdout and stderr.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code; stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn out_says(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(self.stdout.contains(n), "stdout lacks {n:?}:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        }
        self
    }
    #[track_caller]
    pub fn err_says(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}:\n{}", self.stderr);
        }
        self
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    let out =
        Command::new(env!("CARGO_BIN_EXE_auditpack")).args(args).current_dir(cwd).output().expect("run auditpack");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Fixture {
    /// The project `auditpack init` writes, in `<tmp>/project`.
    pub fn init() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        run_in(dir.path(), &["init", "project"]).code(0);
        Fixture { dir }
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("project")
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }
    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }
    /// Runs auditpack in the fixture's temporary folder (the project is `project`).
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args)
    }
}
