//! Every diagnostic code auditpack emits, as one enum: its kebab-case name (what users write in
//! `[check] levels` and what every output shows), its default severity, a one-line summary (the
//! rules of the SARIF output) and whether it is a posture finding. Each is documented in
//! docs/diagnostics.md; a test keeps that page's table in step with this list.
//!
//! The list is written once, in the `codes!` invocation below; the macro derives the enum, its
//! table [`Code::ALL`] and the lookups from it, so a code cannot be emitted without being
//! registered, and a name cannot be misspelt where it is emitted.

use crate::diag::Severity;
use std::fmt;

macro_rules! codes {
    ($( $variant:ident : $name:literal, $severity:ident $(+ $posture:ident)?, $summary:literal; )*) => {
        /// A diagnostic code. See the module docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( #[doc = $summary] $variant, )*
        }

        impl Code {
            /// Every code, in the order of docs/diagnostics.md (the SARIF rules' order).
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The kebab-case name.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity a diagnostic of this code has unless `[check] levels` changes it.
            pub const fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line saying what the code means.
            pub const fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }

            /// Whether the code is a finding about the compliance posture (gaps, risk checks,
            /// scanner findings, populations), as opposed to a problem that keeps the project
            /// from loading or packaging. `build` writes the package whatever the level of a
            /// posture finding, since such findings are what the gap analysis shows; only
            /// `build --strict` stops on those at deny level. `auditpack check` fails on them as
            /// on any other.
            pub const fn is_posture(self) -> bool {
                match self { $(Code::$variant => codes!(@posture $($posture)?),)* }
            }
        }
    };
    (@posture posture) => { true };
    (@posture) => { false };
}

impl Code {
    /// The code named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Code, UnknownCode> {
        Code::from_name(s).ok_or_else(|| UnknownCode(s.to_string()))
    }
}

/// A name that is no diagnostic code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode(pub String);

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a diagnostic code", self.0)
    }
}

impl std::error::Error for UnknownCode {}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Code::from_name(&name).ok_or_else(|| serde::de::Error::custom(UnknownCode(name.into_owned())))
    }
}

/// Codes sort by name, as every output lists them.
impl Ord for Code {
    fn cmp(&self, other: &Code) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Code) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Tests compare a diagnostic's code with its name.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

