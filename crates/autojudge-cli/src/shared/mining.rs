//! Mining pieces shared by `mine`, `merge` and `pipeline`: flag checks, the manifest of a
//! run, the progress bar and summary lines.

use crate::draft_choice::ModelPair;
use crate::task_choice::TaskArgs;
use autojudge_core::TargetModel;
use autojudge_runs::Flight;
use autojudge_search::{
    FeatureDType, Manifest, MiningProgress, PromptOutcome, PromptRecord, SearchConfig, Shard,
    Totals,
};
use autojudge_tasks::{Oracle, TaskLine};
use burn::tensor::backend::Backend;
use indicatif::{ProgressBar, ProgressStyle};

/// Refuses a first block larger than the largest (`--min-block`, `--max-block`) and a largest
/// draft window below the first (`--draft-proposals`, `--max-draft-proposals`); the message
/// names the flags.
pub fn check_windows(
    (min_block, max_block): (usize, usize),
    (proposals, max_proposals): (usize, usize),
) -> Result<(), String> {
    if min_block > max_block {
        return Err(format!(
            "--min-block {min_block} exceeds --max-block {max_block}; the block grows from \
             the first to the largest"
        ));
    }
    if max_proposals != 0 && max_proposals < proposals {
        return Err(format!(
            "--max-draft-proposals {max_proposals} is below --draft-proposals {proposals}; \
             the window grows from --draft-proposals (0 = a fixed window)"
        ));
    }
    Ok(())
}

/// One-line summary of mined totals.
pub fn summary(t: &Totals) -> String {
    let mined = t.mined().max(1) as f64;
    format!(
        "{} prompts ({} failed): {:.1} response tokens and {:.1} mismatches per response, {:.1}% important; \
         per prompt: {:.1} target calls ({:.1}x fewer than the naive algorithm's), {:.0} target tokens, {:.2} s",
        t.prompts,
        t.failed,
        t.response_tokens as f64 / mined,
        t.mismatches as f64 / mined,
        100.0 * t.important_fraction(),
        t.work.target_calls as f64 / mined,
        t.naive_target_calls as f64 / t.work.target_calls.max(1) as f64,
        t.work.target_tokens as f64 / mined,
        t.wall_ms as f64 / 1000.0 / t.prompts.max(1) as f64,
    )
}

/// What a mined directory records for this task, model pair and search (`tasks` are the
/// selected dataset lines, before sharding).
pub fn manifest<B: Backend>(
    task: &TaskArgs,
    pair: &ModelPair<B>,
    oracle: &dyn Oracle,
    search: SearchConfig,
    feature_dtype: FeatureDType,
    shard: Shard,
    tasks: &[TaskLine],
) -> Manifest {
    Manifest {
        format: autojudge_search::MANIFEST_FORMAT,
        target: pair.target.info().into(),
        draft: pair.draft.info().into(),
        task: task.name().into(),
        dataset: task.file_name(),
        prompt_format: task.prompt_identity(pair.template.is_some()),
        oracle: oracle.name(),
        search,
        feature_dtype,
        shard,
        lines: tasks.first().map_or(0, TaskLine::index)..tasks.last().map_or(0, |t| t.index() + 1),
    }
}

/// Tokens a session may hold beyond the response budget (the prompt), for memory estimates.
pub const PROMPT_ALLOWANCE: usize = 1024;

/// Prompts in flight, mean batch and the target's aggregate tokens/s of a concurrent run.
pub fn flight_line(f: &Flight) -> String {
    format!(
        "{} in flight, batch {:.1}, target {:.0} tok/s",
        f.in_flight,
        f.target.mean_batch(),
        f.target_tokens_per_s()
    )
}

/// The mining progress bar: prompts done, failures, running label and call figures.
pub struct MiningBar(ProgressBar);

impl MiningBar {
    /// A bar over `total` prompts of which `done` are already committed.
    pub fn new(total: usize, done: usize) -> anyhow::Result<Self> {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(ProgressStyle::with_template(
            "{bar:30} {pos}/{len} prompts, {elapsed} elapsed, ETA {eta} | {msg}",
        )?);
        bar.set_position(done as u64);
        Ok(MiningBar(bar))
    }

    /// Shows one mining event: a committed prompt with the directory's running totals, or a
    /// tick with the prompts in flight and the batched throughput.
    pub fn show(&self, p: MiningProgress<'_>) {
        match p {
            MiningProgress::Committed {
                record,
                totals,
                flight,
            } => self.mined(record, totals, &flight),
            MiningProgress::Tick(flight) => {
                if let Some(msg) = self.0.message().split(" | ").next() {
                    self.0
                        .set_message(format!("{msg} | {}", flight_line(&flight)));
                }
            }
        }
    }

    fn mined(&self, r: &PromptRecord, t: &Totals, flight: &Flight) {
        self.0.inc(1);
        if let PromptOutcome::Failed { reason } = &r.outcome {
            self.0.println(format!(
                "prompt {} ({}) failed: {reason}",
                r.index, r.task_id
            ));
        }
        self.0.set_message(format!(
            "{} mismatches, {:.1}% important, {:.0} target calls/prompt | {}",
            t.mismatches,
            100.0 * t.important_fraction(),
            t.work.target_calls as f64 / t.mined().max(1) as f64,
            flight_line(flight)
        ));
    }

    /// Mining finished: closes the bar and prints the summary line.
    pub fn finish(&self, t: &Totals) {
        self.0.finish();
        println!("{}", summary(t));
    }
}
