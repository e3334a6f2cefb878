//! The decode loops: target-only (the baseline) and speculative, through the same session API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use autojudge_core::{
    extend_checked, DoublingWindow, ModelSession, OutputRows, Outputs, TextTokenizer, TokenId,
};
use rand::{rngs::StdRng, SeedableRng};

use crate::drafter::{Drafter, NoDraft};
use crate::error::{DecodeError, DecodeResult};
use crate::policy::{AcceptancePolicy, ExactMatch, Window};
use crate::sampling::Sampling;
use crate::stats::DecodeStats;
use crate::stop::{stop_string_cut, StopConditions, StopReason};

/// How many draft tokens each cycle proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WindowPolicy {
    /// Always `k`.
    Fixed(usize),
    /// Start at `start`; grow by one after a fully accepted window, shrink by one after a
    /// window that accepted less than half; stay within `min..=max`.
    Adaptive {
        /// Initial window.
        start: usize,
        /// Smallest window.
        min: usize,
        /// Largest window.
        max: usize,
    },
    /// Start at `min`; double after a fully accepted window (up to `max`), back to `min` after
    /// any rejection: mining's regeneration window ([`DoublingWindow`]), for long agreeing
    /// stretches at little cost per disagreement.
    Doubling {
        /// Initial and fallback window.
        min: usize,
        /// Largest window.
        max: usize,
    },
}

impl WindowPolicy {
    fn initial(self) -> usize {
        match self {
            WindowPolicy::Fixed(k) => k,
            WindowPolicy::Adaptive { start, .. } => start,
            WindowPolicy::Doubling { min, .. } => min,
        }
    }

    fn next(self, k: usize, proposed: usize, accepted: usize) -> usize {
        match self {
            WindowPolicy::Fixed(k) => k,
            WindowPolicy::Adaptive { min, max, .. } => {
                if proposed > 0 && accepted == proposed {
                    (k + 1).min(max)
                } else if accepted * 2 < proposed {
                    k.saturating_sub(1).max(min)
                } else {
                    k
                }
            }
            WindowPolicy::Doubling { min, max } => {
                DoublingWindow::at(min, max, k).record(proposed > 0 && accepted == proposed)
            }
        }
    }
}

/// Options of one generation.
#[derive(Clone, Debug)]
pub struct DecodeConfig {
    /// Draft window.
    pub window: WindowPolicy,
    /// Token choice on both models.
    pub sampling: Sampling,
    /// RNG seed (sampling and rejection tests).
    pub seed: u64,
    /// When to stop.
    pub stop: StopConditions,
}

impl DecodeConfig {
    /// Greedy decoding with a fixed window and a token budget.
    pub fn greedy(k: usize, max_new_tokens: usize) -> Self {
        DecodeConfig {
            window: WindowPolicy::Fixed(k),
            sampling: Sampling::Greedy,
            seed: 0,
            stop: StopConditions {
                max_new_tokens,
                ..StopConditions::default()
            },
        }
    }

    fn validate(&self) -> DecodeResult<()> {
        let bad = |field, reason: &str| {
            Err(DecodeError::InvalidConfig {
                field,
                reason: reason.into(),
            })
        };
        match self.window {
            WindowPolicy::Fixed(0) => return bad("window", "must be at least 1"),
            WindowPolicy::Adaptive { start, min, max }
                if min == 0 || min > max || start < min || start > max =>
            {
                return bad("window", "adaptive window needs 1 ≤ min ≤ start ≤ max")
            }
            WindowPolicy::Doubling { min, max } if min == 0 || min > max => {
                return bad("window", "doubling window needs 1 ≤ min ≤ max")
            }
            _ => {}
        }
        if let Sampling::Temperature { temperature, top_p } = self.sampling {
            if temperature.is_nan() || temperature <= 0.0 {
                return bad("temperature", "must be > 0");
            }
            if top_p.is_nan() || top_p <= 0.0 || top_p > 1.0 {
                return bad("top_p", "must be in (0, 1]");
            }
        }
        Ok(())
    }
}

