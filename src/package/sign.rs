//! Signing the package with an OpenSSH signature (the `SSHSIG` format of `ssh-keygen -Y sign`)
//! over the bag's `tagmanifest-sha256.txt`, which holds the checksums of `manifest-sha256.txt`
//! (and so of every payload file), `bag-info.txt` and `bagit.txt`. One signature therefore seals
//! the whole bag, and an auditor checks it with `ssh-keygen -Y verify`, which every OpenSSH
//! install has: no auditpack needed.
//!
//! The signature is the tag file `tagmanifest-sha256.txt.sig` beside the tag manifest (the name
//! `ssh-keygen -Y sign` gives it); it cannot be listed in the manifest it signs, and BagIt
//! validators ignore tag files that no tag manifest lists, so `bagit.py --validate` still accepts
//! a signed bag. Keys are OpenSSH files: a private key as `ssh-keygen -t ed25519` writes it, a
//! public key line, and an `allowed_signers` file (`ssh-keygen(1)`, ALLOWED SIGNERS).

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The tag file the signature covers, byte for byte.
pub const SIGNED_FILE: &str = "tagmanifest-sha256.txt";
/// The signature's tag file, beside [`SIGNED_FILE`].
pub const SIGNATURE_FILE: &str = "tagmanifest-sha256.txt.sig";
/// The SSHSIG namespace: a signature made for another purpose (git commits, files) with the same
/// key does not verify as a package signature.
pub const NAMESPACE: &str = "auditpack-bag";

/// Default file names written by `auditpack keygen`.
pub const PRIVATE_KEY_FILE: &str = "auditpack-signing.key";
pub const PUBLIC_KEY_FILE: &str = "auditpack-signing.pub";
pub const ALLOWED_SIGNERS_FILE: &str = "allowed_signers";

/// The first line of auditpack's earlier key and signature files, recognised to say what to do.
const OLD_SIGNATURE_HEADER: &str = "auditpack-signature/1";
const OLD_KEY_TAGS: [&str; 2] = ["auditpack-ed25519-private-key", "auditpack-ed25519-public-key"];

/// A key that signs packages: an unencrypted ed25519 OpenSSH private key.
pub type SigningKey = PrivateKey;

/// A new ed25519 signing key from the operating system's random source; `identity` is its
/// comment, the principal an `allowed_signers` file names (e.g. `security@example.com`).
pub fn generate(identity: &str) -> Result<SigningKey, String> {
    // Wiped on drop, so the seed does not linger in freed memory.
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| format!("no random source: {e}"))?;
    let mut key = PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&seed));
    key.set_comment(identity);
    Ok(key)
}

/// The name `ssh-keygen -l` shows for a public key: `SHA256:` and the base64 of its digest.
pub fn key_id(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The private key in OpenSSH's format (`-----BEGIN OPENSSH PRIVATE KEY-----`).
pub fn private_key_text(key: &SigningKey) -> Result<String, String> {
    key.to_openssh(LineEnding::LF).map(|s| s.to_string()).map_err(|e| format!("cannot encode the private key: {e}"))
}

/// The public key line (`ssh-ed25519 AAAA... identity`), as in an `id_ed25519.pub` file.
pub fn public_key_text(key: &SigningKey) -> Result<String, String> {
    let line = key.public_key().to_openssh().map_err(|e| format!("cannot encode the public key: {e}"))?;
    Ok(format!("{line}\n"))
}

/// An `allowed_signers` line for `ssh-keygen -Y verify -f`: the key's identity may sign packages
/// (the namespace restriction keeps it from vouching for anything else with this file).
pub fn allowed_signers_text(key: &SigningKey) -> Result<String, String> {
    let public = key.public_key();
    let mut bare = public.clone();
    bare.set_comment("");
    let line = bare.to_openssh().map_err(|e| format!("cannot encode the public key: {e}"))?;
    Ok(format!("{} namespaces=\"{NAMESPACE}\" {}\n", principal(public.comment()), line.trim_end()))
}

/// The identity under which a key is listed: its comment, or a fixed name when it has none.
pub fn principal(comment: &str) -> String {
    let c = comment.trim();
    if c.is_empty() || c.contains(char::is_whitespace) { "auditpack-signer".to_string() } else { c.to_string() }
}

fn old_format(text: &str) -> bool {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    first == OLD_SIGNATURE_HEADER || OLD_KEY_TAGS.iter().any(|t| first.starts_with(t))
}

const OLD_KEY_HINT: &str = "this is a key in auditpack's earlier format, which no standard tool reads; make an \
     OpenSSH key pair with `auditpack keygen --out DIR` (or `ssh-keygen -t ed25519`) and give the \
     auditor its allowed_signers file";

pub fn parse_private_key(text: &str) -> Result<SigningKey, String> {
    if old_format(text) {
        return Err(OLD_KEY_HINT.into());
    }
    if text.trim_start().starts_with("ssh-") || text.trim_start().starts_with("ecdsa-") {
        return Err("this is a public key; --sign takes the private key (the file without .pub)".into());
    }
    let key = PrivateKey::from_openssh(text).map_err(|e| {
        format!("not an OpenSSH private key ({e}); expected a file that starts `-----BEGIN OPENSSH PRIVATE KEY-----`")
    })?;
    if key.is_encrypted() {
        return Err("the key is protected by a passphrase, which auditpack does not ask for; sign with an \
             unencrypted ed25519 key kept for this purpose (auditpack keygen)"
            .into());
    }
    if key.algorithm() != ssh_key::Algorithm::Ed25519 {
        return Err(format!("the key is {}; auditpack signs with ed25519 keys only", key.algorithm()));
    }
    Ok(key)
}

/// The keys a verifier trusts: a public key file (one `ssh-ed25519 ...` line) or an
/// `allowed_signers` file (`principal [options] ssh-ed25519 ...` lines). Entries restricted by
/// `namespaces=` to other namespaces are left out, as `ssh-keygen -Y verify` does.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    pub keys: Vec<(String, PublicKey)>,
}

