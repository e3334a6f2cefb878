//! The mining driver: every task of the run mined (several at once when asked) and committed
//! in dataset order; finished prompts are skipped on resume and every failure becomes a
//! record.

use std::time::Instant;

use autojudge_core::{BatchedModel, BoxError, CoreError, ErrorChain, TargetModel, TokenId};
use autojudge_runs::{run_ordered, Event, Flight, Job};

use crate::record::{PromptOutcome, PromptRecord, WorkCounters};
use crate::semi_greedy::{mine_prompt, SearchConfig, SearchModels};
use crate::store::MinedDir;
use crate::{SearchError, SearchResult};
use autojudge_tasks::{Task, TaskLine};

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
/// crate stays engine-agnostic). Its error, with its causes, becomes the task's failure reason.
pub type Render<'a> = dyn Fn(&Task) -> Result<Vec<TokenId>, BoxError> + 'a;

/// What mining reports while it works.
#[derive(Debug)]
pub enum MiningProgress<'a> {
    /// A prompt's record was committed (in dataset order).
    Committed {
        /// The record.
        record: &'a PromptRecord,
        /// Running totals of the directory.
        totals: &'a Totals,
        /// Prompts in flight and batched throughput.
        flight: Flight,
    },
    /// Nothing was committed for a while: prompts in flight and batched throughput.
    Tick(Flight),
}

/// Mines `tasks` (dataset line, parsed task) into `dir`, skipping committed lines, with
/// `parallel` prompts at once (their forwards batched; `1` mines one prompt at a time).
/// Records are committed in dataset order whatever `parallel` is, and every record's
/// labels, responses and features are those a sequential run gives.
///
/// A prompt that fails becomes a `failed` record, except when an engine broke the model
/// contract ([`CoreError::BrokenContract`]): that is no property of the prompt, so the run
/// stops with the error and nothing of that prompt committed, and a resume with a fixed
/// engine mines it.
///
/// ```no_run
/// # fn demo<T: autojudge_core::TargetModel, D: autojudge_core::TargetModel>(
/// #     target: &T, draft: &D, tokenizer: &dyn autojudge_core::TextTokenizer,
/// #     oracle: &dyn autojudge_tasks::Oracle,
/// #     tasks: Vec<autojudge_tasks::TaskLine>,
/// # ) -> autojudge_search::SearchResult<()> {
/// use autojudge_search::{run_mining, Manifest, MinedDir, SearchConfig, SearchModels};
/// let search = SearchConfig { max_new_tokens: 256, ..SearchConfig::default() };
/// let manifest = Manifest::new(target.info(), draft.info(), "gsm8k", oracle, search.clone(), 0..tasks.len());
/// let mut dir = MinedDir::create_or_resume("results/mined".as_ref(), manifest)?;
/// let models = SearchModels { target, draft, tokenizer, oracle };
/// let render = |t: &autojudge_tasks::Task| Ok(tokenizer.encode(&t.user_prompt, true)?);
/// let totals = run_mining(&mut dir, &models, &search, tasks, &render, 1, &mut |_| {})?;
/// # let _ = totals; Ok(()) }
/// ```
pub fn run_mining<T: TargetModel, D: TargetModel>(
    dir: &mut MinedDir,
    models: &SearchModels<'_, T, D>,
    cfg: &SearchConfig,
    tasks: impl IntoIterator<Item = TaskLine>,
    render: &Render<'_>,
    parallel: usize,
    progress: &mut dyn FnMut(MiningProgress<'_>),
) -> SearchResult<Totals> {
    let mut totals = Totals::of(dir.records.values());
    let done = dir.done();
    let record = |index, task_id, gold, prompt_tokens, outcome, start: Instant| PromptRecord {
        index,
        task_id,
        gold,
        prompt_tokens,
        outcome,
        wall_ms: start.elapsed().as_millis() as u64,
    };
    let jobs = tasks
        .into_iter()
        .filter(|line| !done.contains(&line.index()))
        .map(|line| {
            let start = Instant::now();
            let index = line.index();
            match line.into_task() {
                Err(e) => Job::Ready(Ok((
                    record(
                        index,
                        format!("line {}", index + 1),
                        None,
                        0,
                        failed(ErrorChain(&e).to_string()),
                        start,
                    ),
                    Vec::new(),
                ))),
                Ok(task) => match render(&task) {
                    Err(e) => Job::Ready(Ok((
                        record(
                            index,
                            task.id.clone(),
                            task.gold.clone(),
                            0,
                            failed(ErrorChain(&*e).to_string()),
                            start,
                        ),
                        Vec::new(),
                    ))),
                    Ok(prompt) => Job::Run((task, prompt)),
                },
            }
        });
    let work = |target: &BatchedModel<&T>,
                draft: &BatchedModel<&D>,
                (task, prompt): (Task, Vec<TokenId>)| {
        let m = &SearchModels {
            target,
            draft,
            tokenizer: models.tokenizer,
            oracle: models.oracle,
        };
        let start = Instant::now();
        let (outcome, features) = match mine_prompt(m, &task, &prompt, cfg) {
            Ok((mined, features)) => (PromptOutcome::Mined(mined), features),
            Err(e @ SearchError::Core(CoreError::BrokenContract { .. })) => return Err(e),
            Err(e) => (failed(ErrorChain(&e).to_string()), Vec::new()),
        };
        let r = record(task.index, task.id, task.gold, prompt.len(), outcome, start);
        Ok((r, features))
    };
    run_ordered(
        models.target,
        models.draft,
        parallel,
        jobs,
        &work,
        &mut |event| -> SearchResult<()> {
            match event {
                Event::Done(mined, flight) => {
                    let (record, features) = mined?;
                    totals.add(&record);
                    dir.commit(record.clone(), &features)?;
                    progress(MiningProgress::Committed {
                        record: &record,
                        totals: &totals,
                        flight,
                    });
                }
                Event::Tick(flight) => progress(MiningProgress::Tick(flight)),
            }
            Ok(())
        },
    )?;
    Ok(totals)
}

fn failed(reason: String) -> PromptOutcome {
    PromptOutcome::Failed { reason }
}
