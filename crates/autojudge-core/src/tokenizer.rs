//! The tokenizer side of the contract: text in and out, and an identity for pairing models.

use crate::{CoreResult, TokenId};

/// Fingerprint of a vocabulary (tokens and special tokens), used to refuse draft/target pairs
/// that do not share one tokenizer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TokenizerId(pub String);

impl std::fmt::Display for TokenizerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text encoding/decoding for one vocabulary.
pub trait TextTokenizer: Send + Sync {
    /// Encodes `text`; special-token markup in the text (e.g. `<|im_start|>`) is parsed.
    /// `add_bos` prepends the model's BOS token where the model uses one.
    fn encode(&self, text: &str, add_bos: bool) -> CoreResult<Vec<TokenId>>;
    /// Decodes ids to text, keeping special tokens out.
    fn decode(&self, ids: &[TokenId]) -> CoreResult<String>;
    /// Identity of the vocabulary.
    fn id(&self) -> &TokenizerId;
}
