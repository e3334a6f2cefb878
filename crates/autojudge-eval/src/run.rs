//! The resumable evaluation run: every method on every prompt, each result committed as one
//! line of `results.jsonl` in a directory whose settings (`eval.json`) are checked on resume.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use autojudge_core::{extend_checked, BatchedModel, ErrorChain, Outputs, TargetModel, TokenId};
use autojudge_decode::DecodeConfig;
use autojudge_runs::{read_lines, run_ordered, Event, Flight, Job, JsonlLog, TornTail};
use autojudge_search::{Render, SearchModels};
use autojudge_tasks::{Answer, Task, TaskLine};

use crate::method::TARGET_ONLY;
use crate::summary::Report;
use crate::{EvalError, EvalResult, EvalSettings, Method, PromptPrefill, ResultLine};

/// File name of the result lines inside an evaluation directory.
pub const RESULTS_FILE: &str = "results.jsonl";

/// What an evaluation run compares.
#[derive(Clone, Debug)]
pub struct EvalPlan {
    /// Methods, in report order (put target-only first: the agreement column needs its answers).
    pub methods: Vec<Method>,
    /// Bootstrap resamples of the summary's intervals.
    pub bootstrap: usize,
}

/// What the run reports while it works (for a progress bar or a log).
#[derive(Debug)]
pub enum Progress<'a> {
    /// Before the first generation: generations in the plan, and how many a resumed directory
    /// already holds.
    Planned {
        /// Prompts × methods.
        total: usize,
        /// Already committed.
        done: usize,
    },
    /// A result line was committed (lines are committed in dataset order, methods in plan
    /// order, whatever the number of workers).
    Committed(&'a ResultLine, Flight),
    /// Nothing was committed for a while: prompts in flight and batched throughput.
    Tick(Flight),
    /// A dataset line or prompt could not be used (it is left out, the run goes on).
    Skipped {
        /// Task id, or the dataset line.
        task_id: String,
        /// Why.
        reason: String,
    },
}

/// An evaluation directory open for appending results.
pub struct EvalDir {
    root: PathBuf,
    settings: EvalSettings,
    log: JsonlLog,
    lines: Vec<ResultLine>,
}

impl EvalDir {
    /// Creates `root` for `settings`, or resumes it when it was produced with the same settings
    /// (anything else is refused naming the differing field). A torn last line from a killed
    /// run is cut off; a corrupt committed line is an error naming file and line.
    pub fn create_or_resume(root: &Path, settings: EvalSettings) -> EvalResult<Self> {
        std::fs::create_dir_all(root).map_err(|e| EvalError::file(root, e))?;
        settings.check_or_write(root)?;
        let (log, lines) = JsonlLog::resume(&root.join(RESULTS_FILE))?;
        Ok(EvalDir {
            root: root.to_path_buf(),
            settings,
            log,
            lines,
        })
    }

    /// The settings and committed result lines of an existing directory, without opening it
    /// for writing (a run may be appending to it right now).
    pub fn read(root: &Path) -> EvalResult<(EvalSettings, Vec<ResultLine>)> {
        let settings = EvalSettings::load(root)?;
        let lines = read_lines(&root.join(RESULTS_FILE), TornTail::Ignore)?;
        Ok((settings, lines))
    }

    /// Directory path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The settings every line shares.
    pub fn settings(&self) -> &EvalSettings {
        &self.settings
    }

    /// Committed result lines, in commit order.
    pub fn lines(&self) -> &[ResultLine] {
        &self.lines
    }

    /// Commits one result line (appended and synced).
    pub fn commit(&mut self, line: ResultLine) -> EvalResult<()> {
        self.log.commit(&line)?;
        self.lines.push(line);
        Ok(())
    }
}

/// One prompt's share of an evaluation: the methods it still needs, in plan order.
struct PromptJob {
    task: Task,
    prompt: Vec<TokenId>,
    todo: Vec<usize>,
    /// Target-only answer committed by an earlier run (for the agreement column).
    reference: Option<Option<String>>,
}

