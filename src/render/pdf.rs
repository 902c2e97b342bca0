//! PDF writer: lays a [`Document`] out on A4 pages and serialises it with printpdf.
//!
//! The layout is a small pipeline over plain data, so every stage can be tested on its own:
//!
//! 1. **measure** – `Fonts` holds the four embedded DejaVu faces and measures text with the
//!    same per-glyph advances printpdf writes into the PDF `/W` arrays, so what we measure is
//!    exactly what a viewer draws (no shaping or kerning happens on either side).
//! 2. **lines** – inline runs become `Word`s, and words are broken greedily into `Line`s.
//!    A token wider than the measure (a SHA-256, a long path) is hard-broken, preferably after
//!    a separator such as `/` or `-`, so nothing ever crosses a margin or a cell border.
//! 3. **blocks** – every block becomes `Frag`s: unbreakable vertical boxes (one paragraph
//!    line, one table row, a whole chart) with spacing and keep-with-next flags.
//! 4. **pages** – `paginate` stacks fragments onto pages, honouring keep-with-next chains
//!    (headings never end a page, no single-line orphans/widows), forced breaks, and
//!    repeating a table's header row on every page the table continues on.
//! 5. **resolve** – once every page is known, TOC page numbers, internal links and
//!    "Page X of Y" are filled in (this is the second pass: the TOC's size never depends on
//!    its page numbers, so one pagination plus late binding is enough and cannot oscillate).
//! 6. **ops** – placed items become printpdf `Op`s; the document is saved through lopdf so the
//!    outline can be nested and the trailer `/ID` made deterministic.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use printpdf::{
    Actions, BorderArray, Color, ColorArray, Destination, FontId, ImageCompression, ImageOptimizationOptions,
    LinePoint, LinkAnnotation, Op, PageAnnotId, PageAnnotation, PaintMode, ParsedFont, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfParseErrorSeverity, PdfSaveOptions, PdfWarnMsg, Point, Pt, RawImage, Rect, Rgb,
    TextItem, TextMatrix, XObject, XObjectId, XObjectTransform,
};

use super::doc::{Align, Block, Chart, Document, Inline, Style, Table, plain_text};

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// One of the embedded DejaVu fonts could not be parsed.
    #[error("embedded font {0} could not be parsed")]
    Font(&'static str),
    /// `meta.logo` is not a decodable PNG or JPEG image.
    #[error("logo image could not be decoded: {0}")]
    Logo(String),
    /// printpdf/lopdf reported an error while writing the file.
    #[error("PDF serialisation failed: {0}")]
    Write(String),
}

/// Renders `doc` as a PDF. The same document always yields the same bytes.
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::load()?;
    let logo = decode_logo(doc.meta.logo.as_deref())?;
    let id = document_id(doc);
    let LaidOut { pages, outline } = layout_document(doc, &fonts, logo.as_ref().map(|l| (l.width, l.height)));
    // Each stage consumes the one before, so a long document is held in one form at a time:
    // laid-out items become operators page by page, and the operators are gone before saving.
    let pdf = build_pdf(doc, pages, &outline, &fonts, logo);
    save(pdf, &outline, &id)
}

// ---------------------------------------------------------------------------------------------
// Geometry and typography (PDF points; layout uses y growing downwards from the page top)
// ---------------------------------------------------------------------------------------------

const MM: f32 = 72.0 / 25.4;
const PAGE_W: f32 = 210.0 * MM;
const PAGE_H: f32 = 297.0 * MM;
const MARGIN_X: f32 = 20.0 * MM;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
/// Top of the body area; the running header sits above it.
const BODY_TOP: f32 = 25.0 * MM;
/// Bottom of the body area; the footer sits below it.
const BODY_BOTTOM: f32 = PAGE_H - 20.0 * MM;
const BODY_H: f32 = BODY_BOTTOM - BODY_TOP;
const HEADER_BASELINE: f32 = 14.0 * MM;
const HEADER_RULE: f32 = 16.5 * MM;
const FOOTER_BASELINE: f32 = PAGE_H - 11.0 * MM;

const BODY_SIZE: f32 = 9.5;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.42;
/// DejaVu Sans Mono looks larger than Sans at the same size; inline code is set smaller.
const CODE_SCALE: f32 = 0.88;
const TABLE_SIZE: f32 = 8.0;
const CODE_BLOCK_SIZE: f32 = 7.8;
const SMALL_SIZE: f32 = 7.8;
const PARA_SPACE: f32 = 6.0;
const TIGHT_SPACE: f32 = 3.0;
const EPS: f32 = 0.01;
/// Longest-word minimum of a table column is capped so one hash cannot starve other columns.
const TABLE_MIN_CAP: f32 = 110.0;
/// The smallest size a wide table is set in so that its header words fit.
const MIN_TABLE_SIZE: f32 = 6.0;
const CELL_PAD_X: f32 = 4.0;
const CELL_PAD_Y: f32 = 3.0;

// ---------------------------------------------------------------------------------------------
// Colours
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgb3(f32, f32, f32);

impl Rgb3 {
    const WHITE: Rgb3 = Rgb3(1.0, 1.0, 1.0);

    /// Parses `#rrggbb` or `#rgb`.
    fn parse(s: &str) -> Option<Rgb3> {
        let h = s.trim().strip_prefix('#').unwrap_or(s.trim());
        if !h.is_ascii() {
            return None;
        }
        let ch = |i: usize, n: usize| u8::from_str_radix(h.get(i..i + n)?, 16).ok();
        let (r, g, b) = match h.len() {
            6 => (ch(0, 2)?, ch(2, 2)?, ch(4, 2)?),
            3 => (ch(0, 1)? * 17, ch(1, 1)? * 17, ch(2, 1)? * 17),
            _ => return None,
        };
        Some(Rgb3(r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0))
    }

    /// Blend towards `other`; `t = 0` keeps self.
    fn mix(self, other: Rgb3, t: f32) -> Rgb3 {
        Rgb3(self.0 + (other.0 - self.0) * t, self.1 + (other.1 - self.1) * t, self.2 + (other.2 - self.2) * t)
    }

    /// Relative luminance, to pick readable text on a coloured fill.
    fn luminance(self) -> f32 {
        0.2126 * self.0 + 0.7152 * self.1 + 0.0722 * self.2
    }

    fn pdf(self) -> Color {
        Color::Rgb(Rgb::new(self.0, self.1, self.2, None))
    }
}

/// All colours the layout uses, derived from `meta.accent`.
#[derive(Debug, Clone, Copy)]
struct Theme {
    /// Fills and rules.
    accent: Rgb3,
    /// Accent for text on white (headings, links): darkened if the accent is too light to read.
    accent_text: Rgb3,
    on_accent: Rgb3,
    text: Rgb3,
    muted: Rgb3,
    rule: Rgb3,
    border: Rgb3,
    zebra: Rgb3,
    code_bg: Rgb3,
    code_text: Rgb3,
    quote_bar: Rgb3,
}

impl Theme {
    fn new(accent: &str) -> Theme {
        let accent = Rgb3::parse(accent).unwrap_or(Rgb3(0.12, 0.31, 0.47));
        let text = Rgb3(0.12, 0.13, 0.16);
        Theme {
            accent,
            accent_text: if accent.luminance() > 0.55 { accent.mix(Rgb3(0.0, 0.0, 0.0), 0.45) } else { accent },
            on_accent: if accent.luminance() < 0.6 { Rgb3::WHITE } else { text },
            text,
            muted: Rgb3(0.40, 0.43, 0.48),
            rule: accent.mix(Rgb3::WHITE, 0.35),
            border: Rgb3(0.76, 0.79, 0.83),
            zebra: Rgb3(0.955, 0.96, 0.97),
            code_bg: Rgb3(0.95, 0.955, 0.96),
            code_text: Rgb3(0.16, 0.18, 0.22),
            quote_bar: accent.mix(Rgb3::WHITE, 0.55),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stage 1: fonts and measurement
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Face {
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

struct FaceData {
    id: FontId,
    font: ParsedFont,
    units_per_em: f32,
    /// Advance per char in em (None: no glyph); text is measured a lot, cmap lookups are not free.
    advances: RefCell<HashMap<char, Option<f32>>>,
}

struct Fonts {
    faces: Vec<FaceData>,
}

/// DejaVu's hhea ascender/descender in em; used for baselines of every face.
const ASCENT: f32 = 0.928;
const DESCENT: f32 = 0.236;

impl Fonts {
    fn load() -> Result<Fonts, PdfError> {
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

    fn char_width(&self, face: Face, size: f32, c: char) -> f32 {
        self.advance(face, c).unwrap_or(0.6) * size
    }

    fn text_width(&self, face: Face, size: f32, text: &str) -> f32 {
        text.chars().map(|c| self.char_width(face, size, c)).sum()
    }

    /// The face and char that will actually be drawn for `c`: the requested face, else DejaVu
    /// Sans (widest coverage), else a replacement glyph. Never the 14 builtin fonts, which
    /// would print `?` for anything outside WinAnsi.
    fn resolve(&self, face: Face, c: char) -> (Face, char) {
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
    fn ellipsize(&self, face: Face, size: f32, text: &str, max_w: f32) -> String {
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
fn clean_plain(fonts: &Fonts, face: Face, text: &str) -> String {
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
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' | '\u{202a}'..='\u{202e}')
}

// ---------------------------------------------------------------------------------------------
// Stage 2: words and lines
// ---------------------------------------------------------------------------------------------

/// A run of text in one face, size, colour and link.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    text: String,
    face: Face,
    size: f32,
    color: Rgb3,
    link: Option<String>,
    width: f32,
}

impl Run {
    fn same_style(&self, face: Face, size: f32, color: Rgb3, link: &Option<String>) -> bool {
        self.face == face && self.size == size && self.color == color && &self.link == link
    }
}

/// An unbreakable token (may mix styles, e.g. `**bold**,`), plus what followed it.
#[derive(Debug, Clone, Default)]
struct Word {
    runs: Vec<Run>,
    width: f32,
    /// Whitespace followed the word (a break opportunity that renders as a space).
    space: bool,
    /// A hard line break (`\n`) followed the word.
    hard_break: bool,
}

impl Word {
    fn push_char(&mut self, face: Face, size: f32, color: Rgb3, link: &Option<String>, c: char, w: f32) {
        match self.runs.last_mut() {
            Some(r) if r.same_style(face, size, color, link) => {
                r.text.push(c);
                r.width += w;
            }
            _ => self.runs.push(Run { text: c.to_string(), face, size, color, link: link.clone(), width: w }),
        }
        self.width += w;
    }
}

/// How the inlines of one block are set.
#[derive(Debug, Clone, Copy)]
struct TextStyle {
    size: f32,
    color: Rgb3,
    bold: bool,
    link_color: Rgb3,
    code_color: Rgb3,
}

fn face_for(style: Style, bold_base: bool) -> Face {
    if style.code {
        Face::Mono
    } else if style.bold || bold_base {
        // DejaVu ships no bold-oblique here; bold wins, it carries more meaning.
        Face::Bold
    } else if style.italic {
        Face::Italic
    } else {
        Face::Regular
    }
}

/// Splits inline runs into words at whitespace (collapsing runs of it, as HTML does).
fn words_from_inlines(fonts: &Fonts, inlines: &[Inline], st: &TextStyle) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut cur = Word::default();
    for inl in inlines {
        let base = face_for(inl.style, st.bold);
        let size = if inl.style.code { st.size * CODE_SCALE } else { st.size };
        let color = if inl.link.is_some() {
            st.link_color
        } else if inl.style.code {
            st.code_color
        } else {
            st.color
        };
        for c in inl.text.chars() {
            if c == '\n' {
                if !cur.runs.is_empty() {
                    cur.hard_break = true;
                    out.push(std::mem::take(&mut cur));
                } else {
                    match out.last_mut() {
                        Some(last) if !last.hard_break => last.hard_break = true,
                        _ => out.push(Word { hard_break: true, ..Word::default() }),
                    }
                }
            } else if c == '\u{200b}' || (c.is_whitespace() && c != '\u{a0}' && c != '\u{202f}') {
                let space = c != '\u{200b}';
                if !cur.runs.is_empty() {
                    cur.space = space;
                    out.push(std::mem::take(&mut cur));
                } else if let Some(last) = out.last_mut()
                    && !last.hard_break
                {
                    last.space |= space;
                }
            } else if !is_invisible(c) {
                let (face, c) = fonts.resolve(base, c);
                let w = fonts.char_width(face, size, c);
                cur.push_char(face, size, color, &inl.link, c, w);
            }
        }
    }
    if !cur.runs.is_empty() {
        out.push(cur);
    }
    out
}

/// One laid-out line; run x offsets are relative to the line start.
#[derive(Debug, Clone)]
struct Line {
    runs: Vec<(f32, Run)>,
    width: f32,
    /// Largest font size on the line (at least the block's base size): sets the line height.
    size: f32,
}

impl Line {
    fn new(size: f32) -> Line {
        Line { runs: Vec::new(), width: 0.0, size }
    }

    fn height(&self) -> f32 {
        self.size * LEADING
    }

    fn baseline(&self) -> f32 {
        baseline_in(self.height(), self.size)
    }

    fn text(&self) -> String {
        self.runs.iter().map(|(_, r)| r.text.as_str()).collect()
    }
}

/// Baseline offset from the top of a line box of height `h` set at `size`: the glyph box
/// (ascender to descender) is centred in the line, as CSS does with half-leading.
fn baseline_in(h: f32, size: f32) -> f32 {
    (h - (ASCENT + DESCENT) * size) / 2.0 + ASCENT * size
}

struct LineBreaker<'a> {
    fonts: &'a Fonts,
    max_w: f32,
    base_size: f32,
    lines: Vec<Line>,
    cur: Line,
}

impl LineBreaker<'_> {
    fn flush(&mut self, force: bool) {
        if force || !self.cur.runs.is_empty() {
            let done = std::mem::replace(&mut self.cur, Line::new(self.base_size));
            self.lines.push(done);
        }
    }

    /// Width of the space that separates the next word from the line's last run.
    fn gap(&self, pending_space: bool) -> f32 {
        match self.cur.runs.last() {
            Some((_, r)) if pending_space => self.fonts.char_width(r.face, r.size, ' '),
            _ => 0.0,
        }
    }

    fn place(&mut self, word: &Word, gap: f32) {
        if gap > 0.0
            && let Some((_, last)) = self.cur.runs.last_mut()
        {
            // The space goes into the text (not just a position jump) so copy/paste and
            // pdftotext see real word boundaries.
            last.text.push(' ');
            last.width += gap;
            self.cur.width += gap;
        }
        for run in &word.runs {
            let x = self.cur.width;
            self.cur.size = self.cur.size.max(run.size);
            match self.cur.runs.last_mut() {
                Some((lx, last))
                    if last.same_style(run.face, run.size, run.color, &run.link)
                        && (*lx + last.width - x).abs() < EPS =>
                {
                    last.text.push_str(&run.text);
                    last.width += run.width;
                }
                _ => self.cur.runs.push((x, run.clone())),
            }
            self.cur.width += run.width;
        }
    }
}

/// Greedy line breaking: as many words per line as fit `max_w`; words wider than a whole
/// line are hard-broken so the measure is never exceeded.
fn break_lines(fonts: &Fonts, words: &[Word], max_w: f32, base_size: f32) -> Vec<Line> {
    let max_w = if max_w.is_finite() { max_w.max(1.0) } else { TEXT_W };
    let mut b = LineBreaker { fonts, max_w, base_size, lines: Vec::new(), cur: Line::new(base_size) };
    let mut pending_space = false;
    for w in words {
        if !w.runs.is_empty() {
            let gap = b.gap(pending_space);
            if b.cur.runs.is_empty() || b.cur.width + gap + w.width <= max_w + EPS {
                if w.width <= max_w + EPS {
                    b.place(w, gap);
                } else {
                    place_broken(&mut b, w, gap);
                }
            } else if w.width <= max_w + EPS {
                b.flush(false);
                b.place(w, 0.0);
            } else {
                place_broken(&mut b, w, gap);
            }
            pending_space = w.space;
        }
        if w.hard_break {
            b.flush(true);
            pending_space = false;
        }
    }
    b.flush(false);
    b.lines
}

/// Places a word that is wider than a line: its first chunk fills the rest of the current
/// line if a useful amount of room is left, the other chunks get full lines.
fn place_broken(b: &mut LineBreaker<'_>, w: &Word, gap: f32) {
    let room = b.max_w - b.cur.width - gap;
    let (first_limit, gap) = if !b.cur.runs.is_empty() && room >= b.max_w * 0.3 {
        (room, gap)
    } else {
        b.flush(false);
        (b.max_w, 0.0)
    };
    let chunks = split_word(b.fonts, w, first_limit, b.max_w);
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            b.flush(false);
        }
        b.place(chunk, if i == 0 { gap } else { 0.0 });
    }
}

/// Characters after which a long token breaks most naturally.
fn is_break_after(c: char) -> bool {
    matches!(c, '/' | '\\' | '-' | '_' | '.' | ':' | ',' | ';' | '=' | '&' | '?' | '|' | '+')
}

/// Splits a word into chunks no wider than `first_limit` (first chunk) and `max_w` (others).
/// A chunk ends after a separator if one is in its second half; otherwise at the last char
/// that fits. Every chunk takes at least one char, so this always terminates.
fn split_word(fonts: &Fonts, w: &Word, first_limit: f32, max_w: f32) -> Vec<Word> {
    let chars: Vec<(usize, char, f32)> = w
        .runs
        .iter()
        .enumerate()
        .flat_map(|(ri, r)| r.text.chars().map(move |c| (ri, c, fonts.char_width(r.face, r.size, c))))
        .collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut limit = first_limit;
    while start < n {
        let mut end = start;
        let mut width = 0.0;
        while end < n && (end == start || width + chars[end].2 <= limit + EPS) {
            width += chars[end].2;
            end += 1;
        }
        if end < n {
            // Back off to the last separator, but only while the chunk stays half full.
            let mut k = end;
            let mut wk = width;
            while k > start + 1 && wk >= limit * 0.5 {
                if is_break_after(chars[k - 1].1) {
                    end = k;
                    break;
                }
                k -= 1;
                wk -= chars[k].2;
            }
        }
        let mut word = Word::default();
        for &(ri, c, cw) in &chars[start..end] {
            let r = &w.runs[ri];
            word.push_char(r.face, r.size, r.color, &r.link, c, cw);
        }
        out.push(word);
        start = end;
        limit = max_w;
    }
    if let Some(last) = out.last_mut() {
        last.space = w.space;
        last.hard_break = w.hard_break;
    }
    out
}

/// Lays a plain string out in one face (labels, titles, TOC entries).
fn plain_lines(fonts: &Fonts, text: &str, face: Face, size: f32, color: Rgb3, max_w: f32) -> Vec<Line> {
    let st = TextStyle { size, color, bold: false, link_color: color, code_color: color };
    let style = Style { bold: face == Face::Bold, italic: face == Face::Italic, code: face == Face::Mono };
    let inline = Inline { text: text.to_string(), style, link: None };
    break_lines(fonts, &words_from_inlines(fonts, &[inline], &st), max_w, size)
}

/// Wraps a plain label to at most `max_lines` lines, ellipsizing the last one if cut.
fn wrap_plain(fonts: &Fonts, face: Face, size: f32, text: &str, max_w: f32, max_lines: usize) -> Vec<(String, f32)> {
    let lines = plain_lines(fonts, text, face, size, Rgb3::WHITE, max_w);
    let cut = lines.len() > max_lines;
    let mut out: Vec<(String, f32)> = lines.iter().take(max_lines).map(|l| (l.text(), l.width)).collect();
    if cut && let Some(last) = out.last_mut() {
        let t = fonts.ellipsize(face, size, &format!("{}…", last.0), max_w);
        *last = (t.clone(), fonts.text_width(face, size, &t));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Stage 3: blocks -> fragments
// ---------------------------------------------------------------------------------------------

/// Where a link points.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// Heading number in document order (TOC entries); resolved after pagination.
    Heading(usize),
    /// `#id` from the document; resolved after pagination.
    Anchor(String),
    Uri(String),
    /// Resolved internal destination: 1-based page number and y from the page top.
    Page(usize, f32),
}

impl Target {
    fn parse(link: &str) -> Option<Target> {
        let link = link.trim();
        match link.strip_prefix('#') {
            Some(id) => Some(Target::Anchor(id.to_string())),
            None if link.is_empty() => None,
            None => Some(Target::Uri(link.to_string())),
        }
    }
}

/// A run of text at a position (`y` is the baseline, measured from the page or fragment top).
#[derive(Debug, Clone, PartialEq)]
struct Label {
    x: f32,
    y: f32,
    face: Face,
    size: f32,
    color: Rgb3,
    text: String,
    /// Extra space after every glyph (PDF `Tc`); used for evenly pitched TOC leaders.
    spacing: f32,
    /// Reads bottom-to-top (chart y-axis title).
    rotated: bool,
}

/// Something drawn on a page. Coordinates are in points, y downwards from the top.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Text(Label),
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb3,
    },
    Stroke {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb3,
        width: f32,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        color: Rgb3,
        width: f32,
    },
    Link {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        target: Target,
    },
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    /// A TOC page number with its dot leader, filled in once heading pages are known.
    PageRef {
        heading: usize,
        x_right: f32,
        y: f32,
        face: Face,
        size: f32,
        color: Rgb3,
        leader_from: f32,
    },
}

impl Item {
    fn text(x: f32, y: f32, face: Face, size: f32, color: Rgb3, text: impl Into<String>) -> Item {
        Item::Text(Label { x, y, face, size, color, text: text.into(), spacing: 0.0, rotated: false })
    }

