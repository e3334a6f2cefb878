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

    /// Checks internal consistency; `path` names the source in errors, fields are named as
    /// in this struct.
    pub fn validate(&self, path: &Path) -> ModelResult<()> {
        self.check(path, Keys::Native, HeadDim::Given)
    }

    /// Checks every field, naming a bad one by the key `keys` spells it with: sizes positive,
    /// query heads a multiple of the key/value heads, an even head width, num_heads dividing
    /// hidden_size where the head width is derived from them, RMSNorm epsilon a positive
    /// number, RoPE base a number above 1, RoPE frequency factors positive numbers.
    fn check(&self, path: &Path, keys: Keys<'_>, head_dim: HeadDim) -> ModelResult<()> {
        let bad =
            |field: Field, reason: String| Err(ModelError::invalid(path, keys.name(field), reason));
        for (field, v) in [
            (Field::VocabSize, self.vocab_size),
            (Field::HiddenSize, self.hidden_size),
            (Field::IntermediateSize, self.intermediate_size),
            (Field::NumLayers, self.num_layers),
            (Field::NumHeads, self.num_heads),
            (Field::NumKvHeads, self.num_kv_heads),
            (Field::HeadDim, self.head_dim),
            (Field::MaxContext, self.max_context),
        ] {
            if v == 0 {
                return bad(field, "must be positive".into());
            }
        }
        if head_dim == HeadDim::Derived && !self.hidden_size.is_multiple_of(self.num_heads) {
            return bad(
                Field::NumHeads,
                format!(
                    "{} does not divide {} {} (and no head width is given)",
                    self.num_heads,
                    keys.name(Field::HiddenSize),
                    self.hidden_size
                ),
            );
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return bad(
                Field::NumKvHeads,
                format!(
                    "{} does not divide {} {}",
                    self.num_kv_heads,
                    keys.name(Field::NumHeads),
                    self.num_heads
                ),
            );
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(
                Field::HeadDim,
                format!("{} is odd; RoPE needs pairs", self.head_dim),
            );
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0) {
            return bad(
                Field::RmsNormEps,
                format!("{} (must be a positive number)", self.rms_norm_eps),
            );
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return bad(
                Field::RopeTheta,
                format!(
                    "{} (the RoPE base must be a number above 1)",
                    self.rope_theta
                ),
            );
        }
        if let Some(f) = &self.rope_freq_factors {
            if f.len() != self.head_dim / 2 {
                return bad(
                    Field::RopeFreqFactors,
                    format!("{} entries, expected {}", f.len(), self.head_dim / 2),
                );
            }
            if let Some(i) = f.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
                return bad(
                    Field::RopeFreqFactors,
                    format!("entry {i} is {} (must be a positive number)", f[i]),
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
        let (head_dim, given) = match gguf.opt_u64(&key("attention.key_length"))? {
            Some(v) => (v as usize, HeadDim::Given),
            None => (hidden_size / num_heads.max(1), HeadDim::Derived),
        };
        let vocab_size = match gguf.opt_u64(&key("vocab_size"))? {
            Some(v) => v as usize,
            None => gguf.require_str_array("tokenizer.ggml.tokens")?.len(),
        };
        let config = LlamaConfig {
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
        };
        config.check(path, Keys::Gguf(arch_name), given)?;
        Ok(config)
    }

    /// Reads an HF `config.json`.
    pub fn from_hf_json(path: &Path, text: &str) -> ModelResult<Self> {
        // Types are serde's (an error names the key by its path); presence, defaults and
        // ranges are checked below, each naming its key.
        let json = &mut serde_json::Deserializer::from_str(text);
        let v: HfConfigJson = serde_path_to_error::deserialize(json).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." {
                "config.json".into()
            } else {
                key
            };
            ModelError::invalid(path, key, e.into_inner())
        })?;
        let required = |value: Option<usize>, key: &str| {
            value.ok_or_else(|| ModelError::MissingMetadata {
                path: path.to_path_buf(),
                key: key.to_string(),
            })
        };
        let model_type = v.model_type.as_deref().unwrap_or("llama");
        let architecture =
            Architecture::parse(model_type).ok_or_else(|| ModelError::UnsupportedArchitecture {
                path: path.to_path_buf(),
                arch: model_type.to_string(),
            })?;
        let hidden_size = required(v.hidden_size, "hidden_size")?;
        let num_heads = required(v.num_attention_heads, "num_attention_heads")?;
        let (head_dim, given) = match v.head_dim {
            Some(d) => (d, HeadDim::Given),
            None => (hidden_size / num_heads.max(1), HeadDim::Derived),
        };
        // transformers ≥ 5 writes `rope_parameters` {rope_theta, rope_type, ...}; earlier
        // versions a top-level `rope_theta` and an optional `rope_scaling`.
        let (rope_theta, theta_key) = match v.rope_parameters.as_ref().and_then(|p| p.rope_theta) {
            Some(theta) => (theta, "rope_parameters.rope_theta"),
            None => (v.rope_theta.unwrap_or(10_000.0), "rope_theta"),
        };
        let (scaling, scaling_key) = match &v.rope_parameters {
            Some(p) => (Some(p), "rope_parameters"),
            None => (v.rope_scaling.as_ref(), "rope_scaling"),
        };
        let rope_freq_factors = match scaling.and_then(|s| s.rope_type.as_deref()) {
            Some("llama3") => {
                let s = scaling.expect("a rope type comes from a scaling object");
                let f = |value: Option<f64>, k: &str| {
                    value.ok_or_else(|| ModelError::MissingMetadata {
                        path: path.to_path_buf(),
                        key: format!("{scaling_key}.{k}"),
                    })
                };
                let sc = Llama3RopeScaling {
                    factor: f(s.factor, "factor")?,
                    low_freq_factor: f(s.low_freq_factor, "low_freq_factor")?,
                    high_freq_factor: f(s.high_freq_factor, "high_freq_factor")?,
                    original_max_position_embeddings: f(
                        s.original_max_position_embeddings,
                        "original_max_position_embeddings",
                    )?,
                };
                sc.check(path, scaling_key)?;
                Some(llama3_freq_factors(&sc, rope_theta, head_dim))
            }
            Some("default") | Some("") | None => None,
            Some(other) => {
                return Err(ModelError::invalid(
                    path,
                    format!("{scaling_key}.rope_type"),
                    format!("`{other}` is not supported (supported: llama3)"),
                ))
            }
        };
        let config = LlamaConfig {
            architecture,
            vocab_size: required(v.vocab_size, "vocab_size")?,
            hidden_size,
            intermediate_size: required(v.intermediate_size, "intermediate_size")?,
            num_layers: required(v.num_hidden_layers, "num_hidden_layers")?,
            num_heads,
            num_kv_heads: v.num_key_value_heads.unwrap_or(num_heads),
            head_dim,
            rms_norm_eps: v.rms_norm_eps.unwrap_or(1e-6),
            rope_theta,
            rope_freq_factors,
            max_context: required(v.max_position_embeddings, "max_position_embeddings")?,
            attention_bias: v
                .attention_bias
                .unwrap_or(architecture == Architecture::Qwen2),
            tie_embeddings: v.tie_word_embeddings.unwrap_or(false),
        };
        config.check(
            path,
            Keys::HfJson {
                rope_theta: theta_key,
                rope_scaling: scaling_key,
            },
            given,
        )?;
        Ok(config)
    }
}

