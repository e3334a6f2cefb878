//! [`LlmTokenizer`]: a `tokenizers::Tokenizer` plus the model's BOS policy and identity.

use std::path::{Path, PathBuf};

use autojudge_core::{CoreError, CoreResult, TextTokenizer, TokenId, TokenizerId};

use crate::error::{ModelError, ModelResult};

/// A model's tokenizer: encoding with the model's BOS policy, decoding without special tokens.
#[derive(Clone)]
pub struct LlmTokenizer {
    inner: tokenizers::Tokenizer,
    id: TokenizerId,
    bos: Option<TokenId>,
    source: PathBuf,
}

impl std::fmt::Debug for LlmTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmTokenizer")
            .field("id", &self.id)
            .field("bos", &self.bos)
            .finish()
    }
}

impl LlmTokenizer {
    /// Wraps a built tokenizer. `bos` is prepended by `encode(.., add_bos = true)`.
    pub fn new(inner: tokenizers::Tokenizer, bos: Option<TokenId>, source: &Path) -> Self {
        let id = fingerprint(&inner);
        LlmTokenizer {
            inner,
            id,
            bos,
            source: source.to_path_buf(),
        }
    }

    /// Loads an HF `tokenizer.json`.
    pub fn from_file(path: &Path, bos: Option<TokenId>) -> ModelResult<Self> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason: e,
        })?;
        Ok(Self::new(inner, bos, path))
    }

    /// The wrapped `tokenizers::Tokenizer`.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// BOS token, if the model prepends one.
    pub fn bos(&self) -> Option<TokenId> {
        self.bos
    }

    /// Id of a token string, if in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<TokenId> {
        self.inner.token_to_id(token)
    }

    /// String of a token id, if in the vocabulary.
    pub fn id_to_token(&self, id: TokenId) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// File the tokenizer came from.
    pub fn source(&self) -> &Path {
        &self.source
    }
}

impl TextTokenizer for LlmTokenizer {
    fn encode(&self, text: &str, add_bos: bool) -> CoreResult<Vec<TokenId>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(CoreError::Tokenizer)?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if let (true, Some(bos)) = (add_bos, self.bos) {
            ids.push(bos);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    fn decode(&self, ids: &[TokenId]) -> CoreResult<String> {
        self.inner.decode(ids, true).map_err(CoreError::Tokenizer)
    }

    fn id(&self) -> &TokenizerId {
        &self.id
    }
}

/// FNV-1a over every token string in id order: equal vocabularies, equal ids.
fn fingerprint(tok: &tokenizers::Tokenizer) -> TokenizerId {
    let n = tok.get_vocab_size(true);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for id in 0..n as u32 {
        eat(tok.id_to_token(id).unwrap_or_default().as_bytes());
        eat(&[0xff]);
    }
    TokenizerId(format!("vocab{n}-{h:016x}"))
}
