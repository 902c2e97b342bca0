//! Stage 1, measure: the four embedded DejaVu faces, measured with the same per-glyph advances
//! printpdf writes into the PDF `/W` arrays.

use super::PdfError;
use printpdf::{FontId, ParsedFont};
use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Face {
    Regular = 0,
    Bold = 1,
    Italic = 2,
    Mono = 3,
}

const FONT_FILES: [(&str, &str, &[u8]); 4] = [
    // The resource names double as the six-letter subset tag printpdf puts on /BaseFont,
    // so they must be uppercase letters; being fixed also keeps the output deterministic
    // (printpdf's own ids come from a process-global counter).
    ("DejaVuSans.ttf", "DVSREG", include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/DejaVuSans.ttf"))),
    (
        "DejaVuSans-Bold.ttf",
        "DVSBLD",
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/DejaVuSans-Bold.ttf")),
    ),
    (
        "DejaVuSans-Oblique.ttf",
        "DVSOBL",
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/DejaVuSans-Oblique.ttf")),
    ),
    (
        "DejaVuSansMono.ttf",
        "DVSMON",
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/DejaVuSansMono.ttf")),
    ),
];

pub(super) struct FaceData {
    pub(super) id: FontId,
    pub(super) font: ParsedFont,
    units_per_em: f32,
    /// Advance per char in em (None: no glyph); text is measured a lot, cmap lookups are not free.
    advances: RefCell<HashMap<char, Option<f32>>>,
}

pub(super) struct Fonts {
    pub(super) faces: Vec<FaceData>,
}

/// DejaVu's hhea ascender/descender in em; used for baselines of every face.
pub(super) const ASCENT: f32 = 0.928;
pub(super) const DESCENT: f32 = 0.236;

impl Fonts {
    pub(super) fn load() -> Result<Fonts, PdfError> {
        let mut faces = Vec::with_capacity(FONT_FILES.len());
        for (name, id, bytes) in FONT_FILES {
            let mut warnings = Vec::new();
            let font = ParsedFont::from_bytes(bytes, 0, &mut warnings).ok_or(PdfError::Font(name))?;
            let units_per_em = f32::from(font.pdf_font_metrics.units_per_em.max(1));
            faces.push(FaceData {
                id: FontId(id.to_string()),
                font,
                units_per_em,
                advances: RefCell::new(HashMap::new()),
            });
        }
        Ok(Fonts { faces })
    }

    /// Advance of `c` in em, truncated to thousandths exactly like printpdf's `/W` entries,
    /// or `None` when the face has no glyph for it.
    fn advance(&self, face: Face, c: char) -> Option<f32> {
        let fd = &self.faces[face as usize];
        if let Some(v) = fd.advances.borrow().get(&c) {
            return *v;
        }
        let v = fd.font.lookup_glyph_index(c as u32).filter(|&gid| gid != 0).map(|gid| {
            let adv = f32::from(fd.font.get_horizontal_advance(gid));
            (adv * 1000.0 / fd.units_per_em).trunc() / 1000.0
        });
        fd.advances.borrow_mut().insert(c, v);
        v
    }

    pub(super) fn char_width(&self, face: Face, size: f32, c: char) -> f32 {
        self.advance(face, c).unwrap_or(0.6) * size
    }

    pub(super) fn text_width(&self, face: Face, size: f32, text: &str) -> f32 {
        text.chars().map(|c| self.char_width(face, size, c)).sum()
    }

    /// The face and char that will actually be drawn for `c`: the requested face, else DejaVu
    /// Sans (widest coverage), else a replacement glyph. Never the 14 builtin fonts, which
    /// would print `?` for anything outside WinAnsi.
    pub(super) fn resolve(&self, face: Face, c: char) -> (Face, char) {
        if self.advance(face, c).is_some() {
            (face, c)
        } else if face != Face::Regular && self.advance(Face::Regular, c).is_some() {
            (Face::Regular, c)
        } else if self.advance(face, '\u{FFFD}').is_some() {
            (face, '\u{FFFD}')
        } else {
            (face, '?')
        }
    }

    /// Shortens `text` with an ellipsis so it fits `max_w`.
    pub(super) fn ellipsize(&self, face: Face, size: f32, text: &str, max_w: f32) -> String {
        let text = clean_plain(self, face, text);
        if self.text_width(face, size, &text) <= max_w {
            return text;
        }
        let budget = max_w - self.char_width(face, size, '…');
        let mut out = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            w += self.char_width(face, size, c);
            if w > budget {
                break;
            }
            out.push(c);
        }
        out.truncate(out.trim_end().len());
        out.push('…');
        out
    }
}

/// Flattens whitespace and replaces characters no embedded face can draw (for plain labels).
pub(super) fn clean_plain(fonts: &Fonts, face: Face, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() && c != '\u{a0}' {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else if !is_invisible(c) {
            out.push(fonts.resolve(face, c).1);
        }
    }
    out.trim().to_string()
}

/// Characters that have no visible glyph and would only print as boxes.
pub(super) fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' | '\u{202a}'..='\u{202e}')
}

#[cfg(test)]
mod tests {
    use super::super::tests::fonts;
    use super::*;

    #[test]
    fn unicode_uses_embedded_glyphs() {
        let f = fonts();
        for c in "Zürich naïve — ≥ € ŁódźŻółć αβγΩ".chars().filter(|c| !c.is_whitespace()) {
            for face in [Face::Regular, Face::Bold, Face::Italic] {
                assert_eq!(f.resolve(face, c), (face, c), "{c:?} in {face:?}");
            }
        }
        // A char no DejaVu face has becomes a visible replacement, never a builtin-font `?`.
        let (_, r) = f.resolve(Face::Regular, '漢');
        assert_eq!(r, '\u{FFFD}');
    }
}
