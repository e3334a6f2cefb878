//! Engine-agnostic evaluation of AutoJudge against its baselines.
//!
//! Everything here speaks only the [`autojudge_core`] contract, so an engine that implements
//! `TargetModel` for its own model evaluates exactly as the `autojudge` command line does:
//!
//! - [`Method`]: target-only, lossless speculative decoding, top-k and target-probability
//!   baselines, and AutoJudge judges at thresholds ([`judge_sweep`]).
//! - [`evaluate`]: every method on every prompt into a resumable [`EvalDir`] (settings checked
//!   on resume, one committed [`ResultLine`] per generation), returning a [`Report`] with
//!   paired bootstrap intervals ([`summarize`]).
//! - [`join_dirs`]: one report from directories that ran in parallel.
//! - [`sweep_dirs`]: reports at several draft windows and their operating points (the best
//!   gain over lossless SD per method family that keeps the answers, [`Criterion`]).
//! - [`train_judge`]: the judge from mined directories, its C and threshold tables as data.
//! - [`run_pipeline`]: mine → train the DT and DD-DT judges → evaluate, each step resuming.
//!
//! ```no_run
//! # fn demo<T: autojudge_core::TargetModel, D: autojudge_core::TargetModel>(
//! #     target: &T, draft: &D, tokenizer: &dyn autojudge_core::TextTokenizer,
//! #     oracle: &dyn autojudge_tasks::Oracle,
//! #     tasks: Vec<autojudge_tasks::TaskLine>,
//! # ) -> autojudge_eval::EvalResult<()> {
//! use autojudge_eval::{evaluate, EvalDir, EvalPlan, EvalSettings, Method};
//! use autojudge_search::SearchModels;
//! let settings = EvalSettings::new("gsm8k", target.info(), draft.info(), oracle, 8, 256)
//!     .with_data("test.jsonl");
//! let mut dir = EvalDir::create_or_resume("results/eval".as_ref(), settings)?;
//! let models = SearchModels { target, draft, tokenizer, oracle };
//! let plan = EvalPlan { methods: Method::baselines(&[4], &[]), bootstrap: 2000 };
//! let render = |t: &autojudge_tasks::Task| Ok(tokenizer.encode(&t.user_prompt, true)?);
//! let report = evaluate(&mut dir, &models, &plan, tasks, &render, 1, &mut |_| {})?;
//! report.write_tables(dir.root())?;
//! println!("{}", report.markdown());
//! # Ok(()) }
//! ```

mod error;
mod join;
mod learning_curve;
mod method;
mod operating_points;
mod pipeline;
mod result_line;
mod run;
mod same_path;
mod settings;
mod summary;
mod training;

pub use error::{EvalError, EvalResult};
pub use join::{join_dirs, read_joined};
pub use learning_curve::{
    learning_curve, CurvePoint, CurveSpec, Gate, GateDecision, LearningCurve,
};
pub use method::{
    judge_methods, judge_sweep, JudgeMethod, Method, LOSSLESS, TARGET_ONLY, THRESHOLD_QUANTILES,
};
pub use operating_points::{sweep_dirs, Criterion, OperatingPoint, Sweep, SweepRow};
pub use pipeline::{judge_file, run_pipeline, MiningStep, PipelineProgress, PipelineSpec};
pub use result_line::ResultLine;
pub use run::{evaluate, EvalDir, EvalPlan, Progress, RESULTS_FILE};
pub use same_path::same_path;
pub use settings::{EvalSettings, PromptPrefill};
pub use summary::{clopper_pearson, method_order, summarize, MethodSummary, Report};
pub use training::{
    sibling, train_judge, ThresholdRule, TrainOptions, TrainedJudge, TrainingSet, MIN_USABLE_SPREAD,
};
