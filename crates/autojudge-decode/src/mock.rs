//! A deterministic pure-Rust language model implementing the core contract: the test double
//! for the decode loop, and a minimal example of a foreign engine plugging into autojudge-rs.
//!
//! Next-token logits are a hash of the last two tokens (a random bigram-of-bigrams model); a
//! draft of adjustable quality adds independent noise to a target's logits.

use autojudge_core::{
    check_extend, check_truncate, CoreResult, ExtendOutput, ModelInfo, ModelSession, OutputRows,
    Outputs, TargetModel, TextTokenizer, TokenId, TokenizerId,
};

/// A hash-defined language model.
#[derive(Clone, Debug)]
pub struct MockLm {
    info: ModelInfo,
    seed: u64,
    scale: f32,
    /// Noise model `(seed, amplitude)` added on top (draft of varying quality).
    noise: Option<(u64, f32)>,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn unit(seed: u64, a: u64, b: u64, v: u64) -> f32 {
    let h = mix(seed ^ mix(a.wrapping_mul(0x9e37_79b9) ^ mix(b ^ mix(v.wrapping_add(0x51)))));
    (h >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
}

impl MockLm {
    /// A model over `vocab` tokens; `scale` sets how peaked its distributions are.
    pub fn new(seed: u64, vocab: usize, scale: f32) -> Self {
        MockLm {
            info: ModelInfo {
                name: format!("mock-{seed}"),
                vocab_size: vocab,
                hidden_size: 4,
                max_context: 4096,
                tokenizer: TokenizerId(format!("mock-vocab{vocab}")),
                eos_ids: vec![],
            },
            seed,
            scale,
            noise: None,
        }
    }

    /// A draft of this model: same logits plus noise of amplitude `noise` (0 = identical).
    pub fn noisy_copy(&self, seed: u64, noise: f32) -> Self {
        let mut m = self.clone();
        m.info.name = format!("{}-noisy{noise}", self.info.name);
        m.noise = Some((seed, noise));
        m
    }

    /// Sets the EOS ids.
    pub fn with_eos(mut self, eos: Vec<TokenId>) -> Self {
        self.info.eos_ids = eos;
        self
    }

    /// Sets the maximum context.
    pub fn with_max_context(mut self, n: usize) -> Self {
        self.info.max_context = n;
        self
    }

    /// Next-token logits after `context`.
    pub fn logits(&self, context: &[TokenId]) -> Vec<f32> {
        let a = context
            .len()
            .checked_sub(2)
            .map(|i| context[i] as u64 + 1)
            .unwrap_or(0);
        let b = context.last().map(|&t| t as u64 + 1).unwrap_or(0);
        (0..self.info.vocab_size as u64)
            .map(|v| {
                let base = self.scale * unit(self.seed, a, b, v);
                match self.noise {
                    Some((s, amp)) => base + amp * self.scale * unit(s, a, b, v),
                    None => base,
                }
            })
            .collect()
    }

    fn hidden(&self, context: &[TokenId]) -> Vec<f32> {
        let b = context.last().map(|&t| t as u64 + 1).unwrap_or(0);
        (0..4)
            .map(|i| unit(self.seed ^ 0xabc, b, context.len() as u64, i))
            .collect()
    }
}

/// A session of a [`MockLm`]: just the tokens (the "cache" is free).
#[derive(Clone, Debug)]
pub struct MockSession {
    model: MockLm,
    tokens: Vec<TokenId>,
    /// Forward calls made.
    pub calls: u64,
}

impl TargetModel for MockLm {
    type Session = MockSession;
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn new_session(&self) -> CoreResult<MockSession> {
        Ok(MockSession {
            model: self.clone(),
            tokens: Vec::new(),
            calls: 0,
        })
    }
}

impl ModelSession for MockSession {
    fn info(&self) -> &ModelInfo {
        &self.model.info
    }
    fn tokens(&self) -> &[TokenId] {
        &self.tokens
    }
    fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput> {
        check_extend(&self.model.info, self.tokens.len(), tokens)?;
        self.calls += 1;
        let start = self.tokens.len();
        self.tokens.extend_from_slice(tokens);
        let k = tokens.len();
        let rows = |r: OutputRows| r.range(k);
        let mut out = ExtendOutput {
            vocab_size: self.model.info.vocab_size,
            hidden_size: 4,
            ..Default::default()
        };
        for i in rows(outputs.logits) {
            out.logits
                .extend(self.model.logits(&self.tokens[..start + i + 1]));
        }
        for i in rows(outputs.hidden) {
            out.hidden
                .extend(self.model.hidden(&self.tokens[..start + i + 1]));
        }
        Ok(out)
    }
    fn truncate(&mut self, n: usize) -> CoreResult<()> {
        check_truncate(self.tokens.len(), n)?;
        self.tokens.truncate(n);
        Ok(())
    }
}

/// One way a [`Faulty`] model breaks the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Returns one hidden-state row fewer than requested (when any is requested).
    DropHiddenRow,
    /// Returns one logits row fewer than requested (when any is requested).
    DropLogitsRow,
    /// Returns logits rows one entry wider than `ModelInfo::vocab_size`.
    WideLogits,
    /// Returns hidden-state rows one entry narrower than `ModelInfo::hidden_size`.
    NarrowHidden,
    /// Returns a NaN as the first logit of every call that returns logits.
    NanLogits,
    /// Answers `extend` without appending the tokens to the session.
    ForgetTokens,
    /// Reports keeping one token more than `rewind_to` allows.
    OverRewind,
}

/// A test double for a misbehaving foreign engine: `model`'s outputs, broken in one way
/// ([`Fault`]) once a session has made [`Faulty::after`] healthy `extend` calls, so the
/// library's contract checks can be exercised on any model.
#[derive(Clone, Debug)]
pub struct Faulty<M> {
    model: M,
    fault: Fault,
    healthy_calls: u64,
}

impl<M: TargetModel> Faulty<M> {
    /// `model`, breaking the contract by `fault` on every `extend` and `rewind_to`.
    pub fn new(model: M, fault: Fault) -> Self {
        Faulty {
            model,
            fault,
            healthy_calls: 0,
        }
    }

