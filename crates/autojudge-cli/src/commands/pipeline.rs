//! `autojudge pipeline` (and `examples/gsm8k_eval`): mine on the train split (or reuse a
//! mined directory), train the DT and DD-DT judges, evaluate every method on the test split.
//! Each step resumes: a rerun skips finished prompts, and judges are retrained only when
//! missing.

use std::path::PathBuf;

use clap::Args;

use super::eval::EvalArgs;
use super::mine::MineArgs;
use super::train::{FeatureFlag, TrainArgs, WeightFlag};
use crate::device::ModelArgs;
use crate::list_arg::ListArg;
use crate::task_choice::{PromptFormat, TaskArgs, TaskKind};

/// Arguments of `pipeline`.
#[derive(Args, Clone)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Draft: a model path or `self:PLAN`.
    #[arg(long, default_value = "self:exit:24")]
    pub draft: String,
    /// Benchmark.
    #[arg(long, value_enum, default_value = "gsm8k")]
    pub task: TaskKind,
    /// Training split (mined).
    #[arg(
        long,
        env = "AUTOJUDGE_GSM8K_TRAIN",
        default_value = "data/gsm8k/train.jsonl"
    )]
    pub train_data: PathBuf,
    /// Test split (evaluated).
    #[arg(
        long,
        env = "AUTOJUDGE_GSM8K_TEST",
        default_value = "data/gsm8k/test.jsonl"
    )]
    pub test_data: PathBuf,
    /// Prompts to mine.
    #[arg(long, default_value_t = 100)]
    pub mine_prompts: usize,
    /// Training-split lines skipped before mining.
    #[arg(long, default_value_t = 0)]
    pub train_skip: usize,
    /// Test prompts to evaluate.
    #[arg(long, default_value_t = 30)]
    pub eval_prompts: usize,
    /// Test-split lines skipped before evaluating (one file can serve both splits, e.g.
    /// HumanEval: mine lines 0..100 and evaluate from `--test-skip 100`).
    #[arg(long, default_value_t = 0)]
    pub test_skip: usize,
    /// Reuse this mined directory instead of `<out>/mined`.
    #[arg(long)]
    pub mined: Option<PathBuf>,
    /// Results root: `mined/`, `judges/`, `eval/`.
    #[arg(long)]
    pub out: PathBuf,
    /// Maximum new tokens (mining and evaluation).
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Draft window k for evaluation.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Draft tokens per target call in mining regenerations (0 = none).
    #[arg(long, default_value_t = 0)]
    pub draft_proposals: usize,
    /// Largest draft window in mining regenerations (0 = fixed at --draft-proposals).
    #[arg(long, default_value_t = 0)]
    pub max_draft_proposals: usize,
    /// Top-k baselines evaluated (`none` for none).
    #[arg(long, default_value = "2,4,8")]
    pub topk: ListArg<usize>,
    /// Target-probability thresholds evaluated (`none` for none).
    #[arg(long, default_value = "0.5,0.3,0.1")]
    pub prob: ListArg<f32>,
    /// Threshold-table quantiles swept per judge, plus its chosen threshold (`none`: only that).
    #[arg(long, default_value = "0.3,0.5,0.7,0.9")]
    pub judge_quantiles: ListArg<f64>,
    /// GSM8K answer fallbacks.
    #[arg(long, value_delimiter = ',', default_value = "boxed,last-number")]
    pub gsm8k_fallback: Vec<String>,
}

/// Refuses to evaluate on lines that were mined (the same file with overlapping ranges).
fn check_splits_disjoint(a: &PipelineArgs) -> anyhow::Result<()> {
    let same_file = autojudge_eval::same_path(&a.train_data, &a.test_data);
    let train = a.train_skip..a.train_skip + a.mine_prompts;
    let test = a.test_skip..a.test_skip + a.eval_prompts;
    if a.mined.is_none() && same_file && train.start < test.end && test.start < train.end {
        anyhow::bail!(
            "--train-data and --test-data are the same file ({}) and the mined lines {train:?} \
             overlap the evaluated lines {test:?}; set --test-skip past the mined lines",
            a.test_data.display()
        );
    }
    Ok(())
}

/// Runs the pipeline.
pub fn run(a: PipelineArgs) -> anyhow::Result<()> {
    check_splits_disjoint(&a)?;
    let task = |data: &PathBuf, skip: usize, prompts: usize| TaskArgs {
        task: a.task,
        data: data.clone(),
        skip,
        prompts,
        gsm8k_fallback: a.gsm8k_fallback.clone(),
        code_timeout: 10.0,
        prompt_format: PromptFormat::Auto,
    };
    let mined = a.mined.clone().unwrap_or_else(|| a.out.join("mined"));
    if a.mined.is_none() {
        eprintln!(
            "== 1/3 mining {} prompts of {}",
            a.mine_prompts,
            a.train_data.display()
        );
        super::mine::run(MineArgs {
            model: a.model.clone(),
            draft: a.draft.clone(),
            task: task(&a.train_data, a.train_skip, a.mine_prompts),
            out: mined.clone(),
            shard: autojudge_search::Shard::ALL,
            max_new_tokens: a.max_new_tokens,
            algorithm: autojudge_search::Algorithm::Fast,
            draft_proposals: a.draft_proposals,
            max_draft_proposals: a.max_draft_proposals,
            min_block: 8,
            max_block: 64,
            feature_dtype: autojudge_search::FeatureDType::F16,
        })?;
    }
    let mut judges = Vec::new();
    for (flag, name) in [(FeatureFlag::Dt, "dt"), (FeatureFlag::DdDt, "dd-dt")] {
        let out = a.out.join("judges").join(format!("{name}.safetensors"));
        if !out.exists() {
            eprintln!("== 2/3 training the {name} judge on {}", mined.display());
            super::train::train(&TrainArgs {
                data: vec![mined.clone()],
                features: flag,
                out: out.clone(),
                c_grid: None,
                val_fraction: 0.2,
                seed: 0,
                class_weight: WeightFlag::None,
                recall: 0.9,
                tol: 1e-5,
                max_iter: 2000,
            })?;
        }
        judges.push(out);
    }
    eprintln!(
        "== 3/3 evaluating on {} prompts of {}",
        a.eval_prompts,
        a.test_data.display()
    );
    super::eval::run(EvalArgs {
        model: a.model.clone(),
        draft: a.draft.clone(),
        task: task(&a.test_data, a.test_skip, a.eval_prompts),
        judges,
        judge_quantiles: a.judge_quantiles.clone(),
        topk: a.topk.clone(),
        prob: a.prob.clone(),
        k: a.k,
        max_new_tokens: a.max_new_tokens,
        out: a.out.join("eval"),
        bootstrap: 2000,
    })
}
