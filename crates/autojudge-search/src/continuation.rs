//! Greedy continuation of a target session, verified in blocks against proposals.
//!
//! Exact under greedy decoding: a proposed token is kept only if it is the target's argmax,
//! so the result equals token-by-token greedy decoding whatever the proposals are (for an
//! engine whose rows do not depend on how many are computed together). Proposals come from
//! the previous continuation (a swap that re-converges costs a few block verifications
//! instead of a full regeneration) and from the draft model.

use autojudge_core::ngram::last_match_end;
use autojudge_core::{
    rewind_checked, CoreResult, DoublingWindow, ModelSession, OutputRows, Outputs, TokenId,
};

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
/// and falls back to `min` after a rejection. "Accepted whole" is read off the next context:
/// it holds the proposal and the target's own next token after it (whatever else was appended
/// to the proposal, e.g. an old continuation, or whoever proposed since).
#[derive(Clone, Debug)]
struct GrowingWindow {
    window: DoublingWindow,
    last: Option<(usize, Vec<TokenId>)>,
}

impl GrowingWindow {
    fn new(min: usize, max: usize) -> Self {
        GrowingWindow {
            window: DoublingWindow::new(min, max),
            last: None,
        }
    }

    /// The length to propose after `ctx`.
    fn next(&mut self, ctx: &[TokenId]) -> usize {
        let accepted = self.last.take().is_some_and(|(at, proposal)| {
            ctx.len() > at + proposal.len() && ctx[at..at + proposal.len()] == proposal[..]
        });
        self.window.record(accepted)
    }

    /// Forgets the last proposal (nothing was proposed): the next length is `min`.
    fn reset(&mut self) {
        self.last = None;
    }

    /// Records that `proposal` was proposed after a context of `ctx_len` tokens.
    fn proposed(&mut self, ctx_len: usize, proposal: &[TokenId]) {
        self.last = Some((ctx_len, proposal.to_vec()));
    }
}

/// Where the last few tokens of a context occur again in an older continuation: a
/// continuation that diverged from the old one (an insertion, a deletion, a reworded phrase)
/// often re-converges with it a few tokens later.
fn realign(old: &[TokenId], from: usize, tail: &[TokenId]) -> Option<usize> {
    REALIGN_TAILS.iter().find_map(|&g| {
        let pat = tail.get(tail.len().checked_sub(g)?..)?;
        (from..old.len().saturating_sub(g - 1))
            .find(|&i| &old[i..i + g] == pat)
            .map(|i| i + g)
    })
}

/// Tail lengths tried by [`realign`], longest first (a 2-token tail still finds most
/// re-convergences; a longer one is right more often).
const REALIGN_TAILS: [usize; 3] = [4, 3, 2];

/// Whether [`SuffixProposer`] looks for the old continuation again after the new one left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Realign {
    /// Re-align on the context's last tokens (when nothing better proposes across the gap).
    OnContextTail,
    /// Only propose while aligned; [`DraftThenOld`] re-aligns after the draft's tokens.
    Never,
}

/// Proposes the previous continuation: while the new one follows it, the next tokens of the
/// old one in growing blocks; after a divergence (with [`Realign::OnContextTail`]), what
/// followed the last few tokens wherever they occur again in the old continuation.
pub struct SuffixProposer<'a> {
    old: &'a [TokenId],
    base: usize,
    aligned: bool,
    realign: Realign,
    cursor: usize,
    block: GrowingWindow,
}

impl<'a> SuffixProposer<'a> {
    /// `old` is expected to continue a context of length `base`.
    pub fn new(
        old: &'a [TokenId],
        base: usize,
        min_block: usize,
        max_block: usize,
        realign: Realign,
    ) -> Self {
        SuffixProposer {
            old,
            base,
            aligned: true,
            realign,
            cursor: 0,
            block: GrowingWindow::new(min_block.max(1), max_block),
        }
    }

