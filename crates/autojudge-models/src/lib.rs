//! Llama-family models (Llama 2/3/3.1, SmolLM2, Qwen2/2.5) on burn, loaded from GGUF or HF
//! safetensors checkpoints, implementing the `autojudge-core` model contract.
//!
//! Entry points: [`load_model`] for real checkpoints, [`tiny::TinyModel`] for seeded
//! random-weight test models, [`Llama::draft_view`] for self-speculative drafts.

pub mod backend;
pub mod config;
pub mod cpu;
pub mod error;
pub mod gguf;
pub mod host_tensor;
pub mod llama;
pub mod loader;
pub mod tiny;
pub mod tokenizer;
pub mod weight_name;
pub mod weight_source;

pub use config::{Architecture, LlamaConfig};
pub use error::{ModelError, ModelResult};
pub use llama::{ComputeDType, LayerPlan, Llama, LlamaSession, ProjectionKernel};
pub use loader::{load_gguf_file, load_model, LoadOptions, LoadedModel};
pub use tokenizer::{ChatMessage, ChatTemplate, LlmTokenizer};
