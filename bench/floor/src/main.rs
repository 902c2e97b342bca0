//! The practical floor for `auditpack collect` (issue 7): read and SHA-256 the files named on argv, nothing
//! else (no walk, no metadata, no index). `bench/run.sh` drives it with `xargs -0 -P2 -n 500`, so
//! both cores read and hash; auditpack is measured against this on the same tree in the same run.
//!
//! Prints `<sha256>  <path>` per file, like `sha256sum`, so the work cannot be optimised away.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};

fn main() -> std::process::ExitCode {
    let mut buf = vec![0u8; 1 << 20];
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in std::env::args_os().skip(1) {
        match hash(&path, &mut buf) {
            Ok(digest) => {
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                let _ = writeln!(out, "{hex}  {}", path.to_string_lossy());
            }
            Err(e) => {
                eprintln!("hash_floor: {}: {e}", path.to_string_lossy());
                failed = true;
            }
        }
    }
    let _ = out.flush();
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn hash(path: &std::ffi::OsStr, buf: &mut [u8]) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finalize().to_vec())
}
