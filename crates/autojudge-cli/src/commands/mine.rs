//! `autojudge mine`: the semi-greedy search over a dataset into a resumable mined directory
//! (records JSONL + feature safetensors), with a progress bar; `--shard i/n` for job arrays.

use std::path::PathBuf;

use autojudge_core::TargetModel;
use autojudge_search::{
    run_mining, Algorithm, EosSwap, FeatureDType, MinedDir, SearchConfig, Shard,
};
use autojudge_tasks::Task;
use burn::tensor::backend::Backend;
use clap::Args;

use crate::device::ModelArgs;
use crate::draft_choice::ModelPair;
use crate::numeric_flag::{BLOCK, NEW_TOKENS, PROPOSALS};
use crate::output_guard::{check_outputs, draft_input, Output, OutputKind};
use crate::parallel_arg::{gib, ParallelArgs, SessionsPerWorker};
use crate::shared::mining::{check_windows, manifest, MiningBar, PROMPT_ALLOWANCE};
use crate::task_choice::{render_prompt, TaskArgs};
use crate::with_backend;

/// Arguments of `mine`.
#[derive(Args)]
pub struct MineArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Draft: a model path (same tokenizer) or a self-speculative view `self:exit:N` /
    /// `self:skip:A,B`. The embedded SmolLM2's default draft is `self:exit:24`.
    #[arg(long, default_value = "self:exit:24")]
    pub draft: String,
    #[command(flatten)]
    pub task: TaskArgs,
    /// Output (mined) directory; rerunning resumes it.
    #[arg(long)]
    pub out: PathBuf,
    /// This job's shard `i/n` of the selected prompts (dataset line % n == i).
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Maximum response length (default: the `--labels` preset's, 2,048 for `reference`).
    #[arg(long, value_parser = NEW_TOKENS.parser::<usize>())]
    pub max_new_tokens: Option<usize>,
    /// After testing a draft EOS: `stop` mining the prompt (the reference) or `continue` after
    /// an important one (default: the `--labels` preset's).
    #[arg(long)]
    pub eos_swap: Option<EosSwap>,
    /// `fast` (KV reuse, speculative regeneration) or `naive` (the reference's cost model).
    #[arg(long, default_value = "fast")]
    pub algorithm: Algorithm,
    /// Draft tokens proposed per target call where the new continuation left the old one
    /// (0 = none: prompt lookup instead; right when the draft costs nearly as much as the
    /// target, as a self-speculative view does).
    #[arg(long, default_value_t = 0, value_parser = PROPOSALS.parser::<usize>())]
    pub draft_proposals: usize,
    /// Largest draft window: it doubles from --draft-proposals after every proposal the target
    /// accepts whole (0 = a fixed window). Fewer target calls, more draft work.
    #[arg(long, default_value_t = 0, value_parser = PROPOSALS.parser::<usize>())]
    pub max_draft_proposals: usize,
    /// First block of old-continuation tokens a target call verifies (after a swap, and after
    /// the draft's tokens where they re-align); it doubles while accepted.
    #[arg(long, default_value_t = 8, value_parser = BLOCK.parser::<usize>())]
    pub min_block: usize,
    /// Largest such block. On a GPU, where verifying 128 tokens costs about one decode step,
    /// `--min-block 128 --max-block 128` minimizes target calls.
    #[arg(long, default_value_t = 64, value_parser = BLOCK.parser::<usize>())]
    pub max_block: usize,
    /// Feature storage precision.
    #[arg(long, default_value = "f16")]
    pub feature_dtype: FeatureDType,
    #[command(flatten)]
    pub parallel: ParallelArgs,
}

impl MineArgs {
    /// The constraints between flags (the usage error's message names them).
    pub fn check(&self) -> Result<(), String> {
        check_windows(
            (self.min_block, self.max_block),
            (self.draft_proposals, self.max_draft_proposals),
        )
    }
}

/// Runs `mine`.
pub fn run(a: MineArgs) -> anyhow::Result<()> {
    a.check().map_err(anyhow::Error::msg)?;
    let mut inputs = a.task.inputs();
    inputs.push(a.model.input());
    inputs.extend(draft_input(&a.draft));
    check_outputs(
        &[Output::new("--out", &a.out, OutputKind::MinedDir)],
        &inputs,
    )?;
    with_backend!(a.model.device, |B, device| mine::<B>(&a, &device))
}

fn mine<B: Backend>(a: &MineArgs, device: &B::Device) -> anyhow::Result<()> {
    // The dataset before any model: a bad `--data` fails at once.
    let tasks = a.task.tasks()?;
    // The oracle first: a code task refuses to start before any model loads when its
    // sandbox cannot be set up.
    let oracle = a.task.oracle()?;
    let pair = ModelPair::<B>::load(&a.model, &a.draft, &a.task, device)?;
    let search = SearchConfig {
        max_new_tokens: a.task.max_new_tokens(a.max_new_tokens),
        algorithm: a.algorithm,
        min_block: a.min_block,
        max_block: a.max_block,
        draft_proposals: a.draft_proposals,
        max_draft_proposals: a.max_draft_proposals,
        eos_swap: a.task.eos_swap(a.eos_swap),
    };
    let manifest = manifest(
        &a.task,
        &pair,
        oracle.as_ref(),
        search.clone(),
        a.feature_dtype,
        a.shard,
        &tasks,
    );
    let kv = a.parallel.check_memory(
        &pair.target,
        &pair.draft,
        search.max_new_tokens + PROMPT_ALLOWANCE,
        SessionsPerWorker::MINING,
    )?;
    // A directory kept as records only (feature files are derived data) gets its features
    // back from its records before it resumes, instead of having its prompts mined again.
    let restored = crate::commands::refeature::restore_missing(
        &pair,
        &a.out,
        &manifest.prompt_format,
        &a.task.all_tasks()?,
    )?;
    if restored > 0 {
        eprintln!(
            "{}: recomputed {restored} prompts' feature files from their records",
            a.out.display()
        );
    }
    let mut dir = MinedDir::create_or_resume(&a.out, manifest)?;
    for d in dir.remining() {
        eprintln!(
            "{}: features of prompt {}: {}; its record was withdrawn and the prompt is mined again",
            d.path.display(),
            d.index,
            d.damage
        );
    }
    let mine_tasks: Vec<_> = tasks
        .into_iter()
        .filter(|line| a.shard.contains(line.index()))
        .collect();
    let done = mine_tasks
        .iter()
        .filter(|line| dir.records.contains_key(&line.index()))
        .count();
    eprintln!(
        "mining {} prompts (shard {}, {} already done) into {}: target {}, draft {}, {} at once{}",
        mine_tasks.len(),
        a.shard,
        done,
        a.out.display(),
        pair.target.info().name,
        pair.draft.info().name,
        a.parallel.workers(),
        kv.map_or(String::new(), |b| format!(
            " (KV caches up to {:.2} GiB)",
            gib(b)
        ))
    );
    let bar = MiningBar::new(mine_tasks.len(), done)?;
    let render = |t: &Task| render_prompt(pair.template.as_ref(), &pair.tokenizer, t);
    let totals = run_mining(
        &mut dir,
        &pair.search_models(oracle.as_ref()),
        &search,
        mine_tasks,
        &render,
        a.parallel.workers(),
        &mut |p| bar.show(p),
    )?;
    bar.finish(&totals);
    Ok(())
}