impl TrustedKeys {
    /// The fingerprints, for messages.
    pub fn ids(&self) -> String {
        self.keys.iter().map(|(_, k)| key_id(k)).collect::<Vec<_>>().join(", ")
    }
}

pub fn parse_public_key(text: &str) -> Result<TrustedKeys, String> {
    if old_format(text) {
        return Err(OLD_KEY_HINT.into());
    }
    if text.contains("PRIVATE KEY-----") {
        return Err("this is a private key; --key takes the public key or the allowed_signers file".into());
    }
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match PublicKey::from_openssh(line) {
            // A bare public key line: its comment names it.
            Ok(k) => keys.push((principal(k.comment()), k)),
            Err(_) => {
                let (who, key, allowed) = allowed_signer(line).ok_or_else(|| {
                    format!(
                        "line {n}: neither a public key (`ssh-ed25519 AAAA...`) nor an allowed_signers entry \
                         (`identity namespaces=\"{NAMESPACE}\" ssh-ed25519 AAAA...`)"
                    )
                })?;
                if allowed {
                    keys.push((who, key));
                }
            }
        }
    }
    if keys.is_empty() {
        return Err(format!("no key in it may sign in the namespace {NAMESPACE}"));
    }
    Ok(TrustedKeys { keys })
}

/// One `allowed_signers` line: principals, options (only `namespaces=` matters here; the others
/// restrict validity dates or mark certificate authorities, which package keys do not use), key.
fn allowed_signer(line: &str) -> Option<(String, PublicKey, bool)> {
    let (principals, rest) = line.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    // The key starts at the first field that parses as one; what comes before is the options.
    let mut start = 0;
    loop {
        if let Ok(k) = PublicKey::from_openssh(&rest[start..]) {
            let options = &rest[..start];
            let allowed = match options.find("namespaces=\"") {
                None => true,
                Some(i) => {
                    let list = &options[i + "namespaces=\"".len()..];
                    let list = &list[..list.find('"')?];
                    list.split(',').any(|ns| glob_match(ns.trim(), NAMESPACE))
                }
            };
            let who = principals.split(',').next().unwrap_or(principals).to_string();
            return Some((who, k, allowed));
        }
        start += rest[start..].find(char::is_whitespace)?;
        start += rest[start..].len() - rest[start..].trim_start().len();
    }
}

/// `ssh-keygen`'s pattern match for `namespaces=`: `*` any run, `?` one character.
fn glob_match(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.len() == s.len() && pattern.chars().zip(s.chars()).all(|(p, c)| p == '?' || p == c),
        Some((head, tail)) => {
            s.len() >= head.len()
                && glob_match(head, &s[..head.len()])
                && (0..=s.len() - head.len()).any(|i| glob_match(tail, &s[head.len() + i..]))
        }
    }
}