    fn take(&mut self, from: usize, ctx: &[TokenId], max: usize) -> Vec<TokenId> {
        let n = self
            .block
            .next(ctx)
            .min(max)
            .min(self.old.len().saturating_sub(from));
        let proposal = self.old[from..from + n].to_vec();
        self.block.proposed(ctx.len(), &proposal);
        proposal
    }
}

impl Proposer for SuffixProposer<'_> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        let n = ctx.len();
        if self.aligned && n >= self.base {
            let e = n - self.base;
            if e <= self.old.len() && ctx[self.base..] == self.old[..e] {
                return Ok(self.take(e, ctx, max));
            }
            self.aligned = false;
        }
        if self.realign == Realign::OnContextTail {
            if let Some(from) = realign(self.old, self.cursor, ctx) {
                self.cursor = from;
                return Ok(self.take(from, ctx, max));
            }
        }
        self.block.reset();
        Ok(Vec::new())
    }
}

/// The draft's proposal, followed by what came after its last few tokens in the previous
/// continuation: the draft carries the new text across a divergence, the old continuation
/// proposes from where the two re-converge, and one target call verifies both. The appended
/// stretch starts short and doubles while accepted whole (a verified token costs compute).
pub struct DraftThenOld<'a> {
    draft: &'a mut dyn Proposer,
    old: &'a [TokenId],
    tail: GrowingWindow,
}

impl<'a> DraftThenOld<'a> {
    /// Appends `min_tail` to `max_tail` old-continuation tokens to `draft`'s proposals.
    pub fn new(
        draft: &'a mut dyn Proposer,
        old: &'a [TokenId],
        min_tail: usize,
        max_tail: usize,
    ) -> Self {
        DraftThenOld {
            draft,
            old,
            tail: GrowingWindow::new(min_tail, max_tail),
        }
    }
}

impl Proposer for DraftThenOld<'_> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        let mut proposal = self.draft.propose(ctx, max)?;
        let room = max.saturating_sub(proposal.len()).min(self.tail.next(ctx));
        if proposal.is_empty() || room == 0 {
            return Ok(proposal);
        }
        let keep = REALIGN_TAILS[0].saturating_sub(proposal.len());
        let mut tail = ctx[ctx.len().saturating_sub(keep)..].to_vec();
        tail.extend_from_slice(&proposal);
        if let Some(from) = realign(self.old, 0, &tail) {
            let n = room.min(self.old.len() - from);
            self.tail
                .proposed(ctx.len() + proposal.len(), &self.old[from..from + n]);
            proposal.extend_from_slice(&self.old[from..from + n]);
        }
        Ok(proposal)
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
            if let Some(from) = last_match_end(ctx, pat, n - 1) {
                let len = max.min(n - from);
                return Ok(ctx[from..from + len].to_vec());
            }
            for h in self.history {
                if let Some(from) = last_match_end(h, pat, h.len()) {
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
///
/// The draft's own decoding is speculated too: [`DraftProposer::propose_hinted`] lets cheap
/// guesses (the old continuation, prompt lookup) ride along in a draft call and keeps them
/// while they are the draft's argmax, so agreeing stretches cost one draft call instead of one
/// per token. With [`HintTrust::ArgmaxOnly`] the tokens are the same as without hints.
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

    /// Up to `max` draft tokens after `ctx`, each draft call also checking the tokens `hints`
    /// guess next (kept where they are the draft's argmax, or within their trust of it).
    pub fn propose_hinted(
        &mut self,
        ctx: &[TokenId],
        max: usize,
        hints: &mut Hints<'_>,
    ) -> CoreResult<Vec<TokenId>> {
        let k = self.window.next(ctx).min(max);
        let mut out = Vec::with_capacity(k);
        if k == 0 || ctx.is_empty() {
            return Ok(out);
        }
        let mut full = ctx.to_vec();
        'calls: loop {
            let (mut hint, trust) = hints.next(&full, k - out.len() - 1)?;
            hint.truncate(k - out.len() - 1);
            let rows = self.meter.extend_to(
                &mut self.session,
                &full,
                &hint,
                Outputs {
                    logits: OutputRows::Tail(hint.len() + 1),
                    hidden: OutputRows::None,
                },
            )?;
            for i in 0..=hint.len() {
                let argmax = rows.argmax_row(i);
                // Row i + 1 was computed after hint[i]: keeping the hint keeps the rows valid.
                let t = match hint.get(i) {
                    Some(&h) if trust.keeps(rows.logits_row(i), h, argmax) => h,
                    _ => argmax,
                };
                out.push(t);
                full.push(t);
                if out.len() == k || self.eos.contains(&t) {
                    break 'calls;
                }
                if hint.get(i) != Some(&t) {
                    break;
                }
            }
        }
        self.window.proposed(ctx.len(), &out);
        Ok(out)
    }
}

