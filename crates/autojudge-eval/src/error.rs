//! Typed errors of evaluation and judge training.

use autojudge_classifier::ClassifierError;
use autojudge_core::CoreError;
use autojudge_decode::DecodeError;
use autojudge_runs::RunError;
use autojudge_search::SearchError;

/// Result alias for [`EvalError`].
pub type EvalResult<T> = Result<T, EvalError>;

/// Errors raised while evaluating methods or training judges; each keeps its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The model/session or tokenizer contract failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The decode loop failed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A mined directory could not be used.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A results directory could not be used (other settings, a log another run holds, a
    /// committed line that does not parse, a file that could not be written).
    #[error(transparent)]
    Run(#[from] RunError),
    /// Fitting, loading or checking a judge failed.
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
    /// A file could not be written.
    #[error("{path}")]
    File {
        /// File at fault.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Inputs that cannot be combined (e.g. mined directories of different model pairs, or a
    /// result found in two directories).
    #[error("{path}: {reason}")]
    Conflict {
        /// Input at fault.
        path: String,
        /// What conflicts.
        reason: String,
    },
    /// A fitted judge whose threshold accepts none or all of its validation mismatches.
    #[error(
        "the judge's threshold accepts {:.0}% of validation mismatches, so it would run as \
         lossless decoding or accept every mismatch: {reason}",
        accepted_fraction * 100.0
    )]
    DegenerateJudge {
        /// Fraction of validation mismatches the threshold accepts (0 or 1).
        accepted_fraction: f64,
        /// Where the threshold and the scores lie.
        reason: String,
    },
    /// The best C's validation probabilities span less than a usable width
    /// ([`crate::MIN_USABLE_SPREAD`], 5th to 95th percentile): any threshold among them is
    /// fragile, so no judge is written.
    #[error(
        "the judge's validation probabilities span only {spread:.2e} (5th to 95th percentile; \
         C = {c:e}), below the usable minimum {minimum}: its threshold would sit within noise of \
         many mismatches. A larger C (--c-grid), more mined prompts or another feature set may \
         spread them"
    )]
    FragileJudge {
        /// 5th-to-95th-percentile width of the validation probabilities.
        spread: f64,
        /// The minimum ([`crate::MIN_USABLE_SPREAD`]).
        minimum: f64,
        /// The chosen C.
        c: f64,
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

impl EvalError {
    /// An [`EvalError::File`] for `path`.
    pub(crate) fn file(path: &std::path::Path, source: std::io::Error) -> Self {
        EvalError::File {
            path: path.display().to_string(),
            source,
        }
    }
}