/// One finished generation.
#[derive(Clone, Debug)]
pub struct Generation {
    /// New tokens (EOS excluded; stop strings included).
    pub tokens: Vec<TokenId>,
    /// Why it stopped.
    pub stop: StopReason,
    /// The EOS token that ended it (`Some` exactly when `stop` is [`StopReason::Eos`]): a model
    /// may have several.
    pub end_token: Option<TokenId>,
    /// Counters and timings.
    pub stats: DecodeStats,
}

/// Streaming callback: receives each batch of newly emitted tokens.
pub type TokenCallback<'a> = &'a mut dyn FnMut(&[TokenId]);

/// Optional text-level hooks: a tokenizer for stop strings and a streaming callback.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Decodes tokens for stop-string checks.
    pub tokenizer: Option<&'a dyn TextTokenizer>,
    /// Called with each batch of newly emitted tokens.
    pub on_tokens: Option<TokenCallback<'a>>,
    /// Set (by any thread) to end the generation before its next cycle, with
    /// [`StopReason::Cancelled`]: a server whose client went away stops spending forwards on it.
    pub cancel: Option<&'a AtomicBool>,
}

/// Shared bookkeeping of both loops: emitted tokens, stop checks, streaming.
struct Emitter<'a, 'h> {
    tokens: Vec<TokenId>,
    end_token: Option<TokenId>,
    cfg: &'a DecodeConfig,
    eos: Vec<TokenId>,
    hooks: Hooks<'h>,
}

impl Emitter<'_, '_> {
    /// Appends `new` (cut at EOS / stop string / budget); returns the stop reason if any.
    fn emit(&mut self, new: &[TokenId]) -> Option<StopReason> {
        let before = self.tokens.len();
        let mut stop = None;
        for &t in new {
            if self.eos.contains(&t) {
                stop = Some(StopReason::Eos);
                self.end_token = Some(t);
                break;
            }
            self.tokens.push(t);
            if self.tokens.len() >= self.cfg.stop.max_new_tokens {
                stop = Some(StopReason::MaxTokens);
                break;
            }
        }
        if let Some(tok) = self.hooks.tokenizer {
            if let Some(cut) =
                stop_string_cut(&self.tokens, before + 1, &self.cfg.stop.stop_strings, tok)
            {
                self.tokens.truncate(cut);
                stop = Some(StopReason::StopString);
            }
        }
        if let Some(cb) = self.hooks.on_tokens.as_mut() {
            if self.tokens.len() > before {
                cb(&self.tokens[before..]);
            }
        }
        stop
    }
}

/// Feeds `prompt[..n−1]` to `session` (reusing a common prefix) and returns the pending token.
fn prefill<S: ModelSession>(
    session: &mut S,
    prompt: &[TokenId],
    stats: &mut DecodeStats,
) -> DecodeResult<TokenId> {
    let (last, head) = prompt.split_last().ok_or(DecodeError::EmptyPrompt)?;
    let keep = session
        .tokens()
        .iter()
        .zip(head)
        .take_while(|(a, b)| a == b)
        .count();
    session.truncate(keep)?;
    if keep < head.len() {
        let t = Instant::now();
        extend_checked(session, &head[keep..], Outputs::NONE)?;
        stats.target_time += t.elapsed();
        stats.target_calls += 1;
    }
    Ok(*last)
}

fn context_full<S: ModelSession>(s: &S, extra: usize) -> bool {
    s.len() + extra > s.info().max_context
}

/// Plain decoding with the target: one forward per token. It is the speculative loop with a
/// drafter that proposes nothing, so both share every stop rule and statistic.
pub fn generate_target_only<S: ModelSession>(
    target: &mut S,
    prompt: &[TokenId],
    cfg: &DecodeConfig,
    hooks: Hooks<'_>,
) -> DecodeResult<Generation> {
    generate_speculative(target, &mut NoDraft, &mut ExactMatch, prompt, cfg, hooks)
}

