//! [`Document`] -> one self-contained HTML page: inline CSS and script, nothing fetched, a
//! navigable table of contents, filterable tables, a print stylesheet. All text is escaped.

use super::doc::{Align, Block, Chart, Document, Inline, plain_text};
use pulldown_cmark_escape::{escape_href, escape_html};
use std::fmt::Write;

/// Tables with more rows than this get a filter box.
const FILTER_ROWS: usize = 12;
/// Table columns whose cells all hold at most this many characters never wrap in HTML.
const SHORT_CELL: usize = 12;

pub fn render(doc: &Document) -> String {
    let mut body = String::new();
    for b in &doc.blocks {
        block(&mut body, b, doc);
    }
    let m = &doc.meta;
    let mut out = String::with_capacity(body.len() + 8192);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&format!("{} — {}", m.title, m.organisation)));
    let _ = writeln!(out, "<style>{}</style>", CSS.replace("ACCENT", safe_colour(&m.accent)));
    out.push_str("</head>\n<body>\n");
    let _ = writeln!(
        out,
        "<header class=\"running\"><span>{}</span><span class=\"label\">{}</span></header>",
        esc(&m.organisation),
        esc(&m.confidentiality)
    );
    out.push_str("<div class=\"layout\">\n<nav class=\"toc\" aria-label=\"Contents\"><h2>Contents</h2>\n");
    toc(&mut out, doc);
    out.push_str("</nav>\n<main>\n");
    cover(&mut out, doc);
    out.push_str(&body);
    out.push_str("</main>\n</div>\n");
    let _ = writeln!(out, "<script>{SCRIPT}</script>");
    out.push_str("</body>\n</html>\n");
    out
}

fn esc(s: &str) -> String {
    let mut o = String::new();
    let _ = escape_html(&mut o, s);
    o
}

fn safe_colour(c: &str) -> &str {
    if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|c| c.is_ascii_hexdigit()) { c } else { "#1f4e79" }
}

fn cover(out: &mut String, doc: &Document) {
    let m = &doc.meta;
    out.push_str("<section class=\"cover\">\n");
    if let Some(logo) = &m.logo {
        let mime = if logo.starts_with(b"\x89PNG") { "image/png" } else { "image/jpeg" };
        let _ = writeln!(out, "<img class=\"logo\" alt=\"logo\" src=\"data:{mime};base64,{}\">", base64(logo));
    }
    let _ = writeln!(out, "<h1 class=\"title\">{}</h1>", esc(&m.title));
    for line in &m.subtitle {
        let _ = writeln!(out, "<p class=\"subtitle\">{}</p>", esc(line));
    }
    let date = if m.date_text.is_empty() { &m.date } else { &m.date_text };
    let _ = writeln!(out, "<p class=\"date\">{}</p>", esc(date));
    out.push_str("</section>\n");
}

fn toc(out: &mut String, doc: &Document) {
    out.push_str("<ol>\n");
    let mut open_sub = false;
    for b in &doc.blocks {
        let Block::Heading { level, id, text } = b else {
            continue;
        };
        match level {
            1 => {
                if open_sub {
                    out.push_str("</ol></li>\n");
                }
                let _ = write!(out, "<li><a href=\"#{}\">{}</a>", esc(id), esc(&plain_text(text)));
                out.push_str("<ol>\n");
                open_sub = true;
            }
            2 => {
                let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", esc(id), esc(&plain_text(text)));
            }
            _ => {}
        }
    }
    if open_sub {
        out.push_str("</ol></li>\n");
    }
    out.push_str("</ol>\n");
}

fn inlines(out: &mut String, inl: &[Inline]) {
    for i in inl {
        let mut open = String::new();
        let mut close = String::new();
        if let Some(href) = &i.link {
            let mut h = String::new();
            let _ = escape_href(&mut h, href);
            let _ = write!(open, "<a href=\"{h}\">");
            close.insert_str(0, "</a>");
        }
        for (on, tag) in [(i.style.bold, "strong"), (i.style.italic, "em"), (i.style.code, "code")] {
            if on {
                let _ = write!(open, "<{tag}>");
                close.insert_str(0, &format!("</{tag}>"));
            }
        }
        out.push_str(&open);
        out.push_str(&esc(&i.text));
        out.push_str(&close);
    }
}

