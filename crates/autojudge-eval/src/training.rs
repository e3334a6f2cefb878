//! Judge training orchestration: mined directories → training rows → C chosen by validation
//! ROC-AUC (split by prompt) → threshold for a recall target → a saved judge with its C table
//! and threshold table as data (and CSV sidecars).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use autojudge_classifier::{
    at_threshold, default_c_grid, save_judge, select_c, threshold_for_recall, threshold_table,
    ClassWeight, JudgeMeta, JudgeModel, LogisticRegressionOptions, ThresholdMetrics,
};
use autojudge_core::FeatureSet;
use autojudge_search::{Manifest, MinedDir};

use crate::method::THRESHOLD_QUANTILES;
use crate::{EvalError, EvalResult};

/// Below this 5th-to-95th-percentile width of validation probabilities a threshold is fragile:
/// a small shift of the features at decode time moves many mismatches across it.
pub const MIN_USABLE_SPREAD: f64 = 0.05;

/// How a judge is fitted and its threshold chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// Feature set (DT or DD-DT).
    pub features: FeatureSet,
    /// C values tried (`None`: [`default_c_grid`]).
    pub c_grid: Option<Vec<f64>>,
    /// Fraction of prompts held out for validation.
    pub val_fraction: f64,
    /// Seed of the prompt split.
    pub seed: u64,
    /// Class weights.
    pub class_weight: ClassWeight,
    /// L-BFGS gradient tolerance relative to the initial gradient.
    pub tol: f64,
    /// L-BFGS iteration cap per fit.
    pub max_iter: usize,
    /// The threshold keeps this recall of important tokens on validation.
    pub recall: f64,
}

impl Default for TrainOptions {
    /// DD-DT, the default grid, 20% of prompts for validation, seed 0, unweighted, tolerance
    /// 1e-5 (changes validation AUC by < 1e-4 against 1e-8 at a fraction of the time), 2000
    /// iterations, recall 0.9.
    fn default() -> Self {
        TrainOptions {
            features: FeatureSet::DraftAndTarget,
            c_grid: None,
            val_fraction: 0.2,
            seed: 0,
            class_weight: ClassWeight::None,
            tol: 1e-5,
            max_iter: 2000,
            recall: 0.9,
        }
    }
}

/// Training rows of one or more mined directories of the same model pair.
#[derive(Clone, Debug)]
pub struct TrainingSet {
    /// Feature set of the rows.
    pub features: FeatureSet,
    /// Feature rows.
    pub x: Vec<Vec<f32>>,
    /// `true` = important.
    pub y: Vec<bool>,
    /// Prompt of each row (distinct across directories), for splitting by prompt.
    pub groups: Vec<u64>,
    /// The first directory's manifest (model identities for the judge's metadata).
    first: Manifest,
}

impl TrainingSet {
    /// Reads every mismatch of `dirs` as rows of `features`; directories mined with other
    /// models than the first are refused.
    pub fn load(dirs: &[PathBuf], features: FeatureSet) -> EvalResult<Self> {
        let opened: Vec<MinedDir> = dirs
            .iter()
            .map(|d| MinedDir::open(d))
            .collect::<Result<_, _>>()?;
        let Some(first) = opened.first() else {
            return Err(EvalError::InvalidOption {
                field: "data",
                reason: "no mined directories".into(),
            });
        };
        let (mut x, mut y, mut groups) = (Vec::new(), Vec::new(), Vec::new());
        for (k, (path, d)) in dirs.iter().zip(&opened).enumerate() {
            let (m, f) = (&d.manifest, &first.manifest);
            if m.target != f.target || m.draft != f.draft {
                return Err(EvalError::Conflict {
                    path: path.display().to_string(),
                    reason: format!("mined with other models than {}", dirs[0].display()),
                });
            }
            let rows = d.training_rows(features)?;
            x.extend(rows.features);
            y.extend(rows.labels);
            // Prompts of different directories are different groups.
            groups.extend(rows.groups.into_iter().map(|p| ((k as u64) << 40) | p));
        }
        let first = first.manifest.clone();
        Ok(TrainingSet {
            features,
            x,
            y,
            groups,
            first,
        })
    }

    /// Important rows.
    pub fn important(&self) -> usize {
        self.y.iter().filter(|&&l| l).count()
    }

    /// Distinct prompts.
    pub fn prompts(&self) -> usize {
        let mut s = self.groups.clone();
        s.sort_unstable();
        s.dedup();
        s.len()
    }

    /// Feature width.
    pub fn width(&self) -> usize {
        self.x.first().map_or(0, Vec::len)
    }
}

