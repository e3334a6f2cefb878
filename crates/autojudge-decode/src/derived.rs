//! Lossless speculative decoding without running it: greedy lossless output is the target's
//! greedy output, so its counters at any window follow from the target-only tokens and the
//! draft alone.
//!
//! At each cycle the loop of [`crate::generate_speculative`] with [`crate::ModelDrafter`] and
//! [`crate::policies::ExactMatch`] proposes draft tokens greedily from the committed sequence,
//! accepts the run that equals the target's greedy tokens and emits one more. While the draft
//! agrees, its context is a prefix of the target's output, so one teacher-forced draft pass over
//! that output gives every proposal token up to and including the first disagreement. Only the
//! proposal's length after a disagreement depends on the draft's own continuation (it stops
//! early at a draft EOS): those few draft steps run for real. No target forward runs at all.
//!
//! The counters equal a measured run's when the engine's `extend` gives the same logits
//! whether positions come one at a time or in one call (the chunked-extend rule of the model
//! contract; `tests/derived_lossless.rs` checks it on the mock engine and the burn engine).

use autojudge_core::{extend_checked, rewind_checked, ModelSession, OutputRows, Outputs, TokenId};
use rand::{rngs::StdRng, SeedableRng};

use crate::error::{DecodeError, DecodeResult};
use crate::generate::{DecodeConfig, Generation, WindowPolicy};
use crate::sampling::Sampling;
use crate::stats::DecodeStats;
use crate::stop::StopReason;

/// What a derivation needs to know of the target's side of the run it replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetFacts {
    /// The target's context limit (`ModelInfo::max_context`).
    pub max_context: usize,
    /// Leading prompt tokens the target session already held when the run began (0 for a
    /// fresh session; all but the last for a prompt prefilled once and shared).
    pub cached_prompt: usize,
}

/// Positions per teacher-forced draft call (bounds the logits held at once).
const FORCED_CHUNK: usize = 64;

/// The counters of greedy lossless speculative decoding of `prompt` at window `k`, derived from
/// `target_only` (the target's greedy generation of `prompt` under the same budget) and a fresh
/// or reusable `draft` session: cycles, emitted, drafted, accepted, the histograms, target and
/// draft calls, all equal to what [`crate::generate_speculative`] with a
/// [`crate::ModelDrafter`] over `draft` and [`crate::policies::ExactMatch`] would count. Times
/// are zero: nothing was timed.
///
/// `target` gives the target's context limit and how much of the prompt its session already
/// held (the measured run's prefill call is counted only when that was less than all but the
/// prompt's last token, as the decode loop counts it). `cfg` must be greedy with a fixed
/// window and no stop strings ([`DecodeError::InvalidConfig`] otherwise), and `target_only` must
/// have stopped at an EOS the draft also stops at, at the budget or at a full context
/// ([`DecodeError::NotDerivable`] otherwise: run lossless for real then).
pub fn derive_lossless<D: ModelSession>(
    draft: &mut D,
    prompt: &[TokenId],
    target_only: &Generation,
    target: TargetFacts,
    cfg: &DecodeConfig,
) -> DecodeResult<DecodeStats> {
    let target_max_context = target.max_context;
    let WindowPolicy::Fixed(k) = cfg.window else {
        return Err(invalid("window", "a fixed window is needed"));
    };
    if k == 0 {
        return Err(invalid("window", "must be at least 1"));
    }
    if cfg.sampling != Sampling::Greedy {
        return Err(invalid("sampling", "greedy decoding is needed"));
    }
    if !cfg.stop.stop_strings.is_empty() {
        return Err(invalid("stop_strings", "stop strings are not derived"));
    }
    if prompt.is_empty() {
        return Err(DecodeError::EmptyPrompt);
    }
    let draft_eos = draft.info().eos_ids.clone();
    // The target's committed sequence: its tokens and the EOS that ended them.
    let mut seq = target_only.tokens.clone();
    match target_only.stop {
        StopReason::Eos => match target_only.end_token {
            Some(eos) if draft_eos.contains(&eos) => seq.push(eos),
            Some(eos) => {
                return Err(not_derivable(format!(
                    "the target stopped at EOS {eos}, which the draft does not stop at"
                )))
            }
            None => {
                return Err(not_derivable(
                    "the EOS that ended the generation is unknown",
                ))
            }
        },
        StopReason::MaxTokens | StopReason::ContextFull => {}
        StopReason::StopString => return Err(not_derivable("it stopped at a stop string")),
        StopReason::Cancelled => return Err(not_derivable("it was cancelled")),
    }
    let forced = forced_proposals(draft, prompt, &seq)?;
    let max_new = cfg.stop.max_new_tokens;
    let draft_max = draft.info().max_context;
    let mut stats = DecodeStats {
        target_calls: u64::from(target.cached_prompt < prompt.len() - 1),
        ..DecodeStats::default()
    };
    let mut draft_calls = 0u64;
    // Committed new tokens (EOS included once it is emitted).
    let mut p = 0usize;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    loop {
        if max_new == 0 {
            break;
        }
        // The target session holds prompt[..n-1] and the committed tokens before the pending one.
        let target_len = prompt.len() - 1 + p;
        if target_len + 1 > target_max_context {
            break;
        }
        let budget = max_new - p - 1;
        let room = target_max_context - target_len - 1;
        let want = k.min(budget).min(room);
        let context_len = prompt.len() + p;
        let room_draft = want.min(draft_max.saturating_sub(context_len));
        // Proposed tokens and how many of them the target accepts.
        let (proposed, accepted) = if room_draft == 0 {
            (0, 0)
        } else {
            let mut run = (room_draft, room_draft);
            for i in 0..room_draft {
                if p + i >= seq.len() {
                    return Err(past_the_output());
                }
                let tok = forced[p + i];
                let last = i + 1 == room_draft || draft_eos.contains(&tok);
                if tok != seq[p + i] {
                    let extra = if last {
                        0
                    } else {
                        own_continuation(
                            draft,
                            &seq[..p + i],
                            prompt,
                            tok,
                            room_draft - i - 1,
                            &draft_eos,
                            cfg.sampling,
                            &mut rng,
                        )?
                    };
                    run = (i + 1 + extra, i);
                    break;
                }
                if last {
                    run = (i + 1, i + 1);
                    break;
                }
            }
            run
        };
        // The real drafter makes one call for the context and one per proposed token but the last.
        draft_calls += proposed as u64;
        stats.target_calls += 1;
        stats.record_cycle(proposed, accepted, 0);
        stats.emitted += accepted as u64 + 1;
        p += accepted + 1;
        let ended_at_eos = target_only.stop == StopReason::Eos && p >= seq.len();
        if ended_at_eos || p.min(seq.len()) >= max_new {
            break;
        }
        if p > seq.len() {
            return Err(past_the_output());
        }
    }
    let emitted_before_eos = p.min(target_only.tokens.len());
    if emitted_before_eos != target_only.tokens.len() {
        return Err(not_derivable(format!(
            "the derivation emits {emitted_before_eos} tokens, the target-only run {}: it was \
             not a greedy run of this prompt under this budget",
            target_only.tokens.len()
        )));
    }
    stats.draft_calls = draft_calls;
    Ok(stats)
}

