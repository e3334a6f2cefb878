//! Core vocabulary of autojudge-rs: token types, the model/session contract that the
//! search, judge and decode crates program against, and typed errors.
//!
//! This crate has no tensor-framework dependency on purpose: a downstream inference engine
//! implements [`TargetModel`] / [`ModelSession`] for its own model and reuses the rest of
//! autojudge-rs unchanged.

mod batch;
mod batcher;
mod conformance;
mod contract;
mod error;
mod error_chain;
mod features;
mod judge;
mod model;
pub mod ngram;
mod output;
mod rows;
mod tokenizer;
mod types;
mod window;

pub use batch::BatchItem;
pub use batcher::{BatchGroup, BatchStats, BatchedModel, BatchedSession, Worker};
pub use conformance::{check_conformance, Check, ConformanceFailure, ConformanceReport};
pub use contract::{extend_checked, rewind_checked, ContractBreach, OutputPart};
pub use error::{BoxError, CoreError, CoreResult};
pub use error_chain::ErrorChain;
pub use features::{
    draft_distribution, logit_features, FeatureNeeds, FeatureParts, FeatureSet, LOGIT_FEATURES,
};
pub use judge::{Judge, NotAProbability, Threshold};
pub use model::{
    check_extend, check_same_tokenizer, check_truncate, ModelInfo, ModelSession, TargetModel,
};
pub use output::{ExtendOutput, OutputRows, Outputs};
pub use rows::{Rows, RowsIter, RowsShape};
pub use tokenizer::{TextTokenizer, TokenizerId};
pub use types::{argmax, TokenId};
pub use window::DoublingWindow;
