//! A fixture project in a temporary folder, built from the `auditpack init` project and changed
//! file by file, and a runner that captures the exit code, stdout and stderr.

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
    /// Asserts that stderr mentions every one of `needles`, showing it all otherwise.
    #[track_caller]
    pub fn says(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}:\n{}", self.stderr);
        }
        self
    }
    /// The same as [`Run::says`].
    #[track_caller]
    pub fn err_says(&self, needles: &[&str]) -> &Self {
        self.says(needles)
    }
    /// Asserts that stdout mentions every one of `needles`.
    #[track_caller]
    pub fn out_says(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(self.stdout.contains(n), "stdout lacks {n:?}:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        }
        self
    }
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code; stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_auditpack"))
}

/// A tool the test needs. On CI (CI=true) its absence is a failure: .ci/run installs it.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{name} is missing on CI; .ci/run installs it");
        eprintln!("skipping: {name} is not installed");
    }
    found
}

pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    Run::from(bin().args(args).current_dir(cwd).output().expect("run auditpack"))
}

/// Runs auditpack with a deadline of `secs` seconds: a hang (a FIFO read forever) fails the
/// test instead of blocking the suite. Both pipes are drained while it runs, so a long output
/// cannot stall it.
pub fn run_within(cwd: &Path, args: &[&str], secs: u64) -> Run {
    use std::io::Read;
    use std::process::Stdio;
    let mut child =
        bin().args(args).current_dir(cwd).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run auditpack");
    fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        })
    }
    let (out, err) = (drain(child.stdout.take().unwrap()), drain(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("auditpack {args:?} still running after {secs} s: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Fixture {
    /// The project `auditpack init` writes.
    pub fn init() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = run_in(dir.path(), &["init", "project"]);
        assert_eq!(r.code, 0, "init failed: {}", r.stderr);
        Fixture { dir }
    }

    /// The init project made Type 2, for the period 2026-01-01 to 2026-06-30.
    pub fn init_type2() -> Self {
        let f = Self::init();
        let cfg = std::fs::read_to_string(f.path("auditpack.toml")).unwrap();
        f.write(
            "auditpack.toml",
            &cfg.replacen("type = \"type1\"", "type = \"type2\"", 1).replacen(
                "as_of = 2026-06-30",
                "period_start = 2026-01-01\nperiod_end = 2026-06-30",
                1,
            ),
        );
        f
    }

    /// Appends TOML (a `[[control]]` table) to controls.toml.
    pub fn add_control(&self, toml: &str) {
        let c = std::fs::read_to_string(self.path("controls.toml")).unwrap();
        self.write("controls.toml", &format!("{c}\n{toml}"));
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

    pub fn remove(&self, rel: &str) -> &Self {
        let p = self.path(rel);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap()
        } else {
            std::fs::remove_file(p).unwrap()
        }
        self
    }

    /// Runs `auditpack CMD project --out out` (plus `extra`) from the fixture's temp folder.
    pub fn run(&self, cmd: &str, extra: &[&str]) -> Run {
        let mut args = vec![cmd, "project", "--out", "out"];
        args.extend_from_slice(extra);
        run_in(self.dir.path(), &args)
    }

    /// Runs auditpack with exactly `args` in the fixture's temporary folder (the project is
    /// `project`).
    pub fn exec(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args)
    }

    pub fn out(&self, rel: &str) -> PathBuf {
        self.dir.path().join("out").join(rel)
    }

    pub fn index(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out("index.json")).expect("index.json written");
        serde_json::from_str(&text).expect("index.json is JSON")
    }
}

/// Copies a fixture folder, leaving out the `.delete` lists of overlay cases.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != ".delete" {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Every `.rs` file under `dir`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every file under `dir` with its bytes, for "nothing was changed" checks.
pub fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walkdir(dir) {
        out.push((e.clone(), std::fs::read(&e).unwrap_or_default()));
    }
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                v.extend(walkdir(&p));
            } else {
                v.push(p);
            }
        }
    }
    v
}
