//! The zip's structure, checked before anything is inflated: what each entry's compression can
//! give, the Unix modes entries may record, and local headers that must agree with the central
//! directory and fill the archive without gaps or overlaps.

use super::container::Method;
use super::reader::PackageFile;
use std::io::{Read, Seek, SeekFrom};

/// Deflate cannot inflate to more than 1032 times its size (a 258-byte match in two bits; block
/// headers only lower it). An entry declaring more than that from its compressed bytes is
/// refused unread: its size is a lie no Deflate stream can keep. Anything up to it is accepted,
/// because a file of zeros really compresses that well (`build` writes such entries), and the
/// reads stay bounded by the declared size whatever the entry holds.
const DEFLATE_MAX_RATIO: u64 = 1032;
/// Headroom for tiny entries: a few bytes of Deflate can legitimately declare a little more.
const DEFLATE_SLACK: u64 = 4 << 10;

/// The most bytes `packed` bytes stored with `method` can give; `None` when the method is not
/// read at all (such an entry is reported unreadable, never inflated).
pub(super) fn max_inflated(method: Method, packed: u64) -> Option<u64> {
    match method {
        Method::Stored => Some(packed),
        Method::Deflated => Some(packed.saturating_mul(DEFLATE_MAX_RATIO).saturating_add(DEFLATE_SLACK)),
        Method::Other => None,
    }
}
/// Unix file types, as zip entries record them in their external attributes.
pub(super) const S_IFMT: u32 = 0o170000;
pub(super) const S_IFSOCK: u32 = 0o140000;
pub(super) const S_IFLNK: u32 = 0o120000;
pub(super) const S_IFREG: u32 = 0o100000;
pub(super) const S_IFBLK: u32 = 0o060000;
pub(super) const S_IFDIR: u32 = 0o040000;
pub(super) const S_IFCHR: u32 = 0o020000;
pub(super) const S_IFIFO: u32 = 0o010000;
/// The mode `auditpack build` gives every entry.
pub(super) const BUILD_MODE: u32 = S_IFREG | 0o644;

/// The Unix mode an entry records, whole: the zip crate's `unix_mode` clears the setuid, setgid
/// and sticky bits, which are exactly what must be seen. MS-DOS attributes carry none.
pub(super) fn unix_mode(e: &zip::read::ZipFileEntry<'_>) -> Option<u32> {
    let mode = e.external_attributes() >> 16;
    (e.system() != zip::System::Dos && mode != 0).then_some(mode)
}

/// Where an entry's headers and data are, from the central directory.
pub(super) struct EntryPlace {
    pub(super) header: u64,
    pub(super) central: u64,
    pub(super) packed: u64,
    pub(super) size: u64,
}