    fn shift(&mut self, dy: f32) {
        match self {
            Item::Text(l) => l.y += dy,
            Item::Fill { y, .. } | Item::Stroke { y, .. } | Item::Link { y, .. } | Item::Image { y, .. } => *y += dy,
            Item::PageRef { y, .. } => *y += dy,
            Item::Line { y1, y2, .. } => {
                *y1 += dy;
                *y2 += dy;
            }
        }
    }
}

/// A quote's left bar, drawn alongside every fragment inside the quote.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    x: f32,
    color: Rgb3,
    /// Also cover the gap above (the previous fragment is in the same quote).
    join_prev: bool,
}

/// An unbreakable vertical box: the unit of pagination. Item y's are relative to its top.
#[derive(Debug, Clone, Default)]
struct Frag {
    height: f32,
    space_before: f32,
    space_after: f32,
    /// Must end up on the same page as the next fragment (headings, orphan/widow lines,
    /// a table header and its first row).
    keep_with_next: bool,
    /// Start on a fresh page.
    break_before: bool,
    /// What follows starts on a fresh page.
    break_after: bool,
    items: Vec<Item>,
    /// Number of the heading anchored at this fragment's top.
    heading: Option<usize>,
    /// The table header to repeat above this row when it starts a page.
    repeat_header: Option<Rc<Frag>>,
    /// Baseline of the first text line (where a list marker goes).
    first_baseline: Option<f32>,
    bars: Vec<Bar>,
    /// A rule (x1, x2, colour) drawn under this fragment if a page break follows it: closes a
    /// table row that continues on the next page.
    seal: Option<(f32, f32, Rgb3)>,
    /// Placed between the repeated header and this fragment when it starts a page: the cell
    /// padding a continuing row band otherwise lacks.
    lead_in: Option<Rc<Frag>>,
}

impl Frag {
    /// Nothing to draw: only carries break flags (`Block::PageBreak`).
    fn is_marker(&self) -> bool {
        self.height == 0.0 && self.items.is_empty() && self.heading.is_none()
    }
}

/// Emits the items of one line whose box starts at (`x`, `y_top`).
fn line_items(line: &Line, x: f32, y_top: f32, items: &mut Vec<Item>) {
    let baseline = y_top + line.baseline();
    for (rx, r) in &line.runs {
        items.push(Item::text(x + rx, baseline, r.face, r.size, r.color, r.text.clone()));
        if let Some(target) = r.link.as_deref().and_then(Target::parse) {
            items.push(Item::Link { x: x + rx, y: y_top, w: r.width, h: line.height(), target });
        }
    }
}

/// One fragment per line. The first two and the last two lines are chained so a page break
/// never strands a single line (orphan) or carries a single line over (widow).
fn line_frags(lines: &[Line], x: f32, before: f32, after: f32) -> Vec<Frag> {
    let n = lines.len();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut f = Frag { height: l.height(), first_baseline: Some(l.baseline()), ..Frag::default() };
            line_items(l, x, 0.0, &mut f.items);
            f.keep_with_next = n >= 2 && (i == 0 || i + 2 == n);
            if i == 0 {
                f.space_before = before;
            }
            if i + 1 == n {
                f.space_after = after;
            }
            f
        })
        .collect()
}

#[derive(Debug, Clone)]
struct HeadingInfo {
    level: u8,
    id: String,
    title: String,
}

/// Headings in the order the layouter meets them (it numbers them the same way).
fn collect_headings(blocks: &[Block], out: &mut Vec<HeadingInfo>) {
    for b in blocks {
        match b {
            Block::Heading { level, id, text } => out.push(HeadingInfo {
                level: (*level).clamp(1, 6),
                id: id.clone(),
                title: plain_text(text).split_whitespace().collect::<Vec<_>>().join(" "),
            }),
            Block::List { items, .. } => items.iter().for_each(|it| collect_headings(it, out)),
            Block::Quote(inner) => collect_headings(inner, out),
            _ => {}
        }
    }
}

/// The horizontal band blocks are laid out in, and the context that changes their style.
#[derive(Debug, Clone, Copy)]
struct Area {
    x: f32,
    w: f32,
    /// Inside a list item: tighter paragraph spacing.
    tight: bool,
    list_depth: usize,
    quote: bool,
}

struct Layouter<'a> {
    fonts: &'a Fonts,
    theme: Theme,
    headings: &'a [HeadingInfo],
    next_heading: usize,
}

