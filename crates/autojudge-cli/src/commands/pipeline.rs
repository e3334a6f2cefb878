//! `autojudge pipeline` (and `examples/gsm8k_eval`): loads the pair once and runs
//! `autojudge_eval::run_pipeline`: mine on the train split (or reuse a mined directory), train
//! the DT and DD-DT judges, evaluate every method on the test split. Each step resumes: a rerun
//! skips finished prompts, and judges are retrained only when missing.

use std::path::{Path, PathBuf};

use autojudge_core::{ErrorChain, FeatureSet};
use autojudge_eval::{
    run_pipeline, Method, MiningStep, PipelineProgress, PipelineSpec, TrainOptions,
};
use autojudge_search::{Algorithm, FeatureDType, SearchConfig, Shard};
use autojudge_tasks::Task;
use burn::tensor::backend::Backend;
use clap::Args;

use crate::device::ModelArgs;
use crate::draft_choice::ModelPair;
use crate::list_arg::ListArg;
use crate::numeric_flag::{
    C, KL, NEW_TOKENS, PROMPTS, PROPOSALS, QUANTILE, SKIP, TARGET_PROB, TOP_K, VAL_FRACTION, WINDOW,
};
use crate::output_guard::{check_outputs, draft_input, Input, Output, OutputKind};
use crate::parallel_arg::{ParallelArgs, SessionsPerWorker};
use crate::shared::evaluation::{self, EvalBar};
use crate::shared::judge_tables::print_tables;
use crate::shared::mining::{self, check_windows, MiningBar};
use crate::shared::report_files::write_reports;
use crate::task_choice::{render_prompt, LabelArgs, PromptFormat, TaskArgs, TaskKind};
use crate::with_backend;

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
    #[arg(long, default_value_t = 100, value_parser = PROMPTS.parser::<usize>())]
    pub mine_prompts: usize,
    /// Training-split lines skipped before mining.
    #[arg(long, default_value_t = 0, value_parser = SKIP.parser::<usize>())]
    pub train_skip: usize,
    /// Test prompts to evaluate.
    #[arg(long, default_value_t = 30, value_parser = PROMPTS.parser::<usize>())]
    pub eval_prompts: usize,
    /// Test-split lines skipped before evaluating (one file can serve both splits, e.g.
    /// HumanEval: mine lines 0..100 and evaluate from `--test-skip 100`).
    #[arg(long, default_value_t = 0, value_parser = SKIP.parser::<usize>())]
    pub test_skip: usize,
    /// Reuse this mined directory instead of `<out>/mined`.
    #[arg(long)]
    pub mined: Option<PathBuf>,
    /// Results root: `mined/`, `judges/`, `eval/`.
    #[arg(long)]
    pub out: PathBuf,
    /// Maximum new tokens, mining and evaluation (default: the `--labels` preset's, 2,048 for
    /// `reference`).
    #[arg(long, value_parser = NEW_TOKENS.parser::<usize>())]
    pub max_new_tokens: Option<usize>,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Draft window k for evaluation.
    #[arg(long, default_value_t = 4, value_parser = WINDOW.parser::<usize>())]
    pub k: usize,
    /// Draft tokens per target call in mining regenerations (0 = none).
    #[arg(long, default_value_t = 0, value_parser = PROPOSALS.parser::<usize>())]
    pub draft_proposals: usize,
    /// Largest draft window in mining regenerations (0 = fixed at --draft-proposals).
    #[arg(long, default_value_t = 0, value_parser = PROPOSALS.parser::<usize>())]
    pub max_draft_proposals: usize,
    /// Top-k baselines evaluated (`none` for none).
    #[arg(long, default_value = "2,4,8", value_parser = TOP_K.list::<usize>())]
    pub topk: ListArg<usize>,
    /// Target-probability thresholds evaluated (`none` for none).
    #[arg(long, default_value = "0.5,0.3,0.1", value_parser = TARGET_PROB.list::<f32>())]
    pub prob: ListArg<f32>,
    /// JuDi KL thresholds evaluated (`none` for none).
    #[arg(long, default_value = "none", value_parser = KL.list::<f32>())]
    pub judi: ListArg<f32>,
    /// Feature sets a judge is trained and evaluated for (dt, dd-dt, logits, dt+logits,
    /// dd-dt+logits, prev+own). prev+own had the best validation AUC in
    /// docs/results/learning-curve-smollm2.md.
    #[arg(long, default_value = "dt,dd-dt,prev+own")]
    pub features: ListArg<FeatureSet>,
    /// Fraction of mined prompts held out to choose C and the threshold (the reference's 10%;
    /// more for a few dozen prompts).
    #[arg(long, default_value_t = 0.1, value_parser = VAL_FRACTION.parser::<f64>())]
    pub val_fraction: f64,
    /// C grid of every judge (default: the reference's, 1e-7 … 10^-0.5 in half decades, 1, 3,
    /// 10, 50, 100).
    #[arg(long, value_delimiter = ',', value_parser = C.parser::<f64>())]
    pub c_grid: Option<Vec<f64>>,
    /// Threshold-table quantiles swept per judge, plus its chosen threshold (`none`: only that).
    #[arg(long, default_value = "0.3,0.5,0.7,0.9", value_parser = QUANTILE.list::<f64>())]
    pub judge_quantiles: ListArg<f64>,
    #[command(flatten)]
    pub parallel: ParallelArgs,
}

