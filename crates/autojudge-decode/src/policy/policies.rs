//! The acceptance policies: lossless (exact match, rejection sampling) and lossy (top-k,
//! divergence thresholds, learned judge).

use autojudge_core::{ContractBreach, Rows, Threshold};
use rand::{rngs::StdRng, Rng};

use super::{
    draw_from, probs_t1, residual, walk, AcceptancePolicy, Decision, Judge, Needs, Verdict, Window,
};
use crate::error::DecodeResult;

/// Accept a draft token only if it is the target's own choice (greedy: argmax; sampling: the
/// target's sample). Lossless.
#[derive(Clone, Debug, Default)]
pub struct ExactMatch;

impl AcceptancePolicy for ExactMatch {
    fn name(&self) -> String {
        "exact".into()
    }
    fn needs(&self) -> Needs {
        Needs::default()
    }
    fn verify(&mut self, w: &Window<'_>, rng: &mut StdRng) -> DecodeResult<Verdict> {
        if w.sampling.is_greedy() {
            return Ok(walk(w, rng, |i, _| {
                if w.is_greedy_match(i) {
                    Decision::Match
                } else {
                    Decision::Rejected
                }
            }));
        }
        // Sampling: draw the target's token per slot; accept while it equals the draft's.
        let mut decisions = Vec::new();
        for i in 0..w.draft.len() {
            let t = w.target_choice(i, rng);
            if t != w.draft[i] {
                decisions.push(Decision::Rejected);
                return Ok(Verdict {
                    accepted: i,
                    next: t,
                    decisions,
                });
            }
            decisions.push(Decision::Match);
        }
        let k = w.draft.len();
        Ok(Verdict {
            accepted: k,
            next: w.target_choice(k, rng),
            decisions,
        })
    }
}

/// Speculative sampling (Leviathan et al. 2023; Chen et al. 2023): accept `d` with probability
/// `min(1, p(d)/q(d))`, else emit a sample of the normalized residual `max(0, p − q)`.
/// Lossless in distribution; under greedy sampling it is exact match.
#[derive(Clone, Debug, Default)]
pub struct RejectionSampling;

impl AcceptancePolicy for RejectionSampling {
    fn name(&self) -> String {
        "rejection-sampling".into()
    }
    fn needs(&self) -> Needs {
        Needs {
            draft_probs: true,
            ..Needs::default()
        }
    }
    fn verify(&mut self, w: &Window<'_>, rng: &mut StdRng) -> DecodeResult<Verdict> {
        if w.sampling.is_greedy() {
            return ExactMatch.verify(w, rng);
        }
        let mut decisions = Vec::new();
        for (i, &d) in w.draft.iter().enumerate() {
            let p = w.sampling.probs(w.target.logits_row(i));
            let q = &w.draft_probs[i];
            let (pd, qd) = (p[d as usize], q[d as usize]);
            let accept = qd > 0.0 && rng.random::<f32>() < (pd / qd).min(1.0);
            if accept {
                decisions.push(Decision::Match);
            } else {
                decisions.push(Decision::Rejected);
                return Ok(Verdict {
                    accepted: i,
                    next: draw_from(&residual(&p, q), rng),
                    decisions,
                });
            }
        }
        let k = w.draft.len();
        Ok(Verdict {
            accepted: k,
            next: w.target_choice(k, rng),
            decisions,
        })
    }
}

/// Lossy baseline: accept a mismatching draft token that is among the target's top-k.
#[derive(Clone, Debug)]
pub struct TopK {
    /// How many of the target's best tokens are acceptable.
    pub k: usize,
}

impl AcceptancePolicy for TopK {
    fn name(&self) -> String {
        format!("top-{}", self.k)
    }
    fn needs(&self) -> Needs {
        Needs::default()
    }
    fn verify(&mut self, w: &Window<'_>, rng: &mut StdRng) -> DecodeResult<Verdict> {
        Ok(walk(w, rng, |i, _| {
            if w.is_greedy_match(i) {
                return Decision::Match;
            }
            let row = w.target.logits_row(i);
            let d = row[w.draft[i] as usize];
            let better = row.iter().filter(|&&x| x > d).count();
            if better < self.k {
                Decision::AcceptedMismatch
            } else {
                Decision::Rejected
            }
        }))
    }
}

/// Training-free lossy baselines on the target/draft distributions (cf. arXiv 2601.04766).
#[derive(Clone, Debug)]
pub enum Divergence {
    /// Accept a mismatch when the target's probability of the draft token is ≥ τ.
    TargetProb(f32),
    /// Accept a mismatch when KL(p‖q) between target and draft distributions is ≤ τ.
    Kl(f32),
    /// JuDi (arXiv 2601.04766), training-free: accept a mismatch when KL(p‖q) ≤ τ, unless the
    /// target is confident (its top-1 probability > [`JUDI_CONFIDENT`]).
    Judi(f32),
}

/// The target top-1 probability above which [`Divergence::Judi`] never accepts a mismatch.
pub const JUDI_CONFIDENT: f32 = 0.9;