fn block(out: &mut String, b: &Block, doc: &Document) {
    match b {
        Block::Heading { level, id, text } => {
            let _ = write!(out, "<h{level} id=\"{}\">", esc(id));
            inlines(out, text);
            let _ = writeln!(out, "</h{level}>");
        }
        Block::Paragraph(p) => {
            out.push_str("<p>");
            inlines(out, p);
            out.push_str("</p>\n");
        }
        Block::List { ordered, items } => {
            let tag = if *ordered { "ol" } else { "ul" };
            let _ = writeln!(out, "<{tag}>");
            for item in items {
                out.push_str("<li>");
                // A one-paragraph item renders without the <p> margin.
                if let [Block::Paragraph(p)] = item.as_slice() {
                    inlines(out, p);
                } else {
                    for b in item {
                        block(out, b, doc);
                    }
                }
                out.push_str("</li>\n");
            }
            let _ = writeln!(out, "</{tag}>");
        }
        Block::Table(t) => {
            let filter = t.rows.len() > FILTER_ROWS;
            out.push_str("<div class=\"table-wrap\">");
            if filter {
                out.push_str(
                    "<input type=\"search\" class=\"filter\" placeholder=\"Filter rows…\" aria-label=\"Filter rows\">",
                );
            }
            out.push_str("<table>\n<thead><tr>");
            let align = |i: usize| match t.align.get(i) {
                Some(Align::Right) => " class=\"r\"",
                Some(Align::Center) => " class=\"c\"",
                _ => "",
            };
            // Columns of short values (dates, sizes, owners) are not worth wrapping ("2026-03- /
            // 31", "1.2 / KiB"), as in the PDF: their cells keep to one line.
            let ncols = t.header.len().max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
            let short: Vec<bool> = (0..ncols)
                .map(|i| t.rows.iter().all(|r| r.get(i).is_none_or(|c| plain_text(c).chars().count() <= SHORT_CELL)))
                .collect();
            let cell_class = |i: usize| match (t.align.get(i), short.get(i).copied().unwrap_or(false)) {
                (Some(Align::Right), true) => " class=\"r nw\"",
                (Some(Align::Center), true) => " class=\"c nw\"",
                (_, true) => " class=\"nw\"",
                _ => align(i),
            };
            for (i, h) in t.header.iter().enumerate() {
                let _ = write!(out, "<th{}>", align(i));
                inlines(out, h);
                out.push_str("</th>");
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            for row in &t.rows {
                out.push_str("<tr>");
                for (i, c) in row.iter().enumerate() {
                    let _ = write!(out, "<td{}>", cell_class(i));
                    inlines(out, c);
                    out.push_str("</td>");
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody></table></div>\n");
        }
        Block::Code(code) => {
            let _ = writeln!(out, "<pre><code>{}</code></pre>", esc(code));
        }
        Block::Quote(blocks) => {
            out.push_str("<blockquote>\n");
            for b in blocks {
                block(out, b, doc);
            }
            out.push_str("</blockquote>\n");
        }
        Block::Rule => out.push_str("<hr>\n"),
        Block::PageBreak => out.push_str("<div class=\"page-break\"></div>\n"),
        Block::Toc => {
            out.push_str("<nav class=\"inline-toc\"><h2>Table of contents</h2>\n");
            toc(out, doc);
            out.push_str("</nav>\n");
        }
        Block::Chart(c) => chart(out, c),
    }
}

/// A grid chart as inline SVG.
fn chart(out: &mut String, c: &Chart) {
    let (cell_w, cell_h, left, top) = (90.0, 44.0, 110.0, 34.0);
    let cols = c.col_labels.len().max(1) as f64;
    let rows = c.row_labels.len().max(1) as f64;
    let w = left + cols * cell_w + 10.0;
    let h = top + rows * cell_h + 50.0;
    let _ = write!(
        out,
        "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(&c.title)
    );
    let _ = write!(out, "<text x=\"{}\" y=\"20\" class=\"ct\">{}</text>", left, esc(&c.title));
    for (r, row) in c.cells.iter().enumerate() {
        let y = top + r as f64 * cell_h;
        if let Some(l) = c.row_labels.get(r) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                left - 8.0,
                y + cell_h / 2.0 + 4.0,
                esc(l)
            );
        }
        for (col, cell) in row.iter().enumerate() {
            let x = left + col as f64 * cell_w;
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell_w}\" height=\"{cell_h}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"2\"/>",
                safe_colour(&cell.fill)
            );
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"cv\">{}</text>",
                x + cell_w / 2.0,
                y + cell_h / 2.0 + 5.0,
                esc(&cell.label)
            );
        }
    }
    let base = top + rows * cell_h;
    for (col, l) in c.col_labels.iter().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            left + col as f64 * cell_w + cell_w / 2.0,
            base + 18.0,
            esc(l)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"at\">{}</text>",
        left + cols * cell_w / 2.0,
        base + 40.0,
        esc(&c.x_title)
    );
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{}\" class=\"at\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}</text>",
        top + rows * cell_h / 2.0,
        top + rows * cell_h / 2.0,
        esc(&c.y_title)
    );
    out.push_str("</svg></figure>\n");
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

