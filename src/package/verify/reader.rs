//! Reading a file's bytes: one reader per thread with its own positioned view of the zip, one
//! reused inflater and two buffers, so memory stays flat whatever the package holds.

use super::container::{FileInfo, Method, Source};
use super::digest::{AlgSet, Hashed, Sink};
use crate::fsutil;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

/// Each reader thread's input and output buffers: small enough that inflated data is still in
/// the core's cache when CRC-32 and the hashers read it.
pub(super) const BUF_SIZE: usize = 128 << 10;
/// Read-ahead of each view of the zip: local headers and small entries are read through it.
const READ_AHEAD: usize = 16 << 10;

/// Reads `r` to its end into `sink`, through `buf`.
pub(super) fn pump(mut r: impl Read, buf: &mut [u8], sink: &mut Sink) -> Result<(), String> {
    loop {
        match r.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink.update(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Inflates the raw Deflate stream `r` into `sink`. The inflater is reset, not rebuilt: one per
/// thread serves every entry.
fn inflate(
    d: &mut flate2::Decompress,
    mut r: impl Read,
    input: &mut [u8],
    output: &mut [u8],
    sink: &mut Sink,
) -> Result<(), String> {
    d.reset(false);
    let (mut start, mut end, mut eof) = (0, 0, false);
    loop {
        if start == end && !eof {
            end = loop {
                match r.read(input) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.to_string()),
                }
            };
            start = 0;
            eof = end == 0;
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let flush = if eof { flate2::FlushDecompress::Finish } else { flate2::FlushDecompress::None };
        let status = d
            .decompress(&input[start..end], output, flush)
            .map_err(|e| format!("its compressed data is corrupt ({e})"))?;
        let used = (d.total_in() - in_before) as usize;
        let made = (d.total_out() - out_before) as usize;
        start += used;
        sink.update(&output[..made])?;
        match status {
            flate2::Status::StreamEnd => return Ok(()),
            _ if used == 0 && made == 0 && (eof || start < end) => {
                return Err("its compressed data ends before the entry does".into());
            }
            _ => {}
        }
    }
}

/// What one reader thread owns: its own view of the package, an inflater and two buffers, all
/// reused for every file it reads.
pub(super) struct Reader {
    zip: Option<PackageFile>,
    inflater: flate2::Decompress,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl Reader {
    pub(super) fn new(source: &Source) -> Reader {
        let zip = match source {
            Source::Zip(file) => Some(file.clone()),
            Source::Folder(_) => None,
        };
        Reader { zip, inflater: flate2::Decompress::new(false), input: vec![0; BUF_SIZE], output: vec![0; BUF_SIZE] }
    }

    /// Streams a file through the hashers of `algs`; returns its real size and the digests.
    pub(super) fn hash(&mut self, source: &Source, rel: &str, info: FileInfo, algs: AlgSet) -> Result<Hashed, String> {
        let zip = self.zip.is_some();
        let mut sink = Sink::new(algs, zip.then_some(info.size));
        self.read(source, rel, info, &mut sink)?;
        sink.finish(zip.then_some(info.crc))
    }

    /// Reads a file whole.
    pub(super) fn read_whole(&mut self, source: &Source, rel: &str, info: FileInfo) -> Result<Vec<u8>, String> {
        let zip = self.zip.is_some();
        let mut sink = Sink::new(AlgSet::default(), zip.then_some(info.size));
        sink.keep = Some(Vec::with_capacity(info.size as usize));
        self.read(source, rel, info, &mut sink)?;
        sink.check(zip.then_some(info.crc))?;
        Ok(sink.keep.unwrap_or_default())
    }

    /// Reads a file to its end into `sink`. A zip entry is found through its local header and
    /// read raw, bounded by its compressed size, and inflated here; the zip crate would do the
    /// same, with a new inflater for every entry.
    pub(super) fn read(&mut self, source: &Source, rel: &str, info: FileInfo, sink: &mut Sink) -> Result<(), String> {
        let Reader { zip, inflater, input, output } = self;
        let Some(file) = zip else {
            let Source::Folder(root) = source else { unreachable!("a reader of a zip has its own view of it") };
            let f = fsutil::open_regular(&root.join(rel)).map_err(|e| e.to_string())?;
            return pump(f, output, sink);
        };
        let damaged = |e: std::io::Error| format!("its local header cannot be read ({e})");
        let mut header = [0u8; 30];
        file.seek(SeekFrom::Start(info.header_start)).map_err(damaged)?;
        file.read_exact(&mut header).map_err(damaged)?;
        if header[..4] != *b"PK\x03\x04" {
            return Err("its local header is damaged".into());
        }
        let field = |at: usize| u64::from(u16::from_le_bytes([header[at], header[at + 1]]));
        // The name and the extra field; the zip crate found the data at the same place when it
        // checked that no entries overlap.
        file.seek(SeekFrom::Current((field(26) + field(28)) as i64)).map_err(damaged)?;
        let data = file.take(info.packed);
        match info.method {
            Method::Stored => pump(data, output, sink),
            Method::Deflated => inflate(inflater, data, input, output, sink),
            Method::Other => {
                Err("it is compressed with a method auditpack does not read (only Stored and Deflate)".into())
            }
        }
    }
}

/// The package file as each reader thread sees it: its own position over one shared file,
/// positioned reads (so threads never move each other's cursor), and a small read-ahead for the
/// local headers and small entries.
#[derive(Clone)]
pub(super) struct PackageFile {
    file: Arc<File>,
    len: u64,
    pos: u64,
    ahead: Box<[u8]>,
    /// The read-ahead holds `ahead[..ahead_len]`, from `ahead_at` in the file.
    ahead_at: u64,
    ahead_len: usize,
}

impl PackageFile {
    pub(super) fn new(file: File) -> std::io::Result<PackageFile> {
        let len = file.metadata()?.len();
        Ok(PackageFile {
            file: Arc::new(file),
            len,
            pos: 0,
            ahead: vec![0; READ_AHEAD].into(),
            ahead_at: 0,
            ahead_len: 0,
        })
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, at)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, at)
}

impl Read for PackageFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let ahead_end = self.ahead_at + self.ahead_len as u64;
        if !(self.ahead_at..ahead_end).contains(&self.pos) {
            if buf.len() >= READ_AHEAD {
                let n = read_at(&self.file, buf, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.ahead_len = 0;
            let n = read_at(&self.file, &mut self.ahead, self.pos)?;
            (self.ahead_at, self.ahead_len) = (self.pos, n);
            if n == 0 {
                return Ok(0);
            }
        }
        let from = (self.pos - self.ahead_at) as usize;
        let n = buf.len().min(self.ahead_len - from);
        buf[..n].copy_from_slice(&self.ahead[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PackageFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos =
            pos.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek out of the package"))?;
        Ok(self.pos)
    }
}
