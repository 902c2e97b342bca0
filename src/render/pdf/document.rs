//! Stage 5, resolve: the whole document laid out, the title page and the running header and
//! footer, then TOC page numbers and internal links filled in once every page is known.

use super::blocks::{Area, Layouter, collect_headings};
use super::fonts::{Face, Fonts, clean_plain};
use super::items::{Item, Label, Target};
use super::lines::wrap_plain;
use super::paginate::{Page, paginate};
use super::theme::{
    BODY_SIZE, FOOTER_BASELINE, HEADER_BASELINE, HEADER_RULE, MARGIN_X, MM, PAGE_H, PAGE_W, SMALL_SIZE, TEXT_W, Theme,
};
use crate::render::doc::Document;
use std::collections::HashMap;

/// A heading in the PDF outline (bookmarks).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OutlineEntry {
    pub(super) level: u8,
    pub(super) title: String,
    /// 1-based page number.
    pub(super) page: usize,
    /// Destination y in PDF coordinates (from the page bottom).
    pub(super) top: f32,
}

/// Everything needed to write the PDF: finished pages (title page first) and the outline.
pub(super) struct LaidOut {
    pub(super) pages: Vec<Page>,
    pub(super) outline: Vec<OutlineEntry>,
}

pub(super) fn layout_document(doc: &Document, fonts: &Fonts, logo: Option<(usize, usize)>) -> LaidOut {
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
