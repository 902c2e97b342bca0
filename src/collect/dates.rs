//! Effective dates: what period a piece of evidence speaks for.
//!
//! Order of precedence: the sidecar's `effective` or `period_start`/`period_end`, a date in the
//! file name (a range of two days, a day, then a quarter, then a month), and last the modification
//! time, which is marked as inferred (weak evidence of when the file was produced).

use jiff::civil::Date;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateSource {
    Sidecar,
    FileName,
    /// Inferred from the file's modification time: weak evidence of when it was produced.
    ModifiedTime,
}

/// The effective date of a file and the span of days it speaks for (a quarterly review named
/// `2026-Q1` covers 2026-01-01..=2026-03-31 and is effective on its last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub date: Date,
    pub start: Date,
    pub end: Date,
    pub source: DateSource,
}

impl DateSource {
    /// How the report names the source of a date; a modification time is flagged as weak.
    pub fn text(self) -> &'static str {
        match self {
            DateSource::Sidecar => "sidecar",
            DateSource::FileName => "file name",
            DateSource::ModifiedTime => "modification time (weak)",
        }
    }
}

impl Effective {
    pub fn day(date: Date, source: DateSource) -> Self {
        Effective { date, start: date, end: date, source }
    }
    /// A coverage period (a SOC report's, a bridge letter's): effective on its last day.
    pub fn range(start: Date, end: Date, source: DateSource) -> Self {
        Effective { date: end, start, end, source }
    }
    pub fn inferred(&self) -> bool {
        self.source == DateSource::ModifiedTime
    }
    /// Whether the evidence speaks for any day of `start..=end`.
    pub fn overlaps(&self, start: Date, end: Date) -> bool {
        self.start <= end && self.end >= start
    }
}

/// What may stand between the two days of a range in a file name: `2025-10-01-to-2026-09-30`.
const RANGE_SEPARATORS: &[&str] = &["-to-", "_to_", ".to.", " to ", "--", "__", "_", "-"];

/// A date found in a file name: a range of two days (`YYYY-MM-DD-to-YYYY-MM-DD`, the second not
/// before the first) first, then `YYYY-MM-DD`, then `YYYY-Qn`, then `YYYY-MM`.
pub fn from_file_name(name: &str) -> Option<Effective> {
    let first = day_in(name, 0)?;
    if let Some((start, end_at)) = first {
        for sep in RANGE_SEPARATORS {
            let rest = &name[end_at..];
            if let Some(after) = rest.strip_prefix(sep)
                && let Some(Some((end, _))) = day_in(after, 0).filter(|d| d.is_some_and(|(_, e)| e == 10))
                && end >= start
            {
                return Some(Effective::range(start, end, DateSource::FileName));
            }
        }
    }
    period_in(name)
}

/// The first full day `YYYY-MM-DD` in `name` from `from`, with the offset just after it;
/// `Some(None)` when there is none (then quarters and months are looked for).
fn day_in(name: &str, from: usize) -> Option<Option<(Date, usize)>> {
    let b = name.as_bytes();
    let digits = |s: usize, n: usize| s + n <= b.len() && b[s..s + n].iter().all(u8::is_ascii_digit);
    let bounded =
        |s: usize, e: usize| (s == 0 || !b[s - 1].is_ascii_digit()) && (e >= b.len() || !b[e].is_ascii_digit());
    let num = |s: usize, n: usize| name.get(s..s + n).and_then(|x| x.parse::<i16>().ok());
    for i in from..b.len() {
        if digits(i, 4)
            && i + 10 <= b.len()
            && b[i + 4] == b'-'
            && digits(i + 5, 2)
            && b[i + 7] == b'-'
            && digits(i + 8, 2)
            && bounded(i, i + 10)
            && let (Some(y), Some(m), Some(d)) = (num(i, 4), num(i + 5, 2), num(i + 8, 2))
            && let Ok(date) = Date::new(y, m as i8, d as i8)
        {
            return Some(Some((date, i + 10)));
        }
    }
    Some(None)
}

