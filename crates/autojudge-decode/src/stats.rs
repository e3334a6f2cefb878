//! Statistics of a decode run, per generation and aggregated.

use std::time::Duration;

/// Counters and timings of speculative (or target-only) decoding.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecodeStats {
    /// Verification cycles (target-only: decode steps).
    pub cycles: u64,
    /// Tokens emitted.
    pub emitted: u64,
    /// Draft tokens proposed.
    pub drafted: u64,
    /// Draft tokens accepted.
    pub accepted: u64,
    /// Accepted draft tokens that matched the target's choice.
    pub accepted_matches: u64,
    /// Mismatching draft tokens the policy accepted (lossy policies).
    pub accepted_mismatches: u64,
    /// Histogram: `accepted_hist[a]` cycles accepted exactly `a` draft tokens.
    pub accepted_hist: Vec<u64>,
    /// Proposals that reached window position `i`.
    pub reached_at: Vec<u64>,
    /// Proposals accepted at window position `i`.
    pub accepted_at: Vec<u64>,
    /// Target forward calls (prefill included).
    pub target_calls: u64,
    /// Draft forward calls.
    pub draft_calls: u64,
    /// Time in the drafter.
    pub draft_time: Duration,
    /// Time in target forwards.
    pub target_time: Duration,
    /// Time in the acceptance policy.
    pub policy_time: Duration,
    /// Wall time of the whole generation.
    pub wall_time: Duration,
}

impl DecodeStats {
    /// Records one verification cycle.
    pub fn record_cycle(&mut self, proposed: usize, accepted: usize, mismatches: usize) {
        self.cycles += 1;
        self.drafted += proposed as u64;
        self.accepted += accepted as u64;
        self.accepted_mismatches += mismatches as u64;
        self.accepted_matches += (accepted - mismatches) as u64;
        if self.accepted_hist.len() <= accepted {
            self.accepted_hist.resize(accepted + 1, 0);
        }
        self.accepted_hist[accepted] += 1;
        let reach = proposed.min(accepted + 1);
        if self.reached_at.len() < proposed {
            self.reached_at.resize(proposed, 0);
            self.accepted_at.resize(proposed, 0);
        }
        for i in 0..reach {
            self.reached_at[i] += 1;
        }
        for i in 0..accepted {
            self.accepted_at[i] += 1;
        }
    }

    /// Mean draft tokens accepted per cycle.
    pub fn mean_accepted(&self) -> f64 {
        self.accepted as f64 / self.cycles.max(1) as f64
    }

    /// Mean tokens emitted per target call (prefill excluded): the speculative speed-up bound.
    pub fn tokens_per_target_call(&self) -> f64 {
        self.emitted as f64 / self.cycles.max(1) as f64
    }

    /// Target calls per generated token (prefill excluded).
    pub fn target_calls_per_token(&self) -> f64 {
        self.cycles as f64 / self.emitted.max(1) as f64
    }

    /// Emitted tokens per second of wall time.
    pub fn tokens_per_second(&self) -> f64 {
        self.emitted as f64 / self.wall_time.as_secs_f64().max(1e-9)
    }

    /// Acceptance rate at each window position.
    pub fn acceptance_by_position(&self) -> Vec<f64> {
        self.reached_at
            .iter()
            .zip(&self.accepted_at)
            .map(|(&r, &a)| a as f64 / r.max(1) as f64)
            .collect()
    }

    /// Adds another run's counters.
    pub fn merge(&mut self, o: &DecodeStats) {
        self.cycles += o.cycles;
        self.emitted += o.emitted;
        self.drafted += o.drafted;
        self.accepted += o.accepted;
        self.accepted_matches += o.accepted_matches;
        self.accepted_mismatches += o.accepted_mismatches;
        for (dst, src) in [
            (&mut self.accepted_hist, &o.accepted_hist),
            (&mut self.reached_at, &o.reached_at),
            (&mut self.accepted_at, &o.accepted_at),
        ] {
            if dst.len() < src.len() {
                dst.resize(src.len(), 0);
            }
            for (d, s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        }
        self.target_calls += o.target_calls;
        self.draft_calls += o.draft_calls;
        self.draft_time += o.draft_time;
        self.target_time += o.target_time;
        self.policy_time += o.policy_time;
        self.wall_time += o.wall_time;
    }
}
