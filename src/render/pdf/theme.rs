//! The page's geometry and type sizes (PDF points, y growing downwards from the page top),
//! and the colours, all derived from `meta.accent`.

use printpdf::{Color, Rgb};

// ---------------------------------------------------------------------------------------------
// Geometry and typography (PDF points; layout uses y growing downwards from the page top)
// ---------------------------------------------------------------------------------------------

pub(super) const MM: f32 = 72.0 / 25.4;
pub(super) const PAGE_W: f32 = 210.0 * MM;
pub(super) const PAGE_H: f32 = 297.0 * MM;
pub(super) const MARGIN_X: f32 = 20.0 * MM;
pub(super) const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
/// Top of the body area; the running header sits above it.
pub(super) const BODY_TOP: f32 = 25.0 * MM;
/// Bottom of the body area; the footer sits below it.
pub(super) const BODY_BOTTOM: f32 = PAGE_H - 20.0 * MM;
pub(super) const BODY_H: f32 = BODY_BOTTOM - BODY_TOP;
pub(super) const HEADER_BASELINE: f32 = 14.0 * MM;
pub(super) const HEADER_RULE: f32 = 16.5 * MM;
pub(super) const FOOTER_BASELINE: f32 = PAGE_H - 11.0 * MM;

pub(super) const BODY_SIZE: f32 = 9.5;
/// Line height as a multiple of the font size.
pub(super) const LEADING: f32 = 1.42;
/// DejaVu Sans Mono looks larger than Sans at the same size; inline code is set smaller.
pub(super) const CODE_SCALE: f32 = 0.88;
pub(super) const TABLE_SIZE: f32 = 8.0;
pub(super) const CODE_BLOCK_SIZE: f32 = 7.8;
pub(super) const SMALL_SIZE: f32 = 7.8;
pub(super) const PARA_SPACE: f32 = 6.0;
pub(super) const TIGHT_SPACE: f32 = 3.0;
pub(super) const EPS: f32 = 0.01;
/// Longest-word minimum of a table column is capped so one hash cannot starve other columns.
pub(super) const TABLE_MIN_CAP: f32 = 110.0;
/// The smallest size a wide table is set in so that its header words fit.
pub(super) const MIN_TABLE_SIZE: f32 = 6.0;
pub(super) const CELL_PAD_X: f32 = 4.0;
pub(super) const CELL_PAD_Y: f32 = 3.0;

// ---------------------------------------------------------------------------------------------
// Colours
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rgb3(pub(super) f32, pub(super) f32, pub(super) f32);

impl Rgb3 {
    pub(super) const WHITE: Rgb3 = Rgb3(1.0, 1.0, 1.0);

    /// Parses `#rrggbb` or `#rgb`.
    pub(super) fn parse(s: &str) -> Option<Rgb3> {
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
    pub(super) fn luminance(self) -> f32 {
        0.2126 * self.0 + 0.7152 * self.1 + 0.0722 * self.2
    }

    pub(super) fn pdf(self) -> Color {
        Color::Rgb(Rgb::new(self.0, self.1, self.2, None))
    }
}

/// All colours the layout uses, derived from `meta.accent`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Theme {
    /// Fills and rules.
    pub(super) accent: Rgb3,
    /// Accent for text on white (headings, links): darkened if the accent is too light to read.
    pub(super) accent_text: Rgb3,
    pub(super) on_accent: Rgb3,
    pub(super) text: Rgb3,
    pub(super) muted: Rgb3,
    pub(super) rule: Rgb3,
    pub(super) border: Rgb3,
    pub(super) zebra: Rgb3,
    pub(super) code_bg: Rgb3,
    pub(super) code_text: Rgb3,
    pub(super) quote_bar: Rgb3,
}

impl Theme {
    pub(super) fn new(accent: &str) -> Theme {
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