/// A day, quarter or month in a file name (see [`from_file_name`]).
fn period_in(name: &str) -> Option<Effective> {
    let b = name.as_bytes();
    let digits = |s: usize, n: usize| s + n <= b.len() && b[s..s + n].iter().all(u8::is_ascii_digit);
    // A token must not be glued to more digits on either side (e.g. a build number).
    let bounded =
        |s: usize, e: usize| (s == 0 || !b[s - 1].is_ascii_digit()) && (e >= b.len() || !b[e].is_ascii_digit());
    let num = |s: usize, n: usize| name[s..s + n].parse::<i16>().ok();

    let mut quarter = None;
    let mut month = None;
    for i in 0..b.len() {
        if !digits(i, 4) || i + 5 > b.len() || b[i + 4] != b'-' {
            continue;
        }
        let year = num(i, 4)?;
        if digits(i + 5, 2)
            && i + 10 <= b.len()
            && b[i + 7] == b'-'
            && digits(i + 8, 2)
            && bounded(i, i + 10)
            && let Ok(d) = Date::new(year, num(i + 5, 2)? as i8, num(i + 8, 2)? as i8)
        {
            return Some(Effective::day(d, DateSource::FileName));
        }
        if quarter.is_none()
            && i + 7 <= b.len()
            && (b[i + 5] == b'Q' || b[i + 5] == b'q')
            && (b'1'..=b'4').contains(&b[i + 6])
            && bounded(i, i + 7)
        {
            let q = (b[i + 6] - b'0') as i8;
            let start = Date::new(year, (q - 1) * 3 + 1, 1).ok();
            let end = Date::new(year, q * 3, 1).ok().map(|d| d.last_of_month());
            if let (Some(start), Some(end)) = (start, end) {
                quarter = Some(Effective { date: end, start, end, source: DateSource::FileName });
            }
        }
        if month.is_none()
            && digits(i + 5, 2)
            && bounded(i, i + 7)
            && let Ok(start) = Date::new(year, num(i + 5, 2)? as i8, 1)
        {
            let end = start.last_of_month();
            month = Some(Effective { date: end, start, end, source: DateSource::FileName });
        }
    }
    quarter.or(month)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_full_date_wins() {
        let e = from_file_name("access-review-2026-Q1-signed-2026-04-02.csv").unwrap();
        assert_eq!(e.date, date(2026, 4, 2));
        assert_eq!(e.source, DateSource::FileName);
    }

    #[test]
    fn quarters_and_months_cover_their_span() {
        let q = from_file_name("okta-users-2026-Q2.csv").unwrap();
        assert_eq!((q.start, q.end, q.date), (date(2026, 4, 1), date(2026, 6, 30), date(2026, 6, 30)));
        let m = from_file_name("scan_2026-02.json").unwrap();
        assert_eq!((m.start, m.end), (date(2026, 2, 1), date(2026, 2, 28)));
        assert!(m.overlaps(date(2026, 2, 10), date(2026, 2, 10)));
        assert!(!m.overlaps(date(2026, 3, 1), date(2026, 3, 31)));
    }

    /// Issue 13: a range in the name is a coverage period, not its first day.
    #[test]
    fn a_range_of_two_days_is_a_coverage_period() {
        let e = from_file_name("aws-soc2-type2-2025-10-01-to-2026-09-30.pdf").unwrap();
        assert_eq!((e.start, e.end, e.date), (date(2025, 10, 1), date(2026, 9, 30), date(2026, 9, 30)));
        let e = from_file_name("bridge-letter_2026-10-01_2026-12-31.pdf").unwrap();
        assert_eq!((e.start, e.end), (date(2026, 10, 1), date(2026, 12, 31)));
        // A second day before the first is no range: the first day counts.
        let e = from_file_name("x-2026-05-01-2026-04-01.csv").unwrap();
        assert_eq!((e.start, e.end), (date(2026, 5, 1), date(2026, 5, 1)));
    }

    #[test]
    fn no_date_or_impossible_dates() {
        assert_eq!(from_file_name("org-chart.pdf"), None);
        assert_eq!(from_file_name("build-12026-01-01.log"), None, "glued to more digits");
        assert_eq!(from_file_name("report-2026-13.csv"), None);
        assert_eq!(
            from_file_name("x-2026-02-30.csv").map(|e| e.start),
            Some(date(2026, 2, 1)),
            "falls back to the month"
        );
    }
}
