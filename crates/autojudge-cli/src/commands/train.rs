//! `autojudge train`: fits the judge on mined directories through `autojudge_eval::train_judge`
//! (C chosen by validation ROC-AUC, split by prompt), prints the C-vs-AUC and threshold tables,
//! and saves the judge (safetensors + JSON metadata) with the tables as CSV next to it.

use std::path::PathBuf;
use std::time::Instant;

use autojudge_classifier::{ClassWeight, JudgeMeta};
use autojudge_core::FeatureSet;
use autojudge_eval::{sibling, train_judge, ThresholdRule, TrainOptions, TrainingSet};
use clap::{Args, ValueEnum};

use crate::numeric_flag::{C, IMPORTANT_PER_PROMPT, MAX_ITER, RECALL, SEED, TOL, VAL_FRACTION};
use crate::output_guard::{check_outputs, Input, Output, OutputKind};
use crate::shared::judge_tables::print_tables;

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
    /// Feature set: dt, dd-dt, logits, dt+logits, dd-dt+logits or prev+own (the last four
    /// need directories mined with previous-position states and logit features).
    #[arg(long, default_value = "prev+own")]
    pub features: FeatureSet,
    /// Output judge file.
    #[arg(long)]
    pub out: PathBuf,
    /// C grid (default: the reference's, 1e-7 … 10^-0.5 in half decades, 1, 3, 10, 50, 100).
    #[arg(long, value_delimiter = ',', value_parser = C.parser::<f64>())]
    pub c_grid: Option<Vec<f64>>,
    /// Fraction of prompts held out for validation (the reference's 10%).
    #[arg(long, default_value_t = 0.1, value_parser = VAL_FRACTION.parser::<f64>())]
    pub val_fraction: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 0, value_parser = SEED.parser::<u64>())]
    pub seed: u64,
    /// Class weights.
    #[arg(long, value_enum, default_value = "none")]
    pub class_weight: WeightFlag,
    /// L-BFGS gradient tolerance relative to the initial gradient (the fidelity tests use
    /// 1e-8; 1e-5 changes validation AUC by < 1e-4 at a fraction of the time).
    #[arg(long, default_value_t = 1e-5, value_parser = TOL.parser::<f64>())]
    pub tol: f64,
    /// L-BFGS iteration cap per fit.
    #[arg(long, default_value_t = 2000, value_parser = MAX_ITER.parser::<usize>())]
    pub max_iter: usize,
    /// Pick the decision threshold that keeps this recall of important tokens on validation.
    #[arg(
        long,
        default_value_t = 0.9,
        conflicts_with = "important_per_prompt",
        value_parser = RECALL.parser::<f64>()
    )]
    pub recall: f64,
    /// Pick instead the most permissive threshold that lets at most this many important
    /// mismatches per validation prompt through (aimed at the answer, e.g. 0.1).
    #[arg(long, value_parser = IMPORTANT_PER_PROMPT.parser::<f64>())]
    pub important_per_prompt: Option<f64>,
}

impl TrainArgs {
    /// The library options from the flags.
    pub fn options(&self) -> TrainOptions {
        TrainOptions {
            features: self.features,
            c_grid: self.c_grid.clone(),
            val_fraction: self.val_fraction,
            seed: self.seed,
            class_weight: match self.class_weight {
                WeightFlag::None => ClassWeight::None,
                WeightFlag::Balanced => ClassWeight::Balanced,
            },
            tol: self.tol,
            max_iter: self.max_iter,
            threshold: match self.important_per_prompt {
                Some(b) => ThresholdRule::ImportantPerPrompt(b),
                None => ThresholdRule::Recall(self.recall),
            },
        }
    }
}

/// Runs `train`.
pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    train(&a).map(|_| ())
}

/// Trains and saves; returns the metadata written. An `--out` that would overwrite a mined
/// directory's files (or any input) is refused before anything is read.
pub fn train(a: &TrainArgs) -> anyhow::Result<JudgeMeta> {
    let mut out = Output::new("--out", &a.out, OutputKind::File);
    out.siblings = vec![
        sibling(&a.out, "c_table.csv"),
        sibling(&a.out, "thresholds.csv"),
    ];
    let inputs: Vec<Input<'_>> = a
        .data
        .iter()
        .map(|d| Input {
            flag: "--data",
            path: d,
        })
        .collect();
    check_outputs(&[out], &inputs)?;
    let opts = a.options();
    let set = TrainingSet::load(&a.data, opts.features)?;
    eprintln!(
        "training {} judge on {} mismatches ({} important, {:.1}%) from {} prompts, {} features",
        set.features,
        set.x.len(),
        set.important(),
        100.0 * set.important() as f64 / set.x.len().max(1) as f64,
        set.prompts(),
        set.width()
    );
    let t0 = Instant::now();
    let trained = train_judge(&set, &opts)?;
    eprintln!(
        "fitted {} C values and the refit in {:.1} s (refit: {} iterations, {})",
        trained.meta.c_table.len(),
        t0.elapsed().as_secs_f64(),
        trained.judge.model.iterations,
        if trained.judge.model.converged {
            "converged"
        } else {
            "iteration cap reached"
        }
    );
    print_tables(&trained, a.options().threshold);
    trained.save(&a.out)?;
    println!(
        "wrote {} (+ .c_table.csv, .thresholds.csv)",
        a.out.display()
    );
    Ok(trained.meta)
}
