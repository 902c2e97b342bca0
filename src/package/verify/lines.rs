//! Tag files split into lines while they are read, in their declared encoding (UTF-8, UTF-16,
//! ISO-8859-1), in bounded memory whatever their size.

/// Manifests, bag-info.txt and fetch.txt are read line by line, whatever their size; a line is
/// cut (and reported) beyond this many bytes.
pub(super) const MAX_LINE: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Utf8,
    Utf16,
    Latin1,
}

impl Encoding {
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Some(Encoding::Utf8),
            "UTF-16" | "UTF16" => Some(Encoding::Utf16),
            "ISO-8859-1" | "LATIN-1" | "LATIN1" | "ISO8859-1" => Some(Encoding::Latin1),
            _ => None,
        }
    }
}

/// Splits a tag file into lines while it is read, decoding it on the way: memory holds one line
/// (at most [`MAX_LINE`] bytes), never the file. Lines end at LF, CRLF or CR, as BagIt allows.
pub(super) struct Lines<'c> {
    enc: Encoding,
    /// The current line: UTF-8 (UTF-16 is transcoded first), or Latin-1 bytes.
    line: Vec<u8>,
    overlong: bool,
    after_cr: bool,
    number: usize,
    /// A line was not valid UTF-8.
    pub(super) invalid: bool,
    /// UTF-16: a byte waiting for its pair, the byte order once known, a high surrogate.
    odd: Option<u8>,
    big_endian: Option<bool>,
    high: Option<u16>,
    each: &'c mut dyn FnMut(usize, &str, bool),
}

impl<'c> Lines<'c> {
    pub(super) fn new(enc: Encoding, each: &'c mut dyn FnMut(usize, &str, bool)) -> Self {
        Lines {
            enc,
            line: Vec::new(),
            overlong: false,
            after_cr: false,
            number: 0,
            invalid: false,
            odd: None,
            big_endian: None,
            high: None,
            each,
        }
    }

    pub(super) fn feed(&mut self, bytes: &[u8]) {
        if self.enc == Encoding::Utf16 { self.utf16(bytes) } else { self.bytes(bytes) }
    }

