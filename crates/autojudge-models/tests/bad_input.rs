//! Bad input gets a typed error naming the file and field, never a panic.

mod common;

use autojudge_core::{check_same_tokenizer, CoreError, ModelSession, Outputs, TargetModel};
use autojudge_models::gguf::{GgufFile, GgufWriter, MetadataValue};
use autojudge_models::tiny::TinyModel;
use autojudge_models::{load_gguf_file, load_model, LoadOptions, ModelError};
use common::*;
use proptest::prelude::*;

fn tiny_gguf() -> Vec<u8> {
    TinyModel::new(9).to_gguf()
}

fn load_bytes(label: &str, bytes: Vec<u8>) -> Result<(), ModelError> {
    let g = GgufFile::from_bytes(label, bytes)?;
    load_gguf_file::<B>(g, &LoadOptions::default(), &Default::default()).map(|_| ())
}

/// Re-serializes the tiny GGUF with `edit` applied to the parsed metadata and tensors.
fn rewrite(
    edit: impl Fn(&str, &mut Vec<usize>, &mut u32, &mut Vec<u8>) -> bool,
    meta: impl Fn(&mut Vec<(String, MetadataValue)>),
) -> Vec<u8> {
    let g = GgufFile::from_bytes("tiny.gguf", tiny_gguf()).unwrap();
    let mut kv: Vec<(String, MetadataValue)> = g.metadata.clone().into_iter().collect();
    meta(&mut kv);
    let mut w = GgufWriter::new();
    for (k, v) in &kv {
        w.meta(k, v.clone());
    }
    for t in &g.tensors {
        let mut shape = t.shape();
        let mut ty = 0u32;
        let mut bytes = g.tensor_bytes(t).to_vec();
        if edit(&t.name, &mut shape, &mut ty, &mut bytes) {
            w.tensor_raw(&t.name, &shape, ty, bytes);
        }
    }
    w.to_bytes()
}

#[test]
fn gguf_export_roundtrips_through_the_loader() {
    let t = TinyModel::new(9);
    let mem = t.build::<B>(&Default::default()).unwrap();
    let g = GgufFile::from_bytes("tiny.gguf", t.to_gguf()).unwrap();
    let loaded = load_gguf_file::<B>(g, &LoadOptions::default(), &Default::default()).unwrap();
    let toks = [3u32, 9, 27, 1, 60, 2];
    let a = mem
        .new_session()
        .unwrap()
        .extend(&toks, Outputs::ALL_LOGITS)
        .unwrap();
    let b = loaded
        .model
        .new_session()
        .unwrap()
        .extend(&toks, Outputs::ALL_LOGITS)
        .unwrap();
    assert!(
        max_abs_diff(&a.logits, &b.logits) < 1e-5,
        "GGUF path (with Q/K permutation) must equal the in-memory model"
    );
}

#[test]
fn garbage_and_truncated_files_are_typed_errors() {
    let e = load_bytes("junk.gguf", b"not a gguf file at all".to_vec()).unwrap_err();
    assert!(matches!(e, ModelError::BadMagic { .. }), "{e}");
    assert!(e.to_string().contains("junk.gguf"));
    let full = tiny_gguf();
    for cut in [4, 10, 30, 200, full.len() / 2, full.len() - 1] {
        let e = load_bytes("cut.gguf", full[..cut].to_vec()).unwrap_err();
        assert!(
            matches!(e, ModelError::Truncated { .. }),
            "cut at {cut}: {e}"
        );
        assert!(e.to_string().contains("cut.gguf"), "{e}");
    }
    let mut v = full.clone();
    v[4] = 9; // version
    assert!(matches!(
        load_bytes("v.gguf", v).unwrap_err(),
        ModelError::UnsupportedVersion { version: 9, .. }
    ));
    let path = scratch("missing.gguf");
    let e = load_model::<B>(&path, &LoadOptions::default(), &Default::default()).unwrap_err();
    assert!(
        matches!(e, ModelError::Io { .. }) && e.to_string().contains("missing.gguf"),
        "{e}"
    );
}

