//! The package's zip writer: entries whose bytes were compressed elsewhere, written with their
//! CRC-32 and sizes in the local header, and a central directory made from 32 bytes an entry.
//!
//! Written by hand, because no zip writer does both things the package needs:
//!
//! - **entries compressed elsewhere.** The workers deflate small files in runs and large ones in
//!   chunks on every core; the `zip` crate takes such an entry only by copying it out of another
//!   zip (parsing each run back), and `rawzip`, which takes raw entries, always writes a data
//!   descriptor after them (a Stored entry followed by one is what streaming readers such as
//!   Java's `ZipInputStream` refuse) and normalises names (a `:` or `\` in an evidence file name
//!   would change) or leaves them unflagged as UTF-8;
//! - **flat memory.** The `zip` crate keeps a record of a few hundred bytes and the name twice for
//!   every entry until the central directory is written; here an entry costs a [`Record`], and
//!   the names are given again, in order, by the caller when the central directory is written.
//!
//! The layout is APPNOTE 6.3.10 section 4.3, with the zip64 fields of section 4.5.3 where a size
//! or offset needs them and the zip64 end records where the entry count or the central
//! directory's place does. Every entry is a regular file: mode 0644, made by Unix, with the
//! version needed to extract (1.0 when stored, 2.0 when deflated, 4.5 with zip64 fields); dated with the one DOS date and time given; its name flagged as UTF-8 when it is not
//! ASCII; with no data descriptor, no extra field but zip64's and no comment. (These are the
//! headers the `zip` crate wrote for the package before.)

use std::io::{self, Seek, SeekFrom, Write};

/// What the central directory needs of an entry: where it is, and what its local header says.
#[derive(Clone, Copy, Debug)]
struct Record {
    offset: u64,
    meta: Meta,
}

/// An entry's bytes as they go into the zip.
#[derive(Clone, Copy, Debug)]
pub(super) struct Meta {
    pub deflated: bool,
    pub crc: u32,
    /// Uncompressed size.
    pub size: u64,
    /// Bytes in the zip.
    pub csize: u64,
}

impl Meta {
    /// Whether a size needs zip64 fields.
    fn big(&self) -> bool {
        self.size >= MAX32 || self.csize >= MAX32
    }
}

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
const MAX32: u64 = u32::MAX as u64;
/// Made by Unix (3), spec version 2.0 (20) or 4.5 (45).
const UNIX: u16 = 3 << 8;

pub(super) struct ZipOut<W: Write + Seek> {
    out: W,
    /// Bytes written so far: the offset of the next entry.
    pos: u64,
    records: Vec<Record>,
    time: u16,
    date: u16,
}

impl<W: Write + Seek> ZipOut<W> {
    /// A zip of about `entries` entries (room is made for their records at once), all dated
    /// `(year, month, day)` at midnight (DOS years 1980-2107: clamped).
    pub fn new(out: W, (year, month, day): (i16, i8, i8), entries: usize) -> Self {
        let year = year.clamp(1980, 2107) as u16;
        let date = ((year - 1980) << 9) | ((month as u16) << 5) | day as u16;
        ZipOut { out, pos: 0, records: Vec::with_capacity(entries), time: 0, date }
    }

    /// An entry whose compressed bytes are `data`.
    pub fn add(&mut self, name: &str, meta: Meta, data: &[u8]) -> io::Result<()> {
        debug_assert_eq!(data.len() as u64, meta.csize);
        self.local_header(name, meta)?;
        self.write(data)
    }

    /// An entry whose `meta.csize` compressed bytes are read from `from`.
    pub fn add_from(&mut self, name: &str, meta: Meta, from: &mut impl io::Read) -> io::Result<()> {
        self.local_header(name, meta)?;
        let copied = io::copy(&mut io::Read::take(from, meta.csize), &mut self.out)?;
        self.pos += copied;
        if copied != meta.csize {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a spooled entry is shorter than it was"));
        }
        Ok(())
    }

    /// A Stored entry of `size` bytes that `data` writes (through a writer that counts them and
    /// takes their CRC-32); the CRC is written into the local header afterwards, by seeking back.
    pub fn add_stored_streamed<E: From<io::Error>>(
        &mut self,
        name: &str,
        size: u64,
        data: impl FnOnce(&mut Crc<'_, W>) -> Result<(), E>,
    ) -> Result<(), E> {
        let meta = Meta { deflated: false, crc: 0, size, csize: size };
        let start = self.pos;
        self.local_header(name, meta)?;
        let mut w = Crc { out: &mut self.out, crc: crc32fast::Hasher::new(), len: 0 };
        data(&mut w)?;
        let (crc, len) = (w.crc.finalize(), w.len);
        self.pos += len;
        if len != size {
            return Err(
                io::Error::new(io::ErrorKind::InvalidData, "the file's size changed since it was collected").into()
            );
        }
        self.records.last_mut().expect("just added").meta.crc = crc;
        self.out.seek(SeekFrom::Start(start + 14))?;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(self.pos))?;
        Ok(())
    }

