//! Engine-agnostic speculative decoding for autojudge-rs.
//!
//! A [`Drafter`] proposes up to k tokens, the target scores them in one `extend`, an
//! [`AcceptancePolicy`] decides position by position (lossless exact match or rejection
//! sampling; lossy top-k, divergence thresholds, or a learned judge), the target session is
//! truncated to what was accepted, and at least one token (the target's correction or bonus
//! token) is emitted per cycle. Everything here speaks only the `autojudge-core` contract.

pub mod drafter;
pub mod error;
pub mod generate;
pub mod mock;
pub mod policy;
pub mod sampling;
pub mod stats;
pub mod stop;

pub use drafter::{Drafter, ModelDrafter, NgramDrafter, NoDraft, Proposal};
pub use error::{DecodeError, DecodeResult};
pub use generate::{
    generate_speculative, generate_target_only, DecodeConfig, Generation, Hooks, WindowPolicy,
};
pub use policy::{AcceptancePolicy, Decision, Judge, Needs, Verdict, Window};
pub use sampling::Sampling;
pub use stats::DecodeStats;
pub use stop::{StopConditions, StopReason};