impl Layouter<'_> {
    fn body_style(&self, area: Area) -> TextStyle {
        TextStyle {
            size: BODY_SIZE,
            color: if area.quote { self.theme.muted } else { self.theme.text },
            bold: false,
            link_color: self.theme.accent_text,
            code_color: self.theme.code_text,
        }
    }

    fn para_space(area: Area) -> f32 {
        if area.tight { TIGHT_SPACE } else { PARA_SPACE }
    }

    fn blocks(&mut self, blocks: &[Block], area: Area, out: &mut Vec<Frag>) {
        for b in blocks {
            self.block(b, area, out);
        }
    }

    fn block(&mut self, b: &Block, area: Area, out: &mut Vec<Frag>) {
        match b {
            Block::Heading { level, text, .. } => self.heading(*level, text, area, out),
            Block::Paragraph(inlines) => {
                let lines = break_lines(
                    self.fonts,
                    &words_from_inlines(self.fonts, inlines, &self.body_style(area)),
                    area.w,
                    BODY_SIZE,
                );
                let s = Self::para_space(area);
                out.extend(line_frags(&lines, area.x, s, s));
            }
            Block::List { ordered, items } => self.list(*ordered, items, area, out),
            Block::Table(t) => self.table(t, area, out),
            Block::Code(src) => self.code(src, area, out),
            Block::Quote(inner) => self.quote(inner, area, out),
            Block::Rule => out.push(Frag {
                height: 1.0,
                space_before: 8.0,
                space_after: 8.0,
                items: vec![Item::Line {
                    x1: area.x,
                    y1: 0.5,
                    x2: area.x + area.w,
                    y2: 0.5,
                    color: self.theme.rule,
                    width: 0.6,
                }],
                ..Frag::default()
            }),
            Block::PageBreak => out.push(Frag { break_after: true, ..Frag::default() }),
            Block::Toc => self.toc(area, out),
            Block::Chart(c) => self.chart(c, area, out),
        }
    }

    fn heading(&mut self, level: u8, text: &[Inline], area: Area, out: &mut Vec<Frag>) {
        let number = self.next_heading;
        self.next_heading += 1;
        let th = self.theme;
        let (size, color, before, after) = match level.clamp(1, 6) {
            1 => (16.0, th.accent_text, 20.0, 9.0),
            2 => (12.5, th.accent_text, 15.0, 6.0),
            3 => (10.5, th.text, 11.0, 4.0),
            _ => (BODY_SIZE, th.text, 9.0, 3.0),
        };
        let st = TextStyle { size, color, bold: true, link_color: color, code_color: color };
        let mut lines = break_lines(self.fonts, &words_from_inlines(self.fonts, text, &st), area.w, size);
        if lines.is_empty() {
            // Keep an (empty) line so links and the outline still have somewhere to point.
            lines.push(Line::new(size));
        }
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            // Every heading line keeps with what follows: a heading never ends a page.
            let mut f = Frag {
                height: l.height(),
                keep_with_next: true,
                first_baseline: Some(l.baseline()),
                ..Frag::default()
            };
            line_items(l, area.x, 0.0, &mut f.items);
            if i == 0 {
                f.space_before = before;
                f.heading = Some(number);
            }
            if i + 1 == n {
                f.space_after = after;
                if level <= 1 {
                    let y = f.height + 2.0;
                    f.items.push(Item::Line {
                        x1: area.x,
                        y1: y,
                        x2: area.x + area.w,
                        y2: y,
                        color: th.rule,
                        width: 0.8,
                    });
                    f.height += 4.0;
                }
            }
            out.push(f);
        }
    }

    fn list(&mut self, ordered: bool, items: &[Vec<Block>], area: Area, out: &mut Vec<Frag>) {
        if items.is_empty() {
            return;
        }
        let fonts = self.fonts;
        let bullets = ["•", "◦", "▪"];
        let markers: Vec<String> = (0..items.len())
            .map(|i| if ordered { format!("{}.", i + 1) } else { bullets[area.list_depth % 3].to_string() })
            .collect();
        let marker_color = if ordered { self.theme.text } else { self.theme.accent_text };
        let widest = markers.iter().map(|m| fonts.text_width(Face::Regular, BODY_SIZE, m)).fold(0.0, f32::max);
        let indent = (widest + 6.0).max(14.0).min(area.w * 0.4);
        let inner = Area {
            x: area.x + indent,
            w: (area.w - indent).max(1.0),
            tight: true,
            list_depth: area.list_depth + 1,
            quote: area.quote,
        };
        let first_of_list = out.len();
        for (i, item) in items.iter().enumerate() {
            let start = out.len();
            self.blocks(item, inner, out);
            let k = match (start..out.len()).find(|&k| !out[k].is_marker()) {
                Some(k) => k,
                None => {
                    // An empty item still shows its marker.
                    let h = BODY_SIZE * LEADING;
                    out.push(Frag { height: h, first_baseline: Some(baseline_in(h, BODY_SIZE)), ..Frag::default() });
                    out.len() - 1
                }
            };
            let f = &mut out[k];
            let baseline = f.first_baseline.unwrap_or_else(|| baseline_in(BODY_SIZE * LEADING, BODY_SIZE));
            let mw = fonts.text_width(Face::Regular, BODY_SIZE, &markers[i]);
            f.items.push(Item::text(
                area.x + indent - 5.0 - mw,
                baseline,
                Face::Regular,
                BODY_SIZE,
                marker_color,
                markers[i].clone(),
            ));
            f.space_before = if i == 0 { Self::para_space(area) } else { TIGHT_SPACE };
        }
        if let Some(last) = out[first_of_list..].iter_mut().rev().find(|f| !f.is_marker()) {
            last.space_after = last.space_after.max(Self::para_space(area));
        }
    }

    fn quote(&mut self, inner_blocks: &[Block], area: Area, out: &mut Vec<Frag>) {
        let indent = 14.0;
        let inner = Area { x: area.x + indent, w: (area.w - indent).max(1.0), quote: true, ..area };
        let mut frags = Vec::new();
        self.blocks(inner_blocks, inner, &mut frags);
        let mut first = true;
        for f in frags.iter_mut().filter(|f| !f.is_marker()) {
            f.bars.push(Bar { x: area.x + 2.0, color: self.theme.quote_bar, join_prev: !first });
            if first {
                f.space_before = f.space_before.max(Self::para_space(area));
            }
            first = false;
        }
        if let Some(last) = frags.iter_mut().rev().find(|f| !f.is_marker()) {
            last.space_after = last.space_after.max(Self::para_space(area));
        }
        out.extend(frags);
    }

    /// Code blocks keep their lines; long lines wrap (after a space if one is in the second
    /// half of the line, else at the last char that fits).
    fn code(&mut self, src: &str, area: Area, out: &mut Vec<Frag>) {
        let fonts = self.fonts;
        let size = CODE_BLOCK_SIZE;
        let (pad_x, pad_y, lh) = (6.0, 4.0, size * 1.35);
        let inner_w = (area.w - 2.0 * pad_x).max(1.0);
        let src = src.strip_suffix('\n').unwrap_or(src);
        let mut visual: Vec<Vec<(Face, char, f32)>> = Vec::new();
        for raw in src.split('\n') {
            let mut chars: Vec<(Face, char, f32)> = Vec::new();
            let mut col = 0;
            for c in raw.chars() {
                if c == '\t' {
                    let n = 4 - col % 4;
                    for _ in 0..n {
                        chars.push((Face::Mono, ' ', fonts.char_width(Face::Mono, size, ' ')));
                    }
                    col += n;
                } else if !is_invisible(c) {
                    let (f, c) = fonts.resolve(Face::Mono, c);
                    chars.push((f, c, fonts.char_width(f, size, c)));
                    col += 1;
                }
            }
            let mut start = 0;
            loop {
                let mut end = start;
                let mut w = 0.0;
                while end < chars.len() && (end == start || w + chars[end].2 <= inner_w + EPS) {
                    w += chars[end].2;
                    end += 1;
                }
                if end < chars.len() {
                    let mut k = end;
                    let mut wk = w;
                    while k > start + 1 && wk >= inner_w * 0.5 {
                        if chars[k - 1].1 == ' ' {
                            end = k;
                            break;
                        }
                        k -= 1;
                        wk -= chars[k].2;
                    }
                }
                visual.push(chars[start..end].to_vec());
                start = end;
                if start >= chars.len() {
                    break;
                }
            }
        }
        let n = visual.len();
        let s = Self::para_space(area);
        for (i, vl) in visual.iter().enumerate() {
            let top = if i == 0 { pad_y } else { 0.0 };
            let bottom = if i + 1 == n { pad_y } else { 0.0 };
            let height = lh + top + bottom;
            let baseline = top + baseline_in(lh, size);
            let mut f = Frag {
                height,
                keep_with_next: n >= 2 && (i == 0 || i + 2 == n),
                first_baseline: Some(baseline),
                space_before: if i == 0 { s } else { 0.0 },
                space_after: if i + 1 == n { s } else { 0.0 },
                ..Frag::default()
            };
            f.items.push(Item::Fill { x: area.x, y: 0.0, w: area.w, h: height, color: self.theme.code_bg });
            let mut x = area.x + pad_x;
            let mut run: Option<(Face, f32, String)> = None;
            for &(face, c, w) in vl {
                match &mut run {
                    Some((rf, _, t)) if *rf == face => t.push(c),
                    _ => {
                        if let Some((rf, rx, t)) = run.take() {
                            f.items.push(Item::text(rx, baseline, rf, size, self.theme.code_text, t));
                        }
                        run = Some((face, x, c.to_string()));
                    }
                }
                x += w;
            }
            if let Some((rf, rx, t)) = run {
                f.items.push(Item::text(rx, baseline, rf, size, self.theme.code_text, t));
            }
            out.push(f);
        }
    }

    fn toc(&mut self, area: Area, out: &mut Vec<Frag>) {
        let fonts = self.fonts;
        let th = self.theme;
        let entries: Vec<(usize, &HeadingInfo)> =
            self.headings.iter().enumerate().filter(|(_, h)| h.level <= 2 && !h.title.is_empty()).collect();
        if entries.is_empty() {
            return;
        }
        let title = plain_lines(fonts, "Contents", Face::Bold, 16.0, th.accent_text, area.w);
        let start = out.len();
        for l in &title {
            let mut f = Frag {
                height: l.height(),
                keep_with_next: true,
                space_before: 20.0,
                space_after: 12.0,
                ..Frag::default()
            };
            line_items(l, area.x, 0.0, &mut f.items);
            let y = f.height + 2.0;
            f.items.push(Item::Line { x1: area.x, y1: y, x2: area.x + area.w, y2: y, color: th.rule, width: 0.8 });
            f.height += 4.0;
            out.push(f);
        }
        if let Some(f) = out.get_mut(start) {
            f.break_before = true;
        }
        for (number, h) in entries {
            let (face, size, indent, before) =
                if h.level == 1 { (Face::Bold, 10.0, 0.0, 7.0) } else { (Face::Regular, BODY_SIZE, 16.0, 2.0) };
            // Room on the right for the page number and at least a short leader.
            let num_w = fonts.text_width(face, size, "0000");
            let text_w = (area.w - indent - num_w - 18.0).max(area.w * 0.3);
            let lines = plain_lines(fonts, &h.title, face, size, th.text, text_w);
            let n = lines.len();
            for (i, l) in lines.iter().enumerate() {
                let mut f = Frag { height: l.height(), keep_with_next: i + 1 < n, ..Frag::default() };
                line_items(l, area.x + indent, 0.0, &mut f.items);
                f.items.push(Item::Link {
                    x: area.x + indent,
                    y: 0.0,
                    w: area.w - indent,
                    h: l.height(),
                    target: Target::Heading(number),
                });
                if i == 0 {
                    f.space_before = before;
                }
                if i + 1 == n {
                    f.items.push(Item::PageRef {
                        heading: number,
                        x_right: area.x + area.w,
                        y: l.baseline(),
                        face,
                        size,
                        color: th.text,
                        leader_from: area.x + indent + l.width + 4.0,
                    });
                }
                out.push(f);
            }
        }
        if let Some(last) = out.last_mut() {
            // The contents get pages of their own; the body starts on a fresh page.
            last.break_after = true;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

/// (min, preferred) content width of a cell: its longest word (capped, since words wider than
/// the column hard-break anyway) and its text set on one line per hard line break.
fn cell_widths(fonts: &Fonts, words: &[Word]) -> (f32, f32) {
    let mut min = 0.0f32;
    let mut pref = 0.0f32;
    let mut cur = 0.0f32;
    for w in words {
        min = min.max(w.width.min(TABLE_MIN_CAP));
        cur += w.width;
        if w.space
            && let Some(r) = w.runs.last()
        {
            cur += fonts.char_width(r.face, r.size, ' ');
        }
        if w.hard_break {
            pref = pref.max(cur);
            cur = 0.0;
        }
    }
    (min, pref.max(cur))
}

/// Column widths, HTML auto-table style: every column gets its minimum, the rest of the
/// width goes to columns in proportion to how much they want beyond it; tables whose text
/// fits on one line stretch to the full width. The result always sums to `avail`.
fn column_widths(min: &[f32], pref: &[f32], avail: f32) -> Vec<f32> {
    let n = min.len();
    if n == 0 {
        return Vec::new();
    }
    let pad = 2.0 * CELL_PAD_X;
    let floor = (pad + 12.0).min(avail / n as f32);
    let mut mins: Vec<f32> = min.iter().map(|m| (m + pad).max(floor)).collect();
    let prefs: Vec<f32> = pref.iter().zip(&mins).map(|(p, m)| (p + pad).max(*m)).collect();
    // Short columns (dates, sizes, ids) are not worth wrapping ("1.2 / KiB"): they get their
    // whole text width first, as long as every other column still gets its minimum.
    let short = (avail / n as f32).min(80.0);
    let raised: Vec<f32> = mins.iter().zip(&prefs).map(|(m, p)| if *p <= short { *p } else { *m }).collect();
    if raised.iter().sum::<f32>() <= avail {
        mins = raised;
    }
    let sum_min: f32 = mins.iter().sum();
    let sum_pref: f32 = prefs.iter().sum();
    if sum_pref <= avail {
        prefs.iter().map(|p| p + (avail - sum_pref) * p / sum_pref).collect()
    } else if sum_min <= avail {
        let want = sum_pref - sum_min;
        mins.iter().zip(&prefs).map(|(m, p)| m + (avail - sum_min) * (p - m) / want).collect()
    } else {
        mins.iter().map(|m| m * avail / sum_min).collect()
    }
}

/// One table row, or one band of lines of a tall row, laid out in its cells.
struct RowSpec<'a> {
    cells: Vec<&'a [Line]>,
    fill: Option<Rgb3>,
    /// The row continues above / below this band: no padding or rule on that side.
    open_top: bool,
    open_bottom: bool,
}

impl Layouter<'_> {
    fn table(&mut self, t: &Table, area: Area, out: &mut Vec<Frag>) {
        let ncols = t.header.len().max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
        if ncols == 0 {
            return;
        }
        let fonts = self.fonts;
        let th = self.theme;
        // A column is never narrower than the longest word of its header ("Services", not
        // "Se rvices") nor than a short value ("Tenant"): when those words do not fit side by
        // side, the whole table is set smaller (fonts scale linearly), down to MIN_TABLE_SIZE.
        let measure = |size: f32| {
            let head_st =
                TextStyle { size, color: th.on_accent, bold: true, link_color: th.on_accent, code_color: th.on_accent };
            let body_st =
                TextStyle { size, color: th.text, bold: false, link_color: th.accent_text, code_color: th.code_text };
            let cell_words = |row: &[Vec<Inline>], st: &TextStyle| -> Vec<Vec<Word>> {
                (0..ncols)
                    .map(|c| words_from_inlines(fonts, row.get(c).map(Vec::as_slice).unwrap_or(&[]), st))
                    .collect()
            };
            let header = (!t.header.is_empty()).then(|| cell_words(&t.header, &head_st));
            let rows: Vec<Vec<Vec<Word>>> = t.rows.iter().map(|r| cell_words(r, &body_st)).collect();
            let mut min = vec![0.0f32; ncols];
            let mut pref = vec![0.0f32; ncols];
            for row in header.iter().chain(rows.iter()) {
                for (c, words) in row.iter().enumerate() {
                    let (mn, pf) = cell_widths(fonts, words);
                    min[c] = min[c].max(mn);
                    pref[c] = pref[c].max(pf);
                }
            }
            // Header words are never capped: a header is read word by word.
            for (c, words) in header.iter().flatten().enumerate() {
                min[c] = min[c].max(words.iter().map(|w| w.width).fold(0.0, f32::max));
            }
            (header, rows, min, pref)
        };
        let pad_all = ncols as f32 * 2.0 * CELL_PAD_X;
        let (mut header, mut rows, mut min, mut pref) = measure(TABLE_SIZE);
        let need: f32 = min.iter().sum();
        let size = if need + pad_all > area.w && need > 0.0 {
            let s = (TABLE_SIZE * 0.99 * (area.w - pad_all) / need).clamp(MIN_TABLE_SIZE, TABLE_SIZE);
            (header, rows, min, pref) = measure(s);
            s
        } else {
            TABLE_SIZE
        };
        let widths = column_widths(&min, &pref, area.w);
        let align: Vec<Align> = (0..ncols).map(|c| t.align.get(c).copied().unwrap_or(Align::Left)).collect();
        let wrap = |row: &Vec<Vec<Word>>| -> Vec<Vec<Line>> {
            row.iter()
                .enumerate()
                .map(|(c, words)| break_lines(fonts, words, widths[c] - 2.0 * CELL_PAD_X, size))
                .collect()
        };

        let space = Self::para_space(area);
        let header_frag = header.as_ref().map(|h| {
            let lines = wrap(h);
            let spec = RowSpec {
                cells: lines.iter().map(Vec::as_slice).collect(),
                fill: Some(th.accent),
                open_top: false,
                open_bottom: false,
            };
            let mut f = self.row_frag(&spec, &widths, &align, area.x);
            f.space_before = space;
            f.keep_with_next = !rows.is_empty();
            // A header taller than half a page would leave no room for rows; it is then
            // treated like any other row and not repeated.
            Rc::new(f)
        });
        let repeat = header_frag.clone().filter(|h| h.height <= BODY_H / 2.0);
        let header_h = repeat.as_ref().map_or(0.0, |h| h.height);
        if let Some(h) = &header_frag {
            out.push((**h).clone());
        }

        let first_row = out.len();
        let total_w: f32 = widths.iter().sum();
        for (i, row) in rows.iter().enumerate() {
            let lines = wrap(row);
            let fill = (i % 2 == 1).then_some(th.zebra);
            let content_h = lines.iter().map(|ls| ls.iter().map(Line::height).sum::<f32>()).fold(0.0, f32::max);
            if content_h + 2.0 * CELL_PAD_Y + header_h <= BODY_H / 3.0 {
                // Ordinary rows never split: a row that does not fit moves to the next page.
                let spec = RowSpec {
                    cells: lines.iter().map(Vec::as_slice).collect(),
                    fill,
                    open_top: false,
                    open_bottom: false,
                };
                let mut f = self.row_frag(&spec, &widths, &align, area.x);
                f.repeat_header = repeat.clone();
                out.push(f);
                continue;
            }
            // A tall row flows one band of lines at a time, so it fills pages instead of
            // leaving large gaps and can never be taller than a page. Bands draw as one cell;
            // a rule closes the row wherever a page break falls.
            let bands = slice_row(&lines, 0.0);
            let n = bands.len();
            let empty: Vec<&[Line]> = vec![&[]; ncols];
            let pad = self.row_frag(
                &RowSpec { cells: empty, fill, open_top: true, open_bottom: true },
                &widths,
                &align,
                area.x,
            );
            let lead_in = Rc::new(Frag { height: CELL_PAD_Y, items: pad.items, ..Frag::default() });
            for (k, cells) in bands.into_iter().enumerate() {
                let spec = RowSpec { cells, fill, open_top: k > 0, open_bottom: k + 1 < n };
                let mut f = self.row_frag(&spec, &widths, &align, area.x);
                f.repeat_header = repeat.clone();
                f.keep_with_next = n >= 2 && (k == 0 || k + 2 == n);
                if spec.open_bottom {
                    f.seal = Some((area.x, area.x + total_w, th.border));
                }
                if spec.open_top {
                    f.lead_in = Some(lead_in.clone());
                }
                out.push(f);
            }
        }
        if header_frag.is_none()
            && let Some(f) = out.get_mut(first_row)
        {
            f.space_before = space;
        }
        if let Some(last) = out.last_mut() {
            last.space_after = space + 2.0;
        }
    }

    fn row_frag(&self, spec: &RowSpec<'_>, widths: &[f32], align: &[Align], x0: f32) -> Frag {
        let th = self.theme;
        let content_h = spec.cells.iter().map(|ls| ls.iter().map(Line::height).sum::<f32>()).fold(0.0, f32::max);
        // A closed row is at least one line tall even when all its cells are empty.
        let content_h = if spec.open_top && spec.open_bottom { content_h } else { content_h.max(TABLE_SIZE * LEADING) };
        let pad_top = if spec.open_top { 0.0 } else { CELL_PAD_Y };
        let pad_bottom = if spec.open_bottom { 0.0 } else { CELL_PAD_Y };
        let height = content_h + pad_top + pad_bottom;
        let total_w: f32 = widths.iter().sum();
        let mut f = Frag { height, ..Frag::default() };
        if let Some(color) = spec.fill {
            f.items.push(Item::Fill { x: x0, y: 0.0, w: total_w, h: height, color });
        }
        let mut x = x0;
        for (c, lines) in spec.cells.iter().enumerate() {
            let inner = widths[c] - 2.0 * CELL_PAD_X;
            let mut y = pad_top;
            for l in lines.iter() {
                let dx = match align[c] {
                    Align::Left => 0.0,
                    Align::Center => ((inner - l.width) / 2.0).max(0.0),
                    Align::Right => (inner - l.width).max(0.0),
                };
                line_items(l, x + CELL_PAD_X + dx, y, &mut f.items);
                if f.first_baseline.is_none() {
                    f.first_baseline = Some(y + l.baseline());
                }
                y += l.height();
            }
            x += widths[c];
        }
        // Rules last so fills never cover them.
        let rule = |x1: f32, y1: f32, x2: f32, y2: f32| Item::Line { x1, y1, x2, y2, color: th.border, width: 0.4 };
        let mut x = x0;
        f.items.push(rule(x, 0.0, x, height));
        for w in widths {
            x += w;
            f.items.push(rule(x, 0.0, x, height));
        }
        if !spec.open_top {
            f.items.push(rule(x0, 0.0, x0 + total_w, 0.0));
        }
        if !spec.open_bottom {
            f.items.push(rule(x0, height, x0 + total_w, height));
        }
        f
    }
}

