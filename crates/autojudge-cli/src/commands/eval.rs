//! `autojudge eval`: every decoding method on the same test prompts in one run: target-only,
//! lossless speculative decoding, top-k and target-probability baselines, and AutoJudge judges
//! over a threshold sweep. Per-prompt results go to a resumable JSONL; the summary (accuracy vs
//! gold, answer agreement with target-only, accepted tokens per cycle, target calls per token,
//! tok/s, speed-ups, bootstrap CIs) to Markdown/CSV/JSON, and the Pareto plots to PNG/SVG.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use autojudge_classifier::persist::load as load_judge;
use autojudge_classifier::JudgeModel;
use autojudge_core::{TargetModel, TextTokenizer, TokenId};
use autojudge_decode::policy::{Divergence, ExactMatch, JudgePolicy, TopK};
use autojudge_decode::{
    generate_speculative, AcceptancePolicy, DecodeConfig, Generation, Hooks, ModelDrafter,
};
use autojudge_models::Llama;
use autojudge_search::jsonl::{read_committed, TornTail};
use autojudge_search::Task;
use burn::tensor::backend::Backend;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::eval_settings::EvalSettings;
use crate::commands::report::{summarize, write_reports, ResultLine};
use crate::device::ModelArgs;
use crate::draft_choice::ModelPair;
use crate::list_arg::ListArg;
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
    #[arg(long, default_value = "0.3,0.5,0.7,0.9")]
    pub judge_quantiles: ListArg<f64>,
    /// Top-k baselines (`none` for none).
    #[arg(long, default_value = "2,4,8")]
    pub topk: ListArg<usize>,
    /// Target-probability thresholds of the divergence baseline (`none` for none).
    #[arg(long, default_value = "0.5,0.3,0.1")]
    pub prob: ListArg<f32>,
    /// Draft window k.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Maximum new tokens.
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// Results directory (rerunning resumes it).
    #[arg(long)]
    pub out: PathBuf,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 2000)]
    pub bootstrap: usize,
}

/// One method of the comparison.
#[derive(Clone)]
enum Method {
    TargetOnly,
    Lossless,
    TopK(usize),
    Prob(f32),
    Judge {
        label: String,
        judge: JudgeModel,
        threshold: f32,
    },
}

impl Method {
    fn name(&self) -> String {
        match self {
            Method::TargetOnly => "target-only".into(),
            Method::Lossless => "lossless".into(),
            Method::TopK(k) => format!("top-{k}"),
            Method::Prob(t) => format!("p>={t}"),
            Method::Judge {
                label, threshold, ..
            } => format!("{label}@{threshold:.4}"),
        }
    }

    fn family(&self) -> String {
        match self {
            Method::Judge { label, .. } => label.clone(),
            Method::TopK(_) => "top-k".into(),
            Method::Prob(_) => "target-prob".into(),
            m => m.name(),
        }
    }
}

/// Runs `eval`.
pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    with_backend!(a.model.device, |B, device| eval::<B>(&a, &device))
}

fn methods(
    a: &EvalArgs,
    target_info: &autojudge_core::ModelInfo,
    draft_info: &autojudge_core::ModelInfo,
) -> anyhow::Result<Vec<Method>> {
    let mut m = vec![Method::TargetOnly, Method::Lossless];
    m.extend(a.topk.items().iter().map(|&k| Method::TopK(k)));
    m.extend(a.prob.items().iter().map(|&t| Method::Prob(t)));
    for path in &a.judges {
        let (judge, meta) = load_judge(path)?;
        meta.check_pair(path, target_info, Some(draft_info))?;
        let label = format!(
            "autojudge-{}",
            match meta.features {
                autojudge_core::FeatureSet::Target => "dt",
                autojudge_core::FeatureSet::DraftAndTarget => "dd-dt",
            }
        );
        let mut thresholds = vec![meta.threshold];
        for q in a.judge_quantiles.items() {
            let row = ((q / 0.05).round() as usize).saturating_sub(1);
            if let Some(r) = meta.threshold_table.get(row) {
                thresholds.push(r.0);
            }
        }
        thresholds.sort_by(f64::total_cmp);
        thresholds.dedup();
        for t in thresholds {
            m.push(Method::Judge {
                label: label.clone(),
                judge: judge.clone(),
                threshold: t as f32,
            });
        }
    }
    Ok(m)
}

