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
    /// P(important) for each feature row (batched over a window's mismatches).
    fn p_important(&self, rows: &[Vec<f32>]) -> Vec<f32>;
}
