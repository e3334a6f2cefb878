//! The AutoJudge judge: a [`StandardScaler`] and an L2-regularised [`LogisticRegression`]
//! with scikit-learn's semantics (unpenalised intercept, `C` = inverse regularisation
//! strength), fitted by L-BFGS; model selection by validation ROC-AUC split by prompt
//! ([`select_c`]); thresholds for a recall target ([`threshold_for_recall`]); persistence as
//! safetensors with JSON metadata ([`save_judge`], [`load_judge`]). Depends on
//! `autojudge-core` only.

mod error;
mod judge_model;
mod lbfgs;
mod logistic;
mod metrics;
mod persist;
mod scaler;
mod selection;
mod thresholds;

pub use error::{check_data, ClassifierError, ClassifierResult, JudgeFileFault};
pub use judge_model::JudgeModel;
pub use logistic::{ClassWeight, LogisticRegression, LogisticRegressionOptions};
pub use metrics::{at_threshold, roc_auc, score_spread, ThresholdMetrics};
pub use persist::{
    load as load_judge, save as save_judge, validate as validate_judge, JudgeMeta, ThresholdRow,
};
pub use scaler::StandardScaler;
pub use selection::{default_c_grid, select_c, select_c_on_split, split_by_group, Selection};
pub use thresholds::{threshold_for_budget, threshold_for_recall, threshold_table};
