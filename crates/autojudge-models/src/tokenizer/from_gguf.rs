//! Builds a `tokenizers::Tokenizer` from GGUF `tokenizer.ggml.*` metadata.
//!
//! Supported models: `gpt2` (byte-level BPE with the pre-tokenizer named by
//! `tokenizer.ggml.pre`: SmolLM, Qwen2, Llama 3, GPT-2) and `llama` (SentencePiece BPE with byte
//! fallback; merges derived from the token scores the way HF's slow→fast converter does).

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::error::{ModelError, ModelResult};
use crate::gguf::GgufFile;

/// GGUF token types (llama.cpp `llama_token_type`).
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;
const TOKEN_TYPE_BYTE: i64 = 6;

/// GPT-2's pre-tokenizer regex.
const GPT2_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Qwen2's pre-tokenizer regex (single digits).
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's pre-tokenizer regex (digits in groups of up to three).
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Builds the tokenizer described by `gguf`'s metadata.
pub fn tokenizer_from_gguf(gguf: &GgufFile) -> ModelResult<tokenizers::Tokenizer> {
    let path = gguf.path();
    let model = gguf.require_str("tokenizer.ggml.model")?;
    let tokens = gguf.require_str_array("tokenizer.ggml.tokens")?;
    let types: Vec<i64> = match gguf
        .get("tokenizer.ggml.token_type")
        .and_then(|v| v.as_array())
    {
        Some(arr) => arr
            .iter()
            .map(|v| v.as_u64().map(|x| x as i64).unwrap_or(1))
            .collect(),
        None => vec![1; tokens.len()],
    };
    if types.len() != tokens.len() {
        return Err(ModelError::invalid(
            path,
            "tokenizer.ggml.token_type",
            format!("{} entries for {} tokens", types.len(), tokens.len()),
        ));
    }
    let added: Vec<Value> = tokens
        .iter()
        .zip(&types)
        .enumerate()
        .filter(|(_, (_, &t))| t == TOKEN_TYPE_CONTROL || t == TOKEN_TYPE_USER_DEFINED)
        .map(|(id, (tok, &t))| {
            json!({"id": id, "content": tok, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": t == TOKEN_TYPE_CONTROL})
        })
        .collect();
    let json = match model {
        "gpt2" => byte_level_bpe_json(gguf, &tokens, added)?,
        "llama" => sentencepiece_bpe_json(gguf, &tokens, &types, added)?,
        other => {
            return Err(ModelError::Tokenizer {
                path: path.to_path_buf(),
                reason: format!(
                    "tokenizer.ggml.model `{other}` is not supported (supported: gpt2, llama)"
                )
                .into(),
            })
        }
    };
    let text = serde_json::to_string(&json).expect("json value serializes");
    text.parse::<tokenizers::Tokenizer>()
        .map_err(|e| ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason: e,
        })
}

fn vocab_map(tokens: &[&str]) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::with_capacity(tokens.len());
    for (id, tok) in tokens.iter().enumerate() {
        // Duplicate token strings (some vocabularies pad with repeats) keep their first id.
        map.entry(tok.to_string()).or_insert(json!(id));
    }
    map
}

fn byte_level_bpe_json(gguf: &GgufFile, tokens: &[&str], added: Vec<Value>) -> ModelResult<Value> {
    let merges = gguf.require_str_array("tokenizer.ggml.merges")?;
    let pre = gguf
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.as_str())
        .unwrap_or("default");
    let split = |regex: &str| json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false});
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let (pre_tokenizer, ignore_merges) = match pre {
        "qwen2" | "deepseek-r1-qwen" => (
            json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(false)]}),
            false,
        ),
        "llama-bpe" | "llama3" | "smaug-bpe" => (
            json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(false)]}),
            true,
        ),
        "smollm" => (
            json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)]}),
            false,
        ),
        _ => (
            json!({"type": "Sequence", "pretokenizers": [split(GPT2_REGEX), byte_level(false)]}),
            false,
        ),
    };
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": ignore_merges, "vocab": vocab_map(tokens), "merges": merges,
        }
    }))
}

fn sentencepiece_bpe_json(
    gguf: &GgufFile,
    tokens: &[&str],
    types: &[i64],
    added: Vec<Value>,
) -> ModelResult<Value> {
    let path = gguf.path();
    let scores: Vec<f64> = gguf
        .get("tokenizer.ggml.scores")
        .and_then(|v| v.as_array())
        .ok_or_else(|| ModelError::MissingMetadata {
            path: path.to_path_buf(),
            key: "tokenizer.ggml.scores".into(),
        })?
        .iter()
        .map(|v| v.as_f64().unwrap_or(0.0))
        .collect();
    if scores.len() != tokens.len() {
        return Err(ModelError::invalid(
            path,
            "tokenizer.ggml.scores",
            "length differs from tokenizer.ggml.tokens",
        ));
    }
    let unk_id = gguf
        .get("tokenizer.ggml.unknown_token_id")
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as usize;
    let unk = tokens.get(unk_id).copied().unwrap_or("<unk>");
    // Merges: every split of a normal piece into two pieces of the vocabulary, ranked by the
    // merged piece's score (then by the parts' ids), as HF's SentencePieceExtractor does.
    let index: HashMap<&str, usize> = tokens.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut merges: Vec<(f64, usize, usize, usize)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        if types[id] == TOKEN_TYPE_BYTE || types[id] == TOKEN_TYPE_CONTROL {
            continue;
        }
        for (split, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(split);
            if let (Some(&li), Some(&ri)) = (index.get(l), index.get(r)) {
                merges.push((scores[id], id, li, ri));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
    let merges: Vec<String> = merges
        .iter()
        .map(|&(_, _, l, r)| format!("{} {}", tokens[l], tokens[r]))
        .collect();
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u{2581}"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"}
        ]},
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": unk, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true,
            "ignore_merges": false, "vocab": vocab_map(tokens), "merges": merges,
        }
    }))
}
