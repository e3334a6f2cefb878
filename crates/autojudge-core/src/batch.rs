//! One session's share of a batched extend ([`crate::TargetModel::extend_batch`]).

use crate::{Outputs, TokenId};

/// A session, the tokens to append to it and the outputs wanted back: one row group of a
/// batched forward.
#[derive(Debug)]
pub struct BatchItem<'a, S> {
    /// The session to extend.
    pub session: &'a mut S,
    /// Tokens to append (any positive count; items of one batch may differ).
    pub tokens: &'a [TokenId],
    /// Which appended positions to return logits and hidden states for.
    pub outputs: Outputs,
}
