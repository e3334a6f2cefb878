//! Judge training orchestration: mined directories → training rows → C chosen by validation
//! ROC-AUC (split by prompt) → threshold for a recall target → a saved judge with its C table
//! and threshold table as data (and CSV sidecars).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use autojudge_classifier::{
    at_threshold, default_c_grid, save_judge, score_spread, select_c, threshold_for_budget,
    threshold_for_recall, threshold_table, ClassWeight, ClassifierError, JudgeMeta, JudgeModel,
    LogisticRegressionOptions, ThresholdMetrics,
};
use autojudge_core::{FeatureSet, Rows, Threshold};
use autojudge_search::{Manifest, MinedDir};

use crate::method::THRESHOLD_QUANTILES;
use crate::{EvalError, EvalResult};

/// The narrowest 5th-to-95th-percentile width of validation probabilities a judge may have
/// ([`score_spread`]). Below it the threshold is fragile: a small shift of the features at
/// decode time moves many mismatches across it (a judge at 1e-4 lost a third of the answers
/// its validation table promised to keep), and training refuses it
/// ([`EvalError::FragileJudge`]).
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
    /// How the decision threshold is chosen on validation.
    pub threshold: ThresholdRule,
}

/// How a judge's decision threshold is chosen on its validation split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdRule {
    /// The most permissive threshold that keeps this recall of important tokens.
    Recall(f64),
    /// The most permissive threshold that lets at most this many important mismatches per
    /// validation prompt through on average (aimed at keeping the answer).
    ImportantPerPrompt(f64),
}

impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThresholdRule::Recall(r) => write!(f, "recall >= {r}"),
            ThresholdRule::ImportantPerPrompt(b) => {
                write!(f, "<= {b} accepted important mismatches per prompt")
            }
        }
    }
}

impl Default for TrainOptions {
    /// DD-DT, the reference's grid, 10% of prompts for validation (as the reference), seed 0, unweighted, tolerance
    /// 1e-5 (changes validation AUC by < 1e-4 against 1e-8 at a fraction of the time), 2000
    /// iterations, threshold at recall 0.9.
    fn default() -> Self {
        TrainOptions {
            features: FeatureSet::DraftAndTarget,
            c_grid: None,
            val_fraction: 0.1,
            seed: 0,
            class_weight: ClassWeight::None,
            tol: 1e-5,
            max_iter: 2000,
            threshold: ThresholdRule::Recall(0.9),
        }
    }
}

/// Training rows of one or more mined directories of the same model pair.
#[derive(Clone, Debug)]
pub struct TrainingSet {
    /// Feature set of the rows.
    pub features: FeatureSet,
    /// Feature rows.
    pub x: Rows,
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
        let (mut x, mut y, mut groups) = (Rows::default(), Vec::new(), Vec::new());
        for (k, (path, d)) in dirs.iter().zip(&opened).enumerate() {
            let (m, f) = (&d.manifest, &first.manifest);
            if m.target != f.target || m.draft != f.draft {
                return Err(EvalError::Conflict {
                    path: path.display().to_string(),
                    reason: format!("mined with other models than {}", dirs[0].display()),
                });
            }
            let rows = d.training_rows(features)?;
            for row in &rows.features {
                x.push(row).map_err(|e| EvalError::Conflict {
                    path: path.display().to_string(),
                    reason: format!("its `{features}` rows differ in width from the first's: {e}"),
                })?;
            }
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
        self.x.width()
    }
}

