//! What pages are made of: items drawn at positions, link targets, and fragments, the
//! unbreakable vertical boxes that blocks become and pagination stacks.

use super::fonts::Face;
use super::theme::Rgb3;
use std::rc::Rc;

/// Where a link points.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Target {
    /// Heading number in document order (TOC entries); resolved after pagination.
    Heading(usize),
    /// `#id` from the document; resolved after pagination.
    Anchor(String),
    Uri(String),
    /// Resolved internal destination: 1-based page number and y from the page top.
    Page(usize, f32),
}

impl Target {
    pub(super) fn parse(link: &str) -> Option<Target> {
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
pub(super) struct Label {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) face: Face,
    pub(super) size: f32,
    pub(super) color: Rgb3,
    pub(super) text: String,
    /// Extra space after every glyph (PDF `Tc`); used for evenly pitched TOC leaders.
    pub(super) spacing: f32,
    /// Reads bottom-to-top (chart y-axis title).
    pub(super) rotated: bool,
}

/// Something drawn on a page. Coordinates are in points, y downwards from the top.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Item {
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
    pub(super) fn text(x: f32, y: f32, face: Face, size: f32, color: Rgb3, text: impl Into<String>) -> Item {
        Item::Text(Label { x, y, face, size, color, text: text.into(), spacing: 0.0, rotated: false })
    }

    pub(super) fn shift(&mut self, dy: f32) {
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
pub(super) struct Bar {
    pub(super) x: f32,
    pub(super) color: Rgb3,
    /// Also cover the gap above (the previous fragment is in the same quote).
    pub(super) join_prev: bool,
}

/// An unbreakable vertical box: the unit of pagination. Item y's are relative to its top.
#[derive(Debug, Clone, Default)]
pub(super) struct Frag {
    pub(super) height: f32,
    pub(super) space_before: f32,
    pub(super) space_after: f32,
    /// Must end up on the same page as the next fragment (headings, orphan/widow lines,
    /// a table header and its first row).
    pub(super) keep_with_next: bool,
    /// Start on a fresh page.
    pub(super) break_before: bool,
    /// What follows starts on a fresh page.
    pub(super) break_after: bool,
    pub(super) items: Vec<Item>,
    /// Number of the heading anchored at this fragment's top.
    pub(super) heading: Option<usize>,
    /// The table header to repeat above this row when it starts a page.
    pub(super) repeat_header: Option<Rc<Frag>>,
    /// Baseline of the first text line (where a list marker goes).
    pub(super) first_baseline: Option<f32>,
    pub(super) bars: Vec<Bar>,
    /// A rule (x1, x2, colour) drawn under this fragment if a page break follows it: closes a
    /// table row that continues on the next page.
    pub(super) seal: Option<(f32, f32, Rgb3)>,
    /// Placed between the repeated header and this fragment when it starts a page: the cell
    /// padding a continuing row band otherwise lacks.
    pub(super) lead_in: Option<Rc<Frag>>,
}

impl Frag {
    /// Nothing to draw: only carries break flags (`Block::PageBreak`).
    pub(super) fn is_marker(&self) -> bool {
        self.height == 0.0 && self.items.is_empty() && self.heading.is_none()
    }
}
