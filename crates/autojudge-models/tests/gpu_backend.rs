//! The burn forward on a GPU backend: CUDA with `--features cuda` (on an NVIDIA machine,
//! `scripts/gpu-check.sh`), else wgpu with `--features wgpu` on whatever Vulkan device the machine
//! has (in CI lavapipe, Mesa's conformant software Vulkan driver, which runs the same compute
//! shaders on the CPU). Golden logits of HF transformers on the tiny Llama / Qwen2 /
//! Llama-3.1-RoPE models and on SmolLM2, the same model's logits on the CPU, incremental vs
//! chunked vs full forward, truncate-then-extend:
//! `cargo test -p autojudge-models --features wgpu --test gpu_backend`.
#![cfg(any(feature = "wgpu", feature = "cuda"))]

mod common;

use autojudge_core::{ModelSession, Outputs, TargetModel, TextTokenizer, TokenId};
use autojudge_models::backend::CpuBackend;
#[cfg(feature = "cuda")]
use autojudge_models::backend::CudaBackend as G;
#[cfg(not(feature = "cuda"))]
use autojudge_models::backend::WgpuBackend as G;
use autojudge_models::tiny::TinyModel;
use autojudge_models::{load_model, Llama, LoadOptions};
use common::golden::{check_loaded, read_golden};
use common::*;
use serde_json::Value;

/// Relative logit tolerance against HF's f32 forward: the GPU sums in another order than torch
/// (tiled shaders, no FMA guarantee); the CPU paths meet 5e-5.
const GPU_REL_TOL: f32 = 2e-4;

fn device() -> burn::tensor::Device<G> {
    Default::default()
}

fn tiny(seed: u64, bias: bool) -> Llama<G> {
    let t = TinyModel::new(seed);
    let t = if bias { t.with_bias() } else { t };
    let m = t.build::<G>(&device()).unwrap().with_initial_capacity(4);
    assert!(
        !m.uses_host_forward(),
        "a GPU backend must run the burn forward"
    );
    m
}

fn full_logits(m: &Llama<G>, tokens: &[TokenId]) -> Vec<f32> {
    m.new_session()
        .unwrap()
        .extend(tokens, Outputs::ALL_LOGITS)
        .unwrap()
        .logits
}

/// Fixed token sequences (deterministic; each new shape compiles kernels, so few and short).
fn sequences() -> Vec<Vec<TokenId>> {
    vec![
        vec![1, 5, 9, 2, 33, 17, 8, 60, 4, 4, 12, 0, 63, 7, 21, 3, 40, 11],
        vec![2, 7],
        (0..37).map(|i| (i * 7 + 3) % 64).collect(),
    ]
}

#[test]
fn tiny_hf_models_match_transformers_on_gpu() {
    for name in ["tiny-llama", "tiny-qwen2", "tiny-llama31"] {
        let dir = fixture(name);
        let golden = read_golden(&dir.join("golden.json"));
        let loaded = load_model::<G>(&dir, &LoadOptions::default(), &device()).unwrap();
        assert!(!loaded.model.uses_host_forward());
        let (worst, agreed) = check_loaded(&loaded, &dir, &golden, GPU_REL_TOL);
        assert_eq!(
            agreed,
            golden.greedy.len(),
            "{name}: greedy continuation differs"
        );
        eprintln!("{name} on the GPU: worst relative logit error {worst:.2e}");
    }
}

#[test]
fn smollm2_matches_transformers_on_gpu() {
    let path = smollm_path();
    let fixture_path = fixture("smollm2_golden.json");
    let golden = read_golden(&fixture_path);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&fixture_path).unwrap()).unwrap();
    let loaded = load_model::<G>(&path, &LoadOptions::default(), &device()).unwrap();
    let ids = loaded
        .tokenizer
        .encode(v["text"].as_str().unwrap(), false)
        .unwrap();
    assert_eq!(ids, golden.prompt);
    let (worst, agreed) = check_loaded(&loaded, &path, &golden, GPU_REL_TOL);
    eprintln!(
        "SmolLM2 on the GPU: worst relative logit error {worst:.2e}, greedy agrees for {agreed}/32"
    );
    assert_eq!(agreed, golden.greedy.len(), "greedy continuation differs");
}

#[test]
fn gpu_logits_equal_the_cpu_forward() {
    for (seed, bias) in [(0, false), (3, true)] {
        let gpu = tiny(seed, bias);
        let t = TinyModel::new(seed);
        let t = if bias { t.with_bias() } else { t };
        let cpu = t.build::<CpuBackend>(&Default::default()).unwrap();
        for tokens in sequences() {
            let want = cpu
                .new_session()
                .unwrap()
                .extend(&tokens, Outputs::ALL_LOGITS)
                .unwrap()
                .logits;
            let got = full_logits(&gpu, &tokens);
            let diff = max_abs_diff(&got, &want);
            assert!(
                diff < 1e-4,
                "seed {seed}: GPU vs CPU logits differ by {diff}"
            );
        }
    }
}

