//! Signing the package: an ed25519 signature over the bag's `tagmanifest-sha256.txt`, which
//! holds the checksums of `manifest-sha256.txt` (and so of every payload file), `bag-info.txt`
//! and `bagit.txt`. One signature therefore seals the whole bag.
//!
//! The signature is the tag file `tagmanifest-sha256.txt.sig` beside the tag manifest; it cannot
//! be listed in the manifest it signs, and BagIt validators ignore tag files that no tag manifest
//! lists, so `bagit.py --validate` still accepts a signed bag. Key and signature files are small
//! line-based text files, documented in docs/package.md.

use crate::collect::hex;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The tag file the signature covers, byte for byte.
pub const SIGNED_FILE: &str = "tagmanifest-sha256.txt";
/// The signature's tag file, beside [`SIGNED_FILE`].
pub const SIGNATURE_FILE: &str = "tagmanifest-sha256.txt.sig";

const PUBLIC_TAG: &str = "auditpack-ed25519-public-key";
const PRIVATE_TAG: &str = "auditpack-ed25519-private-key";
const SIGNATURE_HEADER: &str = "auditpack-signature/1";

/// Default file names written by `auditpack keygen`.
pub const PRIVATE_KEY_FILE: &str = "auditpack-signing.key";
pub const PUBLIC_KEY_FILE: &str = "auditpack-signing.pub";

/// A new signing key from the operating system's random source.
pub fn generate() -> Result<SigningKey, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no random source: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A short, stable name for a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex(&Sha256::digest(key.as_bytes()))[..16].to_string()
}

pub fn private_key_text(key: &SigningKey) -> String {
    format!(
        "# auditpack ed25519 private key {}: keep it secret; sign with `auditpack build --sign FILE`\n{PRIVATE_TAG} {}\n",
        key_id(&key.verifying_key()),
        hex(&key.to_bytes())
    )
}

pub fn public_key_text(key: &VerifyingKey) -> String {
    format!(
        "# auditpack ed25519 public key {}: give it to the auditor for `auditpack verify --key FILE`\n{PUBLIC_TAG} {}\n",
        key_id(key),
        hex(key.as_bytes())
    )
}

/// The one `<tag> <64 hex digits>` line of a key file; `#` lines and blank lines are ignored.
fn key_bytes(text: &str, tag: &str, what: &str) -> Result<[u8; 32], String> {
    let mut found = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (t, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if t != tag {
            let hint = if t == PUBLIC_TAG || t == PRIVATE_TAG { " (the other key of the pair?)" } else { "" };
            return Err(format!("not an auditpack {what} key file: expected a line `{tag} <hex>`, found `{t}`{hint}"));
        }
        if found.is_some() {
            return Err(format!("the {what} key file holds more than one key"));
        }
        found = Some(unhex::<32>(rest.trim()).ok_or_else(|| format!("the {what} key is not 64 hex digits"))?);
    }
    found.ok_or_else(|| format!("the {what} key file holds no key (expected a line `{tag} <hex>`)"))
}

pub fn parse_private_key(text: &str) -> Result<SigningKey, String> {
    key_bytes(text, PRIVATE_TAG, "private").map(|b| SigningKey::from_bytes(&b))
}

pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = key_bytes(text, PUBLIC_TAG, "public")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "the public key is not a valid ed25519 point".to_string())
}

/// The text of the signature file for `signed` (the exact bytes of [`SIGNED_FILE`]).
pub fn signature_text(key: &SigningKey, signed: &[u8]) -> String {
    let public = key.verifying_key();
    let sig = key.sign(signed);
    format!(
        "{SIGNATURE_HEADER}\nalgorithm: ed25519\nsigned-file: {SIGNED_FILE}\nkey-id: {}\npublic-key: {}\nsignature: {}\n",
        key_id(&public),
        hex(public.as_bytes()),
        hex(&sig.to_bytes())
    )
}

/// A parsed signature file.
#[derive(Debug, Clone)]
pub struct SignatureFile {
    pub key_id: String,
    pub public_key: VerifyingKey,
    pub signature: Signature,
}

pub fn parse_signature(text: &str) -> Result<SignatureFile, String> {
    let mut lines = text.lines().map(str::trim_end);
    if lines.next() != Some(SIGNATURE_HEADER) {
        return Err(format!("the first line is not `{SIGNATURE_HEADER}`"));
    }
    let (mut alg, mut file, mut id, mut public, mut sig) = (None, None, None, None, None);
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("unexpected line `{line}`"));
        };
        let v = v.trim();
        match k.trim() {
            "algorithm" => alg = Some(v),
            "signed-file" => file = Some(v),
            "key-id" => id = Some(v.to_string()),
            "public-key" => public = Some(v),
            "signature" => sig = Some(v),
            other => return Err(format!("unknown field `{other}`")),
        }
    }
    if alg != Some("ed25519") {
        return Err("the algorithm is not ed25519".into());
    }
    if file != Some(SIGNED_FILE) {
        return Err(format!("the signed file is not {SIGNED_FILE}"));
    }
    let public = public.and_then(unhex::<32>).ok_or("the public key is missing or not 64 hex digits")?;
    let public_key = VerifyingKey::from_bytes(&public).map_err(|_| "the public key is not a valid ed25519 point")?;
    let sig = sig.and_then(unhex::<64>).ok_or("the signature is missing or not 128 hex digits")?;
    let key_id = id.unwrap_or_else(|| self::key_id(&public_key));
    Ok(SignatureFile { key_id, public_key, signature: Signature::from_bytes(&sig) })
}

/// Whether `sig` is a valid signature of `signed` by `key` (strict verification).
pub fn verify(key: &VerifyingKey, signed: &[u8], sig: &SignatureFile) -> bool {
    key.verify_strict(signed, &sig.signature).is_ok()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_signatures_bind_the_bytes() {
        let key = generate().unwrap();
        let private = parse_private_key(&private_key_text(&key)).unwrap();
        let public = parse_public_key(&public_key_text(&key.verifying_key())).unwrap();
        assert_eq!(private.to_bytes(), key.to_bytes());
        let sig = parse_signature(&signature_text(&private, b"abc")).unwrap();
        assert_eq!(sig.key_id, key_id(&public));
        assert!(verify(&public, b"abc", &sig));
        assert!(!verify(&public, b"abd", &sig));
        assert!(parse_public_key(&private_key_text(&key)).unwrap_err().contains("other key"));
    }
}
