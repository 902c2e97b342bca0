//! Seventh stage: the package, a BagIt 1.0 bag (RFC 8493) serialised as one deterministic zip.
//!
//! ```text
//! <bag-name>/bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt, README.txt
//! <bag-name>/data/index.json, data/report/..., data/evidence/... (paths as in the project)
//! ```
//!
//! Entries are sorted, timestamps are the package date, permissions fixed; evidence is streamed
//! from disk (and hashed again on the way, so a file changed since collection is caught), Stored
//! when already compressed and Deflated otherwise. With a signing key, the signature of the tag
//! manifest is one more tag file ([`sign`]); [`verify`] is the auditor's side.

pub mod secrets;
pub mod sign;
pub mod verify;

use crate::Error;
use crate::collect::hex;
use crate::index::EvidenceIndex;
use crate::project::Project;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// A generated file for the bag's payload, held in memory (reports, index).
pub struct Artifact {
    /// Path under `data/`, e.g. `report/report.pdf`.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub bag_name: String,
    pub payload_files: usize,
    pub payload_bytes: u64,
}

/// Entries up to this size are compressed in parallel, in memory.
const PARALLEL_MAX: u64 = 16 << 20;
/// The most input a parallel batch holds at once.
const BATCH_BYTES: u64 = 48 << 20;

/// Extensions whose content is already compressed: stored as they are.
const STORED: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "heic", "pdf", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "docx", "xlsx",
    "pptx", "odt", "ods", "mp4", "mov", "jar",
];

pub fn is_precompressed(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    STORED.contains(&ext.as_str())
}

/// `nimbus-analytics-inc-soc2-type2-2026-06-30`: the bag's folder and the zip's stem.
pub fn bag_name(project: &Project) -> String {
    let org = crate::render::markdown::slug(&project.organisation.name);
    format!("{org}-soc2-{}-{}", project.audit.kind, project.audit.end)
}

/// One payload entry: where it comes from and its checksum.
enum Source<'a> {
    Memory(&'a [u8]),
    File { path: PathBuf, expected: &'a str },
}

struct Entry<'a> {
    /// Path under `data/`.
    name: String,
    sha256: String,
    size: u64,
    source: Source<'a>,
}

/// Writes the package to `out`. `artifacts` are the generated files; evidence comes from `index`.
pub fn write<W: Write + Seek>(
    project: &Project,
    index: &EvidenceIndex,
    artifacts: &[Artifact],
    signing_key: Option<&ed25519_dalek::SigningKey>,
    out: W,
) -> Result<Summary, Error> {
    let bag = bag_name(project);
    let zip_err = |e: zip::result::ZipError| Error::Package { path: PathBuf::from(&bag), message: e.to_string() };

    let mut entries: Vec<Entry<'_>> = artifacts
        .iter()
        .map(|a| Entry {
            name: a.name.clone(),
            sha256: hex(&Sha256::digest(&a.bytes)),
            size: a.bytes.len() as u64,
            source: Source::Memory(&a.bytes),
        })
        .collect();
    for f in &index.evidence {
        entries.push(Entry {
            name: f.file.path.clone(),
            sha256: f.file.sha256.clone(),
            size: f.file.size,
            source: Source::File { path: project.root.join(&f.file.path), expected: &f.file.sha256 },
        });
        if let Some(s) = &f.file.sidecar {
            entries.push(Entry {
                name: s.path.clone(),
                sha256: s.sha256.clone(),
                size: s.size,
                source: Source::File { path: project.root.join(&s.path), expected: &s.sha256 },
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));

    let payload_bytes: u64 = entries.iter().map(|e| e.size).sum();
    let manifest: String = entries.iter().map(|e| format!("{}  data/{}\n", e.sha256, e.name)).collect();
    let bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_string();
    let bag_info = bag_info(project, &bag, payload_bytes, entries.len());
    let readme = readme(&bag);
    let mut tags: Vec<(&str, &str)> = vec![
        ("README.txt", &readme),
        ("bag-info.txt", &bag_info),
        ("bagit.txt", &bagit),
        ("manifest-sha256.txt", &manifest),
    ];
    let tagmanifest: String =
        tags.iter().map(|(n, t)| format!("{}  {n}\n", hex(&Sha256::digest(t.as_bytes())))).collect();
    tags.push((sign::SIGNED_FILE, &tagmanifest));
    let signature = signing_key.map(|k| sign::signature_text(k, tagmanifest.as_bytes()));
    if let Some(s) = &signature {
        tags.push((sign::SIGNATURE_FILE, s));
    }
    tags.sort();

    let date = zip_date(project.audit.report_date);
    let options = |name: &str, size: u64| {
        SimpleFileOptions::default()
            .compression_method(if is_precompressed(name) {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            })
            .last_modified_time(date)
            .unix_permissions(0o644)
            .system(zip::System::Unix)
            .large_file(size >= u32::MAX as u64)
    };

    // One sorted list of every entry, tag files and payload alike.
    let mut all: Vec<(String, u64, &Source<'_>)> = Vec::with_capacity(entries.len() + tags.len());
    let tag_sources: Vec<(String, Source<'_>)> =
        tags.iter().map(|(n, t)| (format!("{bag}/{n}"), Source::Memory(t.as_bytes()))).collect();
    for (name, src) in &tag_sources {
        let size = match src {
            Source::Memory(b) => b.len() as u64,
            Source::File { .. } => 0,
        };
        all.push((name.clone(), size, src));
    }
    for e in &entries {
        all.push((format!("{bag}/data/{}", e.name), e.size, &e.source));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));

    // Runs of small entries are compressed on every core, each into a one-entry zip in memory,
    // then copied in order without recompressing (raw copy); a batch bounds the memory held.
    // Large entries are streamed on their own. (zip's ZipFileBuilder was tried first: it kept
    // ~300 KB per entry alive; see docs/performance.md.)
    let mut zip = ZipWriter::new(out);
    let mut buf = vec![0u8; 1 << 20];
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        let mut batch = 0u64;
        while j < all.len() && all[j].1 <= PARALLEL_MAX && (j == i || batch + all[j].1 <= BATCH_BYTES) {
            batch += all[j].1;
            j += 1;
        }
        if j == i {
            let (name, size, source) = &all[i];
            zip.start_file(name.as_str(), options(name, *size)).map_err(zip_err)?;
            write_source(source, name, &mut zip, &mut buf)?;
            i += 1;
            continue;
        }
        let compressed: Vec<Result<Vec<u8>, Error>> = all[i..j]
            .par_iter()
            .map_init(
                || vec![0u8; 256 * 1024],
                |buf, (name, size, source)| {
                    let mut one = ZipWriter::new(std::io::Cursor::new(Vec::new()));
                    one.start_file(name.as_str(), options(name, *size)).map_err(zip_err)?;
                    write_source(source, name, &mut one, buf)?;
                    Ok(one.finish().map_err(zip_err)?.into_inner())
                },
            )
            .collect();
        for bytes in compressed {
            let mut one = zip::ZipArchive::new(std::io::Cursor::new(bytes?)).map_err(zip_err)?;
            let entry = one.by_index_raw(0).map_err(zip_err)?;
            zip.raw_copy_file(entry).map_err(zip_err)?;
        }
        i = j;
    }
    zip.finish().map_err(zip_err)?;
    Ok(Summary { bag_name: bag, payload_files: entries.len(), payload_bytes })
}

/// Writes one entry's content: generated bytes, or an evidence file checked against its hash.
fn write_source<W: Write>(source: &Source<'_>, name: &str, out: &mut W, buf: &mut [u8]) -> Result<(), Error> {
    match source {
        Source::Memory(bytes) => out.write_all(bytes).map_err(|err| Error::io("write the package entry", name, err)),
        Source::File { path, expected } => copy_checked(path, expected, out, buf),
    }
}

/// Streams a file into the zip, hashing it on the way; a file that changed since it was
/// collected would make the manifest lie, so that is an error.
fn copy_checked<W: Write>(path: &Path, expected: &str, out: &mut W, buf: &mut [u8]) -> Result<(), Error> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("open evidence file", path, e))?;
    let (hash, _) = crate::collect::copy_hashed(&mut f, out, buf)
        .map_err(|e| Error::io("copy into the package the evidence file", path, e))?;
    if hash != expected {
        return Err(Error::Package {
            path: path.to_path_buf(),
            message: "the file changed while the package was being built; run the build again".into(),
        });
    }
    Ok(())
}

