//! Tests of the whole writer, documents laid out and rendered end to end, and the fixtures the
//! rooms' own tests share.

use super::document::layout_document;
use super::fonts::{Face, Fonts};
use super::items::{Item, Label, Target};
use super::lines::TextStyle;
use super::paginate::Page;
use super::theme::{BODY_BOTTOM, BODY_SIZE, EPS, FOOTER_BASELINE, MARGIN_X, PAGE_H, PAGE_W, Rgb3};
use super::write::document_id;
use super::{blocks::collect_headings, render};
use crate::render::doc::{Align, Block, Chart, ChartCell, DocMeta, Document, Inline, Style, Table};

pub(super) fn p(t: &str) -> Inline {
    Inline::plain(t)
}
pub(super) fn code(t: &str) -> Inline {
    Inline { text: t.into(), style: Style { code: true, ..Style::default() }, link: None }
}
fn heading(level: u8, id: &str, t: &str) -> Block {
    Block::Heading { level, id: id.into(), text: vec![p(t)] }
}
pub(super) fn meta() -> DocMeta {
    DocMeta {
        title: "SOC 2 Type 2 Package".into(),
        subtitle: vec!["Acme Cloud GmbH — Zürich".into()],
        organisation: "Acme Cloud GmbH".into(),
        confidentiality: "Confidential".into(),
        date: "2025-02-14".into(),
        date_text: String::new(),
        accent: "#1f4e79".into(),
        logo: None,
    }
}
pub(super) const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
pub(super) const LOREM: &str = "Management is responsible for designing, implementing and operating effective \
    controls within the system to provide reasonable assurance that the service commitments \
    and system requirements were achieved.";

fn evidence_table(rows: usize) -> Table {
    Table {
        align: vec![Align::Left, Align::Center, Align::Left, Align::Left, Align::Right],
        header: ["ID", "Criterion", "File", "SHA-256", "Collected"].iter().map(|s| vec![p(s)]).collect(),
        rows: (0..rows)
            .map(|k| {
                vec![
                    vec![p(&format!("E-{k:03}"))],
                    vec![p("CC6.1")],
                    vec![code(&format!("evidence/2024/q{}/access-reviews/okta-export-{k}.csv", k % 4 + 1))],
                    vec![code(HEX)],
                    vec![p("2024-03-31")],
                ]
            })
            .collect(),
    }
}

fn sample_doc() -> Document {
    let mut blocks = vec![Block::Toc, heading(1, "intro", "1 Introduction")];
    blocks.push(Block::Paragraph(vec![
        p("See "),
        Inline { text: "the evidence".into(), style: Style::default(), link: Some("#evidence".into()) },
        p(" for Zürich, naïve, — ≥ € Zażółć Ελληνικά. "),
        p(LOREM),
    ]));
    for k in 0..12 {
        blocks.push(heading(2, "", &format!("1.{k} Topic")));
        for _ in 0..(k % 4 + 1) {
            blocks.push(Block::Paragraph(vec![p(LOREM), p(" "), p(LOREM)]));
        }
    }
    blocks.push(heading(1, "evidence", "2 Evidence"));
    blocks.push(Block::Table(evidence_table(150)));
    Document { meta: meta(), blocks }
}

pub(super) fn fonts() -> Fonts {
    Fonts::load().expect("embedded fonts parse")
}

pub(super) fn body_style() -> TextStyle {
    TextStyle {
        size: BODY_SIZE,
        color: Rgb3(0.0, 0.0, 0.0),
        bold: false,
        link_color: Rgb3(0.0, 0.0, 1.0),
        code_color: Rgb3(0.0, 0.0, 0.0),
    }
}

fn texts(page: &Page) -> Vec<&Label> {
    page.items.iter().filter_map(|it| if let Item::Text(l) = it { Some(l) } else { None }).collect()
}

#[test]
fn renders_are_byte_identical() {
    let doc = sample_doc();
    let a = render(&doc).expect("first render");
    let b = render(&doc).expect("second render");
    assert!(a.starts_with(b"%PDF-"));
    assert_eq!(a, b, "two renders in one process must give the same bytes");
    // The trailer id is derived from the document, not from printpdf's counter.
    let id = document_id(&doc);
    assert!(a.windows(id.len()).any(|w| w == id.as_bytes()));
}

