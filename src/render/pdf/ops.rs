//! Stage 6, ops: placed items become printpdf operators, page by page, without repeating state.

use super::fonts::{Face, Fonts};
use super::items::{Item, Label, Target};
use super::logo::LOGO_ID;
use super::paginate::Page;
use super::theme::{PAGE_H, Rgb3};
use printpdf::{
    Actions, BorderArray, ColorArray, Destination, LinePoint, LinkAnnotation, Op, PaintMode, PdfFontHandle, Point, Pt,
    Rect, TextItem, TextMatrix, XObjectId, XObjectTransform,
};

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

pub(super) fn page_ops(page: Page, fonts: &Fonts, logo_px: Option<(usize, usize)>) -> Vec<Op> {
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
