//! The risk scoring matrix (`[risk]` in auditpack.toml): the likelihood and impact scales, the
//! score (likelihood x impact) and the thresholds that turn a score into a named level.
//!
//! Pure data and arithmetic: loading validates it once, every later stage asks it questions.

use serde::Serialize;

/// One named level of the matrix: scores up to and including `max` have this level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Level {
    pub name: String,
    pub max: u32,
    /// "#rrggbb", the fill of the heat map cells at this level.
    pub colour: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scoring {
    /// "3x3" or "5x5".
    pub matrix: String,
    /// Words for likelihood steps 1..=n, lowest first.
    pub likelihood: Vec<String>,
    /// Words for impact steps 1..=n, lowest first.
    pub impact: Vec<String>,
    /// Ascending by `max`; the last covers n x n.
    pub levels: Vec<Level>,
    /// Index into `levels` of the first level that counts as "high".
    pub high: usize,
}

const GREEN: &str = "#7cb342";
const AMBER: &str = "#fbc02d";
const ORANGE: &str = "#f57c00";
const RED: &str = "#d32f2f";

fn level(name: &str, max: u32, colour: &str) -> Level {
    Level { name: name.into(), max, colour: colour.into() }
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

impl Default for Scoring {
    /// The 3x3 matrix of the risk-assessment guide: Low, Medium, High.
    fn default() -> Self {
        Scoring::three()
    }
}

impl Scoring {
    /// 3x3: score 1-2 Low, 3-4 Medium, 6-9 High (Medium x High = 6 is High, Low x High = 3 is
    /// Medium, as in the reference entry RISK-001).
    pub fn three() -> Self {
        Scoring {
            matrix: "3x3".into(),
            likelihood: words(&["Low", "Medium", "High"]),
            impact: words(&["Low", "Medium", "High"]),
            levels: vec![level("Low", 2, GREEN), level("Medium", 4, AMBER), level("High", 9, RED)],
            high: 2,
        }
    }

    /// 5x5: score 1-4 Low, 5-9 Medium, 10-16 High, 17-25 Critical.
    pub fn five() -> Self {
        Scoring {
            matrix: "5x5".into(),
            likelihood: words(&["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]),
            impact: words(&["Negligible", "Minor", "Moderate", "Major", "Severe"]),
            levels: vec![
                level("Low", 4, GREEN),
                level("Medium", 9, AMBER),
                level("High", 16, ORANGE),
                level("Critical", 25, RED),
            ],
            high: 2,
        }
    }

    pub fn size(&self) -> usize {
        self.likelihood.len()
    }

    /// The step (1..=n) of a likelihood written as a word of the scale or a number.
    pub fn likelihood_step(&self, v: &super::risks::ScaleValue) -> Option<usize> {
        step(&self.likelihood, v)
    }

    pub fn impact_step(&self, v: &super::risks::ScaleValue) -> Option<usize> {
        step(&self.impact, v)
    }

    /// The level index of a score.
    pub fn level_of(&self, score: u32) -> usize {
        self.levels.iter().position(|l| score <= l.max).unwrap_or(self.levels.len().saturating_sub(1))
    }

    /// The level index of a level name (case-insensitive).
    pub fn level_named(&self, name: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.name.eq_ignore_ascii_case(name.trim()))
    }

    pub fn is_high(&self, level: usize) -> bool {
        level >= self.high
    }

    /// Medium or above: every level above the lowest needs at least one control.
    pub fn needs_control(&self, level: usize) -> bool {
        level >= 1
    }

    /// "`Low`, `Medium` or `High`" for messages.
    pub fn expected(words: &[String]) -> String {
        let w: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
        match w.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{} or {last} (or a number 1-{})", rest.join(", "), w.len())
            }
            _ => w.join(""),
        }
    }
}

fn step(scale: &[String], v: &super::risks::ScaleValue) -> Option<usize> {
    use super::risks::ScaleValue;
    match v {
        ScaleValue::Number(n) => usize::try_from(*n).ok().filter(|n| (1..=scale.len()).contains(n)),
        ScaleValue::Word(w) => scale.iter().position(|s| s.eq_ignore_ascii_case(w.trim())).map(|i| i + 1),
    }
}

/// The minimum impact step (1..=n) for a risk on an asset of `criticality`:
/// `ceil(rank x n / 4)` with low = 1 .. critical = 4. On 3x3: low -> Low, medium -> Medium,
/// high and critical -> High. On 5x5: low 2, medium 3, high 4, critical 5.
pub fn min_impact_for(criticality: crate::model::Criticality, n: usize) -> usize {
    use crate::model::Criticality::*;
    let rank = match criticality {
        Low => 1,
        Medium => 2,
        High => 3,
        Critical => 4,
    };
    (rank * n).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::super::risks::ScaleValue;
    use super::*;

    #[test]
    fn reference_entry_scores_as_declared() {
        let s = Scoring::three();
        let l = s.likelihood_step(&ScaleValue::Word("Medium".into())).unwrap();
        let i = s.impact_step(&ScaleValue::Word("high".into())).unwrap();
        assert_eq!(s.levels[s.level_of((l * i) as u32)].name, "High");
        let l = s.likelihood_step(&ScaleValue::Word("Low".into())).unwrap();
        assert_eq!(s.levels[s.level_of((l * i) as u32)].name, "Medium");
    }

    #[test]
    fn five_by_five_levels_and_numbers() {
        let s = Scoring::five();
        assert_eq!(s.likelihood_step(&ScaleValue::Number(5)), Some(5));
        assert_eq!(s.likelihood_step(&ScaleValue::Number(6)), None);
        assert_eq!(s.levels[s.level_of(25)].name, "Critical");
        assert_eq!(s.levels[s.level_of(9)].name, "Medium");
        assert!(s.is_high(s.level_of(12)));
    }

    #[test]
    fn criticality_maps_to_a_minimum_impact() {
        use crate::model::Criticality;
        assert_eq!(min_impact_for(Criticality::Critical, 3), 3);
        assert_eq!(min_impact_for(Criticality::High, 3), 3);
        assert_eq!(min_impact_for(Criticality::Medium, 3), 2);
        assert_eq!(min_impact_for(Criticality::Low, 5), 2);
        assert_eq!(min_impact_for(Criticality::High, 5), 4);
    }
}
