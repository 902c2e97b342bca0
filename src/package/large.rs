//! Large entries that compress: one Deflate stream made on every core.
//!
//! A 256 MiB log deflated on one thread keeps the other cores idle at the end of a build. The
//! entry is therefore cut into [`CHUNK`]-byte chunks, each deflated on its own (on rayon's pool)
//! with the 32 KiB of input before it as the dictionary, and ended by a sync flush (an empty
//! stored block, so the next chunk starts on a byte boundary); the last chunk ends the stream.
//! That is pigz's scheme: the chunks join into one valid Deflate stream, and since the chunk
//! boundaries are fixed offsets of the input, the bytes do not depend on the number of threads.
//! At 1 MiB chunks it costs nothing measurable in size (docs/performance.md, `benches/deflate.rs`).
//!
//! The stream goes into a temporary file, from which the package's writer ([`super::zipout`])
//! copies it with its CRC-32 and sizes.

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// Input bytes per chunk: each is deflated by one thread.
pub(super) const CHUNK: usize = 1 << 20;
/// The dictionary a chunk is primed with: Deflate's whole window.
const WINDOW: usize = 32 << 10;

/// What [`deflate`] read and wrote.
#[derive(Debug)]
pub(super) struct Deflated {
    pub crc32: u32,
    pub sha256: [u8; 32],
    /// Compressed bytes written.
    pub written: u64,
}

/// Deflates exactly `size` bytes of `input` into `out` as one raw Deflate stream, `segment`
/// chunks at a time in parallel (the bytes are the same for any `segment`; it bounds memory to
/// about twice `segment` chunks). The input is hashed (SHA-256, CRC-32) on the way. Input that
/// ends before `size` bytes, or goes on after them, is an error of kind `InvalidData`: the file
/// changed since it was collected.
pub(super) fn deflate<R: Read, W: Write>(
    input: &mut R,
    size: u64,
    level: u32,
    segment: usize,
    out: &mut W,
) -> io::Result<Deflated> {
    let segment = segment.max(1);
    let mut sha = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    // The last WINDOW bytes of the previous segment, then this segment's input.
    let mut data: Vec<u8> = Vec::with_capacity(WINDOW + segment * CHUNK);
    let mut done: u64 = 0;
    let mut written: u64 = 0;
    loop {
        let keep = data.len().min(WINDOW);
        data.drain(..data.len() - keep);
        let want = (size - done).min((segment * CHUNK) as u64) as usize;
        data.resize(keep + want, 0);
        input.read_exact(&mut data[keep..]).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => changed(),
            _ => e,
        })?;
        sha.update(&data[keep..]);
        crc.update(&data[keep..]);
        let starts: Vec<usize> = (keep..keep + want.max(1)).step_by(CHUNK).collect();
        let ends_stream = done + want as u64 == size;
        let compressed: Vec<io::Result<Vec<u8>>> = starts
            .par_iter()
            .enumerate()
            .map(|(k, &start)| {
                let end = (start + CHUNK).min(keep + want);
                // The input just before the chunk (`data` starts with the previous segment's tail).
                let dict = &data[start.saturating_sub(WINDOW)..start];
                let last = ends_stream && k == starts.len() - 1;
                deflate_chunk(&data[start..end], dict, level, last)
            })
            .collect();
        for chunk in compressed {
            let chunk = chunk?;
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        done += want as u64;
        if ends_stream {
            break;
        }
    }
    if input.read(&mut [0u8; 1])? != 0 {
        return Err(changed());
    }
    Ok(Deflated { crc32: crc.finalize(), sha256: sha.finalize().into(), written })
}

fn changed() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "the file's size changed since it was collected")
}

/// One chunk as raw Deflate blocks: primed with `dict`, ended by a sync flush, or, for the last
/// chunk, by the end of the stream.
fn deflate_chunk(input: &[u8], dict: &[u8], level: u32, last: bool) -> io::Result<Vec<u8>> {
    let mut c = flate2::Compress::new(flate2::Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    deflate_into(&mut c, input, last, &mut out)?;
    Ok(out)
}

/// Deflates all of `input` with a fresh (or reset) compressor, appending to `out`: to the end of
/// the stream when `last`, else to a sync flush.
pub(super) fn deflate_into(c: &mut flate2::Compress, input: &[u8], last: bool, out: &mut Vec<u8>) -> io::Result<()> {
    use flate2::{FlushCompress, Status};
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    let start = c.total_in();
    loop {
        if out.capacity() - out.len() < 64 << 10 {
            out.reserve(out.capacity().max(64 << 10));
        }
        let consumed = (c.total_in() - start) as usize;
        let status = c.compress_vec(&input[consumed..], out, flush).map_err(io::Error::other)?;
        let all_in = (c.total_in() - start) as usize == input.len();
        match status {
            Status::StreamEnd => return Ok(()),
            // A sync flush is complete once it leaves room unused in the output.
            _ if !last && all_in && out.capacity() > out.len() => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text that compresses, but not to nothing: log lines with varying fields.
    fn text(len: usize) -> Vec<u8> {
        let mut s = Vec::with_capacity(len + 100);
        let mut i = 0u64;
        while s.len() < len {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            s.extend_from_slice(
                format!(
                    "2026-05-01T00:{:02}:{:02}Z login user{} from 10.0.{}.{}\n",
                    i % 60,
                    x % 60,
                    x % 977,
                    x % 255,
                    i % 255
                )
                .as_bytes(),
            );
            i += 1;
        }
        s.truncate(len);
        s
    }

    fn inflate(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn chunks_join_into_one_stream_the_same_for_any_segment() {
        // Chunk boundaries, a chunk and a half, exactly two chunks, and under one chunk.
        for len in [CHUNK * 5 / 2 + 17, CHUNK * 2, 1000, CHUNK] {
            let input = text(len);
            let mut first: Option<Vec<u8>> = None;
            for segment in [1, 2, 3, 8] {
                let mut out = Vec::new();
                let d = deflate(&mut &input[..], len as u64, 6, segment, &mut out).unwrap();
                assert_eq!(d.written, out.len() as u64);
                assert_eq!(d.crc32, crc32fast::hash(&input));
                assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(&input)));
                assert!(out.len() < input.len() / 2, "{len}: {} bytes", out.len());
                assert_eq!(inflate(&out), input, "{len} bytes, segments of {segment}");
                match &first {
                    None => first = Some(out),
                    Some(f) => assert!(f == &out, "{len} bytes: segments of {segment} change the stream"),
                }
            }
        }
    }

    #[test]
    fn a_file_shorter_or_longer_than_collected_is_an_error() {
        let input = text(CHUNK + 10);
        for size in [CHUNK as u64 + 11, CHUNK as u64 + 9] {
            let e = deflate(&mut &input[..], size, 6, 2, &mut Vec::new()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{size}");
        }
    }
}
