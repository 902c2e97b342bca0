//! Opening files the user points at, safely: a FIFO, a device or a socket where a file is
//! expected must give an error, not a hang or an endless read; and a file read whole into memory
//! is read with a size limit. Every stage that opens a path it did not create goes through here.

use std::io::Read;
use std::path::Path;

/// `O_NONBLOCK`, so opening a FIFO with no writer returns at once instead of waiting for one.
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
const O_NONBLOCK: i32 = 0x0004;

/// Opens `path` for reading if it is a regular file (symbolic links followed). It is opened
/// non-blocking, then checked with `fstat` on the open handle (no race between check and open);
/// anything else (a folder, FIFO, socket or device) is an error of kind `InvalidInput` saying
/// "not a regular file".
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(O_NONBLOCK);
    }
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind_of(&meta.file_type())),
        ));
    }
    Ok(file)
}

/// Reads the regular file at `path` whole, refusing one larger than `limit` bytes with an error
/// of kind `InvalidInput` saying "larger than N bytes" (the size is checked as it is read, so a
/// file that grows meanwhile is caught too).
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    let too_large = || std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("larger than {limit} bytes"));
    if len > limit {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// What a non-regular file is, in words, for messages.
pub fn kind_of(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_and_a_larger_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_limited(&p, 5).unwrap(), b"12345");
        let e = read_limited(&p, 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_and_a_folder_are_not_regular_files() {
        for p in ["/dev/zero", "/"] {
            let e = read_limited(Path::new(p), 1 << 20).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{p}");
            assert!(e.to_string().contains("not a regular file"), "{p}: {e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_writer_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&p).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo is needed for this test");
        let e = open_regular(&p).unwrap_err();
        assert!(e.to_string().contains("not a regular file (a FIFO)"), "{e}");
    }
}
