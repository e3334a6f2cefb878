//! Greedy continuation of a target session, verified in blocks against proposals.
//!
//! Exact under greedy decoding: a proposed token is kept only if it is the target's argmax,
//! so the result equals token-by-token greedy decoding whatever the proposals are (for an
//! engine whose rows do not depend on how many are computed together). Proposals come from
//! the previous continuation (a swap that re-converges costs a few block verifications
//! instead of a full regeneration) and from the draft model.

use autojudge_core::{CoreResult, ModelSession, OutputRows, Outputs, TokenId};

use crate::meter::Meter;

/// Proposes tokens to follow `ctx`.
pub trait Proposer {
    /// Up to `max` tokens likely to follow `ctx` (may be empty).
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>>;
}

/// No proposals: plain one-token-per-call greedy decoding.
pub struct NoProposals;

impl Proposer for NoProposals {
    fn propose(&mut self, _ctx: &[TokenId], _max: usize) -> CoreResult<Vec<TokenId>> {
        Ok(Vec::new())
    }
}

/// A proposal length that doubles (up to `max`) after every proposal the target accepted whole
/// and falls back to `min` after a rejection. "Accepted whole" is read off the next context's
/// length: the proposal plus the target's own next token.
#[derive(Clone, Copy, Debug)]
struct GrowingWindow {
    min: usize,
    max: usize,
    current: usize,
    expect_len: Option<usize>,
}

impl GrowingWindow {
    fn new(min: usize, max: usize) -> Self {
        GrowingWindow {
            min,
            max: max.max(min),
            current: min,
            expect_len: None,
        }
    }

    /// The length to propose after a context of `ctx_len` tokens.
    fn next(&mut self, ctx_len: usize) -> usize {
        self.current = if self.expect_len == Some(ctx_len) {
            (self.current * 2).min(self.max)
        } else {
            self.min
        };
        self.expect_len = None;
        self.current
    }

    /// Forgets the last proposal (nothing was proposed): the next length is `min`.
    fn reset(&mut self) {
        self.expect_len = None;
    }

    /// Records that `n` tokens were proposed after a context of `ctx_len`.
    fn proposed(&mut self, ctx_len: usize, n: usize) {
        self.expect_len = Some(ctx_len + n + 1);
    }
}

/// Proposes the previous continuation: while the new one follows it, the next tokens of the
/// old one in growing blocks; after a divergence, what followed the last few tokens wherever
/// they occur again in the old continuation (re-alignment after an insertion or deletion).
pub struct SuffixProposer {
    old: Vec<TokenId>,
    base: usize,
    aligned: bool,
    cursor: usize,
    block: GrowingWindow,
}

impl SuffixProposer {
    /// `old` is expected to continue a context of length `base`.
    pub fn new(old: Vec<TokenId>, base: usize, min_block: usize, max_block: usize) -> Self {
        SuffixProposer {
            old,
            base,
            aligned: true,
            cursor: 0,
            block: GrowingWindow::new(min_block.max(1), max_block),
        }
    }

    fn take(&mut self, from: usize, ctx_len: usize, max: usize) -> Vec<TokenId> {
        let n = self
            .block
            .next(ctx_len)
            .min(max)
            .min(self.old.len().saturating_sub(from));
        self.block.proposed(ctx_len, n);
        self.old[from..from + n].to_vec()
    }
}

impl Proposer for SuffixProposer {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        let n = ctx.len();
        if self.aligned && n >= self.base {
            let e = n - self.base;
            if e <= self.old.len() && ctx[self.base..] == self.old[..e] {
                return Ok(self.take(e, n, max));
            }
            self.aligned = false;
        }
        for g in [3usize, 2] {
            if n < g {
                continue;
            }
            let pat = &ctx[n - g..];
            let found = (self.cursor..self.old.len().saturating_sub(g - 1))
                .find(|&i| &self.old[i..i + g] == pat);
            if let Some(i) = found {
                self.cursor = i + g;
                return Ok(self.take(i + g, n, max));
            }
        }
        self.block.reset();
        Ok(Vec::new())
    }
}

/// Prompt lookup: what followed the most recent earlier occurrence of the context's last
/// 3 (or 2) tokens in the context, else in earlier sequences of the same search (previous
/// regenerations often pass through the same text).
pub struct ContextNgram<'h> {
    /// Tokens proposed per call at most.
    pub block: usize,
    /// Earlier sequences to look in after the context, most useful first.
    pub history: &'h [Vec<TokenId>],
}

fn lookup(hay: &[TokenId], pat: &[TokenId], end: usize) -> Option<usize> {
    let g = pat.len();
    (0..end
        .saturating_sub(g - 1)
        .min(hay.len().saturating_sub(g - 1)))
        .rev()
        .find(|&i| &hay[i..i + g] == pat)
        .map(|i| i + g)
}

impl Proposer for ContextNgram<'_> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        let n = ctx.len();
        let max = self.block.min(max);
        for g in [3usize, 2] {
            if n <= g {
                continue;
            }
            let pat = &ctx[n - g..];
            // In the context: occurrences ending before the current tail.
            if let Some(from) = lookup(ctx, pat, n - 1) {
                let len = max.min(n - from);
                return Ok(ctx[from..from + len].to_vec());
            }
            for h in self.history {
                if let Some(from) = lookup(h, pat, h.len()) {
                    let len = max.min(h.len() - from);
                    if len > 0 {
                        return Ok(h[from..from + len].to_vec());
                    }
                }
            }
        }
        Ok(Vec::new())
    }
}

