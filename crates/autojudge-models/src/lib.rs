//! Llama-family models (Llama 2/3/3.1, SmolLM2, Qwen2/2.5) on burn, loaded from GGUF or HF
//! safetensors checkpoints, implementing the `autojudge-core` model contract.
//!
//! Entry points: [`load_model`] for real checkpoints, [`Llama::draft_view`] for
//! self-speculative drafts, [`gguf`] for reading and writing GGUF files, and (feature
//! `testing`) `tiny::TinyModel` for seeded random-weight models of any shape.

pub mod backend;
mod config;
mod cpu;
mod error;
pub mod gguf;
mod host_tensor;
mod llama;
mod loader;
#[cfg(any(test, feature = "testing"))]
pub mod tiny;
mod tokenizer;
mod weight_name;
mod weight_source;

pub use config::{Architecture, LlamaConfig};
pub use cpu::{quantized_kernel_label, CpuFeatures, Isa, IsaUnavailable, QuantKernelSpeed};
pub use error::{ModelError, ModelResult};
pub use llama::{ComputeDType, LayerPlan, Llama, LlamaSession, ProjectionKernel};
pub use loader::{load_gguf_file, load_model, LoadOptions, LoadedModel};
pub use tokenizer::{tokenizer_from_gguf, ChatMessage, ChatTemplate, LlmTokenizer};