/// Splits a row's cell lines into slices whose content height fits `max_h`.
fn slice_row(cells: &[Vec<Line>], max_h: f32) -> Vec<Vec<&[Line]>> {
    let mut next = vec![0usize; cells.len()];
    let mut slices = Vec::new();
    loop {
        let mut slice = Vec::with_capacity(cells.len());
        for (c, lines) in cells.iter().enumerate() {
            let start = next[c];
            let mut h = 0.0;
            let mut end = start;
            while end < lines.len() && (end == start || h + lines[end].height() <= max_h + EPS) {
                h += lines[end].height();
                end += 1;
            }
            next[c] = end;
            slice.push(&lines[start..end]);
        }
        slices.push(slice);
        if next.iter().zip(cells).all(|(n, ls)| *n >= ls.len()) {
            return slices;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------

impl Layouter<'_> {
    /// A heat map: one fragment, so it always stays on one page (rows shrink if needed).
    fn chart(&mut self, c: &Chart, area: Area, out: &mut Vec<Frag>) {
        let fonts = self.fonts;
        let th = self.theme;
        let nrows = c.cells.len().max(c.row_labels.len());
        let ncols = c.col_labels.len().max(c.cells.iter().map(Vec::len).max().unwrap_or(0));
        let mut f = Frag { space_before: 10.0, space_after: 10.0, ..Frag::default() };
        let mut y = 0.0;

        let (ts, tlh) = (10.5, 10.5 * 1.3);
        for (t, w) in wrap_plain(fonts, Face::Bold, ts, &c.title, area.w, 3) {
            f.items.push(Item::text(area.x + (area.w - w) / 2.0, y + baseline_in(tlh, ts), Face::Bold, ts, th.text, t));
            f.first_baseline.get_or_insert(y + baseline_in(tlh, ts));
            y += tlh;
        }
        if y > 0.0 {
            y += 6.0;
        }
        if nrows == 0 || ncols == 0 {
            if !f.items.is_empty() {
                f.height = y;
                out.push(f);
            }
            return;
        }

        let (ls, llh) = (SMALL_SIZE, SMALL_SIZE * 1.3);
        let ytitle_w = if c.y_title.trim().is_empty() { 0.0 } else { llh + 8.0 };
        let row_label_w = c
            .row_labels
            .iter()
            .map(|s| fonts.text_width(Face::Regular, ls, &clean_plain(fonts, Face::Regular, s)))
            .fold(0.0, f32::max)
            .min(area.w * 0.28);
        let gap = if row_label_w > 0.0 { 6.0 } else { 0.0 };
        let cell_w = ((area.w - ytitle_w - row_label_w - gap) / ncols as f32).clamp(1.0, 90.0);
        let grid_w = cell_w * ncols as f32;

        let cell = |r: usize, col: usize| c.cells.get(r).and_then(|row| row.get(col));
        let cell_text: Vec<Vec<Vec<(String, f32)>>> = (0..nrows)
            .map(|r| {
                (0..ncols)
                    .map(|col| {
                        cell(r, col)
                            .map_or_else(Vec::new, |cc| wrap_plain(fonts, Face::Bold, ls, &cc.label, cell_w - 4.0, 3))
                    })
                    .collect()
            })
            .collect();
        let row_text: Vec<Vec<(String, f32)>> = (0..nrows)
            .map(|r| {
                c.row_labels.get(r).map_or_else(Vec::new, |s| wrap_plain(fonts, Face::Regular, ls, s, row_label_w, 3))
            })
            .collect();
        let col_text: Vec<Vec<(String, f32)>> = (0..ncols)
            .map(|col| {
                c.col_labels
                    .get(col)
                    .map_or_else(Vec::new, |s| wrap_plain(fonts, Face::Regular, ls, s, cell_w - 2.0, 3))
            })
            .collect();
        let x_text = wrap_plain(fonts, Face::Italic, ls, &c.x_title, grid_w.max(area.w * 0.5), 2);

        let max_lines = |v: &[Vec<(String, f32)>]| v.iter().map(Vec::len).max().unwrap_or(0) as f32;
        let cell_text_h = cell_text.iter().map(|r| max_lines(r)).fold(0.0, f32::max) * llh;
        let row_text_h = max_lines(&row_text) * llh;
        let col_h = max_lines(&col_text) * llh;
        let x_h = x_text.len() as f32 * llh;
        let below = 4.0 + col_h + if x_h > 0.0 { 4.0 + x_h } else { 0.0 };
        let mut cell_h = (cell_w * 0.55).clamp(22.0, 40.0).max(cell_text_h + 6.0).max(row_text_h + 4.0);
        // Keep the chart on one page: rows shrink rather than split.
        if y + nrows as f32 * cell_h + below > BODY_H {
            cell_h = ((BODY_H - y - below) / nrows as f32).max(0.5);
        }
        let grid_h = cell_h * nrows as f32;
        let total_w = ytitle_w + row_label_w + gap + grid_w;
        let x0 = area.x + ((area.w - total_w) / 2.0).max(0.0);
        let gx = x0 + ytitle_w + row_label_w + gap;
        let gy = y;

        for (r, (row_cells, row_label)) in cell_text.iter().zip(&row_text).enumerate() {
            let cy = gy + r as f32 * cell_h;
            for (col, lines) in row_cells.iter().enumerate() {
                let cx = gx + col as f32 * cell_w;
                // Missing cells (ragged rows) are drawn blank; unparsable colours as neutral grey.
                let fill = cell(r, col)
                    .map_or(Rgb3(0.97, 0.97, 0.97), |cc| Rgb3::parse(&cc.fill).unwrap_or(Rgb3(0.85, 0.86, 0.88)));
                f.items.push(Item::Fill { x: cx, y: cy, w: cell_w, h: cell_h, color: fill });
                let h = lines.len() as f32 * llh;
                if h + 2.0 <= cell_h {
                    let ink = if fill.luminance() < 0.5 { Rgb3::WHITE } else { th.text };
                    let mut ty = cy + (cell_h - h) / 2.0;
                    for (t, w) in lines {
                        f.items.push(Item::text(
                            cx + (cell_w - w) / 2.0,
                            ty + baseline_in(llh, ls),
                            Face::Bold,
                            ls,
                            ink,
                            t.clone(),
                        ));
                        ty += llh;
                    }
                }
            }
            let visible = ((cell_h / llh).floor() as usize).min(row_label.len());
            let mut ty = cy + (cell_h - visible as f32 * llh) / 2.0;
            for (t, w) in row_label.iter().take(visible) {
                f.items.push(Item::text(
                    gx - gap - w,
                    ty + baseline_in(llh, ls),
                    Face::Regular,
                    ls,
                    th.text,
                    t.clone(),
                ));
                ty += llh;
            }
        }
        // White gutters between cells, then a thin frame.
        for r in 1..nrows {
            let ly = gy + r as f32 * cell_h;
            f.items.push(Item::Line { x1: gx, y1: ly, x2: gx + grid_w, y2: ly, color: Rgb3::WHITE, width: 1.2 });
        }
        for col in 1..ncols {
            let lx = gx + col as f32 * cell_w;
            f.items.push(Item::Line { x1: lx, y1: gy, x2: lx, y2: gy + grid_h, color: Rgb3::WHITE, width: 1.2 });
        }
        f.items.push(Item::Stroke { x: gx, y: gy, w: grid_w, h: grid_h, color: th.border, width: 0.5 });

        let mut ly = gy + grid_h + 4.0;
        for (col, lines) in col_text.iter().enumerate() {
            let cx = gx + col as f32 * cell_w;
            for (k, (t, w)) in lines.iter().enumerate() {
                f.items.push(Item::text(
                    cx + (cell_w - w) / 2.0,
                    ly + k as f32 * llh + baseline_in(llh, ls),
                    Face::Regular,
                    ls,
                    th.text,
                    t.clone(),
                ));
            }
        }
        ly += col_h;
        if x_h > 0.0 {
            ly += 4.0;
            for (t, w) in &x_text {
                f.items.push(Item::text(
                    gx + (grid_w - w) / 2.0,
                    ly + baseline_in(llh, ls),
                    Face::Italic,
                    ls,
                    th.muted,
                    t.clone(),
                ));
                ly += llh;
            }
        }
        if ytitle_w > 0.0 {
            let t = fonts.ellipsize(Face::Italic, ls, &c.y_title, grid_h.max(20.0));
            let w = fonts.text_width(Face::Italic, ls, &t);
            // Rotated 90° counter-clockwise: the baseline is vertical and glyphs extend to its left.
            f.items.push(Item::Text(Label {
                x: x0 + ASCENT * ls + 1.0,
                y: gy + (grid_h + w) / 2.0,
                face: Face::Italic,
                size: ls,
                color: th.muted,
                text: t,
                spacing: 0.0,
                rotated: true,
            }));
        }
        f.height = ly;
        out.push(f);
    }
}

// ---------------------------------------------------------------------------------------------
// Stage 4: pagination
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Page {
    items: Vec<Item>,
}

struct Paginated {
    pages: Vec<Page>,
    /// Per heading: (index into `pages`, y of its top).
    anchors: Vec<Option<(usize, f32)>>,
}

/// Height of `frags[i]` plus everything chained to it by keep-with-next.
fn chain_height(frags: &[Frag], i: usize) -> f32 {
    let mut h = frags[i].height;
    let mut j = i;
    while frags[j].keep_with_next && j + 1 < frags.len() && h <= BODY_H {
        let next = &frags[j + 1];
        if next.is_marker() || next.break_before {
            break;
        }
        h += frags[j].space_after.max(next.space_before) + next.height;
        j += 1;
    }
    h
}

struct Paginator {
    pages: Vec<Page>,
    anchors: Vec<Option<(usize, f32)>>,
    y: f32,
    prev_after: f32,
    has_content: bool,
    /// Seal of the last fragment placed on the current page.
    seal: Option<(f32, f32, Rgb3)>,
}

impl Paginator {
    fn new_page(&mut self) {
        if let Some((x1, x2, color)) = self.seal.take()
            && let Some(page) = self.pages.last_mut()
        {
            let y = BODY_TOP + self.y;
            page.items.push(Item::Line { x1, y1: y, x2, y2: y, color, width: 0.4 });
        }
        self.pages.push(Page::default());
        self.y = 0.0;
        self.prev_after = 0.0;
        self.has_content = false;
    }

    /// Space above `f`: collapsed margins, none at the top of a page.
    fn gap(&self, f: &Frag) -> f32 {
        if self.has_content { self.prev_after.max(f.space_before) } else { 0.0 }
    }

    /// Places a fragment that is placed again elsewhere (a repeated table header).
    fn place(&mut self, f: &Frag) {
        self.place_items(f, f.items.clone());
    }

    /// Places `f` with its `items`, moved rather than copied onto the page.
    fn place_items(&mut self, f: &Frag, items: Vec<Item>) {
        let gap = self.gap(f);
        let top = BODY_TOP + self.y + gap;
        let page_index = self.pages.len().saturating_sub(1);
        let Some(page) = self.pages.last_mut() else {
            return; // unreachable: the paginator starts with a page and only adds pages
        };
        page.items.extend(items.into_iter().map(|mut it| {
            it.shift(top);
            it
        }));
        for bar in &f.bars {
            let from = if bar.join_prev { top - gap } else { top };
            page.items.push(Item::Fill { x: bar.x, y: from, w: 2.5, h: top + f.height - from, color: bar.color });
        }
        if let Some(slot) = f.heading.and_then(|h| self.anchors.get_mut(h)) {
            *slot = Some((page_index, top));
        }
        self.y += gap + f.height;
        self.prev_after = f.space_after;
        self.has_content = true;
        self.seal = f.seal;
    }
}

/// Consumes the fragments: their items move onto the pages, so a long document's drawing is
/// never held twice.
fn paginate(mut frags: Vec<Frag>, n_headings: usize) -> Paginated {
    let mut p = Paginator {
        pages: vec![Page::default()],
        anchors: vec![None; n_headings],
        y: 0.0,
        prev_after: 0.0,
        has_content: false,
        seal: None,
    };
    let mut pending_break = false;
    for i in 0..frags.len() {
        let f = &frags[i];
        if f.is_marker() {
            pending_break |= f.break_after;
            continue;
        }
        if (pending_break || f.break_before) && p.has_content {
            p.new_page();
        }
        pending_break = f.break_after;
        let gap = p.gap(f);
        if p.has_content && p.y + gap + chain_height(&frags, i) > BODY_H + EPS {
            let header_h =
                f.repeat_header.as_ref().map_or(0.0, |h| h.height) + f.lead_in.as_ref().map_or(0.0, |l| l.height);
            // Move the whole chain to a new page if it fits there; a chain longer than a
            // page only needs its first fragment to fit.
            if header_h + chain_height(&frags, i) <= BODY_H + EPS || p.y + gap + f.height > BODY_H + EPS {
                p.new_page();
            }
        }
        if !p.has_content
            && let Some(h) = &f.repeat_header
        {
            // The table continues on this page: repeat its header row first.
            p.place(h);
            if let Some(l) = &f.lead_in {
                p.place(l);
            }
        }
        // Only later fragments are looked at from here on (chains look ahead, never back).
        let items = std::mem::take(&mut frags[i].items);
        p.place_items(&frags[i], items);
    }
    Paginated { pages: p.pages, anchors: p.anchors }
}

// ---------------------------------------------------------------------------------------------
// Stage 5: whole document, page furniture and late-bound references
// ---------------------------------------------------------------------------------------------

/// A heading in the PDF outline (bookmarks).
#[derive(Debug, Clone, PartialEq)]
struct OutlineEntry {
    level: u8,
    title: String,
    /// 1-based page number.
    page: usize,
    /// Destination y in PDF coordinates (from the page bottom).
    top: f32,
}

/// Everything needed to write the PDF: finished pages (title page first) and the outline.
struct LaidOut {
    pages: Vec<Page>,
    outline: Vec<OutlineEntry>,
}

fn layout_document(doc: &Document, fonts: &Fonts, logo: Option<(usize, usize)>) -> LaidOut {
    let theme = Theme::new(&doc.meta.accent);
    let mut headings = Vec::new();
    collect_headings(&doc.blocks, &mut headings);

    let mut layouter = Layouter { fonts, theme, headings: &headings, next_heading: 0 };
    let mut frags = Vec::new();
    let area = Area { x: MARGIN_X, w: TEXT_W, tight: false, list_depth: 0, quote: false };
    layouter.blocks(&doc.blocks, area, &mut frags);
    let body = paginate(frags, headings.len());

    let mut pages = vec![title_page(doc, fonts, &theme, logo)];
    // Only a document without any body content leaves an empty page (the paginator opens a
    // page only to place something on it), so dropping it cannot shift the anchors.
    pages.extend(body.pages.into_iter().filter(|p| !p.items.is_empty()));
    // Body page k is PDF page k + 2 (1-based, after the title page).
    let anchors: Vec<Option<(usize, f32)>> = body.anchors.iter().map(|a| a.map(|(p, y)| (p + 2, y))).collect();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, h) in headings.iter().enumerate() {
        if !h.id.is_empty() {
            ids.entry(h.id.as_str()).or_insert(i);
        }
    }

    let total = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        page.items = resolve_items(std::mem::take(&mut page.items), &anchors, &ids, fonts, &theme);
        if i > 0 {
            page_furniture(page, i + 1, total, doc, fonts, &theme);
        }
    }

    let outline = headings
        .iter()
        .zip(&anchors)
        .filter(|(h, _)| h.level <= 3 && !h.title.is_empty())
        .filter_map(|(h, a)| {
            a.map(|(page, y)| OutlineEntry { level: h.level, title: h.title.clone(), page, top: PAGE_H - y + 4.0 })
        })
        .collect();
    LaidOut { pages, outline }
}

