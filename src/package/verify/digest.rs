//! Checksum algorithms and the sink a file's bytes stream into: every digest a manifest asks
//! for, CRC-32 and the declared size, in one pass.

use sha2::Digest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Algorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    const ALL: [Algorithm; 6] =
        [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha224, Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512];

    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "md5" => Algorithm::Md5,
            "sha1" => Algorithm::Sha1,
            "sha224" => Algorithm::Sha224,
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            _ => return None,
        })
    }
    pub(super) fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha224 => "sha224",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }
    pub(super) fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha1 => 40,
            Algorithm::Sha224 => 56,
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }
    fn hasher(self) -> Hasher {
        match self {
            Algorithm::Md5 => Hasher::Md5(md5::Md5::new()),
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// The digest's length in bytes.
    fn len(&self) -> usize {
        match self {
            Hasher::Md5(_) => 16,
            Hasher::Sha1(_) => 20,
            Hasher::Sha224(_) => 28,
            Hasher::Sha256(_) => 32,
            Hasher::Sha384(_) => 48,
            Hasher::Sha512(_) => 64,
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha224(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn finish_into(self, out: &mut Vec<u8>) {
        match self {
            Hasher::Md5(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha1(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha224(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha256(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha384(h) => out.extend_from_slice(&h.finalize()),
            Hasher::Sha512(h) => out.extend_from_slice(&h.finalize()),
        }
    }
}

/// A set of algorithms, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct AlgSet(u8);

impl AlgSet {
    pub(super) fn insert(&mut self, a: Algorithm) {
        self.0 |= 1 << a as u8;
    }
    fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL.into_iter().filter(move |a| self.0 & (1 << *a as u8) != 0)
    }
}

/// A file read to its end: its size and its digests, raw, in the order of [`AlgSet::iter`].
pub(super) struct Hashed {
    pub(super) size: u64,
    algs: AlgSet,
    digests: Box<[u8]>,
}

impl Hashed {
    pub(super) fn digest(&self, alg: Algorithm) -> Option<&[u8]> {
        let mut at = 0;
        for a in self.algs.iter() {
            let n = a.hex_len() / 2;
            if a == alg {
                return self.digests.get(at..at + n);
            }
            at += n;
        }
        None
    }
}

/// Where a file's bytes go, in one pass: the hashers, CRC-32 (for a zip entry), and a count
/// bounded by the declared size.
/// A consumer of a file's bytes as they are read.
type Tap<'t> = &'t mut dyn FnMut(&[u8]);

pub(super) struct Sink<'t> {
    hashers: Vec<Hasher>,
    algs: AlgSet,
    crc: crc32fast::Hasher,
    total: u64,
    /// The declared size (zip entries): more is an error as soon as it is read.
    declared: Option<u64>,
    /// The bytes themselves, for a small tag file that is read whole.
    pub(super) keep: Option<Vec<u8>>,
    /// Where the bytes go as they are read, for a tag file that is parsed line by line.
    pub(super) tap: Option<Tap<'t>>,
}

impl<'t> Sink<'t> {
    pub(super) fn new(algs: AlgSet, declared: Option<u64>) -> Sink<'t> {
        let hashers = algs.iter().map(Algorithm::hasher).collect();
        Sink { hashers, algs, crc: Default::default(), total: 0, declared, keep: None, tap: None }
    }
    pub(super) fn update(&mut self, b: &[u8]) -> Result<(), String> {
        self.total += b.len() as u64;
        if let Some(limit) = self.declared {
            if self.total > limit {
                return Err(format!("it holds more than its declared {limit} bytes"));
            }
            self.crc.update(b);
        }
        for h in &mut self.hashers {
            h.update(b);
        }
        if let Some(keep) = &mut self.keep {
            keep.extend_from_slice(b);
        }
        if let Some(tap) = &mut self.tap {
            tap(b);
        }
        Ok(())
    }
    /// Checks the size read against the declared one and the CRC-32 against `crc`, the one the
    /// archive records for the entry.
    pub(super) fn check(&self, crc: Option<u32>) -> Result<(), String> {
        if let Some(declared) = self.declared
            && self.total != declared
        {
            return Err(format!("it holds {} bytes but declares {declared}", self.total));
        }
        if let Some(crc) = crc
            && self.crc.clone().finalize() != crc
        {
            return Err("its content does not match the CRC-32 the archive records".into());
        }
        Ok(())
    }
    pub(super) fn finish(self, crc: Option<u32>) -> Result<Hashed, String> {
        self.check(crc)?;
        let mut digests = Vec::with_capacity(self.hashers.iter().map(|h| h.len()).sum());
        for h in self.hashers {
            h.finish_into(&mut digests);
        }
        Ok(Hashed { size: self.total, algs: self.algs, digests: digests.into_boxed_slice() })
    }
}
