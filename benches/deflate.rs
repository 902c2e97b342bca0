//! Deflate back ends on evidence text, for issue 17's choice of compressor: speed (MB/s of
//! input on one thread) and size (compressed / original) per level, for
//!
//! - zlib-rs through flate2, the back end the package uses today, each file one stream;
//! - the same, each file cut into 1 MiB chunks primed with the 32 KiB before them and joined by
//!   sync flushes (pigz's scheme: one valid Deflate stream, the same bytes for any number of
//!   threads), to see what chunking costs in size;
//! - libdeflate (the `libdeflater` crate), each file one buffer. libdeflate has no streaming and
//!   no dictionary: it can only compress a whole file in memory, or independent chunks that do
//!   not join into one stream.
//!
//! ```text
//! cargo bench --bench deflate -- DIR_OR_FILE... [--mib N] [--levels 1,6,9]
//! ```
//!
//! Files named like compressed formats (as the package stores them) are skipped; at most N MiB
//! (default 256) are read, in path order. The table is Markdown, for docs/performance.md.

use flate2::{Compress, Compression, FlushCompress, Status};
use std::path::{Path, PathBuf};
use std::time::Instant;

const CHUNK: usize = 1 << 20;
const WINDOW: usize = 32 << 10;

fn main() {
    let mut paths = Vec::new();
    let mut mib = 256usize;
    let mut levels = vec![1u32, 3, 6, 9];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mib" => mib = args.next().and_then(|v| v.parse().ok()).expect("--mib N"),
            "--levels" => {
                levels = args
                    .next()
                    .map(|v| v.split(',').map(|l| l.parse().expect("a level 1-9")).collect())
                    .expect("--levels 1,6,9")
            }
            "--bench" => {} // cargo bench passes it
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        eprintln!("usage: cargo bench --bench deflate -- DIR_OR_FILE... [--mib N] [--levels 1,6,9]");
        return;
    }
    let files = read_sample(&paths, mib << 20);
    let total: usize = files.iter().map(Vec::len).sum();
    println!(
        "{} files, {:.1} MiB of text (files named like compressed formats left out)\n",
        files.len(),
        total as f64 / (1 << 20) as f64
    );
    println!("| back end | level | MB/s (one thread) | compressed / original |");
    println!("|---|--:|--:|--:|");
    for &level in &levels {
        row("zlib-rs (flate2), one stream per file", level, &files, |f| whole_zlib_rs(f, level));
        row("zlib-rs, 1 MiB chunks + 32 KiB dictionary + sync flush", level, &files, |f| chunked_zlib_rs(f, level));
    }
    for level in levels.iter().map(|&l| l as i32).chain([12]) {
        row("libdeflate, one buffer per file", level as u32, &files, |f| whole_libdeflate(f, level));
    }
}

/// Runs `compress` over every file (twice: the first run warms the caches) and prints a row.
fn row(name: &str, level: u32, files: &[Vec<u8>], mut compress: impl FnMut(&[u8]) -> usize) {
    files.iter().take(8).for_each(|f| {
        compress(f);
    });
    let start = Instant::now();
    let out: usize = files.iter().map(|f| compress(f)).sum();
    let secs = start.elapsed().as_secs_f64();
    let input: usize = files.iter().map(Vec::len).sum();
    println!("| {name} | {level} | {:.0} | {:.4} |", input as f64 / secs / 1e6, out as f64 / input as f64);
}

fn whole_zlib_rs(data: &[u8], level: u32) -> usize {
    let mut c = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    deflate_into(&mut c, data, FlushCompress::Finish, &mut out);
    out.len()
}

fn chunked_zlib_rs(data: &[u8], level: u32) -> usize {
    let mut total = 0;
    let mut out = Vec::with_capacity(CHUNK);
    for (i, chunk) in data.chunks(CHUNK).enumerate() {
        let mut c = Compress::new(Compression::new(level), false);
        let start = i * CHUNK;
        if start > 0 {
            c.set_dictionary(&data[start - WINDOW.min(start)..start]).expect("a dictionary");
        }
        let last = start + chunk.len() == data.len();
        out.clear();
        deflate_into(&mut c, chunk, if last { FlushCompress::Finish } else { FlushCompress::Sync }, &mut out);
        total += out.len();
    }
    total
}

/// Compresses all of `data` into `out` with `flush` at its end.
fn deflate_into(c: &mut Compress, data: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    let start_in = c.total_in();
    loop {
        if out.capacity() - out.len() < 64 << 10 {
            out.reserve(out.capacity().max(64 << 10));
        }
        let consumed = (c.total_in() - start_in) as usize;
        let status = c.compress_vec(&data[consumed..], out, flush).expect("deflate");
        let done = (c.total_in() - start_in) as usize == data.len();
        match (status, flush) {
            (Status::StreamEnd, _) => return,
            (_, FlushCompress::Sync) if done && out.capacity() > out.len() => return,
            _ => {}
        }
    }
}

fn whole_libdeflate(data: &[u8], level: i32) -> usize {
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).expect("a level 1-12"));
    let mut out = vec![0u8; c.deflate_compress_bound(data.len())];
    c.deflate_compress(data, &mut out).expect("libdeflate")
}

/// The files under `paths`, in path order, up to `limit` bytes, leaving out compressed formats.
fn read_sample(paths: &[PathBuf], limit: usize) -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = Vec::new();
    for p in paths {
        for e in walkdir::WalkDir::new(p).sort_by_file_name().into_iter().flatten() {
            if e.file_type().is_file() && !auditpack::package::is_precompressed(&e.path().to_string_lossy()) {
                names.push(e.into_path());
            }
        }
    }
    let mut files = Vec::new();
    let mut total = 0;
    for name in names {
        let data = read(&name);
        if total + data.len() > limit {
            if total == 0 {
                files.push(data[..limit].to_vec());
            }
            break;
        }
        total += data.len();
        files.push(data);
    }
    files
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
