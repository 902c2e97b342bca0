//! A control's proposed test procedure, checked as it is loaded: it is a proposal to the service
//! auditor, so it reads in neutral form ("Inspect ... to determine whether ..."), and the test
//! types the control declares agree with what the text describes.

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Source};
use crate::model::TestType;

/// Verbs that narrate a test as already performed. Only these are flagged, and only where they
/// act as the clause's verb (see [`past_tense`]), so "whether the log was reviewed" passes.
const PAST: &[(&str, &str)] = &[
    ("inspected", "Inspect"),
    ("observed", "Observe"),
    ("reperformed", "Reperform"),
    ("re-performed", "Reperform"),
    ("inquired", "Inquire"),
    ("examined", "Examine"),
    ("selected", "Select"),
    ("recalculated", "Recalculate"),
    ("recomputed", "Recompute"),
    ("compared", "Compare"),
    ("traced", "Trace"),
    ("vouched", "Vouch"),
    ("obtained", "Obtain"),
    ("noted", "Note"),
    ("determined", "Determine"),
    ("corroborated", "Corroborate"),
];

/// Words after which a past participle is an adjective or passive ("was inspected", "the
/// devices selected"), not the tester's own verb.
const AUX: &[&str] = &["was", "were", "is", "are", "be", "been", "being", "not", "has", "have", "had"];

/// Words that open an object or a clause: "inspected the", "observed that", "determined whether".
const OBJECT: &[&str] = &[
    "the",
    "a",
    "an",
    "that",
    "whether",
    "each",
    "every",
    "all",
    "any",
    "them",
    "it",
    "its",
    "their",
    "of",
    "for",
    "this",
    "these",
    "those",
    "if",
    "how",
    "when",
    "availability",
];

/// Which test type each verb stem names.
const KINDS: &[(&str, TestType)] = &[
    ("inspect", TestType::Inspection),
    ("examin", TestType::Inspection),
    ("observ", TestType::Observation),
    ("reperform", TestType::Reperformance),
    ("re-perform", TestType::Reperformance),
    ("recalculat", TestType::Reperformance),
    ("recomput", TestType::Reperformance),
    ("inquir", TestType::Inquiry),
    ("enquir", TestType::Inquiry),
    ("interview", TestType::Inquiry),
];

fn words(text: &str) -> Vec<(String, bool)> {
    // (lower-case word, whether a clause starts before it)
    let mut out = Vec::new();
    let mut clause = true;
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_alphanumeric() || ch == '-' || ch == '\'' {
            cur.extend(ch.to_lowercase());
            continue;
        }
        if !cur.is_empty() {
            out.push((std::mem::take(&mut cur), clause));
            clause = false;
        }
        if matches!(ch, '.' | ';' | ':' | ',' | '(' | '!' | '?') {
            clause = true;
        }
    }
    if !cur.is_empty() {
        out.push((cur, clause));
    }
    out
}

/// The past-tense test verbs used as verbs in `text`, each with its neutral form.
pub fn past_tense(text: &str) -> Vec<(&'static str, &'static str)> {
    let w = words(text);
    let mut found: Vec<(&str, &str)> = Vec::new();
    for (i, (word, clause_start)) in w.iter().enumerate() {
        let Some(&(past, neutral)) = PAST.iter().find(|(p, _)| p == word) else {
            continue;
        };
        let prev = i.checked_sub(1).map(|j| w[j].0.as_str()).unwrap_or("");
        let next = w.get(i + 1).map(|n| n.0.as_str()).unwrap_or("");
        // At the start of a clause it is the tester's verb; elsewhere only when an object follows
        // ("and observed that"), so "approved and noted." and "devices selected from" pass.
        let verb = *clause_start || OBJECT.contains(&next);
        if verb && !AUX.contains(&prev) && !found.iter().any(|(p, _)| *p == past) {
            found.push((past, neutral));
        }
    }
    found
}

