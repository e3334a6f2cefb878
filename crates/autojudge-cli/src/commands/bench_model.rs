//! `autojudge bench-model`: prefill throughput, decode throughput, and the cost of extending
//! by k tokens relative to one decode step (the ratio speculative decoding lives on).

use std::time::Instant;

use autojudge_core::{BatchItem, ModelSession, Outputs, TargetModel, TokenId};
use autojudge_models::load_model;
use burn::tensor::backend::Backend;
use clap::Args;

use crate::device::{peak_rss_mib, reset_peak_rss, ModelArgs};
use crate::numeric_flag::{BATCH, PREFILL, STEPS, WINDOW};
use crate::with_backend;

/// Arguments of `bench-model`.
#[derive(Args)]
pub struct BenchModelArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 128, value_parser = PREFILL.parser::<usize>())]
    pub prefill: usize,
    /// Decode steps to time.
    #[arg(long, default_value_t = 32, value_parser = STEPS.parser::<usize>())]
    pub decode: usize,
    /// Window sizes k for the extend-k measurement.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,4,8,16",
        value_parser = WINDOW.parser::<usize>()
    )]
    pub ks: Vec<usize>,
    /// Repetitions per k.
    #[arg(long, default_value_t = 8, value_parser = STEPS.parser::<usize>())]
    pub reps: usize,
    /// Batch sizes B: for each, B sequences of --prefill tokens decode together (one batched
    /// forward per step) and then each verify --batch-k tokens together; prints aggregate
    /// tokens/s against the first size and the peak RSS of each size.
    #[arg(long, value_delimiter = ',', value_parser = BATCH.parser::<usize>())]
    pub batch: Vec<usize>,
    /// Also measure the memory bandwidth (STREAM triad on the kernels' threads) and report the
    /// decode step as a fraction of it: bytes the projections stream per step ÷ step time ÷
    /// bandwidth (decoding's ceiling).
    #[arg(long)]
    pub bandwidth: bool,
    /// Tokens each sequence verifies in the batched extend-k measurement.
    #[arg(long, default_value_t = 8, value_parser = WINDOW.parser::<usize>())]
    pub batch_k: usize,
    /// Instead of loading --model, build a random model with this shape: `llama-3.2-1b` or
    /// `smollm2-135m` (the file given by --model is then ignored). Only in a binary built with
    /// `--features random-models`.
    #[cfg(feature = "random-models")]
    #[arg(long)]
    pub random_shape: Option<String>,
}

/// Runs `bench-model`.
pub fn run(a: BenchModelArgs) -> anyhow::Result<()> {
    with_backend!(a.model.device, |B, device| bench::<B>(&a, &device))
}

#[cfg(feature = "random-models")]
fn random_model<B: Backend>(
    shape: &str,
    a: &BenchModelArgs,
    device: &B::Device,
) -> anyhow::Result<autojudge_models::Llama<B>> {
    let mut t = autojudge_models::tiny::TinyModel::with_shape_of(0, shape).ok_or_else(|| {
        anyhow::anyhow!("unknown --random-shape `{shape}` (llama-3.2-1b, smollm2-135m)")
    })?;
    t.dtype = a.model.dtype;
    t.kernel = a.model.kernel;
    t.isa = a.model.isa;
    Ok(t.build::<B>(device)?)
}

/// Prints what the projections run as: per kind, how many and how many bytes they stream;
/// returns the bytes one forward streams.
fn print_projections<B: Backend>(model: &autojudge_models::Llama<B>) -> usize {
    let mut kinds: Vec<(String, usize, usize)> = Vec::new();
    let report = model.projection_report();
    // The embedding is read one row per token; everything else streams whole per forward.
    for (_, label, bytes) in report.iter().filter(|(n, ..)| n != "token_embd") {
        match kinds.iter_mut().find(|k| &k.0 == label) {
            Some(k) => {
                k.1 += 1;
                k.2 += bytes;
            }
            None => kinds.push((label.clone(), 1, *bytes)),
        }
    }
    let total: usize = kinds.iter().map(|k| k.2).sum();
    let parts: Vec<String> = kinds
        .iter()
        .map(|(l, n, b)| format!("{l} ×{n} ({:.1} MiB)", *b as f64 / (1 << 20) as f64))
        .collect();
    let embed = report
        .iter()
        .find(|r| r.0 == "token_embd")
        .map(|r| r.1.clone());
    let kernels = match model.host_isa() {
        Some(isa) => format!("host kernels on {isa}"),
        None => "device kernels".into(),
    };
    println!(
        "projections ({}, {kernels}): {} = {:.1} MiB streamed per forward; token_embd rows {}",
        model.dtype(),
        parts.join(", "),
        total as f64 / (1 << 20) as f64,
        embed.unwrap_or_default()
    );
    total
}

/// Prefills timed (their median is reported).
const PREFILL_REPS: usize = 3;