/// Turns heading references into page numbers and link destinations. Links whose target
/// does not exist are dropped (the text stays).
fn resolve_items(
    items: Vec<Item>,
    anchors: &[Option<(usize, f32)>],
    ids: &HashMap<&str, usize>,
    fonts: &Fonts,
    theme: &Theme,
) -> Vec<Item> {
    let dest = |h: usize| anchors.get(h).copied().flatten().map(|(p, y)| Target::Page(p, y));
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        match it {
            Item::Link { x, y, w, h, target } => {
                let target = match target {
                    Target::Heading(n) => dest(n),
                    Target::Anchor(id) => ids.get(id.as_str()).and_then(|&n| dest(n)),
                    other => Some(other),
                };
                if let Some(target) = target {
                    out.push(Item::Link { x, y, w, h, target });
                }
            }
            Item::PageRef { heading, x_right, y, face, size, color, leader_from } => {
                let Some((page, _)) = anchors.get(heading).copied().flatten() else {
                    continue;
                };
                let num = page.to_string();
                let num_w = fonts.text_width(face, size, &num);
                out.push(Item::text(x_right - num_w, y, face, size, color, num));
                // Dots on a fixed pitch from the page edge, so leaders line up across entries.
                let pitch = 4.0;
                let dot_w = fonts.text_width(Face::Regular, BODY_SIZE, ".");
                let start = (leader_from / pitch).ceil() * pitch;
                let count = ((x_right - num_w - 4.0 - start) / pitch).floor();
                if count >= 1.0 {
                    out.push(Item::Text(Label {
                        x: start,
                        y,
                        face: Face::Regular,
                        size: BODY_SIZE,
                        color: theme.muted,
                        text: ".".repeat(count as usize),
                        spacing: pitch - dot_w,
                        rotated: false,
                    }));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The smallest size a running header or footer label is set in before it wraps.
const MIN_LABEL_SIZE: f32 = 6.0;

/// A left and a right label on one band `width` wide, as a running header or footer shows them:
/// at `size` when both fit, else smaller (down to [`MIN_LABEL_SIZE`]), else wrapped over lines,
/// never shortened with an ellipsis for any length a band can hold (beyond `max_lines` lines,
/// only absurd metadata, the last line is cut). Returns the size and each side's lines.
fn fit_pair(
    fonts: &Fonts,
    (left_face, left): (Face, &str),
    (right_face, right): (Face, &str),
    size: f32,
    width: f32,
    max_lines: usize,
) -> (f32, Vec<String>, Vec<String>) {
    let gap = 18.0;
    let left = clean_plain(fonts, left_face, left);
    let right = clean_plain(fonts, right_face, right);
    let mut s = size;
    loop {
        let need = fonts.text_width(left_face, s, &left) + fonts.text_width(right_face, s, &right) + gap;
        if need <= width {
            return (s, vec![left], vec![right]);
        }
        if s <= MIN_LABEL_SIZE {
            break;
        }
        s = (s - 0.4).max(MIN_LABEL_SIZE);
    }
    let rw = fonts.text_width(right_face, s, &right).min(width * 0.55);
    let lw = (width - rw - gap).max(width * 0.3);
    let lines = |face, text: &str, w| -> Vec<String> {
        wrap_plain(fonts, face, s, text, w, max_lines).into_iter().map(|(t, _)| t).collect()
    };
    (s, lines(left_face, &left, lw), lines(right_face, &right, width - lw - gap))
}

/// Running header (organisation | confidentiality, thin rule) and footer (title | Page X of Y).
fn page_furniture(page: &mut Page, number: usize, total: usize, doc: &Document, fonts: &Fonts, theme: &Theme) {
    let right = PAGE_W - MARGIN_X;
    let (size, org, conf) = fit_pair(
        fonts,
        (Face::Regular, &doc.meta.organisation),
        (Face::Bold, &doc.meta.confidentiality),
        SMALL_SIZE,
        TEXT_W,
        3,
    );
    // The header grows upwards from its baseline, so the rule and the body never move.
    let step = size * 1.2;
    for (k, t) in org.iter().rev().enumerate() {
        page.items.push(Item::text(
            MARGIN_X,
            HEADER_BASELINE - k as f32 * step,
            Face::Regular,
            size,
            theme.muted,
            t.clone(),
        ));
    }
    for (k, t) in conf.iter().rev().enumerate() {
        let w = fonts.text_width(Face::Bold, size, t);
        page.items.push(Item::text(
            right - w,
            HEADER_BASELINE - k as f32 * step,
            Face::Bold,
            size,
            theme.accent_text,
            t.clone(),
        ));
    }
    page.items.push(Item::Line {
        x1: MARGIN_X,
        y1: HEADER_RULE,
        x2: right,
        y2: HEADER_RULE,
        color: theme.rule,
        width: 0.5,
    });

    let label = format!("Page {number} of {total}");
    let (size, title, label) =
        fit_pair(fonts, (Face::Regular, &doc.meta.title), (Face::Regular, &label), SMALL_SIZE, TEXT_W, 3);
    let step = size * 1.2;
    for (k, t) in title.iter().enumerate() {
        page.items.push(Item::text(
            MARGIN_X,
            FOOTER_BASELINE + k as f32 * step,
            Face::Regular,
            size,
            theme.muted,
            t.clone(),
        ));
    }
    for (k, t) in label.iter().enumerate() {
        let w = fonts.text_width(Face::Regular, size, t);
        page.items.push(Item::text(
            right - w,
            FOOTER_BASELINE + k as f32 * step,
            Face::Regular,
            size,
            theme.muted,
            t.clone(),
        ));
    }
}

fn title_page(doc: &Document, fonts: &Fonts, theme: &Theme, logo: Option<(usize, usize)>) -> Page {
    let meta = &doc.meta;
    let mut items = Vec::new();
    let mut y = 30.0 * MM;
    if let Some((pw, ph)) = logo.filter(|(w, h)| *w > 0 && *h > 0) {
        let (pw, ph) = (pw as f32, ph as f32);
        let scale = (40.0 * MM / ph).min(TEXT_W * 0.6 / pw);
        let (w, h) = (pw * scale, ph * scale);
        items.push(Item::Image { x: MARGIN_X, y, w, h });
        y += h;
    }
    // The title block sits at a fixed height so covers look alike with and without a logo.
    y = y.max(95.0 * MM);
    items.push(Item::Fill { x: MARGIN_X, y: y - 14.0, w: 18.0 * MM, h: 4.0, color: theme.accent });

    // Bottom band: organisation and confidentiality under a rule.
    let rule_y = PAGE_H - 35.0 * MM;
    // Everything above the band; absurdly long metadata is cut rather than run off the page.
    let limit = rule_y - 20.0;

    let ts = 26.0;
    for (t, _) in wrap_plain(fonts, Face::Bold, ts, &meta.title, TEXT_W, 4) {
        y += ts * 1.2;
        items.push(Item::text(MARGIN_X, y - ts * 0.25, Face::Bold, ts, theme.accent_text, t));
    }
    y += 12.0;
    let ss = 13.0;
    for sub in &meta.subtitle {
        for (t, _) in wrap_plain(fonts, Face::Regular, ss, sub, TEXT_W, 2) {
            if y + ss * 1.35 > limit {
                break;
            }
            y += ss * 1.35;
            items.push(Item::text(MARGIN_X, y - ss * 0.3, Face::Regular, ss, theme.text, t));
        }
    }
    let date = fonts.ellipsize(
        Face::Regular,
        11.0,
        if meta.date_text.is_empty() { &meta.date } else { &meta.date_text },
        TEXT_W,
    );
    if !date.is_empty() && y + 14.0 + 11.0 * 1.35 <= limit {
        y += 14.0 + 11.0 * 1.35;
        items.push(Item::text(MARGIN_X, y - 11.0 * 0.3, Face::Regular, 11.0, theme.muted, date));
    }

    items.push(Item::Line {
        x1: MARGIN_X,
        y1: rule_y,
        x2: PAGE_W - MARGIN_X,
        y2: rule_y,
        color: theme.rule,
        width: 0.8,
    });
    let (bs, org, conf) =
        fit_pair(fonts, (Face::Bold, &meta.organisation), (Face::Bold, &meta.confidentiality), 10.0, TEXT_W, 4);
    for (k, t) in org.iter().enumerate() {
        items.push(Item::text(MARGIN_X, rule_y + 16.0 + k as f32 * bs * 1.25, Face::Bold, bs, theme.text, t.clone()));
    }
    for (k, t) in conf.iter().enumerate() {
        let w = fonts.text_width(Face::Bold, bs, t);
        let x = PAGE_W - MARGIN_X - w;
        items.push(Item::text(x, rule_y + 16.0 + k as f32 * bs * 1.25, Face::Bold, bs, theme.accent_text, t.clone()));
    }
    Page { items }
}

// ---------------------------------------------------------------------------------------------
// Stage 6: printpdf ops and serialisation
// ---------------------------------------------------------------------------------------------

const LOGO_ID: &str = "IMLOGO";

/// The logo as a PDF image XObject and its size in pixels.
struct Logo {
    xobject: XObject,
    width: usize,
    height: usize,
}

/// JPEGs and opaque PNGs are embedded as they are (see [`passthrough_image`]): lossless, small,
/// and independent of printpdf's optional decoders. Anything else (alpha, interlacing, CMYK)
/// goes through printpdf's decoder, which needs its `png`/`jpeg` features.
fn decode_logo(bytes: Option<&[u8]>) -> Result<Option<Logo>, PdfError> {
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    if let Some((xobject, width, height)) = passthrough_image(bytes) {
        return Ok(Some(Logo { xobject: XObject::External(xobject), width, height }));
    }
    let mut warnings = Vec::new();
    let img = RawImage::decode_from_bytes(bytes, &mut warnings).map_err(PdfError::Logo)?;
    if img.width == 0 || img.height == 0 {
        return Err(PdfError::Logo("image has no pixels".to_string()));
    }
    Ok(Some(Logo { width: img.width, height: img.height, xobject: XObject::Image(img) }))
}

/// Whether `build` can embed `bytes` as the logo: what `check` asks, so a logo `check` accepts
/// never fails the build. Decoded the same way the PDF does.
pub fn is_supported_image(bytes: &[u8]) -> bool {
    matches!(decode_logo(Some(bytes)), Ok(Some(_)))
}

/// Embeds an image without decoding it: a baseline/progressive 8-bit grey or RGB JPEG as
/// `DCTDecode` data, or a non-interlaced PNG without alpha as its own zlib data under
/// `FlateDecode` with PNG predictors (PDF readers undo PNG row filters natively).
/// `None` when the image needs real decoding.
fn passthrough_image(bytes: &[u8]) -> Option<(printpdf::ExternalXObject, usize, usize)> {
    use printpdf::DictItem::{Array, Dict, Int, Name, String as Str};
    let name = |n: &str| Name(n.as_bytes().to_vec());
    let (w, h, mut dict, content) = if let Some((w, h, comps)) = jpeg_info(bytes) {
        let cs = if comps == 1 { "DeviceGray" } else { "DeviceRGB" };
        let dict = vec![("ColorSpace", name(cs)), ("BitsPerComponent", Int(8)), ("Filter", name("DCTDecode"))];
        (w, h, dict, bytes.to_vec())
    } else {
        let png = png_info(bytes)?;
        let (colors, cs) = match png.color_type {
            0 => (1, name("DeviceGray")),
            2 => (3, name("DeviceRGB")),
            3 => {
                let entries = png.palette.len() / 3;
                if entries == 0 {
                    return None;
                }
                let indexed = vec![
                    name("Indexed"),
                    name("DeviceRGB"),
                    Int(entries as i64 - 1),
                    Str { data: png.palette[..entries * 3].to_vec(), literal: false },
                ];
                (1, Array(indexed))
            }
            _ => return None,
        };
        let bpc = i64::from(png.bit_depth);
        let parms = [
            ("Predictor", Int(15)),
            ("Colors", Int(colors)),
            ("BitsPerComponent", Int(bpc)),
            ("Columns", Int(png.width as i64)),
        ];
        let dict = vec![
            ("ColorSpace", cs),
            ("BitsPerComponent", Int(bpc)),
            ("Filter", name("FlateDecode")),
            ("DecodeParms", Dict { map: parms.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }),
        ];
        (png.width, png.height, dict, png.idat)
    };
    dict.extend([
        ("Type", name("XObject")),
        ("Subtype", name("Image")),
        ("Width", Int(w as i64)),
        ("Height", Int(h as i64)),
    ]);
    let stream = printpdf::ExternalStream {
        dict: dict.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        content,
        // Already compressed (DCT or zlib); lopdf must not wrap it again.
        compress: false,
    };
    let xobject =
        printpdf::ExternalXObject { stream, width: Some(printpdf::Px(w)), height: Some(printpdf::Px(h)), dpi: None };
    Some((xobject, w, h))
}

/// (width, height, components) of an 8-bit baseline or progressive JPEG with 1 or 3 components.
fn jpeg_info(b: &[u8]) -> Option<(usize, usize, u8)> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if matches!(marker, 0xC0..=0xC2) {
            let seg = b.get(i + 4..i + 10)?;
            let (precision, h, w, comps) =
                (seg[0], u16::from_be_bytes([seg[1], seg[2]]), u16::from_be_bytes([seg[3], seg[4]]), seg[5]);
            return (precision == 8 && w > 0 && h > 0 && matches!(comps, 1 | 3)).then_some((
                usize::from(w),
                usize::from(h),
                comps,
            ));
        }
        // Other SOF types (lossless, arithmetic) and a scan before any frame header: decode.
        if matches!(marker, 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA | 0xD9) || len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

struct PngInfo {
    width: usize,
    height: usize,
    bit_depth: u8,
    color_type: u8,
    palette: Vec<u8>,
    idat: Vec<u8>,
}

/// Header, palette and image data of a PNG that PDF can show as is: not interlaced and
/// without transparency (no alpha channel, no `tRNS`). Chunk CRCs are verified.
fn png_info(b: &[u8]) -> Option<PngInfo> {
    let rest = b.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    let mut info = PngInfo { width: 0, height: 0, bit_depth: 0, color_type: 0, palette: Vec::new(), idat: Vec::new() };
    let mut i = 0;
    let mut seen_header = false;
    while i + 12 <= rest.len() {
        let len = u32::from_be_bytes(rest[i..i + 4].try_into().ok()?) as usize;
        let end = i.checked_add(12)?.checked_add(len)?;
        let chunk = rest.get(i + 4..end - 4)?; // type + data
        let crc = u32::from_be_bytes(rest[end - 4..end].try_into().ok()?);
        if crc32(chunk) != crc {
            return None;
        }
        let (kind, data) = chunk.split_at(4);
        match kind {
            b"IHDR" if data.len() == 13 => {
                info.width = u32::from_be_bytes(data[0..4].try_into().ok()?) as usize;
                info.height = u32::from_be_bytes(data[4..8].try_into().ok()?) as usize;
                info.bit_depth = data[8];
                info.color_type = data[9];
                let valid_depth = match info.color_type {
                    0 => matches!(info.bit_depth, 1 | 2 | 4 | 8 | 16),
                    2 => matches!(info.bit_depth, 8 | 16),
                    3 => matches!(info.bit_depth, 1 | 2 | 4 | 8),
                    _ => false,
                };
                if !valid_depth
                    || data[10] != 0
                    || data[11] != 0
                    || data[12] != 0
                    || info.width == 0
                    || info.height == 0
                {
                    return None;
                }
                seen_header = true;
            }
            b"PLTE" => info.palette = data.to_vec(),
            b"tRNS" => return None,
            b"IDAT" => info.idat.extend_from_slice(data),
            b"IEND" => return (seen_header && !info.idat.is_empty()).then_some(info),
            _ => {}
        }
        i = end;
    }
    None
}

/// CRC-32 (ISO 3309), as used by PNG chunks: the same as zip's.
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Tracks graphics/text state so redundant operators are not repeated.
struct OpWriter<'a> {
    fonts: &'a Fonts,
    ops: Vec<Op>,
    in_text: bool,
    font: Option<(Face, f32)>,
    fill: Option<Rgb3>,
    /// Stroke colour and width: every table rule sets the same, so it is set once per page.
    stroke: Option<(Rgb3, f32)>,
    spacing: f32,
}

impl OpWriter<'_> {
    fn end_text(&mut self) {
        if self.in_text {
            self.ops.push(Op::EndTextSection);
            self.in_text = false;
        }
    }

    fn fill(&mut self, c: Rgb3) {
        if self.fill != Some(c) {
            self.ops.push(Op::SetFillColor { col: c.pdf() });
            self.fill = Some(c);
        }
    }

    fn text(&mut self, l: Label) {
        if l.text.is_empty() {
            return;
        }
        if !self.in_text {
            self.ops.push(Op::StartTextSection);
            self.in_text = true;
        }
        if self.font != Some((l.face, l.size)) {
            let id = self.fonts.faces[l.face as usize].id.clone();
            self.ops.push(Op::SetFont { font: PdfFontHandle::External(id), size: Pt(l.size) });
            self.font = Some((l.face, l.size));
        }
        self.fill(l.color);
        if self.spacing != l.spacing {
            self.ops.push(Op::SetCharacterSpacing { multiplier: l.spacing });
            self.spacing = l.spacing;
        }
        let (x, y) = (l.x, PAGE_H - l.y);
        let m = if l.rotated { [0.0, 1.0, -1.0, 0.0, x, y] } else { [1.0, 0.0, 0.0, 1.0, x, y] };
        self.ops.push(Op::SetTextMatrix { matrix: TextMatrix::Raw(m) });
        self.ops.push(Op::ShowText { items: vec![TextItem::Text(l.text)] });
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, mode: PaintMode) {
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(PAGE_H - y - h),
                width: Pt(w),
                height: Pt(h),
                mode: Some(mode),
                winding_order: None,
            },
        });
    }

    fn stroke_style(&mut self, color: Rgb3, width: f32) {
        if self.stroke != Some((color, width)) {
            self.ops.push(Op::SetOutlineColor { col: color.pdf() });
            self.ops.push(Op::SetOutlineThickness { pt: Pt(width) });
            self.stroke = Some((color, width));
        }
    }

    fn item(&mut self, it: &Item, logo_px: Option<(usize, usize)>) {
        match it {
            Item::Text(l) => self.text(l.clone()),
            Item::Fill { x, y, w, h, color } => {
                self.end_text();
                self.fill(*color);
                self.rect(*x, *y, *w, *h, PaintMode::Fill);
            }
            Item::Stroke { x, y, w, h, color, width } => {
                self.end_text();
                self.stroke_style(*color, *width);
                self.rect(*x, *y, *w, *h, PaintMode::Stroke);
            }
            Item::Line { x1, y1, x2, y2, color, width } => {
                self.end_text();
                self.stroke_style(*color, *width);
                let pt = |x: f32, y: f32| LinePoint { p: Point { x: Pt(x), y: Pt(PAGE_H - y) }, bezier: false };
                self.ops.push(Op::DrawLine {
                    line: printpdf::Line { points: vec![pt(*x1, *y1), pt(*x2, *y2)], is_closed: false },
                });
            }
            Item::Link { x, y, w, h, target } => {
                let actions = match target {
                    Target::Page(page, top) => Actions::Goto(Destination::Xyz {
                        page: *page,
                        left: None,
                        top: Some(PAGE_H - top + 4.0),
                        zoom: None,
                    }),
                    Target::Uri(uri) => Actions::Uri(uri.clone()),
                    // Unresolved targets were removed in `resolve_items`.
                    Target::Heading(_) | Target::Anchor(_) => return,
                };
                let rect = Rect::from_xywh(Pt(*x), Pt(PAGE_H - y - h), Pt(*w), Pt(*h));
                let link = LinkAnnotation::new(
                    rect,
                    actions,
                    Some(BorderArray::Solid([0.0, 0.0, 0.0])),
                    Some(ColorArray::Transparent),
                    None,
                );
                self.ops.push(Op::LinkAnnotation { link });
            }
            Item::Image { x, y, w, h } => {
                let Some((pw, ph)) = logo_px else { return };
                self.end_text();
                // At 72 dpi one image pixel is one point; scale from there to the box.
                self.ops.push(Op::UseXobject {
                    id: XObjectId(LOGO_ID.to_string()),
                    transform: XObjectTransform {
                        translate_x: Some(Pt(*x)),
                        translate_y: Some(Pt(PAGE_H - y - h)),
                        rotate: None,
                        scale_x: Some(w / pw as f32),
                        scale_y: Some(h / ph as f32),
                        dpi: Some(72.0),
                        no_auto_scale: false,
                    },
                });
            }
            Item::PageRef { .. } => {}
        }
    }
}

