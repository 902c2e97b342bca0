//! The findings of one verification: diagnostics, of each kind only the first hundred kept and
//! the rest counted, so a hostile bag cannot make the report (or memory) grow without end.

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Severity};
use std::collections::BTreeMap;

/// Findings of one kind (code and severity) listed; the rest are counted in one last finding.
const FINDINGS_PER_KIND: u64 = 100;

/// The findings of one verification. Of each kind (code and severity) the first
/// [`FINDINGS_PER_KIND`] are kept and the rest only counted, then summed up in one finding ("and
/// 20,999,900 more"): a hostile bag can make millions of findings, and neither memory nor the
/// report should grow with them.
#[derive(Default)]
pub(super) struct Findings {
    list: Diagnostics,
    kinds: BTreeMap<(Code, Severity), Kind>,
}

#[derive(Default)]
struct Kind {
    kept: u64,
    more: u64,
    /// Where the last kept one was: the summary is listed beside it.
    last: Option<Location>,
}

impl Findings {
    pub(super) fn push(&mut self, d: Diagnostic) {
        let kind = self.kinds.entry((d.code, d.severity)).or_default();
        if kind.kept < FINDINGS_PER_KIND {
            kind.kept += 1;
            kind.last.clone_from(&d.location);
            self.list.push(d);
        } else {
            kind.more += 1;
        }
    }
    /// Whether findings of this kind are only counted now: a caller making millions of them can
    /// skip building each one and call [`Findings::more`].
    pub(super) fn full(&self, code: Code, severity: Severity) -> bool {
        self.kinds.get(&(code, severity)).is_some_and(|k| k.kept >= FINDINGS_PER_KIND)
    }
    /// Counts `n` findings of a kind that were never made one by one.
    pub(super) fn more(&mut self, code: Code, severity: Severity, n: u64) {
        self.kinds.entry((code, severity)).or_default().more += n;
    }
    pub(super) fn has_errors(&self) -> bool {
        self.list.has_errors() || self.kinds.iter().any(|((_, s), k)| *s == Severity::Error && k.more > 0)
    }
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    pub(super) fn finish(self) -> Diagnostics {
        let mut list = self.list;
        for ((code, severity), kind) in self.kinds {
            if kind.more == 0 {
                continue;
            }
            let d = Diagnostic::new(code, severity, format!("and {} more like this, not listed", thousands(kind.more)))
                .hint(format!(
                    "only the first {FINDINGS_PER_KIND} findings of each kind are listed; the bag is damaged or hostile"
                ));
            list.push(match kind.last {
                Some(at) => d.at(at),
                None => d,
            });
        }
        list
    }
}

/// `20999900` as `20,999,900`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_of_one_kind_are_capped_with_a_count() {
        let mut f = Findings::default();
        for i in 0..(FINDINGS_PER_KIND + 1_234_567) {
            f.push(Diagnostic::error(Code::DuplicateManifestEntry, "x").at(Location {
                file: "m".into(),
                line: Some(i as usize),
                col: None,
                end_col: None,
            }));
        }
        f.push(Diagnostic::warning(Code::BinaryMarker, "y"));
        let d = f.finish();
        assert_eq!(d.len() as u64, FINDINGS_PER_KIND + 2);
        assert!(d.iter().any(|d| d.message == "and 1,234,567 more like this, not listed"));
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(999), "999");
    }
}