fn zip_date(d: jiff::civil::Date) -> DateTime {
    // DOS dates start in 1980; a project date before that is clamped rather than refused.
    let year = d.year().clamp(1980, 2107) as u16;
    DateTime::from_date_and_time(year, d.month() as u8, d.day() as u8, 0, 0, 0).unwrap_or_default()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn bag_info(project: &Project, bag: &str, bytes: u64, files: usize) -> String {
    let a = &project.audit;
    let mut lines = vec![format!("Source-Organization: {}", one_line(&project.organisation.name))];
    if let Some(c) = &project.organisation.contact {
        lines.push(format!("Contact-Email: {}", one_line(c)));
    }
    let kind = match a.kind {
        crate::model::AuditType::Type1 => "Type 1",
        crate::model::AuditType::Type2 => "Type 2",
    };
    lines.push(format!(
        "External-Description: SOC 2 {kind} package for {} ({})",
        one_line(&project.system.name),
        match a.kind {
            crate::model::AuditType::Type1 => format!("as of {}", a.end),
            crate::model::AuditType::Type2 => format!("{} to {}", a.start, a.end),
        }
    ));
    lines.push(format!("External-Identifier: {bag}"));
    lines.push(format!("Bagging-Date: {}", a.report_date));
    lines.push(format!("Payload-Oxum: {bytes}.{files}"));
    lines.push(format!("Bag-Software-Agent: auditpack {}", env!("CARGO_PKG_VERSION")));
    lines.push(format!("Audit-Type: SOC 2 {kind}"));
    lines.push(format!("Audit-Period-Start: {}", a.start));
    lines.push(format!("Audit-Period-End: {}", a.end));
    lines.join("\n") + "\n"
}

fn readme(bag: &str) -> String {
    format!(
        "This folder is a BagIt 1.0 bag (RFC 8493) made by auditpack.\n\
         \n\
         data/report/   the report in Markdown, HTML and PDF, and its model as JSON\n\
         data/index.json  every evidence file with its SHA-256, effective date and controls\n\
         data/evidence/ the evidence files, under their paths in the compliance repository\n\
         \n\
         To check that nothing was changed, added or removed, from the folder that holds {bag}/:\n\
         \n\
         \x20 cd {bag} && sha256sum --check --strict manifest-sha256.txt && sha256sum --check tagmanifest-sha256.txt\n\
         \n\
         or with the Library of Congress validator (pip install bagit):\n\
         \n\
         \x20 bagit.py --validate {bag}\n\
         \n\
         auditpack checks all of this, and the signature when tagmanifest-sha256.txt.sig is present\n\
         (an ed25519 signature of tagmanifest-sha256.txt), with the sender's public key:\n\
         \n\
         \x20 auditpack verify {bag}.zip --key auditpack-signing.pub\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_formats_are_stored() {
        assert!(is_precompressed("evidence/x/screen.PNG"));
        assert!(is_precompressed("a.tar.gz"));
        assert!(!is_precompressed("evidence/users.csv"));
        assert!(!is_precompressed("README"));
    }
}
