//! Stage 6, write: the printpdf document (metadata, fonts, pages, outline) and its serialisation
//! through lopdf, with a deterministic `/ID` and a nested outline.

use super::PdfError;
use super::document::OutlineEntry;
use super::fonts::Fonts;
use super::logo::{LOGO_ID, Logo};
use super::ops::page_ops;
use super::paginate::Page;
use crate::render::doc::Document;
use printpdf::{
    ImageCompression, ImageOptimizationOptions, PageAnnotId, PageAnnotation, PdfDocument, PdfFont, PdfPage,
    PdfParseErrorSeverity, PdfSaveOptions, PdfWarnMsg, XObjectId,
};

/// `YYYY-MM-DD` as midnight UTC; anything else falls back to the epoch (never the clock).
fn pdf_date(s: &str) -> printpdf::date::DateTime {
    use printpdf::date::{Date, DateTime, Offset, Time};
    let parts: Vec<&str> = s.trim().split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] if y.len() == 4 => match (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) {
            (Ok(y), Ok(m), Ok(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
                Some(Date { year: y, month: m, day: d })
            }
            _ => None,
        },
        _ => None,
    };
    match parsed {
        Some(date) => DateTime::new_in_offset(
            date,
            Time { hour: 0, minute: 0, second: 0, millisecond: 0 },
            Offset { hours: 0, minutes: 0, seconds: 0, milliseconds: 0 },
        ),
        None => DateTime::epoch(),
    }
}

pub(super) fn build_pdf(
    doc: &Document,
    pages: Vec<Page>,
    outline: &[OutlineEntry],
    fonts: &Fonts,
    logo: Option<Logo>,
) -> PdfDocument {
    let meta = &doc.meta;
    let mut pdf = PdfDocument::new(&meta.title);
    let info = &mut pdf.metadata.info;
    let date = pdf_date(&meta.date);
    info.creation_date = date;
    info.modification_date = date;
    info.metadata_date = date;
    info.author = meta.organisation.clone();
    info.subject = meta.subtitle.join(" — ");
    info.creator = "auditpack".to_string();
    info.producer = "auditpack (printpdf 0.12.8)".to_string();

    // Fixed resource ids (not printpdf's counter-based ones) keep the output deterministic.
    for fd in &fonts.faces {
        pdf.resources.fonts.map.insert(fd.id.clone(), PdfFont::new(fd.font.clone()));
    }
    let logo_px = logo.as_ref().map(|l| (l.width, l.height));
    if let Some(logo) = logo {
        pdf.resources.xobjects.map.insert(XObjectId(LOGO_ID.to_string()), logo.xobject);
    }
    let pages = pages
        .into_iter()
        .map(|p| PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), page_ops(p, fonts, logo_px)))
        .collect();
    pdf.with_pages(pages);

    // printpdf writes a flat outline sorted by (page, name): index names make that document
    // order; `save` then puts the real titles in and nests the entries.
    for (i, e) in outline.iter().enumerate() {
        pdf.bookmarks
            .map
            .insert(PageAnnotId(format!("B{i:06}")), PageAnnotation { name: format!("{i:06}"), page: e.page });
    }
    pdf
}

/// Parent/sibling structure of the outline, from heading levels.
#[derive(Debug, PartialEq)]
struct OutlineTree {
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
}

impl OutlineTree {
    fn build(levels: &[u8]) -> OutlineTree {
        let n = levels.len();
        let mut t = OutlineTree { parent: vec![None; n], children: vec![Vec::new(); n], roots: Vec::new() };
        let mut stack: Vec<usize> = Vec::new();
        for (i, &lvl) in levels.iter().enumerate() {
            while stack.last().is_some_and(|&s| levels[s] >= lvl) {
                stack.pop();
            }
            match stack.last() {
                Some(&p) => {
                    t.parent[i] = Some(p);
                    t.children[p].push(i);
                }
                None => t.roots.push(i),
            }
            stack.push(i);
        }
        t
    }

