//! Counting forward calls, and bringing a session to a wanted token prefix with as little
//! recomputation as its KV cache allows.

use autojudge_core::{CoreResult, ExtendOutput, ModelSession, Outputs, TokenId};

/// Forward calls and tokens pushed through one model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meter {
    /// `extend` calls.
    pub calls: u64,
    /// Tokens appended.
    pub tokens: u64,
}

impl Meter {
    /// `session.extend`, counted.
    pub fn extend<S: ModelSession>(
        &mut self,
        session: &mut S,
        tokens: &[TokenId],
        outputs: Outputs,
    ) -> CoreResult<ExtendOutput> {
        self.calls += 1;
        self.tokens += tokens.len() as u64;
        session.extend(tokens, outputs)
    }

    /// Makes `session` hold exactly `ctx`: keeps the longest common prefix (KV reuse),
    /// truncates the rest and appends the missing tail in one call (no outputs).
    pub fn sync<S: ModelSession>(&mut self, session: &mut S, ctx: &[TokenId]) -> CoreResult<()> {
        let keep = common_prefix(session.tokens(), ctx);
        if session.len() > keep {
            session.truncate(keep)?;
        }
        if keep < ctx.len() {
            self.extend(session, &ctx[keep..], Outputs::NONE)?;
        }
        Ok(())
    }

    /// Makes `session` hold `ctx[..ctx.len()-1]`, then appends the last token of `ctx` (plus the
    /// rest of the missing tail in the same call) and returns outputs for those positions.
    /// `ctx` must not be empty.
    pub fn extend_to<S: ModelSession>(
        &mut self,
        session: &mut S,
        ctx: &[TokenId],
        outputs: Outputs,
    ) -> CoreResult<ExtendOutput> {
        let keep = common_prefix(session.tokens(), ctx).min(ctx.len() - 1);
        if session.len() > keep {
            session.truncate(keep)?;
        }
        self.extend(session, &ctx[keep..], outputs)
    }
}

/// Length of the longest common prefix of `a` and `b`.
pub fn common_prefix(a: &[TokenId], b: &[TokenId]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