/// The keys of an HF `config.json` this crate reads, with their JSON types; every one is
/// optional here (absent and `null` alike) so that presence is checked by name afterwards.
/// Other keys are ignored.
#[derive(Deserialize)]
struct HfConfigJson {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_parameters: Option<HfRopeJson>,
    rope_scaling: Option<HfRopeJson>,
    max_position_embeddings: Option<usize>,
    attention_bias: Option<bool>,
    tie_word_embeddings: Option<bool>,
}

/// `rope_parameters` (transformers ≥ 5) or `rope_scaling` (earlier) of an HF `config.json`.
#[derive(Deserialize)]
struct HfRopeJson {
    rope_theta: Option<f64>,
    #[serde(alias = "type")]
    rope_type: Option<String>,
    factor: Option<f64>,
    low_freq_factor: Option<f64>,
    high_freq_factor: Option<f64>,
    original_max_position_embeddings: Option<f64>,
}

/// Whether a configuration gives its head width or derives it as `hidden_size / num_heads`
/// (which then must divide evenly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadDim {
    /// Read from the file (or set by the caller).
    Given,
    /// `hidden_size / num_heads`.
    Derived,
}

/// A checked field of [`LlamaConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    VocabSize,
    HiddenSize,
    IntermediateSize,
    NumLayers,
    NumHeads,
    NumKvHeads,
    HeadDim,
    RmsNormEps,
    RopeTheta,
    RopeFreqFactors,
    MaxContext,
}

