//! `autojudge draft-sweep`: picks a self-speculative draft by measurement. For each layer plan,
//! the teacher-forced agreement of the draft view's argmax with the target's greedy response
//! on GSM8K prompts, and its forward cost relative to the full model.

use std::time::Instant;

use autojudge_core::{ModelSession, Outputs, TargetModel, TokenId};
use autojudge_decode::{generate_target_only, DecodeConfig, Hooks};
use autojudge_models::{load_model, LayerPlan, LoadedModel};
use burn::tensor::backend::Backend;
use clap::Args;

use crate::device::ModelArgs;
use crate::numeric_flag::{NEW_TOKENS, PROMPTS};
use crate::shared::gsm8k_questions::{gsm8k_prompt_ids, read_questions};
use crate::with_backend;

/// Arguments of `draft-sweep`.
#[derive(Args)]
pub struct DraftSweepArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Layer plans to measure (repeatable): exit:N or skip:A,B.
    #[arg(long = "plan", required = true)]
    pub plans: Vec<LayerPlan>,
    /// GSM8K JSONL.
    #[arg(
        long,
        env = "AUTOJUDGE_GSM8K_TEST",
        default_value = "data/gsm8k/test.jsonl"
    )]
    pub data: std::path::PathBuf,
    /// Number of questions.
    #[arg(long, default_value_t = 10, value_parser = PROMPTS.parser::<usize>())]
    pub prompts: usize,
    /// Response length (greedy target tokens) per prompt.
    #[arg(long, default_value_t = 128, value_parser = NEW_TOKENS.parser::<usize>())]
    pub max_new_tokens: usize,
}

/// Runs `draft-sweep`.
pub fn run(a: DraftSweepArgs) -> anyhow::Result<()> {
    with_backend!(a.model.device, |B, device| sweep::<B>(&a, &device))
}

fn sweep<B: Backend>(a: &DraftSweepArgs, device: &B::Device) -> anyhow::Result<()> {
    // The questions before any model: a bad `--data` fails at once.
    let questions = read_questions(&a.data, 0, a.prompts)?;
    let LoadedModel {
        model,
        tokenizer,
        chat_template,
    } = load_model::<B>(&a.model.model, &a.model.load_options(), device)?;
    let template = chat_template
        .ok_or_else(|| anyhow::anyhow!("{} has no chat template", a.model.model.display()))?;
    // Target greedy responses, then teacher-forced scoring of prompt + response.
    let mut seqs: Vec<(usize, Vec<TokenId>)> = Vec::new();
    for prompt in gsm8k_prompt_ids(&questions, &template, &tokenizer)? {
        let g = generate_target_only(
            &mut model.new_session()?,
            &prompt,
            &DecodeConfig::greedy(1, a.max_new_tokens),
            Hooks::default(),
        )?;
        let mut seq = prompt.clone();
        seq.extend_from_slice(&g.tokens);
        seqs.push((prompt.len(), seq));
    }
    let score = |m: &autojudge_models::Llama<B>| -> anyhow::Result<(Vec<Vec<TokenId>>, f64)> {
        let mut out = Vec::new();
        let t = Instant::now();
        for (_, seq) in &seqs {
            out.push(
                m.new_session()?
                    .extend(seq, Outputs::ALL_LOGITS)?
                    .argmax_rows(),
            );
        }
        Ok((out, t.elapsed().as_secs_f64()))
    };
    let (full, full_s) = score(&model)?;
    println!(
        "{} prompts, {} response positions scored; target pass {:.1}s",
        seqs.len(),
        seqs.iter().map(|(p, s)| s.len() - p).sum::<usize>(),
        full_s
    );
    println!("| plan | layers | agreement | cost vs target | expected accepted/cycle k=4 | k=8 |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for plan in &a.plans {
        let view = model.draft_view(plan.clone())?;
        let (draft, s) = score(&view)?;
        let (mut agree, mut n) = (0usize, 0usize);
        for ((p, seq), (d, f)) in seqs.iter().zip(draft.iter().zip(&full)) {
            // Row i predicts token i+1; response tokens are seq[p..].
            for i in p - 1..seq.len() - 1 {
                agree += usize::from(d[i] == f[i]);
                n += 1;
            }
        }
        let rate = agree as f64 / n.max(1) as f64;
        let expected = |k: i32| (1..=k).map(|i| rate.powi(i)).sum::<f64>();
        println!(
            "| {} | {} | {:.3} | {:.2} | {:.2} | {:.2} |",
            plan.label(),
            plan.layers(model.config().num_layers)?.len(),
            rate,
            s / full_s,
            expected(4),
            expected(8)
        );
    }
    Ok(())
}
