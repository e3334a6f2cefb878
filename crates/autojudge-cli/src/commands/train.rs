//! `autojudge train`: fits the judge on mined directories (C chosen by validation ROC-AUC,
//! split by prompt), prints the C-vs-AUC and threshold tables, writes them as CSV next to the
//! judge, and saves the judge (safetensors + JSON metadata).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use autojudge_classifier::persist::{save, JudgeMeta};
use autojudge_classifier::selection::{default_c_grid, select_c};
use autojudge_classifier::thresholds::{threshold_for_recall, threshold_table};
use autojudge_classifier::{ClassWeight, JudgeModel, LogisticRegressionOptions};
use autojudge_core::FeatureSet;
use autojudge_search::MinedDir;
use clap::{Args, ValueEnum};

/// Feature set flag.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FeatureFlag {
    /// Target hidden state (DT).
    Dt,
    /// Draft hidden ++ target hidden (DD-DT).
    DdDt,
}

impl From<FeatureFlag> for FeatureSet {
    fn from(f: FeatureFlag) -> Self {
        match f {
            FeatureFlag::Dt => FeatureSet::Target,
            FeatureFlag::DdDt => FeatureSet::DraftAndTarget,
        }
    }
}

/// Class weighting flag.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum WeightFlag {
    /// Every sample weighs 1.
    None,
    /// Weights inversely proportional to class frequency.
    Balanced,
}

/// Arguments of `train`.
#[derive(Args, Clone)]
pub struct TrainArgs {
    /// Mined directories (merged shards or several runs of the same pair).
    #[arg(long = "data", required = true)]
    pub data: Vec<PathBuf>,
    /// Feature set.
    #[arg(long, value_enum, default_value = "dd-dt")]
    pub features: FeatureFlag,
    /// Output judge file.
    #[arg(long)]
    pub out: PathBuf,
    /// C grid (default 1e-7 … 1e2, log-spaced).
    #[arg(long, value_delimiter = ',')]
    pub c_grid: Option<Vec<f64>>,
    /// Fraction of prompts held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Class weights.
    #[arg(long, value_enum, default_value = "none")]
    pub class_weight: WeightFlag,
    /// L-BFGS gradient tolerance relative to the initial gradient (the fidelity tests use
    /// 1e-8; 1e-5 changes validation AUC by < 1e-4 at a fraction of the time).
    #[arg(long, default_value_t = 1e-5)]
    pub tol: f64,
    /// L-BFGS iteration cap per fit.
    #[arg(long, default_value_t = 2000)]
    pub max_iter: usize,
    /// Pick the decision threshold that keeps this recall of important tokens on validation.
    #[arg(long, default_value_t = 0.9)]
    pub recall: f64,
}

/// Validation quantiles of the threshold table.
pub const QUANTILES: [f64; 19] = [
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85,
    0.9, 0.95,
];

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "judge".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.{suffix}"))
}

/// Below this 5th-to-95th-percentile width of validation probabilities a threshold is fragile.
const MIN_USABLE_SPREAD: f64 = 0.05;

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

/// Runs `train`; returns the judge path's metadata.
pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    train(&a).map(|_| ())
}

