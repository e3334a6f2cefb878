//! The whole AutoJudge experiment in one call: mine important tokens on a training split (or
//! reuse a mined directory), train a judge per feature set, and evaluate every method with
//! them on a test split. Each step resumes: mining and evaluation skip committed prompts, and
//! a judge is trained only when its file is missing. A judge whose threshold would accept
//! none or every mismatch is reported and left out; the rest of the run goes on.

use std::path::PathBuf;

use autojudge_core::{FeatureSet, TargetModel};
use autojudge_search::{
    run_mining, Manifest, MinedDir, MiningProgress, Render, SearchModels, Totals,
};
use autojudge_tasks::TaskLine;

use crate::{
    evaluate, judge_sweep, train_judge, EvalDir, EvalPlan, EvalResult, EvalSettings, Method,
    Progress, Report, TrainOptions, TrainedJudge, TrainingSet,
};

/// Mining on the training split.
#[derive(Debug)]
pub struct MiningStep {
    /// What the mined directory records (models, task, search settings, shard, lines); its
    /// `search` settings drive the search.
    pub manifest: Manifest,
    /// Dataset lines to mine.
    pub tasks: Vec<TaskLine>,
}

/// Everything one pipeline run needs besides the models.
#[derive(Debug)]
pub struct PipelineSpec {
    /// The mined directory: written by `mining`, or an existing one when `mining` is `None`.
    pub mined: PathBuf,
    /// Mine first (`None`: use `mined` as it is).
    pub mining: Option<MiningStep>,
    /// Directory of the judges (`<set>.safetensors` and their tables, see [`judge_file`]).
    pub judges: PathBuf,
    /// Feature sets a judge is trained and evaluated for.
    pub feature_sets: Vec<FeatureSet>,
    /// Judge fitting; the feature set is set per judge.
    pub train: TrainOptions,
    /// The evaluation directory and its settings.
    pub eval_dir: PathBuf,
    /// Settings every evaluation line shares.
    pub eval_settings: EvalSettings,
    /// Dataset lines to evaluate.
    pub eval_tasks: Vec<TaskLine>,
    /// Baselines evaluated next to the judges (target-only first).
    pub baselines: Vec<Method>,
    /// Threshold-table quantiles swept per judge, next to its chosen threshold.
    pub judge_quantiles: Vec<f64>,
    /// Bootstrap resamples of the report's intervals.
    pub bootstrap: usize,
    /// Prompts mined and evaluated at once (forwards batched across them); results do not
    /// depend on it.
    pub parallel: usize,
}

/// What the pipeline reports while it works.
#[derive(Debug)]
pub enum PipelineProgress<'a> {
    /// Mining starts: prompts of the run and how many the directory already holds.
    MiningPlanned {
        /// Prompts of the run.
        total: usize,
        /// Already committed.
        done: usize,
    },
    /// Mining progress: a committed prompt with the directory's running totals, or a tick.
    Mining(MiningProgress<'a>),
    /// Mining finished (totals over the whole directory).
    MiningDone(&'a Totals),
    /// A judge is about to be trained on this many rows.
    Training(FeatureSet, &'a TrainingSet),
    /// A judge was trained and saved at the path.
    Trained(&'a TrainedJudge, &'a std::path::Path),
    /// A judge was refused (e.g. [`crate::EvalError::DegenerateJudge`]) and is left out.
    Refused(FeatureSet, &'a crate::EvalError),
    /// Evaluation progress.
    Eval(Progress<'a>),
}

/// File name of the judge for `set` inside the judges directory: `<set name>.safetensors`
/// (`dt.safetensors`, `dd-dt+logits.safetensors`, ...).
pub fn judge_file(set: FeatureSet) -> String {
    format!("{set}.safetensors")
}

/// Runs the pipeline with `models` (the same pair mines and is evaluated) and returns the
/// evaluation report. `render` turns a task into prompt tokens for both splits.
pub fn run_pipeline<T: TargetModel, D: TargetModel>(
    models: &SearchModels<'_, T, D>,
    spec: PipelineSpec,
    render: &Render<'_>,
    progress: &mut dyn FnMut(PipelineProgress<'_>),
) -> EvalResult<Report> {
    if let Some(step) = spec.mining {
        let search = step.manifest.search.clone();
        let mut dir = MinedDir::create_or_resume(&spec.mined, step.manifest)?;
        let done = step
            .tasks
            .iter()
            .filter(|line| dir.records.contains_key(&line.index()))
            .count();
        progress(PipelineProgress::MiningPlanned {
            total: step.tasks.len(),
            done,
        });
        let totals = run_mining(
            &mut dir,
            models,
            &search,
            step.tasks,
            render,
            spec.parallel,
            &mut |p| progress(PipelineProgress::Mining(p)),
        )?;
        progress(PipelineProgress::MiningDone(&totals));
    }
    let mut methods = spec.baselines;
    for set in spec.feature_sets {
        let path = spec.judges.join(judge_file(set));
        if !path.exists() {
            let rows = TrainingSet::load(std::slice::from_ref(&spec.mined), set)?;
            progress(PipelineProgress::Training(set, &rows));
            let opts = TrainOptions {
                features: set,
                ..spec.train.clone()
            };
            match train_judge(&rows, &opts) {
                Ok(trained) => {
                    trained.save(&path)?;
                    progress(PipelineProgress::Trained(&trained, &path));
                }
                Err(
                    e @ (crate::EvalError::DegenerateJudge { .. }
                    | crate::EvalError::FragileJudge { .. }),
                ) => {
                    progress(PipelineProgress::Refused(set, &e));
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        methods.extend(judge_sweep(
            &path,
            &spec.judge_quantiles,
            models.target.info(),
            models.draft.info(),
        )?);
    }
    let mut dir = EvalDir::create_or_resume(&spec.eval_dir, spec.eval_settings)?;
    let plan = EvalPlan {
        methods,
        bootstrap: spec.bootstrap,
    };
    evaluate(
        &mut dir,
        models,
        &plan,
        spec.eval_tasks,
        render,
        spec.parallel,
        &mut |p| progress(PipelineProgress::Eval(p)),
    )
}
