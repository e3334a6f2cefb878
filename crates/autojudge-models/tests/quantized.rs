//! The quantized host kernels inside whole models, on every instruction set this CPU runs: a
//! k-token extend reproduces k one-token steps bit for bit (what makes greedy speculative
//! decoding lossless), every set gives the same logits, and the logits stay close to the f32
//! forward of the same stored weights.

mod common;

use autojudge_core::TokenId;
use autojudge_models::gguf::{GgmlType, GgufFile};
use autojudge_models::tiny::TinyModel;
use autojudge_models::{load_gguf_file, ComputeDType, Isa, LoadOptions};
use common::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn quantized_forward_is_bit_identical_across_chunkings(
        tokens in prop::collection::vec(0u32..64, 1..40),
        chunks in prop::collection::vec(1usize..9, 1..5),
    ) {
        for (label, m) in quantized_models() {
            let one = chunked_logits(&m, &tokens, &[1]);
            prop_assert!(one.iter().all(|v| v.is_finite()), "{}: finite logits", label);
            prop_assert_eq!(&chunked_logits(&m, &tokens, &[tokens.len()]), &one, "{}: full vs one", label);
            prop_assert_eq!(&chunked_logits(&m, &tokens, &chunks), &one, "{}: chunks {:?}", label, chunks);
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_logits(
        tokens in prop::collection::vec(0u32..64, 1..24),
    ) {
        let models = quantized_models();
        for (label, m) in &models {
            let family = label.split(" on ").next().unwrap();
            let (first_label, first) = models
                .iter()
                .find(|(l, _)| l.starts_with(family))
                .unwrap();
            prop_assert_eq!(
                chunked_logits(m, &tokens, &[tokens.len()]),
                chunked_logits(first, &tokens, &[tokens.len()]),
                "{} vs {}", label, first_label
            );
        }
    }
}

#[test]
fn the_model_invariants_cover_every_instruction_set_here() {
    let labels: Vec<String> = quantized_models().into_iter().map(|(l, _)| l).collect();
    for isa in Isa::available() {
        assert_eq!(
            labels
                .iter()
                .filter(|l| l.ends_with(&format!(" on {isa}")))
                .count(),
            3,
            "{labels:?}"
        );
    }
}

#[test]
fn quantized_logits_stay_close_to_the_f32_forward_of_the_same_blocks() {
    // The f32 forward dequantizes the same stored blocks, so the only difference is the int8
    // activations (per 32 values for flat blocks, per 256 for k-quants).
    let toks: Vec<TokenId> = (1..24).collect();
    for (label, bytes, tol) in [
        (
            "Q4_1+Q8_0",
            TinyModel::new(6).to_gguf_quantized(GgmlType::Q4_1, GgmlType::Q8_0),
            0.03,
        ),
        (
            "Q4_K+Q6_K",
            TinyModel::wide(7).to_gguf_quantized(GgmlType::Q4_K, GgmlType::Q6_K),
            0.05,
        ),
    ] {
        let load = |dtype| {
            let g = GgufFile::from_bytes(label, bytes.clone()).unwrap();
            let opts = LoadOptions {
                dtype,
                ..LoadOptions::default()
            };
            load_gguf_file::<B>(g, &opts, &Default::default())
                .unwrap()
                .model
        };
        let a = chunked_logits(&load(ComputeDType::F32), &toks, &[toks.len()]);
        let b = chunked_logits(&load(ComputeDType::Quant), &toks, &[toks.len()]);
        let scale = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let diff = max_abs_diff(&a, &b);
        assert!(diff < tol * scale, "{label}: drift {diff} (scale {scale})");
    }
}

#[test]
fn quant_on_a_device_kernel_is_a_typed_error() {
    let g = GgufFile::from_bytes("t.gguf", TinyModel::new(6).to_gguf()).unwrap();
    let opts = LoadOptions {
        dtype: ComputeDType::Quant,
        kernel: autojudge_models::ProjectionKernel::Burn,
        ..LoadOptions::default()
    };
    let err = load_gguf_file::<B>(g, &opts, &Default::default()).unwrap_err();
    assert!(err.to_string().contains("host kernel"), "{err}");
}

#[test]
fn auto_picks_quant_where_a_simd_kernel_runs_and_widths_that_do_not_fit_stay_f32() {
    for isa in Isa::available() {
        let mut t = TinyModel::new(3);
        t.dtype = ComputeDType::Auto;
        t.isa = isa;
        let m = t.build::<B>(&Default::default()).unwrap();
        assert_eq!(m.host_isa(), Some(isa));
        if isa == Isa::Scalar {
            // The portable quantized code is slower than f32: auto avoids it.
            assert_eq!(m.dtype(), ComputeDType::F32, "{isa}");
            assert!(m.projection_report().iter().all(|r| r.1 == "F32"));
        } else {
            assert_eq!(m.dtype(), ComputeDType::Quant, "{isa}");
            assert!(m.projection_report().iter().all(|r| r.1 == "Q8_0←F32"));
        }
    }
    let mut t = TinyModel::new(3);
    t.dtype = ComputeDType::Auto;
    assert_eq!(
        t.build::<B>(&Default::default()).unwrap().host_isa(),
        Some(Isa::detected()),
        "auto is the CPU's best set"
    );
    // 48 wide: not whole blocks of 32, so every projection keeps f32.
    let mut odd = TinyModel::new(3);
    odd.config.hidden_size = 48;
    odd.config.head_dim = 12;
    odd.dtype = ComputeDType::Quant;
    let m = odd.build::<B>(&Default::default()).unwrap();
    let labels: Vec<String> = m.projection_report().into_iter().map(|r| r.1).collect();
    assert!(labels.iter().any(|l| l == "F32"), "{labels:?}");
}
