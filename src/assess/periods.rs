//! The expected occurrences of a control in an observation period, by frequency: calendar
//! years, halves, quarters, months, ISO weeks or days that overlap the period.

use crate::model::Frequency;
use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub label: String,
    pub start: Date,
    pub end: Date,
}

/// Windows for `freq` overlapping `start..=end`, clipped to it. Per-event controls have none:
/// their population is the events themselves.
pub fn windows(freq: Frequency, start: Date, end: Date) -> Vec<Window> {
    let mut out = Vec::new();
    let months_per = match freq {
        Frequency::Annual => 12,
        Frequency::Semiannual => 6,
        Frequency::Quarterly => 3,
        Frequency::Monthly | Frequency::Continuous => 1,
        Frequency::Weekly => return weeks(start, end),
        Frequency::Daily => return days(start, end),
        Frequency::PerEvent => return out,
    };
    // Align to the calendar: the block of `months_per` months that contains `start`.
    let first_month = ((start.month() - 1) / months_per) * months_per + 1;
    let mut cur = Date::new(start.year(), first_month, 1).expect("valid month");
    while cur <= end {
        let next = cur.checked_add((months_per as i32).months()).unwrap_or(Date::MAX);
        let last = next.yesterday().unwrap_or(next);
        let label = match months_per {
            12 => format!("{}", cur.year()),
            6 => format!("{}-H{}", cur.year(), if cur.month() <= 6 { 1 } else { 2 }),
            3 => format!("{}-Q{}", cur.year(), (cur.month() - 1) / 3 + 1),
            _ => format!("{}-{:02}", cur.year(), cur.month()),
        };
        out.push(Window { label, start: cur.max(start), end: last.min(end) });
        cur = next;
    }
    out
}

fn weeks(start: Date, end: Date) -> Vec<Window> {
    let mut out = Vec::new();
    let mut cur = start.checked_sub((start.weekday().to_monday_zero_offset() as i32).days()).unwrap_or(start);
    debug_assert_eq!(cur.weekday(), Weekday::Monday);
    while cur <= end {
        let last = cur.checked_add(6.days()).unwrap_or(Date::MAX);
        let iso = cur.iso_week_date();
        out.push(Window {
            label: format!("{}-W{:02}", iso.year(), iso.week()),
            start: cur.max(start),
            end: last.min(end),
        });
        cur = last.tomorrow().unwrap_or(Date::MAX);
        if cur == Date::MAX {
            break;
        }
    }
    out
}

fn days(start: Date, end: Date) -> Vec<Window> {
    start.series(1.day()).take_while(|d| *d <= end).map(|d| Window { label: d.to_string(), start: d, end: d }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn labels(f: Frequency) -> Vec<String> {
        windows(f, date(2026, 1, 1), date(2026, 6, 30)).into_iter().map(|w| w.label).collect()
    }

    #[test]
    fn six_month_period() {
        assert_eq!(labels(Frequency::Quarterly), ["2026-Q1", "2026-Q2"]);
        assert_eq!(labels(Frequency::Monthly).len(), 6);
        assert_eq!(labels(Frequency::Annual), ["2026"]);
        assert_eq!(labels(Frequency::Semiannual), ["2026-H1"]);
        assert_eq!(labels(Frequency::Daily).len(), 181);
        assert_eq!(labels(Frequency::Weekly).first().map(String::as_str), Some("2026-W01"));
        assert!(labels(Frequency::PerEvent).is_empty());
    }

    #[test]
    fn windows_are_clipped_to_the_period() {
        let w = windows(Frequency::Quarterly, date(2026, 2, 15), date(2026, 8, 15));
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].start, date(2026, 2, 15));
        assert_eq!(w[2].end, date(2026, 8, 15));
    }
}