#[test]
fn page_count_is_sane() {
    let f = fonts();
    let one = Document { meta: meta(), blocks: vec![Block::Paragraph(vec![p("Hello")])] };
    assert_eq!(layout_document(&one, &f, None).pages.len(), 2, "title page + one body page");

    let broken = Document {
        meta: meta(),
        blocks: vec![
            Block::Paragraph(vec![p("a")]),
            Block::PageBreak,
            Block::PageBreak,
            Block::Paragraph(vec![p("b")]),
        ],
    };
    assert_eq!(layout_document(&broken, &f, None).pages.len(), 3, "consecutive page breaks make one break");

    let empty = Document { meta: meta(), blocks: vec![] };
    assert_eq!(layout_document(&empty, &f, None).pages.len(), 1, "only the title page");

    let big = layout_document(&sample_doc(), &f, None);
    assert!((8..40).contains(&big.pages.len()), "got {} pages", big.pages.len());
    // Every body page carries "Page X of Y" with the real total.
    let total = big.pages.len();
    for (i, page) in big.pages.iter().enumerate().skip(1) {
        let want = format!("Page {} of {}", i + 1, total);
        assert!(texts(page).iter().any(|l| l.text == want), "missing {want}");
    }
}

#[test]
fn table_header_repeats_on_every_page() {
    let f = fonts();
    let doc = Document { meta: meta(), blocks: vec![heading(1, "", "Evidence"), Block::Table(evidence_table(150))] };
    let laid = layout_document(&doc, &f, None);
    let mut table_pages = 0;
    for page in &laid.pages[1..] {
        let t = texts(page);
        let has_rows = t.iter().any(|l| l.text.starts_with("E-"));
        let headers = t.iter().filter(|l| l.text == "SHA-256").count();
        if has_rows {
            table_pages += 1;
            assert_eq!(headers, 1, "each table page shows the header exactly once");
            // The header sits above every row on the page.
            let header_y = t.iter().find(|l| l.text == "SHA-256").map(|l| l.y).unwrap_or(f32::MAX);
            assert!(t.iter().filter(|l| l.text.starts_with("E-")).all(|l| l.y > header_y));
        }
    }
    assert!(table_pages >= 3, "150 rows span several pages, got {table_pages}");
    // Every row appears exactly once.
    let ids: usize = laid.pages.iter().map(|pg| texts(pg).iter().filter(|l| l.text.starts_with("E-")).count()).sum();
    assert_eq!(ids, 150);
}

#[test]
fn tall_rows_are_split_and_stay_on_the_page() {
    let f = fonts();
    let giant: String = (0..3000).map(|k| format!("word{k} ")).collect();
    let doc = Document {
        meta: meta(),
        blocks: vec![Block::Table(Table {
            align: vec![],
            header: vec![vec![p("K")], vec![p("V")]],
            rows: vec![vec![vec![p("k")], vec![p(&giant)]]],
        })],
    };
    let laid = layout_document(&doc, &f, None);
    assert!(laid.pages.len() >= 3, "the giant row spans pages");
    for page in &laid.pages[1..] {
        for it in &page.items {
            let bottom = match it {
                Item::Text(l) if l.y == FOOTER_BASELINE => continue,
                Item::Text(l) => l.y,
                Item::Fill { y, h, .. } => y + h,
                Item::Line { y1, y2, .. } => y1.max(*y2),
                _ => continue,
            };
            assert!(bottom <= BODY_BOTTOM + EPS, "{it:?} runs into the footer");
        }
        // Each page with the row shows the repeated header above it.
        assert_eq!(texts(page).iter().filter(|l| l.text == "V").count(), 1);
    }
}

#[test]
fn headings_keep_with_following_lines() {
    let f = fonts();
    let doc = sample_doc();
    let laid = layout_document(&doc, &f, None);
    let mut headings = Vec::new();
    collect_headings(&doc.blocks, &mut headings);
    for page in &laid.pages[1..] {
        let t = texts(page);
        for h in t.iter().filter(|l| l.face == Face::Bold && l.size >= 12.5 && l.y < BODY_BOTTOM) {
            let below: std::collections::BTreeSet<i64> = t
                .iter()
                .filter(|l| l.y > h.y + 1.0 && l.y < BODY_BOTTOM && l.face == Face::Regular)
                .map(|l| (l.y * 10.0) as i64)
                .collect();
            assert!(below.len() >= 2, "heading {:?} is followed by {} lines on its page", h.text, below.len());
        }
    }
}

#[test]
fn toc_and_links_resolve_to_pages() {
    let f = fonts();
    let laid = layout_document(&sample_doc(), &f, None);
    let toc = &laid.pages[1];
    let entry = texts(toc).into_iter().find(|l| l.text == "2 Evidence").expect("TOC entry");
    let page_no = texts(toc)
        .into_iter()
        .find(|l| (l.y - entry.y).abs() < 0.01 && l.text.chars().all(|c| c.is_ascii_digit()))
        .expect("page number on the entry's baseline");
    let n: usize = page_no.text.parse().unwrap();
    let target = &laid.pages[n - 1];
    assert!(texts(target).iter().any(|l| l.text == "2 Evidence"), "TOC number points at the heading's page");
    let links: Vec<&Target> = laid
        .pages
        .iter()
        .flat_map(|pg| &pg.items)
        .filter_map(|it| if let Item::Link { target, .. } = it { Some(target) } else { None })
        .collect();
    assert!(links.iter().all(|t| matches!(t, Target::Page(..) | Target::Uri(_))));
    assert!(links.iter().any(|t| matches!(t, Target::Page(p, _) if *p == n)), "#evidence link resolved");
    assert_eq!(laid.outline.iter().filter(|e| e.level == 1).count(), 2);
}

