//! Typed errors of reading datasets.

/// Result alias for [`TaskError`].
pub type TaskResult<T> = Result<T, TaskError>;

/// Errors raised while reading a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// A file could not be read or parsed.
    #[error("{path}")]
    File {
        /// File at fault.
        path: String,
        /// What went wrong (an I/O or parse error keeps its own source chain).
        source: autojudge_core::BoxError,
    },
    /// A dataset line is malformed.
    #[error("{path}:{line}: {reason}")]
    BadRecord {
        /// File at fault.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong (names the field).
        reason: String,
    },
}

impl TaskError {
    /// A [`TaskError::File`] for `path`.
    pub fn file(path: &std::path::Path, source: impl Into<autojudge_core::BoxError>) -> Self {
        TaskError::File {
            path: path.display().to_string(),
            source: source.into(),
        }
    }
}
