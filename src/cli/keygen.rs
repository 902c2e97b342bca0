//! `auditpack keygen --out DIR [--identity NAME]`: a new ed25519 key pair for signing packages,
//! in OpenSSH's formats, and the `allowed_signers` file the auditor gives `ssh-keygen -Y verify`.
//! Never overwrites: every file is checked first and each is created with no-clobber semantics.

use super::Outcome;
use crate::Error;
use crate::package::sign;
use std::io::Write;
use std::path::Path;

pub(super) fn run(dir: &Path, identity: &str, v: super::Verbosity) -> Result<Outcome, Error> {
    if identity.is_empty() || identity.contains(char::is_whitespace) || identity.contains(',') {
        return Err(Error::Usage(format!(
            "--identity `{identity}`: an identity is one word without spaces or commas, e.g. security@example.com"
        )));
    }
    let private = dir.join(sign::PRIVATE_KEY_FILE);
    let public = dir.join(sign::PUBLIC_KEY_FILE);
    let allowed = dir.join(sign::ALLOWED_SIGNERS_FILE);
    for p in [&private, &public, &allowed] {
        if p.exists() {
            return Err(Error::Usage(format!("{} already exists; keygen never overwrites a key", p.display())));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let key = sign::generate(identity).map_err(Error::Usage)?;
    let text = |r: Result<String, String>| r.map_err(Error::Usage);
    // The private key is written 0600 from the start (tempfile creates files 0600).
    write_new(&private, text(sign::private_key_text(&key))?.as_bytes(), 0o600)?;
    write_new(&public, text(sign::public_key_text(&key))?.as_bytes(), 0o644)?;
    write_new(&allowed, text(sign::allowed_signers_text(&key))?.as_bytes(), 0o644)?;
    if v.quiet {
        return Ok(Outcome::Ok);
    }
    eprintln!("wrote {} (private: keep it secret, mode 0600)", private.display());
    eprintln!("wrote {} (public key)", public.display());
    eprintln!("wrote {} (give it to the auditor, by a channel other than the package)", allowed.display());
    eprintln!("key {} for {identity}", sign::key_id(key.public_key()));
    Ok(Outcome::Ok)
}
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".auditpack-")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io("write", path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io("flush", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.persist_noclobber(path).map_err(|e| Error::io("create", path, e.error))?;
    Ok(())
}