const CSS: &str = r#"
:root { --accent: ACCENT; --ink: #1d2430; --muted: #5b6575; --line: #d5dbe3; --zebra: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); background: #fff; }
header.running { position: sticky; top: 0; z-index: 2; display: flex; justify-content: space-between; padding: .45rem 1.2rem; background: var(--accent); color: #fff; font-size: .85rem; }
header.running .label { font-weight: bold; text-transform: uppercase; letter-spacing: .05em; }
.layout { display: flex; align-items: flex-start; }
nav.toc { position: sticky; top: 2.2rem; flex: 0 0 17rem; max-height: calc(100vh - 2.2rem); overflow-y: auto; padding: 1rem 1rem 2rem 1.2rem; border-right: 1px solid var(--line); font-size: .85rem; }
nav.toc h2 { font-size: .95rem; margin: 0 0 .5rem; color: var(--accent); }
nav ol { list-style: none; padding-left: 0; margin: 0; }
nav ol ol { padding-left: .9rem; margin-bottom: .3rem; }
nav a { color: var(--ink); text-decoration: none; display: block; padding: .08rem 0; }
nav a:hover { color: var(--accent); text-decoration: underline; }
main { flex: 1; min-width: 0; max-width: 72rem; padding: 1rem 2.2rem 4rem; }
.cover { padding: 2.5rem 0 1.5rem; border-bottom: 3px solid var(--accent); margin-bottom: 1.5rem; }
.cover .logo { max-height: 72px; }
.cover .title { font-size: 2rem; color: var(--accent); margin: .6rem 0; }
.cover .subtitle { margin: .15rem 0; font-size: 1.05rem; }
.cover .date { color: var(--muted); }
h1, h2, h3, h4 { color: var(--accent); line-height: 1.25; scroll-margin-top: 2.6rem; }
h1 { font-size: 1.6rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem; margin-top: 2.4rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
a { color: var(--accent); }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .86em; overflow-wrap: anywhere; }
pre { background: #f3f5f8; border: 1px solid var(--line); padding: .7rem; overflow-x: auto; white-space: pre-wrap; }
blockquote { margin: 1rem 0; padding: .2rem 1rem; border-left: 4px solid var(--accent); background: #f7f9fc; }
.table-wrap { overflow-x: auto; margin: .8rem 0 1.2rem; }
table { border-collapse: collapse; width: 100%; font-size: .86rem; }
th { background: var(--accent); color: #fff; text-align: left; padding: .4rem .5rem; }
td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; vertical-align: top; overflow-wrap: break-word; }
td.nw { white-space: nowrap; }
tbody tr:nth-child(even) td { background: var(--zebra); }
.r { text-align: right; } .c { text-align: center; }
input.filter { width: 100%; max-width: 24rem; padding: .35rem .5rem; margin-bottom: .4rem; border: 1px solid var(--line); border-radius: 4px; font: inherit; }
figure.chart { margin: 1rem 0; }
figure.chart text { font-size: 12px; fill: var(--ink); }
figure.chart .ct { font-weight: bold; font-size: 13px; }
figure.chart .cv { font-weight: bold; }
figure.chart .at { fill: var(--muted); }
.inline-toc { display: none; }
@media (max-width: 900px) { .layout { display: block; } nav.toc { position: static; max-height: none; border-right: 0; } }
@media print {
  header.running { position: static; background: none; color: var(--ink); border-bottom: 1px solid var(--ink); }
  nav.toc, input.filter { display: none; }
  main { max-width: none; padding: 0; }
    th { color: #000; background: #e6e9ef; }
  tr, figure { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  h1 { break-before: page; }
  .page-break { break-after: page; }
  a { color: inherit; text-decoration: none; }
}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('input.filter').forEach(function (box) {
  var rows = box.parentNode.querySelectorAll('tbody tr');
  box.addEventListener('input', function () {
    var q = box.value.trim().toLowerCase();
    rows.forEach(function (r) {
      r.style.display = (q === '' || r.textContent.toLowerCase().indexOf(q) !== -1) ? '' : 'none';
    });
  });
});
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::doc::{DocMeta, Inline};

    #[test]
    fn user_text_is_escaped() {
        let doc = Document {
            meta: DocMeta { title: "<b>t</b>".into(), ..Default::default() },
            blocks: vec![
                Block::Heading {
                    level: 1,
                    id: "x\"onmouseover=\"a".into(),
                    text: vec![Inline::plain("<script>alert(1)</script>")],
                },
                Block::Paragraph(vec![Inline { link: Some("javascript:alert(1)\"".into()), ..Inline::plain("l") }]),
            ],
        };
        let html = render(&doc);
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("id=\"x\"onmouseover"));
        assert!(!html.contains("<b>t</b>"));
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"a"), "YQ==");
    }
}