fn page_ops(page: Page, fonts: &Fonts, logo_px: Option<(usize, usize)>) -> Vec<Op> {
    let mut w = OpWriter { fonts, ops: Vec::new(), in_text: false, font: None, fill: None, stroke: None, spacing: 0.0 };
    for it in page.items {
        match it {
            // Text moves into its operator; most items are text.
            Item::Text(l) => w.text(l),
            other => w.item(&other, logo_px),
        }
    }
    w.end_text();
    w.ops
}

/// `YYYY-MM-DD` as midnight UTC; anything else falls back to the epoch (never the clock).
fn pdf_date(s: &str) -> printpdf::date::DateTime {
    use printpdf::date::{Date, DateTime, Offset, Time};
    let parts: Vec<&str> = s.trim().split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] if y.len() == 4 => match (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) {
            (Ok(y), Ok(m), Ok(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
                Some(Date { year: y, month: m, day: d })
            }
            _ => None,
        },
        _ => None,
    };
    match parsed {
        Some(date) => DateTime::new_in_offset(
            date,
            Time { hour: 0, minute: 0, second: 0, millisecond: 0 },
            Offset { hours: 0, minutes: 0, seconds: 0, milliseconds: 0 },
        ),
        None => DateTime::epoch(),
    }
}

fn build_pdf(
    doc: &Document,
    pages: Vec<Page>,
    outline: &[OutlineEntry],
    fonts: &Fonts,
    logo: Option<Logo>,
) -> PdfDocument {
    let meta = &doc.meta;
    let mut pdf = PdfDocument::new(&meta.title);
    let info = &mut pdf.metadata.info;
    let date = pdf_date(&meta.date);
    info.creation_date = date;
    info.modification_date = date;
    info.metadata_date = date;
    info.author = meta.organisation.clone();
    info.subject = meta.subtitle.join(" — ");
    info.creator = "auditpack".to_string();
    info.producer = "auditpack (printpdf 0.12.8)".to_string();

    // Fixed resource ids (not printpdf's counter-based ones) keep the output deterministic.
    for fd in &fonts.faces {
        pdf.resources.fonts.map.insert(fd.id.clone(), PdfFont::new(fd.font.clone()));
    }
    let logo_px = logo.as_ref().map(|l| (l.width, l.height));
    if let Some(logo) = logo {
        pdf.resources.xobjects.map.insert(XObjectId(LOGO_ID.to_string()), logo.xobject);
    }
    let pages = pages
        .into_iter()
        .map(|p| PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), page_ops(p, fonts, logo_px)))
        .collect();
    pdf.with_pages(pages);

    // printpdf writes a flat outline sorted by (page, name): index names make that document
    // order; `save` then puts the real titles in and nests the entries.
    for (i, e) in outline.iter().enumerate() {
        pdf.bookmarks
            .map
            .insert(PageAnnotId(format!("B{i:06}")), PageAnnotation { name: format!("{i:06}"), page: e.page });
    }
    pdf
}