/// A fitted judge with everything model selection measured.
#[derive(Clone, Debug)]
pub struct TrainedJudge {
    /// The judge (scaler + logistic regression fitted on the train split at the chosen C: the
    /// model whose validation scores set the threshold).
    pub judge: JudgeModel,
    /// Indices (into the training set's rows) of the validation rows.
    pub validation_rows: Vec<usize>,
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
    /// This judge's methods for an evaluation plan, without a file: at its chosen threshold
    /// and at the validation-table thresholds nearest each accepted fraction in `quantiles`
    /// ([`crate::judge_methods`]), under the family `label` (e.g. `autojudge-dd-dt`).
    pub fn methods(&self, label: &str, quantiles: &[f64]) -> Vec<crate::Method> {
        crate::judge_methods(label, &self.judge, &self.meta, quantiles)
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
                m.threshold, m.recall, m.precision, m.accuracy, m.accepted_fraction
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

/// Fits the judge on `set`: C by validation ROC-AUC over the grid (split by prompt), the
/// train-split model at that C, threshold by `opts.threshold` on its validation scores (0.5 when
/// validation has no important row), and the validation threshold table at
/// [`THRESHOLD_QUANTILES`]. A judge whose threshold accepts none or every validation mismatch
/// is refused ([`EvalError::DegenerateJudge`]): deployed, it would be lossless or accept
/// everything.
pub fn train_judge(set: &TrainingSet, opts: &TrainOptions) -> EvalResult<TrainedJudge> {
    match opts.threshold {
        ThresholdRule::Recall(r) if !(r > 0.0 && r <= 1.0) => {
            return Err(EvalError::InvalidOption {
                field: "recall",
                reason: format!("{r} (must be in (0, 1])"),
            })
        }
        ThresholdRule::ImportantPerPrompt(b) if !(b >= 0.0 && b.is_finite()) => {
            return Err(EvalError::InvalidOption {
                field: "important per prompt",
                reason: format!("{b} (must be a finite number ≥ 0)"),
            })
        }
        _ => {}
    }
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
    let spread = score_spread(&sel.validation_scores);
    if spread < MIN_USABLE_SPREAD {
        return Err(EvalError::FragileJudge {
            spread,
            minimum: MIN_USABLE_SPREAD,
            c: sel.best_c,
        });
    }
    let yv: Vec<bool> = sel.validation.iter().map(|&i| set.y[i]).collect();
    let table = threshold_table(&sel.validation_scores, &yv, &THRESHOLD_QUANTILES);
    let threshold = match opts.threshold {
        ThresholdRule::Recall(r) => threshold_for_recall(&sel.validation_scores, &yv, r),
        ThresholdRule::ImportantPerPrompt(b) => {
            let mut prompts: Vec<u64> = sel.validation.iter().map(|&i| set.groups[i]).collect();
            prompts.sort_unstable();
            prompts.dedup();
            threshold_for_budget(&sel.validation_scores, &yv, prompts.len(), b)
        }
    }
    .unwrap_or(0.5);
    let at_chosen = at_threshold(&sel.validation_scores, &yv, threshold);
    let threshold = Threshold::new(threshold).map_err(ClassifierError::from)?;
    if at_chosen.accepted_fraction <= 0.0 || at_chosen.accepted_fraction >= 1.0 {
        let (lo, hi) = sel
            .validation_scores
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &s| {
                (l.min(s), h.max(s))
            });
        return Err(EvalError::DegenerateJudge {
            accepted_fraction: at_chosen.accepted_fraction,
            reason: format!(
                "threshold {threshold:.6} ({}) against validation scores in \
                 [{lo:.6}, {hi:.6}] (C = {:e}, {} validation rows); more mined prompts or \
                 another feature set or C grid may separate the classes",
                opts.threshold,
                sel.best_c,
                yv.len()
            ),
        });
    }
    let m = &set.first;
    let meta = JudgeMeta {
        features: set.features,
        draft: (set.features.uses_draft_hidden() || set.features.needs().logits)
            .then(|| (m.draft.name.clone(), m.draft.hidden_size)),
        target: (m.target.name.clone(), m.target.hidden_size),
        tokenizer: m.target.tokenizer.0.clone(),
        options: sel.model.options,
        threshold,
        threshold_table: Vec::new(),
        c_table: sel.table.clone(),
        samples: {
            // The rows the shipped model was fitted on: the training split.
            let val: std::collections::HashSet<usize> = sel.validation.iter().copied().collect();
            let train = (0..set.x.len()).filter(|i| !val.contains(i));
            let (rows, important) =
                train.fold((0, 0), |(n, k), i| (n + 1, k + usize::from(set.y[i])));
            (rows, important)
        },
    }
    .with_table(&table)
    .map_err(ClassifierError::from)?;
    Ok(TrainedJudge {
        probability_spread: spread,
        best_c: sel.best_c,
        validation_rows: sel.validation.clone(),
        thresholds: THRESHOLD_QUANTILES.iter().copied().zip(table).collect(),
        at_chosen,
        judge: JudgeModel {
            features: set.features,
            model: sel.model,
        },
        meta,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use autojudge_core::{Judge, TokenizerId};
    use autojudge_search::{FeatureDType, ModelIdentity, SearchConfig, Shard};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Synthetic labelled rows: `prompts` prompts of `per_prompt` rows, 30% important.
    pub(crate) struct TestRows {
        y: Vec<bool>,
        groups: Vec<u64>,
        seed: u64,
    }

    impl TestRows {
        pub(crate) fn new(prompts: u64, per_prompt: usize, seed: u64) -> Self {
            let mut rng = StdRng::seed_from_u64(seed);
            let groups: Vec<u64> = (0..prompts)
                .flat_map(|p| std::iter::repeat_n(p, per_prompt))
                .collect();
            let y = groups.iter().map(|_| rng.random::<f64>() < 0.3).collect();
            TestRows { y, groups, seed }
        }

        /// Rows of `features` whose first column is shifted by `signal` on important rows.
        pub(crate) fn set(&self, features: FeatureSet, signal: f64) -> TrainingSet {
            let mut rng = StdRng::seed_from_u64(self.seed + 1 + signal.to_bits() % 97);
            let x = Rows::from_rows(self.y.iter().map(|&l| {
                (0..4)
                    .map(|k| {
                        let shift = if l && k == 0 { signal } else { 0.0 };
                        (rng.random::<f64>() * 2.0 - 1.0 + shift) as f32
                    })
                    .collect::<Vec<f32>>()
            }))
            .unwrap();
            TrainingSet {
                features,
                x,
                y: self.y.clone(),
                groups: self.groups.clone(),
                first: manifest(),
            }
        }
    }

    pub(crate) fn manifest() -> Manifest {
        let id = |name: &str| ModelIdentity {
            name: name.into(),
            tokenizer: TokenizerId("tok".into()),
            hidden_size: 4,
            vocab_size: 8,
        };
        Manifest {
            format: autojudge_search::MANIFEST_FORMAT,
            target: id("target"),
            draft: id("draft"),
            task: "toy".into(),
            dataset: "toy".into(),
            prompt_format: "plain".into(),
            oracle: "toy".into(),
            search: SearchConfig::default(),
            feature_dtype: FeatureDType::F32,
            shard: Shard::ALL,
            lines: 0..60,
        }
    }

    /// 60 prompts of 10 rows; the label leans on the first feature.
    fn noisy_set() -> TrainingSet {
        let mut rng = StdRng::seed_from_u64(3);
        let (mut x, mut y, mut groups) = (Rows::default(), Vec::new(), Vec::new());
        for p in 0..60u64 {
            for _ in 0..10 {
                let important = rng.random::<f64>() < 0.3;
                let shift = if important { 0.8 } else { 0.0 };
                let row: Vec<f32> = (0..4)
                    .map(|k| {
                        (rng.random::<f64>() * 2.0 - 1.0 + if k == 0 { shift } else { 0.0 }) as f32
                    })
                    .collect();
                x.push(&row).unwrap();
                y.push(important);
                groups.push(p);
            }
        }
        TrainingSet {
            features: FeatureSet::Target,
            x,
            y,
            groups,
            first: manifest(),
        }
    }

    #[test]
    fn the_saved_judge_reproduces_its_validation_recall() {
        let set = noisy_set();
        let trained = train_judge(&set, &TrainOptions::default()).unwrap();
        let dir = std::env::temp_dir().join(format!("autojudge-train-{}", std::process::id()));
        let path = dir.join("dt.safetensors");
        trained.save(&path).unwrap();
        let (judge, meta) = autojudge_classifier::load_judge(&path).unwrap();
        let rows = set.x.select(&trained.validation_rows);
        let labels: Vec<bool> = trained.validation_rows.iter().map(|&i| set.y[i]).collect();
        let scores: Vec<f64> = judge
            .p_important(&rows)
            .into_iter()
            .map(f64::from)
            .collect();
        let got = at_threshold(&scores, &labels, meta.threshold.get());
        assert_eq!(got.recall, trained.at_chosen.recall);
        assert_eq!(got.accepted_fraction, trained.at_chosen.accepted_fraction);
        assert!(got.recall >= 0.9 && got.accepted_fraction > 0.0 && got.accepted_fraction < 1.0);
        // 10% of the 60 prompts, whole.
        assert_eq!(trained.validation_rows.len(), 60);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_judge_that_accepts_nothing_is_refused_with_the_reason() {
        // Every prompt's rows share one feature vector and hold at least one important row, so
        // every score is shared by an important row: a threshold catching all of them (recall
        // 1) accepts no mismatch. Prompts with a high first feature hold two of three.
        let mut rng = StdRng::seed_from_u64(5);
        let (mut x, mut y, mut groups) = (Rows::default(), Vec::new(), Vec::new());
        for p in 0..40u64 {
            let row: Vec<f32> = (0..3).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
            let important = if row[0] > 0.0 { 2 } else { 1 };
            for k in 0..3 {
                x.push(&row).unwrap();
                y.push(k < important);
                groups.push(p);
            }
        }
        let set = TrainingSet {
            features: FeatureSet::Target,
            x,
            y,
            groups,
            first: manifest(),
        };
        let opts = TrainOptions {
            threshold: ThresholdRule::Recall(1.0),
            val_fraction: 0.25,
            ..TrainOptions::default()
        };
        let err = train_judge(&set, &opts).expect_err("no threshold can accept a mismatch");
        assert!(matches!(err, EvalError::DegenerateJudge { .. }), "{err}");
        assert!(err.to_string().contains("validation scores in"), "{err}");
        // The same rows with room to let important mismatches through train fine.
        let budget = TrainOptions {
            threshold: ThresholdRule::ImportantPerPrompt(1.0),
            ..opts
        };
        let ok = train_judge(&set, &budget).unwrap();
        for bad in [
            ThresholdRule::Recall(0.0),
            ThresholdRule::ImportantPerPrompt(-1.0),
        ] {
            let opts = TrainOptions {
                threshold: bad,
                ..TrainOptions::default()
            };
            let err = train_judge(&set, &opts).expect_err("out of range");
            assert!(matches!(err, EvalError::InvalidOption { .. }), "{err}");
        }
        assert!(ok.at_chosen.accepted_fraction > 0.0 && ok.at_chosen.accepted_fraction < 1.0);
    }

    /// Separable rows: the first feature's sign is the label.
    fn separable_set() -> TrainingSet {
        let mut rng = StdRng::seed_from_u64(9);
        let (mut x, mut y, mut groups) = (Rows::default(), Vec::new(), Vec::new());
        for p in 0..40u64 {
            for _ in 0..6 {
                let important = rng.random::<f64>() < 0.4;
                let first = rng.random::<f32>() * 0.9 + 0.1;
                let row = vec![
                    if important { first } else { -first },
                    rng.random::<f32>() * 2.0 - 1.0,
                ];
                x.push(&row).unwrap();
                y.push(important);
                groups.push(p);
            }
        }
        TrainingSet {
            features: FeatureSet::Target,
            x,
            y,
            groups,
            first: manifest(),
        }
    }

    #[test]
    fn auc_ties_go_to_the_c_that_separates_and_a_fragile_judge_is_refused() {
        let set = separable_set();
        // Every C ranks separable rows perfectly; the tie goes to the widest spread.
        let grid = vec![1e-6, 1e-4, 1.0, 100.0];
        let opts = TrainOptions {
            c_grid: Some(grid.clone()),
            ..TrainOptions::default()
        };
        let trained = train_judge(&set, &opts).unwrap();
        assert!(
            trained.meta.c_table.iter().all(|(_, a)| *a == Some(1.0)),
            "{:?}",
            trained.meta.c_table
        );
        assert!(trained.best_c >= 1.0, "C = {}", trained.best_c);
        assert!(trained.probability_spread >= MIN_USABLE_SPREAD);
        // Only tiny Cs: the scores hug the base rate, and no judge is made of them.
        let tiny = TrainOptions {
            c_grid: Some(vec![1e-6]),
            ..TrainOptions::default()
        };
        let err = train_judge(&set, &tiny).expect_err("a fragile judge");
        let EvalError::FragileJudge { spread, minimum, c } = err else {
            panic!("{err}");
        };
        assert!(spread < minimum && minimum == MIN_USABLE_SPREAD && c == 1e-6);
        assert!(err_text(&set, &tiny).contains("--c-grid"));
    }

    fn err_text(set: &TrainingSet, opts: &TrainOptions) -> String {
        train_judge(set, opts).unwrap_err().to_string()
    }
}
