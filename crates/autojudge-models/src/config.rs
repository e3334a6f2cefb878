//! Architecture hyper-parameters of a Llama-family model, read from GGUF metadata or an HF
//! `config.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, ModelResult};
use crate::gguf::GgufFile;

/// Architecture family variant (affects only naming and defaults; the math is shared).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// Llama 2/3/3.1, SmolLM2, Mistral-style (no attention biases).
    Llama,
    /// Qwen2 / Qwen2.5 (q/k/v biases).
    Qwen2,
}

impl Architecture {
    /// Parses a GGUF `general.architecture` or HF `model_type` string.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "llama" | "mistral" | "smollm" => Some(Architecture::Llama),
            "qwen2" => Some(Architecture::Qwen2),
            _ => None,
        }
    }
}

/// Llama 3.1-style RoPE frequency scaling.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Llama3RopeScaling {
    /// Overall scale factor.
    pub factor: f64,
    /// Wavelengths longer than `original / low_freq_factor` are fully scaled.
    pub low_freq_factor: f64,
    /// Wavelengths shorter than `original / high_freq_factor` are unscaled.
    pub high_freq_factor: f64,
    /// Pre-training context length.
    pub original_max_position_embeddings: f64,
}

/// Hyper-parameters of a Llama-family decoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Variant.
    pub architecture: Architecture,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// MLP inner width.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (GQA when fewer than query heads).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base frequency.
    pub rope_theta: f64,
    /// Per-frequency divisors (Llama 3.1 scaling), `head_dim / 2` entries, if any.
    pub rope_freq_factors: Option<Vec<f32>>,
    /// Maximum context length.
    pub max_context: usize,
    /// Whether q/k/v projections carry biases.
    pub attention_bias: bool,
    /// Whether the LM head reuses the token embedding.
    pub tie_embeddings: bool,
}

impl LlamaConfig {
    /// Query projection width.
    pub fn q_dim(&self) -> usize {
        self.num_heads * self.head_dim
    }

    /// Key/value projection width.
    pub fn kv_dim(&self) -> usize {
        self.num_kv_heads * self.head_dim
    }

