//! The layout-neutral document that HTML and PDF are both drawn from.
//!
//! Markdown (rendered from the report model through templates) is parsed once into this
//! block tree; the PDF writer lays it out on pages, so the formats never disagree.

use serde::Serialize;

/// A whole rendered document: metadata for covers and running headers, then blocks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Document {
    pub meta: DocMeta,
    pub blocks: Vec<Block>,
}

/// What the running header, the title page and the PDF info dictionary show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DocMeta {
    /// Document title, e.g. "SOC 2 Type 2 Package".
    pub title: String,
    /// Lines under the title on the title page (organisation, system, period ...).
    pub subtitle: Vec<String>,
    /// Organisation name, shown in the running header.
    pub organisation: String,
    /// Confidentiality label, shown in the running header (e.g. "Confidential").
    pub confidentiality: String,
    /// Document date as YYYY-MM-DD; also the PDF creation date (deterministic).
    pub date: String,
    /// The date line of the title page, in words ("Draft of 15 July 2026"); `date` when empty.
    pub date_text: String,
    /// Accent colour as "#rrggbb".
    pub accent: String,
    /// Optional logo: PNG or JPEG bytes.
    #[serde(skip)]
    pub logo: Option<Vec<u8>>,
}

/// A block-level element.
#[derive(Debug, Clone, Serialize)]
pub enum Block {
    /// Level 1..=6. `id` is the anchor (HTML id, PDF link target).
    Heading {
        level: u8,
        id: String,
        text: Vec<Inline>,
    },
    Paragraph(Vec<Inline>),
    /// Each item is a list of blocks (usually one paragraph).
    List {
        ordered: bool,
        items: Vec<Vec<Block>>,
    },
    Table(Table),
    /// Preformatted text; lines are kept, long lines wrap in the PDF.
    Code(String),
    Quote(Vec<Block>),
    Rule,
    /// Force a new page in paged output; ignored in HTML.
    PageBreak,
    /// The table of contents goes here (PDF: with page numbers).
    Toc,
    /// A chart drawn as vector graphics in the PDF and as inline SVG in HTML.
    Chart(Chart),
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub align: Vec<Align>,
    pub header: Vec<Vec<Inline>>,
    pub rows: Vec<Vec<Vec<Inline>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// An inline run of text with one style.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inline {
    pub text: String,
    pub style: Style,
    /// Link target: "#anchor" for internal links, else an external URL.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Style {
    pub bold: bool,
    pub italic: bool,
    pub code: bool,
}

/// A grid chart such as a risk heat map: `cells[row][col]` with a label and a fill colour.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub title: String,
    pub row_labels: Vec<String>,
    pub col_labels: Vec<String>,
    pub x_title: String,
    pub y_title: String,
    pub cells: Vec<Vec<ChartCell>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChartCell {
    pub label: String,
    /// "#rrggbb"
    pub fill: String,
}

impl Inline {
    pub fn plain(text: impl Into<String>) -> Self {
        Inline { text: text.into(), style: Style::default(), link: None }
    }
}

/// Concatenated text of a run of inlines (for outlines, anchors, search).
pub fn plain_text(inlines: &[Inline]) -> String {
    inlines.iter().map(|i| i.text.as_str()).collect()
}