#[test]
fn incremental_chunked_and_full_agree_on_gpu() {
    let m = tiny(1, true);
    for tokens in sequences() {
        let full = full_logits(&m, &tokens);
        for chunks in [&[1][..], &[3, 1, 5][..], &[8][..]] {
            let got = chunked_logits(&m, &tokens, chunks);
            let diff = max_abs_diff(&full, &got);
            assert!(diff < 1e-4, "chunks {chunks:?} vs full: {diff}");
        }
    }
}

#[test]
fn truncate_then_extend_equals_fresh_on_gpu() {
    let m = tiny(2, false);
    let seqs = sequences();
    let (prefix, junk, tail) = (&seqs[0], &seqs[2], &seqs[1]);
    for cut in [0, 1, 7, prefix.len()] {
        let mut s = m.new_session().unwrap();
        s.extend(prefix, Outputs::NONE).unwrap();
        s.extend(junk, Outputs::NONE).unwrap();
        s.truncate(cut).unwrap();
        assert_eq!(s.tokens(), &prefix[..cut]);
        let got = s.extend(tail, Outputs::ALL_LOGITS).unwrap().logits;
        let mut fresh = m.new_session().unwrap();
        if cut > 0 {
            fresh.extend(&prefix[..cut], Outputs::NONE).unwrap();
        }
        let want = fresh.extend(tail, Outputs::ALL_LOGITS).unwrap().logits;
        let diff = max_abs_diff(&got, &want);
        assert!(diff < 1e-4, "cut {cut}: {diff}");
    }
}

/// Greedy speculation on the GPU emits exactly target-only decoding (a separate draft model, a
/// layer-skip view of the target, an n-gram drafter): the burn forward's k-token verification
/// must reproduce its own decode steps' argmax, and rollbacks must leave the cache exact.
#[test]
fn greedy_speculation_on_gpu_is_lossless() {
    use autojudge_decode::policies::ExactMatch;
    use autojudge_decode::{
        generate_speculative, generate_target_only, DecodeConfig, Hooks, ModelDrafter, NgramDrafter,
    };
    use autojudge_models::LayerPlan;
    let cases: [(u64, usize, usize, &[TokenId]); 4] = [
        (3, 4, 0, &[5, 9, 17]),
        (11, 16, 1, &[1, 2, 3, 4, 5, 6, 7]),
        (27, 2, 2, &[40]),
        (42, 7, 2, &[8, 8, 13, 60, 2]),
    ];
    for (seed, k, plan, prompt) in cases {
        let target = TinyModel::new(seed)
            .layers(4)
            .build::<G>(&device())
            .unwrap();
        let draft = match plan {
            0 => target.draft_view(LayerPlan::EarlyExit(2)).unwrap(),
            1 => target.draft_view(LayerPlan::Skip(vec![1])).unwrap(),
            _ => TinyModel::new(seed + 100)
                .layers(2)
                .build::<G>(&device())
                .unwrap(),
        };
        let cfg = DecodeConfig::greedy(k, 40);
        let mut t0 = target.new_session().unwrap();
        let want = generate_target_only(&mut t0, prompt, &cfg, Hooks::default()).unwrap();
        let mut t = target.new_session().unwrap();
        let mut d = ModelDrafter::new(draft.new_session().unwrap());
        let got = generate_speculative(
            &mut t,
            &mut d,
            &mut ExactMatch,
            prompt,
            &cfg,
            Hooks::default(),
        )
        .unwrap();
        assert_eq!(got.tokens, want.tokens, "seed {seed} k {k} plan {plan}");
        assert!(got.stats.target_calls <= want.stats.target_calls);
        let mut fresh = target.new_session().unwrap();
        let seq = t.tokens().to_vec();
        let a = t.extend(&[5, 9], Outputs::ALL_LOGITS).unwrap().logits;
        fresh.extend(&seq, Outputs::NONE).unwrap();
        let b = fresh.extend(&[5, 9], Outputs::ALL_LOGITS).unwrap().logits;
        assert!(max_abs_diff(&a, &b) < 1e-4, "rolled-back session differs");
        let mut t2 = target.new_session().unwrap();
        let mut ngram = NgramDrafter::new(64);
        let ng = generate_speculative(
            &mut t2,
            &mut ngram,
            &mut ExactMatch,
            prompt,
            &cfg,
            Hooks::default(),
        )
        .unwrap();
        assert_eq!(ng.tokens, want.tokens, "n-gram, seed {seed}");
    }
}
