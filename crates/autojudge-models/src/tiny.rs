//! Seeded random-weight Llama models for tests: same code path as real checkpoints (weights go
//! through in-memory weights), small enough to run in milliseconds.

use std::collections::HashMap;
use std::path::PathBuf;

use autojudge_core::{ModelInfo, TokenId, TokenizerId};
use burn::tensor::backend::Backend;
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::config::{Architecture, LlamaConfig};
use crate::cpu::Isa;
use crate::error::ModelResult;
use crate::gguf::{GgmlType, GgufWriter, MetadataValue};
use crate::host_tensor::HostTensor;
use crate::llama::{ComputeDType, Llama, LlamaWeights, ProjectionKernel};
use crate::weight_name::{LayerWeight, WeightName};
use crate::weight_source::WeightSource;

/// Builder for a seeded random model.
#[derive(Clone, Debug)]
pub struct TinyModel {
    /// Hyper-parameters.
    pub config: LlamaConfig,
    /// RNG seed.
    pub seed: u64,
    /// Standard deviation of projection weights (larger = peakier, more "confident" logits).
    pub weight_scale: f32,
    /// Projection dtype.
    pub dtype: ComputeDType,
    /// Projection kernel.
    pub kernel: ProjectionKernel,
    /// Instruction set of the host kernels.
    pub isa: Isa,
}

impl TinyModel {
    /// A 2-layer GQA model with a 64-token vocabulary.
    pub fn new(seed: u64) -> Self {
        TinyModel {
            config: LlamaConfig {
                architecture: Architecture::Llama,
                vocab_size: 64,
                hidden_size: 32,
                intermediate_size: 64,
                num_layers: 2,
                num_heads: 4,
                num_kv_heads: 2,
                head_dim: 8,
                rms_norm_eps: 1e-5,
                rope_theta: 10_000.0,
                rope_freq_factors: None,
                max_context: 256,
                attention_bias: false,
                tie_embeddings: true,
            },
            seed,
            weight_scale: 0.3,
            dtype: ComputeDType::F32,
            kernel: ProjectionKernel::Auto,
            isa: Isa::Auto,
        }
    }

    /// A 2-layer model 256 wide (intermediate 512, 4 heads of 64, 2 KV heads): the smallest
    /// shape whose projections fit k-quant blocks of 256.
    pub fn wide(seed: u64) -> Self {
        let mut t = TinyModel::new(seed);
        let c = &mut t.config;
        (c.hidden_size, c.intermediate_size, c.head_dim) = (256, 512, 64);
        t.weight_scale = 0.1;
        t
    }

    /// A random model with the shape of a real one, for benchmarks: `smollm2-135m` or
    /// `llama-3.2-1b`; `None` for other names.
    pub fn with_shape_of(seed: u64, name: &str) -> Option<Self> {
        let mut t = TinyModel::new(seed);
        let c = &mut t.config;
        match name {
            "smollm2-135m" => {
                (
                    c.vocab_size,
                    c.hidden_size,
                    c.intermediate_size,
                    c.num_layers,
                ) = (49_152, 576, 1536, 30);
                (c.num_heads, c.num_kv_heads, c.head_dim, c.max_context) = (9, 3, 64, 4096);
            }
            "llama-3.2-1b" => {
                (
                    c.vocab_size,
                    c.hidden_size,
                    c.intermediate_size,
                    c.num_layers,
                ) = (128_256, 2048, 8192, 16);
                (c.num_heads, c.num_kv_heads, c.head_dim, c.max_context) = (32, 8, 64, 4096);
            }
            _ => return None,
        }
        t.weight_scale = 0.02;
        Some(t)
    }

    /// Sets the number of layers.
    pub fn layers(mut self, n: usize) -> Self {
        self.config.num_layers = n;
        self
    }

    /// Sets the vocabulary size.
    pub fn vocab(mut self, n: usize) -> Self {
        self.config.vocab_size = n;
        self
    }

    /// Turns on Qwen2-style q/k/v biases.
    pub fn with_bias(mut self) -> Self {
        self.config.attention_bias = true;
        self.config.architecture = Architecture::Qwen2;
        self
    }

