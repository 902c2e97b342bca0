//! Text forms every stage shares: hex digests, paths with `/`, dates in words. Part of the ground
//! floor (with `diag`, `error`, `fsutil`, `model`, `output`): it depends on nothing else in the
//! crate.

use std::path::Path;

/// A relative path with `/` between its components, as the evidence index, the bag and the
/// reports name files on every platform.
pub fn slash(p: &Path) -> String {
    p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Lower-case hex, as SHA-256 digests are written everywhere.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// "30 June 2026"
pub fn long_date(d: jiff::civil::Date) -> String {
    d.strftime("%-d %B %Y").to_string()
}
