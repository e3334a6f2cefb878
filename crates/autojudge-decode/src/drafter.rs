//! Drafters: where the k proposed tokens come from. A separate model session (any
//! `ModelSession`: a smaller model or a self-speculative view of the target), or n-gram
//! prompt lookup (no model).

use autojudge_core::ngram::last_match_end;
use autojudge_core::{
    extend_checked, rewind_checked, ModelSession, OutputRows, Outputs, Rows, TokenId,
};
use rand::rngs::StdRng;

use crate::error::DecodeResult;
use crate::policy::Needs;
use crate::sampling::{softmax, Sampling};

/// Up to k proposed tokens plus what the policies may need about them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proposal {
    /// Proposed tokens (may be fewer than asked, even none).
    pub tokens: Vec<TokenId>,
    /// The draft's distribution for each proposed token (when requested): the sampling
    /// distribution, or the temperature-1 softmax under greedy decoding.
    pub probs: Rows,
    /// The draft's last-layer hidden state at each proposed token's own position (when requested).
    pub hidden: Rows,
    /// The draft's last-layer hidden state at the position that predicted each proposed token
    /// (when requested): the context's last token for the first, the previous proposed token
    /// for the others.
    pub prev_hidden: Rows,
    /// The draft's temperature-1 softmax for each proposed token (when requested), whatever
    /// the sampling.
    pub probs_t1: Rows,
}

/// One of the per-token inputs a [`Proposal`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProposalInput {
    /// [`Proposal::probs`].
    Probs,
    /// [`Proposal::probs_t1`].
    ProbsT1,
    /// [`Proposal::hidden`].
    Hidden,
    /// [`Proposal::prev_hidden`].
    PrevHidden,
}

impl std::fmt::Display for ProposalInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProposalInput::Probs => "probs",
            ProposalInput::ProbsT1 => "probs_t1",
            ProposalInput::Hidden => "hidden",
            ProposalInput::PrevHidden => "prev_hidden",
        })
    }
}

/// A rule of the [`Drafter`] contract that a proposal broke.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalBreach {
    /// An input the policy needs does not hold one row per proposed token.
    #[error("Drafter::propose returned {got} `{input}` rows for {tokens} proposed tokens")]
    RowCount {
        /// Input at fault.
        input: ProposalInput,
        /// Rows returned.
        got: usize,
        /// Tokens proposed.
        tokens: usize,
    },
    /// A distribution row is not as wide as the target's vocabulary.
    #[error(
        "Drafter::propose returned `{input}` row {row} {got} wide, the target's vocabulary is {vocab}"
    )]
    DistributionWidth {
        /// Input at fault.
        input: ProposalInput,
        /// Row at fault.
        row: usize,
        /// Its width.
        got: usize,
        /// The target's `vocab_size`.
        vocab: usize,
    },
    /// A value no row of this input may hold: a distribution entry outside `[0, 1]` (or NaN),
    /// a non-finite hidden state.
    #[error("Drafter::propose returned {value} at `{input}` row {row}, column {column}")]
    BadValue {
        /// Input at fault.
        input: ProposalInput,
        /// Row at fault.
        row: usize,
        /// Column.
        column: usize,
        /// The value.
        value: f32,
    },
}

impl Proposal {
    /// Checks the inputs `needs` asks for against the [`Drafter`] contract: one row per
    /// proposed token, distributions `vocab` wide holding probabilities, finite hidden states.
    pub fn check(&self, needs: Needs, vocab: usize) -> Result<(), ProposalBreach> {
        let tokens = self.tokens.len();
        for (wanted, input, rows) in [
            (needs.draft_probs, ProposalInput::Probs, &self.probs),
            (needs.draft_probs_t1, ProposalInput::ProbsT1, &self.probs_t1),
            (needs.draft_hidden, ProposalInput::Hidden, &self.hidden),
            (
                needs.draft_prev_hidden,
                ProposalInput::PrevHidden,
                &self.prev_hidden,
            ),
        ] {
            if !wanted {
                continue;
            }
            if rows.len() != tokens {
                return Err(ProposalBreach::RowCount {
                    input,
                    got: rows.len(),
                    tokens,
                });
            }
            let distribution = matches!(input, ProposalInput::Probs | ProposalInput::ProbsT1);
            for (row, r) in rows.iter().enumerate() {
                if distribution && r.len() != vocab {
                    return Err(ProposalBreach::DistributionWidth {
                        input,
                        row,
                        got: r.len(),
                        vocab,
                    });
                }
                let ok = |v: f32| {
                    if distribution {
                        (0.0..=1.0).contains(&v)
                    } else {
                        v.is_finite()
                    }
                };
                if let Some(column) = r.iter().position(|&v| !ok(v)) {
                    return Err(ProposalBreach::BadValue {
                        input,
                        row,
                        column,
                        value: r[column],
                    });
                }
            }
        }
        Ok(())
    }
}