/// Speculative decoding: `drafter` proposes, `target` verifies in one forward, `policy` decides.
pub fn generate_speculative<S: ModelSession, D: Drafter, P: AcceptancePolicy>(
    target: &mut S,
    drafter: &mut D,
    policy: &mut P,
    prompt: &[TokenId],
    cfg: &DecodeConfig,
    hooks: Hooks<'_>,
) -> DecodeResult<Generation> {
    cfg.validate()?;
    let needs = policy.needs();
    drafter
        .supports(needs)
        .map_err(|what| DecodeError::MissingInput {
            policy: policy.name(),
            drafter: drafter.name(),
            what,
        })?;
    let wall = Instant::now();
    let mut stats = DecodeStats::default();
    let draft_calls0 = drafter.forward_calls();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let eos = if cfg.stop.eos_ids.is_empty() {
        target.info().eos_ids.clone()
    } else {
        cfg.stop.eos_ids.clone()
    };
    let mut em = Emitter {
        tokens: Vec::new(),
        end_token: None,
        cfg,
        eos,
        hooks,
    };
    let mut pending = prefill(target, prompt, &mut stats)?;
    let mut context: Vec<TokenId> = prompt.to_vec();
    let mut k = cfg.window.initial();
    let outputs = Outputs {
        logits: OutputRows::All,
        hidden: if needs.target_hidden {
            OutputRows::All
        } else {
            OutputRows::None
        },
    };
    let stop = loop {
        if cfg.stop.max_new_tokens == 0 {
            break StopReason::MaxTokens;
        }
        if em.hooks.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            break StopReason::Cancelled;
        }
        if context_full(target, 1) {
            break StopReason::ContextFull;
        }
        // Never draft past the token budget or the context.
        let budget = cfg.stop.max_new_tokens - em.tokens.len() - 1;
        let room = target.info().max_context - target.len() - 1;
        let want = k.min(budget).min(room);
        let t = Instant::now();
        let proposal = drafter.propose(&context, want, cfg.sampling, needs, &mut rng)?;
        stats.draft_time += t.elapsed();
        proposal
            .check(needs, target.info().vocab_size)
            .map_err(|breach| DecodeError::BrokenDrafter {
                drafter: drafter.name(),
                breach,
            })?;
        let n = proposal.tokens.len().min(want);
        let draft = &proposal.tokens[..n];
        let base = target.len();
        let mut input = Vec::with_capacity(n + 1);
        input.push(pending);
        input.extend_from_slice(draft);
        let t = Instant::now();
        let out = extend_checked(target, &input, outputs)?;
        stats.target_time += t.elapsed();
        stats.target_calls += 1;
        let t = Instant::now();
        let verdict = policy.verify(
            &Window {
                draft,
                target: &out,
                draft_probs: &proposal.probs,
                draft_hidden: &proposal.hidden,
                draft_prev_hidden: &proposal.prev_hidden,
                draft_probs_t1: &proposal.probs_t1,
                sampling: cfg.sampling,
            },
            &mut rng,
        )?;
        stats.policy_time += t.elapsed();
        let a = verdict.accepted;
        target.truncate(base + 1 + a)?;
        stats.record_cycle(n, a, verdict.accepted_mismatches());
        let mut new = draft[..a].to_vec();
        new.push(verdict.next);
        stats.emitted += new.len() as u64;
        context.extend_from_slice(&new);
        if let Some(r) = em.emit(&new) {
            break r;
        }
        pending = verdict.next;
        k = cfg.window.next(k, n, a);
    };
    stats.draft_calls = drafter.forward_calls() - draft_calls0;
    stats.wall_time = wall.elapsed();
    Ok(Generation {
        tokens: em.tokens,
        end_token: em.end_token.filter(|_| stop == StopReason::Eos),
        stop,
        stats,
    })
}
