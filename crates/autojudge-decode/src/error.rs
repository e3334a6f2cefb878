//! Typed errors of the decode loop.

use autojudge_core::{CoreError, RowsShape};

use crate::drafter::ProposalBreach;

/// Result alias for [`DecodeError`].
pub type DecodeResult<T> = Result<T, DecodeError>;

/// Errors raised by drafters, policies and the loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The model contract failed (context overflow, tokenizer mismatch, backend error...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Generation needs at least one prompt token.
    #[error("empty prompt: generation needs at least one token")]
    EmptyPrompt,
    /// A configuration value is out of range.
    #[error("invalid decode option {field}: {reason}")]
    InvalidConfig {
        /// Option name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A drafter returned a proposal that breaks the [`crate::Drafter`] contract (fewer
    /// distributions or hidden states than proposed tokens, a distribution of another width
    /// than the target's vocabulary, values that are no probabilities...).
    #[error("drafter `{drafter}` broke the contract: {breach}")]
    BrokenDrafter {
        /// Drafter name.
        drafter: String,
        /// The rule it broke.
        breach: ProposalBreach,
    },
    /// Lossless statistics cannot be derived from this target-only run
    /// ([`crate::derive_lossless`]); run lossless speculative decoding instead.
    #[error("lossless statistics cannot be derived: {reason}")]
    NotDerivable {
        /// Why.
        reason: String,
    },
    /// A policy needs an input the drafter does not provide.
    #[error("policy `{policy}` needs the proposal's `{what}` rows, which drafter `{drafter}` cannot provide")]
    MissingInput {
        /// Policy name.
        policy: String,
        /// Drafter name.
        drafter: String,
        /// The missing input.
        what: crate::ProposalInput,
    },
}

impl From<RowsShape> for DecodeError {
    fn from(e: RowsShape) -> Self {
        DecodeError::Core(CoreError::RowShape(e))
    }
}