#[test]
fn unknown_and_unsupported_tensor_types_name_the_tensor() {
    let bytes = rewrite(
        |name, _, ty, _| {
            if name == "blk.1.ffn_up.weight" {
                *ty = 99;
            }
            true
        },
        |_| {},
    );
    let e = load_bytes("t.gguf", bytes).unwrap_err();
    assert!(
        matches!(&e, ModelError::UnknownTensorType { type_id: 99, tensor, .. } if tensor == "blk.1.ffn_up.weight"),
        "{e}"
    );
    // Q2_K is a real GGML type this loader does not decode: 84 bytes per 256 elements.
    let bytes = rewrite(
        |name, shape, ty, bytes| {
            if name == "blk.0.ffn_down.weight" {
                *shape = vec![1, 256];
                *ty = 10;
                *bytes = vec![0u8; 84];
            }
            true
        },
        |_| {},
    );
    let e = load_bytes("t.gguf", bytes).unwrap_err();
    assert!(
        matches!(&e, ModelError::UnsupportedTensorType { tensor, .. } if tensor == "blk.0.ffn_down.weight"),
        "{e}"
    );
    assert!(
        e.to_string().contains("Q2_K") && e.to_string().contains("Q4_K"),
        "{e}"
    );
}

#[test]
fn missing_tensor_and_shape_mismatch_are_named() {
    let bytes = rewrite(|name, _, _, _| name != "blk.1.attn_k.weight", |_| {});
    let e = load_bytes("m.gguf", bytes).unwrap_err();
    assert!(
        matches!(&e, ModelError::MissingTensor { tensor, .. } if tensor == "blk.1.attn_k.weight"),
        "{e}"
    );
    let bytes = rewrite(
        |name, shape, _, bytes| {
            if name == "blk.0.attn_v.weight" {
                shape[0] -= 8;
                bytes.truncate(shape.iter().product::<usize>() * 4);
            }
            true
        },
        |_| {},
    );
    let e = load_bytes("s.gguf", bytes).unwrap_err();
    assert!(
        matches!(&e, ModelError::ShapeMismatch { tensor, .. } if tensor == "blk.0.attn_v.weight"),
        "{e}"
    );
}

#[test]
fn unsupported_architecture_and_missing_metadata() {
    let bytes = rewrite(
        |_, _, _, _| true,
        |kv| {
            for (k, v) in kv.iter_mut() {
                if k == "general.architecture" {
                    *v = MetadataValue::String("gptneox".into());
                }
            }
        },
    );
    let e = load_bytes("a.gguf", bytes).unwrap_err();
    assert!(
        matches!(&e, ModelError::UnsupportedArchitecture { arch, .. } if arch == "gptneox"),
        "{e}"
    );
    let bytes = rewrite(
        |_, _, _, _| true,
        |kv| kv.retain(|(k, _)| k != "llama.block_count"),
    );
    let e = load_bytes("b.gguf", bytes).unwrap_err();
    assert!(
        matches!(&e, ModelError::MissingMetadata { key, .. } if key == "llama.block_count"),
        "{e}"
    );
}

#[test]
fn invalid_norm_rope_and_head_metadata_name_the_key() {
    for (key, value) in [
        (
            "llama.attention.layer_norm_rms_epsilon",
            MetadataValue::Float(-1.0),
        ),
        (
            "llama.attention.layer_norm_rms_epsilon",
            MetadataValue::Float(f64::NAN),
        ),
        ("llama.rope.freq_base", MetadataValue::Float(0.0)),
        ("llama.attention.head_count", MetadataValue::UInt(5)),
        ("llama.embedding_length", MetadataValue::UInt(0)),
    ] {
        let bytes = rewrite(
            |_, _, _, _| true,
            |kv| {
                for (k, v) in kv.iter_mut() {
                    if k == key {
                        *v = value.clone();
                    }
                }
            },
        );
        let e = load_bytes("bad.gguf", bytes).unwrap_err();
        assert!(
            matches!(&e, ModelError::Invalid { field, .. } if field == key),
            "{key}: {e}"
        );
        assert!(e.to_string().starts_with("bad.gguf"), "{e}");
    }
}