    fn bytes(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            if std::mem::take(&mut self.after_cr) && b[0] == b'\n' {
                b = &b[1..];
                continue;
            }
            match b.iter().position(|&c| c == b'\n' || c == b'\r') {
                None => {
                    self.push(b);
                    return;
                }
                Some(i) => {
                    self.push(&b[..i]);
                    self.after_cr = b[i] == b'\r';
                    self.emit();
                    b = &b[i + 1..];
                }
            }
        }
    }

    fn push(&mut self, b: &[u8]) {
        let room = MAX_LINE - self.line.len();
        if b.len() > room {
            self.overlong = true;
            self.line.extend_from_slice(&b[..room]);
        } else {
            self.line.extend_from_slice(b);
        }
    }

    fn emit(&mut self) {
        self.number += 1;
        let mut bytes = &self.line[..];
        if self.number == 1 && self.enc == Encoding::Utf8 && bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            bytes = &bytes[3..];
        }
        let text: std::borrow::Cow<'_, str> = match self.enc {
            Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect::<String>().into(),
            _ => match std::str::from_utf8(bytes) {
                Ok(t) => t.into(),
                Err(e) => {
                    // A line cut at MAX_LINE may end inside a character; that is reported as too long.
                    if !(self.overlong && e.error_len().is_none()) {
                        self.invalid = true;
                    }
                    String::from_utf8_lossy(bytes)
                }
            },
        };
        (self.each)(self.number, &text, self.overlong);
        self.line.clear();
        self.overlong = false;
    }

    /// UTF-16 (byte order from its BOM, big-endian without one), transcoded to UTF-8.
    fn utf16(&mut self, b: &[u8]) {
        let mut text = String::with_capacity(b.len());
        let mut rest = b;
        if let Some(first) = self.odd.take() {
            let Some((&second, tail)) = rest.split_first() else {
                self.odd = Some(first);
                return;
            };
            self.unit([first, second], &mut text);
            rest = tail;
        }
        let mut pairs = rest.chunks_exact(2);
        for pair in &mut pairs {
            self.unit([pair[0], pair[1]], &mut text);
        }
        if let [last] = pairs.remainder() {
            self.odd = Some(*last);
        }
        self.bytes(text.as_bytes());
    }

    fn unit(&mut self, pair: [u8; 2], text: &mut String) {
        let big = match self.big_endian {
            Some(big) => big,
            None => {
                let big = pair != [0xFF, 0xFE];
                self.big_endian = Some(big);
                if pair == [0xFF, 0xFE] || pair == [0xFE, 0xFF] {
                    return;
                }
                big
            }
        };
        let u = if big { u16::from_be_bytes(pair) } else { u16::from_le_bytes(pair) };
        if let Some(high) = self.high.take() {
            if (0xDC00..0xE000).contains(&u) {
                let c = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                text.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                return;
            }
            text.push('\u{FFFD}');
        }
        match u {
            0xD800..0xDC00 => self.high = Some(u),
            0xDC00..0xE000 => text.push('\u{FFFD}'),
            _ => text.push(char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}')),
        }
    }

    /// The last line, if the file does not end with a line break.
    pub(super) fn finish(&mut self) {
        if self.enc == Encoding::Utf16 {
            let mut text = String::new();
            if let Some(last) = self.odd.take() {
                self.unit([last, 0], &mut text);
            }
            if self.high.take().is_some() {
                text.push('\u{FFFD}');
            }
            self.bytes(text.as_bytes());
        }
        if !self.line.is_empty() || self.overlong {
            self.emit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of `bytes` in `enc`, fed to [`Lines`] `chunk` bytes at a time.
    fn streamed(bytes: &[u8], enc: Encoding, chunk: usize) -> (Vec<(usize, String, bool)>, bool) {
        let mut got = Vec::new();
        let mut each = |n: usize, line: &str, long: bool| got.push((n, line.to_string(), long));
        let mut lines = Lines::new(enc, &mut each);
        for c in bytes.chunks(chunk) {
            lines.feed(c);
        }
        lines.finish();
        let invalid = lines.invalid;
        (got, invalid)
    }

    #[test]
    fn streamed_lines_are_the_same_whatever_the_chunks() {
        let text = "\u{feff}a\r\nb\rc\n\nd\u{e9}\u{1F600}";
        let want: Vec<(usize, String, bool)> = ["a", "b", "c", "", "d\u{e9}\u{1F600}"]
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_string(), false))
            .collect();
        let utf16le: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain(text[3..].encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let utf16be: Vec<u8> = text[3..].encode_utf16().flat_map(u16::to_be_bytes).collect();
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(streamed(text.as_bytes(), Encoding::Utf8, chunk), (want.clone(), false), "utf-8 by {chunk}");
            assert_eq!(streamed(&utf16le, Encoding::Utf16, chunk), (want.clone(), false), "utf-16le by {chunk}");
            assert_eq!(streamed(&utf16be, Encoding::Utf16, chunk), (want.clone(), false), "utf-16be by {chunk}");
        }
        let (latin, _) = streamed(b"caf\xe9\n", Encoding::Latin1, 2);
        assert_eq!(latin, vec![(1, "caf\u{e9}".to_string(), false)]);
        let (_, invalid) = streamed(b"ok\n\xff\n", Encoding::Utf8, 4);
        assert!(invalid);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_and_flagged() {
        let mut text = vec![b'x'; MAX_LINE * 3];
        text.extend_from_slice(b"\nnext\n");
        let (got, invalid) = streamed(&text, Encoding::Utf8, 4096);
        assert!(!invalid);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].1.len(), got[0].2), (MAX_LINE, true));
        assert_eq!(got[1], (2, "next".to_string(), false));
    }
}