impl PipelineArgs {
    /// The constraints between flags (the usage error's message names them): the mining
    /// windows, and no evaluation on lines that were mined (the same file with overlapping
    /// ranges).
    pub fn check(&self) -> Result<(), String> {
        check_windows((8, 64), (self.draft_proposals, self.max_draft_proposals))?;
        let same_file = autojudge_eval::same_path(&self.train_data, &self.test_data);
        let train = self.train_skip..self.train_skip.saturating_add(self.mine_prompts);
        let test = self.test_skip..self.test_skip.saturating_add(self.eval_prompts);
        if self.mined.is_none() && same_file && train.start < test.end && test.start < train.end {
            return Err(format!(
                "--train-data and --test-data are the same file ({}) and the mined lines \
                 {train:?} overlap the evaluated lines {test:?}; set --test-skip past the mined \
                 lines",
                self.test_data.display()
            ));
        }
        Ok(())
    }
}

/// Runs the pipeline.
pub fn run(a: PipelineArgs) -> anyhow::Result<()> {
    a.check().map_err(anyhow::Error::msg)?;
    let mut inputs = vec![
        a.model.input(),
        Input {
            flag: "--train-data",
            path: &a.train_data,
        },
        Input {
            flag: "--test-data",
            path: &a.test_data,
        },
    ];
    inputs.extend(draft_input(&a.draft));
    let (mined, judges, eval) = (
        a.out.join("mined"),
        a.out.join("judges"),
        a.out.join("eval"),
    );
    let mut outputs = vec![
        Output::new("--out", &judges, OutputKind::Dir),
        Output::new("--out", &eval, OutputKind::EvalDir),
    ];
    match &a.mined {
        Some(m) => inputs.push(Input {
            flag: "--mined",
            path: m,
        }),
        None => outputs.push(Output::new("--out", &mined, OutputKind::MinedDir)),
    }
    check_outputs(&outputs, &inputs)?;
    with_backend!(a.model.device, |B, device| pipeline::<B>(&a, &device))
}

/// The task flags of one split.
fn split(a: &PipelineArgs, data: &Path, skip: usize, prompts: usize) -> TaskArgs {
    TaskArgs {
        task: a.task,
        data: data.to_path_buf(),
        skip,
        prompts,
        labels: a.labels.clone(),
        code_timeout: 10.0,
        code_python: "python3".into(),
        unsafe_no_sandbox: false,
        prompt_format: PromptFormat::Auto,
    }
}

