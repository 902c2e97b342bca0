//! Stage 3, blocks: every block of the document becomes fragments (headings, paragraphs, lists,
//! quotes, code, the table of contents); tables and charts have rooms of their own.

use super::fonts::{Face, Fonts, is_invisible};
use super::items::{Bar, Frag, Item, Target};
use super::lines::{Line, TextStyle, baseline_in, break_lines, plain_lines, words_from_inlines};
use super::theme::{BODY_SIZE, CODE_BLOCK_SIZE, EPS, LEADING, PARA_SPACE, TIGHT_SPACE, Theme};
use crate::render::doc::{Block, Inline, plain_text};

/// Emits the items of one line whose box starts at (`x`, `y_top`).
pub(super) fn line_items(line: &Line, x: f32, y_top: f32, items: &mut Vec<Item>) {
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
pub(super) struct HeadingInfo {
    pub(super) level: u8,
    pub(super) id: String,
    pub(super) title: String,
}

/// Headings in the order the layouter meets them (it numbers them the same way).
pub(super) fn collect_headings(blocks: &[Block], out: &mut Vec<HeadingInfo>) {
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
pub(super) struct Area {
    pub(super) x: f32,
    pub(super) w: f32,
    /// Inside a list item: tighter paragraph spacing.
    pub(super) tight: bool,
    pub(super) list_depth: usize,
    pub(super) quote: bool,
}

pub(super) struct Layouter<'a> {
    pub(super) fonts: &'a Fonts,
    pub(super) theme: Theme,
    pub(super) headings: &'a [HeadingInfo],
    pub(super) next_heading: usize,
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

    pub(super) fn para_space(area: Area) -> f32 {
        if area.tight { TIGHT_SPACE } else { PARA_SPACE }
    }

    pub(super) fn blocks(&mut self, blocks: &[Block], area: Area, out: &mut Vec<Frag>) {
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
