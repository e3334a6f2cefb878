//! Mining important tokens (AutoJudge's data engine), engine-agnostic: it needs only the
//! [`autojudge_core`] contract, so a foreign engine's `TargetModel` mines unchanged.
//!
//! Per prompt, the semi-greedy search ([`mine_prompt`]) takes the target's greedy response and
//! its answer, walks the draft's mismatches left to right, swaps each draft token in,
//! regenerates greedily and asks the task's oracle (`autojudge_tasks::Oracle`) whether the
//! answer changed (important) or not (unimportant: the swap is kept). Hidden states at every tested mismatch are the judge's
//! features. [`run_mining`] drives a dataset into a resumable [`MinedDir`].

mod continuation;
mod error;
mod meter;
mod record;
mod refeature;
mod run;
mod semi_greedy;
mod shard;
mod store;

pub use error::{SearchError, SearchResult};
pub use record::{
    MinedPrompt, Mismatch, MismatchFeatures, PromptOutcome, PromptRecord, WorkCounters,
};
pub use refeature::recompute_features;
pub use run::{run_mining, MiningProgress, Render, Totals};
pub use semi_greedy::{
    mine_prompt, Algorithm, EosSwap, SearchConfig, SearchModels, REFERENCE_MAX_NEW_TOKENS,
};
pub use shard::Shard;
pub use store::{
    DamagedPrompt, FeatureDType, FeatureDamage, Manifest, MinedDir, ModelIdentity, TrainingRows,
    FORMAT as MANIFEST_FORMAT,
};
