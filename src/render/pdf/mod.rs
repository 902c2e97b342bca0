//! PDF writer: lays a [`Document`] out on A4 pages and serialises it with printpdf.
//!
//! The layout is a small pipeline over plain data, so every stage can be tested on its own:
//!
//! 1. **measure** (`fonts`) – `Fonts` holds the four embedded DejaVu faces and measures text
//!    with the same per-glyph advances printpdf writes into the PDF `/W` arrays, so what we
//!    measure is exactly what a viewer draws (no shaping or kerning happens on either side).
//! 2. **lines** (`lines`) – inline runs become `Word`s, and words are broken greedily into
//!    `Line`s. A token wider than the measure (a SHA-256, a long path) is hard-broken, preferably
//!    after a separator such as `/` or `-`, so nothing ever crosses a margin or a cell border.
//! 3. **blocks** (`blocks`, `table`, `chart`) – every block becomes `Frag`s (`items`):
//!    unbreakable vertical boxes (one paragraph line, one table row, a whole chart) with spacing
//!    and keep-with-next flags.
//! 4. **pages** (`paginate`) – `paginate` stacks fragments onto pages, honouring keep-with-next
//!    chains (headings never end a page, no single-line orphans/widows), forced breaks, and
//!    repeating a table's header row on every page the table continues on.
//! 5. **resolve** (`document`) – once every page is known, TOC page numbers, internal links and
//!    "Page X of Y" are filled in (this is the second pass: the TOC's size never depends on
//!    its page numbers, so one pagination plus late binding is enough and cannot oscillate).
//! 6. **ops** (`ops`, `write`) – placed items become printpdf `Op`s; the document is saved
//!    through lopdf so the outline can be nested and the trailer `/ID` made deterministic.
//!
//! `theme` holds the page geometry, type sizes and colours every stage shares; `logo` embeds
//! the title page's image.

mod blocks;
mod chart;
mod document;
mod fonts;
mod items;
mod lines;
mod logo;
mod ops;
mod paginate;
mod table;
mod theme;
mod write;

use super::doc::Document;
use document::{LaidOut, layout_document};
use fonts::Fonts;
use logo::decode_logo;
use write::{build_pdf, document_id, save};

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

/// Whether `build` can embed `bytes` as the logo: what `check` asks, so a logo `check` accepts
/// never fails the build. Decoded the same way the PDF does.
pub fn is_supported_image(bytes: &[u8]) -> bool {
    matches!(decode_logo(Some(bytes)), Ok(Some(_)))
}

#[cfg(test)]
mod tests;
