//! Criterion benches of the engine: decode step, extend-k (k = 1, 4, 8, 16), a 128-token
//! prefill and a batched decode step of B = 1, 2, 4, 8 sessions (`extend_batch`; compare the
//! time per step across B: aggregate throughput is B / time), on a random model of
//! SmolLM2-135M's shape (always available; f32 and 8-bit requantized), and on the real SmolLM2
//! GGUF when `AUTOJUDGE_SMOLLM` (or ../shared/models) points to it (f32 and its own Q4_1 blocks
//! on the quantized kernels).

use std::path::PathBuf;

use autojudge::core::{BatchItem, ModelSession, Outputs, TargetModel, TokenId};
use autojudge::models::{
    backend::CpuBackend as B, load_model, tiny::TinyModel, ComputeDType, Llama, LoadOptions,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn smollm_shape(dtype: ComputeDType) -> Llama<B> {
    let mut t = TinyModel::with_shape_of(0, "smollm2-135m").expect("known shape");
    t.dtype = dtype;
    t.build::<B>(&Default::default()).expect("random model")
}

fn real_smollm(dtype: ComputeDType) -> Option<Llama<B>> {
    let p = std::env::var_os("AUTOJUDGE_SMOLLM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    let opts = LoadOptions {
        max_context: Some(2048),
        dtype,
        ..Default::default()
    };
    p.exists().then(|| {
        load_model::<B>(&p, &opts, &Default::default())
            .expect("load SmolLM2")
            .model
    })
}

fn bench_model(c: &mut Criterion, label: &str, model: &Llama<B>) {
    let prompt: Vec<TokenId> = (0..128u32).map(|i| 100 + (i * 7919) % 40_000).collect();
    let mut g = c.benchmark_group(label);
    g.sample_size(10);
    g.bench_function("prefill-128", |b| {
        b.iter(|| {
            let mut s = model.new_session().unwrap();
            s.extend(&prompt, Outputs::LAST_LOGITS).unwrap()
        })
    });
    let mut s = model.new_session().unwrap();
    s.extend(&prompt, Outputs::NONE).unwrap();
    let base = s.len();
    for k in [1usize, 4, 8, 16] {
        let window: Vec<TokenId> = prompt[..k].to_vec();
        g.bench_with_input(BenchmarkId::new("extend", k), &k, |b, _| {
            b.iter(|| {
                let out = s.extend(&window, Outputs::ALL_LOGITS).unwrap();
                s.truncate(base).unwrap();
                out
            })
        });
    }
    for b in [1usize, 2, 4, 8] {
        let mut sessions: Vec<_> = (0..b)
            .map(|i| {
                let mut s = model.new_session().unwrap();
                let mut p = prompt.clone();
                p.rotate_left(i * 7);
                s.extend(&p, Outputs::NONE).unwrap();
                s
            })
            .collect();
        let base = prompt.len();
        let next: Vec<[TokenId; 1]> = (0..b).map(|i| [prompt[i]]).collect();
        g.bench_with_input(BenchmarkId::new("batched-decode", b), &b, |bench, _| {
            bench.iter(|| {
                let mut items: Vec<_> = sessions
                    .iter_mut()
                    .zip(&next)
                    .map(|(session, t)| BatchItem {
                        session,
                        tokens: t,
                        outputs: Outputs::LAST_LOGITS,
                    })
                    .collect();
                let outs = model.extend_batch(&mut items);
                for s in sessions.iter_mut() {
                    s.truncate(base).unwrap();
                }
                outs
            })
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_model(c, "smollm2-shape-random", &smollm_shape(ComputeDType::F32));
    bench_model(
        c,
        "smollm2-shape-random-q8",
        &smollm_shape(ComputeDType::Quant),
    );
    if let Some(m) = real_smollm(ComputeDType::F32) {
        bench_model(c, "smollm2-135m-q4_1-gguf-f32", &m);
    }
    if let Some(m) = real_smollm(ComputeDType::Quant) {
        bench_model(c, "smollm2-135m-q4_1-gguf-quant", &m);
    }
}

criterion_group!(model_benches, benches);
criterion_main!(model_benches);
