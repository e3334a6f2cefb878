//! Tokenizers: a `tokenizers::Tokenizer` built from GGUF `tokenizer.ggml.*` metadata or loaded
//! from an HF `tokenizer.json`, wrapped with the model's BOS/EOS handling ([`LlmTokenizer`]),
//! and chat templates rendered with minijinja ([`ChatTemplate`]).

pub(crate) mod chat_template;
pub(crate) mod from_gguf;
pub(crate) mod llm_tokenizer;

pub use chat_template::{ChatMessage, ChatTemplate};
pub use from_gguf::tokenizer_from_gguf;
pub use llm_tokenizer::LlmTokenizer;
