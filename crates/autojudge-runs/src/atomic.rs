//! Whole-file writes that a crash never leaves half done.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::{RunError, RunResult};

/// Writes `bytes` to `path` atomically: a synced temporary file (`path` with the extension
/// `tmp`) renamed over it. A reader sees the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> RunResult<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| RunError::file(&tmp, e))?;
    f.write_all(bytes).map_err(|e| RunError::file(&tmp, e))?;
    f.sync_all().map_err(|e| RunError::file(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| RunError::file(path, e))
}