/// A fitted judge with everything model selection measured.
#[derive(Clone, Debug)]
pub struct TrainedJudge {
    /// The judge (scaler + logistic regression, refitted on all rows at the chosen C).
    pub judge: JudgeModel,
    /// What is saved next to the weights (models, options, threshold, tables).
    pub meta: JudgeMeta,
    /// The chosen C.
    pub best_c: f64,
    /// `(quantile, metrics)` rows of the validation threshold table.
    pub thresholds: Vec<(f64, ThresholdMetrics)>,
    /// Validation metrics at the chosen threshold.
    pub at_chosen: ThresholdMetrics,
    /// 5th-to-95th-percentile width of the chosen model's validation probabilities.
    pub probability_spread: f64,
}

impl TrainedJudge {
    /// Whether the validation probabilities are too narrow for a stable threshold
    /// ([`MIN_USABLE_SPREAD`]).
    pub fn threshold_is_fragile(&self) -> bool {
        self.probability_spread < MIN_USABLE_SPREAD
    }

    /// The `(C, validation AUC)` table as CSV.
    pub fn c_table_csv(&self) -> String {
        let mut csv = String::from("c,validation_auc\n");
        for (c, auc) in &self.meta.c_table {
            let auc = auc.map_or(String::new(), |v| v.to_string());
            let _ = writeln!(csv, "{c:e},{auc}");
        }
        csv
    }

    /// The validation threshold table as CSV.
    pub fn thresholds_csv(&self) -> String {
        let mut csv =
            String::from("quantile,threshold,recall,precision,accuracy,accepted_fraction\n");
        for (q, m) in &self.thresholds {
            let _ = writeln!(
                csv,
                "{q},{},{},{},{},{}",
                m.threshold, m.recall, m.precision, m.accuracy, m.negative_rate
            );
        }
        csv
    }

    /// Saves the judge at `path` and the tables next to it (`<stem>.c_table.csv`,
    /// `<stem>.thresholds.csv`); creates the parent directory.
    pub fn save(&self, path: &Path) -> EvalResult<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| EvalError::file(parent, e))?;
        }
        save_judge(path, &self.judge, &self.meta)?;
        for (suffix, text) in [
            ("c_table.csv", self.c_table_csv()),
            ("thresholds.csv", self.thresholds_csv()),
        ] {
            let p = sibling(path, suffix);
            std::fs::write(&p, text).map_err(|e| EvalError::file(&p, e))?;
        }
        Ok(())
    }
}

/// `<stem>.<suffix>` next to `path`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "judge".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.{suffix}"))
}

/// Width between the 5th and 95th percentiles of `scores`.
fn score_spread(scores: &[f64]) -> f64 {
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    at(0.95) - at(0.05)
}

/// Fits the judge on `set`: C by validation ROC-AUC over the grid (split by prompt), refit on
/// every row, threshold for `opts.recall` on validation (0.5 when validation has no important
/// row), and the validation threshold table at [`THRESHOLD_QUANTILES`].
pub fn train_judge(set: &TrainingSet, opts: &TrainOptions) -> EvalResult<TrainedJudge> {
    let grid = opts.c_grid.clone().unwrap_or_else(default_c_grid);
    let base = LogisticRegressionOptions {
        class_weight: opts.class_weight,
        tol: opts.tol,
        max_iter: opts.max_iter,
        ..LogisticRegressionOptions::default()
    };
    let sel = select_c(
        &set.x,
        &set.y,
        &set.groups,
        &grid,
        opts.val_fraction,
        opts.seed,
        base,
    )?;
    let yv: Vec<bool> = sel.validation.iter().map(|&i| set.y[i]).collect();
    let table = threshold_table(&sel.validation_scores, &yv, &THRESHOLD_QUANTILES);
    let threshold = threshold_for_recall(&sel.validation_scores, &yv, opts.recall).unwrap_or(0.5);
    let at_chosen = at_threshold(&sel.validation_scores, &yv, threshold);
    let m = &set.first;
    let meta = JudgeMeta {
        features: set.features,
        draft: match set.features {
            FeatureSet::DraftAndTarget => Some((m.draft.name.clone(), m.draft.hidden_size)),
            FeatureSet::Target => None,
        },
        target: (m.target.name.clone(), m.target.hidden_size),
        tokenizer: m.target.tokenizer.0.clone(),
        options: sel.model.options,
        threshold,
        threshold_table: Vec::new(),
        c_table: sel.table.clone(),
        samples: (set.x.len(), set.important()),
    }
    .with_table(&table);
    Ok(TrainedJudge {
        probability_spread: score_spread(&sel.validation_scores),
        best_c: sel.best_c,
        thresholds: THRESHOLD_QUANTILES.iter().copied().zip(table).collect(),
        at_chosen,
        judge: JudgeModel {
            features: set.features,
            model: sel.model,
        },
        meta,
    })
}