/// The test types the procedure's verbs name, in the vocabulary's order.
pub fn described_types(text: &str) -> Vec<TestType> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    for t in [TestType::Inquiry, TestType::Observation, TestType::Inspection, TestType::Reperformance] {
        let named = KINDS.iter().any(|(stem, k)| {
            *k == t
                && lower.match_indices(stem).any(|(i, _)| {
                    // A word that starts with the stem ("inspect", "inspection"), not one that
                    // contains it ("reinspect" aside, "re-performed" is its own stem).
                    i == 0 || !lower[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '-')
                })
        });
        if named {
            out.push(t);
        }
    }
    out
}

/// Warnings for a control's procedure: past tense, and declared test types that disagree with it.
/// `declared` is None when the control does not list `test_types`.
pub fn check(
    src: &Source,
    id: &str,
    procedure: &toml::Spanned<String>,
    declared: Option<&[TestType]>,
    diags: &mut Diagnostics,
) {
    let text = procedure.get_ref();
    let at = src.span(procedure.span());
    let past = past_tense(text);
    if !past.is_empty() {
        let list: Vec<String> = past.iter().map(|(p, n)| format!("\"{p}\" -> \"{n}\"")).collect();
        diags.push(
            Diagnostic::warning(
                Code::PastTenseProcedure,
                format!(
                    "the test procedure of control `{id}` reads as performed ({}); management proposes tests, the service auditor performs them",
                    past.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
                ),
            )
            .at(at.clone())
            .hint(format!(
                "write it in neutral form, e.g. \"Inspect ... to determine whether ...\": {}",
                list.join(", ")
            )),
        );
    }
    let Some(declared) = declared else {
        return;
    };
    let described = described_types(text);
    let name = |t: &TestType| t.as_str();
    let undeclared: Vec<&str> = described.iter().filter(|t| !declared.contains(t)).map(name).collect();
    let unsupported: Vec<&str> = declared.iter().filter(|t| !described.contains(t)).map(name).collect();
    if !undeclared.is_empty() || !unsupported.is_empty() {
        let mut parts = Vec::new();
        if !undeclared.is_empty() {
            parts.push(format!("the procedure describes {} but test_types does not list it", undeclared.join(" and ")));
        }
        if !unsupported.is_empty() {
            parts.push(format!("test_types lists {} but the procedure describes none", unsupported.join(" and ")));
        }
        diags.push(
            Diagnostic::warning(
                Code::TestTypeMismatch,
                format!("control `{id}`: {}", parts.join("; ")),
            )
            .at(at)
            .hint("make `test_types` name what the procedure does (inquiry, observation, inspection, reperformance), or reword the procedure"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn performed_tests_are_found_and_proposals_pass() {
        let past = |t: &str| past_tense(t).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(
            past(
                "Inspected the load-balancer TLS policies; reperformed a TLS scan and observed that protocols below TLS 1.2 were refused."
            ),
            ["inspected", "reperformed", "observed"]
        );
        assert_eq!(past("For a sample of new hires, inspected the background check."), ["inspected"]);
        assert_eq!(
            past("Selected a sample of days and determined whether every signal was triaged."),
            ["selected", "determined"]
        );
        assert!(
            past("Inspect the access review exports to determine whether each review was approved and noted.")
                .is_empty()
        );
        assert!(
            past("Inspect the restore logs to determine whether restores were inspected by a second engineer.")
                .is_empty()
        );
        assert!(past("For a sample of devices selected from the asset register, inspect the wipe record.").is_empty());
    }

    #[test]
    fn the_procedure_names_its_test_types() {
        assert_eq!(
            described_types("Inquire of the IT lead and inspect the log."),
            [TestType::Inquiry, TestType::Inspection]
        );
        assert_eq!(
            described_types("Observe a sign-in attempt; reperform the TLS scan."),
            [TestType::Observation, TestType::Reperformance]
        );
        assert_eq!(described_types("Recalculate availability from the checks."), [TestType::Reperformance]);
        assert!(described_types("Review the policy.").is_empty());
    }
}