    /// Behaves for the first `n` `extend` calls of each session, then breaks.
    pub fn after(mut self, n: u64) -> Self {
        self.healthy_calls = n;
        self
    }
}

/// A session of a [`Faulty`] model.
#[derive(Clone, Debug)]
pub struct FaultySession<S> {
    session: S,
    fault: Fault,
    healthy_calls: u64,
    calls: u64,
}

impl<M: TargetModel> TargetModel for Faulty<M> {
    type Session = FaultySession<M::Session>;
    fn info(&self) -> &ModelInfo {
        self.model.info()
    }
    fn new_session(&self) -> CoreResult<Self::Session> {
        Ok(FaultySession {
            session: self.model.new_session()?,
            fault: self.fault,
            healthy_calls: self.healthy_calls,
            calls: 0,
        })
    }
}

impl<S: ModelSession> FaultySession<S> {
    fn broken(&self) -> bool {
        self.calls > self.healthy_calls
    }
}

impl<S: ModelSession> ModelSession for FaultySession<S> {
    fn info(&self) -> &ModelInfo {
        self.session.info()
    }
    fn tokens(&self) -> &[TokenId] {
        self.session.tokens()
    }
    fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput> {
        self.calls += 1;
        let before = self.session.len();
        let mut out = self.session.extend(tokens, outputs)?;
        if !self.broken() {
            return Ok(out);
        }
        let (vocab, hidden) = (out.vocab_size, out.hidden_size);
        match self.fault {
            Fault::DropHiddenRow => {
                let n = out.hidden.len().saturating_sub(hidden);
                out.hidden.truncate(n);
            }
            Fault::DropLogitsRow => {
                let n = out.logits.len().saturating_sub(vocab);
                out.logits.truncate(n);
            }
            Fault::WideLogits => {
                out.logits = out
                    .logits
                    .chunks(vocab.max(1))
                    .flat_map(|row| row.iter().copied().chain([0.0]))
                    .collect();
                out.vocab_size = vocab + 1;
            }
            Fault::NarrowHidden => {
                out.hidden = out
                    .hidden
                    .chunks(hidden.max(1))
                    .flat_map(|row| row[..row.len().saturating_sub(1)].to_vec())
                    .collect();
                out.hidden_size = hidden.saturating_sub(1);
            }
            Fault::NanLogits => {
                if let Some(v) = out.logits.first_mut() {
                    *v = f32::NAN;
                }
            }
            Fault::ForgetTokens => self.session.truncate(before)?,
            Fault::OverRewind => {}
        }
        Ok(out)
    }
    fn truncate(&mut self, n: usize) -> CoreResult<()> {
        self.session.truncate(n)
    }
    fn rewind_to(&mut self, ctx: &[TokenId], at_most: usize) -> CoreResult<usize> {
        let kept = self.session.rewind_to(ctx, at_most)?;
        // Counted like the extend that follows it.
        if self.fault == Fault::OverRewind && self.calls >= self.healthy_calls {
            return Ok(kept + 1);
        }
        Ok(kept)
    }
}

/// A tokenizer for [`MockLm`]: token `t` is the text `"t "`, and text is read back as its
/// whitespace-separated numbers. The text of a prefix of tokens is a prefix of the text of all
/// of them, as with a real tokenizer's whole characters.
#[derive(Clone, Debug)]
pub struct IdText(pub TokenizerId);

impl IdText {
    /// The tokenizer of `model` (its vocabulary's identity).
    pub fn of(model: &impl TargetModel) -> Self {
        IdText(model.info().tokenizer.clone())
    }
}

impl TextTokenizer for IdText {
    fn encode(&self, text: &str, _add_bos: bool) -> CoreResult<Vec<TokenId>> {
        Ok(text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect())
    }

    fn decode(&self, ids: &[TokenId]) -> CoreResult<String> {
        Ok(ids.iter().map(|t| format!("{t} ")).collect())
    }

    fn id(&self) -> &TokenizerId {
        &self.0
    }
}
