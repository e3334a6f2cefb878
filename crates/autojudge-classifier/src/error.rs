//! Typed errors of fitting and using the judge.

use autojudge_core::Rows;

/// Result alias for [`ClassifierError`].
pub type ClassifierResult<T> = Result<T, ClassifierError>;

/// Errors raised on degenerate or malformed training data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifierError {
    /// No samples.
    #[error("no training samples")]
    Empty,
    /// Rows of different widths, or labels not matching rows.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A NaN or infinite feature value.
    #[error("non-finite feature value at sample {sample}, feature {feature}")]
    NonFinite {
        /// Sample index.
        sample: usize,
        /// Feature index.
        feature: usize,
    },
    /// Only one class present: logistic regression is undefined.
    #[error("only one class in the training labels (all {0}); need both important and unimportant examples")]
    OneClass(bool),
    /// A judge threshold that is no probability.
    #[error(transparent)]
    Threshold(#[from] autojudge_core::NotAProbability),
    /// Reading, parsing or writing a judge file failed.
    #[error("{path}")]
    File {
        /// File at fault.
        path: String,
        /// What went wrong (an I/O, safetensors or JSON error keeps its own source chain).
        source: autojudge_core::BoxError,
    },
    /// A saved judge does not belong to the models it is used with.
    #[error("{path}: judge was trained for {field} = {expected}, but this run has {found}")]
    Mismatch {
        /// Judge file.
        path: String,
        /// Field that differs.
        field: &'static str,
        /// Value recorded in the judge.
        expected: String,
        /// Value of this run.
        found: String,
    },
    /// A judge file holds a field its judge cannot run with (NaN weights, a threshold that
    /// is no probability, weights of another width than the recorded feature set reads...).
    #[error("{path}: judge field `{field}`: {fault}")]
    BadJudgeFile {
        /// Judge file.
        path: String,
        /// Field at fault: a tensor (`coef`, `scaler.scale`...) or a metadata field
        /// (`threshold`, `draft`...), with the entry's index where one entry is at fault.
        field: String,
        /// What is wrong with it.
        fault: JudgeFileFault,
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

/// What is wrong with one field of a judge file ([`ClassifierError::BadJudgeFile`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JudgeFileFault {
    /// A weight or scaler entry that is NaN or infinite.
    #[error("{value} is not a finite number")]
    NonFinite {
        /// The value.
        value: f64,
    },
    /// A scaler standard deviation that is not positive (features would be divided by it).
    #[error("{value} is not a positive standard deviation")]
    NonPositiveScale {
        /// The value.
        value: f64,
    },
    /// A threshold outside `[0, 1]`, the range of the judge's P(important) (or NaN).
    #[error("{value} is outside [0, 1], the range of P(important)")]
    NotAProbability {
        /// The value.
        value: f64,
    },
    /// A metadata field that must be a number holds something else (JSON writes NaN and
    /// infinities as `null`).
    #[error("{found} is not a number")]
    NotANumber {
        /// The JSON found.
        found: String,
    },
    /// A hidden size of 0.
    #[error("hidden size 0")]
    ZeroHiddenSize,
    /// A feature set that reads the draft's hidden states, with no draft recorded.
    #[error("feature set `{features}` reads the draft's hidden states, but no draft is recorded")]
    MissingDraft {
        /// The recorded feature set.
        features: autojudge_core::FeatureSet,
    },
    /// Weights of another width than the recorded feature set reads for the recorded hidden
    /// sizes (e.g. DD-DT weights relabelled as DT).
    #[error(
        "{got} weights, but feature set `{features}` of a {target}-wide target{} reads {expected}",
        .draft.map_or(String::new(), |d| format!(" and a {d}-wide draft"))
    )]
    Width {
        /// Entries in the tensor.
        got: usize,
        /// Entries the feature set reads.
        expected: usize,
        /// The recorded feature set.
        features: autojudge_core::FeatureSet,
        /// The recorded target hidden size.
        target: usize,
        /// The recorded draft hidden size.
        draft: Option<usize>,
    },
    /// A tensor with another number of entries than the judge reads (the feature width for
    /// the scaler, 1 for the intercept).
    #[error("{got} entries, expected {expected}")]
    Length {
        /// Entries in the tensor.
        got: usize,
        /// Entries the judge reads.
        expected: usize,
    },
}

impl ClassifierError {
    /// A [`ClassifierError::File`] for `path`.
    pub(crate) fn file(
        path: &std::path::Path,
        source: impl Into<autojudge_core::BoxError>,
    ) -> Self {
        ClassifierError::File {
            path: path.display().to_string(),
            source: source.into(),
        }
    }
}

/// Equality for tests and callers matching on outcomes; a file error's source compares by its
/// message.
impl PartialEq for ClassifierError {
    fn eq(&self, other: &Self) -> bool {
        use ClassifierError as E;
        match (self, other) {
            (E::Empty, E::Empty) => true,
            (E::Shape(a), E::Shape(b)) => a == b,
            (
                E::NonFinite { sample, feature },
                E::NonFinite {
                    sample: s,
                    feature: f,
                },
            ) => sample == s && feature == f,
            (E::OneClass(a), E::OneClass(b)) => a == b,
            (E::File { path, source }, E::File { path: p, source: s }) => {
                path == p && source.to_string() == s.to_string()
            }
            (
                E::Mismatch {
                    path,
                    field,
                    expected,
                    found,
                },
                E::Mismatch {
                    path: p,
                    field: f,
                    expected: e,
                    found: fo,
                },
            ) => path == p && field == f && expected == e && found == fo,
            (
                E::BadJudgeFile { path, field, fault },
                E::BadJudgeFile {
                    path: p,
                    field: f,
                    fault: fa,
                },
            ) => path == p && field == f && fault == fa,
            (
                E::InvalidOption { field, reason },
                E::InvalidOption {
                    field: f,
                    reason: r,
                },
            ) => field == f && reason == r,
            _ => false,
        }
    }
}

/// Checks a feature matrix (rows) and labels.
pub fn check_data(x: &Rows, y: Option<&[bool]>) -> ClassifierResult<usize> {
    if x.is_empty() {
        return Err(ClassifierError::Empty);
    }
    let d = x.width();
    if d == 0 {
        return Err(ClassifierError::Shape("rows have no features".into()));
    }
    for (i, row) in x.iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(ClassifierError::NonFinite {
                sample: i,
                feature: j,
            });
        }
    }
    if let Some(y) = y {
        if y.len() != x.len() {
            return Err(ClassifierError::Shape(format!(
                "{} labels for {} rows",
                y.len(),
                x.len()
            )));
        }
        if y.iter().all(|&v| v == y[0]) {
            return Err(ClassifierError::OneClass(y[0]));
        }
    }
    Ok(d)
}