#[test]
fn non_positive_rope_frequency_factors_name_the_tensor() {
    let g = GgufFile::from_bytes("tiny.gguf", tiny_gguf()).unwrap();
    let half = autojudge_models::LlamaConfig::from_gguf(&g)
        .unwrap()
        .head_dim
        / 2;
    for bad in [0.0, -2.0, f32::NAN] {
        let mut w = GgufWriter::new();
        for (k, v) in &g.metadata {
            w.meta(k, v.clone());
        }
        for t in &g.tensors {
            w.tensor_raw(&t.name, &t.shape(), 0, g.tensor_bytes(t).to_vec());
        }
        let mut factors = vec![1.0f32; half];
        factors[half - 1] = bad;
        w.tensor_f32("rope_freqs.weight", &[half], &factors);
        let e = load_bytes("freqs.gguf", w.to_bytes()).unwrap_err();
        assert!(
            matches!(&e, ModelError::Invalid { field, .. } if field == "rope_freqs.weight"),
            "{e}"
        );
        assert!(
            autojudge_core::ErrorChain(&e)
                .to_string()
                .contains(&format!("entry {}", half - 1)),
            "{e:?}"
        );
    }
}

#[test]
fn tokenizer_larger_than_the_model_vocab_is_refused() {
    let bytes = rewrite(
        |_, _, _, _| true,
        |kv| {
            kv.push(("llama.vocab_size".into(), MetadataValue::UInt(64)));
            for (k, v) in kv.iter_mut() {
                if k == "tokenizer.ggml.tokens" || k == "tokenizer.ggml.token_type" {
                    if let MetadataValue::Array(a) = v {
                        let extra = a[1].clone();
                        for i in 0..8 {
                            a.push(match &extra {
                                MetadataValue::String(_) => {
                                    MetadataValue::String(format!("<x{i}>"))
                                }
                                other => other.clone(),
                            });
                        }
                    }
                }
            }
        },
    );
    let e = load_bytes("tok.gguf", bytes).unwrap_err();
    assert!(matches!(e, ModelError::Tokenizer { .. }), "{e}");
    assert!(e.to_string().contains("tok.gguf"), "{e}");
}

#[test]
fn mismatched_draft_target_pair_and_context_overflow() {
    let a = TinyModel::new(1).build::<B>(&Default::default()).unwrap();
    let b = TinyModel::new(1)
        .vocab(80)
        .build::<B>(&Default::default())
        .unwrap();
    let e = check_same_tokenizer(b.info(), a.info()).unwrap_err();
    assert!(matches!(e, CoreError::TokenizerMismatch { .. }), "{e}");
    let smol = load_model::<B>(
        &smollm_path(),
        &LoadOptions {
            max_context: Some(64),
            ..Default::default()
        },
        &Default::default(),
    )
    .unwrap();
    assert!(check_same_tokenizer(a.info(), smol.model.info()).is_err());
    let mut s = a.new_session().unwrap();
    let max = a.info().max_context;
    s.extend(&vec![1; max - 2], Outputs::NONE).unwrap();
    let e = s.extend(&[1, 2, 3], Outputs::LAST_LOGITS).unwrap_err();
    assert!(
        matches!(e, CoreError::ContextOverflow { requested, .. } if requested == max + 1),
        "{e}"
    );
    assert_eq!(
        s.len(),
        max - 2,
        "a refused extend leaves the session unchanged"
    );
    assert!(matches!(
        s.truncate(max),
        Err(CoreError::TruncateBeyondLength { .. })
    ));
    assert!(matches!(
        s.extend(&[999], Outputs::NONE),
        Err(CoreError::TokenOutOfVocab { token: 999, .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Random bytes never panic the parser.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), magic in any::<bool>()) {
        let mut bytes = bytes;
        if magic && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(b"GGUF");
            bytes[4..8].copy_from_slice(&3u32.to_le_bytes());
        }
        let _ = load_bytes("fuzz.gguf", bytes);
    }

    /// Truncations and byte flips of a valid model never panic the loader.
    #[test]
    fn corrupted_models_never_panic(cut in 0usize..100_000, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6)) {
        let mut bytes = tiny_gguf();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let cut = cut.min(bytes.len());
        bytes.truncate(bytes.len() - cut % (bytes.len() + 1).min(4096));
        let _ = load_bytes("fuzz.gguf", bytes);
    }
}
