//! `autojudge report`: one evaluation report from result directories that ran in parallel
//! (e.g. two halves of the test prompts, one per core) or from one directory, without running a
//! model. Every directory must have the same settings (`eval.json`); a (method, prompt) pair
//! found twice is refused. Writes the joined `results.jsonl`, the summary and the plots.

use std::path::PathBuf;

use clap::Args;

use crate::numeric_flag::BOOTSTRAP;
use crate::output_guard::{check_outputs, Input, Output, OutputKind};
use crate::shared::report_files::write_reports;

/// Arguments of `report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Evaluation directories (each holding `eval.json` and `results.jsonl`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Report directory (one of the inputs, or a new directory for the joined results).
    #[arg(long)]
    pub out: PathBuf,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 2000, value_parser = BOOTSTRAP.parser::<usize>())]
    pub bootstrap: usize,
}

/// Runs `report`.
pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    // `--out` may be one of the inputs (its report is rewritten, its results are not).
    let inputs: Vec<Input<'_>> = a
        .dirs
        .iter()
        .filter(|d| !autojudge_eval::same_path(d, &a.out))
        .map(|d| Input {
            flag: "dir",
            path: d,
        })
        .collect();
    check_outputs(
        &[Output::new("--out", &a.out, OutputKind::EvalDir)],
        &inputs,
    )?;
    let report = autojudge_eval::join_dirs(&a.dirs, &a.out, a.bootstrap)?;
    write_reports(&a.out, &report)
}
