//! The AutoJudge judge: a [`StandardScaler`] and an L2-regularised [`LogisticRegression`]
//! with scikit-learn's semantics (unpenalised intercept, `C` = inverse regularisation
//! strength), fitted by L-BFGS, plus the metrics model selection needs ([`metrics`]).
//! Depends on `autojudge-core` only.

pub mod error;
pub mod judge_model;
pub mod lbfgs;
pub mod logistic;
pub mod metrics;
pub mod persist;
pub mod scaler;
pub mod selection;
pub mod thresholds;

pub use error::{ClassifierError, ClassifierResult};
pub use judge_model::JudgeModel;
pub use logistic::{ClassWeight, LogisticRegression, LogisticRegressionOptions};
pub use scaler::StandardScaler;
