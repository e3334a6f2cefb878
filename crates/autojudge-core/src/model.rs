//! The model/session contract: immutable weights ([`TargetModel`]) and mutable, cheap-to-fork
//! sessions that own a KV cache ([`ModelSession`]).

use crate::{BatchItem, CoreError, CoreResult, ExtendOutput, Outputs, TokenId, TokenizerId};

/// Static facts about a model that the algorithms need.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// Human-readable identity (file name, architecture, draft view...).
    pub name: String,
    /// Vocabulary size (width of a logits row).
    pub vocab_size: usize,
    /// Width of a last-layer hidden state.
    pub hidden_size: usize,
    /// Maximum number of tokens a session can hold.
    pub max_context: usize,
    /// Identity of the tokenizer/vocabulary.
    pub tokenizer: TokenizerId,
    /// End-of-sequence token ids (generation stops on any of them).
    pub eos_ids: Vec<TokenId>,
}

/// A decoding session: a token sequence plus whatever cache makes appending cheap.
///
/// Implementations must make `extend` + `truncate` exact: after `truncate(n)` the session
/// behaves as if only the first `n` tokens had ever been appended.
pub trait ModelSession: Send {
    /// Static model facts.
    fn info(&self) -> &ModelInfo;
    /// Tokens currently in the session.
    fn tokens(&self) -> &[TokenId];
    /// Number of tokens currently in the session.
    fn len(&self) -> usize {
        self.tokens().len()
    }
    /// Whether the session holds no tokens.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends `tokens` in one forward pass and returns the requested outputs for the appended
    /// positions (see [`ExtendOutput`] for the row layout).
    fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput>;
    /// Rolls back to the first `n` tokens without recomputing the prefix.
    fn truncate(&mut self, n: usize) -> CoreResult<()>;
    /// Rolls back to the longest common prefix with `ctx`, keeping at most `at_most` tokens,
    /// and returns how many it kept: reusing the cache, only what differs is recomputed.
    fn rewind_to(&mut self, ctx: &[TokenId], at_most: usize) -> CoreResult<usize> {
        let keep = self
            .tokens()
            .iter()
            .zip(ctx)
            .take_while(|(a, b)| a == b)
            .count()
            .min(at_most);
        if self.len() > keep {
            self.truncate(keep)?;
        }
        Ok(keep)
    }
}

/// A borrowed session is a session: a caller lends its session to code that takes one by
/// value (a drafter) and keeps it, cache and all, afterwards.
impl<S: ModelSession + ?Sized> ModelSession for &mut S {
    fn info(&self) -> &ModelInfo {
        (**self).info()
    }
    fn tokens(&self) -> &[TokenId] {
        (**self).tokens()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn is_empty(&self) -> bool {
        (**self).is_empty()
    }
    fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput> {
        (**self).extend(tokens, outputs)
    }
    fn truncate(&mut self, n: usize) -> CoreResult<()> {
        (**self).truncate(n)
    }
    fn rewind_to(&mut self, ctx: &[TokenId], at_most: usize) -> CoreResult<usize> {
        (**self).rewind_to(ctx, at_most)
    }
}

/// A loaded model with immutable, shareable weights that hands out sessions.
///
/// This is the seam a foreign engine implements to reuse mining, the judge and the decode loop.
/// Drafts implement the same trait.
pub trait TargetModel: Send + Sync {
    /// Session type; `Clone` forks a session (mining branches from a shared prefix).
    type Session: ModelSession + Clone;
    /// Static model facts.
    fn info(&self) -> &ModelInfo;
    /// A fresh, empty session.
    fn new_session(&self) -> CoreResult<Self::Session>;