    /// The random weights under HF names.
    pub fn host_weights(&self) -> HashMap<String, HostTensor> {
        let c = &self.config;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut m = HashMap::new();
        let mut put =
            |name: WeightName, shape: Vec<usize>, scale: f32, offset: f32, rng: &mut StdRng| {
                let n = shape.iter().product();
                let data = (0..n)
                    .map(|_| offset + scale * (rng.random::<f32>() * 2.0 - 1.0))
                    .collect();
                m.insert(name.hf(), HostTensor::new(shape, data));
            };
        let s = self.weight_scale;
        let (h, q, kv, i) = (c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size);
        put(WeightName::Embed, vec![c.vocab_size, h], 1.0, 0.0, &mut rng);
        if !c.tie_embeddings {
            put(WeightName::LmHead, vec![c.vocab_size, h], s, 0.0, &mut rng);
        }
        put(WeightName::FinalNorm, vec![h], 0.1, 1.0, &mut rng);
        for l in 0..c.num_layers {
            let w = |lw| WeightName::Layer(l, lw);
            put(w(LayerWeight::AttnNorm), vec![h], 0.1, 1.0, &mut rng);
            put(w(LayerWeight::Q), vec![q, h], s, 0.0, &mut rng);
            put(w(LayerWeight::K), vec![kv, h], s, 0.0, &mut rng);
            put(w(LayerWeight::V), vec![kv, h], s, 0.0, &mut rng);
            if c.attention_bias {
                put(w(LayerWeight::QBias), vec![q], s, 0.0, &mut rng);
                put(w(LayerWeight::KBias), vec![kv], s, 0.0, &mut rng);
                put(w(LayerWeight::VBias), vec![kv], s, 0.0, &mut rng);
            }
            put(w(LayerWeight::O), vec![h, q], s, 0.0, &mut rng);
            put(w(LayerWeight::FfnNorm), vec![h], 0.1, 1.0, &mut rng);
            put(w(LayerWeight::Gate), vec![i, h], s, 0.0, &mut rng);
            put(w(LayerWeight::Up), vec![i, h], s, 0.0, &mut rng);
            put(w(LayerWeight::Down), vec![h, i], s, 0.0, &mut rng);
        }
        m
    }

    /// Builds the model on `device`. Tiny models with equal vocabulary sizes share a
    /// tokenizer identity, so they pair as draft/target.
    pub fn build<B: Backend>(&self, device: &B::Device) -> ModelResult<Llama<B>> {
        let label = PathBuf::from(format!("tiny-seed{}", self.seed));
        self.config.validate(&label)?;
        let src = WeightSource::Memory(label.clone(), self.host_weights());
        let weights = LlamaWeights::<B>::load(
            &src,
            &self.config,
            self.dtype,
            self.kernel,
            self.isa,
            device,
        )?;
        let info = ModelInfo {
            name: label.display().to_string(),
            vocab_size: self.config.vocab_size,
            hidden_size: self.config.hidden_size,
            max_context: self.config.max_context,
            tokenizer: TokenizerId(format!("tiny-vocab{}", self.config.vocab_size)),
            eos_ids: vec![0 as TokenId],
        };
        Ok(Llama::new(weights, info, device.clone()))
    }

    /// Exports the model as a GGUF file (f32 tensors, llama.cpp naming and Q/K permutation
    /// for the `llama` architecture) with a byte-level BPE vocabulary whose token 0 is the EOS.
    pub fn to_gguf(&self) -> Vec<u8> {
        self.gguf_bytes(|_| GgmlType::F32)
    }

    /// Exports the model as a GGUF file whose projections and embedding are stored as
    /// round-to-nearest `bulk` blocks, with `attn_v` and `ffn_down` in `wide` (the mix of
    /// llama.cpp's `*_K_M` files); a weight whose width is not whole blocks stays f32.
    pub fn to_gguf_quantized(&self, bulk: GgmlType, wide: GgmlType) -> Vec<u8> {
        self.gguf_bytes(|name| match name {
            WeightName::Layer(_, LayerWeight::V | LayerWeight::Down) => wide,
            WeightName::Embed
            | WeightName::LmHead
            | WeightName::Layer(
                _,
                LayerWeight::Q
                | LayerWeight::K
                | LayerWeight::O
                | LayerWeight::Gate
                | LayerWeight::Up,
            ) => bulk,
            _ => GgmlType::F32,
        })
    }

