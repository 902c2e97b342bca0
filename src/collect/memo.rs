//! The index memo: an unchanged re-collect does not rebuild or rewrite index.json.
//!
//! index.json and the findings of the index and gap stages are a function of the project (its
//! loaded configuration) and the inventory (every evidence file's path, size, SHA-256 and
//! effective date, and its sidecar), computed by this build of auditpack. The inventory's own
//! findings (an unreadable file, a bad sidecar) are made by collect on every run. The memo records a
//! SHA-256 of all of that (the key), those findings, the totals, and the stamp of the index.json
//! it wrote (size, modification and status-change time, inode, device). When the key and the
//! stamp of the index.json in the output folder are both as recorded, that file is exactly what
//! a full run would write: it is kept, and the recorded findings are reported again. Anything
//! else (another project setting, one changed file, an edited or replaced index.json, another
//! auditpack binary) is a miss, and the stages run as usual.

use super::Inventory;
use super::Totals;
use super::cache::Stamp;
use crate::diag::{Diagnostic, Diagnostics, Location, Severity};
use crate::project::Project;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

pub const FILE_NAME: &str = "collect-memo-v1.json";

/// What a previous collect computed for a key.
pub struct Memo {
    pub key: String,
    pub index: Stamp,
    pub totals: Totals,
    pub diagnostics: Diagnostics,
}

/// The key of a run: what index.json and the findings after collect depend on. `None` when the
/// running binary cannot be identified (then nothing is memoised).
pub fn key(project: &Project, inventory: &Inventory) -> Option<String> {
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let e = Stamp::of(&exe);
    let mut h = Sha256::new();
    h.update(b"auditpack-collect-memo/1\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    // This very binary: a rebuilt auditpack may write another index.
    for n in [e.size as i128, e.mtime_ns, e.ctime_ns, e.ino as i128, e.dev as i128] {
        h.update(n.to_le_bytes());
    }
    // Debug, not Serialize: it shows every field, also those index.json leaves out (e.g. the
    // locations findings point at), so a project that differs in anything is another key.
    write!(HashWriter(&mut h), "{project:?}").ok()?;
    h.update(b"\0inventory\0");
    for f in &inventory.files {
        h.update(f.path.as_bytes());
        h.update(b"\0");
        h.update(f.sha256.as_bytes());
        h.update(f.size.to_le_bytes());
        let eff = &f.effective;
        h.update(format!("{} {} {} {:?}", eff.date, eff.start, eff.end, eff.source).as_bytes());
        if let Some(s) = &f.sidecar {
            write!(HashWriter(&mut h), "{s:?}").ok()?;
        }
        h.update(b"\n");
    }
    Some(crate::text::hex(&h.finalize()))
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The stamp of `path` (following links), if it exists.
pub fn stamp_of(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
}

#[derive(Serialize, serde::Deserialize)]
struct StampJson {
    size: u64,
    mtime_ns: String,
    ctime_ns: String,
    ino: u64,
    dev: u64,
}

impl Memo {
    /// Loads the memo in `dir`; a missing or unreadable one is `None` (it is only a cache).
    pub fn load(dir: &Path) -> Option<Memo> {
        // Typed and streamed from the file: a memo of 200,000 per-file findings is 78 MB of JSON,
        // which as a `serde_json::Value` took 590 MB.
        let file = std::fs::File::open(dir.join(FILE_NAME)).ok()?;
        let m: MemoJson = serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, file)).ok()?;
        let s = m.index;
        let index = Stamp {
            size: s.size,
            mtime_ns: s.mtime_ns.parse().ok()?,
            ctime_ns: s.ctime_ns.parse().ok()?,
            ino: s.ino,
            dev: s.dev,
        };
        let t = m.totals;
        let totals = Totals { files: t.files, bytes: t.bytes, mapped: t.mapped, unmapped: t.unmapped };
        let mut diagnostics = Diagnostics::default();
        for d in m.diagnostics {
            diagnostics.push(d.into_diagnostic()?);
        }
        Some(Memo { key: m.key, index, totals, diagnostics })
    }

    /// Writes the memo into `dir`, atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let s = &self.index;
        let v = json!({
            "key": self.key,
            "index": StampJson {
                size: s.size,
                mtime_ns: s.mtime_ns.to_string(),
                ctime_ns: s.ctime_ns.to_string(),
                ino: s.ino,
                dev: s.dev,
            },
            "totals": self.totals,
            "diagnostics": self.diagnostics,
        });
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new().prefix(".collect-memo-").tempfile_in(dir)?;
        serde_json::to_writer(std::io::BufWriter::new(tmp.as_file_mut()), &v)?;
        tmp.persist(dir.join(FILE_NAME)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Removes the memo in `dir`, before index.json is replaced: a run that fails after that
    /// must not leave a memo describing a file that is no longer there.
    pub fn remove(dir: &Path) {
        let _ = std::fs::remove_file(dir.join(FILE_NAME));
    }
}

/// The memo file as written by [`Memo::save`].
#[derive(serde::Deserialize)]
struct MemoJson {
    key: String,
    index: StampJson,
    totals: TotalsJson,
    diagnostics: Vec<DiagnosticJson>,
}

#[derive(serde::Deserialize)]
struct TotalsJson {
    files: usize,
    bytes: u64,
    mapped: usize,
    unmapped: usize,
}

/// A diagnostic as serialised.
#[derive(serde::Deserialize)]
struct DiagnosticJson {
    code: String,
    severity: String,
    message: String,
    location: Option<LocationJson>,
    hint: Option<String>,
}

#[derive(serde::Deserialize)]
struct LocationJson {
    file: std::path::PathBuf,
    line: Option<usize>,
    col: Option<usize>,
    end_col: Option<usize>,
}

impl DiagnosticJson {
    /// `None` for a code or severity this build does not know (the memo is then not used).
    fn into_diagnostic(self) -> Option<Diagnostic> {
        let code = crate::diag::Code::from_name(&self.code)?;
        let severity = match self.severity.as_str() {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            "note" => Severity::Note,
            _ => return None,
        };
        let mut d = Diagnostic::new(code, severity, self.message);
        if let Some(l) = self.location {
            d = d.at(Location { file: l.file, line: l.line, col: l.col, end_col: l.end_col });
        }
        if let Some(h) = self.hint {
            d = d.hint(h);
        }
        Some(d)
    }
}
