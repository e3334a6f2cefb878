//! The whole AutoJudge experiment in one call: mine important tokens on a training split (or
//! reuse a mined directory), train the DT and DD-DT judges, and evaluate every method with
//! them on a test split. Each step resumes: mining and evaluation skip committed prompts, and
//! a judge is trained only when its file is missing.

use std::path::PathBuf;

use autojudge_core::{FeatureSet, TargetModel};
use autojudge_search::{
    run_mining, Manifest, MinedDir, PromptRecord, Render, SearchModels, TaskLine, Totals,
};

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
    pub tasks: Vec<(usize, TaskLine)>,
}

/// Everything one pipeline run needs besides the models.
#[derive(Debug)]
pub struct PipelineSpec {
    /// The mined directory: written by `mining`, or an existing one when `mining` is `None`.
    pub mined: PathBuf,
    /// Mine first (`None`: use `mined` as it is).
    pub mining: Option<MiningStep>,
    /// Directory of the judges (`dt.safetensors`, `dd-dt.safetensors` and their tables).
    pub judges: PathBuf,
    /// Judge fitting; the feature set is set per judge.
    pub train: TrainOptions,
    /// The evaluation directory and its settings.
    pub eval_dir: PathBuf,
    /// Settings every evaluation line shares.
    pub eval_settings: EvalSettings,
    /// Dataset lines to evaluate.
    pub eval_tasks: Vec<(usize, TaskLine)>,
    /// Baselines evaluated next to the judges (target-only first).
    pub baselines: Vec<Method>,
    /// Threshold-table quantiles swept per judge, next to its chosen threshold.
    pub judge_quantiles: Vec<f64>,
    /// Bootstrap resamples of the report's intervals.
    pub bootstrap: usize,
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
    /// One prompt was mined and committed, with the directory's running totals.
    Mined(&'a PromptRecord, &'a Totals),
    /// Mining finished (totals over the whole directory).
    MiningDone(&'a Totals),
    /// A judge is about to be trained on this many rows.
    Training(FeatureSet, &'a TrainingSet),
    /// A judge was trained and saved at the path.
    Trained(&'a TrainedJudge, &'a std::path::Path),
    /// Evaluation progress.
    Eval(Progress<'a>),
}

/// File name of the judge for `set` inside the judges directory.
pub fn judge_file(set: FeatureSet) -> &'static str {
    match set {
        FeatureSet::Target => "dt.safetensors",
        FeatureSet::DraftAndTarget => "dd-dt.safetensors",
    }
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
            .filter(|(i, _)| dir.records.contains_key(i))
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
            &mut |r, t| progress(PipelineProgress::Mined(r, t)),
        )?;
        progress(PipelineProgress::MiningDone(&totals));
    }
    let mut methods = spec.baselines;
    for set in [FeatureSet::Target, FeatureSet::DraftAndTarget] {
        let path = spec.judges.join(judge_file(set));
        if !path.exists() {
            let rows = TrainingSet::load(std::slice::from_ref(&spec.mined), set)?;
            progress(PipelineProgress::Training(set, &rows));
            let opts = TrainOptions {
                features: set,
                ..spec.train.clone()
            };
            let trained = train_judge(&rows, &opts)?;
            trained.save(&path)?;
            progress(PipelineProgress::Trained(&trained, &path));
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
    evaluate(&mut dir, models, &plan, spec.eval_tasks, render, &mut |p| {
        progress(PipelineProgress::Eval(p))
    })
}