/// Proposes draft tokens for a context.
pub trait Drafter {
    /// Short name for reports.
    fn name(&self) -> String;
    /// `Err(input)`: the first input in `needs` this drafter cannot provide.
    fn supports(&self, needs: Needs) -> Result<(), ProposalInput>;
    /// Proposes up to `k` tokens continuing `context` (the committed sequence), with one row
    /// of each input in `needs` per proposed token ([`Proposal::check`]; the decode loop
    /// refuses a proposal that breaks it with [`crate::DecodeError::BrokenDrafter`]).
    fn propose(
        &mut self,
        context: &[TokenId],
        k: usize,
        sampling: Sampling,
        needs: Needs,
        rng: &mut StdRng,
    ) -> DecodeResult<Proposal>;
    /// Forward passes run so far (0 for model-free drafters).
    fn forward_calls(&self) -> u64;
}

/// Proposes nothing: the speculative loop with it is plain target-only decoding.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDraft;

impl Drafter for NoDraft {
    fn name(&self) -> String {
        "none".into()
    }
    fn supports(&self, _needs: Needs) -> Result<(), ProposalInput> {
        Ok(())
    }
    fn propose(
        &mut self,
        _c: &[TokenId],
        _k: usize,
        _s: Sampling,
        _n: Needs,
        _r: &mut StdRng,
    ) -> DecodeResult<Proposal> {
        Ok(Proposal::default())
    }
    fn forward_calls(&self) -> u64 {
        0
    }
}

/// A drafter backed by a model session; keeps its KV cache in sync with the committed
/// sequence by truncating to the common prefix and appending only what is new.
pub struct ModelDrafter<S: ModelSession> {
    session: S,
    calls: u64,
}

impl<S: ModelSession> ModelDrafter<S> {
    /// Wraps a (fresh or reusable) session.
    pub fn new(session: S) -> Self {
        ModelDrafter { session, calls: 0 }
    }

    /// The wrapped session.
    pub fn session(&self) -> &S {
        &self.session
    }
}

impl<S: ModelSession> Drafter for ModelDrafter<S> {
    fn name(&self) -> String {
        self.session.info().name.clone()
    }

    fn supports(&self, _needs: Needs) -> Result<(), ProposalInput> {
        Ok(())
    }

    fn propose(
        &mut self,
        context: &[TokenId],
        k: usize,
        sampling: Sampling,
        needs: Needs,
        rng: &mut StdRng,
    ) -> DecodeResult<Proposal> {
        let mut p = Proposal::default();
        if k == 0 || context.is_empty() {
            return Ok(p);
        }
        let max = self.session.info().max_context;
        let k = k.min(max.saturating_sub(context.len()));
        if k == 0 {
            return Ok(p);
        }
        // Re-run at least the last context token: its logits start the proposal.
        let keep = rewind_checked(&mut self.session, context, context.len() - 1)?;
        let first = Outputs {
            logits: OutputRows::Last,
            hidden: if needs.draft_prev_hidden {
                OutputRows::Last
            } else {
                OutputRows::None
            },
        };
        let out = extend_checked(&mut self.session, &context[keep..], first)?;
        self.calls += 1;
        let mut logits = out.logits_row(0).to_vec();
        let mut before = needs.draft_prev_hidden.then(|| out.hidden_row(0).to_vec());
        let eos = self.session.info().eos_ids.clone();
        let want_hidden = needs.draft_hidden;
        for i in 0..k {
            let tok = sampling.sample(&logits, rng);
            if needs.draft_probs {
                p.probs.push(&match sampling {
                    Sampling::Greedy => softmax(&logits, 1.0),
                    s => s.probs(&logits),
                })?;
            }
            if needs.draft_probs_t1 {
                p.probs_t1.push(&softmax(&logits, 1.0))?;
            }
            p.tokens.push(tok);
            if let Some(h) = before.take() {
                p.prev_hidden.push(&h)?;
            }
            let last = i + 1 == k || eos.contains(&tok);
            // The token's own state is the next token's predicting state.
            let keep_state = want_hidden || (needs.draft_prev_hidden && !last);
            if !last || want_hidden {
                let rows = Outputs {
                    logits: if last {
                        OutputRows::None
                    } else {
                        OutputRows::Last
                    },
                    hidden: if keep_state {
                        OutputRows::Last
                    } else {
                        OutputRows::None
                    },
                };
                let out = extend_checked(&mut self.session, &[tok], rows)?;
                self.calls += 1;
                if keep_state {
                    let h = out.hidden_row(0).to_vec();
                    if needs.draft_prev_hidden && !last {
                        before = Some(h.clone());
                    }
                    if want_hidden {
                        p.hidden.push(&h)?;
                    }
                }
                if !last {
                    logits = out.logits_row(0).to_vec();
                }
            }
            if last {
                break;
            }
        }
        Ok(p)
    }

