//! Acceptance policies: given the target's scores for a window of draft tokens, how many are
//! accepted and which token the target emits next.
//!
//! The target verifies `[pending, d₀ … d_{k−1}]` in one `extend`: logits row `i` predicts the
//! slot of `dᵢ` (row `k` is the bonus position), and hidden row `i + 1` is the target's hidden
//! state at `dᵢ`'s own position, on the sequence that carries the draft tokens.

use autojudge_core::{argmax, ExtendOutput, Rows, TokenId};
use rand::rngs::StdRng;

use crate::error::DecodeResult;
use crate::sampling::{draw, normalize, softmax, Sampling};

#[path = "policy/policies.rs"]
pub mod policies;

pub use policies::{Divergence, ExactMatch, JudgePolicy, RejectionSampling, TopK};

/// Inputs a policy needs beyond the target's logits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The draft's distribution `q` for each proposed token.
    pub draft_probs: bool,
    /// The target's hidden state at each draft token's position.
    pub target_hidden: bool,
    /// The draft's hidden state at each draft token's position.
    pub draft_hidden: bool,
    /// The draft's hidden state at the position that predicted each draft token.
    pub draft_prev_hidden: bool,
    /// The draft's temperature-1 distribution for each proposed token, whatever the sampling
    /// (what a judge's logit features read, as mining computes them).
    pub draft_probs_t1: bool,
}

/// One verification window.
pub struct Window<'a> {
    /// Draft tokens `d₀ … d_{k−1}`.
    pub draft: &'a [TokenId],
    /// Target outputs: `k + 1` logits rows (and hidden rows when requested).
    pub target: &'a ExtendOutput,
    /// Draft distributions per draft token (when requested).
    pub draft_probs: &'a Rows,
    /// Draft hidden states per draft token (when requested).
    pub draft_hidden: &'a Rows,
    /// Draft hidden states at the position that predicted each draft token (when requested).
    pub draft_prev_hidden: &'a Rows,
    /// The draft's temperature-1 distributions per draft token (when requested).
    pub draft_probs_t1: &'a Rows,
    /// How the target's own tokens are chosen.
    pub sampling: Sampling,
}

impl Window<'_> {
    /// The target's token for slot `i` (argmax or a sample).
    pub fn target_choice(&self, i: usize, rng: &mut StdRng) -> TokenId {
        self.sampling.sample(self.target.logits_row(i), rng)
    }

    /// Whether `dᵢ` is the target's greedy choice.
    pub fn is_greedy_match(&self, i: usize) -> bool {
        argmax(self.target.logits_row(i)) == Some(self.draft[i] as usize)
    }

    /// Target hidden state at `dᵢ`'s own position.
    pub fn target_hidden_at(&self, i: usize) -> &[f32] {
        self.target.hidden_row(i + 1)
    }

    /// Target hidden state at the position that predicted `dᵢ` (logits row `i`).
    pub fn target_prev_hidden_at(&self, i: usize) -> &[f32] {
        self.target.hidden_row(i)
    }

    /// The judge's feature row for `dᵢ` under `set`, laid out as mining lays it out
    /// ([`FeatureSet::row`]). The parts `set` reads must have been requested
    /// ([`JudgePolicy`]'s needs do).
    pub fn feature_row(&self, set: FeatureSet, i: usize) -> Vec<f32> {
        let n = set.needs();
        let logits = if n.logits {
            autojudge_core::logit_features(
                self.target.logits_row(i),
                &self.draft_probs_t1[i],
                self.draft[i] as usize,
            )
            .to_vec()
        } else {
            Vec::new()
        };
        fn pick(wanted: bool, rows: &Rows, i: usize) -> &[f32] {
            if wanted {
                &rows[i]
            } else {
                &[]
            }
        }
        set.row(&autojudge_core::FeatureParts {
            draft: pick(n.draft, self.draft_hidden, i),
            draft_prev: pick(n.draft_prev, self.draft_prev_hidden, i),
            target: if n.target {
                self.target_hidden_at(i)
            } else {
                &[]
            },
            target_prev: if n.target_prev {
                self.target_prev_hidden_at(i)
            } else {
                &[]
            },
            logits: &logits,
        })
    }
}

/// How a policy judged one position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The draft token equals the target's choice.
    Match,
    /// A mismatching draft token the policy accepted anyway (lossy).
    AcceptedMismatch,
    /// Rejected: the target's token replaces it and the window ends.
    Rejected,
}

/// Outcome of verifying one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Number of draft tokens accepted (a prefix of the window).
    pub accepted: usize,
    /// The token the target emits after them (correction or bonus).
    pub next: TokenId,
    /// Per-position decisions (length `accepted`, plus one `Rejected` if a token was rejected).
    pub decisions: Vec<Decision>,
}

impl Verdict {
    /// Mismatches the policy accepted.
    pub fn accepted_mismatches(&self) -> usize {
        self.decisions
            .iter()
            .filter(|d| **d == Decision::AcceptedMismatch)
            .count()
    }
}

/// Decides, position by position, which draft tokens survive.
pub trait AcceptancePolicy {
    /// Short name for reports.
    fn name(&self) -> String;
    /// Inputs this policy needs.
    fn needs(&self) -> Needs;
    /// Verifies a window. An error is an input that breaks its contract (a judge returning
    /// too few or invalid probabilities, feature rows of another width than it reads).
    fn verify(&mut self, w: &Window<'_>, rng: &mut StdRng) -> DecodeResult<Verdict>;
}

pub use autojudge_core::{FeatureSet, Judge};

/// Walks a window accepting while `accept(i)` holds; the first rejection emits the target's
/// choice, full acceptance the bonus token.
pub(crate) fn walk(
    w: &Window<'_>,
    rng: &mut StdRng,
    mut judge: impl FnMut(usize, &mut StdRng) -> Decision,
) -> Verdict {
    let mut decisions = Vec::with_capacity(w.draft.len() + 1);
    for i in 0..w.draft.len() {
        let d = judge(i, rng);
        decisions.push(d);
        if d == Decision::Rejected {
            return Verdict {
                accepted: i,
                next: w.target_choice(i, rng),
                decisions,
            };
        }
    }
    let k = w.draft.len();
    Verdict {
        accepted: k,
        next: w.target_choice(k, rng),
        decisions,
    }
}

/// Residual distribution `max(0, p − q)` normalized (falls back to `p` when empty).
pub(crate) fn residual(p: &[f32], q: &[f32]) -> Vec<f32> {
    let mut r: Vec<f32> = p.iter().zip(q).map(|(a, b)| (a - b).max(0.0)).collect();
    if r.iter().all(|&x| x <= 0.0) {
        return p.to_vec();
    }
    normalize(&mut r);
    r
}

pub(crate) fn draw_from(p: &[f32], rng: &mut StdRng) -> TokenId {
    draw(p, rng)
}

pub(crate) fn probs_t1(logits: &[f32]) -> Vec<f32> {
    softmax(logits, 1.0)
}
