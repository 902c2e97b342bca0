//! Reading files that a user or a package names, safely: only regular files are opened (a FIFO
//! would block the open or the read forever, a device such as /dev/zero never ends), the open
//! itself never blocks, and whole-file reads are bounded. Shared by every stage that reads a
//! file it does not control (keys, project files, packages).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading only if it is a regular file (after following symbolic links).
///
/// The type is checked before opening, and again on the open handle, so a file swapped for a
/// FIFO in between is still refused; the open is non-blocking on Unix, so opening a FIFO that
/// slipped through returns at once instead of waiting for a writer. Anything else is an error of
/// kind [`io::ErrorKind::InvalidInput`] saying "not a regular file".
pub fn open_regular(path: &Path) -> io::Result<File> {
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(not_regular(&before));
    }
    let file = open_nonblocking(path)?;
    let after = file.metadata()?;
    if !after.is_file() {
        return Err(not_regular(&after));
    }
    Ok(file)
}

/// Reads the regular file at `path` whole, refusing one larger than `limit` bytes (also one that
/// grows past it while it is read). Errors of kind [`io::ErrorKind::InvalidInput`] say "not a
/// regular file" or "larger than N bytes".
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(too_large(limit));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("larger than {limit} bytes"))
}

fn not_regular(meta: &std::fs::Metadata) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("not a regular file (it is {})", kind_of(meta)))
}

/// What a file system entry is, in words: "a folder", "a FIFO (named pipe)" ...
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    if t.is_file() {
        return "a regular file";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK only changes how FIFOs and devices behave; on a regular file it does nothing,
    // so it can stay set for the reads that follow.
    const O_NONBLOCK: i32 =
        if cfg!(any(target_os = "macos", target_os = "ios", target_os = "freebsd")) { 0x0004 } else { 0o4000 };
    std::fs::OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_within_the_limit_and_refused_beyond() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_limited(&p, 5).unwrap(), b"hello");
        let e = read_limited(&p, 4).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        let e = read_limited(dir.path(), 10).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        let e = read_limited(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("not a regular file") && e.to_string().contains("character device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }
}
