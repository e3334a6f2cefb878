//! The mining driver: every task of the run, in dataset order, mined and committed one by
//! one; finished prompts are skipped on resume and every failure becomes a record.

use std::time::Instant;

use autojudge_core::{TargetModel, TokenId};

use crate::record::{PromptOutcome, PromptRecord, WorkCounters};
use crate::semi_greedy::{mine_prompt, SearchConfig, SearchModels};
use crate::store::MinedDir;
use crate::task::TaskLine;
use crate::{SearchResult, Task};

/// Sums over records (progress display and reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Totals {
    /// Prompts committed.
    pub prompts: usize,
    /// Of which failed.
    pub failed: usize,
    /// Mismatches tested.
    pub mismatches: usize,
    /// Of which important.
    pub important: usize,
    /// Tokens in the target's greedy responses.
    pub response_tokens: usize,
    /// Work counters.
    pub work: WorkCounters,
    /// Wall time in milliseconds.
    pub wall_ms: u64,
    /// Target calls the reference (naive) algorithm would have spent on the mined prompts.
    pub naive_target_calls: u64,
}

impl Totals {
    /// Adds one record.
    pub fn add(&mut self, r: &PromptRecord) {
        self.prompts += 1;
        self.wall_ms += r.wall_ms;
        match &r.outcome {
            PromptOutcome::Mined(m) => {
                self.mismatches += m.mismatches.len();
                self.important += m.important();
                self.response_tokens += m.response.len();
                self.work.add(&m.work);
                self.naive_target_calls += m.naive_target_calls(r.prompt_tokens);
            }
            PromptOutcome::Failed { .. } => self.failed += 1,
        }
    }

    /// Sums `records`.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a PromptRecord>) -> Self {
        let mut t = Totals::default();
        records.into_iter().for_each(|r| t.add(r));
        t
    }

    /// Mined (not failed) prompts.
    pub fn mined(&self) -> usize {
        self.prompts - self.failed
    }

    /// Fraction of mismatches that are important.
    pub fn important_fraction(&self) -> f64 {
        self.important as f64 / self.mismatches.max(1) as f64
    }
}

/// Turns a task into prompt tokens (chat template + tokenizer, supplied by the caller so this
/// crate stays engine-agnostic).
pub type Render<'a> = dyn Fn(&Task) -> Result<Vec<TokenId>, String> + 'a;

/// Mines `tasks` (dataset line, parsed task) into `dir`, skipping committed lines; calls
/// `progress` after each commit with the record and the running totals of the directory.
pub fn run_mining<T: TargetModel, D: TargetModel>(
    dir: &mut MinedDir,
    models: &SearchModels<'_, T, D>,
    cfg: &SearchConfig,
    tasks: impl IntoIterator<Item = (usize, TaskLine)>,
    render: &Render<'_>,
    progress: &mut dyn FnMut(&PromptRecord, &Totals),
) -> SearchResult<Totals> {
    let mut totals = Totals::of(dir.records.values());
    let done = dir.done();
    for (index, task) in tasks {
        if done.contains(&index) {
            continue;
        }
        let start = Instant::now();
        let (task_id, gold, prompt_tokens, outcome) = match task {
            Err(e) => (
                format!("line {}", index + 1),
                None,
                0,
                failed(e.to_string()),
            ),
            Ok(task) => match render(&task) {
                Err(e) => (task.id.clone(), task.gold.clone(), 0, failed(e)),
                Ok(prompt) => {
                    let outcome = match mine_prompt(models, &task, &prompt, cfg) {
                        Ok((mined, features)) => {
                            let record = PromptRecord {
                                index,
                                task_id: task.id.clone(),
                                gold: task.gold.clone(),
                                prompt_tokens: prompt.len(),
                                outcome: PromptOutcome::Mined(mined),
                                wall_ms: start.elapsed().as_millis() as u64,
                            };
                            totals.add(&record);
                            dir.commit(record.clone(), &features)?;
                            progress(&record, &totals);
                            continue;
                        }
                        Err(e) => failed(e.to_string()),
                    };
                    (task.id.clone(), task.gold.clone(), prompt.len(), outcome)
                }
            },
        };
        let record = PromptRecord {
            index,
            task_id,
            gold,
            prompt_tokens,
            outcome,
            wall_ms: start.elapsed().as_millis() as u64,
        };
        totals.add(&record);
        dir.commit(record.clone(), &[])?;
        progress(&record, &totals);
    }
    Ok(totals)
}

fn failed(reason: String) -> PromptOutcome {
    PromptOutcome::Failed { reason }
}
