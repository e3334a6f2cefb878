//! Typed errors of mining and of mined datasets.

use autojudge_core::CoreError;
use autojudge_runs::RunError;

/// Result alias for [`SearchError`].
pub type SearchResult<T> = Result<T, SearchError>;

/// Errors raised while mining or reading/writing a mined directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The model/session contract failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A file could not be read, parsed or written.
    #[error("{path}")]
    File {
        /// File at fault.
        path: String,
        /// What went wrong (an I/O or parse error keeps its own source chain).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A dataset line or record field is malformed.
    #[error("{path}:{line}: {reason}")]
    BadRecord {
        /// File at fault.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong (names the field).
        reason: String,
    },
    /// The run directory failed: its settings differ from this run's (a mined directory, or a
    /// shard, produced with other models or settings), its log is held by another run, a
    /// committed line does not parse, or a file could not be written.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A committed prompt's feature file is missing or incomplete.
    #[error("{path}: features of committed prompt {index}: {damage}")]
    DamagedFeatures {
        /// Feature file.
        path: String,
        /// Dataset line of the prompt.
        index: usize,
        /// What is wrong with the file.
        damage: crate::store::FeatureDamage,
    },
    /// The oracle could not judge the target's own response (the prompt is skipped).
    #[error("oracle failed on task {task}: {reason}")]
    Oracle {
        /// Task id.
        task: String,
        /// What went wrong.
        reason: String,
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

impl SearchError {
    /// A [`SearchError::File`] for `path`.
    pub fn file(
        path: &std::path::Path,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        SearchError::File {
            path: path.display().to_string(),
            source: source.into(),
        }
    }
}
