//! Tables: column widths HTML auto-table style, rows as fragments, a header repeated on every
//! page, tall rows flowing one band of lines at a time.

use super::blocks::{Area, Layouter, line_items};
use super::fonts::Fonts;
use super::items::{Frag, Item};
use super::lines::{Line, TextStyle, Word, break_lines, words_from_inlines};
use super::theme::{BODY_H, CELL_PAD_X, CELL_PAD_Y, EPS, LEADING, MIN_TABLE_SIZE, Rgb3, TABLE_MIN_CAP, TABLE_SIZE};
use crate::render::doc::{Align, Inline, Table};
use std::rc::Rc;

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
    pub(super) fn table(&mut self, t: &Table, area: Area, out: &mut Vec<Frag>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
