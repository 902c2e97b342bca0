//! Stage 4, pages: fragments stacked onto pages, honouring keep-with-next chains, forced breaks
//! and a table header repeated above a row that starts a page.

use super::items::{Frag, Item};
use super::theme::{BODY_H, BODY_TOP, EPS, Rgb3};

#[derive(Debug, Clone, Default)]
pub(super) struct Page {
    pub(super) items: Vec<Item>,
}

pub(super) struct Paginated {
    pub(super) pages: Vec<Page>,
    /// Per heading: (index into `pages`, y of its top).
    pub(super) anchors: Vec<Option<(usize, f32)>>,
}

/// Height of `frags[i]` plus everything chained to it by keep-with-next.
fn chain_height(frags: &[Frag], i: usize) -> f32 {
    let mut h = frags[i].height;
    let mut j = i;
    while frags[j].keep_with_next && j + 1 < frags.len() && h <= BODY_H {
        let next = &frags[j + 1];
        if next.is_marker() || next.break_before {
            break;
        }
        h += frags[j].space_after.max(next.space_before) + next.height;
        j += 1;
    }
    h
}

struct Paginator {
    pages: Vec<Page>,
    anchors: Vec<Option<(usize, f32)>>,
    y: f32,
    prev_after: f32,
    has_content: bool,
    /// Seal of the last fragment placed on the current page.
    seal: Option<(f32, f32, Rgb3)>,
}

impl Paginator {
    fn new_page(&mut self) {
        if let Some((x1, x2, color)) = self.seal.take()
            && let Some(page) = self.pages.last_mut()
        {
            let y = BODY_TOP + self.y;
            page.items.push(Item::Line { x1, y1: y, x2, y2: y, color, width: 0.4 });
        }
        self.pages.push(Page::default());
        self.y = 0.0;
        self.prev_after = 0.0;
        self.has_content = false;
    }

    /// Space above `f`: collapsed margins, none at the top of a page.
    fn gap(&self, f: &Frag) -> f32 {
        if self.has_content { self.prev_after.max(f.space_before) } else { 0.0 }
    }

    /// Places a fragment that is placed again elsewhere (a repeated table header).
    fn place(&mut self, f: &Frag) {
        self.place_items(f, f.items.clone());
    }

    /// Places `f` with its `items`, moved rather than copied onto the page.
    fn place_items(&mut self, f: &Frag, items: Vec<Item>) {
        let gap = self.gap(f);
        let top = BODY_TOP + self.y + gap;
        let page_index = self.pages.len().saturating_sub(1);
        let Some(page) = self.pages.last_mut() else {
            return; // unreachable: the paginator starts with a page and only adds pages
        };
        page.items.extend(items.into_iter().map(|mut it| {
            it.shift(top);
            it
        }));
        for bar in &f.bars {
            let from = if bar.join_prev { top - gap } else { top };
            page.items.push(Item::Fill { x: bar.x, y: from, w: 2.5, h: top + f.height - from, color: bar.color });
        }
        if let Some(slot) = f.heading.and_then(|h| self.anchors.get_mut(h)) {
            *slot = Some((page_index, top));
        }
        self.y += gap + f.height;
        self.prev_after = f.space_after;
        self.has_content = true;
        self.seal = f.seal;
    }
}

/// Consumes the fragments: their items move onto the pages, so a long document's drawing is
/// never held twice.
pub(super) fn paginate(mut frags: Vec<Frag>, n_headings: usize) -> Paginated {
    let mut p = Paginator {
        pages: vec![Page::default()],
        anchors: vec![None; n_headings],
        y: 0.0,
        prev_after: 0.0,
        has_content: false,
        seal: None,
    };
    let mut pending_break = false;
    for i in 0..frags.len() {
        let f = &frags[i];
        if f.is_marker() {
            pending_break |= f.break_after;
            continue;
        }
        if (pending_break || f.break_before) && p.has_content {
            p.new_page();
        }
        pending_break = f.break_after;
        let gap = p.gap(f);
        if p.has_content && p.y + gap + chain_height(&frags, i) > BODY_H + EPS {
            let header_h =
                f.repeat_header.as_ref().map_or(0.0, |h| h.height) + f.lead_in.as_ref().map_or(0.0, |l| l.height);
            // Move the whole chain to a new page if it fits there; a chain longer than a
            // page only needs its first fragment to fit.
            if header_h + chain_height(&frags, i) <= BODY_H + EPS || p.y + gap + f.height > BODY_H + EPS {
                p.new_page();
            }
        }
        if !p.has_content
            && let Some(h) = &f.repeat_header
        {
            // The table continues on this page: repeat its header row first.
            p.place(h);
            if let Some(l) = &f.lead_in {
                p.place(l);
            }
        }
        // Only later fragments are looked at from here on (chains look ahead, never back).
        let items = std::mem::take(&mut frags[i].items);
        p.place_items(&frags[i], items);
    }
    Paginated { pages: p.pages, anchors: p.anchors }
}
