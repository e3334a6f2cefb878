//! Whether two paths name the same file or directory (after resolving links and `..`), so a
//! run can refuse to read and write the same place under two spellings.

use std::path::Path;

/// True when `a` and `b` resolve to the same entry; compares the spellings when either does
/// not exist (yet).
pub fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
