//! The signature over the signed tag manifest, checked with the key the auditor gives, and the
//! tag files it must cover.

use super::bagit::SMALL_TAG_LIMIT;
use super::container::Container;
use super::findings::Findings;
use super::{SignatureState, Verification, VerifyOptions};
use crate::diag::Code;
use crate::diag::{Diagnostic, Location};
use crate::package::sign;
use std::collections::BTreeSet;

/// The signed tag manifest is read whole to check its signature; it lists a few tag files.
const SIGNED_LIMIT: u64 = 16 << 20;

/// `covered`: the tag files the signed tag manifest lists.
pub(super) fn check_signature(
    bag: &Container,
    opts: &VerifyOptions,
    v: &mut Verification,
    covered: &BTreeSet<&str>,
    tag_files: &[&str],
    problems: &mut Findings,
) {
    let at = Location::file(sign::SIGNATURE_FILE);
    let present = bag.files.contains_key(sign::SIGNATURE_FILE);
    let parsed = if present {
        bag.read_small(sign::SIGNATURE_FILE, SMALL_TAG_LIMIT, problems)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map(|t| sign::parse_signature(&t))
    } else {
        None
    };
    // An unreadable signature is the same finding with or without a key.
    let parsed = match parsed {
        Some(Err(e)) => {
            v.signature = SignatureState::Invalid;
            problems.push(
                Diagnostic::error(Code::SignatureInvalid, format!("the signature file cannot be read: {e}"))
                    .at(at)
                    .hint("the signature was damaged or forged"),
            );
            return;
        }
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let Some(key) = &opts.key else {
        if let Some(s) = parsed {
            v.signature = SignatureState::NotChecked;
            v.signed_by = Some(s.key_id.clone());
            problems.push(
                Diagnostic::note(
                    Code::SignatureNotChecked,
                    format!("the package is signed by key {}; it was not checked", s.key_id),
                )
                .at(at)
                .hint("give the signer's public key with --key to check the signature"),
            );
        }
        return;
    };
    let wanted = key.ids();
    let sig = match parsed {
        None => {
            v.signature = SignatureState::Missing;
            problems.push(
                Diagnostic::error(
                    Code::SignatureMissing,
                    format!("a key ({wanted}) was given but the package is not signed"),
                )
                .at(at)
                .hint("the signature was removed, or the package was built without --sign"),
            );
            return;
        }
        Some(s) => s,
    };
    v.signed_by = Some(sig.key_id.clone());
    let signed = if bag.files.contains_key(sign::SIGNED_FILE) {
        bag.read_small(sign::SIGNED_FILE, SIGNED_LIMIT, problems)
    } else {
        None
    };
    let signer = signed.as_deref().and_then(|b| sign::verify(key, b, &sig));
    if let Some(who) = signer {
        v.signature = SignatureState::Valid;
        v.signed_by = Some(who);
    } else {
        v.signature = SignatureState::Invalid;
        let why = if signed.is_none() {
            format!("{} is missing, so the signature covers nothing", sign::SIGNED_FILE)
        } else if !key.keys.iter().any(|(_, k)| k.key_data() == sig.signature.public_key()) {
            format!("the package was signed by key {}, not by the given key {wanted}", sig.key_id)
        } else {
            format!("the signature does not match {}: the manifests were changed after signing", sign::SIGNED_FILE)
        };
        problems.push(
            Diagnostic::error(Code::SignatureInvalid, why)
                .at(at)
                .hint("do not trust this package; ask the sender for a new copy and compare the key fingerprint"),
        );
        return;
    }
    // Everything the signature vouches for must go through the signed tag manifest.
    for &t in tag_files {
        let is_manifest_of_tags = t.starts_with("tagmanifest-") && t.ends_with(".txt");
        if t != sign::SIGNATURE_FILE && !is_manifest_of_tags && !covered.contains(t) {
            problems.push(
                Diagnostic::error(
                    Code::UnsignedTagFile,
                    format!("`{t}` is not covered by the signed {}", sign::SIGNED_FILE),
                )
                .at(Location::file(t))
                .hint("a tag file was added after signing; do not trust it"),
            );
        }
    }
}