/// The draft's greedy token after `prompt ++ seq[..j]` for every `j < seq.len()`, from
/// teacher-forced calls of at most [`FORCED_CHUNK`] positions.
fn forced_proposals<D: ModelSession>(
    draft: &mut D,
    prompt: &[TokenId],
    seq: &[TokenId],
) -> DecodeResult<Vec<TokenId>> {
    let mut rng = StdRng::seed_from_u64(0);
    let keep = rewind_checked(draft, prompt, prompt.len() - 1)?;
    if keep < prompt.len() - 1 {
        extend_checked(draft, &prompt[keep..prompt.len() - 1], Outputs::NONE)?;
    }
    // Input position i (prompt's last token, then seq) predicts seq[i].
    let input: Vec<TokenId> = std::iter::once(prompt[prompt.len() - 1])
        .chain(seq.iter().copied())
        .take(seq.len())
        .collect();
    let mut out = Vec::with_capacity(seq.len());
    for chunk in input.chunks(FORCED_CHUNK) {
        let o = extend_checked(
            draft,
            chunk,
            Outputs {
                logits: OutputRows::All,
                hidden: OutputRows::None,
            },
        )?;
        for r in 0..chunk.len() {
            out.push(Sampling::Greedy.sample(o.logits_row(r), &mut rng));
        }
    }
    Ok(out)
}

/// How many more tokens the draft proposes after its disagreeing token `tok` (following
/// `prompt ++ committed`), at most `limit`: it stops after a draft EOS.
#[allow(clippy::too_many_arguments)]
fn own_continuation<D: ModelSession>(
    draft: &mut D,
    committed: &[TokenId],
    prompt: &[TokenId],
    tok: TokenId,
    limit: usize,
    eos: &[TokenId],
    sampling: Sampling,
    rng: &mut StdRng,
) -> DecodeResult<usize> {
    // The session may hold another branch: keep the common prefix, feed the rest and `tok`.
    let context: Vec<TokenId> = prompt.iter().chain(committed).copied().collect();
    let keep = rewind_checked(draft, &context, context.len())?;
    let mut input = context[keep..].to_vec();
    input.push(tok);
    for n in 1..=limit {
        let o = extend_checked(
            draft,
            &input,
            Outputs {
                logits: OutputRows::Last,
                hidden: OutputRows::None,
            },
        )?;
        let next = sampling.sample(o.logits_row(0), rng);
        input = vec![next];
        if n == limit || eos.contains(&next) {
            return Ok(n);
        }
    }
    Ok(limit)
}

fn invalid(field: &'static str, reason: &str) -> DecodeError {
    DecodeError::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

fn past_the_output() -> DecodeError {
    not_derivable(
        "the lossless run would go past the target-only output: it was not a greedy run of \
         this prompt under this budget and context",
    )
}

fn not_derivable(reason: impl Into<String>) -> DecodeError {
    DecodeError::NotDerivable {
        reason: reason.into(),
    }
}
