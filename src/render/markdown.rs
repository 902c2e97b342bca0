//! Markdown -> [`Document`]: the one place Markdown is parsed, so HTML and PDF share a dialect.
//!
//! CommonMark with tables and `{#id}` heading attributes. Raw HTML is never passed through: it
//! becomes visible text, except three markers templates use: `<!-- toc -->`,
//! `<!-- pagebreak -->` and `<!-- chart:NAME -->`.

use super::doc::{Align, Block, Chart, DocMeta, Document, Inline, Style, Table};
use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use std::collections::{BTreeMap, BTreeSet};

pub fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_HEADING_ATTRIBUTES | Options::ENABLE_STRIKETHROUGH
}

/// Parses `markdown` into a document. `charts` supplies the pictures named by chart markers.
pub fn parse(markdown: &str, meta: DocMeta, charts: &BTreeMap<String, Chart>) -> Document {
    let mut b = Builder::new(charts);
    for ev in Parser::new_ext(markdown, options()) {
        b.event(ev);
    }
    b.flush_inline();
    Document { meta, blocks: b.stack.pop().map(|f| f.blocks).unwrap_or_default() }
}

/// An open container on the builder's stack.
#[derive(Default)]
struct Frame {
    kind: FrameKind,
    blocks: Vec<Block>,
    items: Vec<Vec<Block>>,
}

#[derive(Default, PartialEq)]
enum FrameKind {
    #[default]
    Root,
    Quote,
    List(bool),
    Item,
}

struct Builder<'c> {
    charts: &'c BTreeMap<String, Chart>,
    stack: Vec<Frame>,
    inlines: Vec<Inline>,
    style: Style,
    styles: Vec<Style>,
    link: Option<String>,
    heading: Option<(u8, Option<String>)>,
    code: Option<String>,
    table: Option<Table>,
    row: Vec<Vec<Inline>>,
    ids: BTreeSet<String>,
}

impl<'c> Builder<'c> {
    fn new(charts: &'c BTreeMap<String, Chart>) -> Self {
        Builder {
            charts,
            stack: Vec::new(),
            inlines: Vec::new(),
            style: Style::default(),
            styles: Vec::new(),
            link: None,
            heading: None,
            code: None,
            table: None,
            row: Vec::new(),
            ids: BTreeSet::new(),
        }
    }

    fn frame(&mut self) -> &mut Frame {
        if self.stack.is_empty() {
            self.stack.push(Frame::default());
        }
        self.stack.last_mut().expect("root frame")
    }

    fn push_block(&mut self, block: Block) {
        self.frame().blocks.push(block);
    }

    /// Text outside a paragraph (tight list items) becomes a paragraph of its own.
    fn flush_inline(&mut self) {
        if !self.inlines.is_empty() && self.heading.is_none() && self.table.is_none() {
            let inl = std::mem::take(&mut self.inlines);
            self.push_block(Block::Paragraph(inl));
        }
    }

    fn text(&mut self, t: &str) {
        if let Some(code) = &mut self.code {
            code.push_str(t);
            return;
        }
        if let Some(last) = self.inlines.last_mut()
            && last.style == self.style
            && last.link == self.link
        {
            last.text.push_str(t);
            return;
        }
        self.inlines.push(Inline { text: t.to_string(), style: self.style, link: self.link.clone() });
    }

    fn unique_id(&mut self, wanted: String) -> String {
        let mut id = wanted.clone();
        let mut n = 1;
        while !self.ids.insert(id.clone()) {
            n += 1;
            id = format!("{wanted}-{n}");
        }
        id
    }

