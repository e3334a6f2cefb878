//! autojudge-rs facade: re-exports the workspace crates under one name.
//!
//! - [`core`]: token types, the `TargetModel` / `ModelSession` contract, typed errors.
//! - [`models`]: Llama-family models on burn (GGUF / HF loaders, tokenizers, draft views).
//! - [`decode`]: the speculative decoding loop, drafters and acceptance policies.
//! - [`classifier`]: the judge (standardized logistic regression with scikit-learn semantics).
//! - [`search`]: mining important tokens (the semi-greedy search, oracles, mined datasets).

pub use autojudge_classifier as classifier;
pub use autojudge_core as core;
pub use autojudge_decode as decode;
pub use autojudge_models as models;
pub use autojudge_search as search;