/// The text of the signature file for `signed` (the exact bytes of [`SIGNED_FILE`]): the same
/// armoured SSHSIG that `ssh-keygen -Y sign -n auditpack-bag` writes (SHA-512; ed25519 signatures
/// are deterministic, so the same key and bytes give the same file).
pub fn signature_text(key: &SigningKey, signed: &[u8]) -> Result<String, String> {
    let sig = key.sign(NAMESPACE, HashAlg::Sha512, signed).map_err(|e| format!("cannot sign: {e}"))?;
    sig.to_pem(LineEnding::LF).map_err(|e| format!("cannot encode the signature: {e}"))
}

/// A parsed signature file.
#[derive(Debug, Clone)]
pub struct SignatureFile {
    /// The fingerprint of the key the signature names (not yet trusted).
    pub key_id: String,
    pub signature: SshSig,
}

pub fn parse_signature(text: &str) -> Result<SignatureFile, String> {
    if old_format(text) {
        return Err("the package was signed in auditpack's earlier signature format, which no standard tool \
             checks; ask the sender to build it again with an OpenSSH key (auditpack keygen)"
            .into());
    }
    let signature = SshSig::from_pem(text.trim_end()).map_err(|e| format!("not an OpenSSH signature: {e}"))?;
    if signature.namespace() != NAMESPACE {
        return Err(format!(
            "the signature is for the namespace `{}`, not `{NAMESPACE}`: it was not made for a package",
            signature.namespace()
        ));
    }
    let key_id = key_id(&PublicKey::from(signature.public_key().clone()));
    Ok(SignatureFile { key_id, signature })
}

/// The identity of the trusted key that made `sig` over `signed`, if one did.
pub fn verify(trusted: &TrustedKeys, signed: &[u8], sig: &SignatureFile) -> Option<String> {
    trusted
        .keys
        .iter()
        .find(|(_, k)| k.verify(NAMESPACE, signed, &sig.signature).is_ok())
        .map(|(who, k)| format!("{who} ({})", key_id(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_signatures_bind_the_bytes() {
        let key = generate("security@example.com").unwrap();
        let private = parse_private_key(&private_key_text(&key).unwrap()).unwrap();
        let public = parse_public_key(&public_key_text(&key).unwrap()).unwrap();
        let allowed = parse_public_key(&allowed_signers_text(&key).unwrap()).unwrap();
        assert_eq!(allowed.keys[0].0, "security@example.com");
        let sig = parse_signature(&signature_text(&private, b"abc").unwrap()).unwrap();
        assert_eq!(sig.key_id, key_id(key.public_key()));
        assert!(verify(&public, b"abc", &sig).is_some());
        assert!(verify(&allowed, b"abc", &sig).is_some());
        assert!(verify(&public, b"abd", &sig).is_none());
        let other = parse_public_key(&public_key_text(&generate("x").unwrap()).unwrap()).unwrap();
        assert!(verify(&other, b"abc", &sig).is_none());
        assert!(parse_public_key(&private_key_text(&key).unwrap()).unwrap_err().contains("private key"));
        assert!(parse_private_key(&public_key_text(&key).unwrap()).unwrap_err().contains("public key"));
    }

    #[test]
    fn signatures_are_deterministic() {
        let key = generate("a").unwrap();
        assert_eq!(signature_text(&key, b"m").unwrap(), signature_text(&key, b"m").unwrap());
    }

    #[test]
    fn allowed_signers_restricted_to_another_namespace_do_not_count() {
        let key = generate("a@b").unwrap();
        let line = allowed_signers_text(&key).unwrap().replace(NAMESPACE, "git");
        assert!(parse_public_key(&line).unwrap_err().contains("no key"));
        let any = allowed_signers_text(&key).unwrap().replace(NAMESPACE, "auditpack-*");
        assert_eq!(parse_public_key(&any).unwrap().keys.len(), 1);
        let with_options =
            allowed_signers_text(&key).unwrap().replace("namespaces", "valid-after=\"20260101\",namespaces");
        assert_eq!(parse_public_key(&with_options).unwrap().keys.len(), 1);
    }

    #[test]
    fn the_earlier_format_gets_a_clear_error() {
        let old = "auditpack-signature/1\nalgorithm: ed25519\n";
        assert!(parse_signature(old).unwrap_err().contains("earlier signature format"));
        let old_key = "# comment\nauditpack-ed25519-public-key 00\n";
        assert!(parse_public_key(old_key).unwrap_err().contains("earlier format"));
        assert!(parse_private_key("auditpack-ed25519-private-key 00").unwrap_err().contains("earlier format"));
    }
}