/// Trains and saves; returns the metadata written.
pub fn train(a: &TrainArgs) -> anyhow::Result<JudgeMeta> {
    let set: FeatureSet = a.features.into();
    let dirs: Vec<MinedDir> = a
        .data
        .iter()
        .map(|d| MinedDir::open(d))
        .collect::<Result<_, _>>()?;
    let first = &dirs[0].manifest;
    for (p, d) in a.data.iter().zip(&dirs).skip(1) {
        if d.manifest.target != first.target || d.manifest.draft != first.draft {
            anyhow::bail!(
                "{}: mined with other models than {}",
                p.display(),
                a.data[0].display()
            );
        }
    }
    let (mut x, mut y, mut g) = (Vec::new(), Vec::new(), Vec::new());
    for (k, d) in dirs.iter().enumerate() {
        let rows = d.training_rows(set)?;
        x.extend(rows.features);
        y.extend(rows.labels);
        // Prompts of different directories are different groups.
        g.extend(rows.groups.into_iter().map(|p| ((k as u64) << 40) | p));
    }
    let positives = y.iter().filter(|&&l| l).count();
    let prompts = {
        let mut s = g.clone();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    eprintln!(
        "training {:?} judge on {} mismatches ({} important, {:.1}%) from {prompts} prompts, {} features",
        set,
        x.len(),
        positives,
        100.0 * positives as f64 / x.len().max(1) as f64,
        x.first().map_or(0, Vec::len)
    );
    let grid = a.c_grid.clone().unwrap_or_else(default_c_grid);
    let base = LogisticRegressionOptions {
        class_weight: match a.class_weight {
            WeightFlag::None => ClassWeight::None,
            WeightFlag::Balanced => ClassWeight::Balanced,
        },
        tol: a.tol,
        max_iter: a.max_iter,
        ..LogisticRegressionOptions::default()
    };
    let t0 = Instant::now();
    let sel = select_c(&x, &y, &g, &grid, a.val_fraction, a.seed, base)?;
    let yv: Vec<bool> = sel.validation.iter().map(|&i| y[i]).collect();
    let table = threshold_table(&sel.validation_scores, &yv, &QUANTILES);
    let threshold = threshold_for_recall(&sel.validation_scores, &yv, a.recall).unwrap_or(0.5);
    eprintln!(
        "fitted {} C values and the refit in {:.1} s (refit: {} iterations, {})",
        grid.len(),
        t0.elapsed().as_secs_f64(),
        sel.model.iterations,
        if sel.model.converged {
            "converged"
        } else {
            "iteration cap reached"
        }
    );

    let mut c_csv = String::from("c,validation_auc\n");
    println!("\n| C | validation ROC-AUC |\n| --- | --- |");
    for (c, auc) in &sel.table {
        let auc_s = auc.map_or("-".into(), |v| format!("{v:.4}"));
        let mark = if *c == sel.best_c { " (best)" } else { "" };
        println!("| {c:e} | {auc_s}{mark} |");
        writeln!(
            c_csv,
            "{c:e},{}",
            auc.map_or(String::new(), |v| v.to_string())
        )?;
    }
    let mut t_csv =
        String::from("quantile,threshold,recall,precision,accuracy,accepted_fraction\n");
    println!("\n| quantile | threshold | recall (important) | precision | accuracy | mismatches accepted |\n| --- | --- | --- | --- | --- | --- |");
    for (q, m) in QUANTILES.iter().zip(&table) {
        println!(
            "| {q:.2} | {:.4} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.threshold, m.recall, m.precision, m.accuracy, m.negative_rate
        );
        writeln!(
            t_csv,
            "{q},{},{},{},{},{}",
            m.threshold, m.recall, m.precision, m.accuracy, m.negative_rate
        )?;
    }
    let at = autojudge_classifier::metrics::at_threshold(&sel.validation_scores, &yv, threshold);
    println!(
        "\nthreshold for recall >= {}: {threshold:.4} (validation recall {:.3}, {:.1}% of mismatches accepted)",
        a.recall,
        at.recall,
        100.0 * at.negative_rate
    );
    let spread = score_spread(&sel.validation_scores);
    if spread < MIN_USABLE_SPREAD {
        eprintln!(
            "warning: the validation probabilities of C = {:e} span only {spread:.4} (5th to 95th \
             percentile), so its threshold is fragile: a small shift of the features at decode \
             time moves many mismatches across it. A larger C from the AUC plateau (--c-grid) \
             spreads them.",
            sel.best_c
        );
    }
    let meta = JudgeMeta {
        features: set,
        draft: match set {
            FeatureSet::DraftAndTarget => Some((first.draft.name.clone(), first.draft.hidden_size)),
            FeatureSet::Target => None,
        },
        target: (first.target.name.clone(), first.target.hidden_size),
        tokenizer: first.target.tokenizer.0.clone(),
        options: sel.model.options,
        threshold,
        threshold_table: Vec::new(),
        c_table: sel.table.clone(),
        samples: (x.len(), positives),
    }
    .with_table(&table);
    let judge = JudgeModel {
        features: set,
        model: sel.model,
    };
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    save(&a.out, &judge, &meta)?;
    std::fs::write(sibling(&a.out, "c_table.csv"), c_csv)?;
    std::fs::write(sibling(&a.out, "thresholds.csv"), t_csv)?;
    println!(
        "wrote {} (+ .c_table.csv, .thresholds.csv)",
        a.out.display()
    );
    Ok(meta)
}
