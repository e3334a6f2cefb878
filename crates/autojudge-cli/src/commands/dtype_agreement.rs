//! `autojudge dtype-agreement`: greedy outputs of one model under two projection dtypes on the
//! same GSM8K prompts: how many outputs change, and from which position (the price of a
//! faster dtype, measured rather than assumed).

use std::path::PathBuf;
use std::time::Instant;

use autojudge_core::{TargetModel, TokenId};
use autojudge_decode::{generate_target_only, DecodeConfig, Hooks};
use autojudge_models::{load_model, ComputeDType, LoadOptions};
use burn::tensor::backend::Backend;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::ModelArgs;
use crate::numeric_flag::{NEW_TOKENS, PROMPTS};
use crate::output_guard::{check_outputs, Input, Output, OutputKind};
use crate::shared::gsm8k_questions::{gsm8k_prompt_ids, read_questions};
use crate::with_backend;

/// Arguments of `dtype-agreement`.
#[derive(Args)]
pub struct DtypeAgreementArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The reference dtype (`--dtype` is the one compared with it).
    #[arg(long, default_value = "f32")]
    pub reference: ComputeDType,
    /// GSM8K JSONL (question field).
    #[arg(
        long,
        env = "AUTOJUDGE_GSM8K_TEST",
        default_value = "data/gsm8k/test.jsonl"
    )]
    pub data: PathBuf,
    /// Number of questions (from the start of the file).
    #[arg(long, default_value_t = 20, value_parser = PROMPTS.parser::<usize>())]
    pub prompts: usize,
    /// Greedy tokens per prompt.
    #[arg(long, default_value_t = 64, value_parser = NEW_TOKENS.parser::<usize>())]
    pub max_new_tokens: usize,
    /// Write the per-prompt results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One prompt's outputs under both dtypes.
#[derive(serde::Serialize)]
struct PromptAgreement {
    prompt: usize,
    reference_tokens: usize,
    tokens: usize,
    /// First position where the outputs differ; `None` when identical.
    first_difference: Option<usize>,
    /// The prompt's token ids (chat template applied).
    prompt_ids: Vec<TokenId>,
    /// The reference dtype's output.
    reference_output: Vec<TokenId>,
    /// The compared dtype's output.
    output: Vec<TokenId>,
}

/// Runs `dtype-agreement`.
pub fn run(a: DtypeAgreementArgs) -> anyhow::Result<()> {
    if let Some(json) = &a.json {
        let inputs = [
            a.model.input(),
            Input {
                flag: "--data",
                path: &a.data,
            },
        ];
        check_outputs(&[Output::new("--json", json, OutputKind::File)], &inputs)?;
    }
    with_backend!(a.model.device, |B, device| compare::<B>(&a, &device))
}

fn compare<B: Backend>(a: &DtypeAgreementArgs, device: &B::Device) -> anyhow::Result<()> {
    // The questions before any model: a bad `--data` fails at once.
    let questions = read_questions(&a.data, 0, a.prompts)?;
    let opts = a.model.load_options();
    let reference_opts = LoadOptions {
        dtype: a.reference,
        ..opts.clone()
    };
    let loaded = load_model::<B>(&a.model.model, &opts, device)?;
    let reference = load_model::<B>(&a.model.model, &reference_opts, device)?.model;
    let template = loaded
        .chat_template
        .clone()
        .ok_or_else(|| anyhow::anyhow!("{} has no chat template", a.model.model.display()))?;
    let prompts = gsm8k_prompt_ids(&questions, &template, &loaded.tokenizer)?;
    let (ours, theirs) = (loaded.model.dtype(), reference.dtype());
    let bar = ProgressBar::new(prompts.len() as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} prompts, {elapsed} elapsed, ETA {eta} {msg}",
    )?);
    let cfg = DecodeConfig::greedy(1, a.max_new_tokens);
    let (mut secs, mut reference_secs, mut tokens, mut reference_tokens) = (0.0, 0.0, 0, 0);
    let mut rows = Vec::with_capacity(prompts.len());
    for (i, prompt) in prompts.iter().enumerate() {
        let t = Instant::now();
        let want = generate_target_only(
            &mut reference.new_session()?,
            prompt,
            &cfg,
            Hooks::default(),
        )?;
        reference_secs += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let got = generate_target_only(
            &mut loaded.model.new_session()?,
            prompt,
            &cfg,
            Hooks::default(),
        )?;
        secs += t.elapsed().as_secs_f64();
        tokens += got.tokens.len();
        reference_tokens += want.tokens.len();
        bar.set_message(format!(
            "{} identical",
            rows.iter()
                .filter(|r: &&PromptAgreement| r.first_difference.is_none())
                .count()
        ));
        let first_difference = (got.tokens != want.tokens).then(|| {
            got.tokens
                .iter()
                .zip(&want.tokens)
                .take_while(|(x, y)| x == y)
                .count()
        });
        rows.push(PromptAgreement {
            prompt: i,
            reference_tokens: want.tokens.len(),
            tokens: got.tokens.len(),
            first_difference,
            prompt_ids: prompt.clone(),
            reference_output: want.tokens,
            output: got.tokens,
        });
        bar.inc(1);
    }
    bar.finish();
    println!(
        "\n{} ({ours}) against {theirs}: {} GSM8K prompts of {}, greedy, max {} new tokens",
        reference.info().name,
        prompts.len(),
        a.data.display(),
        a.max_new_tokens
    );
    println!("| prompt | {theirs} tokens | {ours} tokens | first difference |");
    println!("| --- | --- | --- | --- |");
    for r in &rows {
        let diff = r
            .first_difference
            .map_or("identical".into(), |p| format!("token {p}"));
        println!(
            "| {} | {} | {} | {diff} |",
            r.prompt, r.reference_tokens, r.tokens
        );
    }
    let mut changed: Vec<usize> = rows.iter().filter_map(|r| r.first_difference).collect();
    changed.sort_unstable();
    println!(
        "\nidentical: {}/{}; changed outputs first differ at tokens {:?}",
        rows.len() - changed.len(),
        rows.len(),
        changed
    );
    println!(
        "greedy decoding: {theirs} {:.2} tok/s, {ours} {:.2} tok/s (prefill included)",
        reference_tokens as f64 / reference_secs,
        tokens as f64 / secs
    );
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .map_err(|e| anyhow::anyhow!("--json {}: {e}", path.display()))?;
    }
    Ok(())
}
