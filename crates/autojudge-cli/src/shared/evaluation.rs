//! Evaluation pieces shared by `eval` and `pipeline`: the settings of a run and its progress
//! bar.

use crate::draft_choice::ModelPair;
use crate::shared::mining::flight_line;
use crate::task_choice::TaskArgs;
use autojudge_core::TargetModel;
use autojudge_eval::{EvalSettings, Progress, PromptPrefill};
use autojudge_tasks::Oracle;
use burn::tensor::backend::Backend;
use indicatif::{ProgressBar, ProgressStyle};

/// The settings an evaluation directory records for this task, pair and window.
pub fn eval_settings<B: Backend>(
    task: &TaskArgs,
    pair: &ModelPair<B>,
    oracle: &dyn Oracle,
    k: usize,
    max_new_tokens: usize,
    prefill: PromptPrefill,
) -> EvalSettings {
    EvalSettings {
        task: task.name().into(),
        data: task.file_name(),
        oracle: oracle.name(),
        chat: pair.template.is_some(),
        wording: task.wording_tag(),
        target: pair.target.info().name.clone(),
        draft: pair.draft.info().name.clone(),
        // The dtype the projections actually run in (`auto` resolved).
        dtype: format!("{:?}", pair.target.dtype()),
        k,
        max_new_tokens,
        prefill,
    }
}

/// The evaluation progress bar: generations done, the last committed one, prompts in flight
/// and batched throughput, skipped lines.
pub struct EvalBar(ProgressBar);

impl EvalBar {
    /// An empty bar; [`Progress::Planned`] sizes it.
    pub fn new() -> anyhow::Result<Self> {
        let bar = ProgressBar::new(0);
        bar.set_style(ProgressStyle::with_template(
            "{bar:30} {pos}/{len} generations, {elapsed} elapsed, ETA {eta} | {msg}",
        )?);
        Ok(EvalBar(bar))
    }

    /// Shows one progress event.
    pub fn show(&self, p: Progress<'_>) {
        match p {
            Progress::Planned { total, done } => {
                self.0.set_length(total as u64);
                self.0.set_position(done as u64);
            }
            Progress::Committed(line, flight) => {
                self.0.inc(1);
                self.0.set_message(format!(
                    "{} on {} | {}",
                    line.method,
                    line.task_id,
                    flight_line(&flight)
                ));
            }
            Progress::Tick(flight) => {
                let last = self.0.message();
                let head = last.split(" | ").next().unwrap_or_default().to_string();
                self.0
                    .set_message(format!("{head} | {}", flight_line(&flight)));
            }
            Progress::Skipped { task_id, reason } => {
                self.0.println(format!("skipped {task_id}: {reason}"))
            }
        }
    }

    /// Closes the bar.
    pub fn finish(&self) {
        self.0.finish();
    }
}