codes! {
    // Loading the project.
    NoProject: "no-project", Error, "The folder is not an auditpack project";
    NotUtf8: "not-utf8", Error, "A project file is not valid UTF-8";
    TooLong: "too-long", Error, "A line or value of a project file is longer than 64 KiB";
    UnreadableFile: "unreadable-file", Error, "A file cannot be read";
    TomlSyntax: "toml-syntax", Error, "A TOML file does not parse";
    JsonSyntax: "json-syntax", Error, "A JSON file does not parse";
    DuplicateKey: "duplicate-key", Error, "A JSON object gives the same key twice";
    UnknownKey: "unknown-key", Error, "A key that auditpack does not know (a typo?)";
    MissingKey: "missing-key", Error, "A required key or section is missing";
    InvalidValue: "invalid-value", Error, "A value is not one of the allowed words or not of the right type";
    InvalidId: "invalid-id", Error, "An id has characters other than letters, digits, -, _ and .";
    InvalidPath: "invalid-path", Error, "A path leaves the project folder";
    InvalidPattern: "invalid-pattern", Error, "A glob pattern does not parse";
    InvalidPeriod: "invalid-period", Error,
        "The observation period ends before it starts, or on the day it starts";
    PeriodTooLong: "period-too-long", Error, "The observation period is longer than three years";
    MissingSecurity: "missing-security", Error, "The Security category is not in scope";
    MissingEvidenceDir: "missing-evidence-dir", Error, "The evidence folder does not exist";
    MissingFile: "missing-file", Error, "A file named in the project does not exist";
    InvalidLogo: "invalid-logo", Error, "The logo is not a PNG or JPEG image, or cannot be read";
    MissingCriteria: "missing-criteria", Error, "A control maps to no criterion";
    UnknownCriterion: "unknown-criterion", Error, "Not one of the 61 trust services criteria";
    CriterionOutOfScope: "criterion-out-of-scope", Warning,
        "A control maps to a criterion of a category not in scope";
    UnknownProvider: "unknown-provider", Error, "A provider that is not declared";
    CsocWithoutCriteria: "csoc-without-criteria", Warning,
        "A carve-out provider's CSOC is mapped to no criterion";
    CsocsOnInclusive: "csocs-on-inclusive", Warning,
        "CSOCs listed for a provider presented with the inclusive method";
    InclusiveWithoutAssertion: "inclusive-without-assertion", Error,
        "An inclusive provider does not name its own management assertion";
    UnknownControl: "unknown-control", Error, "A sidecar names a control that is not in the catalogue";
    CuecString: "cuec-string", Error, "A control gives its CUEC as a string; CUECs are a `[[cuec]]` list now";
    UnknownCuec: "unknown-cuec", Error, "A control relies on a CUEC that is not declared";
    CuecWithoutCriteria: "cuec-without-criteria", Warning, "A CUEC is mapped to no criterion";
    UnusedCuec: "unused-cuec", Warning, "A CUEC that no control relies on";
    DuplicateControl: "duplicate-control", Error, "Two controls share an id";
    DuplicateAsset: "duplicate-asset", Error, "Two assets share an id";
    DuplicateId: "duplicate-id", Error, "Two entries share an id";
    NoControls: "no-controls", Error, "The project has no controls";
    NoAssets: "no-assets", Note, "The project has no asset inventory";
    NoNarrative: "no-narrative", Note, "The project has no narrative folder";
    IgnoredEntry: "ignored-entry", Warning,
        "An entry named like a project file or sidecar that is a folder or special file, so it is not read";
    // Evidence.
    BrokenSymlink: "broken-symlink", Warning, "A symbolic link in the evidence points nowhere";
    SymlinkLoop: "symlink-loop", Warning, "A symbolic link loop in the evidence";
    SymlinkOutside: "symlink-outside", Warning, "A symbolic link leaves the evidence folder";
    UnpackageableName: "unpackageable-name", Error, "An evidence file name BagIt cannot carry";
    OrphanSidecar: "orphan-sidecar", Warning, "A sidecar whose evidence file does not exist";
    PatternMatchesNothing: "pattern-matches-nothing", Warning + posture,
        "A control's evidence pattern matches no file";
    UnmappedEvidence: "unmapped-evidence", Note + posture, "An evidence file maps to no control";
    InferredDate: "inferred-date", Note + posture,
        "An effective date taken from the file's modification time";
    SpecialFile: "special-file", Note, "A FIFO, socket or device in the evidence folder, not collected";
    EmptyEvidence: "empty-evidence", Warning + posture, "An evidence file is empty; it counts for no control";
    EvidenceAfterPeriod: "evidence-after-period", Warning + posture,
        "Evidence effective only after the period end or as-of date; it counts for no control";
    EvidenceOtherProvider: "evidence-other-provider", Warning + posture,
        "A file of another provider mapped to a per-provider control; it does not count";
    AssuranceWithoutProvider: "assurance-without-provider", Warning,
        "A sidecar marks a file as a SOC report or bridge letter but names no provider";
    AssuranceWithoutPeriod: "assurance-without-period", Warning,
        "A SOC report or bridge letter without the period it covers";
    SubserviceReportMissing: "subservice-report-missing", Warning + posture,
        "No SOC report of a carve-out subservice organisation is on file";
    SubserviceReportGap: "subservice-report-gap", Warning + posture,
        "A carve-out provider's reports and bridge letters do not cover the whole period or the as-of date";
    ChangesNotUsed: "changes-not-used", Note + posture,
        "A changes.md narrative in a Type 1 project (DC 200 item 9 is Type 2 only)";
    // Assessment of controls.
    MissingEvidence: "missing-evidence", Warning + posture, "A control has no evidence";
    StaleEvidence: "stale-evidence", Warning + posture,
        "A control's latest evidence is older than its frequency allows";
    MissingOccurrence: "missing-occurrence", Warning + posture,
        "A control has no evidence for some occurrences in the period";
    InvalidNoOccurrence: "invalid-no-occurrence", Error,
        "A no-occurrence statement's sidecar lacks its period or who attests it";
    NoOccurrencePeriod: "no-occurrence-period", Warning,
        "A no-occurrence statement does not cover the whole period";
    NoOccurrenceContradicted: "no-occurrence-contradicted", Warning,
        "A control has a no-occurrence statement and evidence dated in the period";
    PastTenseProcedure: "past-tense-procedure", Warning,
        "A proposed test procedure reads as already performed";
    TestTypeMismatch: "test-type-mismatch", Warning,
        "A control's `test_types` disagree with its test procedure";
    UncoveredCriterion: "uncovered-criterion", Warning + posture,
        "Criteria in scope that no control addresses";
    // The risk register.
    NoRisks: "no-risks", Note, "The project has no risk register";
    RegisterNotArray: "register-not-array", Error, "The risk register is not a JSON array";
    InvalidRisk: "invalid-risk", Error, "A register entry is not a valid risk (e.g. no risk_id)";
    DuplicateRisk: "duplicate-risk", Error, "Two risks share an id";
    UnknownLevel: "unknown-level", Error,
        "A likelihood, impact or score that the scoring matrix does not know";
    UnknownRiskField: "unknown-risk-field", Warning, "A register field that looks like a typo of a known one";
    UnknownAsset: "unknown-asset", Error, "A risk names an asset that is not in assets.toml";
    UnknownObjective: "unknown-objective", Error, "A risk names an objective that is not declared";
    CsvSyntax: "csv-syntax", Error, "The CSV register does not parse";
    CsvMissingColumn: "csv-missing-column", Error, "The CSV register lacks a required column";
    CsvRaggedRow: "csv-ragged-row", Error, "A CSV row has more or fewer cells than the header";
    // Risk checks.
    ScoreMismatch: "score-mismatch", Error + posture, "A declared score disagrees with likelihood x impact";
    RiskWithoutControl: "risk-without-control", Error + posture, "A Medium or High risk maps to no control";
    UnknownRiskControl: "unknown-risk-control", Warning + posture,
        "A risk relies on a control that is not in the catalogue";
    PotentialSignificantDeficiency: "potential-significant-deficiency", Warning + posture,
        "A risk relies on a control whose evidence is missing or stale";
    AcceptedWithoutJustification: "accepted-without-justification", Error + posture,
        "An accepted risk has no business justification";
    AcceptedHighRisk: "accepted-high-risk", Warning + posture, "A High risk is accepted";
    ResidualAboveInherent: "residual-above-inherent", Warning + posture,
        "A residual rating above the inherent one";
    MitigateWithoutReduction: "mitigate-without-reduction", Warning + posture,
        "A mitigated risk whose residual rating equals the inherent one";
    StaleRiskReview: "stale-risk-review", Warning + posture,
        "A risk not reviewed within the review interval (12 months by default)";
    NoRiskReviewMinutes: "no-risk-review-minutes", Warning + posture,
        "No minutes of a risk-review meeting in the period";
    GenericRisk: "generic-risk", Warning + posture, "A risk described too generically to map to a control";
    VendorAssetWithoutRisk: "vendor-asset-without-risk", Warning + posture,
        "A vendor that no risk concerns (supply chain ignored)";
    CriticalAssetWithoutRisk: "critical-asset-without-risk", Warning + posture,
        "A critical asset that no risk concerns";
    ImpactBelowCriticality: "impact-below-criticality", Warning + posture,
        "A risk's impact is lower than the criticality of its asset";
    ObjectiveUnaddressed: "objective-unaddressed", Warning + posture, "An objective that no risk threatens";
    NoObjectives: "no-objectives", Note + posture, "The project declares no objectives (CC3.1)";
    // Scanner findings.
    InvalidScannerReport: "invalid-scanner-report", Error, "A scanner report that cannot be read";
    InvalidVex: "invalid-vex", Error,
        "An OpenVEX document that is not valid; none of its statements is applied";
    ScanTargetUnmapped: "scan-target-unmapped", Note + posture,
        "Scanner findings on a target that belongs to no asset";
    ScannerRaisesLikelihood: "scanner-raises-likelihood", Warning + posture,
        "Critical or high findings raise a risk's likelihood; review it";
    // The check configuration.
    UnknownCheckCode: "unknown-check-code", Error, "[check] levels names a code auditpack does not emit";
    // Packaging, verifying, snapshots, the hash cache.
    SecretInEvidence: "secret-in-evidence", Error,
        "An evidence file (or sidecar) holds something that looks like a private key or credential";
    SecretInProject: "secret-in-project", Error,
        "A project file (narrative, controls, register, assets, auditpack.toml, template, logo) holds something that looks like a credential";
    SecretAllowed: "secret-allowed", Note, "A suspected secret in a file `allow_secrets` lists";
    UnusedAllowSecrets: "unused-allow-secrets", Warning,
        "An `allow_secrets` entry matches no file with a suspected secret";
    ChecksumMismatch: "checksum-mismatch", Error,
        "A file's checksum differs from its manifest (payload) or tag manifest (tag files)";
    MissingFromBag: "missing-from-bag", Error, "A file listed in a manifest is not in the bag";
    UnlistedFile: "unlisted-file", Error, "A payload file no manifest lists";
    PayloadOxum: "payload-oxum", Error,
        "Payload-Oxum disagrees with the payload, or is malformed or repeated";
    MissingBagitTxt: "missing-bagit-txt", Error, "The bag has no `bagit.txt`";
    InvalidBagitTxt: "invalid-bagit-txt", Error,
        "`bagit.txt` has a BOM, extra spaces, a bad version, or misses a line";
    UnsupportedEncoding: "unsupported-encoding", Error,
        "Tag files declared in an encoding other than UTF-8, UTF-16, ISO-8859-1";
    InvalidTagFile: "invalid-tag-file", Error, "A tag file is not valid in its declared encoding";
    MissingManifest: "missing-manifest", Error, "No `manifest-<algorithm>.txt`";
    UnknownAlgorithm: "unknown-algorithm", Warning,
        "A manifest for an algorithm other than md5, sha1, sha224, sha256, sha384, sha512";
    InvalidManifestLine: "invalid-manifest-line", Error,
        "A manifest line is not `<checksum> <path>` of the right length";
    DuplicateManifestEntry: "duplicate-manifest-entry", Error, "A path listed twice";
    DuplicateNameVariant: "duplicate-name-variant", Warning,
        "Two entries differ only in letter case or Unicode normalisation and name one file";
    PathOutsideBag: "path-outside-bag", Error, "A manifest path is absolute, uses `..`, `~` or backslashes";
    PathOutsidePayload: "path-outside-payload", Error,
        "A payload manifest or `fetch.txt` names a path outside `data/`";
    PayloadInTagManifest: "payload-in-tag-manifest", Error, "A tag manifest lists a payload file";
    IncompleteBag: "incomplete-bag", Error, "A file listed in `fetch.txt` was never fetched";
    BinaryMarker: "binary-marker", Warning, "A path starts with `*` (md5sum binary mode)";
    DotSlashPath: "dot-slash-path", Warning, "A path starts with `./`";
    SystemFile: "system-file", Warning, "`.DS_Store`, `Thumbs.db` ... in the payload";
    MissingSystemFile: "missing-system-file", Warning,
        "A listed OS metadata file is missing (archivers drop them)";
    CorruptEntry: "corrupt-entry", Error,
        "A file cannot be read or decompressed, or holds more/fewer bytes than its zip entry declares";
    OversizedTagFile: "oversized-tag-file", Error,
        "bagit.txt or the signature over 64 KiB, the signed tag manifest over 16 MiB";
    HostileArchive: "hostile-archive", Error,
        "Zip entries with `..` or absolute names, duplicate names, overlapping entries, encryption, links, FIFOs, devices or setuid modes, local headers that disagree with the central directory or hidden entries, or sizes the compression method cannot give (Deflate above 1032:1)";
    FileMode: "file-mode", Error,
        "A zip entry's Unix mode is not the `-rw-r--r--` build writes (error), or is executable or world-writable (warning, other tools' bags)";
    NotABag: "not-a-bag", Error, "The zip does not hold one top-level bag folder";
    InvalidFileName: "invalid-file-name", Error, "A file name in a bag folder is not UTF-8";
    SymlinkInBag: "symlink-in-bag", Error, "A bag folder holds a symbolic link (not followed)";
    SpecialFileInBag: "special-file-in-bag", Error,
        "A bag folder holds a FIFO, device or socket (never opened)";
    SignatureMissing: "signature-missing", Error, "`--key` was given but the package has no signature";
    SignatureInvalid: "signature-invalid", Error,
        "The signature does not verify with the given key, is from another key, or cannot be parsed";
    UnsignedTagFile: "unsigned-tag-file", Error,
        "With a valid signature, a tag file the signed tag manifest does not cover";
    SignatureNotChecked: "signature-not-checked", Note, "The package is signed but no `--key` was given";
    SnapshotChainBroken: "snapshot-chain-broken", Error,
        "A manifest does not carry the hash of the one before, numbers skip, or the first is gone";
    SnapshotUnreadable: "snapshot-unreadable", Error, "A manifest cannot be parsed";
    SnapshotUnsafePath: "snapshot-unsafe-path", Error,
        "A manifest names a path that leaves the project folder";
    SnapshotBlobMissing: "snapshot-blob-missing", Error, "A stored content a snapshot needs is gone";
    SnapshotBlobCorrupt: "snapshot-blob-corrupt", Error, "A stored content does not match its SHA-256";
    SnapshotLeftovers: "snapshot-leftovers", Note,
        "Temporary files or unfinished uploads of an interrupted run";
    SnapshotOrphans: "snapshot-orphans", Note, "Stored contents no snapshot names (an interrupted run)";
    SnapshotHistoryUnreadable: "snapshot-history-unreadable", Warning,
        "A build could not read earlier snapshots";
    SnapshotBucketUnlocked: "snapshot-bucket-unlocked", Error,
        "Retention is asked for but the bucket has no Object Lock";
    SnapshotRetentionMissing: "snapshot-retention-missing", Error,
        "An object or snapshot holds no Object Lock retention though retention is asked for";
    SnapshotRetentionShort: "snapshot-retention-short", Error,
        "An object is retained for less (or in a weaker mode) than its snapshots asked";
    SnapshotTimestampInvalid: "snapshot-timestamp-invalid", Error,
        "A snapshot's RFC 3161 token does not verify";
    SnapshotTimestampMissing: "snapshot-timestamp-missing", Warning,
        "`verify --tsa-cert` found a snapshot without a time-stamp token";
    CacheNotWritten: "cache-not-written", Warning, "The hash cache could not be written";
    // Populations, provenance and collectors.
    ListingNotFound: "listing-not-found", Warning + posture,
        "No evidence file matches a control's population listing";
    InvalidListing: "invalid-listing", Error,
        "A population listing is not CSV, JSON or JSON lines, or does not parse";
    UnknownColumn: "unknown-column", Error, "A population names a column its listing does not have";
    InvalidListingDate: "invalid-listing-date", Error,
        "A listing's date column holds a value that is not a date";
    UndatedItems: "undated-items", Warning + posture,
        "Rows of a listing without a date, left out of the population";
    ConflictingItem: "conflicting-item", Warning + posture,
        "One item appears twice in a population's listings with different dates";
    SampleWithoutSupport: "sample-without-support", Warning + posture,
        "Sampled items without supporting evidence on file";
    ListingWithoutProvenance: "listing-without-provenance", Warning + posture,
        "A population listing has no provenance record";
    ProvenanceIncomplete: "provenance-incomplete", Warning + posture,
        "A provenance record leaves out what an auditor asks for";
    RecordCountMismatch: "record-count-mismatch", Error + posture,
        "A listing holds another number of records than its provenance says";
    ListingGeneratedEarly: "listing-generated-early", Warning + posture,
        "A listing was generated before the period it covers ended";
    ListingPeriodShort: "listing-period-short", Warning + posture,
        "A population's listings do not cover the whole period";
    CollectorOutputChanged: "collector-output-changed", Error + posture,
        "A collector's output was changed after `auditpack fetch` wrote it";
    UnknownCollector: "unknown-collector", Error,
        "`fetch --only` names a collector the project does not have";
    CollectorOutputExists: "collector-output-exists", Error,
        "A collector's output file exists already; fetch never overwrites";
    CollectorFailed: "collector-failed", Error, "A collector's command could not start or exited non-zero";
    CollectorTimeout: "collector-timeout", Error, "A collector's command ran longer than its timeout";
    CollectorEmpty: "collector-empty", Error, "A collector's command printed nothing";
    CollectorSecret: "collector-secret", Error, "A collector's command line holds what looks like a secret";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_kebab_case_and_round_trip() {
        let names: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        for &c in Code::ALL {
            let name = c.as_str();
            assert!(
                name.split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{name}"
            );
            assert_eq!(name.parse::<Code>(), Ok(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Code>(&format!("\"{name}\"")).unwrap(), c);
            assert!(!c.summary().is_empty(), "{name}: summary");
        }
        assert_eq!("no-such-code".parse::<Code>(), Err(UnknownCode("no-such-code".into())));
        assert!(serde_json::from_str::<Code>("\"no-such-code\"").is_err());
    }

    /// docs/diagnostics.md has one table row and one `##` section per code, in the order of
    /// [`Code::ALL`], with the code's default severity and summary; and no others.
    #[test]
    fn docs_describe_every_code() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let docs = std::fs::read_to_string(root.join("docs/diagnostics.md")).unwrap();
        let rows: Vec<&str> = docs.lines().filter(|l| l.starts_with("| [`")).collect();
        assert_eq!(rows.len(), Code::ALL.len(), "docs/diagnostics.md: the table has a row per code");
        for (row, c) in rows.iter().zip(Code::ALL) {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            let link = format!("[`{0}`](#{0})", c.as_str());
            // The level column may qualify the default: "error (warning when ...)".
            let ok = cells.len() == 3
                && cells[0] == link
                && cells[1].split(' ').next() == Some(&*c.severity().to_string())
                && cells[2] == c.summary();
            assert!(
                ok,
                "docs/diagnostics.md: the row {row:?} is out of step with src/diag/codes.rs ({link}, {}, {:?})",
                c.severity(),
                c.summary()
            );
        }
        let mut sections: Vec<&str> = docs.lines().filter_map(|l| l.strip_prefix("## ")).collect();
        sections.sort_unstable();
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        assert_eq!(sections, names, "docs/diagnostics.md: one `## code` section per code");
    }
}
