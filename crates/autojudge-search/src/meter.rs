//! Counting forward calls, and bringing a session to a wanted token prefix with as little
//! recomputation as its KV cache allows.

use autojudge_core::{
    extend_checked, rewind_checked, CoreResult, ExtendOutput, ModelSession, Outputs, TokenId,
};

/// Forward calls and tokens pushed through one model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meter {
    /// `extend` calls.
    pub calls: u64,
    /// Tokens appended.
    pub tokens: u64,
}

impl Meter {
    /// `session.extend`, counted, its output checked against the contract
    /// ([`extend_checked`]): mining indexes the rows it asked for.
    pub fn extend<S: ModelSession>(
        &mut self,
        session: &mut S,
        tokens: &[TokenId],
        outputs: Outputs,
    ) -> CoreResult<ExtendOutput> {
        self.calls += 1;
        self.tokens += tokens.len() as u64;
        extend_checked(session, tokens, outputs)
    }

    /// Makes `session` hold `ctx[..ctx.len()-1]` (KV reuse), then appends the rest of `ctx` and
    /// `then` in one call and returns outputs for those positions. `ctx` must not be empty.
    pub fn extend_to<S: ModelSession>(
        &mut self,
        session: &mut S,
        ctx: &[TokenId],
        then: &[TokenId],
        outputs: Outputs,
    ) -> CoreResult<ExtendOutput> {
        let keep = rewind_checked(session, ctx, ctx.len() - 1)?;
        let mut input = ctx[keep..].to_vec();
        input.extend_from_slice(then);
        self.extend(session, &input, outputs)
    }
}