fn decode<B: Backend>(
    method: &Method,
    target: &Llama<B>,
    draft: &Llama<B>,
    prompt: &[TokenId],
    cfg: &DecodeConfig,
) -> anyhow::Result<Generation> {
    fn spec<B: Backend, P: AcceptancePolicy>(
        target: &Llama<B>,
        draft: &Llama<B>,
        policy: &mut P,
        prompt: &[TokenId],
        cfg: &DecodeConfig,
    ) -> anyhow::Result<Generation> {
        Ok(generate_speculative(
            &mut target.new_session()?,
            &mut ModelDrafter::new(draft.new_session()?),
            policy,
            prompt,
            cfg,
            Hooks::default(),
        )?)
    }
    match method {
        Method::TargetOnly => Ok(autojudge_decode::generate_target_only(
            &mut target.new_session()?,
            prompt,
            &DecodeConfig::greedy(1, cfg.stop.max_new_tokens),
            Hooks::default(),
        )?),
        Method::Lossless => spec(target, draft, &mut ExactMatch, prompt, cfg),
        Method::TopK(k) => spec(target, draft, &mut TopK { k: *k }, prompt, cfg),
        Method::Prob(t) => spec(target, draft, &mut Divergence::TargetProb(*t), prompt, cfg),
        Method::Judge {
            judge, threshold, ..
        } => spec(
            target,
            draft,
            &mut JudgePolicy {
                judge: judge.clone(),
                threshold: *threshold,
            },
            prompt,
            cfg,
        ),
    }
}

/// The committed result lines; a torn last line (a killed run) is cut off so appends stay
/// line-aligned, and a corrupt committed line is an error naming file and line.
pub(crate) fn read_done(path: &Path) -> anyhow::Result<Vec<ResultLine>> {
    let text = read_committed(path, TornTail::CutOff)
        .with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str::<ResultLine>(line)
                .with_context(|| format!("{}:{}: not a result line", path.display(), i + 1))
        })
        .collect()
}

fn eval<B: Backend>(a: &EvalArgs, device: &B::Device) -> anyhow::Result<()> {
    let ModelPair {
        target,
        draft,
        tokenizer,
        template,
    } = ModelPair::<B>::load(&a.model, &a.draft, &a.task, device)?;
    let oracle = a.task.oracle()?;
    let methods = methods(a, target.info(), draft.info())?;
    std::fs::create_dir_all(&a.out)?;
    EvalSettings {
        task: a.task.name().into(),
        data: a
            .task
            .data
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        oracle: oracle.name(),
        chat: template.is_some(),
        target: target.info().name.clone(),
        draft: draft.info().name.clone(),
        dtype: format!("{:?}", a.model.dtype),
        k: a.k,
        max_new_tokens: a.max_new_tokens,
    }
    .check_or_write(&a.out)?;
    let results_path = a.out.join("results.jsonl");
    let mut lines = read_done(&results_path)?;
    let mut done: HashSet<(String, usize)> =
        lines.iter().map(|r| (r.method.clone(), r.index)).collect();
    let mut reference: BTreeMap<usize, Option<String>> = lines
        .iter()
        .filter(|r| r.method == "target-only")
        .map(|r| (r.index, r.answer.clone()))
        .collect();
    let tasks: Vec<Task> = a
        .task
        .tasks()?
        .into_iter()
        .filter_map(|(_, t)| match t {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        })
        .collect();
    let total = (tasks.len() * methods.len()) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} generations, {elapsed} elapsed, ETA {eta} | {msg}",
    )?);
    bar.set_position(done.len() as u64);
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)?;
    let cfg = DecodeConfig::greedy(a.k, a.max_new_tokens);
    for task in &tasks {
        let prompt = match render_prompt(template.as_ref(), &tokenizer, task) {
            Ok(p) => p,
            Err(e) => {
                bar.println(format!("{}: {e}", task.id));
                continue;
            }
        };
        for method in &methods {
            let name = method.name();
            if done.contains(&(name.clone(), task.index)) {
                continue;
            }
            bar.set_message(format!("{} on {}", name, task.id));
            let g = decode(method, &target, &draft, &prompt, &cfg)?;
            let text = tokenizer.decode(&g.tokens)?;
            let answer = oracle.answer(task, &text).map(|x| x.0).unwrap_or(None);
            if matches!(method, Method::TargetOnly) {
                reference.insert(task.index, answer.clone());
            }
            let line = ResultLine {
                method: name.clone(),
                family: method.family(),
                index: task.index,
                task_id: task.id.clone(),
                correct: oracle.is_correct(task, &autojudge_search::Answer(answer.clone())),
                agrees: reference.get(&task.index).map(|r| *r == answer),
                answer,
                gold: task.gold.clone(),
                tokens: g.tokens.len(),
                stats: g.stats,
            };
            let mut json = serde_json::to_string(&line)?;
            json.push('\n');
            out.write_all(json.as_bytes())?;
            out.flush()?;
            done.insert((name, task.index));
            lines.push(line);
            bar.inc(1);
        }
    }
    bar.finish();
    let order: Vec<String> = methods.iter().map(Method::name).collect();
    let summary = summarize(&lines, &order, a.bootstrap);
    let title = format!(
        "{} on {} ({} prompts), target {}, draft {}, k = {}, max {} new tokens",
        a.task.name(),
        a.task.data.display(),
        tasks.len(),
        target.info().name,
        draft.info().name,
        a.k,
        a.max_new_tokens
    );
    write_reports(&a.out, &title, &summary)?;
    Ok(())
}
