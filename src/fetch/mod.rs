//! `auditpack fetch`: run the project's collectors (`[[collector]]`) and write each output into
//! the evidence folder with a sidecar recording how it was produced.
//!
//! The one place besides `snapshot` that writes into the project, and only new files: an output
//! that exists is refused before the command runs; the output and its sidecar are written to
//! temporary files beside their place and moved there without replacing anything; a command that
//! fails, times out or prints nothing leaves no file. Commands run without a shell from the
//! project folder, with the environment of `auditpack` (where their secrets come from) and the
//! audit period in `AUDITPACK_PERIOD_START` / `AUDITPACK_PERIOD_END`. Unlike every other stage,
//! this one reads the wall clock: when a command ran is what it records.

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics};
use crate::population::listing::{self, Format};
use crate::project::Project;
use crate::project::ipe::{Collector, CollectorPeriod, utc_date};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one collector wrote.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub collector: String,
    /// The output, relative to the project.
    pub output: PathBuf,
    pub sidecar: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub records: Option<usize>,
}

/// How much of a failed command's standard error is shown.
const STDERR_TAIL: u64 = 4096;

/// Runs the collectors (those named in `only`, or all), each on its own; problems are
/// diagnostics and the others still run.
pub fn fetch(project: &Project, only: &[String], diags: &mut Diagnostics) -> Vec<Fetched> {
    for id in only {
        if !project.collectors.iter().any(|c| &c.id == id) {
            let known: Vec<&str> = project.collectors.iter().map(|c| c.id.as_str()).collect();
            diags.push(
                Diagnostic::error(Code::UnknownCollector, format!("the project has no collector `{id}`"))
                    .at_file(crate::project::CONFIG_FILE)
                    .hint(if known.is_empty() {
                        "declare one as a [[collector]] in auditpack.toml (see docs/populations.md)".to_string()
                    } else {
                        format!("the collectors are: {}", known.join(", "))
                    }),
            );
        }
    }
    if diags.has_errors() {
        return Vec::new();
    }
    let host =
        nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown host".into());
    project
        .collectors
        .iter()
        .filter(|c| only.is_empty() || only.contains(&c.id))
        .filter_map(|c| run_one(project, c, &host, diags))
        .collect()
}