    /// Writes the central directory and the end records; `names` are the entries' names again,
    /// in the order they were added.
    pub fn finish<N: AsRef<str>>(mut self, names: impl Iterator<Item = N>) -> io::Result<W> {
        let cd_offset = self.pos;
        let mut buf = Vec::with_capacity(64 << 10);
        let mut count = 0usize;
        let records = std::mem::take(&mut self.records);
        for (r, name) in records.iter().zip(names) {
            let name = name.as_ref();
            count += 1;
            let big = r.meta.big();
            let far = r.offset >= MAX32;
            let mut extra = Vec::new();
            if big {
                put64(&mut extra, r.meta.size);
                put64(&mut extra, r.meta.csize);
            }
            if far {
                put64(&mut extra, r.offset);
            }
            let version = needed(r.meta.deflated, !extra.is_empty());
            put32(&mut buf, CENTRAL);
            put16(&mut buf, UNIX | version);
            self.shared_fields(&mut buf, version, name, r.meta)?;
            put16(&mut buf, if extra.is_empty() { 0 } else { 4 + extra.len() as u16 });
            put16(&mut buf, 0); // comment
            put16(&mut buf, 0); // disk
            put16(&mut buf, 0); // internal attributes
            put32(&mut buf, 0o100_644 << 16); // a regular file, rw-r--r--
            put32(&mut buf, if far { u32::MAX } else { r.offset as u32 });
            buf.extend_from_slice(name.as_bytes());
            if !extra.is_empty() {
                put16(&mut buf, 0x0001);
                put16(&mut buf, extra.len() as u16);
                buf.extend_from_slice(&extra);
            }
            if buf.len() >= 60 << 10 {
                self.write_buf(&mut buf)?;
            }
        }
        if count != records.len() {
            return Err(io::Error::other("fewer names than entries for the central directory"));
        }
        self.write_buf(&mut buf)?;
        let cd_size = self.pos - cd_offset;
        let zip64 = count > 0xFFFF || cd_offset >= MAX32 || cd_size >= MAX32;
        if zip64 {
            let record = self.pos;
            put32(&mut buf, END64);
            put64(&mut buf, 44); // the record's size after this field
            put16(&mut buf, UNIX | 45);
            put16(&mut buf, 45);
            put32(&mut buf, 0); // this disk
            put32(&mut buf, 0); // the central directory's disk
            put64(&mut buf, count as u64);
            put64(&mut buf, count as u64);
            put64(&mut buf, cd_size);
            put64(&mut buf, cd_offset);
            put32(&mut buf, LOCATOR64);
            put32(&mut buf, 0);
            put64(&mut buf, record);
            put32(&mut buf, 1); // disks
        }
        let count16 = count.min(0xFFFF) as u16;
        put32(&mut buf, END);
        put16(&mut buf, 0);
        put16(&mut buf, 0);
        put16(&mut buf, count16);
        put16(&mut buf, count16);
        put32(&mut buf, cd_size.min(MAX32) as u32);
        put32(&mut buf, cd_offset.min(MAX32) as u32);
        put16(&mut buf, 0); // comment
        self.write_buf(&mut buf)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Writes a local header and records the entry (its CRC may be set after).
    fn local_header(&mut self, name: &str, meta: Meta) -> io::Result<()> {
        let big = meta.big();
        let version = needed(meta.deflated, big);
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        put32(&mut h, LOCAL);
        self.shared_fields(&mut h, version, name, meta)?;
        put16(&mut h, if big { 20 } else { 0 });
        h.extend_from_slice(name.as_bytes());
        if big {
            put16(&mut h, 0x0001);
            put16(&mut h, 16);
            put64(&mut h, meta.size);
            put64(&mut h, meta.csize);
        }
        let offset = self.pos;
        self.write(&h)?;
        self.records.push(Record { offset, meta });
        Ok(())
    }

    /// The fields a local header and a central-directory header share, from the version needed
    /// to extract to the name's length.
    fn shared_fields(&self, buf: &mut Vec<u8>, version: u16, name: &str, meta: Meta) -> io::Result<()> {
        let big = meta.big();
        put16(buf, version);
        put16(buf, flags(name));
        put16(buf, if meta.deflated { 8 } else { 0 });
        put16(buf, self.time);
        put16(buf, self.date);
        put32(buf, meta.crc);
        put32(buf, if big { u32::MAX } else { meta.csize as u32 });
        put32(buf, if big { u32::MAX } else { meta.size as u32 });
        put16(buf, name_len(name)?);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn write_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        self.out.write_all(buf)?;
        self.pos += buf.len() as u64;
        buf.clear();
        Ok(())
    }
}

/// Counts and checksums what a streamed Stored entry writes.
pub(super) struct Crc<'a, W> {
    out: &'a mut W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Crc<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The version needed to extract (APPNOTE 4.4.3.2): 1.0 to store, 2.0 to deflate, 4.5 with zip64
/// fields.
fn needed(deflated: bool, zip64: bool) -> u16 {
    if zip64 {
        45
    } else if deflated {
        20
    } else {
        10
    }
}

/// The language-encoding flag (bit 11) for a name that is not ASCII.
fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { 0x0800 }
}

