//! The logo: JPEGs and opaque PNGs embedded as they are, anything else through printpdf's decoder.

use super::PdfError;
use printpdf::{RawImage, XObject};

pub(super) const LOGO_ID: &str = "IMLOGO";

/// The logo as a PDF image XObject and its size in pixels.
pub(super) struct Logo {
    pub(super) xobject: XObject,
    pub(super) width: usize,
    pub(super) height: usize,
}

/// JPEGs and opaque PNGs are embedded as they are (see [`passthrough_image`]): lossless, small,
/// and independent of printpdf's optional decoders. Anything else (alpha, interlacing, CMYK)
/// goes through printpdf's decoder, which needs its `png`/`jpeg` features.
pub(super) fn decode_logo(bytes: Option<&[u8]>) -> Result<Option<Logo>, PdfError> {
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    if let Some((xobject, width, height)) = passthrough_image(bytes) {
        return Ok(Some(Logo { xobject: XObject::External(xobject), width, height }));
    }
    let mut warnings = Vec::new();
    let img = RawImage::decode_from_bytes(bytes, &mut warnings).map_err(PdfError::Logo)?;
    if img.width == 0 || img.height == 0 {
        return Err(PdfError::Logo("image has no pixels".to_string()));
    }
    Ok(Some(Logo { width: img.width, height: img.height, xobject: XObject::Image(img) }))
}

/// Embeds an image without decoding it: a baseline/progressive 8-bit grey or RGB JPEG as
/// `DCTDecode` data, or a non-interlaced PNG without alpha as its own zlib data under
/// `FlateDecode` with PNG predictors (PDF readers undo PNG row filters natively).
/// `None` when the image needs real decoding.
fn passthrough_image(bytes: &[u8]) -> Option<(printpdf::ExternalXObject, usize, usize)> {
    use printpdf::DictItem::{Array, Dict, Int, Name, String as Str};
    let name = |n: &str| Name(n.as_bytes().to_vec());
    let (w, h, mut dict, content) = if let Some((w, h, comps)) = jpeg_info(bytes) {
        let cs = if comps == 1 { "DeviceGray" } else { "DeviceRGB" };
        let dict = vec![("ColorSpace", name(cs)), ("BitsPerComponent", Int(8)), ("Filter", name("DCTDecode"))];
        (w, h, dict, bytes.to_vec())
    } else {
        let png = png_info(bytes)?;
        let (colors, cs) = match png.color_type {
            0 => (1, name("DeviceGray")),
            2 => (3, name("DeviceRGB")),
            3 => {
                let entries = png.palette.len() / 3;
                if entries == 0 {
                    return None;
                }
                let indexed = vec![
                    name("Indexed"),
                    name("DeviceRGB"),
                    Int(entries as i64 - 1),
                    Str { data: png.palette[..entries * 3].to_vec(), literal: false },
                ];
                (1, Array(indexed))
            }
            _ => return None,
        };
        let bpc = i64::from(png.bit_depth);
        let parms = [
            ("Predictor", Int(15)),
            ("Colors", Int(colors)),
            ("BitsPerComponent", Int(bpc)),
            ("Columns", Int(png.width as i64)),
        ];
        let dict = vec![
            ("ColorSpace", cs),
            ("BitsPerComponent", Int(bpc)),
            ("Filter", name("FlateDecode")),
            ("DecodeParms", Dict { map: parms.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }),
        ];
        (png.width, png.height, dict, png.idat)
    };
    dict.extend([
        ("Type", name("XObject")),
        ("Subtype", name("Image")),
        ("Width", Int(w as i64)),
        ("Height", Int(h as i64)),
    ]);
    let stream = printpdf::ExternalStream {
        dict: dict.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        content,
        // Already compressed (DCT or zlib); lopdf must not wrap it again.
        compress: false,
    };
    let xobject =
        printpdf::ExternalXObject { stream, width: Some(printpdf::Px(w)), height: Some(printpdf::Px(h)), dpi: None };
    Some((xobject, w, h))
}

/// (width, height, components) of an 8-bit baseline or progressive JPEG with 1 or 3 components.
fn jpeg_info(b: &[u8]) -> Option<(usize, usize, u8)> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if matches!(marker, 0xC0..=0xC2) {
            let seg = b.get(i + 4..i + 10)?;
            let (precision, h, w, comps) =
                (seg[0], u16::from_be_bytes([seg[1], seg[2]]), u16::from_be_bytes([seg[3], seg[4]]), seg[5]);
            return (precision == 8 && w > 0 && h > 0 && matches!(comps, 1 | 3)).then_some((
                usize::from(w),
                usize::from(h),
                comps,
            ));
        }
        // Other SOF types (lossless, arithmetic) and a scan before any frame header: decode.
        if matches!(marker, 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA | 0xD9) || len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

struct PngInfo {
    width: usize,
    height: usize,
    bit_depth: u8,
    color_type: u8,
    palette: Vec<u8>,
    idat: Vec<u8>,
}

