//! `autojudge report`: one evaluation report from result directories that ran in parallel
//! (e.g. two halves of the test prompts, one per core) or from one directory, without running a
//! model. Every directory must have the same settings (`eval.json`); a (method, prompt) pair
//! found twice is refused. Writes the joined `results.jsonl`, the summary and the plots.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::eval::read_done;
use super::eval_settings::EvalSettings;
use super::report::{summarize, write_reports, ResultLine};

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
    #[arg(long, default_value_t = 2000)]
    pub bootstrap: usize,
}

/// Methods in report order: target-only, lossless, then the others as they first appear.
fn method_order(lines: &[ResultLine]) -> Vec<String> {
    let mut order: Vec<String> = ["target-only", "lossless"]
        .into_iter()
        .filter(|m| lines.iter().any(|l| l.method == *m))
        .map(String::from)
        .collect();
    for l in lines {
        if !order.contains(&l.method) {
            order.push(l.method.clone());
        }
    }
    order
}

/// Runs `report`.
pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let out_is_input = a
        .dirs
        .iter()
        .any(|d| crate::same_path::same_path(d, &a.out));
    let joined = a.out.join("results.jsonl");
    if !out_is_input && joined.exists() {
        bail!(
            "{} already holds results; choose a new --out or pass it as an input",
            joined.display()
        );
    }
    std::fs::create_dir_all(&a.out)?;
    let mut settings: Option<EvalSettings> = None;
    let mut lines: Vec<ResultLine> = Vec::new();
    let mut seen = HashSet::new();
    for dir in &a.dirs {
        let s = EvalSettings::load(dir)?;
        s.check_or_write(&a.out)?;
        let path = dir.join("results.jsonl");
        for l in read_done(&path)? {
            if !seen.insert((l.method.clone(), l.index)) {
                bail!(
                    "{}: {} on dataset line {} is also in an earlier directory",
                    path.display(),
                    l.method,
                    l.index
                );
            }
            lines.push(l);
        }
        settings.get_or_insert(s);
    }
    let Some(s) = settings else {
        bail!("no input directories")
    };
    if !out_is_input {
        let mut f = std::fs::File::create(&joined)?;
        for l in &lines {
            writeln!(f, "{}", serde_json::to_string(l)?)?;
        }
        f.sync_all()?;
    }
    let order = method_order(&lines);
    let prompts: BTreeSet<usize> = lines.iter().map(|l| l.index).collect();
    let summary = summarize(&lines, &order, a.bootstrap);
    let title = format!(
        "{} on {} ({} prompts), target {}, draft {}, k = {}, max {} new tokens",
        s.task,
        s.data,
        prompts.len(),
        s.target,
        s.draft,
        s.k,
        s.max_new_tokens
    );
    write_reports(&a.out, &title, &summary)
}