/// Which of a hint's tokens a [`DraftProposer`] keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HintTrust {
    /// Only the draft's argmax: the proposal is the draft's greedy one.
    ArgmaxOnly,
    /// Also a hint token whose draft log-probability is at most this many nats below the
    /// argmax's. For the old continuation: it is the target's own text after the same
    /// tokens, often right where the draft is not (and the target verifies it anyway).
    WithinNats(f32),
}

impl HintTrust {
    fn keeps(self, logits: &[f32], hint: TokenId, argmax: TokenId) -> bool {
        hint == argmax
            || match self {
                HintTrust::ArgmaxOnly => false,
                // A hint outside the draft's vocabulary is never kept.
                HintTrust::WithinNats(n) => logits
                    .get(hint as usize)
                    .is_some_and(|&l| l >= logits[argmax as usize] - n),
            }
    }
}

impl<S: ModelSession> Proposer for DraftProposer<S> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        let mut hints = Hints {
            trusted: &mut NoProposals,
            trust: HintTrust::ArgmaxOnly,
            guesses: &mut NoProposals,
        };
        self.propose_hinted(ctx, max, &mut hints)
    }
}

/// Guesses of a draft's next tokens, checked inside the draft's own calls.
pub struct Hints<'a> {
    /// Guesses kept within `trust` of the draft's argmax (the old continuation).
    pub trusted: &'a mut dyn Proposer,
    /// How far below the argmax a trusted guess may be.
    pub trust: HintTrust,
    /// Guesses kept only where they are the draft's argmax (prompt lookup), asked when
    /// `trusted` has none.
    pub guesses: &'a mut dyn Proposer,
}

impl Hints<'_> {
    fn next(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<(Vec<TokenId>, HintTrust)> {
        let trusted = self.trusted.propose(ctx, max)?;
        if !trusted.is_empty() {
            return Ok((trusted, self.trust));
        }
        Ok((self.guesses.propose(ctx, max)?, HintTrust::ArgmaxOnly))
    }
}

/// A [`DraftProposer`] whose draft calls also check [`Hints`].
pub struct HintedDraft<'a, S> {
    /// The draft.
    pub draft: &'a mut DraftProposer<S>,
    /// Its guesses.
    pub hints: Hints<'a>,
}

impl<S: ModelSession> Proposer for HintedDraft<'_, S> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        self.draft.propose_hinted(ctx, max, &mut self.hints)
    }
}

/// Guesses from an old continuation: what followed the context's last few tokens where they
/// occur in it (no state: any context, any time).
pub struct OldContinuation<'a> {
    /// The old continuation.
    pub old: &'a [TokenId],
    /// Tokens proposed at most.
    pub block: usize,
}

impl Proposer for OldContinuation<'_> {
    fn propose(&mut self, ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
        Ok(match realign(self.old, 0, ctx) {
            Some(from) => {
                let n = max.min(self.block).min(self.old.len() - from);
                self.old[from..from + n].to_vec()
            }
            None => Vec::new(),
        })
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

/// The target's outputs around a swapped-in token (the last token of the incoming context):
/// its hidden state, and the hidden state and logits of the position that predicted it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwapRows {
    /// Hidden state at the swapped-in token.
    pub hidden: Vec<f32>,
    /// Hidden state at the position before it.
    pub prev_hidden: Vec<f32>,
    /// Logits at the position before it (the distribution that scored the swapped-in token).
    pub prev_logits: Vec<f32>,
}

