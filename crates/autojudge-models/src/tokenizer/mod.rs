//! Tokenizers: a `tokenizers::Tokenizer` built from GGUF `tokenizer.ggml.*` metadata or loaded
//! from an HF `tokenizer.json`, wrapped with the model's BOS/EOS handling ([`LlmTokenizer`]),
//! and chat templates rendered with minijinja ([`ChatTemplate`]).

pub mod chat_template;
pub mod from_gguf;
pub mod llm_tokenizer;

pub use chat_template::{ChatMessage, ChatTemplate};
pub use llm_tokenizer::LlmTokenizer;