fn run_one(project: &Project, c: &Collector, host: &str, diags: &mut Diagnostics) -> Option<Fetched> {
    let started_at = Timestamp::now();
    let name = c.output.replace("{date}", &utc_date(started_at).to_string());
    let evidence = project.paths.evidence.join(&name);
    let output = project.root.join(&evidence);
    let sidecar_rel = PathBuf::from(format!("{}.meta.toml", evidence.display()));
    let sidecar = project.root.join(&sidecar_rel);
    let fail = |code: Code, msg: String, hint: &str, diags: &mut Diagnostics| {
        diags.push(
            Diagnostic::error(code, format!("collector `{}`: {msg}", c.id))
                .at(c.location.clone())
                .hint(hint.to_string()),
        );
    };
    for p in [&output, &sidecar] {
        if p.symlink_metadata().is_ok() {
            let shown = p.strip_prefix(&project.root).unwrap_or(p).display().to_string();
            fail(
                Code::CollectorOutputExists,
                format!("`{shown}` exists; fetch never overwrites evidence"),
                "keep the earlier output and put `{date}` in `output` so each run writes a new file, or move the file away first",
                diags,
            );
            return None;
        }
    }
    let line = c.command.join(" ");
    if let Ok(hits) = crate::package::secrets::scan_reader(line.as_bytes())
        && let Some(h) = hits.first()
    {
        fail(
            Code::CollectorSecret,
            format!("the command line holds what looks like {} (rule {})", h.what, h.rule),
            "pass secrets through the environment (the command inherits it) and read them in the command; never write them in auditpack.toml",
            diags,
        );
        return None;
    }
    let parent = output.parent()?;
    if let Err(e) = std::fs::create_dir_all(parent) {
        fail(
            Code::CollectorFailed,
            format!("cannot create {}: {e}", parent.display()),
            "check the evidence folder's permissions",
            diags,
        );
        return None;
    }
    let io_fail = |e: std::io::Error, diags: &mut Diagnostics| {
        fail(
            Code::CollectorFailed,
            format!("cannot write beside {}: {e}", evidence.display()),
            "check the evidence folder's permissions and free space",
            diags,
        );
    };
    let mut out = match tempfile::Builder::new().prefix(".auditpack-fetch-").tempfile_in(parent) {
        Ok(f) => f,
        Err(e) => {
            io_fail(e, diags);
            return None;
        }
    };
    let (stdout, mut stderr) = match (out.reopen(), tempfile::tempfile()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            io_fail(e, diags);
            return None;
        }
    };
    let mut cmd = Command::new(&c.command[0]);
    cmd.args(&c.command[1..])
        .current_dir(&project.root)
        .env("AUDITPACK_COLLECTOR", &c.id)
        .env("AUDITPACK_PERIOD_START", project.audit.start.to_string())
        .env("AUDITPACK_PERIOD_END", project.audit.end.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(match stderr.try_clone() {
            Ok(e) => e,
            Err(e) => {
                io_fail(e, diags);
                return None;
            }
        }));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout stops the children it started too.
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            fail(
                Code::CollectorFailed,
                format!("cannot start `{}`: {e}", c.command[0]),
                "check that the program is installed and on PATH, or give its path relative to the project folder",
                diags,
            );
            return None;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(c.timeout_seconds);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                stop(&mut child);
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                stop(&mut child);
                fail(Code::CollectorFailed, format!("cannot wait for the command: {e}"), "run it again", diags);
                return None;
            }
        }
    };
    let finished_at = Timestamp::now();
    let tail = stderr_tail(&mut stderr);
    let Some(status) = status else {
        fail(
            Code::CollectorTimeout,
            format!("the command ran longer than {} s and was stopped; nothing was written{tail}", c.timeout_seconds),
            "raise `timeout` (seconds) in the [[collector]], or make the command faster",
            diags,
        );
        return None;
    };
    if !status.success() {
        let code = status.code().map(|c| format!("exit code {c}")).unwrap_or_else(|| "a signal".into());
        fail(
            Code::CollectorFailed,
            format!("the command ended with {code}; nothing was written{tail}"),
            "run the command by hand from the project folder to see why, fix it, and fetch again",
            diags,
        );
        return None;
    }
    let file = out.as_file_mut();
    let (size, sha256) = match hash(file) {
        Ok(h) => h,
        Err(e) => {
            io_fail(e, diags);
            return None;
        }
    };
    if size == 0 {
        fail(
            Code::CollectorEmpty,
            format!("the command printed nothing; nothing was written{tail}"),
            "a collector writes its output to standard output; check its query and credentials",
            diags,
        );
        return None;
    }
    let records = match Format::of(&name) {
        Some(format) => match listing::count(out.path(), format) {
            Ok(n) => Some(n),
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidListing,
                        format!(
                            "collector `{}`: its output is not a valid {} listing{}: {}; nothing was written",
                            c.id,
                            name.rsplit('.').next().unwrap_or(""),
                            e.line.map(|l| format!(" (line {l})")).unwrap_or_default(),
                            e.message
                        ),
                    )
                    .at(c.location.clone())
                    .hint("make the command print CSV with a header row, a JSON array of objects, or JSON lines, as the output's name says"),
                );
                return None;
            }
        },
        None => None,
    };
    let text = sidecar_text(
        project,
        c,
        &Run { started_at, finished_at, code: status.code().unwrap_or(0), sha256: &sha256, size, host, records },
    );
    let mut side = match tempfile::Builder::new().prefix(".auditpack-fetch-").tempfile_in(parent) {
        Ok(f) => f,
        Err(e) => {
            io_fail(e, diags);
            return None;
        }
    };
    if let Err(e) =
        side.write_all(text.as_bytes()).and_then(|_| side.as_file().sync_all()).and_then(|_| out.as_file().sync_all())
    {
        io_fail(e, diags);
        return None;
    }
    // Neither replaces anything: a file that appeared meanwhile is kept and the run fails.
    if let Err(e) = out.persist_noclobber(&output) {
        fail(
            Code::CollectorOutputExists,
            format!("cannot write {}: {}", evidence.display(), e.error),
            "another run wrote it meanwhile; fetch again",
            diags,
        );
        return None;
    }
    if let Err(e) = side.persist_noclobber(&sidecar) {
        let _ = std::fs::remove_file(&output);
        fail(
            Code::CollectorOutputExists,
            format!("cannot write {}: {}", sidecar_rel.display(), e.error),
            "another run wrote it meanwhile; fetch again",
            diags,
        );
        return None;
    }
    Some(Fetched { collector: c.id.clone(), output: evidence, sidecar: sidecar_rel, size, sha256, records })
}

