//! `--parallel N`: how many prompts mining and evaluation run at once (their forwards batched),
//! and the memory check that refuses a count whose KV caches would not fit before any work.

use autojudge_core::TargetModel;
use clap::Args;

/// Sessions one worker holds at once, per model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionsPerWorker {
    /// Target sessions.
    pub target: usize,
    /// Draft sessions.
    pub draft: usize,
}

impl SessionsPerWorker {
    /// A mining search: the target's session, and the draft's prediction pass and proposer.
    pub const MINING: SessionsPerWorker = SessionsPerWorker {
        target: 1,
        draft: 2,
    };
    /// A generation: one session of each model.
    pub const DECODING: SessionsPerWorker = SessionsPerWorker {
        target: 1,
        draft: 1,
    };
}

/// The `--parallel` flag.
#[derive(Args, Clone, Debug)]
pub struct ParallelArgs {
    /// Prompts run at once, each on its own thread; their target and draft forwards are
    /// batched (one weight pass serves all). Results are identical to `--parallel 1`.
    #[arg(long, default_value_t = 1, value_parser = crate::numeric_flag::PARALLEL.parser::<u16>())]
    pub parallel: u16,
}

impl ParallelArgs {
    /// Worker count.
    pub fn workers(&self) -> usize {
        self.parallel as usize
    }

    /// Refuses a worker count whose KV caches (sessions of `positions` tokens) would not fit
    /// in the memory available now; returns the estimate in bytes when the engine knows it.
    pub fn check_memory<T: TargetModel, D: TargetModel>(
        &self,
        target: &T,
        draft: &D,
        positions: usize,
        sessions: SessionsPerWorker,
    ) -> anyhow::Result<Option<u64>> {
        let positions = positions
            .min(target.info().max_context)
            .min(draft.info().max_context);
        let (Some(t), Some(d)) = (
            target.session_bytes(positions),
            draft.session_bytes(positions),
        ) else {
            return Ok(None);
        };
        let need = self.workers() as u64 * (sessions.target as u64 * t + sessions.draft as u64 * d);
        if let Some(available) = available_memory_bytes() {
            if need > available {
                anyhow::bail!(
                    "--parallel {}: {} workers hold {} target and {} draft sessions of up to {} \
                     positions each, about {:.1} GiB of KV cache, but only {:.1} GiB of memory is \
                     available; lower --parallel or --max-new-tokens",
                    self.parallel,
                    self.parallel,
                    sessions.target * self.workers(),
                    sessions.draft * self.workers(),
                    positions,
                    gib(need),
                    gib(available)
                );
            }
        }
        Ok(Some(need))
    }
}

/// Bytes as GiB.
pub fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Memory available to new allocations (Linux `MemAvailable`), if known.
pub fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