#[test]
fn never_panics_on_odd_documents() {
    let cell = |t: &str| vec![p(t)];
    let huge = "A".repeat(20_000);
    let odd = vec![
        Block::Heading { level: 0, id: String::new(), text: vec![] },
        Block::Heading { level: 200, id: "x".into(), text: vec![p("")] },
        Block::Paragraph(vec![]),
        Block::Paragraph(vec![p(""), p("   "), p("\n\n"), code("")]),
        Block::Paragraph(vec![p(&huge)]),
        Block::Paragraph(vec![Inline {
            text: "dead link".into(),
            style: Style::default(),
            link: Some("#missing".into()),
        }]),
        Block::Paragraph(vec![Inline {
            text: "empty link".into(),
            style: Style::default(),
            link: Some(String::new()),
        }]),
        Block::Paragraph(vec![p("emoji 😀 CJK 漢字 control \u{7} zero\u{200b}width")]),
        Block::List { ordered: true, items: vec![] },
        Block::List { ordered: false, items: vec![vec![], vec![Block::PageBreak], vec![Block::Rule]] },
        Block::Table(Table { align: vec![], header: vec![], rows: vec![] }),
        Block::Table(Table { align: vec![], header: vec![], rows: vec![vec![], vec![]] }),
        Block::Table(Table {
            align: vec![Align::Right; 12],
            header: vec![cell(""); 12],
            rows: vec![vec![cell(&huge)], vec![]],
        }),
        Block::Table(Table { align: vec![], header: vec![cell("only header")], rows: vec![] }),
        Block::Code(String::new()),
        Block::Code(format!("\t\tx\r\n\n{huge}\n")),
        Block::Quote(vec![]),
        Block::Quote(vec![Block::Quote(vec![Block::Paragraph(vec![p("deep")])])]),
        Block::Chart(Chart {
            title: String::new(),
            row_labels: vec![],
            col_labels: vec![],
            x_title: String::new(),
            y_title: String::new(),
            cells: vec![],
        }),
        Block::Chart(Chart {
            title: huge.clone(),
            row_labels: vec![huge.clone()],
            col_labels: vec![],
            x_title: huge.clone(),
            y_title: huge.clone(),
            cells: vec![
                vec![ChartCell { label: huge.clone(), fill: "nonsense".into() }],
                vec![],
                vec![ChartCell { label: "x".into(), fill: "#fff".into() }; 40],
            ],
        }),
        Block::Chart(Chart {
            title: "many rows".into(),
            row_labels: (0..300).map(|k| k.to_string()).collect(),
            col_labels: vec!["a".into()],
            x_title: "x".into(),
            y_title: "y".into(),
            cells: vec![vec![ChartCell { label: "1".into(), fill: "#ff0000".into() }]; 300],
        }),
        Block::Toc,
        Block::Toc,
        Block::PageBreak,
    ];
    let mut m = meta();
    m.accent = "not a colour".into();
    m.date = "someday".into();
    m.title = huge.clone();
    m.organisation = huge.clone();
    m.confidentiality = huge.clone();
    m.subtitle = vec![String::new(), huge.clone()];
    for doc in [
        Document::default(),
        Document { meta: m.clone(), blocks: vec![] },
        Document { meta: m.clone(), blocks: odd.clone() },
        Document { meta: meta(), blocks: vec![Block::Toc] },
        Document { meta: meta(), blocks: vec![Block::PageBreak] },
    ] {
        let bytes = render(&doc).expect("odd documents still render");
        assert!(bytes.starts_with(b"%PDF-"));
    }
    // Nothing drawn outside the page.
    let f = fonts();
    for page in layout_document(&Document { meta: m, blocks: odd }, &f, None).pages {
        for l in texts(&page) {
            assert!(l.y >= 0.0 && l.y <= PAGE_H, "{:?} at y {}", l.text.chars().take(20).collect::<String>(), l.y);
            assert!(
                l.x >= MARGIN_X - EPS && l.x + f.text_width(l.face, l.size, &l.text) <= PAGE_W - MARGIN_X + 0.5
                    || l.rotated
            );
        }
    }
}