    /// The sibling list `i` belongs to.
    fn siblings(&self, i: usize) -> &[usize] {
        match self.parent[i] {
            Some(p) => &self.children[p],
            None => &self.roots,
        }
    }
}

fn utf16_title(s: &str) -> Vec<u8> {
    let mut out = vec![0xFE, 0xFF];
    out.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
    out
}

/// A stable document id from the input: the same document always gets the same `/ID`.
pub(super) fn document_id(doc: &Document) -> String {
    // SHA-256 of the document's JSON (a stable form of every block and of the metadata; the
    // logo is skipped there, so its bytes follow), streamed into the hash; 16 bytes, as hex.
    let mut h = crate::output::HashingWriter::new(std::io::sink());
    let _ = serde_json::to_writer(&mut h, doc);
    let _ = std::io::Write::write_all(&mut h, doc.meta.logo.as_deref().unwrap_or_default());
    crate::text::hex(&h.finish().0[..16])
}

/// Serialises through lopdf (printpdf's `to_lopdf_document`) to fix what printpdf cannot be
/// told: the trailer `/ID` (random per save) and a nested outline with exact destinations.
/// lopdf is not a direct dependency, so its values are only touched through methods.
pub(super) fn save(pdf: PdfDocument, outline: &[OutlineEntry], id: &str) -> Result<Vec<u8>, PdfError> {
    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        secure: true,
        // Logos are flat artwork: keep them lossless and at full resolution.
        image_optimization: Some(ImageOptimizationOptions {
            quality: None,
            max_image_size: None,
            dither_greyscale: Some(false),
            convert_to_greyscale: Some(false),
            auto_optimize: Some(true),
            format: Some(ImageCompression::Flate),
        }),
    };
    let mut warnings: Vec<PdfWarnMsg> = Vec::new();
    let mut lo = pdf.to_lopdf_document(&opts, &mut warnings);
    drop(pdf);
    if let Some(w) = warnings.iter().find(|w| w.severity == PdfParseErrorSeverity::Error) {
        return Err(PdfError::Write(w.msg.clone()));
    }

    if let Ok(ids) = lo.trailer.get_mut(b"ID").and_then(|o| o.as_array_mut()) {
        for part in ids.iter_mut() {
            if let Ok(bytes) = part.as_str_mut() {
                *bytes = id.as_bytes().to_vec();
            }
        }
    }

    // printpdf always writes PDF/X and identifier keys; empty, they make readers report a
    // PDF/X subtype this file does not claim.
    if let Ok(info_id) = lo.trailer.get(b"Info").and_then(|o| o.as_reference())
        && let Ok(info) = lo.get_object_mut(info_id).and_then(|o| o.as_dict_mut())
    {
        for key in [&b"GTS_PDFXVersion"[..], b"Identifier", b"Keywords", b"Trapped"] {
            info.remove(key);
        }
    }

    let outlines_id = lo
        .trailer
        .get(b"Root")
        .and_then(|o| o.as_reference())
        .and_then(|r| lo.get_object(r))
        .and_then(|o| o.as_dict())
        .and_then(|d| d.get(b"Outlines"))
        .and_then(|o| o.as_reference())
        .ok();
    if let Some(root_id) = outlines_id {
        let mut items = Vec::new();
        let mut cur = lo
            .get_object(root_id)
            .and_then(|o| o.as_dict())
            .and_then(|d| d.get(b"First"))
            .and_then(|o| o.as_reference())
            .ok();
        while let Some(item) = cur {
            if items.len() >= outline.len() {
                break;
            }
            items.push(item);
            cur = lo
                .get_object(item)
                .and_then(|o| o.as_dict())
                .and_then(|d| d.get(b"Next"))
                .and_then(|o| o.as_reference())
                .ok();
        }
        let nest = items.len() == outline.len();
        let levels: Vec<u8> = outline.iter().map(|e| e.level).collect();
        let tree = OutlineTree::build(&levels);
        for (i, item) in items.iter().enumerate() {
            let Ok(dict) = lo.get_object_mut(*item).and_then(|o| o.as_dict_mut()) else {
                continue;
            };
            if let Ok(title) = dict.get_mut(b"Title").and_then(|o| o.as_str_mut()) {
                *title = utf16_title(&outline[i].title);
            }
            if let Ok(dest) = dict.get_mut(b"Dest").and_then(|o| o.as_array_mut())
                && dest.len() == 5
            {
                dest[3] = outline[i].top.into();
            }
            if !nest {
                continue;
            }
            dict.set("Parent", tree.parent[i].map_or(root_id, |p| items[p]));
            let sib = tree.siblings(i);
            let pos = sib.iter().position(|&s| s == i).unwrap_or(0);
            match pos.checked_sub(1).map(|k| items[sib[k]]) {
                Some(prev) => dict.set("Prev", prev),
                None => {
                    dict.remove(b"Prev");
                }
            }
            match sib.get(pos + 1).map(|&k| items[k]) {
                Some(next) => dict.set("Next", next),
                None => {
                    dict.remove(b"Next");
                }
            }
            let kids = &tree.children[i];
            if let (Some(&first), Some(&last)) = (kids.first(), kids.last()) {
                dict.set("First", items[first]);
                dict.set("Last", items[last]);
                // Top-level entries start open (showing their sections), deeper ones closed.
                let count = kids.len() as i64;
                dict.set("Count", if tree.parent[i].is_none() { count } else { -count });
            }
        }
        if nest
            && let (Some(&first), Some(&last)) = (tree.roots.first(), tree.roots.last())
            && let Ok(root) = lo.get_object_mut(root_id).and_then(|o| o.as_dict_mut())
        {
            root.set("First", items[first]);
            root.set("Last", items[last]);
            let visible: usize = tree.roots.iter().map(|&r| 1 + tree.children[r].len()).sum();
            root.set("Count", visible as i64);
        }
    }

    // lopdf defaults to 1.3; the logo's soft mask (transparency) is PDF 1.4.
    lo.version = "1.4".to_string();
    // Deflates every stream that has no filter yet (page contents, fonts), on every core: what
    // `lopdf::Document::compress` does on one thread at level 9, here at the default level 6,
    // which on page content streams is several times faster for a file ~1% larger. The bytes
    // depend only on each stream, never on the thread that compressed it. (Inline: lopdf's types
    // cannot be named here.)
    {
        use flate2::{Compression, write::ZlibEncoder};
        use rayon::prelude::*;
        use std::io::Write as _;
        lo.objects.par_iter_mut().for_each(|(_, obj)| {
            let Ok(stream) = obj.as_stream_mut() else { return };
            if stream.dict.get(b"Filter").is_ok() {
                return;
            }
            let mut z = ZlibEncoder::new(Vec::with_capacity(stream.content.len() / 4), Compression::default());
            let Ok(compressed) = z.write_all(&stream.content).and_then(|_| z.finish()) else { return };
            // As lopdf does: keep the stream raw when deflating does not pay for the filter entry.
            if compressed.len() + 19 < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed);
            }
        });
    }
    let mut out = Vec::new();
    lo.save_to(&mut out).map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_tree_nests_by_level() {
        let t = OutlineTree::build(&[1, 2, 2, 1, 3, 2, 1]);
        assert_eq!(t.roots, vec![0, 3, 6]);
        assert_eq!(t.children[0], vec![1, 2]);
        assert_eq!(t.children[3], vec![4, 5]);
        assert_eq!(t.parent[5], Some(3));
        let starts_deep = OutlineTree::build(&[2, 1, 2]);
        assert_eq!(starts_deep.roots, vec![0, 1]);
    }
}