/// How the source of a configuration spells its fields, so an error names the key a user
/// finds in the file.
#[derive(Clone, Copy, Debug)]
enum Keys<'a> {
    /// The [`LlamaConfig`] field names (a configuration built in code).
    Native,
    /// An HF `config.json`; RoPE keys as the file spells them.
    HfJson {
        /// `rope_theta` or `rope_parameters.rope_theta`.
        rope_theta: &'static str,
        /// `rope_scaling` or `rope_parameters`.
        rope_scaling: &'static str,
    },
    /// GGUF metadata of architecture `.0` (`llama.embedding_length`...).
    Gguf(&'a str),
}

impl Keys<'_> {
    fn name(self, f: Field) -> String {
        match self {
            Keys::Native => match f {
                Field::VocabSize => "vocab_size",
                Field::HiddenSize => "hidden_size",
                Field::IntermediateSize => "intermediate_size",
                Field::NumLayers => "num_layers",
                Field::NumHeads => "num_heads",
                Field::NumKvHeads => "num_kv_heads",
                Field::HeadDim => "head_dim",
                Field::RmsNormEps => "rms_norm_eps",
                Field::RopeTheta => "rope_theta",
                Field::RopeFreqFactors => "rope_freq_factors",
                Field::MaxContext => "max_context",
            }
            .into(),
            Keys::HfJson {
                rope_theta,
                rope_scaling,
            } => match f {
                Field::VocabSize => "vocab_size",
                Field::HiddenSize => "hidden_size",
                Field::IntermediateSize => "intermediate_size",
                Field::NumLayers => "num_hidden_layers",
                Field::NumHeads => "num_attention_heads",
                Field::NumKvHeads => "num_key_value_heads",
                Field::HeadDim => "head_dim",
                Field::RmsNormEps => "rms_norm_eps",
                Field::RopeTheta => rope_theta,
                Field::RopeFreqFactors => rope_scaling,
                Field::MaxContext => "max_position_embeddings",
            }
            .into(),
            Keys::Gguf(arch) => match f {
                // The vocabulary size may also come from the token list's length.
                Field::VocabSize => format!("{arch}.vocab_size"),
                Field::HiddenSize => format!("{arch}.embedding_length"),
                Field::IntermediateSize => format!("{arch}.feed_forward_length"),
                Field::NumLayers => format!("{arch}.block_count"),
                Field::NumHeads => format!("{arch}.attention.head_count"),
                Field::NumKvHeads => format!("{arch}.attention.head_count_kv"),
                Field::HeadDim => format!("{arch}.attention.key_length"),
                Field::RmsNormEps => format!("{arch}.attention.layer_norm_rms_epsilon"),
                Field::RopeTheta => format!("{arch}.rope.freq_base"),
                Field::RopeFreqFactors => "rope_freqs.weight".into(),
                Field::MaxContext => format!("{arch}.context_length"),
            },
        }
    }
}