fn name_len(name: &str) -> io::Result<u16> {
    u16::try_from(name.len()).map_err(|_| io::Error::other(format!("an entry name over 65,535 bytes: {name:.80}...")))
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
    use std::io::Read;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Every kind of entry, read back by the `zip` crate: names, methods, CRCs, sizes, dates, modes.
    #[test]
    fn entries_of_every_kind_read_back() {
        let text = b"2026-05-01 login ok\n".repeat(500);
        let packed = deflate(&text);
        let crc = crc32fast::hash(&text);
        let mut z = ZipOut::new(io::Cursor::new(Vec::new()), (2026, 6, 30), 0);
        let names = ["bag/bagit.txt", "bag/data/évidence/a:b\\c.log", "bag/data/spooled.log", "bag/data/stored.bin"];
        z.add(names[0], Meta { deflated: false, crc: crc32fast::hash(b"x\n"), size: 2, csize: 2 }, b"x\n").unwrap();
        let meta = Meta { deflated: true, crc, size: text.len() as u64, csize: packed.len() as u64 };
        z.add(names[1], meta, &packed).unwrap();
        z.add_from(names[2], meta, &mut &packed[..]).unwrap();
        z.add_stored_streamed::<io::Error>(names[3], 5, |w| w.write_all(b"12345")).unwrap();
        let bytes = z.finish(names.iter().copied()).unwrap().into_inner();
        // The first local header: version needed 1.0 (Stored), no flags, method 0.
        assert_eq!(bytes[4..10], [10, 0, 0, 0, 0, 0]);

        let mut a = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(a.by_index(1).unwrap().version_made_by(), (2, 0));
        let expected: [&[u8]; 4] = [b"x\n", &text, &text, b"12345"];
        for (i, want) in expected.iter().enumerate() {
            let mut e = a.by_index(i).unwrap();
            assert_eq!(e.name_raw(), names[i].as_bytes());
            assert_eq!(e.unix_mode(), Some(0o100_644));
            let d = e.last_modified().unwrap();
            assert_eq!((d.year(), d.month(), d.day(), d.hour()), (2026, 6, 30, 0));
            let mut back = Vec::new();
            e.read_to_end(&mut back).unwrap();
            assert!(&back == want, "{}", names[i]);
        }
        assert_eq!(a.by_index(1).unwrap().name().unwrap(), "bag/data/évidence/a:b\\c.log");
        assert_eq!(a.by_index(1).unwrap().compression(), zip::CompressionMethod::Deflated);
        assert_eq!(a.by_index(3).unwrap().compression(), zip::CompressionMethod::Stored);
    }

    /// Over 65,535 entries: the zip64 end records, read back by the `zip` crate.
    #[test]
    fn more_entries_than_the_classic_end_record_counts() {
        let n = 70_000;
        let mut z = ZipOut::new(io::Cursor::new(Vec::new()), (2026, 1, 2), 0);
        let names: Vec<String> = (0..n).map(|i| format!("f{i:06}")).collect();
        for name in &names {
            z.add(name, Meta { deflated: false, crc: crc32fast::hash(b"a"), size: 1, csize: 1 }, b"a").unwrap();
        }
        let bytes = z.finish(names.iter().map(String::as_str)).unwrap().into_inner();
        let mut a = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        assert_eq!(a.len(), n);
        let mut e = a.by_index(n - 1).unwrap();
        assert_eq!(e.name().unwrap(), "f069999");
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        assert_eq!(s, "a");
    }

    #[test]
    fn a_streamed_entry_of_another_size_is_an_error() {
        let mut z = ZipOut::new(io::Cursor::new(Vec::new()), (2026, 1, 2), 0);
        let e = z.add_stored_streamed::<io::Error>("f", 6, |w| w.write_all(b"12345")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn fewer_names_than_entries_is_an_error() {
        let mut z = ZipOut::new(io::Cursor::new(Vec::new()), (2026, 1, 2), 0);
        z.add("f", Meta { deflated: false, crc: 0, size: 0, csize: 0 }, b"").unwrap();
        assert!(z.finish(std::iter::empty::<&str>()).is_err());
    }
}
