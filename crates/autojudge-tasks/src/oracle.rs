//! Task oracles: map a response text to the task's final answer, so the search can ask
//! "does this swap change the answer?" and the evaluation can score against the gold.

pub mod code;
pub mod gsm8k;

use crate::Task;

/// A final answer; `None` ("no answer found") is itself a value, so a swap that destroys the
/// answer counts as a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Answer(pub Option<String>);

impl Answer {
    /// An answer that was found.
    pub fn found(s: impl Into<String>) -> Self {
        Answer(Some(s.into()))
    }

    /// No answer could be extracted.
    pub fn missing() -> Self {
        Answer(None)
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(s) => f.write_str(s),
            None => f.write_str("<none>"),
        }
    }
}

/// The oracle itself failed (not the response): it is reported on the record, never fatal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum OracleError {
    /// The checker could not run (e.g. no `python3`).
    #[error("oracle unavailable: {0}")]
    Unavailable(String),
    /// The task lacks what this oracle needs (e.g. tests for a code task).
    #[error("task {task} cannot be judged by this oracle: {reason}")]
    WrongTask {
        /// Task id.
        task: String,
        /// What is missing.
        reason: String,
    },
}

/// A task-specific answer checker; implement it to mine or evaluate a new task.
pub trait Oracle: Send + Sync {
    /// Identity including options (recorded with mined data; shards must agree on it).
    fn name(&self) -> String;
    /// The final answer of `response` to `task`.
    fn answer(&self, task: &Task, response: &str) -> Result<Answer, OracleError>;
    /// Whether `answer` is correct against the task's gold, when the task has one.
    fn is_correct(&self, task: &Task, answer: &Answer) -> Option<bool> {
        let gold = task.gold.as_ref()?;
        Some(answer.0.as_ref() == Some(gold))
    }
}
