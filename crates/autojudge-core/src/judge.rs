//! The judge contract: P(important) for mismatching draft tokens from hidden-state features.
//! It lives in core so the classifier crate and the decode loop meet here without depending
//! on each other.

use crate::FeatureSet;

/// A learned judge.
pub trait Judge {
    /// Short name for reports.
    fn name(&self) -> String;
    /// Which features it reads.
    fn features(&self) -> FeatureSet;
    /// P(important) for each feature row (batched over a window's mismatches): exactly one
    /// value per row, each in `[0, 1]`. The decode loop refuses anything else
    /// ([`crate::ContractBreach::JudgeCount`], [`crate::ContractBreach::JudgeValue`]).
    fn p_important(&self, rows: &[Vec<f32>]) -> Vec<f32>;
    /// The feature-row width the judge's weights read, when it has one: the decode loop
    /// refuses rows of another width ([`crate::ContractBreach::JudgeWidth`]) instead of
    /// letting weights for other models or another feature set score them. `None` (the
    /// default): any width.
    fn feature_width(&self) -> Option<usize> {
        None
    }
}
