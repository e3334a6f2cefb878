//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod golden;

pub type B = autojudge_models::backend::CpuBackend;

/// Workspace root: `AUTOJUDGE_ROOT` when set (a prebuilt test binary run from another
/// checkout, as `scripts/gpu-check.sh` does), else the source tree it was built from.
pub fn root() -> PathBuf {
    std::env::var_os("AUTOJUDGE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A committed fixture.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// The embedded SmolLM2 GGUF: `AUTOJUDGE_SMOLLM`, else the model cache that
/// `scripts/fetch-models.sh smollm` fills (`AUTOJUDGE_MODELS`, default
/// `~/.cache/autojudge/models`). A test that needs it fails with this instruction when it is
/// absent (the test command fetches it first), so a missing input never passes as a skip.
pub fn smollm_path() -> PathBuf {
    const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
    let candidates = [
        std::env::var_os("AUTOJUDGE_SMOLLM").map(PathBuf::from),
        std::env::var_os("AUTOJUDGE_MODELS").map(|d| PathBuf::from(d).join(FILE)),
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/autojudge/models").join(FILE)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{FILE} not found: run `scripts/fetch-models.sh smollm` or set AUTOJUDGE_SMOLLM")
        })
}

/// Logits of every token of `tokens`, fed to a fresh session in chunks of the sizes in
/// `chunks` (cycled; each clamped to what is left).
pub fn chunked_logits<Bk: burn::tensor::backend::Backend>(
    m: &autojudge_models::Llama<Bk>,
    tokens: &[autojudge_core::TokenId],
    chunks: &[usize],
) -> Vec<f32> {
    use autojudge_core::{ModelSession, Outputs, TargetModel};
    let mut s = m.new_session().unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    let mut c = chunks.iter().cycle();
    while i < tokens.len() {
        let n = (*c.next().unwrap()).clamp(1, tokens.len() - i);
        out.extend(
            s.extend(&tokens[i..i + n], Outputs::ALL_LOGITS)
                .unwrap()
                .logits,
        );
        i += n;
    }
    out
}

/// A unique scratch file path.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autojudge-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Models on the quantized host kernels (`--dtype quant`), one per kernel family and
/// instruction set this CPU runs (`--isa`), each labelled with the projection types it must
/// run as and its set (so a test cannot silently run another path): float weights
/// requantized to 8 bits, flat GGUF blocks (Q4_1 with Q8_0, rows of 32: half a chunk, padded)
/// and k-quant GGUF blocks (Q4_K with Q6_K, as in `*_K_M` files).
pub fn quantized_models() -> Vec<(String, autojudge_models::Llama<B>)> {
    use autojudge_models::gguf::{GgmlType, GgufFile};
    use autojudge_models::tiny::TinyModel;
    use autojudge_models::{load_gguf_file, ComputeDType, Isa, LoadOptions};
    let mut models = Vec::new();
    for isa in Isa::available() {
        let opts = LoadOptions {
            dtype: ComputeDType::Quant,
            isa,
            ..LoadOptions::default()
        };
        let from_gguf = |label: &str, bytes: Vec<u8>| {
            let g = GgufFile::from_bytes(label, bytes).unwrap();
            load_gguf_file::<B>(g, &opts, &Default::default())
                .unwrap()
                .model
                .with_initial_capacity(4)
        };
        let mut requant = TinyModel::new(5).with_bias();
        requant.dtype = ComputeDType::Quant;
        requant.isa = isa;
        for (types, m) in [
            (
                "Q8_0←F32",
                requant
                    .build::<B>(&Default::default())
                    .unwrap()
                    .with_initial_capacity(4),
            ),
            (
                "Q4_1+Q8_0",
                from_gguf(
                    "flat.gguf",
                    TinyModel::new(6).to_gguf_quantized(GgmlType::Q4_1, GgmlType::Q8_0),
                ),
            ),
            (
                "Q4_K+Q6_K",
                from_gguf(
                    "kquant.gguf",
                    TinyModel::wide(7).to_gguf_quantized(GgmlType::Q4_K, GgmlType::Q6_K),
                ),
            ),
        ] {
            let qkv = &m.projection_report()[1];
            assert_eq!(qkv.1, types, "{types}: qkv runs as {}", qkv.1);
            assert_eq!(m.host_isa(), Some(isa), "{types} on {isa}");
            models.push((format!("{types} on {isa}"), m));
        }
    }
    models
}