/// Header, palette and image data of a PNG that PDF can show as is: not interlaced and
/// without transparency (no alpha channel, no `tRNS`). Chunk CRCs are verified.
fn png_info(b: &[u8]) -> Option<PngInfo> {
    let rest = b.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    let mut info = PngInfo { width: 0, height: 0, bit_depth: 0, color_type: 0, palette: Vec::new(), idat: Vec::new() };
    let mut i = 0;
    let mut seen_header = false;
    while i + 12 <= rest.len() {
        let len = u32::from_be_bytes(rest[i..i + 4].try_into().ok()?) as usize;
        let end = i.checked_add(12)?.checked_add(len)?;
        let chunk = rest.get(i + 4..end - 4)?; // type + data
        let crc = u32::from_be_bytes(rest[end - 4..end].try_into().ok()?);
        // CRC-32 (ISO 3309): PNG's is zip's.
        if crc32fast::hash(chunk) != crc {
            return None;
        }
        let (kind, data) = chunk.split_at(4);
        match kind {
            b"IHDR" if data.len() == 13 => {
                info.width = u32::from_be_bytes(data[0..4].try_into().ok()?) as usize;
                info.height = u32::from_be_bytes(data[4..8].try_into().ok()?) as usize;
                info.bit_depth = data[8];
                info.color_type = data[9];
                let valid_depth = match info.color_type {
                    0 => matches!(info.bit_depth, 1 | 2 | 4 | 8 | 16),
                    2 => matches!(info.bit_depth, 8 | 16),
                    3 => matches!(info.bit_depth, 1 | 2 | 4 | 8),
                    _ => false,
                };
                if !valid_depth
                    || data[10] != 0
                    || data[11] != 0
                    || data[12] != 0
                    || info.width == 0
                    || info.height == 0
                {
                    return None;
                }
                seen_header = true;
            }
            b"PLTE" => info.palette = data.to_vec(),
            b"tRNS" => return None,
            b"IDAT" => info.idat.extend_from_slice(data),
            b"IEND" => return (seen_header && !info.idat.is_empty()).then_some(info),
            _ => {}
        }
        i = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::super::tests::meta;
    use super::*;
    use crate::render::doc::Document;

    /// A valid PNG: one stored (uncompressed) zlib block, correct CRCs and Adler-32.
    fn tiny_png(w: u32, h: u32, color_type: u8, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
        let channels = if color_type == 2 { 3 } else { 1 };
        let mut raw = Vec::new();
        for y in 0..h {
            raw.push(0); // filter: none
            for x in 0..w {
                raw.extend([(x * 16) as u8, (y * 16) as u8, 0x80][..channels].iter());
            }
        }
        let len = raw.len() as u16;
        let mut z = vec![0x78, 0x01, 0x01];
        z.extend(len.to_le_bytes());
        z.extend((!len).to_le_bytes());
        z.extend(&raw);
        let (mut a, mut b) = (1u32, 0u32);
        for &x in &raw {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        z.extend(((b << 16) | a).to_be_bytes());
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut td = kind.to_vec();
            td.extend(data);
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend(&td);
            c.extend(crc32fast::hash(&td).to_be_bytes());
            c
        };
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, color_type, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        for (kind, data) in extra {
            png.extend(chunk(kind, data));
        }
        png.extend(chunk(b"IDAT", &z));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn opaque_png_and_jpeg_logos_embed_without_decoding() {
        let png = tiny_png(16, 8, 2, &[]);
        let (_, w, h) = passthrough_image(&png).expect("RGB PNG passes through");
        assert_eq!((w, h), (16, 8));
        let mut m = meta();
        m.logo = Some(png.clone());
        let bytes = render(&Document { meta: m, blocks: vec![] }).expect("renders with logo");
        assert!(bytes.windows(b"/Predictor 15".len()).any(|w| w == b"/Predictor 15"));

        let palette: &[u8] = &[0, 0, 0, 255, 0, 0];
        assert!(passthrough_image(&tiny_png(4, 4, 3, &[(b"PLTE", palette)])).is_some());
        // Transparency and damaged files need a real decoder.
        assert!(passthrough_image(&tiny_png(4, 4, 3, &[(b"PLTE", palette), (b"tRNS", &[0])])).is_none());
        let mut corrupt = png;
        let n = corrupt.len();
        corrupt[n - 20] ^= 0xFF;
        assert!(passthrough_image(&corrupt).is_none());

        // JPEG: SOI, an APP0 segment, then a baseline frame header 300x200, 3 components.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        jpeg.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0xC8, 0x01, 0x2C, 0x03]);
        jpeg.extend([0; 9]);
        assert_eq!(jpeg_info(&jpeg), Some((300, 200, 3)));
        jpeg[12] = 12; // 12-bit precision is not for passthrough
        assert_eq!(jpeg_info(&jpeg), None);
    }

    #[test]
    fn bad_logo_is_an_error_not_a_panic() {
        let mut m = meta();
        m.logo = Some(b"definitely not an image".to_vec());
        let err = render(&Document { meta: m, blocks: vec![] }).unwrap_err();
        assert!(matches!(err, PdfError::Logo(_)));
    }
}
