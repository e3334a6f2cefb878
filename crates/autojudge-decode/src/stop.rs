//! When generation ends: EOS ids, stop strings (on decoded text, across token boundaries),
//! a token budget, the context limit.

use autojudge_core::{TextTokenizer, TokenId};

/// Stop conditions of one generation.
#[derive(Clone, Debug, Default)]
pub struct StopConditions {
    /// Maximum new tokens.
    pub max_new_tokens: usize,
    /// Tokens that end generation (not included in the output); empty = the target's EOS ids.
    pub eos_ids: Vec<TokenId>,
    /// Strings that end generation once the decoded output contains them (included).
    pub stop_strings: Vec<String>,
}

/// Why a generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StopReason {
    /// An EOS token was produced.
    Eos,
    /// A stop string appeared in the output.
    StopString,
    /// `max_new_tokens` reached.
    MaxTokens,
    /// The model's context is full.
    ContextFull,
    /// The caller cancelled it ([`crate::Hooks::cancel`]).
    Cancelled,
}

/// Length of the shortest prefix of `tokens` (at least `from` long) whose decoding contains a
/// stop string, if any.
pub fn stop_string_cut(
    tokens: &[TokenId],
    from: usize,
    stops: &[String],
    tok: &dyn TextTokenizer,
) -> Option<usize> {
    if stops.is_empty() {
        return None;
    }
    let full = tok.decode(tokens).ok()?;
    if !stops.iter().any(|s| full.contains(s.as_str())) {
        return None;
    }
    (from.max(1)..=tokens.len()).find(|&m| {
        tok.decode(&tokens[..m])
            .map(|t| stops.iter().any(|s| t.contains(s.as_str())))
            .unwrap_or(false)
    })
}
