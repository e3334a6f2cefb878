//! What mining produces: one record per prompt with its mismatches, and the hidden-state
//! features of each mismatch.

use autojudge_core::TokenId;

use autojudge_tasks::Answer;

/// One tested draft/target mismatch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mismatch {
    /// Position in the response (0 = first generated token).
    pub position: usize,
    /// Whether swapping in the draft token changed the final answer.
    pub important: bool,
    /// The token of the current response at `position` (the target's choice).
    pub target_token: TokenId,
    /// The draft's argmax at `position`.
    pub draft_token: TokenId,
    /// Answer of the response regenerated after the swap.
    pub swapped_answer: Answer,
    /// Length of that regenerated response.
    pub swapped_len: usize,
    /// The oracle failed on the swapped response (counted as important).
    pub oracle_error: Option<String>,
}

/// What a judge can read about one mismatch: hidden states (after the final norm) on the
/// sequence that carries the draft token, at the draft token's own position and at the
/// position that predicted it, and the logit features of the two predicting distributions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MismatchFeatures {
    /// Draft model's hidden state at the draft token's position.
    pub draft: Vec<f32>,
    /// Target model's hidden state at the draft token's position.
    pub target: Vec<f32>,
    /// Draft model's hidden state at the predicting position (empty when not mined).
    pub draft_prev: Vec<f32>,
    /// Target model's hidden state at the predicting position (empty when not mined).
    pub target_prev: Vec<f32>,
    /// [`autojudge_core::LOGIT_FEATURES`] (empty when not mined).
    pub logits: Vec<f32>,
}

impl MismatchFeatures {
    /// The parts, for [`autojudge_core::FeatureSet::row`].
    pub fn parts(&self) -> autojudge_core::FeatureParts<'_> {
        autojudge_core::FeatureParts {
            draft: &self.draft,
            draft_prev: &self.draft_prev,
            target: &self.target,
            target_prev: &self.target_prev,
            logits: &self.logits,
        }
    }
}

/// Outcome of one prompt.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PromptOutcome {
    /// Mined.
    Mined(MinedPrompt),
    /// Skipped with a reason (bad dataset line, prompt too long, oracle failure...).
    Failed {
        /// What went wrong, naming the file/field where it applies.
        reason: String,
    },
}

/// Work counters of one prompt (or a sum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkCounters {
    /// Forward calls of the target (every `extend`, prefill included).
    pub target_calls: u64,
    /// Tokens pushed through the target.
    pub target_tokens: u64,
    /// Forward calls of the draft.
    pub draft_calls: u64,
    /// Tokens pushed through the draft.
    pub draft_tokens: u64,
    /// Oracle invocations.
    pub oracle_calls: u64,
}

impl WorkCounters {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &WorkCounters) {
        self.target_calls += other.target_calls;
        self.target_tokens += other.target_tokens;
        self.draft_calls += other.draft_calls;
        self.draft_tokens += other.draft_tokens;
        self.oracle_calls += other.oracle_calls;
    }
}

/// A mined prompt.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MinedPrompt {
    /// The target's greedy response `y`.
    pub response: Vec<TokenId>,
    /// Its answer `a` (every swap is compared against it, not against the gold).
    pub answer: Answer,
    /// The final current response (all unimportant swaps applied).
    pub final_response: Vec<TokenId>,
    /// Answer of the final response (equals `answer` by construction).
    pub final_answer: Answer,
    /// Tested mismatches, left to right.
    pub mismatches: Vec<Mismatch>,
    /// Work done.
    pub work: WorkCounters,
}

impl MinedPrompt {
    /// Number of important mismatches.
    pub fn important(&self) -> usize {
        self.mismatches.iter().filter(|m| m.important).count()
    }

    /// Target forward calls the reference algorithm (`Algorithm::Naive`: one call per
    /// generated token, a fresh prefill per tested mismatch) spends on this prompt, computed
    /// from the labels alone: `naive / fast` cost ratios for any mined directory without
    /// rerunning it naively. Exact for `Algorithm::Naive` (tested).
    pub fn naive_target_calls(&self, prompt_len: usize) -> u64 {
        let prefill = u64::from(prompt_len > 1);
        // Greedy response: the prefill, then one call per token (its last one yields EOS or
        // reaches the budget).
        let initial = prefill + self.response.len() as u64;
        // Per mismatch: a prefill up to the token before the mismatch (absent when that is
        // empty), then one call per regenerated token after the draft token (the first also
        // recomputes the predicting position for its features); when the draft token ends the
        // response, one call for its features.
        let regenerations: u64 = self
            .mismatches
            .iter()
            .map(|m| {
                u64::from(prompt_len + m.position > 1)
                    + (m.swapped_len - m.position - 1).max(1) as u64
            })
            .sum();
        initial + regenerations
    }
}

/// A committed line of `records.jsonl`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PromptRecord {
    /// Dataset line (0-based).
    pub index: usize,
    /// Dataset id of the task.
    pub task_id: String,
    /// Gold answer, if the task has one.
    pub gold: Option<String>,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// Outcome.
    #[serde(flatten)]
    pub outcome: PromptOutcome,
    /// Wall time spent on the prompt in milliseconds (the only field that differs between
    /// otherwise identical runs).
    pub wall_ms: u64,
}
