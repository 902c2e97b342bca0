//! `auditpack keygen --out DIR`: a new ed25519 key pair for signing packages. Never overwrites:
//! both files are checked first and each is created with no-clobber semantics.

use super::Outcome;
use crate::Error;
use crate::package::sign;
use std::io::Write;
use std::path::Path;

pub(super) fn run(dir: &Path, v: super::Verbosity) -> Result<Outcome, Error> {
    let private = dir.join(sign::PRIVATE_KEY_FILE);
    let public = dir.join(sign::PUBLIC_KEY_FILE);
    for p in [&private, &public] {
        if p.exists() {
            return Err(Error::Usage(format!("{} already exists; keygen never overwrites a key", p.display())));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let key = sign::generate().map_err(Error::Usage)?;
    // The private key is written 0600 from the start (tempfile creates files 0600).
    write_new(&private, sign::private_key_text(&key).as_bytes(), 0o600)?;
    write_new(&public, sign::public_key_text(&key.verifying_key()).as_bytes(), 0o644)?;
    if v.quiet {
        return Ok(Outcome::Ok);
    }
    eprintln!("wrote {} (private: keep it secret, mode 0600)", private.display());
    eprintln!("wrote {} (public: give it to the auditor)", public.display());
    eprintln!("key id {}", sign::key_id(&key.verifying_key()));
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
