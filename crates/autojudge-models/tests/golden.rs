//! Our models against golden outputs of HF transformers (scripts/golden/make_fixtures.py):
//! top-k logits at every position of a fixed prompt within a stated tolerance, and the greedy
//! 32-token continuation identical.

mod common;

use autojudge_core::{TargetModel, TextTokenizer};
use autojudge_models::{load_model, LoadOptions};
use common::golden::{check_loaded, read_golden, Golden};
use common::*;
use serde_json::Value;

/// Absolute logit tolerance, relative to the logit scale: f32 vs f32 with different summation
/// orders (HF: torch GEMM; ours: gemm crate) differ by ~1e-6 relative (measured worst: 5e-6 on SmolLM2).
const REL_TOL: f32 = 5e-5;

/// Checks logits rows and that the greedy continuation is identical; returns the largest
/// logit error.
fn check(model_path: &std::path::Path, golden: &Golden) -> f32 {
    let loaded = load_model::<B>(model_path, &LoadOptions::default(), &Default::default()).unwrap();
    let (worst, agreed) = check_loaded(&loaded, model_path, golden, REL_TOL);
    assert_eq!(
        agreed,
        golden.greedy.len(),
        "{}: greedy continuation differs",
        model_path.display()
    );
    worst
}

#[test]
fn tiny_hf_models_match_transformers() {
    for name in ["tiny-llama", "tiny-qwen2", "tiny-llama31"] {
        let dir = fixture(name);
        let worst = check(&dir, &read_golden(&dir.join("golden.json")));
        eprintln!("{name}: worst relative logit error {worst:.2e}");
    }
}

#[test]
fn tiny_hf_tokenizer_and_template_load() {
    let loaded = load_model::<B>(
        &fixture("tiny-llama"),
        &LoadOptions::default(),
        &Default::default(),
    )
    .unwrap();
    let ids = loaded.tokenizer.encode("hi there", false).unwrap();
    assert_eq!(loaded.tokenizer.decode(&ids).unwrap(), "hi there");
    assert_eq!(loaded.model.info().eos_ids, vec![256]);
    let t = loaded.chat_template.unwrap();
    assert_eq!(
        t.render(&[autojudge_models::ChatMessage::user("q")], true)
            .unwrap(),
        "<user>q<assistant>"
    );
}

/// A real GGUF against its fixture: our tokenizer's prompt ids equal HF's, then [`check`].
/// The model is loaded once for both.
fn check_real_gguf(
    path: &std::path::Path,
    fixture_name: &str,
    opts: LoadOptions,
    rel_tol: f32,
) -> (f32, usize) {
    let golden = read_golden(&fixture(fixture_name));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(fixture_name)).unwrap()).unwrap();
    let loaded = load_model::<B>(path, &opts, &Default::default()).unwrap();
    let ids = loaded
        .tokenizer
        .encode(v["text"].as_str().unwrap(), false)
        .unwrap();
    assert_eq!(
        ids, golden.prompt,
        "GGUF tokenizer disagrees with the HF tokenizer"
    );
    check_loaded(&loaded, path, &golden, rel_tol)
}

#[test]
fn smollm2_matches_transformers_gguf_reference() {
    let path = smollm_path();
    let (worst, agreed) = check_real_gguf(
        &path,
        "smollm2_golden.json",
        LoadOptions::default(),
        REL_TOL,
    );
    assert_eq!(agreed, 32, "greedy continuation differs");
    eprintln!("SmolLM2: worst relative logit error {worst:.2e}");
}

/// Logit tolerance of the quantized path (int8 activations) against llama.cpp's own quantized
/// kernels on the same file and against HF's f32 forward of the dequantized weights. Measured
/// worst (this file and prompt): 0.048 vs llama.cpp, 0.058 vs HF; llama.cpp itself is 0.038
/// from HF (its f16 KV cache and activation rounding differ from ours).
const QUANT_REL_TOL: f32 = 0.07;

#[test]
fn smollm2_quantized_path_matches_llama_cpp_and_transformers_within_int8_noise() {
    let path = smollm_path();
    let opts = LoadOptions {
        dtype: autojudge_models::ComputeDType::Quant,
        ..LoadOptions::default()
    };
    let (worst, agreed) = check_real_gguf(
        &path,
        "smollm2_llamacpp_golden.json",
        opts.clone(),
        QUANT_REL_TOL,
    );
    eprintln!("SmolLM2 quantized vs llama.cpp: worst relative logit error {worst:.2e}, greedy agrees for {agreed}/32 tokens");
    // Two engines that round differently part at a near-tie; the first 27 tokens agree.
    assert!(
        agreed >= 24,
        "greedy agrees with llama.cpp for only {agreed} tokens"
    );
    let (worst, agreed) = check_real_gguf(&path, "smollm2_golden.json", opts, QUANT_REL_TOL);
    eprintln!("SmolLM2 quantized vs HF f32: worst relative logit error {worst:.2e}, greedy agrees for {agreed}/32 tokens");
    assert!(
        agreed >= 24,
        "greedy agrees with HF for only {agreed} tokens"
    );
}

/// Opt-in (large model): `AUTOJUDGE_QWEN_TARGET=/path/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
/// cargo test --release -p autojudge-models --test golden -- --ignored`.
#[test]
#[ignore = "needs the 1.1 GB Qwen2.5-Coder-1.5B GGUF (scripts/fetch-models.sh qwen)"]
fn qwen_coder_1_5b_matches_transformers_gguf_reference() {
    let path = std::env::var_os("AUTOJUDGE_QWEN_TARGET")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap())
                .join(".cache/autojudge/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
        });
    let opts = LoadOptions {
        max_context: Some(512),
        ..Default::default()
    };
    let (worst, agreed) = check_real_gguf(&path, "qwen_golden.json", opts, REL_TOL);
    assert_eq!(agreed, 32, "greedy continuation differs");
    eprintln!("Qwen2.5-Coder-1.5B: worst relative logit error {worst:.2e}");
}

#[test]
fn sharded_checkpoint_index_loads_the_same_model() {
    // Split tiny-llama into two shards listed by model.safetensors.index.json.
    let src = fixture("tiny-llama");
    let dir = scratch("sharded");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let (a, b) = names.split_at(names.len() / 2);
    let mut map = serde_json::Map::new();
    for (shard, part) in [
        ("model-00001-of-00002.safetensors", a),
        ("model-00002-of-00002.safetensors", b),
    ] {
        let views: Vec<(String, safetensors::tensor::TensorView)> = part
            .iter()
            .map(|n| (n.clone(), st.tensor(n).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, &dir.join(shard)).unwrap();
        for n in part {
            map.insert(n.clone(), Value::String(shard.into()));
        }
    }
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        serde_json::json!({"weight_map": map}).to_string(),
    )
    .unwrap();
    let golden = read_golden(&src.join("golden.json"));
    check(&dir, &golden);
}