impl Llama3RopeScaling {
    /// Checks the factors (`{prefix}.factor`... named in errors): every one a positive number,
    /// `high_freq_factor` above `low_freq_factor` (the smoothing divides by their difference).
    fn check(&self, path: &Path, prefix: &str) -> ModelResult<()> {
        for (k, v) in [
            ("factor", self.factor),
            ("low_freq_factor", self.low_freq_factor),
            ("high_freq_factor", self.high_freq_factor),
            (
                "original_max_position_embeddings",
                self.original_max_position_embeddings,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ModelError::invalid(
                    path,
                    format!("{prefix}.{k}"),
                    format!("{v} (must be a positive number)"),
                ));
            }
        }
        if self.high_freq_factor <= self.low_freq_factor {
            return Err(ModelError::invalid(
                path,
                format!("{prefix}.high_freq_factor"),
                format!(
                    "{} is not above low_freq_factor {}",
                    self.high_freq_factor, self.low_freq_factor
                ),
            ));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgufWriter, MetadataValue};

    const CONFIG: &str = "config.json";

    /// A sound HF config (SmolLM2-like shapes, small), with `edit` applied to its JSON.
    fn hf(edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> String {
        let mut v = serde_json::json!({
            "model_type": "llama",
            "vocab_size": 64,
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "max_position_embeddings": 128,
        });
        edit(v.as_object_mut().unwrap());
        v.to_string()
    }

    /// Parses an edited HF config; returns the error's field and message.
    fn hf_err(
        edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> (String, String) {
        match LlamaConfig::from_hf_json(Path::new(CONFIG), &hf(edit)) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e @ ModelError::Invalid { .. }) | Err(e @ ModelError::MissingMetadata { .. }) => {
                let field = match &e {
                    ModelError::Invalid { field, .. } => field.clone(),
                    ModelError::MissingMetadata { key, .. } => key.clone(),
                    _ => unreachable!(),
                };
                let msg = autojudge_core::ErrorChain(&e).to_string();
                assert!(msg.starts_with(CONFIG), "{msg}");
                (field, msg)
            }
            Err(e) => panic!("expected an invalid field, got {e}"),
        }
    }