impl AcceptancePolicy for Divergence {
    fn name(&self) -> String {
        match self {
            Divergence::TargetProb(t) => format!("p-target>={t}"),
            Divergence::Kl(t) => format!("kl<={t}"),
            Divergence::Judi(t) => format!("judi(kl<={t},top1<={JUDI_CONFIDENT})"),
        }
    }
    fn needs(&self) -> Needs {
        Needs {
            draft_probs: matches!(self, Divergence::Kl(_) | Divergence::Judi(_)),
            ..Needs::default()
        }
    }
    fn verify(&mut self, w: &Window<'_>, rng: &mut StdRng) -> DecodeResult<Verdict> {
        Ok(walk(w, rng, |i, _| {
            if w.is_greedy_match(i) {
                return Decision::Match;
            }
            let p = probs_t1(w.target.logits_row(i));
            let kl = || -> f64 {
                p.iter()
                    .zip(&w.draft_probs[i])
                    .filter(|(a, _)| **a > 0.0)
                    .map(|(&a, &b)| a as f64 * ((a as f64) / (b as f64).max(1e-30)).ln())
                    .sum()
            };
            let ok = match *self {
                Divergence::TargetProb(t) => p[w.draft[i] as usize] >= t,
                Divergence::Kl(t) => kl() <= t as f64,
                Divergence::Judi(t) => {
                    let top1 = p.iter().copied().fold(0.0f32, f32::max);
                    top1 <= JUDI_CONFIDENT && kl() <= t as f64
                }
            };
            if ok {
                Decision::AcceptedMismatch
            } else {
                Decision::Rejected
            }
        }))
    }
}

/// AutoJudge: a mismatching draft token is accepted when the judge's P(important) is below
/// `threshold`; the first important one is replaced by the target's token.
pub struct JudgePolicy<J: Judge> {
    /// The classifier.
    pub judge: J,
    /// Decision threshold on P(important).
    pub threshold: Threshold,
}

impl<J: Judge> AcceptancePolicy for JudgePolicy<J> {
    fn name(&self) -> String {
        format!("judge({})@{}", self.judge.name(), self.threshold)
    }
    fn needs(&self) -> Needs {
        let n = self.judge.features().needs();
        Needs {
            draft_probs_t1: n.logits,
            target_hidden: n.target || n.target_prev,
            draft_hidden: n.draft,
            draft_prev_hidden: n.draft_prev,
            ..Needs::default()
        }
    }
    fn verify(&mut self, w: &Window<'_>, rng: &mut StdRng) -> DecodeResult<Verdict> {
        let mismatches: Vec<usize> = (0..w.draft.len())
            .filter(|&i| !w.is_greedy_match(i))
            .collect();
        let set = self.judge.features();
        let mut rows = Rows::default();
        for &i in &mismatches {
            rows.push(&w.feature_row(set, i))?;
        }
        let p = if rows.is_empty() {
            Vec::new()
        } else {
            checked_p_important(&self.judge, &rows)?
        };
        Ok(walk(w, rng, |i, _| {
            match mismatches.iter().position(|&m| m == i) {
                None => Decision::Match,
                Some(j) if self.threshold.accepts(p[j]) => Decision::AcceptedMismatch,
                Some(_) => Decision::Rejected,
            }
        }))
    }
}

/// `judge.p_important(rows)`, checked against the judge contract: every row as wide as the
/// judge reads, one value per row, each a probability.
fn checked_p_important<J: Judge>(judge: &J, rows: &Rows) -> DecodeResult<Vec<f32>> {
    if let Some(expected) = judge.feature_width() {
        if rows.width() != expected {
            return Err(ContractBreach::JudgeWidth {
                got: rows.width(),
                expected,
            }
            .by(judge.name())
            .into());
        }
    }
    let p = judge.p_important(rows);
    if p.len() != rows.len() {
        return Err(ContractBreach::JudgeCount {
            got: p.len(),
            rows: rows.len(),
        }
        .by(judge.name())
        .into());
    }
    if let Some((row, &value)) = p
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=1.0).contains(*v))
    {
        return Err(ContractBreach::JudgeValue { row, value }
            .by(judge.name())
            .into());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use autojudge_core::ExtendOutput;
    use rand::SeedableRng;

    /// One draft token (id 1) against a target row `target` (logits over 3 tokens; row 1 is
    /// the bonus row) and the draft distribution `q`.
    fn judi(tau: f32, target: [f32; 3], q: [f32; 3]) -> Decision {
        let out = ExtendOutput {
            logits: target.iter().chain(&[0.0, 0.0, 0.0]).copied().collect(),
            vocab_size: 3,
            hidden: Vec::new(),
            hidden_size: 0,
        };
        let probs = Rows::from_rows([q]).unwrap();
        let none = Rows::default();
        let w = Window {
            draft: &[1],
            target: &out,
            draft_probs: &probs,
            draft_hidden: &none,
            draft_prev_hidden: &none,
            draft_probs_t1: &none,
            sampling: crate::Sampling::Greedy,
        };
        Divergence::Judi(tau)
            .verify(&w, &mut StdRng::seed_from_u64(0))
            .unwrap()
            .decisions[0]
    }

    #[test]
    fn judi_accepts_close_distributions_unless_the_target_is_confident() {
        // Target p ≈ (0.51, 0.19, 0.30): token 1 mismatches the argmax 0.
        let unsure = [1.0, 0.0, 0.5];
        let p = probs_t1(&unsure);
        let same: [f32; 3] = [p[0], p[1], p[2]];
        assert_eq!(judi(0.01, unsure, same), Decision::AcceptedMismatch);
        assert_eq!(judi(0.01, unsure, [0.01, 0.98, 0.01]), Decision::Rejected);
        // A confident target (top-1 > 0.9) rejects whatever the KL.
        let sure = [6.0, 0.0, 0.0];
        let p = probs_t1(&sure);
        assert!(p[0] > JUDI_CONFIDENT);
        assert_eq!(judi(10.0, sure, [p[0], p[1], p[2]]), Decision::Rejected);
    }
}