    fn forward_calls(&self) -> u64 {
        self.calls
    }
}

/// Prompt-lookup drafter: finds the most recent earlier occurrence of the context's last n
/// tokens (n from `max_n` down to `min_n`) and proposes what followed it. No model, no cost.
#[derive(Clone, Debug)]
pub struct NgramDrafter {
    /// Longest suffix tried.
    pub max_n: usize,
    /// Shortest suffix tried.
    pub min_n: usize,
    /// Vocabulary size (for the one-hot draft distributions rejection sampling needs).
    pub vocab_size: usize,
}

impl NgramDrafter {
    /// A drafter matching suffixes of 1 to 3 tokens.
    pub fn new(vocab_size: usize) -> Self {
        NgramDrafter {
            max_n: 3,
            min_n: 1,
            vocab_size,
        }
    }

    /// The continuation it would propose.
    pub fn lookup(&self, context: &[TokenId], k: usize) -> Vec<TokenId> {
        let len = context.len();
        for n in (self.min_n.max(1)..=self.max_n).rev() {
            if n >= len {
                continue;
            }
            // Most recent earlier occurrence whose continuation exists.
            if let Some(from) = last_match_end(context, &context[len - n..], len - 1) {
                return context[from..(from + k).min(len)].to_vec();
            }
        }
        Vec::new()
    }
}

impl Drafter for NgramDrafter {
    fn name(&self) -> String {
        format!("ngram{}-{}", self.min_n, self.max_n)
    }

    fn supports(&self, needs: Needs) -> Result<(), ProposalInput> {
        if needs.draft_hidden {
            return Err(ProposalInput::Hidden);
        }
        if needs.draft_prev_hidden {
            return Err(ProposalInput::PrevHidden);
        }
        if needs.draft_probs_t1 {
            return Err(ProposalInput::ProbsT1);
        }
        Ok(())
    }

    fn propose(
        &mut self,
        context: &[TokenId],
        k: usize,
        _s: Sampling,
        needs: Needs,
        _rng: &mut StdRng,
    ) -> DecodeResult<Proposal> {
        let tokens = self.lookup(context, k);
        let mut probs = Rows::new(self.vocab_size);
        if needs.draft_probs {
            let mut q = vec![0.0; self.vocab_size];
            for &t in &tokens {
                q[t as usize] = 1.0;
                probs.push(&q)?;
                q[t as usize] = 0.0;
            }
        }
        Ok(Proposal {
            tokens,
            probs,
            ..Proposal::default()
        })
    }

    fn forward_calls(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngram_lookup_prefers_long_recent_matches() {
        let d = NgramDrafter::new(100);
        // ... 1 2 3 [9 9] ... 1 2 3 [7 7] ... 1 2 3 → most recent: 7 7
        let ctx = [1, 2, 3, 9, 9, 5, 1, 2, 3, 7, 7, 4, 1, 2, 3];
        assert_eq!(d.lookup(&ctx, 2), vec![7, 7]);
        assert_eq!(d.lookup(&[5, 6], 3), Vec::<u32>::new());
        assert_eq!(d.lookup(&[4, 8, 4], 4), vec![8, 4]);
    }
}