    fn event(&mut self, ev: Event<'_>) {
        match ev {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let saved = self.style;
                self.style.code = true;
                self.text(&t);
                self.style = saved;
            }
            Event::SoftBreak | Event::HardBreak => self.text(" "),
            Event::Html(h) | Event::InlineHtml(h) => self.html(&h),
            Event::Rule => {
                self.flush_inline();
                self.push_block(Block::Rule);
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(r) => self.text(&format!("[{r}]")),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t),
        }
    }

    fn html(&mut self, h: &str) {
        let t = h.trim();
        let marker = t.strip_prefix("<!--").and_then(|r| r.strip_suffix("-->")).map(str::trim);
        match marker {
            Some("toc") => {
                self.flush_inline();
                self.push_block(Block::Toc);
            }
            Some("pagebreak") => {
                self.flush_inline();
                self.push_block(Block::PageBreak);
            }
            Some(m) if m.starts_with("chart:") => {
                self.flush_inline();
                if let Some(chart) = self.charts.get(m["chart:".len()..].trim()) {
                    let chart = chart.clone();
                    self.push_block(Block::Chart(chart));
                }
            }
            Some(_) => {} // other comments are the template author's notes
            // Raw HTML from user text is shown, never interpreted.
            None => self.text(h.trim_end_matches('\n')),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.flush_inline(),
            Tag::Heading { level, id, .. } => {
                self.flush_inline();
                self.heading = Some((heading_level(level), id.map(|s| s.to_string())));
            }
            Tag::BlockQuote(_) => {
                self.flush_inline();
                self.stack.push(Frame { kind: FrameKind::Quote, ..Default::default() });
            }
            Tag::CodeBlock(_) => {
                self.flush_inline();
                self.code = Some(String::new());
            }
            Tag::List(start) => {
                self.flush_inline();
                self.frame();
                self.stack.push(Frame { kind: FrameKind::List(start.is_some()), ..Default::default() });
            }
            Tag::Item => {
                self.flush_inline();
                self.stack.push(Frame { kind: FrameKind::Item, ..Default::default() });
            }
            Tag::Table(aligns) => {
                self.flush_inline();
                self.table = Some(Table {
                    align: aligns
                        .iter()
                        .map(|a| match a {
                            Alignment::Center => Align::Center,
                            Alignment::Right => Align::Right,
                            _ => Align::Left,
                        })
                        .collect(),
                    header: Vec::new(),
                    rows: Vec::new(),
                });
            }
            Tag::TableRow => self.row.clear(),
            Tag::TableCell => self.inlines.clear(),
            Tag::Emphasis => self.push_style(|s| s.italic = true),
            Tag::Strong => self.push_style(|s| s.bold = true),
            Tag::Strikethrough => self.push_style(|_| {}),
            Tag::Link { dest_url, .. } => self.link = safe_link(&dest_url),
            Tag::Image { .. } => self.push_style(|s| s.italic = true),
            _ => {}
        }
    }

    fn push_style(&mut self, f: impl FnOnce(&mut Style)) {
        self.styles.push(self.style);
        f(&mut self.style);
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                let inl = std::mem::take(&mut self.inlines);
                if !inl.is_empty() {
                    self.push_block(Block::Paragraph(inl));
                }
            }
            TagEnd::Heading(_) => {
                let (level, id) = self.heading.take().unwrap_or((1, None));
                let text = std::mem::take(&mut self.inlines);
                let wanted = id.unwrap_or_else(|| crate::text::slug(&super::doc::plain_text(&text)));
                let id = self.unique_id(wanted);
                self.push_block(Block::Heading { level, id, text });
            }
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                if let Some(f) = self.pop(FrameKind::Quote) {
                    self.push_block(Block::Quote(f.blocks));
                }
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                self.push_block(Block::Code(code.trim_end_matches('\n').to_string()));
            }
            TagEnd::Item => {
                self.flush_inline();
                let blocks = self.pop(FrameKind::Item).map(|f| f.blocks).unwrap_or_default();
                if let Some(list) = self.stack.last_mut() {
                    list.items.push(blocks);
                }
            }
            TagEnd::List(ordered) => {
                self.flush_inline();
                if let Some(f) = self.pop(FrameKind::List(ordered)) {
                    self.push_block(Block::List { ordered, items: f.items });
                }
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inlines);
                self.row.push(cell);
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.header = std::mem::take(&mut self.row);
                }
            }
            TagEnd::TableRow => {
                let row = std::mem::take(&mut self.row);
                if let Some(t) = &mut self.table {
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.push_block(Block::Table(t));
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Image => {
                self.style = self.styles.pop().unwrap_or_default();
            }
            TagEnd::Link => self.link = None,
            _ => {}
        }
    }

    fn pop(&mut self, kind: FrameKind) -> Option<Frame> {
        if self.stack.last().is_some_and(|f| f.kind == kind) { self.stack.pop() } else { None }
    }
}

