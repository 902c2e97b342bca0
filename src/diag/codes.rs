//! Every diagnostic code auditpack emits, with its default severity and a one-line summary:
//! the rules of the SARIF output and the names `[check] levels` accepts. Each is documented in
//! docs/diagnostics.md (a test keeps the three lists in step with the source).

use crate::diag::Severity::{self, Error, Note, Warning};

pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

const fn c(code: &'static str, severity: Severity, summary: &'static str) -> Code {
    Code { code, severity, summary }
}

pub const CODES: &[Code] = &[
    // Loading the project.
    c("no-project", Error, "The folder is not an auditpack project"),
    c("not-utf8", Error, "A project file is not valid UTF-8"),
    c("too-long", Error, "A line or value of a project file is longer than 64 KiB"),
    c("unreadable-file", Error, "A file cannot be read"),
    c("toml-syntax", Error, "A TOML file does not parse"),
    c("json-syntax", Error, "A JSON file does not parse"),
    c("duplicate-key", Error, "A JSON object gives the same key twice"),
    c("unknown-key", Error, "A key that auditpack does not know (a typo?)"),
    c("missing-key", Error, "A required key or section is missing"),
    c("invalid-value", Error, "A value is not one of the allowed words or not of the right type"),
    c("invalid-id", Error, "An id has characters other than letters, digits, -, _ and ."),
    c("invalid-path", Error, "A path leaves the project folder"),
    c("invalid-pattern", Error, "A glob pattern does not parse"),
    c("invalid-period", Error, "The observation period ends before it starts, or on the day it starts"),
    c("period-too-long", Error, "The observation period is longer than three years"),
    c("missing-security", Error, "The Security category is not in scope"),
    c("missing-evidence-dir", Error, "The evidence folder does not exist"),
    c("missing-file", Error, "A file named in the project does not exist"),
    c("invalid-logo", Error, "The logo is not a PNG or JPEG image, or cannot be read"),
    c("missing-criteria", Error, "A control maps to no criterion"),
    c("unknown-criterion", Error, "Not one of the 61 trust services criteria"),
    c("criterion-out-of-scope", Warning, "A control maps to a criterion of a category not in scope"),
    c("unknown-provider", Error, "A provider that is not declared"),
    c("csoc-without-criteria", Warning, "A carve-out provider's CSOC is mapped to no criterion"),
    c("csocs-on-inclusive", Warning, "CSOCs listed for a provider presented with the inclusive method"),
    c("inclusive-without-assertion", Error, "An inclusive provider does not name its own management assertion"),
    c("unknown-control", Error, "A sidecar names a control that is not in the catalogue"),
    c("cuec-string", Error, "A control gives its CUEC as a string; CUECs are a `[[cuec]]` list now"),
    c("unknown-cuec", Error, "A control relies on a CUEC that is not declared"),
    c("cuec-without-criteria", Warning, "A CUEC is mapped to no criterion"),
    c("unused-cuec", Warning, "A CUEC that no control relies on"),
    c("duplicate-control", Error, "Two controls share an id"),
    c("duplicate-asset", Error, "Two assets share an id"),
    c("duplicate-id", Error, "Two entries share an id"),
    c("no-controls", Error, "The project has no controls"),
    c("no-assets", Note, "The project has no asset inventory"),
    c("no-narrative", Note, "The project has no narrative folder"),
    c(
        "ignored-entry",
        Warning,
        "An entry named like a project file or sidecar that is a folder or special file, so it is not read",
    ),
    // Evidence.
    c("broken-symlink", Warning, "A symbolic link in the evidence points nowhere"),
    c("symlink-loop", Warning, "A symbolic link loop in the evidence"),
    c("symlink-outside", Warning, "A symbolic link leaves the evidence folder"),
    c("unpackageable-name", Error, "An evidence file name BagIt cannot carry"),
    c("orphan-sidecar", Warning, "A sidecar whose evidence file does not exist"),
    c("pattern-matches-nothing", Warning, "A control's evidence pattern matches no file"),
    c("unmapped-evidence", Note, "An evidence file maps to no control"),
    c("inferred-date", Note, "An effective date taken from the file's modification time"),
    c("special-file", Note, "A FIFO, socket or device in the evidence folder, not collected"),
    c("empty-evidence", Warning, "An evidence file is empty; it counts for no control"),
    c(
        "evidence-after-period",
        Warning,
        "Evidence effective only after the period end or as-of date; it counts for no control",
    ),
    c(
        "evidence-other-provider",
        Warning,
        "A file of another provider mapped to a per-provider control; it does not count",
    ),
    c(
        "assurance-without-provider",
        Warning,
        "A sidecar marks a file as a SOC report or bridge letter but names no provider",
    ),
    c("assurance-without-period", Warning, "A SOC report or bridge letter without the period it covers"),
    c("subservice-report-missing", Warning, "No SOC report of a carve-out subservice organisation is on file"),
    c(
        "subservice-report-gap",
        Warning,
        "A carve-out provider's reports and bridge letters do not cover the whole period or the as-of date",
    ),
    c("changes-not-used", Note, "A changes.md narrative in a Type 1 project (DC 200 item 9 is Type 2 only)"),
    // Assessment of controls.
    c("missing-evidence", Warning, "A control has no evidence"),
    c("stale-evidence", Warning, "A control's latest evidence is older than its frequency allows"),
    c("missing-occurrence", Warning, "A control has no evidence for some occurrences in the period"),
    c("invalid-no-occurrence", Error, "A no-occurrence statement's sidecar lacks its period or who attests it"),
    c("no-occurrence-period", Warning, "A no-occurrence statement does not cover the whole period"),
    c(
        "no-occurrence-contradicted",
        Warning,
        "A control has a no-occurrence statement and evidence dated in the period",
    ),
    c("past-tense-procedure", Warning, "A proposed test procedure reads as already performed"),
    c("test-type-mismatch", Warning, "A control's `test_types` disagree with its test procedure"),
    c("uncovered-criterion", Warning, "Criteria in scope that no control addresses"),
    // The risk register.
    c("no-risks", Note, "The project has no risk register"),
    c("register-not-array", Error, "The risk register is not a JSON array"),
    c("invalid-risk", Error, "A register entry is not a valid risk (e.g. no risk_id)"),
    c("duplicate-risk", Error, "Two risks share an id"),
    c("unknown-level", Error, "A likelihood, impact or score that the scoring matrix does not know"),
    c("unknown-risk-field", Warning, "A register field that looks like a typo of a known one"),
    c("unknown-asset", Error, "A risk names an asset that is not in assets.toml"),
    c("unknown-objective", Error, "A risk names an objective that is not declared"),
    c("csv-syntax", Error, "The CSV register does not parse"),
    c("csv-missing-column", Error, "The CSV register lacks a required column"),
    c("csv-ragged-row", Error, "A CSV row has more or fewer cells than the header"),
    // Risk checks.
    c("score-mismatch", Error, "A declared score disagrees with likelihood x impact"),
    c("risk-without-control", Error, "A Medium or High risk maps to no control"),
    c("unknown-risk-control", Warning, "A risk relies on a control that is not in the catalogue"),
    c("potential-significant-deficiency", Warning, "A risk relies on a control whose evidence is missing or stale"),
    c("accepted-without-justification", Error, "An accepted risk has no business justification"),
    c("accepted-high-risk", Warning, "A High risk is accepted"),
    c("residual-above-inherent", Warning, "A residual rating above the inherent one"),
    c("mitigate-without-reduction", Warning, "A mitigated risk whose residual rating equals the inherent one"),
    c("stale-risk-review", Warning, "A risk not reviewed within the review interval (12 months by default)"),
    c("no-risk-review-minutes", Warning, "No minutes of a risk-review meeting in the period"),
    c("generic-risk", Warning, "A risk described too generically to map to a control"),
    c("vendor-asset-without-risk", Warning, "A vendor that no risk concerns (supply chain ignored)"),
    c("critical-asset-without-risk", Warning, "A critical asset that no risk concerns"),
    c("impact-below-criticality", Warning, "A risk's impact is lower than the criticality of its asset"),
    c("objective-unaddressed", Warning, "An objective that no risk threatens"),
    c("no-objectives", Note, "The project declares no objectives (CC3.1)"),
    // Scanner findings.
    c("invalid-scanner-report", Error, "A scanner report that cannot be read"),
    c("invalid-vex", Error, "An OpenVEX document that is not valid; none of its statements is applied"),
    c("scan-target-unmapped", Note, "Scanner findings on a target that belongs to no asset"),
    c("scanner-raises-likelihood", Warning, "Critical or high findings raise a risk's likelihood; review it"),
    // The check configuration.
    c("unknown-check-code", Error, "[check] levels names a code auditpack does not emit"),
    // Packaging, verifying, snapshots, the hash cache.
    c(
        "secret-in-evidence",
        Error,
        "An evidence file (or sidecar) holds something that looks like a private key or credential",
    ),
    c(
        "secret-in-project",
        Error,
        "A project file (narrative, controls, register, assets, auditpack.toml, template, logo) holds something that looks like a credential",
    ),
    c("secret-allowed", Note, "A suspected secret in a file `allow_secrets` lists"),
    c("unused-allow-secrets", Warning, "An `allow_secrets` entry matches no file with a suspected secret"),
    c("checksum-mismatch", Error, "A file's checksum differs from its manifest (payload) or tag manifest (tag files)"),
    c("missing-from-bag", Error, "A file listed in a manifest is not in the bag"),
    c("unlisted-file", Error, "A payload file no manifest lists"),
    c("payload-oxum", Error, "Payload-Oxum disagrees with the payload, or is malformed or repeated"),
    c("missing-bagit-txt", Error, "The bag has no `bagit.txt`"),
    c("invalid-bagit-txt", Error, "`bagit.txt` has a BOM, extra spaces, a bad version, or misses a line"),
    c("unsupported-encoding", Error, "Tag files declared in an encoding other than UTF-8, UTF-16, ISO-8859-1"),
    c("invalid-tag-file", Error, "A tag file is not valid in its declared encoding"),
    c("missing-manifest", Error, "No `manifest-<algorithm>.txt`"),
    c("unknown-algorithm", Warning, "A manifest for an algorithm other than md5, sha1, sha224, sha256, sha384, sha512"),
    c("invalid-manifest-line", Error, "A manifest line is not `<checksum> <path>` of the right length"),
    c("duplicate-manifest-entry", Error, "A path listed twice"),
    c(
        "duplicate-name-variant",
        Warning,
        "Two entries differ only in letter case or Unicode normalisation and name one file",
    ),
    c("path-outside-bag", Error, "A manifest path is absolute, uses `..`, `~` or backslashes"),
    c("path-outside-payload", Error, "A payload manifest or `fetch.txt` names a path outside `data/`"),
    c("payload-in-tag-manifest", Error, "A tag manifest lists a payload file"),
    c("incomplete-bag", Error, "A file listed in `fetch.txt` was never fetched"),
    c("binary-marker", Warning, "A path starts with `*` (md5sum binary mode)"),
    c("dot-slash-path", Warning, "A path starts with `./`"),
    c("system-file", Warning, "`.DS_Store`, `Thumbs.db` ... in the payload"),
    c("missing-system-file", Warning, "A listed OS metadata file is missing (archivers drop them)"),
    c(
        "corrupt-entry",
        Error,
        "A file cannot be read or decompressed, or holds more/fewer bytes than its zip entry declares",
    ),
    c("oversized-tag-file", Error, "bagit.txt or the signature over 64 KiB, the signed tag manifest over 16 MiB"),
    c(
        "hostile-archive",
        Error,
        "Zip entries with `..` or absolute names, duplicate names, overlapping entries, encryption, links, FIFOs, devices or setuid modes, local headers that disagree with the central directory or hidden entries, or sizes the compression method cannot give (Deflate above 1032:1)",
    ),
    c(
        "file-mode",
        Error,
        "A zip entry's Unix mode is not the `-rw-r--r--` build writes (error), or is executable or world-writable (warning, other tools' bags)",
    ),
    c("not-a-bag", Error, "The zip does not hold one top-level bag folder"),
    c("invalid-file-name", Error, "A file name in a bag folder is not UTF-8"),
    c("symlink-in-bag", Error, "A bag folder holds a symbolic link (not followed)"),
    c("special-file-in-bag", Error, "A bag folder holds a FIFO, device or socket (never opened)"),
    c("signature-missing", Error, "`--key` was given but the package has no signature"),
    c(
        "signature-invalid",
        Error,
        "The signature does not verify with the given key, is from another key, or cannot be parsed",
    ),
    c("unsigned-tag-file", Error, "With a valid signature, a tag file the signed tag manifest does not cover"),
    c("signature-not-checked", Note, "The package is signed but no `--key` was given"),
    c(
        "snapshot-chain-broken",
        Error,
        "A manifest does not carry the hash of the one before, numbers skip, or the first is gone",
    ),
    c("snapshot-unreadable", Error, "A manifest cannot be parsed"),
    c("snapshot-unsafe-path", Error, "A manifest names a path that leaves the project folder"),
    c("snapshot-blob-missing", Error, "A stored content a snapshot needs is gone"),
    c("snapshot-blob-corrupt", Error, "A stored content does not match its SHA-256"),
    c("snapshot-leftovers", Note, "Temporary files or unfinished uploads of an interrupted run"),
    c("snapshot-orphans", Note, "Stored contents no snapshot names (an interrupted run)"),
    c("snapshot-history-unreadable", Warning, "A build could not read earlier snapshots"),
    c("snapshot-bucket-unlocked", Error, "Retention is asked for but the bucket has no Object Lock"),
    c(
        "snapshot-retention-missing",
        Error,
        "An object or snapshot holds no Object Lock retention though retention is asked for",
    ),
    c(
        "snapshot-retention-short",
        Error,
        "An object is retained for less (or in a weaker mode) than its snapshots asked",
    ),
    c("snapshot-timestamp-invalid", Error, "A snapshot's RFC 3161 token does not verify"),
    c("snapshot-timestamp-missing", Warning, "`verify --tsa-cert` found a snapshot without a time-stamp token"),
    c("cache-not-written", Warning, "The hash cache could not be written"),
    // Populations, provenance and collectors.
    c("listing-not-found", Warning, "No evidence file matches a control's population listing"),
    c("invalid-listing", Error, "A population listing is not CSV, JSON or JSON lines, or does not parse"),
    c("unknown-column", Error, "A population names a column its listing does not have"),
    c("invalid-listing-date", Error, "A listing's date column holds a value that is not a date"),
    c("undated-items", Warning, "Rows of a listing without a date, left out of the population"),
    c("conflicting-item", Warning, "One item appears twice in a population's listings with different dates"),
    c("sample-without-support", Warning, "Sampled items without supporting evidence on file"),
    c("listing-without-provenance", Warning, "A population listing has no provenance record"),
    c("provenance-incomplete", Warning, "A provenance record leaves out what an auditor asks for"),
    c("record-count-mismatch", Error, "A listing holds another number of records than its provenance says"),
    c("listing-generated-early", Warning, "A listing was generated before the period it covers ended"),
    c("listing-period-short", Warning, "A population's listings do not cover the whole period"),
    c("collector-output-changed", Error, "A collector's output was changed after `auditpack fetch` wrote it"),
    c("unknown-collector", Error, "`fetch --only` names a collector the project does not have"),
    c("collector-output-exists", Error, "A collector's output file exists already; fetch never overwrites"),
    c("collector-failed", Error, "A collector's command could not start or exited non-zero"),
    c("collector-timeout", Error, "A collector's command ran longer than its timeout"),
    c("collector-empty", Error, "A collector's command printed nothing"),
    c("collector-secret", Error, "A collector's command line holds what looks like a secret"),
];