/// Reads every entry's local header and checks it against its central-directory record (name,
/// version needed, flags, method, CRC-32 and sizes), and that the entries, one after another,
/// fill the archive from its first byte up to the central directory: an extracting tool that
/// reads local headers (`unzip` streaming, `bsdtar`) must find exactly the files verify checked,
/// never a `../../tmp/evil` or an entry hidden between two others. Returns the hostile findings.
pub(super) fn check_local_headers(
    file: &mut PackageFile,
    places: &mut [EntryPlace],
    dir_start: u64,
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    places.sort_by_key(|p| p.header);
    let mut expected_at = 0u64;
    for p in places.iter() {
        let mut central = [0u8; 46];
        let mut local = [0u8; 30];
        let read = |file: &mut PackageFile, at: u64, buf: &mut [u8]| -> std::io::Result<()> {
            file.seek(SeekFrom::Start(at))?;
            file.read_exact(buf)
        };
        if read(file, p.central, &mut central).is_err() || central[..4] != *b"PK\x01\x02" {
            out.push(("a central directory record cannot be read".to_string(), None));
            return out;
        }
        let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
        let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut name = vec![0u8; usize::from(u16_at(&central, 28))];
        if read(file, p.central + 46, &mut name).is_err() {
            out.push(("a central directory record cannot be read".to_string(), None));
            return out;
        }
        let shown = String::from_utf8_lossy(&name).escape_debug().to_string();
        let named = Some(String::from_utf8_lossy(&name).into_owned());
        if p.header != expected_at {
            let what = if p.header > expected_at {
                format!(
                    "{} bytes before the entry `{shown}` belong to no entry of the central directory (a hidden entry?)",
                    p.header - expected_at
                )
            } else {
                format!("the entry `{shown}` starts inside the one before it")
            };
            out.push((what, named.clone()));
        }
        if read(file, p.header, &mut local).is_err() || local[..4] != *b"PK\x03\x04" {
            out.push((format!("the entry `{shown}` has no local header where the central directory says"), named));
            return out;
        }
        let (name_len, extra_len) = (usize::from(u16_at(&local, 26)), usize::from(u16_at(&local, 28)));
        let mut local_name = vec![0u8; name_len];
        let mut extra = vec![0u8; extra_len];
        if read(file, p.header + 30, &mut local_name).is_err() || file.read_exact(&mut extra).is_err() {
            out.push((format!("the local header of `{shown}` is cut short"), named));
            return out;
        }
        let mut differs = Vec::new();
        if local_name != name {
            differs.push(format!("name `{}`", String::from_utf8_lossy(&local_name).escape_debug()));
        }
        if u16_at(&local, 4) != u16_at(&central, 6) {
            differs.push(format!("version needed {}", u16_at(&local, 4)));
        }
        let flags = u16_at(&local, 6);
        if flags != u16_at(&central, 8) {
            differs.push(format!("flags {flags:#06x}"));
        }
        if u16_at(&local, 8) != u16_at(&central, 10) {
            differs.push(format!("compression method {}", u16_at(&local, 8)));
        }
        // With a data descriptor (flag bit 3) the local CRC and sizes may be left zero.
        let deferred = flags & 0x0008 != 0;
        let crc = u32_at(&local, 14);
        if crc != u32_at(&central, 16) && !(deferred && crc == 0) {
            differs.push(format!("CRC-32 {crc:08x}"));
        }
        let (mut packed, mut size) = (u64::from(u32_at(&local, 18)), u64::from(u32_at(&local, 22)));
        if packed == 0xFFFF_FFFF || size == 0xFFFF_FFFF {
            // Zip64: the real sizes are in the local extra field, uncompressed first.
            let (mut i, mut found) = (0, None);
            while i + 4 <= extra.len() {
                let (id, len) = (u16_at(&extra, i), usize::from(u16_at(&extra, i + 2)));
                let body = extra.get(i + 4..i + 4 + len).unwrap_or(&[]);
                if id == 0x0001 {
                    found = Some(body);
                    break;
                }
                i += 4 + len;
            }
            let body = found.unwrap_or(&[]);
            let u64_at = |at: usize| body.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
            let mut at = 0;
            if size == 0xFFFF_FFFF {
                size = u64_at(at).unwrap_or(u64::MAX);
                at += 8;
            }
            if packed == 0xFFFF_FFFF {
                packed = u64_at(at).unwrap_or(u64::MAX);
            }
        }
        if (packed, size) != (p.packed, p.size) && !(deferred && (packed, size) == (0, 0)) {
            differs.push(format!("sizes {packed} compressed, {size} uncompressed"));
        }
        if !differs.is_empty() {
            out.push((
                format!(
                    "the local header of `{shown}` disagrees with the central directory: it says {}",
                    differs.join(", ")
                ),
                named.clone(),
            ));
        }
        let data_end = p.header + 30 + name_len as u64 + extra_len as u64 + p.packed;
        // A data descriptor follows the data: CRC-32 and sizes (4 or 8 bytes each), with or
        // without its signature.
        expected_at = data_end;
        if deferred {
            let mut sig = [0u8; 4];
            let signed = read(file, data_end, &mut sig).is_ok() && sig == *b"PK\x07\x08";
            let next = places.iter().map(|q| q.header).filter(|&h| h > p.header).min().unwrap_or(dir_start);
            let base = data_end + if signed { 4 } else { 0 };
            expected_at = [base + 12, base + 20].into_iter().find(|&end| end == next).unwrap_or(base + 12);
        }
    }
    if expected_at != dir_start && out.is_empty() {
        let what = if dir_start > expected_at {
            format!(
                "{} bytes before the central directory belong to no entry (a hidden entry?)",
                dir_start - expected_at
            )
        } else {
            "the last entry runs into the central directory".to_string()
        };
        out.push((what, None));
    }
    out
}
