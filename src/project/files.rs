//! Reading the files a user writes: size and line limits, UTF-8, the hints for I/O errors, and
//! entries that look like project files but are not regular files.

use crate::diag::Code;
use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use std::path::Path;

/// The largest project file auditpack reads (auditpack.toml, controls, assets, the register,
/// narratives, sidecars, templates): 16 MiB. A FIFO or `/dev/zero` named as one is refused, not
/// read forever.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// The longest line of a TOML, Markdown or CSV project file, and the longest string of a JSON
/// register: 64 KiB. Rendering costs a multiple of the longest unbroken text, so a 5 MB control
/// title would cost the better part of a gigabyte.
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// ENAMETOOLONG: a path over 4096 bytes or a name over 255.
pub fn is_name_too_long(e: &std::io::Error) -> bool {
    let code = if cfg!(any(target_os = "macos", target_os = "ios", target_os = "freebsd")) { 63 } else { 36 };
    cfg!(unix) && e.raw_os_error() == Some(code)
}

/// ELOOP: too many symbolic links, i.e. a loop.
pub fn is_link_loop(e: &std::io::Error) -> bool {
    let code = if cfg!(any(target_os = "macos", target_os = "ios", target_os = "freebsd")) { 62 } else { 40 };
    cfg!(unix) && e.raw_os_error() == Some(code)
}

/// A hint for an I/O error on a file the user named, by what went wrong.
pub fn io_hint(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.kind() {
        std::io::ErrorKind::NotFound => "check that the file exists".into(),
        std::io::ErrorKind::PermissionDenied => "fix its permissions".into(),
        std::io::ErrorKind::InvalidInput if text.contains("not a regular file") => {
            "replace it with a regular file: folders, FIFOs, sockets and devices are not read".into()
        }
        std::io::ErrorKind::InvalidInput if text.contains("larger than") => {
            format!("a project file may be at most {} MiB: split it or shorten it", MAX_FILE_BYTES >> 20)
        }
        _ if is_name_too_long(e) => "shorten the path: a path is at most 4096 bytes, a name 255".into(),
        _ if is_link_loop(e) => "a symbolic link loop: point the link at a real file".into(),
        std::io::ErrorKind::InvalidData => "save the file as UTF-8".into(),
        _ => "check that the file exists and is readable".into(),
    }
}

/// Reads a project file as UTF-8 (a leading byte-order mark is dropped), with a size limit and,
/// except for JSON, a line-length limit; failures are diagnostics.
pub(crate) fn read_source(root: &Path, rel: &Path, diags: &mut Diagnostics) -> Option<Source> {
    let full = root.join(rel);
    match crate::fsutil::read_limited(&full, MAX_FILE_BYTES) {
        Ok(mut bytes) => {
            if bytes.starts_with(b"\xEF\xBB\xBF") {
                bytes.drain(..3);
            }
            match String::from_utf8(bytes) {
                Ok(text) => {
                    let json = rel.extension().is_some_and(|x| x.eq_ignore_ascii_case("json"));
                    let src = Source::new(rel, text);
                    if !json && let Some((at, len)) = long_line(&src.text) {
                        diags.push(too_long(src.location(at), &format!("the line is {len} bytes long")));
                        return None;
                    }
                    Some(src)
                }
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    let loc = Source::new(rel, text).location(at);
                    diags.push(
                        Diagnostic::error(Code::NotUtf8, "the file is not valid UTF-8")
                            .at(loc)
                            .hint("save the file as UTF-8"),
                    );
                    None
                }
            }
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(Code::UnreadableFile, format!("cannot read the file: {e}"))
                    .at_file(rel)
                    .hint(io_hint(&e)),
            );
            None
        }
    }
}

/// The offset and length of the first line longer than [`MAX_LINE_BYTES`].
fn long_line(text: &str) -> Option<(usize, usize)> {
    let mut at = 0;
    for line in text.split('\n') {
        if line.len() > MAX_LINE_BYTES {
            return Some((at, line.len()));
        }
        at += line.len() + 1;
    }
    None
}

/// The `too-long` diagnostic: a line or a value longer than [`MAX_LINE_BYTES`].
pub(crate) fn too_long(at: Location, what: &str) -> Diagnostic {
    Diagnostic::error(
        Code::TooLong,
        format!("{what}; auditpack reads at most {MAX_LINE_BYTES} bytes on one line or in one value"),
    )
    .at(at)
    .hint("shorten it, or break the text into paragraphs or several values")
}

/// Whether `p` (found in a project folder by its extension) is a file; a folder or special file
/// with that name is reported as `ignored-entry`, never passed over in silence.
pub(super) fn regular_or_reported(root: &Path, p: &Path, what: &str, diags: &mut Diagnostics) -> bool {
    if p.is_file() {
        return true;
    }
    let kind = std::fs::metadata(p).map(|m| crate::fsutil::kind_of(&m.file_type())).unwrap_or("a broken link");
    let rel = p.strip_prefix(root).unwrap_or(p);
    diags.push(
        Diagnostic::warning(Code::IgnoredEntry, format!("`{}` is {kind}, not a {what}; it is not read", rel.display()))
            .at_file(rel)
            .hint("rename it so its name does not look like a project file, or replace it with a file"),
    );
    false
}