/// Continues `ctx` greedily until EOS or `limits.max_len`. `session` may hold any tokens: it
/// keeps its longest common prefix with `ctx` (KV reuse) and the missing tokens ride along with
/// the first verification (one call, not a catch-up call and then a verification). On return
/// it holds a prefix of the new `ctx`. With `swap_rows`, also returns [`SwapRows`] for the last
/// token of the incoming `ctx` (which must hold at least two tokens), computed in the first
/// call even if nothing is generated.
pub fn continue_greedy<S: ModelSession>(
    session: &mut S,
    ctx: &mut Vec<TokenId>,
    limits: Limits<'_>,
    proposer: &mut dyn Proposer,
    meter: &mut Meter,
    swap_rows: bool,
) -> CoreResult<Option<SwapRows>> {
    let mut rows_out = None;
    // The first call recomputes the predicting position too when swap rows are wanted.
    let mut back = if swap_rows { 2 } else { 1 };
    let mut first = true;
    loop {
        let finished = limits.finished(ctx);
        if finished && !(first && swap_rows) {
            if first {
                rewind_checked(session, ctx, ctx.len())?;
            }
            return Ok(rows_out);
        }
        let proposal = if finished {
            Vec::new()
        } else {
            let room = limits.max_len - ctx.len();
            let mut p = proposer.propose(ctx, room - 1)?;
            p.truncate(room - 1);
            p
        };
        let keep = rewind_checked(session, ctx, ctx.len() - back)?;
        let mut input = ctx[keep..].to_vec();
        input.extend_from_slice(&proposal);
        let rows = OutputRows::Tail(proposal.len() + back);
        let want = first && swap_rows;
        let out = meter.extend(
            session,
            &input,
            Outputs {
                logits: if finished { OutputRows::Tail(2) } else { rows },
                hidden: if want { rows } else { OutputRows::None },
            },
        )?;
        if want {
            rows_out = Some(SwapRows {
                hidden: out.hidden_row(1).to_vec(),
                prev_hidden: out.hidden_row(0).to_vec(),
                prev_logits: out.logits_row(0).to_vec(),
            });
        }
        if finished {
            return Ok(rows_out);
        }
        let mut i = 0;
        loop {
            let t = out.argmax_row(i + back - 1);
            ctx.push(t);
            if limits.finished(ctx) || i >= proposal.len() || proposal[i] != t {
                break;
            }
            i += 1;
        }
        if session.len() > ctx.len() - 1 {
            session.truncate(ctx.len() - 1)?;
        }
        first = false;
        back = 1;
    }
}

/// How far a target call may look ahead in mining's greedy generations: the old-continuation
/// and prompt-lookup blocks (`min..=max`, growing while accepted) and the draft, when mining
/// uses one.
pub struct Speculation<'a, S> {
    /// Smallest block of old-continuation or prompt-lookup tokens verified per call.
    pub min_block: usize,
    /// Largest such block.
    pub max_block: usize,
    /// The draft's proposer (its own window and session), or `None` for draft-free mining.
    pub draft: Option<&'a mut DraftProposer<S>>,
}

/// The old continuation's tokens are proposed where the draft finds them at least 0.3 times
/// as likely as its own choice (ln 0.3 ≈ -1.2 nats): after the same few tokens it is the
/// target's own text, and at the draft's disagreements it was the target's choice more often
/// than the draft's. The target verifies every token, so labels never depend on this.
const OLD_CONTINUATION_TRUST: HintTrust = HintTrust::WithinNats(1.2);