fn heading_level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Internal anchors and web/mail links only: `javascript:` and other schemes are dropped.
fn safe_link(dest: &str) -> Option<String> {
    let d = dest.trim();
    let lower = d.to_ascii_lowercase();
    if d.starts_with('#')
        || lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
    {
        Some(d.to_string())
    } else {
        None
    }
}

/// Adds `by` levels to every heading (at most level 6), found on the parsed tree, so a line that
/// only looks like a heading (`    # comment` in an indented code block, a fenced block, an HTML
/// block) stays as it is. Setext headings (`Title` over `===`) become ATX headings. A level-1
/// heading that opens the text is the file's own title and is dropped: the template titles it.
pub fn demote_headings(text: &str, by: usize) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut last = 0;
    for (ev, range) in Parser::new_ext(text, options()).into_offset_iter() {
        let Event::Start(Tag::Heading { level, .. }) = ev else {
            continue;
        };
        let is_title = level == HeadingLevel::H1 && text[..range.start].trim().is_empty();
        // The heading's source, without its line end.
        let src = text[range.clone()].trim_end_matches(['\n', '\r']);
        let (start, end) = (range.start, range.start + src.len());
        out.push_str(&text[last..start]);
        last = end;
        if is_title {
            // Drop the title and the line end after it.
            last = text[end..].find('\n').map(|i| end + i + 1).unwrap_or(text.len());
            continue;
        }
        let new_level = (heading_level(level) as usize + by).min(6);
        let t = src.trim_start();
        let content = if t.starts_with('#') {
            t.trim_start_matches('#').to_string()
        } else {
            // Setext: the text lines, without the underline.
            let mut lines: Vec<&str> = src.lines().collect();
            lines.pop();
            format!(" {}", lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "))
        };
        out.push_str(&"#".repeat(new_level));
        out.push_str(&content);
    }
    out.push_str(&text[last..]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Byte ranges of the code blocks (fenced or indented) of `text`, from the parsed tree.
pub fn code_block_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    Parser::new_ext(text, options())
        .into_offset_iter()
        .filter_map(|(ev, r)| matches!(ev, Event::Start(Tag::CodeBlock(_))).then_some(r))
        .collect()
}

/// Escapes user text for inline Markdown, so it shows as written and cannot open a heading,
/// a list, a link or raw HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let trimmed = line.trim_start();
        out.push_str(&line[..line.len() - trimmed.len()]);
        // Block syntax only counts at the start of a line.
        let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && trimmed[digits..].starts_with(['.', ')']) {
            out.push_str(&trimmed[..digits]);
            out.push('\\');
            escape_inline(&trimmed[digits..], &mut out);
            continue;
        }
        if trimmed.starts_with(['#', '-', '+', '=', '>']) {
            out.push('\\');
        }
        escape_inline(trimmed, &mut out);
    }
    out
}

