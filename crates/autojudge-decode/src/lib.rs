//! Engine-agnostic speculative decoding for autojudge-rs.
//!
//! A [`Drafter`] proposes up to k tokens, the target scores them in one `extend`, an
//! [`AcceptancePolicy`] decides position by position (lossless exact match or rejection
//! sampling; lossy top-k, divergence thresholds, or a learned judge), the target session is
//! truncated to what was accepted, and at least one token (the target's correction or bonus
//! token) is emitted per cycle. Everything here speaks only the `autojudge-core` contract.

mod derived;
mod drafter;
mod error;
mod generate;
#[cfg(any(test, feature = "testing"))]
mod mock;
mod policy;
mod sampling;
mod stats;
mod stop;

pub use derived::{derive_lossless, TargetFacts};
pub use drafter::{
    Drafter, ModelDrafter, NgramDrafter, NoDraft, Proposal, ProposalBreach, ProposalInput,
};
pub use error::{DecodeError, DecodeResult};
pub use generate::{
    generate_speculative, generate_target_only, DecodeConfig, Generation, Hooks, TokenCallback,
    WindowPolicy,
};
pub use policy::{AcceptancePolicy, Decision, Judge, Needs, Verdict, Window};
pub use sampling::{softmax, Sampling};
pub use stats::DecodeStats;
pub use stop::{StopConditions, StopReason};

/// The acceptance policies: lossless ([`policy::ExactMatch`], [`policy::RejectionSampling`])
/// and lossy ([`policy::TopK`], [`policy::Divergence`], [`policy::JudgePolicy`]).
pub mod policies {
    pub use crate::policy::policies::JUDI_CONFIDENT;
    pub use crate::policy::{Divergence, ExactMatch, JudgePolicy, RejectionSampling, TopK};
}

/// `rand`, re-exported for seeding a [`StdRng`] (`rand::SeedableRng`).
pub use rand;
/// The random number generator the sampling paths take ([`AcceptancePolicy::verify`],
/// [`Drafter::propose`]), re-exported so an implementation needs no `rand` of its own.
pub use rand::rngs::StdRng;

/// Test doubles (feature `testing`): a deterministic random language model implementing the
/// core contract, for testing code that drives sessions without a real engine, and a wrapper
/// that makes any model break the contract in a chosen way.
#[cfg(feature = "testing")]
pub mod testing {
    pub use crate::mock::{Fault, Faulty, FaultySession, IdText, MockLm, MockSession};
}
