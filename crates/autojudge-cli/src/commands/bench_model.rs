//! `autojudge bench-model`: prefill throughput, decode throughput, and the cost of extending
//! by k tokens relative to one decode step (the ratio speculative decoding lives on).

use std::time::Instant;

use autojudge_core::{ModelSession, Outputs, TargetModel, TokenId};
use autojudge_models::load_model;
use autojudge_models::tiny::TinyModel;
use burn::tensor::backend::Backend;
use clap::Args;

use crate::device::{peak_rss_mib, ModelArgs};
use crate::with_backend;

/// Arguments of `bench-model`.
#[derive(Args)]
pub struct BenchModelArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 128)]
    pub prefill: usize,
    /// Decode steps to time.
    #[arg(long, default_value_t = 32)]
    pub decode: usize,
    /// Window sizes k for the extend-k measurement.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8,16")]
    pub ks: Vec<usize>,
    /// Repetitions per k.
    #[arg(long, default_value_t = 8)]
    pub reps: usize,
    /// Instead of loading --model, build a random model with this shape: `llama-3.2-1b` or
    /// `smollm2-135m` (the file given by --model is then ignored).
    #[arg(long)]
    pub random_shape: Option<String>,
}

/// Runs `bench-model`.
pub fn run(a: BenchModelArgs) -> anyhow::Result<()> {
    with_backend!(a.model.device, |B, device| bench::<B>(&a, &device))
}

fn random_model<B: Backend>(
    shape: &str,
    a: &BenchModelArgs,
    device: &B::Device,
) -> anyhow::Result<autojudge_models::Llama<B>> {
    let mut t = TinyModel::with_shape_of(0, shape).ok_or_else(|| {
        anyhow::anyhow!("unknown --random-shape `{shape}` (llama-3.2-1b, smollm2-135m)")
    })?;
    t.dtype = a.model.dtype;
    t.kernel = a.model.kernel;
    Ok(t.build::<B>(device)?)
}

/// Median of timings (robust to the scheduling noise of a shared machine).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn bench<B: Backend>(a: &BenchModelArgs, device: &B::Device) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let model = match &a.random_shape {
        Some(shape) => random_model::<B>(shape, a, device)?,
        None => load_model::<B>(&a.model.model, &a.model.load_options(), device)?.model,
    };
    let model = model.draft_view(a.model.layers.clone())?;
    let info = model.info().clone();
    println!(
        "model {} ({} on {:?}, dtype {:?}) loaded in {:.2}s",
        info.name,
        B::name(device),
        a.model.device,
        a.model.dtype,
        t0.elapsed().as_secs_f64()
    );
    let vocab = info.vocab_size as u64;
    // Deterministic pseudo-random prompt tokens (avoid special ids at the low end).
    let tokens: Vec<TokenId> = (0..a.prefill as u64)
        .map(|i| (100 + (i * 2_654_435_761) % (vocab - 100)) as TokenId)
        .collect();
    let mut s = model.new_session()?;
    s.extend(&tokens[..8.min(tokens.len())], Outputs::LAST_LOGITS)?; // warm-up
    s.truncate(0)?;
    let t = Instant::now();
    let out = s.extend(&tokens, Outputs::LAST_LOGITS)?;
    let prefill_s = t.elapsed().as_secs_f64();
    println!(
        "prefill {} tokens: {:.3}s = {:.1} tok/s",
        a.prefill,
        prefill_s,
        a.prefill as f64 / prefill_s
    );
    let mut next = out.argmax_row(0);
    let mut steps = Vec::with_capacity(a.decode);
    for _ in 0..a.decode.max(1) {
        let t = Instant::now();
        next = s.extend(&[next], Outputs::LAST_LOGITS)?.argmax_row(0);
        steps.push(t.elapsed().as_secs_f64());
    }
    let decode_s = median(&mut steps);
    println!(
        "decode: {:.2} ms/token = {:.2} tok/s",
        decode_s * 1e3,
        1.0 / decode_s
    );
    let base = s.len();
    println!(
        "{:>4} {:>20} {:>12} {:>14}",
        "k", "ms/extend (median)", "x decode", "ms/token"
    );
    for &k in &a.ks {
        let window: Vec<TokenId> = tokens.iter().cycle().skip(k).take(k).copied().collect();
        s.extend(&window, Outputs::ALL_LOGITS)?;
        s.truncate(base)?;
        let mut reps = Vec::with_capacity(a.reps);
        for _ in 0..a.reps.max(1) {
            let t = Instant::now();
            s.extend(&window, Outputs::ALL_LOGITS)?;
            reps.push(t.elapsed().as_secs_f64());
            s.truncate(base)?;
        }
        let per = median(&mut reps);
        println!(
            "{:>4} {:>20.2} {:>12.2} {:>14.2}",
            k,
            per * 1e3,
            per / decode_s,
            per * 1e3 / k as f64
        );
    }
    if let Some(rss) = peak_rss_mib() {
        println!("peak RSS: {rss:.0} MiB");
    }
    Ok(())
}