    fn set(
        k: &str,
        v: serde_json::Value,
    ) -> impl FnOnce(&mut serde_json::Map<String, serde_json::Value>) + '_ {
        move |m| {
            m.insert(k.to_string(), v);
        }
    }

    #[test]
    fn a_sound_hf_config_parses() {
        let c = LlamaConfig::from_hf_json(Path::new(CONFIG), &hf(|_| {})).unwrap();
        assert_eq!((c.head_dim, c.num_kv_heads, c.rms_norm_eps), (8, 2, 1e-5));
        // Null optional keys are absent keys.
        let c = LlamaConfig::from_hf_json(
            Path::new(CONFIG),
            &hf(|m| {
                m.insert("head_dim".into(), serde_json::Value::Null);
                m.insert("rope_scaling".into(), serde_json::Value::Null);
            }),
        )
        .unwrap();
        assert_eq!(c.head_dim, 8);
    }

    #[test]
    fn bad_hf_norm_and_rope_values_name_their_key() {
        use serde_json::json;
        for (key, value) in [
            ("rms_norm_eps", json!(-1.0)),
            ("rms_norm_eps", json!(0.0)),
            ("rope_theta", json!(0.0)),
            ("rope_theta", json!(-10000.0)),
            ("rope_theta", json!(1.0)),
        ] {
            let (field, msg) = hf_err(set(key, value.clone()));
            assert_eq!(field, key, "{msg}");
            assert!(msg.contains(&value.to_string().replace(".0", "")), "{msg}");
        }
        // Values of another type are errors, not silent defaults.
        for key in ["rms_norm_eps", "rope_theta"] {
            let (field, msg) = hf_err(set(key, json!("tiny")));
            assert_eq!(field, key);
            assert!(
                msg.contains("invalid type: string \"tiny\", expected f64"),
                "{msg}"
            );
        }
        // transformers ≥ 5 nests the base.
        let (field, _) = hf_err(set(
            "rope_parameters",
            json!({"rope_type": "default", "rope_theta": 0.0}),
        ));
        assert_eq!(field, "rope_parameters.rope_theta");
    }

    #[test]
    fn bad_hf_sizes_and_head_counts_name_their_key() {
        use serde_json::json;
        for key in [
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "max_position_embeddings",
        ] {
            let (field, msg) = hf_err(set(key, json!(0)));
            assert_eq!(field, key, "{msg}");
            assert!(msg.contains("must be positive"), "{msg}");
            let (field, msg) = hf_err(set(key, json!(-4)));
            assert_eq!(field, key, "{msg}");
            assert!(msg.contains("expected usize"), "{msg}");
        }
        // 5 heads cannot split 32 channels, when no head width is given.
        let (field, msg) = hf_err(set("num_attention_heads", json!(5)));
        assert_eq!(field, "num_attention_heads");
        assert!(msg.contains("does not divide hidden_size 32"), "{msg}");
        // Given explicitly, the head width need not divide the hidden size.
        let c = LlamaConfig::from_hf_json(
            Path::new(CONFIG),
            &hf(|m| {
                m.insert("num_attention_heads".into(), json!(6));
                m.insert("num_key_value_heads".into(), json!(3));
                m.insert("head_dim".into(), json!(8));
            }),
        )
        .unwrap();
        assert_eq!(c.q_dim(), 48);
        let (field, _) = hf_err(set("num_key_value_heads", json!(3)));
        assert_eq!(field, "num_key_value_heads");
        let (field, _) = hf_err(set("head_dim", json!(7)));
        assert_eq!(field, "head_dim");
        let (field, msg) = hf_err(set("attention_bias", json!("yes")));
        assert_eq!(field, "attention_bias");
        assert!(msg.contains("expected a boolean"), "{msg}");
    }

    #[test]
    fn bad_llama3_rope_scaling_names_its_key() {
        use serde_json::json;
        let scaling = |factor: f64, low: f64, high: f64| {
            json!({
                "rope_type": "llama3",
                "factor": factor,
                "low_freq_factor": low,
                "high_freq_factor": high,
                "original_max_position_embeddings": 64,
            })
        };
        assert!(LlamaConfig::from_hf_json(
            Path::new(CONFIG),
            &hf(set("rope_scaling", scaling(8.0, 1.0, 4.0)))
        )
        .is_ok());
        let (field, _) = hf_err(set("rope_scaling", scaling(0.0, 1.0, 4.0)));
        assert_eq!(field, "rope_scaling.factor");
        let (field, _) = hf_err(set("rope_scaling", scaling(8.0, -1.0, 4.0)));
        assert_eq!(field, "rope_scaling.low_freq_factor");
        let (field, msg) = hf_err(set("rope_scaling", scaling(8.0, 4.0, 4.0)));
        assert_eq!(field, "rope_scaling.high_freq_factor", "{msg}");
        let (field, _) = hf_err(set(
            "rope_scaling",
            json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}),
        ));
        assert_eq!(field, "rope_scaling.original_max_position_embeddings");
    }

    /// GGUF metadata of a sound small llama, with `edit` applied.
    fn gguf(edit: impl FnOnce(&mut Vec<(String, MetadataValue)>)) -> ModelResult<LlamaConfig> {
        let u = |v: u64| MetadataValue::UInt(v);
        let mut kv: Vec<(String, MetadataValue)> = vec![
            (
                "general.architecture".into(),
                MetadataValue::String("llama".into()),
            ),
            ("llama.vocab_size".into(), u(64)),
            ("llama.embedding_length".into(), u(32)),
            ("llama.feed_forward_length".into(), u(48)),
            ("llama.block_count".into(), u(2)),
            ("llama.attention.head_count".into(), u(4)),
            ("llama.attention.head_count_kv".into(), u(2)),
            (
                "llama.attention.layer_norm_rms_epsilon".into(),
                MetadataValue::Float(1e-5),
            ),
            (
                "llama.rope.freq_base".into(),
                MetadataValue::Float(10_000.0),
            ),
            ("llama.context_length".into(), u(128)),
        ];
        edit(&mut kv);
        let mut w = GgufWriter::new();
        for (k, v) in kv {
            w.meta(&k, v);
        }
        LlamaConfig::from_gguf(&GgufFile::from_bytes("model.gguf", w.to_bytes())?)
    }

    fn gguf_set(k: &str, v: MetadataValue) -> impl FnOnce(&mut Vec<(String, MetadataValue)>) + '_ {
        move |kv| {
            kv.retain(|(key, _)| key != k);
            kv.push((k.to_string(), v));
        }
    }

    /// The field and message of an edited GGUF's error.
    fn gguf_err(edit: impl FnOnce(&mut Vec<(String, MetadataValue)>)) -> (String, String) {
        match gguf(edit) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e @ ModelError::Invalid { .. }) => {
                let ModelError::Invalid { field, .. } = &e else {
                    unreachable!()
                };
                let msg = autojudge_core::ErrorChain(&e).to_string();
                assert!(msg.starts_with("model.gguf"), "{msg}");
                (field.clone(), msg)
            }
            Err(e) => panic!("expected an invalid field, got {e}"),
        }
    }

    #[test]
    fn sound_gguf_metadata_parses() {
        let c = gguf(|_| {}).unwrap();
        assert_eq!((c.head_dim, c.rope_theta), (8, 10_000.0));
    }

    #[test]
    fn bad_gguf_norm_and_rope_values_name_their_key() {
        let eps = "llama.attention.layer_norm_rms_epsilon";
        let base = "llama.rope.freq_base";
        for (key, v) in [
            (eps, -1.0),
            (eps, 0.0),
            (eps, f64::NAN),
            (eps, f64::INFINITY),
            (base, 0.0),
            (base, -1.0),
            (base, f64::NAN),
        ] {
            let (field, msg) = gguf_err(gguf_set(key, MetadataValue::Float(v)));
            assert_eq!(field, key, "{msg}");
        }
        let (field, msg) = gguf_err(gguf_set(eps, MetadataValue::String("x".into())));
        assert_eq!(field, eps);
        assert!(msg.contains("expected a number"), "{msg}");
    }

    #[test]
    fn bad_gguf_sizes_and_head_counts_name_their_key() {
        for key in [
            "llama.vocab_size",
            "llama.embedding_length",
            "llama.feed_forward_length",
            "llama.block_count",
            "llama.attention.head_count",
            "llama.attention.head_count_kv",
            "llama.context_length",
        ] {
            let (field, msg) = gguf_err(gguf_set(key, MetadataValue::UInt(0)));
            assert_eq!(field, key, "{msg}");
            let (field, msg) = gguf_err(gguf_set(key, MetadataValue::Int(-2)));
            assert_eq!(field, key, "{msg}");
        }
        let (field, msg) = gguf_err(gguf_set(
            "llama.attention.head_count",
            MetadataValue::UInt(5),
        ));
        assert_eq!(field, "llama.attention.head_count");
        assert!(
            msg.contains("does not divide llama.embedding_length 32"),
            "{msg}"
        );
        let (field, _) = gguf_err(gguf_set(
            "llama.attention.head_count_kv",
            MetadataValue::UInt(3),
        ));
        assert_eq!(field, "llama.attention.head_count_kv");
        let (field, _) = gguf_err(gguf_set(
            "llama.attention.key_length",
            MetadataValue::UInt(9),
        ));
        assert_eq!(field, "llama.attention.key_length");
    }

    #[test]
    fn native_validation_checks_the_frequency_factors() {
        let mut c = gguf(|_| {}).unwrap();
        c.rope_freq_factors = Some(vec![1.0, 2.0, f32::NAN, 1.0]);
        let e = c.validate(Path::new("tiny")).unwrap_err();
        let e = autojudge_core::ErrorChain(&e).to_string();
        assert!(
            e.contains("rope_freq_factors") && e.contains("entry 2"),
            "{e}"
        );
        c.rope_freq_factors = Some(vec![1.0, 0.0, 1.0, 1.0]);
        assert!(c.validate(Path::new("tiny")).is_err());
        c.rope_freq_factors = Some(vec![1.0; 4]);
        assert!(c.validate(Path::new("tiny")).is_ok());
    }
}
