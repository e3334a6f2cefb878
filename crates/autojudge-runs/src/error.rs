//! Typed errors of run directories and of the concurrent driver.

/// Result alias for [`RunError`].
pub type RunResult<T> = Result<T, RunError>;

/// Errors of a run directory or a concurrent run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A file could not be read, parsed or written.
    #[error("{path}")]
    File {
        /// File at fault.
        path: String,
        /// What went wrong (an I/O or parse error keeps its own source chain).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A committed line of a JSONL log does not parse.
    #[error("{path}:{line}: {reason}")]
    BadLine {
        /// Log at fault.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong (names the field).
        reason: String,
    },
    /// A run directory (or one of the directories joined) was written with other settings.
    #[error("{path}: {field} differs: this run has {found}, the directory has {expected}")]
    SettingsMismatch {
        /// Directory or settings file at fault.
        path: String,
        /// Setting that differs.
        field: String,
        /// Value recorded in the directory.
        expected: String,
        /// Value of this run / the other directory.
        found: String,
    },
    /// Another process has the run directory's log open for writing: two runs appending to
    /// one directory would duplicate or interleave their lines.
    #[error("{path}: another run is writing to this directory (its log is locked); wait for it to end, or give this run another directory")]
    Busy {
        /// The locked log.
        path: String,
    },
    /// An option out of range.
    #[error("invalid option {field}: {reason}")]
    InvalidOption {
        /// Option name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl RunError {
    /// A file error: `path` and what went wrong there.
    pub fn file(
        path: &std::path::Path,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        RunError::File {
            path: path.display().to_string(),
            source: source.into(),
        }
    }
}