    fn gguf_bytes(&self, stored: impl Fn(WeightName) -> GgmlType) -> Vec<u8> {
        let c = &self.config;
        let arch = match c.architecture {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        };
        let mut w = GgufWriter::new();
        w.meta_str("general.architecture", arch);
        let key = |k: &str| format!("{arch}.{k}");
        w.meta_u32(&key("context_length"), c.max_context as u32)
            .meta_u32(&key("embedding_length"), c.hidden_size as u32)
            .meta_u32(&key("block_count"), c.num_layers as u32)
            .meta_u32(&key("feed_forward_length"), c.intermediate_size as u32)
            .meta_u32(&key("attention.head_count"), c.num_heads as u32)
            .meta_u32(&key("attention.head_count_kv"), c.num_kv_heads as u32)
            .meta(
                &key("attention.layer_norm_rms_epsilon"),
                MetadataValue::Float(c.rms_norm_eps),
            )
            .meta(&key("rope.freq_base"), MetadataValue::Float(c.rope_theta));
        let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
            .into_iter()
            .collect();
        alphabet.sort();
        let mut tokens = vec!["<|endoftext|>".to_string()];
        tokens.extend(alphabet.iter().map(|ch| ch.to_string()));
        let mut types = vec![3u64];
        types.extend(std::iter::repeat_n(1u64, alphabet.len()));
        while tokens.len() < c.vocab_size {
            tokens.push(format!("<|extra_{}|>", tokens.len()));
            types.push(3);
        }
        tokens.truncate(c.vocab_size);
        types.truncate(c.vocab_size);
        let strs = |v: Vec<String>| {
            MetadataValue::Array(v.into_iter().map(MetadataValue::String).collect())
        };
        w.meta_str("tokenizer.ggml.model", "gpt2")
            .meta_str("tokenizer.ggml.pre", "qwen2")
            .meta("tokenizer.ggml.tokens", strs(tokens))
            .meta(
                "tokenizer.ggml.token_type",
                MetadataValue::Array(types.into_iter().map(MetadataValue::UInt).collect()),
            )
            .meta("tokenizer.ggml.merges", strs(vec![]))
            .meta_u32("tokenizer.ggml.eos_token_id", 0);
        let host = self.host_weights();
        let mut names: Vec<WeightName> = vec![WeightName::Embed, WeightName::FinalNorm];
        if !c.tie_embeddings {
            names.push(WeightName::LmHead);
        }
        for l in 0..c.num_layers {
            for lw in [
                LayerWeight::AttnNorm,
                LayerWeight::Q,
                LayerWeight::K,
                LayerWeight::V,
                LayerWeight::QBias,
                LayerWeight::KBias,
                LayerWeight::VBias,
                LayerWeight::O,
                LayerWeight::FfnNorm,
                LayerWeight::Gate,
                LayerWeight::Up,
                LayerWeight::Down,
            ] {
                names.push(WeightName::Layer(l, lw));
            }
        }
        for name in names {
            let Some(t) = host.get(&name.hf()) else {
                continue;
            };
            let t = match (c.architecture, name) {
                (
                    Architecture::Llama,
                    WeightName::Layer(_, LayerWeight::Q | LayerWeight::QBias),
                ) => t.permute_rope_rows(c.num_heads),
                (
                    Architecture::Llama,
                    WeightName::Layer(_, LayerWeight::K | LayerWeight::KBias),
                ) => t.permute_rope_rows(c.num_kv_heads),
                _ => t.clone(),
            };
            match crate::gguf::quantize(stored(name), &t.data).filter(|_| {
                t.shape.len() == 2 && t.shape[1].is_multiple_of(stored(name).block_len())
            }) {
                Some(bytes) => w.tensor_typed(&name.gguf(), &t.shape, stored(name), bytes),
                None => w.tensor_f32(&name.gguf(), &t.shape, &t.data),
            };
        }
        w.to_bytes()
    }
}