/// Parent/sibling structure of the outline, from heading levels.
#[derive(Debug, PartialEq)]
struct OutlineTree {
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
}

impl OutlineTree {
    fn build(levels: &[u8]) -> OutlineTree {
        let n = levels.len();
        let mut t = OutlineTree { parent: vec![None; n], children: vec![Vec::new(); n], roots: Vec::new() };
        let mut stack: Vec<usize> = Vec::new();
        for (i, &lvl) in levels.iter().enumerate() {
            while stack.last().is_some_and(|&s| levels[s] >= lvl) {
                stack.pop();
            }
            match stack.last() {
                Some(&p) => {
                    t.parent[i] = Some(p);
                    t.children[p].push(i);
                }
                None => t.roots.push(i),
            }
            stack.push(i);
        }
        t
    }

    /// The sibling list `i` belongs to.
    fn siblings(&self, i: usize) -> &[usize] {
        match self.parent[i] {
            Some(p) => &self.children[p],
            None => &self.roots,
        }
    }
}

fn utf16_title(s: &str) -> Vec<u8> {
    let mut out = vec![0xFE, 0xFF];
    out.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
    out
}

/// A stable document id from the input: the same document always gets the same `/ID`.
fn document_id(doc: &Document) -> String {
    // The document's JSON (a stable form of every block and of the metadata; the logo is
    // skipped there, so its bytes follow), streamed into the hash.
    let mut h = crate::output::HashingWriter::new(std::io::sink());
    let _ = serde_json::to_writer(&mut h, doc);
    let _ = std::io::Write::write_all(&mut h, doc.meta.logo.as_deref().unwrap_or_default());
    crate::collect::hex(&h.finish().0[..16])
}