fn escape_inline(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '!' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Escapes user text for a table cell: one line, `|` escaped.
pub fn escape_cell(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    escape(&one_line)
}

/// `text` as one inline code span: shown exactly as it is (a backslash escape inside a code span
/// would be shown too), on one line, fenced with more backticks than it contains.
pub fn code_span(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut longest = 0;
    let mut run = 0;
    for c in one_line.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A space on each side is stripped again; it keeps a backtick at either end off the fence.
    let pad = if one_line.starts_with('`') || one_line.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{one_line}{pad}{fence}")
}

/// [`code_span`] for a table cell: a `|` would end the cell, so it is escaped (in a table, GFM
/// removes that backslash even inside a code span).
pub fn code_cell(text: &str) -> String {
    code_span(&text.replace('|', "\\|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_show_file_names_as_they_are() {
        let html = |md: &str| crate::render::html::render(&doc(md));
        let page =
            html(&format!("{}\n\n| a |\n|---|\n| {} |\n", code_span("x/2026-02-27_a*b*.txt"), code_cell("p|q_r`s")));
        assert!(page.contains("<code>x/2026-02-27_a*b*.txt</code>"), "{page}");
        assert!(page.contains("<code>p|q_r`s</code>"), "{page}");
        assert_eq!(code_span("`tick`"), "`` `tick` ``");
    }

    fn doc(md: &str) -> Document {
        parse(md, DocMeta::default(), &BTreeMap::new())
    }

    #[test]
    fn escaped_user_text_round_trips_as_text() {
        for s in ["# not a heading", "<script>alert(1)</script>", "a | b", "1. not a list", "*x* _y_ [l](javascript:x)"]
        {
            let d = doc(&escape(s));
            match &d.blocks[..] {
                [Block::Paragraph(p)] => assert_eq!(super::super::doc::plain_text(p), s),
                other => panic!("{s:?} became {other:?}"),
            }
        }
    }

    #[test]
    fn raw_html_is_text_and_markers_are_blocks() {
        let d = doc("<!-- toc -->\n\nhello <b>x</b>\n\n<!-- pagebreak -->\n");
        assert!(matches!(d.blocks[0], Block::Toc));
        match &d.blocks[1] {
            Block::Paragraph(p) => assert_eq!(super::super::doc::plain_text(p), "hello <b>x</b>"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(d.blocks[2], Block::PageBreak));
    }

    #[test]
    fn headings_get_unique_ids_and_tables_cells() {
        let d = doc("# A b {#x}\n\n## Same\n\n## Same\n\n| h1 | h2 |\n|---|--:|\n| a | `b` |\n\n- one\n- two\n");
        let ids: Vec<&str> = d
            .blocks
            .iter()
            .filter_map(|b| if let Block::Heading { id, .. } = b { Some(id.as_str()) } else { None })
            .collect();
        assert_eq!(ids, ["x", "same", "same-2"]);
        let Block::Table(t) = &d.blocks[3] else { panic!() };
        assert_eq!(t.align, [Align::Left, Align::Right]);
        assert!(t.rows[0][1][0].style.code);
        let Block::List { items, .. } = &d.blocks[4] else { panic!() };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn narrative_headings_nest_under_the_template() {
        let t = "# Services\n\nText\n\n## Detail\n\n```\n# not a heading\n```\n###### deep\n";
        assert_eq!(demote_headings(t, 2), "\nText\n\n#### Detail\n\n```\n# not a heading\n```\n###### deep\n");
    }

    /// Issue 13: an indented code line that looks like a heading stays code.
    #[test]
    fn indented_code_stays_code_and_setext_headings_demote() {
        let t = "Intro\n\n    # comment in code\n    x = 1\n\nTitle\n-----\n\n<div>\n# in html\n</div>\n";
        let d = demote_headings(t, 2);
        assert!(d.contains("    # comment in code\n"), "{d}");
        assert!(d.contains("#### Title\n"), "{d}");
        assert!(d.contains("\n# in html\n"), "{d}");
        let doc = doc(&d);
        assert!(!format!("{doc:?}").contains("Heading { level: 1"), "{doc:?}");
    }

    #[test]
    fn unsafe_links_are_dropped() {
        let d = doc("[a](javascript:alert(1)) [b](https://x.example) [c](#anchor)");
        let Block::Paragraph(p) = &d.blocks[0] else { panic!() };
        let links: Vec<Option<&str>> = p.iter().map(|i| i.link.as_deref()).collect();
        assert!(links.contains(&Some("https://x.example")));
        assert!(links.contains(&Some("#anchor")));
        assert!(!links.iter().any(|l| l.is_some_and(|l| l.starts_with("javascript"))));
    }
}