/// Codes of the assessment's findings about the compliance posture (gaps, risk checks, scanner
/// findings), as opposed to problems that keep the project from loading or packaging. `build`
/// writes the package whatever their level, since they are what the gap analysis shows; only
/// `build --strict` stops on those at deny level. `auditpack check` fails on them as on any other.
pub const POSTURE: &[&str] = &[
    "missing-evidence",
    "stale-evidence",
    "missing-occurrence",
    "uncovered-criterion",
    "score-mismatch",
    "risk-without-control",
    "unknown-risk-control",
    "potential-significant-deficiency",
    "accepted-without-justification",
    "accepted-high-risk",
    "residual-above-inherent",
    "mitigate-without-reduction",
    "stale-risk-review",
    "no-risk-review-minutes",
    "generic-risk",
    "vendor-asset-without-risk",
    "critical-asset-without-risk",
    "impact-below-criticality",
    "objective-unaddressed",
    "no-objectives",
    "scanner-raises-likelihood",
    "scan-target-unmapped",
    "inferred-date",
    "unmapped-evidence",
    "pattern-matches-nothing",
    "empty-evidence",
    "evidence-after-period",
    "evidence-other-provider",
    "changes-not-used",
    "subservice-report-missing",
    "subservice-report-gap",
    "listing-not-found",
    "undated-items",
    "conflicting-item",
    "sample-without-support",
    "listing-without-provenance",
    "provenance-incomplete",
    "record-count-mismatch",
    "listing-generated-early",
    "listing-period-short",
    "collector-output-changed",
];