/// Serialises through lopdf (printpdf's `to_lopdf_document`) to fix what printpdf cannot be
/// told: the trailer `/ID` (random per save) and a nested outline with exact destinations.
/// lopdf is not a direct dependency, so its values are only touched through methods.
fn save(pdf: PdfDocument, outline: &[OutlineEntry], id: &str) -> Result<Vec<u8>, PdfError> {
    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        secure: true,
        // Logos are flat artwork: keep them lossless and at full resolution.
        image_optimization: Some(ImageOptimizationOptions {
            quality: None,
            max_image_size: None,
            dither_greyscale: Some(false),
            convert_to_greyscale: Some(false),
            auto_optimize: Some(true),
            format: Some(ImageCompression::Flate),
        }),
    };
    let mut warnings: Vec<PdfWarnMsg> = Vec::new();
    let mut lo = pdf.to_lopdf_document(&opts, &mut warnings);
    drop(pdf);
    if let Some(w) = warnings.iter().find(|w| w.severity == PdfParseErrorSeverity::Error) {
        return Err(PdfError::Write(w.msg.clone()));
    }

    if let Ok(ids) = lo.trailer.get_mut(b"ID").and_then(|o| o.as_array_mut()) {
        for part in ids.iter_mut() {
            if let Ok(bytes) = part.as_str_mut() {
                *bytes = id.as_bytes().to_vec();
            }
        }
    }

    // printpdf always writes PDF/X and identifier keys; empty, they make readers report a
    // PDF/X subtype this file does not claim.
    if let Ok(info_id) = lo.trailer.get(b"Info").and_then(|o| o.as_reference())
        && let Ok(info) = lo.get_object_mut(info_id).and_then(|o| o.as_dict_mut())
    {
        for key in [&b"GTS_PDFXVersion"[..], b"Identifier", b"Keywords", b"Trapped"] {
            info.remove(key);
        }
    }

    let outlines_id = lo
        .trailer
        .get(b"Root")
        .and_then(|o| o.as_reference())
        .and_then(|r| lo.get_object(r))
        .and_then(|o| o.as_dict())
        .and_then(|d| d.get(b"Outlines"))
        .and_then(|o| o.as_reference())
        .ok();
    if let Some(root_id) = outlines_id {
        let mut items = Vec::new();
        let mut cur = lo
            .get_object(root_id)
            .and_then(|o| o.as_dict())
            .and_then(|d| d.get(b"First"))
            .and_then(|o| o.as_reference())
            .ok();
        while let Some(item) = cur {
            if items.len() >= outline.len() {
                break;
            }
            items.push(item);
            cur = lo
                .get_object(item)
                .and_then(|o| o.as_dict())
                .and_then(|d| d.get(b"Next"))
                .and_then(|o| o.as_reference())
                .ok();
        }
        let nest = items.len() == outline.len();
        let levels: Vec<u8> = outline.iter().map(|e| e.level).collect();
        let tree = OutlineTree::build(&levels);
        for (i, item) in items.iter().enumerate() {
            let Ok(dict) = lo.get_object_mut(*item).and_then(|o| o.as_dict_mut()) else {
                continue;
            };
            if let Ok(title) = dict.get_mut(b"Title").and_then(|o| o.as_str_mut()) {
                *title = utf16_title(&outline[i].title);
            }
            if let Ok(dest) = dict.get_mut(b"Dest").and_then(|o| o.as_array_mut())
                && dest.len() == 5
            {
                dest[3] = outline[i].top.into();
            }
            if !nest {
                continue;
            }
            dict.set("Parent", tree.parent[i].map_or(root_id, |p| items[p]));
            let sib = tree.siblings(i);
            let pos = sib.iter().position(|&s| s == i).unwrap_or(0);
            match pos.checked_sub(1).map(|k| items[sib[k]]) {
                Some(prev) => dict.set("Prev", prev),
                None => {
                    dict.remove(b"Prev");
                }
            }
            match sib.get(pos + 1).map(|&k| items[k]) {
                Some(next) => dict.set("Next", next),
                None => {
                    dict.remove(b"Next");
                }
            }
            let kids = &tree.children[i];
            if let (Some(&first), Some(&last)) = (kids.first(), kids.last()) {
                dict.set("First", items[first]);
                dict.set("Last", items[last]);
                // Top-level entries start open (showing their sections), deeper ones closed.
                let count = kids.len() as i64;
                dict.set("Count", if tree.parent[i].is_none() { count } else { -count });
            }
        }
        if nest
            && let (Some(&first), Some(&last)) = (tree.roots.first(), tree.roots.last())
            && let Ok(root) = lo.get_object_mut(root_id).and_then(|o| o.as_dict_mut())
        {
            root.set("First", items[first]);
            root.set("Last", items[last]);
            let visible: usize = tree.roots.iter().map(|&r| 1 + tree.children[r].len()).sum();
            root.set("Count", visible as i64);
        }
    }

    // lopdf defaults to 1.3; the logo's soft mask (transparency) is PDF 1.4.
    lo.version = "1.4".to_string();
    // Deflates every stream that has no filter yet (page contents, fonts), on every core: what
    // `lopdf::Document::compress` does on one thread at level 9, here at the default level 6,
    // which on page content streams is several times faster for a file ~1% larger. The bytes
    // depend only on each stream, never on the thread that compressed it. (Inline: lopdf's types
    // cannot be named here.)
    {
        use flate2::{Compression, write::ZlibEncoder};
        use rayon::prelude::*;
        use std::io::Write as _;
        lo.objects.par_iter_mut().for_each(|(_, obj)| {
            let Ok(stream) = obj.as_stream_mut() else { return };
            if stream.dict.get(b"Filter").is_ok() {
                return;
            }
            let mut z = ZlibEncoder::new(Vec::with_capacity(stream.content.len() / 4), Compression::default());
            let Ok(compressed) = z.write_all(&stream.content).and_then(|_| z.finish()) else { return };
            // As lopdf does: keep the stream raw when deflating does not pay for the filter entry.
            if compressed.len() + 19 < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed);
            }
        });
    }
    let mut out = Vec::new();
    lo.save_to(&mut out).map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::doc::{ChartCell, DocMeta};
    use super::*;

    fn p(t: &str) -> Inline {
        Inline::plain(t)
    }
    fn code(t: &str) -> Inline {
        Inline { text: t.into(), style: Style { code: true, ..Style::default() }, link: None }
    }
    fn heading(level: u8, id: &str, t: &str) -> Block {
        Block::Heading { level, id: id.into(), text: vec![p(t)] }
    }
    fn meta() -> DocMeta {
        DocMeta {
            title: "SOC 2 Type 2 Package".into(),
            subtitle: vec!["Acme Cloud GmbH — Zürich".into()],
            organisation: "Acme Cloud GmbH".into(),
            confidentiality: "Confidential".into(),
            date: "2025-02-14".into(),
            date_text: String::new(),
            accent: "#1f4e79".into(),
            logo: None,
        }
    }
    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const LOREM: &str = "Management is responsible for designing, implementing and operating effective \
        controls within the system to provide reasonable assurance that the service commitments \
        and system requirements were achieved.";

    fn evidence_table(rows: usize) -> Table {
        Table {
            align: vec![Align::Left, Align::Center, Align::Left, Align::Left, Align::Right],
            header: ["ID", "Criterion", "File", "SHA-256", "Collected"].iter().map(|s| vec![p(s)]).collect(),
            rows: (0..rows)
                .map(|k| {
                    vec![
                        vec![p(&format!("E-{k:03}"))],
                        vec![p("CC6.1")],
                        vec![code(&format!("evidence/2024/q{}/access-reviews/okta-export-{k}.csv", k % 4 + 1))],
                        vec![code(HEX)],
                        vec![p("2024-03-31")],
                    ]
                })
                .collect(),
        }
    }

    fn sample_doc() -> Document {
        let mut blocks = vec![Block::Toc, heading(1, "intro", "1 Introduction")];
        blocks.push(Block::Paragraph(vec![
            p("See "),
            Inline { text: "the evidence".into(), style: Style::default(), link: Some("#evidence".into()) },
            p(" for Zürich, naïve, — ≥ € Zażółć Ελληνικά. "),
            p(LOREM),
        ]));
        for k in 0..12 {
            blocks.push(heading(2, "", &format!("1.{k} Topic")));
            for _ in 0..(k % 4 + 1) {
                blocks.push(Block::Paragraph(vec![p(LOREM), p(" "), p(LOREM)]));
            }
        }
        blocks.push(heading(1, "evidence", "2 Evidence"));
        blocks.push(Block::Table(evidence_table(150)));
        Document { meta: meta(), blocks }
    }

    fn fonts() -> Fonts {
        Fonts::load().expect("embedded fonts parse")
    }

    fn body_style() -> TextStyle {
        TextStyle {
            size: BODY_SIZE,
            color: Rgb3(0.0, 0.0, 0.0),
            bold: false,
            link_color: Rgb3(0.0, 0.0, 1.0),
            code_color: Rgb3(0.0, 0.0, 0.0),
        }
    }

    fn texts(page: &Page) -> Vec<&Label> {
        page.items.iter().filter_map(|it| if let Item::Text(l) = it { Some(l) } else { None }).collect()
    }

    #[test]
    fn renders_are_byte_identical() {
        let doc = sample_doc();
        let a = render(&doc).expect("first render");
        let b = render(&doc).expect("second render");
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(a, b, "two renders in one process must give the same bytes");
        // The trailer id is derived from the document, not from printpdf's counter.
        let id = document_id(&doc);
        assert!(a.windows(id.len()).any(|w| w == id.as_bytes()));
    }

    #[test]
    fn page_count_is_sane() {
        let f = fonts();
        let one = Document { meta: meta(), blocks: vec![Block::Paragraph(vec![p("Hello")])] };
        assert_eq!(layout_document(&one, &f, None).pages.len(), 2, "title page + one body page");

        let broken = Document {
            meta: meta(),
            blocks: vec![
                Block::Paragraph(vec![p("a")]),
                Block::PageBreak,
                Block::PageBreak,
                Block::Paragraph(vec![p("b")]),
            ],
        };
        assert_eq!(layout_document(&broken, &f, None).pages.len(), 3, "consecutive page breaks make one break");

        let empty = Document { meta: meta(), blocks: vec![] };
        assert_eq!(layout_document(&empty, &f, None).pages.len(), 1, "only the title page");

        let big = layout_document(&sample_doc(), &f, None);
        assert!((8..40).contains(&big.pages.len()), "got {} pages", big.pages.len());
        // Every body page carries "Page X of Y" with the real total.
        let total = big.pages.len();
        for (i, page) in big.pages.iter().enumerate().skip(1) {
            let want = format!("Page {} of {}", i + 1, total);
            assert!(texts(page).iter().any(|l| l.text == want), "missing {want}");
        }
    }

    #[test]
    fn wrapped_lines_never_exceed_the_measure() {
        let f = fonts();
        let inlines = vec![
            p("Plain words, "),
            Inline { text: "bold words".into(), style: Style { bold: true, ..Style::default() }, link: None },
            p(" and "),
            code("/very/long/path/to/some/evidence/file-with-a-long-name.json"),
            p(" then "),
            code(HEX),
            p(&format!(" {LOREM} Zürich ≥ € {}", "x".repeat(300))),
        ];
        let words = words_from_inlines(&f, &inlines, &body_style());
        let source: String = inlines.iter().flat_map(|i| i.text.chars()).filter(|c| !c.is_whitespace()).collect();
        for max_w in [3.0, 20.0, 57.0, 100.0, 180.0, 333.0, TEXT_W] {
            let lines = break_lines(&f, &words, max_w, BODY_SIZE);
            for l in &lines {
                // Narrower than one glyph: one char per line is the best possible.
                let single = l.text().chars().count() == 1;
                assert!(single || l.width <= max_w + EPS, "line {:?} is {} wide, max {}", l.text(), l.width, max_w);
                let end = l.runs.iter().map(|(x, r)| x + r.width).fold(0.0, f32::max);
                assert!(single || end <= max_w + EPS);
            }
            let rebuilt: String = lines
                .iter()
                .flat_map(|l| l.text().chars().collect::<Vec<_>>())
                .filter(|c| !c.is_whitespace())
                .collect();
            assert_eq!(rebuilt, source, "no text lost or duplicated at width {max_w}");
        }
    }

    #[test]
    fn sha256_hex_token_hard_breaks() {
        let f = fonts();
        let words = words_from_inlines(&f, &[code(HEX)], &body_style());
        assert_eq!(words.len(), 1);
        let lines = break_lines(&f, &words, 100.0, BODY_SIZE);
        assert!(lines.len() >= 2, "a 64-char hash cannot fit 100pt");
        assert!(lines.iter().all(|l| l.width <= 100.0 + EPS));
        let joined: String = lines.iter().map(Line::text).collect();
        assert_eq!(joined, HEX);
        // All chunks but the last are nearly full: breaks happen at the last char that fits.
        let char_w = f.char_width(Face::Mono, BODY_SIZE * CODE_SCALE, '0');
        for l in &lines[..lines.len() - 1] {
            assert!(l.width > 100.0 - char_w - EPS);
        }
    }

    #[test]
    fn long_paths_prefer_separators() {
        let f = fonts();
        let path = "evidence/2024/q1/access-reviews/okta-admin-group-membership-export.csv";
        let lines = break_lines(&f, &words_from_inlines(&f, &[code(path)], &body_style()), 120.0, BODY_SIZE);
        assert!(lines.len() >= 2);
        for l in &lines[..lines.len() - 1] {
            let t = l.text();
            assert!(t.ends_with('/') || t.ends_with('-') || t.ends_with('.'), "broke mid-word: {t:?}");
        }
    }

    #[test]
    fn table_header_repeats_on_every_page() {
        let f = fonts();
        let doc =
            Document { meta: meta(), blocks: vec![heading(1, "", "Evidence"), Block::Table(evidence_table(150))] };
        let laid = layout_document(&doc, &f, None);
        let mut table_pages = 0;
        for page in &laid.pages[1..] {
            let t = texts(page);
            let has_rows = t.iter().any(|l| l.text.starts_with("E-"));
            let headers = t.iter().filter(|l| l.text == "SHA-256").count();
            if has_rows {
                table_pages += 1;
                assert_eq!(headers, 1, "each table page shows the header exactly once");
                // The header sits above every row on the page.
                let header_y = t.iter().find(|l| l.text == "SHA-256").map(|l| l.y).unwrap_or(f32::MAX);
                assert!(t.iter().filter(|l| l.text.starts_with("E-")).all(|l| l.y > header_y));
            }
        }
        assert!(table_pages >= 3, "150 rows span several pages, got {table_pages}");
        // Every row appears exactly once.
        let ids: usize =
            laid.pages.iter().map(|pg| texts(pg).iter().filter(|l| l.text.starts_with("E-")).count()).sum();
        assert_eq!(ids, 150);
    }

    #[test]
    fn tall_rows_are_split_and_stay_on_the_page() {
        let f = fonts();
        let giant: String = (0..3000).map(|k| format!("word{k} ")).collect();
        let doc = Document {
            meta: meta(),
            blocks: vec![Block::Table(Table {
                align: vec![],
                header: vec![vec![p("K")], vec![p("V")]],
                rows: vec![vec![vec![p("k")], vec![p(&giant)]]],
            })],
        };
        let laid = layout_document(&doc, &f, None);
        assert!(laid.pages.len() >= 3, "the giant row spans pages");
        for page in &laid.pages[1..] {
            for it in &page.items {
                let bottom = match it {
                    Item::Text(l) if l.y == FOOTER_BASELINE => continue,
                    Item::Text(l) => l.y,
                    Item::Fill { y, h, .. } => y + h,
                    Item::Line { y1, y2, .. } => y1.max(*y2),
                    _ => continue,
                };
                assert!(bottom <= BODY_BOTTOM + EPS, "{it:?} runs into the footer");
            }
            // Each page with the row shows the repeated header above it.
            assert_eq!(texts(page).iter().filter(|l| l.text == "V").count(), 1);
        }
    }

    #[test]
    fn headings_keep_with_following_lines() {
        let f = fonts();
        let doc = sample_doc();
        let laid = layout_document(&doc, &f, None);
        let mut headings = Vec::new();
        collect_headings(&doc.blocks, &mut headings);
        for page in &laid.pages[1..] {
            let t = texts(page);
            for h in t.iter().filter(|l| l.face == Face::Bold && l.size >= 12.5 && l.y < BODY_BOTTOM) {
                let below: std::collections::BTreeSet<i64> = t
                    .iter()
                    .filter(|l| l.y > h.y + 1.0 && l.y < BODY_BOTTOM && l.face == Face::Regular)
                    .map(|l| (l.y * 10.0) as i64)
                    .collect();
                assert!(below.len() >= 2, "heading {:?} is followed by {} lines on its page", h.text, below.len());
            }
        }
    }

    #[test]
    fn toc_and_links_resolve_to_pages() {
        let f = fonts();
        let laid = layout_document(&sample_doc(), &f, None);
        let toc = &laid.pages[1];
        let entry = texts(toc).into_iter().find(|l| l.text == "2 Evidence").expect("TOC entry");
        let page_no = texts(toc)
            .into_iter()
            .find(|l| (l.y - entry.y).abs() < 0.01 && l.text.chars().all(|c| c.is_ascii_digit()))
            .expect("page number on the entry's baseline");
        let n: usize = page_no.text.parse().unwrap();
        let target = &laid.pages[n - 1];
        assert!(texts(target).iter().any(|l| l.text == "2 Evidence"), "TOC number points at the heading's page");
        let links: Vec<&Target> = laid
            .pages
            .iter()
            .flat_map(|pg| &pg.items)
            .filter_map(|it| if let Item::Link { target, .. } = it { Some(target) } else { None })
            .collect();
        assert!(links.iter().all(|t| matches!(t, Target::Page(..) | Target::Uri(_))));
        assert!(links.iter().any(|t| matches!(t, Target::Page(p, _) if *p == n)), "#evidence link resolved");
        assert_eq!(laid.outline.iter().filter(|e| e.level == 1).count(), 2);
    }

    #[test]
    fn outline_tree_nests_by_level() {
        let t = OutlineTree::build(&[1, 2, 2, 1, 3, 2, 1]);
        assert_eq!(t.roots, vec![0, 3, 6]);
        assert_eq!(t.children[0], vec![1, 2]);
        assert_eq!(t.children[3], vec![4, 5]);
        assert_eq!(t.parent[5], Some(3));
        let starts_deep = OutlineTree::build(&[2, 1, 2]);
        assert_eq!(starts_deep.roots, vec![0, 1]);
    }

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

    #[test]
    fn never_panics_on_odd_documents() {
        let cell = |t: &str| vec![p(t)];
        let huge = "A".repeat(20_000);
        let odd = vec![
            Block::Heading { level: 0, id: String::new(), text: vec![] },
            Block::Heading { level: 200, id: "x".into(), text: vec![p("")] },
            Block::Paragraph(vec![]),
            Block::Paragraph(vec![p(""), p("   "), p("\n\n"), code("")]),
            Block::Paragraph(vec![p(&huge)]),
            Block::Paragraph(vec![Inline {
                text: "dead link".into(),
                style: Style::default(),
                link: Some("#missing".into()),
            }]),
            Block::Paragraph(vec![Inline {
                text: "empty link".into(),
                style: Style::default(),
                link: Some(String::new()),
            }]),
            Block::Paragraph(vec![p("emoji 😀 CJK 漢字 control \u{7} zero\u{200b}width")]),
            Block::List { ordered: true, items: vec![] },
            Block::List { ordered: false, items: vec![vec![], vec![Block::PageBreak], vec![Block::Rule]] },
            Block::Table(Table { align: vec![], header: vec![], rows: vec![] }),
            Block::Table(Table { align: vec![], header: vec![], rows: vec![vec![], vec![]] }),
            Block::Table(Table {
                align: vec![Align::Right; 12],
                header: vec![cell(""); 12],
                rows: vec![vec![cell(&huge)], vec![]],
            }),
            Block::Table(Table { align: vec![], header: vec![cell("only header")], rows: vec![] }),
            Block::Code(String::new()),
            Block::Code(format!("\t\tx\r\n\n{huge}\n")),
            Block::Quote(vec![]),
            Block::Quote(vec![Block::Quote(vec![Block::Paragraph(vec![p("deep")])])]),
            Block::Chart(Chart {
                title: String::new(),
                row_labels: vec![],
                col_labels: vec![],
                x_title: String::new(),
                y_title: String::new(),
                cells: vec![],
            }),
            Block::Chart(Chart {
                title: huge.clone(),
                row_labels: vec![huge.clone()],
                col_labels: vec![],
                x_title: huge.clone(),
                y_title: huge.clone(),
                cells: vec![
                    vec![ChartCell { label: huge.clone(), fill: "nonsense".into() }],
                    vec![],
                    vec![ChartCell { label: "x".into(), fill: "#fff".into() }; 40],
                ],
            }),
            Block::Chart(Chart {
                title: "many rows".into(),
                row_labels: (0..300).map(|k| k.to_string()).collect(),
                col_labels: vec!["a".into()],
                x_title: "x".into(),
                y_title: "y".into(),
                cells: vec![vec![ChartCell { label: "1".into(), fill: "#ff0000".into() }]; 300],
            }),
            Block::Toc,
            Block::Toc,
            Block::PageBreak,
        ];
        let mut m = meta();
        m.accent = "not a colour".into();
        m.date = "someday".into();
        m.title = huge.clone();
        m.organisation = huge.clone();
        m.confidentiality = huge.clone();
        m.subtitle = vec![String::new(), huge.clone()];
        for doc in [
            Document::default(),
            Document { meta: m.clone(), blocks: vec![] },
            Document { meta: m.clone(), blocks: odd.clone() },
            Document { meta: meta(), blocks: vec![Block::Toc] },
            Document { meta: meta(), blocks: vec![Block::PageBreak] },
        ] {
            let bytes = render(&doc).expect("odd documents still render");
            assert!(bytes.starts_with(b"%PDF-"));
        }
        // Nothing drawn outside the page.
        let f = fonts();
        for page in layout_document(&Document { meta: m, blocks: odd }, &f, None).pages {
            for l in texts(&page) {
                assert!(l.y >= 0.0 && l.y <= PAGE_H, "{:?} at y {}", l.text.chars().take(20).collect::<String>(), l.y);
                assert!(
                    l.x >= MARGIN_X - EPS && l.x + f.text_width(l.face, l.size, &l.text) <= PAGE_W - MARGIN_X + 0.5
                        || l.rotated
                );
            }
        }
    }

    /// A valid PNG: one stored (uncompressed) zlib block, correct CRCs and Adler-32.
    fn tiny_png(w: u32, h: u32, color_type: u8, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
        let channels = if color_type == 2 { 3 } else { 1 };
        let mut raw = Vec::new();
        for y in 0..h {
            raw.push(0); // filter: none
            for x in 0..w {
                raw.extend([(x * 16) as u8, (y * 16) as u8, 0x80][..channels].iter());
            }
        }
        let len = raw.len() as u16;
        let mut z = vec![0x78, 0x01, 0x01];
        z.extend(len.to_le_bytes());
        z.extend((!len).to_le_bytes());
        z.extend(&raw);
        let (mut a, mut b) = (1u32, 0u32);
        for &x in &raw {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        z.extend(((b << 16) | a).to_be_bytes());
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut td = kind.to_vec();
            td.extend(data);
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend(&td);
            c.extend(crc32(&td).to_be_bytes());
            c
        };
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, color_type, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        for (kind, data) in extra {
            png.extend(chunk(kind, data));
        }
        png.extend(chunk(b"IDAT", &z));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn opaque_png_and_jpeg_logos_embed_without_decoding() {
        let png = tiny_png(16, 8, 2, &[]);
        let (_, w, h) = passthrough_image(&png).expect("RGB PNG passes through");
        assert_eq!((w, h), (16, 8));
        let mut m = meta();
        m.logo = Some(png.clone());
        let bytes = render(&Document { meta: m, blocks: vec![] }).expect("renders with logo");
        assert!(bytes.windows(b"/Predictor 15".len()).any(|w| w == b"/Predictor 15"));

        let palette: &[u8] = &[0, 0, 0, 255, 0, 0];
        assert!(passthrough_image(&tiny_png(4, 4, 3, &[(b"PLTE", palette)])).is_some());
        // Transparency and damaged files need a real decoder.
        assert!(passthrough_image(&tiny_png(4, 4, 3, &[(b"PLTE", palette), (b"tRNS", &[0])])).is_none());
        let mut corrupt = png;
        let n = corrupt.len();
        corrupt[n - 20] ^= 0xFF;
        assert!(passthrough_image(&corrupt).is_none());

        // JPEG: SOI, an APP0 segment, then a baseline frame header 300x200, 3 components.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        jpeg.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0xC8, 0x01, 0x2C, 0x03]);
        jpeg.extend([0; 9]);
        assert_eq!(jpeg_info(&jpeg), Some((300, 200, 3)));
        jpeg[12] = 12; // 12-bit precision is not for passthrough
        assert_eq!(jpeg_info(&jpeg), None);
    }

    #[test]
    fn bad_logo_is_an_error_not_a_panic() {
        let mut m = meta();
        m.logo = Some(b"definitely not an image".to_vec());
        let err = render(&Document { meta: m, blocks: vec![] }).unwrap_err();
        assert!(matches!(err, PdfError::Logo(_)));
    }

    #[test]
    fn column_widths_fill_exactly_the_available_width() {
        for (min, pref) in [
            (vec![10.0, 20.0], vec![30.0, 40.0]),
            (vec![100.0, 110.0, 110.0], vec![300.0, 600.0, 50.0]),
            (vec![110.0; 8], vec![500.0; 8]),
            (vec![0.0], vec![0.0]),
        ] {
            let w = column_widths(&min, &pref, 480.0);
            let sum: f32 = w.iter().sum();
            assert!((sum - 480.0).abs() < 0.05, "{w:?}");
            assert!(w.iter().all(|c| *c > 0.0));
        }
        // A short column next to long ones keeps its text on one line.
        let w = column_widths(&[15.0, 110.0, 110.0], &[30.0, 900.0, 300.0], 480.0);
        assert!(w[0] >= 30.0 + 2.0 * CELL_PAD_X - EPS, "{w:?}");
    }
}
