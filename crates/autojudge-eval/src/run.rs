//! The resumable evaluation run: every method on every prompt, each result committed as one
//! line of `results.jsonl` in a directory whose settings (`eval.json`) are checked on resume.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use autojudge_core::TargetModel;
use autojudge_decode::DecodeConfig;
use autojudge_search::run_dir::{read_lines, JsonlLog, TornTail};
use autojudge_search::{Answer, Render, SearchModels, TaskLine};

use crate::method::TARGET_ONLY;
use crate::summary::Report;
use crate::{EvalError, EvalResult, EvalSettings, Method, ResultLine};

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
    /// A generation starts.
    Started {
        /// Method name.
        method: &'a str,
        /// Task id.
        task_id: &'a str,
    },
    /// A result line was committed.
    Committed(&'a ResultLine),
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

/// Runs every method of `plan` on every task not yet committed in `dir` (dataset order, methods
/// in plan order), committing one line per generation, and returns the summary over all
/// committed lines. `models` are the ones mining uses (target, draft, tokenizer, oracle; any
/// engine implementing the core contract). Decoding uses the directory's window and budget;
/// greedy throughout.
pub fn evaluate<T: TargetModel, D: TargetModel>(
    dir: &mut EvalDir,
    models: &SearchModels<'_, T, D>,
    plan: &EvalPlan,
    tasks: impl IntoIterator<Item = (usize, TaskLine)>,
    render: &Render<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> EvalResult<Report> {
    let tasks: Vec<_> = tasks
        .into_iter()
        .filter_map(|(index, t)| match t {
            Ok(t) => Some(t),
            Err(e) => {
                progress(Progress::Skipped {
                    task_id: format!("line {}", index + 1),
                    reason: e.to_string(),
                });
                None
            }
        })
        .collect();
    let names: Vec<String> = plan.methods.iter().map(Method::name).collect();
    let mut done: HashSet<(String, usize)> = dir
        .lines
        .iter()
        .map(|r| (r.method.clone(), r.index))
        .collect();
    let mut reference: BTreeMap<usize, Option<String>> = dir
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
    for task in &tasks {
        let prompt = match render(task) {
            Ok(p) => p,
            Err(reason) => {
                progress(Progress::Skipped {
                    task_id: task.id.clone(),
                    reason,
                });
                continue;
            }
        };
        for (method, name) in plan.methods.iter().zip(&names) {
            if done.contains(&(name.clone(), task.index)) {
                continue;
            }
            progress(Progress::Started {
                method: name,
                task_id: &task.id,
            });
            let g = method.generate(models.target, models.draft, &prompt, &cfg)?;
            let text = models.tokenizer.decode(&g.tokens)?;
            let answer = models.oracle.answer(task, &text).map_or(None, |a| a.0);
            if matches!(method, Method::TargetOnly) {
                reference.insert(task.index, answer.clone());
            }
            let line = ResultLine {
                method: name.clone(),
                family: method.family(),
                index: task.index,
                task_id: task.id.clone(),
                correct: models.oracle.is_correct(task, &Answer(answer.clone())),
                agrees: reference.get(&task.index).map(|r| *r == answer),
                answer,
                gold: task.gold.clone(),
                tokens: g.tokens.len(),
                stats: g.stats,
            };
            dir.commit(line)?;
            progress(Progress::Committed(
                dir.lines.last().expect("just committed"),
            ));
            done.insert((name.clone(), task.index));
        }
    }
    Ok(Report::new(
        &dir.settings,
        &dir.lines,
        &names,
        plan.bootstrap,
    ))
}
