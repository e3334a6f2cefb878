//! Typed errors of model loading and execution; each names the file and the field at fault.

use std::path::PathBuf;

/// Result alias for [`ModelError`].
pub type ModelResult<T> = Result<T, ModelError>;

/// Errors raised while loading or running a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The instruction set asked for (`--isa`, [`crate::LoadOptions::isa`]) is not one this
    /// CPU has.
    #[error(transparent)]
    Isa(#[from] crate::cpu::IsaUnavailable),
    /// The file could not be opened or read.
    #[error("{path}")]
    Io {
        /// File at fault.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a GGUF file.
    #[error("{path}: not a GGUF file (magic {found:#010x})")]
    BadMagic {
        /// File at fault.
        path: PathBuf,
        /// Magic found.
        found: u32,
    },
    /// A GGUF version this reader does not speak.
    #[error("{path}: unsupported GGUF version {version} (supported: 2, 3)")]
    UnsupportedVersion {
        /// File at fault.
        path: PathBuf,
        /// Version found.
        version: u32,
    },
    /// The file ends (or a length field points) past the end of the data.
    #[error("{path}: truncated or corrupt while reading {field} at byte {offset}")]
    Truncated {
        /// File at fault.
        path: PathBuf,
        /// What was being read.
        field: String,
        /// Byte offset.
        offset: u64,
    },
    /// A structurally invalid value (bad type tag, bad UTF-8, absurd count...).
    #[error("{path}: invalid {field}")]
    Invalid {
        /// File at fault.
        path: PathBuf,
        /// Field at fault.
        field: String,
        /// What is wrong (a parse error keeps its own source chain).
        #[source]
        reason: autojudge_core::BoxError,
    },
    /// A tensor type id that GGML does not define.
    #[error("{path}: tensor `{tensor}` has unknown GGML type id {type_id}")]
    UnknownTensorType {
        /// File at fault.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Raw type id.
        type_id: u32,
    },
    /// A known tensor type that this loader cannot dequantize.
    #[error("{path}: tensor `{tensor}` uses type {dtype}, which is not supported (supported: {supported})")]
    UnsupportedTensorType {
        /// File at fault.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Type name.
        dtype: String,
        /// Supported type names.
        supported: String,
    },
    /// A tensor the architecture needs is absent.
    #[error("{path}: missing tensor `{tensor}`")]
    MissingTensor {
        /// File at fault.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
    },
    /// A tensor's shape disagrees with the configuration.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// File at fault.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Expected shape (row-major, outermost first).
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
    },
    /// A metadata / config key the model needs is absent.
    #[error("{path}: missing metadata `{key}`")]
    MissingMetadata {
        /// File at fault.
        path: PathBuf,
        /// Key name.
        key: String,
    },
    /// An architecture outside the Llama family.
    #[error("{path}: unsupported architecture `{arch}` (supported: llama, qwen2, smollm/llama-compatible)")]
    UnsupportedArchitecture {
        /// File at fault.
        path: PathBuf,
        /// Architecture found.
        arch: String,
    },
    /// The tokenizer could not be built or used.
    #[error("{path}: tokenizer")]
    Tokenizer {
        /// File at fault.
        path: PathBuf,
        /// What is wrong (the tokenizers library's error keeps its source chain).
        #[source]
        reason: autojudge_core::BoxError,
    },
    /// The chat template could not be parsed or rendered.
    #[error("chat template of {path}: {reason}")]
    ChatTemplate {
        /// File at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Invalid caller-supplied options (e.g. a draft view with no layers).
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// Option name.
        option: String,
        /// What is wrong.
        reason: String,
    },
}

impl ModelError {
    /// Shorthand for [`ModelError::Invalid`].
    pub fn invalid(
        path: &std::path::Path,
        field: impl Into<String>,
        reason: impl Into<autojudge_core::BoxError>,
    ) -> Self {
        ModelError::Invalid {
            path: path.to_path_buf(),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<ModelError> for autojudge_core::CoreError {
    fn from(e: ModelError) -> Self {
        autojudge_core::CoreError::Backend(Box::new(e))
    }
}
