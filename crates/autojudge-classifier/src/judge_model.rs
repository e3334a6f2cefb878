//! [`JudgeModel`]: a fitted logistic regression on a feature set, usable by the decode loop
//! through the core `Judge` trait.

use autojudge_core::{FeatureSet, Judge, Rows};
use serde::{Deserialize, Serialize};

use crate::logistic::LogisticRegression;

/// A trained judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeModel {
    /// Which hidden states it reads.
    pub features: FeatureSet,
    /// The classifier (positive class = important).
    pub model: LogisticRegression,
}

impl Judge for JudgeModel {
    fn name(&self) -> String {
        format!("logreg-{}-C{}", self.features, self.model.options.c)
    }

    fn features(&self) -> FeatureSet {
        self.features
    }

    fn feature_width(&self) -> Option<usize> {
        Some(self.model.coef.len())
    }

    fn p_important(&self, rows: &Rows) -> Vec<f32> {
        self.model
            .predict_proba(rows)
            .into_iter()
            .map(|p| p as f32)
            .collect()
    }
}