impl<S: ModelSession> Speculation<'_, S> {
    /// The target's greedy response to `ctx` (the prompt): proposals from the draft (its own
    /// decoding speculated with prompt lookup, kept only at its argmax) or, without a draft,
    /// from prompt lookup. Exact greedy decoding whatever is proposed.
    pub fn greedy_response<T: ModelSession>(
        &mut self,
        target: &mut T,
        ctx: &mut Vec<TokenId>,
        limits: Limits<'_>,
        meter: &mut Meter,
    ) -> CoreResult<()> {
        let mut ngram = ContextNgram {
            block: self.min_block,
            history: &[],
        };
        let (mut none, mut hinted);
        let proposer: &mut dyn Proposer = match self.draft.as_deref_mut() {
            Some(draft) => {
                none = NoProposals;
                hinted = HintedDraft {
                    draft,
                    hints: Hints {
                        trusted: &mut none,
                        trust: HintTrust::ArgmaxOnly,
                        guesses: &mut ngram,
                    },
                };
                &mut hinted
            }
            None => &mut ngram,
        };
        continue_greedy(target, ctx, limits, proposer, meter, false).map(|_| ())
    }

    /// Regenerates greedily after a swap at the end of `ctx`, where `old` is the continuation
    /// the swapped token replaced, and returns the target's [`SwapRows`] at the swapped token.
    ///
    /// Proposal order (the target verifies each proposal in one call and keeps its agreeing
    /// prefix): first `old` while the new continuation follows it, in growing blocks. Across a
    /// divergence, with a draft: the draft's tokens (its own decoding speculated with `old` as
    /// trusted hints and prompt lookup as guesses), then `old` again where the draft's last
    /// tokens meet it. Without a draft: `old` re-aligned on the context's tail, else prompt
    /// lookup in the context and in `history` (earlier regenerations, most recent first).
    pub fn regenerate<T: ModelSession>(
        &mut self,
        target: &mut T,
        ctx: &mut Vec<TokenId>,
        old: &[TokenId],
        history: &[Vec<TokenId>],
        limits: Limits<'_>,
        meter: &mut Meter,
    ) -> CoreResult<SwapRows> {
        let (min, max) = (self.min_block, self.max_block);
        let realign = match self.draft {
            Some(_) => Realign::Never,
            None => Realign::OnContextTail,
        };
        let mut suffix = SuffixProposer::new(old, ctx.len(), min, max, realign);
        let mut ngram = ContextNgram {
            block: min,
            history,
        };
        let (mut old_hints, mut hinted, mut across);
        let divergence: &mut dyn Proposer = match self.draft.as_deref_mut() {
            Some(draft) => {
                old_hints = OldContinuation { old, block: min };
                hinted = HintedDraft {
                    draft,
                    hints: Hints {
                        trusted: &mut old_hints,
                        trust: OLD_CONTINUATION_TRUST,
                        guesses: &mut ngram,
                    },
                };
                across = DraftThenOld::new(&mut hinted, old, min, max);
                &mut across
            }
            None => &mut ngram,
        };
        let mut chain = Chain {
            first: &mut suffix,
            second: divergence,
        };
        Ok(continue_greedy(target, ctx, limits, &mut chain, meter, true)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proposes a fixed sequence, once.
    struct Fixed(Vec<TokenId>);

    impl Proposer for Fixed {
        fn propose(&mut self, _ctx: &[TokenId], max: usize) -> CoreResult<Vec<TokenId>> {
            let mut p = std::mem::take(&mut self.0);
            p.truncate(max);
            Ok(p)
        }
    }

    #[test]
    fn realign_prefers_the_longest_matching_tail() {
        let old = [1, 2, 3, 9, 9, 5, 2, 3, 7, 8];
        // `2 3` occurs twice; `5 2 3` only once, before `7`.
        assert_eq!(realign(&old, 0, &[4, 5, 2, 3]), Some(8));
        assert_eq!(realign(&old, 0, &[4, 6, 2, 3]), Some(3));
        assert_eq!(realign(&old, 4, &[4, 6, 2, 3]), Some(8));
        assert_eq!(realign(&old, 0, &[6, 6]), None);
        assert_eq!(realign(&old, 0, &[3]), None);
    }

    #[test]
    fn draft_then_old_appends_the_old_continuation_where_the_draft_meets_it() {
        let old = [10, 11, 12, 13, 14, 15, 16];
        let mut draft = Fixed(vec![20, 12, 13]);
        let mut p = DraftThenOld::new(&mut draft, &old, 3, 3);
        // ctx tail `5` + draft `20 12 13`: re-aligns on `12 13`, then 14 15 16.
        assert_eq!(p.propose(&[5], 100).unwrap(), vec![20, 12, 13, 14, 15, 16]);
        let mut draft = Fixed(vec![20, 21]);
        let mut p = DraftThenOld::new(&mut draft, &old, 3, 3);
        assert_eq!(p.propose(&[5], 100).unwrap(), vec![20, 21]);
        // The room left bounds the tail.
        let mut draft = Fixed(vec![12, 13]);
        let mut p = DraftThenOld::new(&mut draft, &old, 3, 3);
        assert_eq!(p.propose(&[11], 3).unwrap(), vec![12, 13, 14]);
    }

    /// Proposes the token after the context's last one (a draft that follows `100, 101, …`).
    struct Next;

    impl Proposer for Next {
        fn propose(&mut self, ctx: &[TokenId], _max: usize) -> CoreResult<Vec<TokenId>> {
            Ok(vec![ctx.last().map_or(0, |t| t + 1)])
        }
    }

    #[test]
    fn draft_then_old_grows_the_tail_while_it_is_accepted() {
        let old: Vec<TokenId> = (100..160).collect();
        let mut draft = Next;
        let mut p = DraftThenOld::new(&mut draft, &old, 2, 8);
        let mut ctx: Vec<TokenId> = vec![1, 100, 101];
        let mut tails = Vec::new();
        for _ in 0..4 {
            let got = p.propose(&ctx, 100).unwrap();
            tails.push(got.len() - 1);
            // The target accepts everything, plus one token of its own.
            ctx.extend_from_slice(&got);
            ctx.push(ctx.last().unwrap() + 1);
        }
        assert_eq!(tails, vec![2, 4, 8, 8]);
        // Rejected inside the tail: back to the minimum.
        let got = p.propose(&ctx, 100).unwrap();
        ctx.extend_from_slice(&got[..3]);
        ctx.push(1);
        ctx.extend([2, 3, 130]);
        assert_eq!(p.propose(&ctx, 100).unwrap(), vec![131, 132, 133]);
    }

    #[test]
    fn window_doubles_only_after_a_proposal_accepted_whole() {
        let mut w = GrowingWindow::new(2, 8);
        assert_eq!(w.next(&[0]), 2);
        w.proposed(1, &[5, 6]);
        // Accepted whole, plus the target's token and more (an appended old continuation).
        assert_eq!(w.next(&[0, 5, 6, 7, 8]), 4);
        w.proposed(5, &[1, 2, 3, 4]);
        assert_eq!(w.next(&[0, 5, 6, 7, 8, 1, 2, 3, 4, 9]), 8);
        let mut ctx = vec![0; 10];
        ctx.extend([1; 8]);
        ctx.push(9);
        w.proposed(10, &[1; 8]);
        assert_eq!(w.next(&ctx), 8, "capped at max");
        w.proposed(ctx.len(), &[1, 2]);
        // Rejected at the second token.
        ctx.extend([1, 7]);
        assert_eq!(w.next(&ctx), 2);
    }

    #[test]
    fn old_continuation_guesses_after_the_context_tail() {
        let old = [1, 2, 3, 4, 5, 6];
        let mut g = OldContinuation {
            old: &old,
            block: 2,
        };
        assert_eq!(g.propose(&[9, 2, 3], 10).unwrap(), vec![4, 5]);
        assert_eq!(g.propose(&[9, 2, 3], 1).unwrap(), vec![4]);
        assert_eq!(g.propose(&[9, 8], 10).unwrap(), Vec::<TokenId>::new());
    }
}

/// Hinted draft proposals on tiny random burn models (a dev-dependency).
#[cfg(test)]
mod hinted_draft_tests {
    use super::*;
    use autojudge_core::TargetModel;
    use autojudge_models::backend::CpuBackend;
    use autojudge_models::tiny::TinyModel;
    use autojudge_models::{LayerPlan, Llama};
    use proptest::prelude::*;

    fn draft_model(seed: u64) -> Llama<CpuBackend> {
        let dev = Default::default();
        if seed.is_multiple_of(2) {
            TinyModel::new(seed + 1000)
                .build::<CpuBackend>(&dev)
                .unwrap()
        } else {
            TinyModel::new(seed)
                .layers(3)
                .build::<CpuBackend>(&dev)
                .unwrap()
                .draft_view(LayerPlan::EarlyExit(2))
                .unwrap()
        }
    }

    fn prompt(seed: u64, len: usize) -> Vec<TokenId> {
        (0..len)
            .map(|i| 1 + ((seed as usize * 31 + i * 17) % 63) as TokenId)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Hints only save draft calls: the proposed tokens are the draft's greedy ones.
        #[test]
        fn hinted_draft_proposes_its_own_greedy_tokens(
            seed in 0u64..1000, plen in 1usize..10, k in 1usize..12, hint_block in 1usize..10,
            steps in 1usize..5,
        ) {
            let draft = draft_model(seed);
            let eos = draft.info().eos_ids.clone();
            let mut plain = DraftProposer::new(draft.new_session().unwrap(), k, k, eos.clone());
            let mut hinted = DraftProposer::new(draft.new_session().unwrap(), k, k, eos);
            // Hints: the plain draft's own earlier output, so some are right and some are not.
            let mut ctx = prompt(seed, plen);
            let mut seen: Vec<TokenId> = Vec::new();
            for _ in 0..steps {
                let want = plain.propose(&ctx, k).unwrap();
                let mut guesses = OldContinuation { old: &seen, block: hint_block };
                let mut hints = Hints {
                    trusted: &mut NoProposals,
                    trust: HintTrust::ArgmaxOnly,
                    guesses: &mut guesses,
                };
                let got = hinted.propose_hinted(&ctx, k, &mut hints).unwrap();
                prop_assert_eq!(&got, &want);
                seen.extend_from_slice(&want);
                ctx.extend_from_slice(&want[..want.len().div_ceil(2)]);
            }
            prop_assert!(hinted.meter.calls <= plain.meter.calls + steps as u64);
        }

        /// Trusted hints are kept even where the draft prefers another token; untrusted ones only
        /// where they are its argmax.
        #[test]
        fn trusted_hints_are_kept_within_their_trust(seed in 0u64..1000, k in 2usize..12) {
            let draft = draft_model(seed);
            let mut dp = DraftProposer::new(draft.new_session().unwrap(), k, k, vec![]);
            let ctx = prompt(seed, 5);
            // The old continuation: the context's last 4 tokens, then tokens the draft would not
            // choose (a fixed sequence).
            let mut old = ctx[1..].to_vec();
            let forced: Vec<TokenId> = (0..k as TokenId).map(|i| 1 + (i * 7 + seed as TokenId) % 60).collect();
            old.extend_from_slice(&forced);
            let mut trusted = OldContinuation { old: &old, block: k };
            let mut hints = Hints {
                trusted: &mut trusted,
                trust: HintTrust::WithinNats(f32::INFINITY),
                guesses: &mut NoProposals,
            };
            let got = dp.propose_hinted(&ctx, k, &mut hints).unwrap();
            prop_assert_eq!(&got[..k - 1], &forced[..k - 1]);
            let greedy = DraftProposer::new(draft.new_session().unwrap(), k, k, vec![])
                .propose(&ctx, k)
                .unwrap();
            let mut untrusted = OldContinuation { old: &old, block: k };
            let mut hints = Hints {
                trusted: &mut NoProposals,
                trust: HintTrust::WithinNats(f32::INFINITY),
                guesses: &mut untrusted,
            };
            let mut dp = DraftProposer::new(draft.new_session().unwrap(), k, k, vec![]);
            prop_assert_eq!(dp.propose_hinted(&ctx, k, &mut hints).unwrap(), greedy);
        }
    }
}
