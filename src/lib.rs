//! AutoJudge (Garipov et al., arXiv 2504.20039): task-specific lossy speculative decoding for
//! LLMs. A small classifier on hidden states (the judge) lets the target accept mismatching
//! draft tokens that do not change the task's answer.
//!
//! The crates, one job each:
//! - [`core`]: token types, the [`TargetModel`] / [`ModelSession`] contract, typed errors.
//! - [`tasks`]: dataset readers and prompt wordings, answer oracles, the code sandbox.
//! - [`runs`]: the run machinery of long jobs (resumable run directories, the ordered
//!   concurrent driver that batches many prompts' forwards).
//! - [`search`]: mining important tokens (the semi-greedy search, mined datasets).
//! - [`classifier`]: the judge (standardized logistic regression with scikit-learn semantics).
//! - [`decode`]: the speculative decoding loop, drafters and acceptance policies.
//! - [`eval`]: evaluation of AutoJudge against its baselines, judge training orchestration.
//! - [`serve`]: an OpenAI-compatible HTTP server for any of these decoding methods.
//! - `models` (default feature `engine`): Llama-family models on burn (GGUF / HF loaders,
//!   tokenizers, draft views).
//!
//! With `default-features = false` the facade is the engine-agnostic stack: implement
//! [`TargetModel`] for your engine and mine, train, decode and evaluate with it
//! (`examples/foreign_engine.rs` in the repository does exactly that).
//!
//! The items most programs need are re-exported here.

pub use autojudge_classifier as classifier;
pub use autojudge_core as core;
pub use autojudge_decode as decode;
pub use autojudge_eval as eval;
#[cfg(feature = "engine")]
pub use autojudge_models as models;
pub use autojudge_runs as runs;
pub use autojudge_search as search;
pub use autojudge_serve as serve;
pub use autojudge_tasks as tasks;

pub use autojudge_classifier::{load_judge, JudgeModel};
pub use autojudge_core::{
    ModelInfo, ModelSession, OutputRows, Outputs, TargetModel, TextTokenizer, TokenId,
};
pub use autojudge_decode::{
    generate_speculative, generate_target_only, DecodeConfig, Generation, ModelDrafter,
};
pub use autojudge_eval::{evaluate, train_judge, EvalDir, Method, Report};
pub use autojudge_search::{mine_prompt, SearchConfig};
pub use autojudge_tasks::{Oracle, Task};

/// Everything the mine → train → evaluate flow names, for `use autojudge::prelude::*;`: the
/// engine contract an engine implements, mining into a mined directory with an oracle,
/// training a judge, and evaluating it against the baselines (`examples/foreign_engine.rs`
/// runs the flow from these alone).
pub mod prelude {
    pub use autojudge_classifier::{load_judge, JudgeModel};
    pub use autojudge_core::{
        check_conformance, check_extend, check_truncate, CoreError, CoreResult, ExtendOutput,
        FeatureSet, ModelInfo, ModelSession, OutputRows, Outputs, TargetModel, TextTokenizer,
        Threshold, TokenId, TokenizerId,
    };
    pub use autojudge_decode::{
        generate_speculative, generate_target_only, DecodeConfig, Generation, ModelDrafter,
    };
    pub use autojudge_eval::{
        evaluate, judge_methods, judge_sweep, train_judge, EvalDir, EvalPlan, EvalSettings,
        JudgeMethod, Method, PromptPrefill, Report, TrainOptions, TrainedJudge, TrainingSet,
    };
    pub use autojudge_search::{
        mine_prompt, run_mining, Manifest, MinedDir, SearchConfig, SearchModels, Shard,
    };
    pub use autojudge_tasks::{Answer, Oracle, OracleError, Task, TaskLine};
}