/// Runs every method of `plan` on every task not yet committed in `dir`, `parallel` prompts at
/// once (their forwards batched; `1` runs one generation at a time), committing one line per
/// generation in dataset order and plan order whatever `parallel` is, and returns the summary
/// over all committed lines. `models` are the ones mining uses (target, draft, tokenizer,
/// oracle; any engine implementing the core contract). Decoding uses the directory's window
/// and budget; greedy throughout, so the generated tokens do not depend on `parallel`.
pub fn evaluate<T: TargetModel, D: TargetModel>(
    dir: &mut EvalDir,
    models: &SearchModels<'_, T, D>,
    plan: &EvalPlan,
    tasks: impl IntoIterator<Item = TaskLine>,
    render: &Render<'_>,
    parallel: usize,
    progress: &mut dyn FnMut(Progress<'_>),
) -> EvalResult<Report> {
    let tasks: Vec<_> = tasks
        .into_iter()
        .filter_map(|line| match line {
            TaskLine::Task(t) => Some(t),
            TaskLine::Unreadable { index, error } => {
                progress(Progress::Skipped {
                    task_id: format!("line {}", index + 1),
                    reason: ErrorChain(&error).to_string(),
                });
                None
            }
        })
        .collect();
    let names: Vec<String> = plan.methods.iter().map(Method::name).collect();
    if let Some(dup) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
    {
        return Err(EvalError::InvalidOption {
            field: "plan",
            reason: format!(
                "method `{}` appears twice (lossless measured and derived share one name)",
                dup.1
            ),
        });
    }
    let done: HashSet<(String, usize)> = dir
        .lines
        .iter()
        .map(|r| (r.method.clone(), r.index))
        .collect();
    let reference: BTreeMap<usize, Option<String>> = dir
        .lines
        .iter()
        .filter(|r| r.method == TARGET_ONLY)
        .map(|r| (r.index, r.answer.clone()))
        .collect();
    let planned = tasks.len() * plan.methods.len();
    let already = tasks
        .iter()
        .flat_map(|t| names.iter().map(move |n| (n.clone(), t.index)))
        .filter(|key| done.contains(key))
        .count();
    progress(Progress::Planned {
        total: planned,
        done: already,
    });
    let cfg = DecodeConfig::greedy(dir.settings.k, dir.settings.max_new_tokens);
    let prefill = dir.settings.prefill;
    // Rendering failures are reported as they come; `jobs` runs lazily on this thread.
    let skipped = std::cell::RefCell::new(Vec::new());
    let jobs = tasks.into_iter().filter_map(|task| {
        let todo: Vec<usize> = (0..names.len())
            .filter(|&m| !done.contains(&(names[m].clone(), task.index)))
            .collect();
        if todo.is_empty() {
            return None;
        }
        match render(&task) {
            Ok(prompt) => Some(Job::Run(PromptJob {
                reference: reference.get(&task.index).cloned(),
                task,
                prompt,
                todo,
            })),
            Err(reason) => {
                skipped
                    .borrow_mut()
                    .push((task.id.clone(), ErrorChain(&*reason).to_string()));
                None
            }
        }
    });
    let work = |target: &BatchedModel<&T>,
                draft: &BatchedModel<&D>,
                job: PromptJob|
     -> EvalResult<Vec<ResultLine>> {
        let m = SearchModels {
            target,
            draft,
            tokenizer: models.tokenizer,
            oracle: models.oracle,
        };
        let PromptJob {
            task,
            prompt,
            todo,
            mut reference,
        } = job;
        let mut lines = Vec::with_capacity(todo.len());
        // This prompt's target-only generation, for a derived lossless line.
        let mut target_only = None;
        let max_context = m.target.info().max_context;
        // With a shared prefill, one pair of sessions holds the prompt for every method.
        let mut shared = match prefill {
            PromptPrefill::Shared => {
                let (mut t, mut d) = (m.target.new_session()?, m.draft.new_session()?);
                if let Some((_, head)) = prompt.split_last() {
                    if !head.is_empty() {
                        extend_checked(&mut t, head, Outputs::NONE)?;
                        extend_checked(&mut d, head, Outputs::NONE)?;
                    }
                }
                Some((t, d))
            }
            PromptPrefill::PerMethod => None,
        };
        for i in todo {
            let method = &plan.methods[i];
            let (mut fresh_t, mut fresh_d);
            let (t, d) = match shared.as_mut() {
                Some((t, d)) => (t, d),
                None => {
                    fresh_t = m.target.new_session()?;
                    fresh_d = m.draft.new_session()?;
                    (&mut fresh_t, &mut fresh_d)
                }
            };
            let g = match (method, &target_only) {
                (Method::LosslessDerived, Some(to)) => {
                    Method::derive_lossless_in(d, max_context, &prompt, to, &cfg)?
                }
                _ => method.generate_in(t, d, max_context, &prompt, &cfg)?,
            };
            if matches!(method, Method::TargetOnly) {
                target_only = Some(g.clone());
            }
            let text = m.tokenizer.decode(&g.tokens)?;
            let answer = m.oracle.answer(&task, &text).map_or(None, |a| a.0);
            if matches!(method, Method::TargetOnly) {
                reference = Some(answer.clone());
            }
            lines.push(ResultLine {
                method: names[i].clone(),
                family: method.family(),
                index: task.index,
                task_id: task.id.clone(),
                correct: m.oracle.is_correct(&task, &Answer(answer.clone())),
                agrees: reference.as_ref().map(|r| *r == answer),
                answer,
                gold: task.gold.clone(),
                tokens: g.tokens.len(),
                stats: g.stats,
                derived: matches!(method, Method::LosslessDerived),
            });
        }
        Ok(lines)
    };
    run_ordered(
        models.target,
        models.draft,
        parallel,
        jobs,
        &work,
        &mut |event| -> EvalResult<()> {
            for (task_id, reason) in skipped.borrow_mut().drain(..) {
                progress(Progress::Skipped { task_id, reason });
            }
            match event {
                Event::Done(lines, flight) => {
                    for line in lines? {
                        dir.commit(line)?;
                        progress(Progress::Committed(
                            dir.lines.last().expect("just committed"),
                            flight,
                        ));
                    }
                }
                Event::Tick(flight) => progress(Progress::Tick(flight)),
            }
            Ok(())
        },
    )?;
    for (task_id, reason) in skipped.into_inner() {
        progress(Progress::Skipped { task_id, reason });
    }
    Ok(Report::new(
        &dir.settings,
        &dir.lines,
        &names,
        plan.bootstrap,
    ))
}