/// Median of timings (robust to the scheduling noise of a shared machine).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn bench<B: Backend>(a: &BenchModelArgs, device: &B::Device) -> anyhow::Result<()> {
    let t0 = Instant::now();
    #[cfg(feature = "random-models")]
    let model = match &a.random_shape {
        Some(shape) => random_model::<B>(shape, a, device)?,
        None => load_model::<B>(&a.model.model, &a.model.load_options(), device)?.model,
    };
    #[cfg(not(feature = "random-models"))]
    let model = load_model::<B>(&a.model.model, &a.model.load_options(), device)?.model;
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
    let streamed = print_projections(&model);
    let vocab = info.vocab_size as u64;
    // Deterministic pseudo-random prompt tokens (avoid special ids at the low end).
    let tokens: Vec<TokenId> = (0..a.prefill as u64)
        .map(|i| (100 + (i * 2_654_435_761) % (vocab - 100)) as TokenId)
        .collect();
    let mut s = model.new_session()?;
    s.extend(&tokens[..8.min(tokens.len())], Outputs::LAST_LOGITS)?; // warm-up
                                                                     // The median of three prefills: a single one varies by 20% between runs here.
    let mut prefills = Vec::with_capacity(PREFILL_REPS);
    let mut out = None;
    for _ in 0..PREFILL_REPS {
        s.truncate(0)?;
        let t = Instant::now();
        out = Some(s.extend(&tokens, Outputs::LAST_LOGITS)?);
        prefills.push(t.elapsed().as_secs_f64());
    }
    let out = out.expect("at least one prefill");
    let prefill_s = median(&mut prefills);
    println!(
        "prefill {} tokens: {:.3}s = {:.1} tok/s (median of {PREFILL_REPS})",
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
    if a.bandwidth {
        let bw = crate::memory_bandwidth::triad(crate::memory_bandwidth::kernel_threads());
        let step = streamed as f64 / decode_s;
        println!(
            "memory bandwidth (STREAM triad, {} threads): {:.2} GB/s; the decode step streams \
             {:.1} MiB of weights = {:.2} GB/s = {:.1}% of it",
            bw.threads,
            bw.bytes_per_s / 1e9,
            streamed as f64 / (1 << 20) as f64,
            step / 1e9,
            100.0 * step / bw.bytes_per_s
        );
    }
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
    if !a.batch.is_empty() {
        drop(s);
        bench_batches(&model, &tokens, a)?;
    }
    Ok(())
}

/// Aggregate throughput of B sequences stepping together, for every B of `--batch`.
fn bench_batches<M: TargetModel>(
    model: &M,
    tokens: &[TokenId],
    a: &BenchModelArgs,
) -> anyhow::Result<()> {
    if let Some(&bad) = a.batch.iter().find(|&&b| b == 0) {
        anyhow::bail!("--batch {bad}: batch sizes must be at least 1");
    }
    let k = a.batch_k.max(1);
    let positions = a.prefill + a.decode.max(1) + k;
    if positions > model.info().max_context {
        anyhow::bail!(
            "--prefill {} + --decode {} + --batch-k {k} = {positions} positions exceed the \
             model's context of {}",
            a.prefill,
            a.decode,
            model.info().max_context
        );
    }
    println!(
        "{:>5} {:>14} {:>12} {:>10} {:>16} {:>12} {:>10} {:>14}",
        "batch",
        "ms/step",
        "tok/s",
        format!("x B={}", a.batch[0]),
        format!("ms/verify-{k}"),
        "tok/s",
        format!("x B={}", a.batch[0]),
        "peak RSS MiB"
    );
    let mut base: Option<(f64, f64)> = None;
    for &b in &a.batch {
        reset_peak_rss();
        // B sequences with distinct prompts (a rotation of the benchmark prompt).
        let mut sessions = Vec::with_capacity(b);
        let mut next = Vec::with_capacity(b);
        for i in 0..b {
            let mut s = model.new_session()?;
            let prompt: Vec<TokenId> = tokens
                .iter()
                .cycle()
                .skip(i * 7)
                .take(tokens.len())
                .copied()
                .collect();
            next.push(s.extend(&prompt, Outputs::LAST_LOGITS)?.argmax_row(0));
            sessions.push(s);
        }
        let step = |sessions: &mut [M::Session], toks: &[Vec<TokenId>], outputs: Outputs| {
            let mut items: Vec<BatchItem<'_, M::Session>> = sessions
                .iter_mut()
                .zip(toks)
                .map(|(session, t)| BatchItem {
                    session,
                    tokens: t,
                    outputs,
                })
                .collect();
            model
                .extend_batch(&mut items)
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        };
        let mut steps = Vec::with_capacity(a.decode);
        for _ in 0..a.decode.max(1) {
            let toks: Vec<Vec<TokenId>> = next.iter().map(|&t| vec![t]).collect();
            let t = Instant::now();
            let outs = step(&mut sessions, &toks, Outputs::LAST_LOGITS)?;
            steps.push(t.elapsed().as_secs_f64());
            next = outs.iter().map(|o| o.argmax_row(0)).collect();
        }
        let per_step = median(&mut steps);
        let lens: Vec<usize> = sessions.iter().map(|s| s.len()).collect();
        let window: Vec<Vec<TokenId>> = (0..b)
            .map(|i| tokens.iter().cycle().skip(i + k).take(k).copied().collect())
            .collect();
        let mut reps = Vec::with_capacity(a.reps);
        for _ in 0..a.reps.max(1) {
            let t = Instant::now();
            step(&mut sessions, &window, Outputs::ALL_LOGITS)?;
            reps.push(t.elapsed().as_secs_f64());
            for (s, &n) in sessions.iter_mut().zip(&lens) {
                s.truncate(n)?;
            }
        }
        let per_verify = median(&mut reps);
        let (decode_tps, verify_tps) = (b as f64 / per_step, (b * k) as f64 / per_verify);
        let (d1, v1) = *base.get_or_insert((decode_tps, verify_tps));
        println!(
            "{:>5} {:>14.2} {:>12.1} {:>10.2} {:>16.2} {:>12.1} {:>10.2} {:>14}",
            b,
            per_step * 1e3,
            decode_tps,
            decode_tps / d1,
            per_verify * 1e3,
            verify_tps,
            verify_tps / v1,
            peak_rss_mib().map_or("?".into(), |r| format!("{r:.0}"))
        );
    }
    Ok(())
}
