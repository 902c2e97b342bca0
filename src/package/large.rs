//! Large entries that compress: one Deflate stream made on every core, spooled as a one-entry zip.
//!
//! A 256 MiB log deflated on one thread keeps the other cores idle at the end of a build. The
//! entry is therefore cut into [`CHUNK`]-byte chunks, each deflated on its own (on rayon's pool)
//! with the 32 KiB of input before it as the dictionary, and ended by a sync flush (an empty
//! stored block, so the next chunk starts on a byte boundary); the last chunk ends the stream.
//! That is pigz's scheme: the chunks join into one valid Deflate stream, and since the chunk
//! boundaries are fixed offsets of the input, the bytes do not depend on the number of threads.
//! At 1 MiB chunks it costs nothing measurable in size (docs/performance.md, `benches/deflate.rs`).
//!
//! The package writer (the `zip` crate) takes an entry compressed elsewhere only as an entry of
//! another zip (`raw_copy_file_touch`), so the stream is written into a one-entry zip in a
//! temporary file, which the writer copies from. That zip is written here, by hand: `rawzip`
//! writes raw entries, but always with a data descriptor and with its name either normalised
//! (a `:` or `\` in an evidence file name would change) or marked as not UTF-8, while the
//! package must keep every name byte for byte. The one entry is all this writes: its local
//! header, its central-directory header and the end records (zip64 when the entry is near 4 GiB),
//! in the layout of APPNOTE 6.3.10 section 4.3; the `zip` crate reads it back and checks it.

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Input bytes per chunk: each is deflated by one thread.
pub(super) const CHUNK: usize = 1 << 20;
/// The dictionary a chunk is primed with: Deflate's whole window.
const WINDOW: usize = 32 << 10;
/// An entry this large (or larger) gets zip64 fields: its compressed size, which can exceed its
/// size by a little on incompressible input, must still fit the 32-bit fields otherwise.
pub(super) const ZIP64_FROM: u64 = 0xF000_0000;

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
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 64 << 10 {
            out.reserve(out.capacity().max(64 << 10));
        }
        let consumed = c.total_in() as usize;
        let status = c.compress_vec(&input[consumed..], &mut out, flush).map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == input.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete once it leaves room unused in the output.
            _ if !last && all_in && out.capacity() > out.len() => return Ok(out),
            _ => {}
        }
    }
}

/// The fields of the one entry of a spooled zip.
pub(super) struct SpoolEntry<'a> {
    pub name: &'a str,
    pub size: u64,
    /// Sizes in zip64 fields: for an entry of [`ZIP64_FROM`] bytes or more.
    pub zip64: bool,
}