    /// Extends several sessions of this model in one call, each with its own tokens (ragged
    /// lengths) and outputs; returns one result per item, in order, so that one bad request
    /// fails alone.
    ///
    /// The provided version loops over [`ModelSession::extend`], so an engine that implements
    /// only `extend` works with the batched drivers unchanged. Engines whose forward is bound
    /// by streaming weights override it to run all rows through each projection together;
    /// an override must give every item the outputs its own `extend` would have given.
    fn extend_batch(
        &self,
        items: &mut [BatchItem<'_, Self::Session>],
    ) -> Vec<CoreResult<ExtendOutput>> {
        items
            .iter_mut()
            .map(|item| item.session.extend(item.tokens, item.outputs))
            .collect()
    }

    /// Bytes one session holding `positions` tokens keeps (its KV cache), when the engine
    /// knows; drivers that run many sessions at once check memory with it before starting.
    fn session_bytes(&self, positions: usize) -> Option<u64> {
        let _ = positions;
        None
    }
}

/// `TargetModel` for a pointer to a model: every method goes to the model.
macro_rules! delegate_target_model {
    ($pointer:ty) => {
        impl<T: TargetModel + ?Sized> TargetModel for $pointer {
            type Session = T::Session;

            fn info(&self) -> &ModelInfo {
                (**self).info()
            }

            fn new_session(&self) -> CoreResult<Self::Session> {
                (**self).new_session()
            }

            fn extend_batch(
                &self,
                items: &mut [BatchItem<'_, Self::Session>],
            ) -> Vec<CoreResult<ExtendOutput>> {
                (**self).extend_batch(items)
            }

            fn session_bytes(&self, positions: usize) -> Option<u64> {
                (**self).session_bytes(positions)
            }
        }
    };
}

delegate_target_model!(&T);
// A model shared by long-lived threads (a server's workers).
delegate_target_model!(std::sync::Arc<T>);

/// Refuses a draft/target pair whose vocabularies differ.
pub fn check_same_tokenizer(draft: &ModelInfo, target: &ModelInfo) -> CoreResult<()> {
    if draft.tokenizer == target.tokenizer && draft.vocab_size == target.vocab_size {
        return Ok(());
    }
    Err(CoreError::TokenizerMismatch {
        draft: draft.name.clone(),
        draft_tokenizer: draft.tokenizer.0.clone(),
        draft_vocab: draft.vocab_size,
        target: target.name.clone(),
        target_tokenizer: target.tokenizer.0.clone(),
        target_vocab: target.vocab_size,
    })
}

/// Checks that `tokens` can be appended to a session of `info` holding `len` tokens.
pub fn check_extend(info: &ModelInfo, len: usize, tokens: &[TokenId]) -> CoreResult<()> {
    if tokens.is_empty() {
        return Err(CoreError::EmptyExtend);
    }
    if len + tokens.len() > info.max_context {
        return Err(CoreError::ContextOverflow {
            model: info.name.clone(),
            requested: len + tokens.len(),
            max: info.max_context,
        });
    }
    if let Some(&token) = tokens.iter().find(|&&t| t as usize >= info.vocab_size) {
        return Err(CoreError::TokenOutOfVocab {
            model: info.name.clone(),
            token,
            vocab_size: info.vocab_size,
        });
    }
    Ok(())
}

/// Checks that a session of `len` tokens can be truncated to `n` (`n ≤ len`).
pub fn check_truncate(len: usize, n: usize) -> CoreResult<()> {
    if n > len {
        return Err(CoreError::TruncateBeyondLength { requested: n, len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(tok: &str, vocab: usize) -> ModelInfo {
        ModelInfo {
            name: format!("m-{tok}"),
            vocab_size: vocab,
            hidden_size: 8,
            max_context: 16,
            tokenizer: TokenizerId(tok.into()),
            eos_ids: vec![0],
        }
    }

    #[test]
    fn mismatched_tokenizers_are_refused_with_both_names() {
        let err = check_same_tokenizer(&info("a", 10), &info("b", 10)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("m-a") && msg.contains("m-b"), "{msg}");
        assert!(check_same_tokenizer(&info("a", 10), &info("a", 10)).is_ok());
        assert!(check_same_tokenizer(&info("a", 10), &info("a", 11)).is_err());
    }

    #[test]
    fn extend_checks_context_vocab_and_emptiness() {
        let i = info("a", 10);
        assert!(matches!(
            check_extend(&i, 0, &[]),
            Err(CoreError::EmptyExtend)
        ));
        assert!(matches!(
            check_extend(&i, 15, &[1, 2]),
            Err(CoreError::ContextOverflow {
                requested: 17,
                max: 16,
                ..
            })
        ));
        assert!(matches!(
            check_extend(&i, 0, &[10]),
            Err(CoreError::TokenOutOfVocab { token: 10, .. })
        ));
        assert!(check_extend(&i, 14, &[1, 9]).is_ok());
    }

    #[test]
    fn truncate_check_refuses_growing() {
        assert!(check_truncate(3, 3).is_ok() && check_truncate(3, 0).is_ok());
        assert!(matches!(
            check_truncate(3, 4),
            Err(CoreError::TruncateBeyondLength {
                requested: 4,
                len: 3
            })
        ));
    }
}
