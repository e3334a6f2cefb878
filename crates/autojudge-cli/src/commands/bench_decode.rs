//! `autojudge bench-decode`: target-only vs speculative decoding on GSM8K prompts, greedy, all
//! in one run: accepted tokens per cycle, target calls per token, tok/s, speed-up, and whether
//! every output is identical to target-only.

use std::path::PathBuf;
use std::time::Duration;

use autojudge_core::TargetModel;
use autojudge_decode::{generate_target_only, DecodeConfig, DecodeStats, Hooks};
use autojudge_models::{load_model, LoadedModel};
use burn::tensor::backend::Backend;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::ModelArgs;
use crate::draft_choice::DraftChoice;
use crate::numeric_flag::{NEW_TOKENS, PROMPTS, SKIP, WINDOW};
use crate::output_guard::{check_outputs, draft_input, Input, Output, OutputKind};
use crate::shared::gsm8k_questions::{gsm8k_prompt_ids, read_questions};
use crate::with_backend;

/// Arguments of `bench-decode`.
#[derive(Args)]
pub struct BenchDecodeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Drafts to compare: a GGUF/HF path, `self:exit:N`, `self:skip:A,B` or `ngram`.
    #[arg(long = "draft", required = true)]
    pub drafts: Vec<String>,
    /// Window sizes k.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "4,8",
        value_parser = WINDOW.parser::<usize>()
    )]
    pub ks: Vec<usize>,
    /// GSM8K JSONL (question/answer fields).
    #[arg(
        long,
        env = "AUTOJUDGE_GSM8K_TEST",
        default_value = "data/gsm8k/test.jsonl"
    )]
    pub data: PathBuf,
    /// Number of questions.
    #[arg(long, default_value_t = 50, value_parser = PROMPTS.parser::<usize>())]
    pub prompts: usize,
    /// Questions to skip from the start of the file (to split a long run).
    #[arg(long, default_value_t = 0, value_parser = SKIP.parser::<usize>())]
    pub skip: usize,
    /// Maximum new tokens.
    #[arg(long, default_value_t = 256, value_parser = NEW_TOKENS.parser::<usize>())]
    pub max_new_tokens: usize,
    /// Write the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs `bench-decode`.
pub fn run(a: BenchDecodeArgs) -> anyhow::Result<()> {
    let mut inputs = vec![
        a.model.input(),
        Input {
            flag: "--data",
            path: &a.data,
        },
    ];
    inputs.extend(a.drafts.iter().filter_map(|d| draft_input(d)));
    if let Some(json) = &a.json {
        check_outputs(&[Output::new("--json", json, OutputKind::File)], &inputs)?;
    }
    with_backend!(a.model.device, |B, device| bench::<B>(&a, &device))
}

#[derive(Default, serde::Serialize)]
struct Row {
    draft: String,
    k: usize,
    stats: DecodeStats,
    identical: usize,
    prompts: usize,
}

fn bench<B: Backend>(a: &BenchDecodeArgs, device: &B::Device) -> anyhow::Result<()> {
    // The questions before any model: a bad `--data` fails at once.
    let questions = read_questions(&a.data, a.skip, a.prompts)?;
    let LoadedModel {
        model: target,
        tokenizer,
        chat_template,
    } = load_model::<B>(&a.model.model, &a.model.load_options(), device)?;
    let template = chat_template
        .ok_or_else(|| anyhow::anyhow!("{} has no chat template", a.model.model.display()))?;
    let drafts: Vec<(String, DraftChoice<B>)> = a
        .drafts
        .iter()
        .map(|d| {
            Ok((
                d.clone(),
                DraftChoice::parse(d, &target, &a.model.load_options(), device)?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let prompts = gsm8k_prompt_ids(&questions, &template, &tokenizer)?;
    let mut base = Row {
        draft: "target-only".into(),
        ..Row::default()
    };
    let mut rows: Vec<Row> = drafts
        .iter()
        .flat_map(|(n, _)| {
            a.ks.iter().map(move |&k| Row {
                draft: n.clone(),
                k,
                ..Row::default()
            })
        })
        .collect();
    let bar = ProgressBar::new(prompts.len() as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} prompts, {elapsed} elapsed, ETA {eta} {msg}",
    )?);
    for prompt in &prompts {
        let cfg = DecodeConfig::greedy(1, a.max_new_tokens);
        let want =
            generate_target_only(&mut target.new_session()?, prompt, &cfg, Hooks::default())?;
        base.stats.merge(&want.stats);
        base.prompts += 1;
        base.identical += 1;
        let mut ri = 0;
        for (_, kind) in &drafts {
            for &k in &a.ks {
                let cfg = DecodeConfig::greedy(k, a.max_new_tokens);
                let g = kind.generate(&target, prompt, &cfg, Hooks::default())?;
                let row = &mut rows[ri];
                row.stats.merge(&g.stats);
                row.prompts += 1;
                row.identical += usize::from(g.tokens == want.tokens);
                ri += 1;
            }
        }
        bar.inc(1);
        bar.set_message(format!(
            "target-only {:.1} tok/s",
            base.stats.tokens_per_second()
        ));
    }
    bar.finish();
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "\n{} prompts of {} (from #{}), greedy, max {} new tokens, target {}",
        prompts.len(),
        a.data.display(),
        a.skip,
        a.max_new_tokens,
        target.info().name
    );
    println!("| draft | k | accepted/cycle | tokens/target call | target calls/token | tok/s | speed-up | draft s | target s | identical |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let base_tps = base.stats.tokens_per_second();
    for r in std::iter::once(&base).chain(rows.iter()) {
        let s = &r.stats;
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.3} | {:.2} | {:.2}x | {:.1} | {:.1} | {}/{} |",
            r.draft,
            if r.k == 0 {
                "-".into()
            } else {
                r.k.to_string()
            },
            s.mean_accepted(),
            s.tokens_per_target_call(),
            s.target_calls_per_token(),
            s.tokens_per_second(),
            s.tokens_per_second() / base_tps,
            secs(s.draft_time),
            secs(s.target_time),
            r.identical,
            r.prompts
        );
    }
    if let Some(path) = &a.json {
        let all: Vec<&Row> = std::iter::once(&base).chain(rows.iter()).collect();
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .map_err(|e| anyhow::anyhow!("--json {}: {e}", path.display()))?;
    }
    Ok(())
}