/// Whether `code` is a posture finding (see [`POSTURE`]).
pub fn is_posture(code: &str) -> bool {
    POSTURE.contains(&code)
}

pub fn find(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every code the source emits is registered and documented; every registered code exists.
    #[test]
    fn registry_source_and_docs_agree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut emitted = BTreeSet::new();
        for e in walkdir::WalkDir::new(root.join("src")).into_iter().filter_map(|e| e.ok()) {
            if e.path().extension().is_none_or(|x| x != "rs") || e.path().ends_with("codes.rs") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap();
            for (i, _) in text.match_indices("Diagnostic::") {
                let rest = &text[i..];
                let Some(open) = rest.find('(') else { continue };
                let call = rest[open + 1..].trim_start();
                if let Some(s) = call.strip_prefix('"') {
                    let code = &s[..s.find('"').unwrap()];
                    if code.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                        emitted.insert(code.to_string());
                    }
                }
            }
            for q in ["\"duplicate-control\"", "\"duplicate-asset\"", "\"unknown-asset\"", "\"unknown-objective\""] {
                if text.contains(q) {
                    emitted.insert(q.trim_matches('"').to_string());
                }
            }
        }
        let registered: BTreeSet<String> = CODES.iter().map(|c| c.code.to_string()).collect();
        let missing: Vec<&String> = emitted.difference(&registered).collect();
        assert!(missing.is_empty(), "codes emitted but not registered: {missing:?}");
        let docs = std::fs::read_to_string(root.join("docs/diagnostics.md")).unwrap();
        for c in CODES {
            assert!(docs.contains(&format!("## {}\n", c.code)), "{} is not documented in docs/diagnostics.md", c.code);
        }
        assert_eq!(registered.len(), CODES.len(), "codes are unique");
    }
}
