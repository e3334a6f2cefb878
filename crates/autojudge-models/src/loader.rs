//! Loads a model, its tokenizer and chat template from a GGUF file or an HF directory.

use std::path::Path;

use autojudge_core::{ModelInfo, TextTokenizer, TokenId};
use burn::tensor::backend::Backend;

use crate::config::LlamaConfig;
use crate::cpu::Isa;
use crate::error::{ModelError, ModelResult};
use crate::gguf::GgufFile;
use crate::llama::{ComputeDType, Llama, LlamaWeights};
use crate::tokenizer::{from_gguf::tokenizer_from_gguf, ChatTemplate, LlmTokenizer};
use crate::weight_name::{LayerWeight, WeightName};
use crate::weight_source::{read_text, SafetensorsSet, WeightSource};

/// How to load a model.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Projection dtype.
    pub dtype: ComputeDType,
    /// Which kernel runs the projections.
    pub kernel: crate::llama::ProjectionKernel,
    /// Cap on the context length (bounds RoPE tables and KV growth); `None` = the model's.
    pub max_context: Option<usize>,
    /// Instruction set of the host kernels (`Auto`: the CPU's best; one it lacks is an error).
    pub isa: Isa,
}

/// A loaded model with its tokenizer and chat template.
#[derive(Clone, Debug)]
pub struct LoadedModel<B: Backend> {
    /// The model (full layer plan).
    pub model: Llama<B>,
    /// Its tokenizer.
    pub tokenizer: LlmTokenizer,
    /// Its chat template, if the checkpoint ships one.
    pub chat_template: Option<ChatTemplate>,
}

/// Loads `path`: a `.gguf` file or an HF directory (config.json + safetensors + tokenizer.json).
pub fn load_model<B: Backend>(
    path: &Path,
    opts: &LoadOptions,
    device: &B::Device,
) -> ModelResult<LoadedModel<B>> {
    if path.is_dir() {
        load_hf_dir(path, opts, device)
    } else {
        load_gguf(path, opts, device)
    }
}

fn finish<B: Backend>(
    src: &WeightSource,
    config: LlamaConfig,
    tokenizer: LlmTokenizer,
    eos_ids: Vec<TokenId>,
    chat_template: Option<ChatTemplate>,
    opts: &LoadOptions,
    device: &B::Device,
) -> ModelResult<LoadedModel<B>> {
    let path = src.path();
    config.validate(path)?;
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason: format!(
                "tokenizer has {} tokens but the model's vocabulary (embedding rows) is {}",
                tokenizer.vocab_size(),
                config.vocab_size
            )
            .into(),
        });
    }
    if let Some(&bad) = eos_ids.iter().find(|&&e| e as usize >= config.vocab_size) {
        return Err(ModelError::invalid(
            path,
            "eos token id",
            format!("{bad} is outside the vocabulary ({})", config.vocab_size),
        ));
    }
    let weights = LlamaWeights::<B>::load(src, &config, opts.dtype, opts.kernel, opts.isa, device)?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let info = ModelInfo {
        name,
        vocab_size: config.vocab_size,
        hidden_size: config.hidden_size,
        max_context: opts
            .max_context
            .unwrap_or(config.max_context)
            .min(config.max_context),
        tokenizer: tokenizer.id().clone(),
        eos_ids,
    };
    Ok(LoadedModel {
        model: Llama::new(weights, info, device.clone()),
        tokenizer,
        chat_template,
    })
}

/// Fills the flags that GGUF metadata leaves to the tensor directory.
fn complete_config_from_tensors(src: &WeightSource, config: &mut LlamaConfig) -> ModelResult<()> {
    config.tie_embeddings = !src.contains(WeightName::LmHead);
    config.attention_bias = src.contains(WeightName::Layer(0, LayerWeight::QBias));
    if let Some(f) = src.optional(WeightName::RopeFreqs, &[config.head_dim / 2])? {
        // Divisors of the RoPE frequencies: a non-positive or NaN one makes the tables garbage.
        if let Some(i) = f.data.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
            return Err(ModelError::invalid(
                src.path(),
                "rope_freqs.weight",
                format!("entry {i} is {} (must be a positive number)", f.data[i]),
            ));
        }
        config.rope_freq_factors = Some(f.data);
    }
    Ok(())
}

fn load_gguf<B: Backend>(
    path: &Path,
    opts: &LoadOptions,
    device: &B::Device,
) -> ModelResult<LoadedModel<B>> {
    load_gguf_file(GgufFile::open(path)?, opts, device)
}