    /// Checks internal consistency; `path` names the source in errors.
    pub fn validate(&self, path: &Path) -> ModelResult<()> {
        let bad = |field: &str, reason: String| Err(ModelError::invalid(path, field, reason));
        for (field, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            ("num_kv_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
            ("max_context", self.max_context),
        ] {
            if v == 0 {
                return bad(field, "must be positive".into());
            }
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return bad(
                "num_kv_heads",
                format!(
                    "{} does not divide num_heads {}",
                    self.num_kv_heads, self.num_heads
                ),
            );
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(
                "head_dim",
                format!("{} is odd; RoPE needs pairs", self.head_dim),
            );
        }
        if let Some(f) = &self.rope_freq_factors {
            if f.len() != self.head_dim / 2 {
                return bad(
                    "rope_freq_factors",
                    format!("{} entries, expected {}", f.len(), self.head_dim / 2),
                );
            }
        }
        Ok(())
    }

    /// Reads the configuration from GGUF metadata (tensor-dependent flags are set by the loader).
    pub fn from_gguf(gguf: &GgufFile) -> ModelResult<Self> {
        let path = gguf.path();
        let arch_name = gguf.require_str("general.architecture")?;
        let architecture =
            Architecture::parse(arch_name).ok_or_else(|| ModelError::UnsupportedArchitecture {
                path: path.to_path_buf(),
                arch: arch_name.to_string(),
            })?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let u = |k: &str| gguf.require_u64(&key(k)).map(|v| v as usize);
        let hidden_size = u("embedding_length")?;
        let num_heads = u("attention.head_count")?;
        let num_kv_heads = gguf
            .opt_u64(&key("attention.head_count_kv"))?
            .map(|v| v as usize)
            .unwrap_or(num_heads);
        let head_dim = match gguf.opt_u64(&key("attention.key_length"))? {
            Some(v) => v as usize,
            None => hidden_size / num_heads.max(1),
        };
        let vocab_size = match gguf.opt_u64(&key("vocab_size"))? {
            Some(v) => v as usize,
            None => gguf.require_str_array("tokenizer.ggml.tokens")?.len(),
        };
        Ok(LlamaConfig {
            architecture,
            vocab_size,
            hidden_size,
            intermediate_size: u("feed_forward_length")?,
            num_layers: u("block_count")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: gguf
                .opt_f64(&key("attention.layer_norm_rms_epsilon"))?
                .unwrap_or(1e-5),
            rope_theta: gguf.opt_f64(&key("rope.freq_base"))?.unwrap_or(10_000.0),
            rope_freq_factors: None,
            max_context: u("context_length")?,
            attention_bias: false,
            tie_embeddings: false,
        })
    }

    /// Reads an HF `config.json`.
    pub fn from_hf_json(path: &Path, text: &str) -> ModelResult<Self> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ModelError::invalid(path, "config.json", e.to_string()))?;
        let get_u = |k: &str| -> ModelResult<usize> {
            v.get(k)
                .ok_or_else(|| ModelError::MissingMetadata {
                    path: path.to_path_buf(),
                    key: k.to_string(),
                })?
                .as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| ModelError::invalid(path, k, "expected an unsigned integer"))
        };
        let opt_f = |k: &str, d: f64| v.get(k).and_then(|x| x.as_f64()).unwrap_or(d);
        let model_type = v
            .get("model_type")
            .and_then(|x| x.as_str())
            .unwrap_or("llama");
        let architecture =
            Architecture::parse(model_type).ok_or_else(|| ModelError::UnsupportedArchitecture {
                path: path.to_path_buf(),
                arch: model_type.to_string(),
            })?;
        let hidden_size = get_u("hidden_size")?;
        let num_heads = get_u("num_attention_heads")?;
        let num_kv_heads = v
            .get("num_key_value_heads")
            .and_then(|x| x.as_u64())
            .map(|x| x as usize)
            .unwrap_or(num_heads);
        let head_dim = v
            .get("head_dim")
            .and_then(|x| x.as_u64())
            .map(|x| x as usize)
            .unwrap_or(hidden_size / num_heads.max(1));
        // transformers ≥ 5 writes `rope_parameters` {rope_theta, rope_type, ...}; earlier
        // versions a top-level `rope_theta` and an optional `rope_scaling`.
        let rope_params = v.get("rope_parameters").filter(|p| !p.is_null());
        let rope_theta = rope_params
            .and_then(|p| p.get("rope_theta"))
            .and_then(|x| x.as_f64())
            .unwrap_or_else(|| opt_f("rope_theta", 10_000.0));
        let rope_freq_factors = match rope_params.or_else(|| v.get("rope_scaling")) {
            Some(s) if !s.is_null() => {
                let kind = s
                    .get("rope_type")
                    .or_else(|| s.get("type"))
                    .and_then(|x| x.as_str())
                    .unwrap_or("");
                match kind {
                    "llama3" => {
                        let f = |k: &str| {
                            s.get(k).and_then(|x| x.as_f64()).ok_or_else(|| {
                                ModelError::MissingMetadata {
                                    path: path.to_path_buf(),
                                    key: format!("rope_scaling.{k}"),
                                }
                            })
                        };
                        let sc = Llama3RopeScaling {
                            factor: f("factor")?,
                            low_freq_factor: f("low_freq_factor")?,
                            high_freq_factor: f("high_freq_factor")?,
                            original_max_position_embeddings: f(
                                "original_max_position_embeddings",
                            )?,
                        };
                        Some(llama3_freq_factors(&sc, rope_theta, head_dim))
                    }
                    "default" | "" => None,
                    other => {
                        return Err(ModelError::invalid(
                            path,
                            "rope_scaling.rope_type",
                            format!("`{other}` is not supported (supported: llama3)"),
                        ))
                    }
                }
            }
            _ => None,
        };
        Ok(LlamaConfig {
            architecture,
            vocab_size: get_u("vocab_size")?,
            hidden_size,
            intermediate_size: get_u("intermediate_size")?,
            num_layers: get_u("num_hidden_layers")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: opt_f("rms_norm_eps", 1e-6),
            rope_theta,
            rope_freq_factors,
            max_context: get_u("max_position_embeddings")?,
            attention_bias: v
                .get("attention_bias")
                .and_then(|x| x.as_bool())
                .unwrap_or(architecture == Architecture::Qwen2),
            tie_embeddings: v
                .get("tie_word_embeddings")
                .and_then(|x| x.as_bool())
                .unwrap_or(false),
        })
    }
}

/// Llama 3.1 RoPE frequency divisors (the values llama.cpp stores as `rope_freqs.weight`).
pub fn llama3_freq_factors(s: &Llama3RopeScaling, theta: f64, head_dim: usize) -> Vec<f32> {
    let low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
    let high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
    (0..head_dim / 2)
        .map(|i| {
            let freq = 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64);
            let wavelen = 2.0 * std::f64::consts::PI / freq;
            if wavelen < high_wavelen {
                1.0
            } else if wavelen > low_wavelen {
                s.factor as f32
            } else {
                let smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor)
                    / (s.high_freq_factor - s.low_freq_factor);
                (1.0 / ((1.0 - smooth) / s.factor + smooth)) as f32
            }
        })
        .collect()
}
