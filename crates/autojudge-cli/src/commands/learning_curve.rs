//! `autojudge learning-curve`: validation ROC-AUC of each feature set against the number of
//! mined training prompts, on one fixed validation split, with bootstrap intervals and the
//! paired difference to a reference set; a Markdown table, a CSV and a plot.

use std::path::PathBuf;

use anyhow::Context;
use autojudge_core::FeatureSet;
use autojudge_eval::{learning_curve, CurveSpec, TrainOptions};
use clap::Args;

use crate::list_arg::ListArg;
use crate::numeric_flag::{BOOTSTRAP, C, SEED, TRAIN_PROMPTS, VAL_FRACTION};
use crate::output_guard::{check_outputs, Input, Output, OutputKind};

/// Arguments of `learning-curve`.
#[derive(Args, Clone)]
pub struct LearningCurveArgs {
    /// Mined directories (one model pair).
    #[arg(long = "data", required = true)]
    pub data: Vec<PathBuf>,
    /// Feature sets compared.
    #[arg(
        long,
        default_value = "dt,dd-dt,logits,dt+logits,dd-dt+logits,prev+own"
    )]
    pub features: ListArg<FeatureSet>,
    /// Training sizes in prompts.
    #[arg(
        long,
        default_value = "25,50,100,200,300",
        value_parser = TRAIN_PROMPTS.nonempty_list::<usize>()
    )]
    pub sizes: ListArg<usize>,
    /// The set the others are compared with.
    #[arg(long, default_value = "dd-dt")]
    pub reference: FeatureSet,
    /// Fraction of prompts held out for validation (fixed for every point).
    #[arg(long, default_value_t = 0.1, value_parser = VAL_FRACTION.parser::<f64>())]
    pub val_fraction: f64,
    /// Seed of the split and of the training-prompt order.
    #[arg(long, default_value_t = 0, value_parser = SEED.parser::<u64>())]
    pub seed: u64,
    /// C grid (default: the reference's).
    #[arg(long, value_delimiter = ',', value_parser = C.parser::<f64>())]
    pub c_grid: Option<Vec<f64>>,
    /// Bootstrap resamples of the validation prompts.
    #[arg(long, default_value_t = 1000, value_parser = BOOTSTRAP.parser::<usize>())]
    pub bootstrap: usize,
    /// The mining gate's cap: the most training prompts it ever asks for (gate.md).
    #[arg(long, default_value_t = 500, value_parser = TRAIN_PROMPTS.parser::<usize>())]
    pub gate_cap: usize,
    /// Output directory: learning_curve.{md,csv,png,svg} and gate.md.
    #[arg(long)]
    pub out: PathBuf,
}

/// The files `learning-curve` writes into `--out`.
pub const CURVE_FILES: &[&str] = &[
    "learning_curve.md",
    "learning_curve.csv",
    "learning_curve.png",
    "learning_curve.svg",
    "gate.md",
];

/// Runs `learning-curve`.
pub fn run(a: LearningCurveArgs) -> anyhow::Result<()> {
    let inputs: Vec<Input<'_>> = a
        .data
        .iter()
        .map(|d| Input {
            flag: "--data",
            path: d,
        })
        .collect();
    check_outputs(
        &[Output::new(
            "--out",
            &a.out,
            OutputKind::FilesIn(CURVE_FILES),
        )],
        &inputs,
    )?;
    let spec = CurveSpec {
        sets: a.features.items().to_vec(),
        sizes: a.sizes.items().to_vec(),
        reference: a.reference,
        train: TrainOptions {
            c_grid: a.c_grid.clone(),
            val_fraction: a.val_fraction,
            seed: a.seed,
            ..TrainOptions::default()
        },
        bootstrap: a.bootstrap,
    };
    let curve = learning_curve(&a.data, &spec, &mut |p| {
        eprintln!(
            "{:>13} {:>4} prompts ({:>5} rows): AUC {:.3} [{:.3}, {:.3}], C {:.2e}",
            p.features.name(),
            p.train_prompts,
            p.train_rows,
            p.auc,
            p.auc_low,
            p.auc_high,
            p.best_c
        )
    })?;
    std::fs::create_dir_all(&a.out).with_context(|| a.out.display().to_string())?;
    let (rows, important) = curve.validation_rows;
    let md = format!(
        "Validation: {} prompts, {rows} mismatches ({important} important); training prompts \
         available: {}. Cells: ROC-AUC at the C chosen on validation, as the reference reports \
         it (the choice makes it slightly optimistic, and the interval leaves the choice out) \
         [95% bootstrap interval over validation prompts, {} resamples].\n\n{}",
        curve.validation_prompts,
        curve.train_prompts,
        a.bootstrap,
        curve.markdown(a.reference)
    );
    let gate = curve
        .gate(a.gate_cap)
        .map_or_else(|| "Gate: no point was measured.\n".into(), |g| g.markdown());
    println!("{md}\n{gate}");
    for (name, text) in [
        ("learning_curve.md", md),
        ("learning_curve.csv", curve.csv()),
        ("gate.md", gate),
    ] {
        let p = a.out.join(name);
        std::fs::write(&p, text).with_context(|| p.display().to_string())?;
    }
    match crate::shared::plot::learning_curve(&a.out.join("learning_curve"), &curve) {
        Ok(paths) => paths.iter().for_each(|p| println!("wrote {}", p.display())),
        Err(e) => eprintln!("plot skipped: {e}"),
    }
    Ok(())
}