/// Loads a model from an already parsed GGUF file (e.g. one held in memory).
pub fn load_gguf_file<B: Backend>(
    gguf: GgufFile,
    opts: &LoadOptions,
    device: &B::Device,
) -> ModelResult<LoadedModel<B>> {
    let path = &gguf.path().to_path_buf();
    let mut config = LlamaConfig::from_gguf(&gguf)?;
    let tok = tokenizer_from_gguf(&gguf)?;
    let id_key = |k: &str| gguf.get(k).and_then(|v| v.as_u64()).map(|v| v as TokenId);
    let model_kind = gguf
        .get("tokenizer.ggml.model")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let add_bos = gguf
        .get("tokenizer.ggml.add_bos_token")
        .and_then(|v| v.as_bool())
        .unwrap_or(model_kind == "llama");
    let bos = if add_bos {
        id_key("tokenizer.ggml.bos_token_id")
    } else {
        None
    };
    let mut eos_ids: Vec<TokenId> = [
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id",
    ]
    .iter()
    .filter_map(|k| id_key(k))
    .collect();
    eos_ids.dedup();
    let token_str = |id: Option<TokenId>| id.and_then(|i| tok.id_to_token(i)).unwrap_or_default();
    let bos_str = token_str(id_key("tokenizer.ggml.bos_token_id"));
    let eos_str = token_str(id_key("tokenizer.ggml.eos_token_id"));
    let tokenizer = LlmTokenizer::new(tok, bos, path);
    let chat_template = match gguf.get("tokenizer.chat_template").and_then(|v| v.as_str()) {
        Some(src) => Some(ChatTemplate::new(src.to_string(), bos_str, eos_str, path)?),
        None => None,
    };
    let src = WeightSource::Gguf(gguf);
    complete_config_from_tensors(&src, &mut config)?;
    finish(
        &src,
        config,
        tokenizer,
        eos_ids,
        chat_template,
        opts,
        device,
    )
}

fn json_file(path: &Path) -> ModelResult<Option<serde_json::Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = read_text(path)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ModelError::invalid(path, "json", e))
}

/// A special-token field of `tokenizer_config.json`: a string or `{"content": ...}`.
fn special_str(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        o => o
            .get("content")
            .and_then(|c| c.as_str())
            .map(str::to_string),
    }
}

fn load_hf_dir<B: Backend>(
    dir: &Path,
    opts: &LoadOptions,
    device: &B::Device,
) -> ModelResult<LoadedModel<B>> {
    let cfg_path = dir.join("config.json");
    let cfg_text = read_text(&cfg_path)?;
    let config = LlamaConfig::from_hf_json(&cfg_path, &cfg_text)?;
    let cfg_json: serde_json::Value =
        serde_json::from_str(&cfg_text).map_err(|e| ModelError::invalid(&cfg_path, "json", e))?;
    let tc_path = dir.join("tokenizer_config.json");
    let tc = json_file(&tc_path)?.unwrap_or(serde_json::Value::Null);
    let gc = json_file(&dir.join("generation_config.json"))?.unwrap_or(serde_json::Value::Null);
    let tok_path = dir.join("tokenizer.json");
    let probe = LlmTokenizer::from_file(&tok_path, None)?;
    let bos_str = special_str(tc.get("bos_token"));
    let eos_str = special_str(tc.get("eos_token"));
    let add_bos = tc
        .get("add_bos_token")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let bos = if add_bos {
        bos_str.as_deref().and_then(|s| probe.token_to_id(s))
    } else {
        None
    };
    let tokenizer = LlmTokenizer::new(probe.inner().clone(), bos, &tok_path);
    let ids_of = |v: Option<&serde_json::Value>| -> Vec<TokenId> {
        match v {
            Some(serde_json::Value::Number(n)) => {
                n.as_u64().map(|x| vec![x as TokenId]).unwrap_or_default()
            }
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as TokenId)
                .collect(),
            _ => vec![],
        }
    };
    let mut eos_ids = ids_of(gc.get("eos_token_id"));
    if eos_ids.is_empty() {
        eos_ids = ids_of(cfg_json.get("eos_token_id"));
    }
    if let Some(id) = eos_str.as_deref().and_then(|s| tokenizer.token_to_id(s)) {
        if !eos_ids.contains(&id) {
            eos_ids.push(id);
        }
    }
    let chat_template = match tc.get("chat_template").and_then(|v| v.as_str()) {
        Some(src) => Some(ChatTemplate::new(
            src.to_string(),
            bos_str.unwrap_or_default(),
            eos_str.unwrap_or_default(),
            &tc_path,
        )?),
        None => None,
    };
    let src = WeightSource::Safetensors(SafetensorsSet::open(dir)?);
    finish(
        &src,
        config,
        tokenizer,
        eos_ids,
        chat_template,
        opts,
        device,
    )
}
