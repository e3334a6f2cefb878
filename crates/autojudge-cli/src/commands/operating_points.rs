//! `autojudge operating-points`: evaluation directories at several draft windows (directories
//! with the same window are joined) compared on the prompts they share: every method at every
//! k next to lossless SD, the best gain in tokens per target call of each method family under
//! the answer criteria, and plots of accuracy and agreement against tokens per target call
//! (one curve per family and window).

use std::path::PathBuf;

use autojudge_eval::{sweep_dirs, Criterion, MethodSummary};
use clap::Args;

use crate::numeric_flag::{AGREEMENT, BOOTSTRAP, DROP_POINTS, PROMPTS};
use crate::output_guard::{check_outputs, Input, Output, OutputKind};

/// Arguments of `operating-points`.
#[derive(Args)]
pub struct OperatingPointsArgs {
    /// Evaluation directories (each holding `eval.json` and `results.jsonl`); their settings
    /// may differ only in the window k.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Only the first N prompts (dataset order) that every window has lines for.
    #[arg(long, value_parser = PROMPTS.parser::<usize>())]
    pub first: Option<usize>,
    /// Only these method families (repeatable; target-only and lossless always stay): a family
    /// evaluated on fewer prompts would otherwise shrink every row to its prompts.
    #[arg(long = "family")]
    pub families: Vec<String>,
    /// Criterion (a): minimum agreement with target-only on the prompts target-only answers
    /// correctly (with Δ accuracy's interval containing 0).
    #[arg(long, default_value_t = 0.98, value_parser = AGREEMENT.parser::<f64>())]
    pub min_agreement_on_correct: f64,
    /// Criterion (b): largest accuracy drop vs target-only, in points.
    #[arg(long, default_value_t = 2.0, value_parser = DROP_POINTS.parser::<f64>())]
    pub max_drop_points: f64,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 2000, value_parser = BOOTSTRAP.parser::<usize>())]
    pub bootstrap: usize,
    /// Output directory: operating_points.md, sweep.{csv,json} and the plots.
    #[arg(long)]
    pub out: PathBuf,
}

/// The files `operating-points` writes into `--out`.
pub const SWEEP_FILES: &[&str] = &[
    "operating_points.md",
    "sweep.csv",
    "sweep.json",
    "accuracy_vs_tokens_per_call.png",
    "accuracy_vs_tokens_per_call.svg",
    "agreement_vs_tokens_per_call.png",
    "agreement_vs_tokens_per_call.svg",
];

/// Runs `operating-points`.
pub fn run(a: OperatingPointsArgs) -> anyhow::Result<()> {
    let inputs: Vec<Input<'_>> = a
        .dirs
        .iter()
        .map(|d| Input {
            flag: "dir",
            path: d,
        })
        .collect();
    check_outputs(
        &[Output::new(
            "--out",
            &a.out,
            OutputKind::FilesIn(SWEEP_FILES),
        )],
        &inputs,
    )?;
    let criteria = [
        Criterion::NoDetectableLoss {
            min_agreement_on_correct: a.min_agreement_on_correct,
        },
        Criterion::AccuracyDrop {
            max_drop_points: a.max_drop_points,
        },
    ];
    let sweep = sweep_dirs(&a.dirs, a.first, &a.families, &criteria, a.bootstrap)?;
    sweep.write_tables(&a.out)?;
    println!("{}", sweep.markdown());
    // One curve per family and window: the plot groups rows by family.
    let rows: Vec<MethodSummary> = sweep
        .rows
        .iter()
        .map(|r| MethodSummary {
            family: format!("{} (k={})", r.summary.family, r.k),
            ..r.summary.clone()
        })
        .collect();
    crate::shared::report_files::plot_answers_against(
        &a.out,
        &rows,
        "tokens_per_call",
        ("tokens per target call", |r| r.tokens_per_target_call),
    );
    Ok(())
}