/// Writes a one-entry zip around a Deflate stream: the local header, then whatever `data` writes
/// (the compressed bytes; it returns the CRC-32 and compressed size), then the central directory.
/// The header's CRC and sizes are written after the data, by seeking back. The date is the
/// earliest DOS date and the mode 0644: the writer copies the entry with its own.
pub(super) fn write_spool<F: Write + Seek>(
    file: &mut F,
    entry: SpoolEntry<'_>,
    data: impl FnOnce(&mut F) -> io::Result<Deflated>,
) -> io::Result<Deflated> {
    let zip64 = entry.zip64;
    let name = entry.name.as_bytes();
    let name_len = u16::try_from(name.len()).map_err(|_| io::Error::other("an entry name over 65,535 bytes"))?;
    let version: u16 = if zip64 { 45 } else { 20 };
    let flags: u16 = if entry.name.is_ascii() { 0 } else { 0x0800 };
    const DEFLATE: u16 = 8;
    const DOS_TIME: u16 = 0;
    const DOS_DATE: u16 = (1 << 5) | 1; // 1980-01-01
    let extra_len: u16 = if zip64 { 20 } else { 0 };

    let start = file.stream_position()?;
    let mut local = Vec::with_capacity(30 + name.len() + 20);
    put32(&mut local, 0x0403_4b50);
    put16(&mut local, version);
    put16(&mut local, flags);
    put16(&mut local, DEFLATE);
    put16(&mut local, DOS_TIME);
    put16(&mut local, DOS_DATE);
    local.extend_from_slice(&[0; 12]); // CRC-32, compressed and uncompressed size: patched below
    put16(&mut local, name_len);
    put16(&mut local, extra_len);
    local.extend_from_slice(name);
    if zip64 {
        local.extend_from_slice(&[0; 20]); // the zip64 field: patched below
    }
    file.write_all(&local)?;
    let deflated = data(file)?;
    let cd_offset = file.stream_position()?;

    // The sizes as the 32-bit fields hold them, and the zip64 field.
    let (size32, csize32) = if zip64 { (u32::MAX, u32::MAX) } else { (entry.size as u32, deflated.written as u32) };
    let mut zip64_field = Vec::with_capacity(20);
    if zip64 {
        put16(&mut zip64_field, 0x0001);
        put16(&mut zip64_field, 16);
        put64(&mut zip64_field, entry.size);
        put64(&mut zip64_field, deflated.written);
    }

    let mut central = Vec::with_capacity(46 + name.len() + 20 + 98);
    put32(&mut central, 0x0201_4b50);
    put16(&mut central, (3 << 8) | version); // made by: Unix
    put16(&mut central, version);
    put16(&mut central, flags);
    put16(&mut central, DEFLATE);
    put16(&mut central, DOS_TIME);
    put16(&mut central, DOS_DATE);
    put32(&mut central, deflated.crc32);
    put32(&mut central, csize32);
    put32(&mut central, size32);
    put16(&mut central, name_len);
    put16(&mut central, extra_len);
    put16(&mut central, 0); // comment
    put16(&mut central, 0); // disk
    put16(&mut central, 0); // internal attributes
    put32(&mut central, 0o100_644 << 16); // external: a regular file, rw-r--r--
    put32(&mut central, start as u32);
    central.extend_from_slice(name);
    central.extend_from_slice(&zip64_field);
    let cd_size = central.len() as u64;
    if zip64 {
        let record = cd_offset + cd_size;
        put32(&mut central, 0x0606_4b50);
        put64(&mut central, 44);
        put16(&mut central, (3 << 8) | version);
        put16(&mut central, version);
        put32(&mut central, 0);
        put32(&mut central, 0);
        put64(&mut central, 1);
        put64(&mut central, 1);
        put64(&mut central, cd_size);
        put64(&mut central, cd_offset);
        put32(&mut central, 0x0706_4b50);
        put32(&mut central, 0);
        put64(&mut central, record);
        put32(&mut central, 1);
    }
    put32(&mut central, 0x0605_4b50);
    put16(&mut central, 0);
    put16(&mut central, 0);
    put16(&mut central, 1);
    put16(&mut central, 1);
    put32(&mut central, cd_size as u32);
    put32(&mut central, if zip64 { u32::MAX } else { cd_offset as u32 });
    put16(&mut central, 0);
    file.write_all(&central)?;

    // Back to the local header's CRC and sizes, then its zip64 field.
    let mut fields = Vec::with_capacity(12);
    put32(&mut fields, deflated.crc32);
    put32(&mut fields, csize32);
    put32(&mut fields, size32);
    file.seek(SeekFrom::Start(start + 14))?;
    file.write_all(&fields)?;
    if zip64 {
        file.seek(SeekFrom::Start(start + 30 + name.len() as u64))?;
        file.write_all(&zip64_field)?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(deflated)
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
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

    /// The spooled zip as the package writer reads it, with and without zip64 fields, with names
    /// the `zip` crate's writer would keep as they are (and flag as UTF-8).
    #[test]
    fn the_spooled_zip_reads_back_with_its_name_crc_and_sizes() {
        let input = text(3 * CHUNK / 2);
        for (name, zip64) in [("bag/data/evidence/a:b\\c.log", false), ("bag/data/évidence.log", true)] {
            let mut file = io::Cursor::new(b"junk before".to_vec());
            file.seek(SeekFrom::End(0)).unwrap();
            let entry = SpoolEntry { name, size: input.len() as u64, zip64 };
            let d = write_spool(&mut file, entry, |f| deflate(&mut &input[..], input.len() as u64, 6, 2, f)).unwrap();
            let mut zip = zip::ZipArchive::new(io::Cursor::new(file.into_inner())).unwrap();
            assert_eq!(zip.len(), 1);
            let mut e = zip.by_index(0).unwrap();
            assert_eq!(e.name_raw(), name.as_bytes());
            assert_eq!(e.compression(), zip::CompressionMethod::Deflated);
            assert_eq!((e.crc32(), e.compressed_size(), e.size()), (d.crc32, d.written, input.len() as u64));
            assert_eq!(e.unix_mode(), Some(0o100_644));
            let mut back = Vec::new();
            e.read_to_end(&mut back).unwrap();
            assert!(back == input, "{name}");
        }
    }
}
