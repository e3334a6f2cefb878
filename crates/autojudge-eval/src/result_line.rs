//! One committed line of an evaluation directory's `results.jsonl`: one method on one prompt.

use autojudge_decode::DecodeStats;

/// One method on one prompt.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResultLine {
    /// Method name (with its parameter).
    pub method: String,
    /// Method family (one plot curve).
    pub family: String,
    /// Dataset line.
    pub index: usize,
    /// Task id.
    pub task_id: String,
    /// Extracted answer (`None`: the oracle found none).
    pub answer: Option<String>,
    /// Gold answer.
    pub gold: Option<String>,
    /// Correct against the gold (`None` when the task has no gold).
    pub correct: Option<bool>,
    /// Same answer as target-only on this prompt (`None` before target-only ran on it).
    pub agrees: Option<bool>,
    /// Generated tokens.
    pub tokens: usize,
    /// Decode statistics (cycles, accepted tokens, target calls, wall time).
    pub stats: DecodeStats,
    /// The counters were derived, not measured ([`crate::Method::LosslessDerived`]): its times
    /// are the derivation's own, and summaries give the method no wall-clock figures.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub derived: bool,
}
