//! Charts: a heat map laid out as one fragment, so it always stays on one page.

use super::blocks::{Area, Layouter};
use super::fonts::{ASCENT, Face, clean_plain};
use super::items::{Frag, Item, Label};
use super::lines::{baseline_in, wrap_plain};
use super::theme::{BODY_H, Rgb3, SMALL_SIZE};
use crate::render::doc::Chart;

impl Layouter<'_> {
    /// A heat map: one fragment, so it always stays on one page (rows shrink if needed).
    pub(super) fn chart(&mut self, c: &Chart, area: Area, out: &mut Vec<Frag>) {
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