/// Proposes greedy tokens of a draft model, keeping its own session in sync with the context
/// by KV-cache reuse. The window starts at `k` and doubles (up to `max_k`) after every proposal
/// the target accepted whole, falling back to `k` after a rejection: long agreeing stretches
/// then cost fewer target calls.
pub struct DraftProposer<S> {
    session: S,
    window: GrowingWindow,
    eos: Vec<TokenId>,
    /// Work done by the draft.
    pub meter: Meter,
}

impl<S: ModelSession> DraftProposer<S> {
    /// A proposer of `k` to `max_k` tokens per call (a fixed window when `max_k ≤ k`); stops
    /// early at an EOS id.
    pub fn new(session: S, k: usize, max_k: usize, eos: Vec<TokenId>) -> Self {
        DraftProposer {
            session,
            window: GrowingWindow::new(k, max_k),
            eos,
            meter: Meter::default(),
        }
    }
}

impl<S: ModelSession> Proposer for DraftProposer<S> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        let k = self.window.next(ctx.len()).min(max);
        let mut out = Vec::with_capacity(k);
        if k == 0 || ctx.is_empty() {
            return Ok(out);
        }
        let mut next = self
            .meter
            .extend_to(&mut self.session, ctx, Outputs::LAST_LOGITS)?
            .argmax_row(0);
        loop {
            out.push(next);
            if out.len() == k || self.eos.contains(&next) {
                self.window.proposed(ctx.len(), out.len());
                return Ok(out);
            }
            next = self
                .meter
                .extend(&mut self.session, &[next], Outputs::LAST_LOGITS)?
                .argmax_row(0);
        }
    }
}

/// Tries `first`, then `second` when `first` has nothing.
pub struct Chain<'a> {
    /// Preferred proposer.
    pub first: &'a mut dyn Proposer,
    /// Fallback proposer.
    pub second: &'a mut dyn Proposer,
}

impl Proposer for Chain<'_> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        let p = self.first.propose(ctx, max)?;
        if p.is_empty() {
            self.second.propose(ctx, max)
        } else {
            Ok(p)
        }
    }
}

/// Limits of a continuation.
#[derive(Clone, Copy, Debug)]
pub struct Limits<'a> {
    /// Maximum total context length (prompt + response).
    pub max_len: usize,
    /// Index in the context where the response starts (EOS is only looked for after it).
    pub response_start: usize,
    /// End-of-sequence ids.
    pub eos: &'a [TokenId],
}

impl Limits<'_> {
    fn finished(&self, ctx: &[TokenId]) -> bool {
        ctx.len() >= self.max_len
            || (ctx.len() > self.response_start && ctx.last().is_some_and(|t| self.eos.contains(t)))
    }
}

/// Continues `ctx` greedily until EOS or `limits.max_len`. The session must hold
/// `ctx[..ctx.len()-1]` (the last token is fed first); on return it holds the new
/// `ctx[..ctx.len()-1]`. With `first_hidden`, returns the target's hidden state at the last
/// token of the incoming `ctx` (computed even if nothing is generated).
pub fn continue_greedy<S: ModelSession>(
    session: &mut S,
    ctx: &mut Vec<TokenId>,
    limits: Limits<'_>,
    proposer: &mut dyn Proposer,
    meter: &mut Meter,
    first_hidden: bool,
) -> CoreResult<Option<Vec<f32>>> {
    debug_assert_eq!(session.len() + 1, ctx.len());
    let mut hidden = None;
    if limits.finished(ctx) {
        if first_hidden {
            let last = *ctx.last().expect("non-empty context");
            let out = meter.extend(
                session,
                &[last],
                Outputs {
                    logits: OutputRows::None,
                    hidden: OutputRows::Last,
                },
            )?;
            hidden = Some(out.hidden_row(0).to_vec());
            session.truncate(ctx.len() - 1)?;
        }
        return Ok(hidden);
    }
    while !limits.finished(ctx) {
        let room = limits.max_len - ctx.len();
        let mut proposal = proposer.propose(ctx, room - 1)?;
        proposal.truncate(room - 1);
        let mut input = Vec::with_capacity(proposal.len() + 1);
        input.push(*ctx.last().expect("non-empty context"));
        input.extend_from_slice(&proposal);
        let want_hidden = first_hidden && hidden.is_none();
        let out = meter.extend(
            session,
            &input,
            Outputs {
                logits: OutputRows::All,
                hidden: if want_hidden {
                    OutputRows::All
                } else {
                    OutputRows::None
                },
            },
        )?;
        if want_hidden {
            hidden = Some(out.hidden_row(0).to_vec());
        }
        let mut i = 0;
        loop {
            let t = out.argmax_row(i);
            ctx.push(t);
            if limits.finished(ctx) || i >= proposal.len() || proposal[i] != t {
                break;
            }
            i += 1;
        }
        if session.len() > ctx.len() - 1 {
            session.truncate(ctx.len() - 1)?;
        }
    }
    Ok(hidden)
}
