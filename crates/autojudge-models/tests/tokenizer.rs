//! Tokenizers built from GGUF metadata: SentencePiece-style (`llama`) vocabularies with merges
//! derived from scores and byte fallback; BOS policy; the SmolLM2 vocabulary's round trip.

mod common;

use autojudge_core::{TargetModel, TextTokenizer};
use autojudge_models::gguf::{GgufFile, GgufWriter, MetadataValue};
use autojudge_models::{load_model, tokenizer_from_gguf, LlmTokenizer, LoadOptions};
use common::*;

fn spm_gguf() -> GgufFile {
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![2u64, 3, 3];
    let mut scores = vec![0.0f64, 0.0, 0.0];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    for (piece, score) in [
        ("\u{2581}", -1.0),
        ("a", -2.0),
        ("b", -3.0),
        ("c", -4.0),
        ("\u{2581}a", -5.0),
        ("ab", -6.0),
        ("\u{2581}ab", -7.0),
    ] {
        tokens.push(piece.into());
        types.push(1);
        scores.push(score);
    }
    let mut w = GgufWriter::new();
    w.meta_str("tokenizer.ggml.model", "llama")
        .meta(
            "tokenizer.ggml.tokens",
            MetadataValue::Array(tokens.into_iter().map(MetadataValue::String).collect()),
        )
        .meta(
            "tokenizer.ggml.token_type",
            MetadataValue::Array(types.into_iter().map(MetadataValue::UInt).collect()),
        )
        .meta(
            "tokenizer.ggml.scores",
            MetadataValue::Array(scores.into_iter().map(MetadataValue::Float).collect()),
        )
        .meta_u32("tokenizer.ggml.unknown_token_id", 0);
    GgufFile::from_bytes("spm.gguf", w.to_bytes()).unwrap()
}

#[test]
fn sentencepiece_vocab_merges_by_score_and_falls_back_to_bytes() {
    let g = spm_gguf();
    let tok = LlmTokenizer::new(tokenizer_from_gguf(&g).unwrap(), Some(1), g.path());
    let id = |s: &str| tok.token_to_id(s).unwrap();
    // "ab" → "▁ab" after the dummy prefix, merged all the way.
    assert_eq!(tok.encode("ab", false).unwrap(), vec![id("\u{2581}ab")]);
    // BOS policy, and unknown characters as byte tokens.
    assert_eq!(
        tok.encode("c!", true).unwrap(),
        vec![1, id("\u{2581}"), id("c"), id("<0x21>")]
    );
    assert_eq!(
        tok.decode(&tok.encode("ab c!", false).unwrap()).unwrap(),
        "ab c!"
    );
}

#[test]
fn smollm2_vocab_round_trips_text_and_special_tokens() {
    let path = smollm_path();
    let loaded = load_model::<B>(
        &path,
        &LoadOptions {
            max_context: Some(64),
            ..Default::default()
        },
        &Default::default(),
    )
    .unwrap();
    let t = &loaded.tokenizer;
    for text in [
        "Natalia sold 48 clips; 1234 + 5 = 1239.",
        "  spaces\n\nand\ttabs ünïcödé 🚀",
        "The final answer is $18.",
    ] {
        let ids = t.encode(text, false).unwrap();
        assert_eq!(t.decode(&ids).unwrap(), text);
    }
    let ids = t.encode("<|im_start|>user\nhi<|im_end|>", false).unwrap();
    assert_eq!(
        ids[0],
        t.token_to_id("<|im_start|>").unwrap(),
        "special tokens are matched whole"
    );
    assert_eq!(
        t.decode(&ids).unwrap(),
        "user\nhi",
        "special tokens are skipped when decoding"
    );
    assert_eq!(loaded.model.info().eos_ids, vec![2]);
    let rendered = loaded
        .chat_template
        .unwrap()
        .render(&[autojudge_models::ChatMessage::user("hi")], true)
        .unwrap();
    assert!(
        rendered.ends_with("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
        "{rendered:?}"
    );
}
