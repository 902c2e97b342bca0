//! Stage 2, lines: inline runs become words, and words are broken greedily into lines; a token
//! wider than the measure is hard-broken, preferably after a separator.

use super::fonts::{ASCENT, DESCENT, Face, Fonts, is_invisible};
use super::theme::{CODE_SCALE, EPS, LEADING, Rgb3, TEXT_W};
use crate::render::doc::{Inline, Style};

/// A run of text in one face, size, colour and link.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Run {
    pub(super) text: String,
    pub(super) face: Face,
    pub(super) size: f32,
    pub(super) color: Rgb3,
    pub(super) link: Option<String>,
    pub(super) width: f32,
}

impl Run {
    fn same_style(&self, face: Face, size: f32, color: Rgb3, link: &Option<String>) -> bool {
        self.face == face && self.size == size && self.color == color && &self.link == link
    }
}

/// An unbreakable token (may mix styles, e.g. `**bold**,`), plus what followed it.
#[derive(Debug, Clone, Default)]
pub(super) struct Word {
    pub(super) runs: Vec<Run>,
    pub(super) width: f32,
    /// Whitespace followed the word (a break opportunity that renders as a space).
    pub(super) space: bool,
    /// A hard line break (`\n`) followed the word.
    pub(super) hard_break: bool,
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
pub(super) struct TextStyle {
    pub(super) size: f32,
    pub(super) color: Rgb3,
    pub(super) bold: bool,
    pub(super) link_color: Rgb3,
    pub(super) code_color: Rgb3,
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
pub(super) fn words_from_inlines(fonts: &Fonts, inlines: &[Inline], st: &TextStyle) -> Vec<Word> {
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
pub(super) struct Line {
    pub(super) runs: Vec<(f32, Run)>,
    pub(super) width: f32,
    /// Largest font size on the line (at least the block's base size): sets the line height.
    size: f32,
}

impl Line {
    pub(super) fn new(size: f32) -> Line {
        Line { runs: Vec::new(), width: 0.0, size }
    }

    pub(super) fn height(&self) -> f32 {
        self.size * LEADING
    }

    pub(super) fn baseline(&self) -> f32 {
        baseline_in(self.height(), self.size)
    }

    fn text(&self) -> String {
        self.runs.iter().map(|(_, r)| r.text.as_str()).collect()
    }
}

/// Baseline offset from the top of a line box of height `h` set at `size`: the glyph box
/// (ascender to descender) is centred in the line, as CSS does with half-leading.
pub(super) fn baseline_in(h: f32, size: f32) -> f32 {
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
pub(super) fn break_lines(fonts: &Fonts, words: &[Word], max_w: f32, base_size: f32) -> Vec<Line> {
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
pub(super) fn plain_lines(fonts: &Fonts, text: &str, face: Face, size: f32, color: Rgb3, max_w: f32) -> Vec<Line> {
    let st = TextStyle { size, color, bold: false, link_color: color, code_color: color };
    let style = Style { bold: face == Face::Bold, italic: face == Face::Italic, code: face == Face::Mono };
    let inline = Inline { text: text.to_string(), style, link: None };
    break_lines(fonts, &words_from_inlines(fonts, &[inline], &st), max_w, size)
}

/// Wraps a plain label to at most `max_lines` lines, ellipsizing the last one if cut.
pub(super) fn wrap_plain(
    fonts: &Fonts,
    face: Face,
    size: f32,
    text: &str,
    max_w: f32,
    max_lines: usize,
) -> Vec<(String, f32)> {
    let lines = plain_lines(fonts, text, face, size, Rgb3::WHITE, max_w);
    let cut = lines.len() > max_lines;
    let mut out: Vec<(String, f32)> = lines.iter().take(max_lines).map(|l| (l.text(), l.width)).collect();
    if cut && let Some(last) = out.last_mut() {
        let t = fonts.ellipsize(face, size, &format!("{}…", last.0), max_w);
        *last = (t.clone(), fonts.text_width(face, size, &t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{HEX, LOREM, body_style, code, fonts, p};
    use super::super::theme::{BODY_SIZE, TEXT_W};
    use super::*;

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
}
