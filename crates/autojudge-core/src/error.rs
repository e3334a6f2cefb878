//! Typed errors shared by every crate that speaks the core contract.

use crate::{ContractBreach, RowsShape, TokenId};

/// A boxed error from an engine or tokenizer behind the contract, kept whole so callers can
/// walk its source chain (`std::error::Error::source`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Result alias for [`CoreError`].
pub type CoreResult<T> = Result<T, CoreError>;

/// Errors raised through the model/session contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Appending would exceed the model's (or session's) maximum context.
    #[error(
        "context overflow: {requested} tokens requested, model `{model}` allows at most {max}"
    )]
    ContextOverflow {
        /// Model name.
        model: String,
        /// Length the session would have reached.
        requested: usize,
        /// Maximum context length.
        max: usize,
    },
    /// `truncate(n)` asked for a length beyond the current one.
    #[error("cannot truncate session of length {len} to {requested}")]
    TruncateBeyondLength {
        /// Requested length.
        requested: usize,
        /// Current length.
        len: usize,
    },
    /// A token id outside the vocabulary.
    #[error("token id {token} is outside the vocabulary of `{model}` (size {vocab_size})")]
    TokenOutOfVocab {
        /// Model name.
        model: String,
        /// Offending token.
        token: TokenId,
        /// Vocabulary size.
        vocab_size: usize,
    },
    /// `extend` was called with no tokens.
    #[error("extend called with an empty token slice")]
    EmptyExtend,
    /// Two models that must share a tokenizer do not.
    #[error(
        "tokenizer mismatch: draft `{draft}` uses tokenizer {draft_tokenizer} (vocab {draft_vocab}), \
         target `{target}` uses {target_tokenizer} (vocab {target_vocab}); speculative decoding needs one vocabulary"
    )]
    TokenizerMismatch {
        /// Draft model name.
        draft: String,
        /// Draft tokenizer identity.
        draft_tokenizer: String,
        /// Draft vocabulary size.
        draft_vocab: usize,
        /// Target model name.
        target: String,
        /// Target tokenizer identity.
        target_tokenizer: String,
        /// Target vocabulary size.
        target_vocab: usize,
    },
    /// Rows of different widths were put in one [`crate::Rows`].
    #[error("rows of one matrix differ in width")]
    RowShape(#[from] RowsShape),
    /// Tokenization or detokenization failed (a message converts: `"...".into()`).
    #[error("tokenizer error")]
    Tokenizer(#[source] BoxError),
    /// An engine, draft or judge behind the contract returned something the contract rules
    /// out (too few rows, rows of another width, NaN values...): a bug in that
    /// implementation, named with the rule it broke.
    #[error("`{by}` broke the contract: {breach}")]
    BrokenContract {
        /// Name of the implementation at fault (`ModelInfo::name`, `Judge::name`).
        by: String,
        /// The rule it broke.
        breach: ContractBreach,
    },
    /// The engine behind the contract failed (its error is the source).
    #[error("model backend error")]
    Backend(#[source] BoxError),
}