/// Loads the pair once, builds the library's spec from the flags and shows its progress.
fn pipeline<B: Backend>(a: &PipelineArgs, device: &B::Device) -> anyhow::Result<()> {
    let train = split(a, &a.train_data, a.train_skip, a.mine_prompts);
    let test = split(a, &a.test_data, a.test_skip, a.eval_prompts);
    // The datasets before any model: a bad `--train-data` or `--test-data` fails at once.
    let train_tasks = match a.mined {
        Some(_) => None,
        None => Some(train.tasks()?),
    };
    let eval_tasks = test.tasks()?;
    let pair = ModelPair::<B>::load(&a.model, &a.draft, &test, device)?;
    let oracle = test.oracle()?;
    let budget = train
        .max_new_tokens(a.max_new_tokens)
        .max(test.max_new_tokens(a.max_new_tokens));
    a.parallel.check_memory(
        &pair.target,
        &pair.draft,
        budget + mining::PROMPT_ALLOWANCE,
        SessionsPerWorker::MINING,
    )?;
    let mining = match train_tasks {
        None => None,
        Some(tasks) => {
            let search = SearchConfig {
                max_new_tokens: train.max_new_tokens(a.max_new_tokens),
                algorithm: Algorithm::Fast,
                min_block: 8,
                max_block: 64,
                draft_proposals: a.draft_proposals,
                max_draft_proposals: a.max_draft_proposals,
                eos_swap: train.eos_swap(None),
            };
            let manifest = mining::manifest(
                &train,
                &pair,
                oracle.as_ref(),
                search,
                FeatureDType::F16,
                Shard::ALL,
                &tasks,
            );
            Some(MiningStep { manifest, tasks })
        }
    };
    let eval_dir = a.out.join("eval");
    let spec = PipelineSpec {
        mined: a.mined.clone().unwrap_or_else(|| a.out.join("mined")),
        mining,
        judges: a.out.join("judges"),
        feature_sets: a.features.items().to_vec(),
        train: TrainOptions {
            val_fraction: a.val_fraction,
            c_grid: a.c_grid.clone(),
            ..TrainOptions::default()
        },
        eval_dir: eval_dir.clone(),
        eval_settings: evaluation::eval_settings(
            &test,
            &pair,
            oracle.as_ref(),
            a.k,
            test.max_new_tokens(a.max_new_tokens),
            // One prefill per prompt: the eight-shot prompt is not paid once per method.
            autojudge_eval::PromptPrefill::Shared,
        ),
        eval_tasks,
        baselines: Method::baselines(a.topk.items(), a.prob.items())
            .into_iter()
            .chain(Method::judi_sweep(a.judi.items()))
            .collect(),
        judge_quantiles: a.judge_quantiles.items().to_vec(),
        bootstrap: 2000,
        parallel: a.parallel.workers(),
    };
    let render = |t: &Task| render_prompt(pair.template.as_ref(), &pair.tokenizer, t);
    let (mut mining_bar, mut eval_bar) = (None, None);
    let report = run_pipeline(
        &pair.search_models(oracle.as_ref()),
        spec,
        &render,
        &mut |p| {
            if let Err(e) = show(a, p, &mut mining_bar, &mut eval_bar) {
                eprintln!("progress display: {e}");
            }
        },
    )?;
    if let Some(bar) = eval_bar {
        bar.finish();
    }
    write_reports(&eval_dir, &report)
}

/// Prints one pipeline event (step headers, bars, the judges' tables).
fn show(
    a: &PipelineArgs,
    p: PipelineProgress<'_>,
    mining_bar: &mut Option<MiningBar>,
    eval_bar: &mut Option<EvalBar>,
) -> anyhow::Result<()> {
    match p {
        PipelineProgress::MiningPlanned { total, done } => {
            eprintln!(
                "== 1/3 mining {total} prompts of {} ({done} already done)",
                a.train_data.display()
            );
            *mining_bar = Some(MiningBar::new(total, done)?);
        }
        PipelineProgress::Mining(p) => {
            if let Some(b) = mining_bar {
                b.show(p)
            }
        }
        PipelineProgress::MiningDone(t) => mining_bar.iter().for_each(|b| b.finish(t)),
        PipelineProgress::Training(set, rows) => eprintln!(
            "== 2/3 training the {set} judge on {} mismatches ({} important) from {} prompts",
            rows.x.len(),
            rows.important(),
            rows.prompts()
        ),
        PipelineProgress::Refused(set, e) => {
            eprintln!("the {set} judge is left out: {}", ErrorChain(e))
        }
        PipelineProgress::Trained(t, path) => {
            print_tables(t, TrainOptions::default().threshold);
            println!("wrote {} (+ .c_table.csv, .thresholds.csv)", path.display());
        }
        PipelineProgress::Eval(p) => {
            if eval_bar.is_none() {
                eprintln!(
                    "== 3/3 evaluating on {} prompts of {}",
                    a.eval_prompts,
                    a.test_data.display()
                );
                *eval_bar = Some(EvalBar::new()?);
            }
            if let Some(b) = eval_bar {
                b.show(p);
            }
        }
    }
    Ok(())
}
