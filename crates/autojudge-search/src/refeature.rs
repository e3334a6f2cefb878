//! Features from records: a mined prompt's features are a function of its record, so a mined
//! directory can keep records only (a few KB a prompt) and recompute its feature files when a
//! judge is trained.
//!
//! The search tests mismatches left to right, and a tested swap changes the response only after
//! its own position. So when the mismatch at position `j` with draft token `d` was tested, the
//! response before `j` was already the record's final response before `j`, and its features are
//! the models' outputs on `prompt ++ final[..j] ++ [d]`: hidden states at `d` and at the
//! position before it, and the two distributions that scored `d`. One pass over the final
//! response per model, plus one position per mismatch, recomputes them all.

use autojudge_core::{
    draft_distribution, extend_checked, logit_features, rewind_checked, ModelSession, OutputRows,
    Outputs, TargetModel, TokenId,
};

use crate::record::{MinedPrompt, MismatchFeatures};
use crate::{SearchError, SearchResult};

/// The outputs around a swapped-in token: logits and hidden states at the predicting position
/// and at the token.
const AROUND_SWAP: Outputs = Outputs {
    logits: OutputRows::Tail(2),
    hidden: OutputRows::Tail(2),
};

/// The features of every mismatch of `record` (in its order), recomputed with `target` and
/// `draft` from `prompt` (the prompt tokens it was mined from) and the record's final response.
/// They equal the mined ones when the engine's outputs do not depend on how positions are
/// split across `extend` calls (the model contract's chunking rule).
///
/// A record whose prompt length or mismatch positions do not fit `prompt` and its final
/// response is refused ([`SearchError::BadRecord`] naming `source`, the record's file).
pub fn recompute_features<T: TargetModel, D: TargetModel>(
    target: &T,
    draft: &D,
    prompt: &[TokenId],
    record: &MinedPrompt,
    source: &str,
    index: usize,
) -> SearchResult<Vec<MismatchFeatures>> {
    let bad = |reason: String| SearchError::BadRecord {
        path: source.to_string(),
        line: index + 1,
        reason,
    };
    if prompt.is_empty() {
        return Err(bad("the prompt renders to no token".into()));
    }
    let final_response = &record.final_response;
    let mut last = None;
    for m in &record.mismatches {
        if m.position > final_response.len() || last.is_some_and(|l| m.position <= l) {
            return Err(bad(format!(
                "mismatch position {} does not fit a final response of {} tokens in increasing \
                 order",
                m.position,
                final_response.len()
            )));
        }
        last = Some(m.position);
    }
    let mut t = target.new_session()?;
    let mut d = draft.new_session()?;
    let mut out = Vec::with_capacity(record.mismatches.len());
    for m in &record.mismatches {
        // Context up to the predicting position, then the draft token.
        let mut ctx: Vec<TokenId> = prompt.to_vec();
        ctx.extend_from_slice(&final_response[..m.position]);
        ctx.push(m.draft_token);
        let draft_rows = around(&mut d, &ctx)?;
        let target_rows = around(&mut t, &ctx)?;
        let q = draft_distribution(draft_rows.logits_row(0));
        out.push(MismatchFeatures {
            draft: draft_rows.hidden_row(1).to_vec(),
            draft_prev: draft_rows.hidden_row(0).to_vec(),
            logits: logit_features(target_rows.logits_row(0), &q, m.draft_token as usize).to_vec(),
            target: target_rows.hidden_row(1).to_vec(),
            target_prev: target_rows.hidden_row(0).to_vec(),
        });
    }
    Ok(out)
}

/// [`AROUND_SWAP`] rows for the last two positions of `ctx`, reusing what `session` holds of
/// it; afterwards the session holds `ctx` without its last token (the next context shares it).
fn around<S: ModelSession>(
    session: &mut S,
    ctx: &[TokenId],
) -> SearchResult<autojudge_core::ExtendOutput> {
    let keep = rewind_checked(session, ctx, ctx.len().saturating_sub(2))?;
    let rows = extend_checked(session, &ctx[keep..], AROUND_SWAP)?;
    session.truncate(ctx.len() - 1)?;
    Ok(rows)
}
