//! `autojudge eval`: every decoding method on the same test prompts in one run (target-only,
//! lossless speculative decoding, top-k and target-probability baselines, AutoJudge judges over
//! a threshold sweep) through `autojudge_eval::evaluate`, with a progress bar; the summary goes
//! to Markdown/CSV/JSON and the Pareto plots to PNG/SVG.

use std::path::PathBuf;

use autojudge_core::TargetModel;
use autojudge_eval::{evaluate, judge_sweep, EvalDir, EvalPlan, Method, PromptPrefill};
use burn::tensor::backend::Backend;
use clap::Args;

use crate::device::ModelArgs;
use crate::draft_choice::ModelPair;
use crate::list_arg::ListArg;
use crate::numeric_flag::{BOOTSTRAP, KL, NEW_TOKENS, QUANTILE, TARGET_PROB, TOP_K, WINDOW};
use crate::output_guard::{check_outputs, draft_input, Input, Output, OutputKind};
use crate::parallel_arg::{ParallelArgs, SessionsPerWorker};
use crate::shared::evaluation::{eval_settings, EvalBar};
use crate::shared::mining::PROMPT_ALLOWANCE;
use crate::shared::report_files::write_reports;
use crate::task_choice::{render_prompt, TaskArgs};
use crate::with_backend;

/// Arguments of `eval`.
#[derive(Args, Clone)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Draft: a model path or `self:PLAN`.
    #[arg(long, default_value = "self:exit:24")]
    pub draft: String,
    #[command(flatten)]
    pub task: TaskArgs,
    /// Judges to evaluate (files written by `autojudge train`).
    #[arg(long = "judge")]
    pub judges: Vec<PathBuf>,
    /// Validation-quantile rows of each judge's threshold table to sweep (accepted fraction of
    /// validation mismatches ≈ quantile), plus the judge's own chosen threshold; `none`: only
    /// the chosen threshold.
    #[arg(long, default_value = "0.3,0.5,0.7,0.9", value_parser = QUANTILE.list::<f64>())]
    pub judge_quantiles: ListArg<f64>,
    /// Top-k baselines (`none` for none).
    #[arg(long, default_value = "2,4,8", value_parser = TOP_K.list::<usize>())]
    pub topk: ListArg<usize>,
    /// Target-probability thresholds of the divergence baseline (`none` for none).
    #[arg(long, default_value = "0.5,0.3,0.1", value_parser = TARGET_PROB.list::<f32>())]
    pub prob: ListArg<f32>,
    /// JuDi KL thresholds τ (training-free: accept a mismatch with KL(target ‖ draft) ≤ τ
    /// unless the target's top-1 probability > 0.9; `none` for none).
    #[arg(long, default_value = "none", value_parser = KL.list::<f32>())]
    pub judi: ListArg<f32>,
    /// Lossless speculative decoding: `measured` runs it (wall-clock figures), `derived`
    /// computes its counters from the target-only output and one teacher-forced draft pass
    /// (identical counters, no target forward, no wall-clock figures).
    #[arg(long, value_enum, default_value = "measured")]
    pub lossless: LosslessFlag,
    /// `shared`: the prompt is prefilled once and every method of the prompt continues from
    /// that cache (no method's times include the prefill); `per-method`: each method prefills
    /// it in fresh sessions (what directories from before this option hold).
    #[arg(long, value_enum, default_value = "shared")]
    pub prefill: PrefillFlag,
    /// Draft window k.
    #[arg(long, default_value_t = 4, value_parser = WINDOW.parser::<usize>())]
    pub k: usize,
    /// Maximum new tokens (default: the `--labels` preset's, 2,048 for `reference`).
    #[arg(long, value_parser = NEW_TOKENS.parser::<usize>())]
    pub max_new_tokens: Option<usize>,
    /// Results directory (rerunning resumes it).
    #[arg(long)]
    pub out: PathBuf,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 2000, value_parser = BOOTSTRAP.parser::<usize>())]
    pub bootstrap: usize,
    #[command(flatten)]
    pub parallel: ParallelArgs,
}

/// How the lossless line of each prompt is obtained.
#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum LosslessFlag {
    /// Run lossless speculative decoding.
    Measured,
    /// Derive its counters ([`Method::LosslessDerived`]).
    Derived,
}

/// How the prompt reaches the caches ([`PromptPrefill`]).
#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum PrefillFlag {
    /// Once per prompt, shared by its methods.
    Shared,
    /// Once per method.
    PerMethod,
}

/// Runs `eval`.
pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    let mut inputs = a.task.inputs();
    inputs.push(a.model.input());
    inputs.extend(draft_input(&a.draft));
    inputs.extend(a.judges.iter().map(|j| Input {
        flag: "--judge",
        path: j,
    }));
    check_outputs(
        &[Output::new("--out", &a.out, OutputKind::EvalDir)],
        &inputs,
    )?;
    with_backend!(a.model.device, |B, device| eval::<B>(&a, &device))
}

/// Baselines from the flags, then every judge's threshold sweep.
fn methods(
    a: &EvalArgs,
    target: &autojudge_core::ModelInfo,
    draft: &autojudge_core::ModelInfo,
) -> anyhow::Result<Vec<Method>> {
    let mut m = Method::baselines(a.topk.items(), a.prob.items());
    if a.lossless == LosslessFlag::Derived {
        for method in &mut m {
            if matches!(method, Method::Lossless) {
                *method = Method::LosslessDerived;
            }
        }
    }
    m.extend(Method::judi_sweep(a.judi.items()));
    for path in &a.judges {
        m.extend(judge_sweep(path, a.judge_quantiles.items(), target, draft)?);
    }
    Ok(m)
}

fn eval<B: Backend>(a: &EvalArgs, device: &B::Device) -> anyhow::Result<()> {
    // The dataset before any model: a bad `--data` fails at once.
    let tasks = a.task.tasks()?;
    // The oracle first: a code task refuses to start before any model loads when its
    // sandbox cannot be set up.
    let oracle = a.task.oracle()?;
    let pair = ModelPair::<B>::load(&a.model, &a.draft, &a.task, device)?;
    let plan = EvalPlan {
        methods: methods(a, pair.target.info(), pair.draft.info())?,
        bootstrap: a.bootstrap,
    };
    let settings = eval_settings(
        &a.task,
        &pair,
        oracle.as_ref(),
        a.k,
        a.task.max_new_tokens(a.max_new_tokens),
        match a.prefill {
            PrefillFlag::Shared => PromptPrefill::Shared,
            PrefillFlag::PerMethod => PromptPrefill::PerMethod,
        },
    );
    a.parallel.check_memory(
        &pair.target,
        &pair.draft,
        settings.max_new_tokens + PROMPT_ALLOWANCE,
        SessionsPerWorker::DECODING,
    )?;
    let mut dir = EvalDir::create_or_resume(&a.out, settings)?;
    let render =
        |t: &autojudge_tasks::Task| render_prompt(pair.template.as_ref(), &pair.tokenizer, t);
    let bar = EvalBar::new()?;
    let report = evaluate(
        &mut dir,
        &pair.search_models(oracle.as_ref()),
        &plan,
        tasks,
        &render,
        a.parallel.workers(),
        &mut |p| bar.show(p),
    )?;
    bar.finish();
    write_reports(&a.out, &report)
}