/// Kills the command and everything it started.
fn stop(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn stderr_tail(f: &mut std::fs::File) -> String {
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return String::new();
    }
    let start = len.saturating_sub(STDERR_TAIL);
    let mut buf = Vec::new();
    if f.seek(std::io::SeekFrom::Start(start)).and_then(|_| f.read_to_end(&mut buf)).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let text = crate::diag::escape_controls(text.trim_end(), true);
    format!(
        "\n  its standard error{}:\n    {}",
        if start > 0 { " (the end)" } else { "" },
        text.replace('\n', "\n    ")
    )
}

fn hash(f: &mut std::fs::File) -> std::io::Result<(u64, String)> {
    f.seek(std::io::SeekFrom::Start(0))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, crate::text::hex(&h.finalize())))
}

struct Run<'a> {
    started_at: Timestamp,
    finished_at: Timestamp,
    code: i32,
    sha256: &'a str,
    size: u64,
    host: &'a str,
    records: Option<usize>,
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Seconds precision, UTC: `2026-12-04T17:03:12Z`.
fn ts(t: Timestamp) -> String {
    t.round(jiff::Unit::Second).map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_else(|_| t.to_string())
}

fn sidecar_text(project: &Project, c: &Collector, r: &Run<'_>) -> String {
    let mut s = format!(
        "# Written by `auditpack fetch` (collector `{}`): how the file beside it was produced.\n\
         # Keep both as they are; a changed file is reported (collector-output-changed).\n",
        c.id
    );
    if !c.controls.is_empty() {
        s += &format!("controls = [{}]\n", c.controls.iter().map(|x| q(x)).collect::<Vec<_>>().join(", "));
    }
    match c.period {
        CollectorPeriod::Audit => {
            s += &format!("period_start = {}\nperiod_end = {}\n", project.audit.start, project.audit.end);
        }
        CollectorPeriod::PointInTime => s += &format!("effective = {}\n", utc_date(r.started_at)),
    }
    s += &format!("source = {}\n", q(&format!("collector {}", c.id)));
    let p = &c.provenance;
    s += "\n[provenance]\n";
    if let Some(v) = &p.source_system {
        s += &format!("source_system = {}\n", q(v));
    }
    if let Some(v) = &p.report {
        s += &format!("report = {}\n", q(v));
    }
    if let Some(v) = &p.query {
        s += &format!("query = {}\n", q(v));
    }
    if !p.parameters.is_empty() {
        let kv: Vec<String> = p.parameters.iter().map(|(k, v)| format!("{} = {}", q(k), q(v))).collect();
        s += &format!("parameters = {{ {} }}\n", kv.join(", "));
    }
    s += &format!("generated_at = {}\n", ts(r.started_at));
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).ok();
    let by = match user {
        Some(u) => format!("auditpack fetch (collector {}), run by {u} on {}", c.id, r.host),
        None => format!("auditpack fetch (collector {}) on {}", c.id, r.host),
    };
    s += &format!("generated_by = {}\n", q(&by));
    if let Some(n) = r.records {
        s += &format!("record_count = {n}\n");
    }
    s += "\n[collector]\n";
    s += &format!("id = {}\n", q(&c.id));
    s += &format!("command = [{}]\n", c.command.iter().map(|a| q(a)).collect::<Vec<_>>().join(", "));
    s += &format!("started_at = {}\nfinished_at = {}\n", ts(r.started_at), ts(r.finished_at));
    s += &format!("exit_code = {}\nsha256 = {}\nsize = {}\nhost = {}\n", r.code, q(r.sha256), r.size, q(r.host));
    if let Some(n) = r.records {
        s += &format!("record_count = {n}\n");
    }
    s
}
