//! The judge contract: P(important) for mismatching draft tokens from hidden-state features.
//! It lives in core so the classifier crate and the decode loop meet here without depending
//! on each other.

use crate::{FeatureSet, Rows};

/// A learned judge.
pub trait Judge {
    /// Short name for reports.
    fn name(&self) -> String;
    /// Which features it reads.
    fn features(&self) -> FeatureSet;
    /// P(important) for each feature row (batched over a window's mismatches): exactly one
    /// value per row, each in `[0, 1]`. The decode loop refuses anything else
    /// ([`crate::ContractBreach::JudgeCount`], [`crate::ContractBreach::JudgeValue`]).
    fn p_important(&self, rows: &Rows) -> Vec<f32>;
    /// The feature-row width the judge's weights read, when it has one: the decode loop
    /// refuses rows of another width ([`crate::ContractBreach::JudgeWidth`]) instead of
    /// letting weights for other models or another feature set score them. `None` (the
    /// default): any width.
    fn feature_width(&self) -> Option<usize> {
        None
    }
}

/// A judge's decision threshold on P(important): a mismatch whose probability lies below it is
/// accepted as unimportant, one at or above it is rejected. Always a probability in `[0, 1]`
/// ([`Threshold::new`] checks; deserializing checks too).
///
/// One type from training to decoding: training chooses it among f64 validation scores and
/// judge files store that f64; the decision compares at f32, the precision of
/// [`Judge::p_important`], and `Display` prints that f32 (the shortest text that round-trips
/// it, so two thresholds closer than any fixed number of decimals keep distinct names).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Threshold(f64);

impl Threshold {
    /// `p` as a threshold, or why it is none.
    pub fn new(p: f64) -> Result<Self, NotAProbability> {
        if (0.0..=1.0).contains(&p) {
            Ok(Threshold(p))
        } else {
            Err(NotAProbability { value: p })
        }
    }

    /// The threshold as chosen (f64).
    pub fn get(self) -> f64 {
        self.0
    }

    /// The threshold at the precision decisions use.
    pub fn as_f32(self) -> f32 {
        self.0 as f32
    }

    /// Whether a mismatch the judge gives `p_important` is accepted (`p_important` below the
    /// threshold, compared at f32).
    pub fn accepts(self, p_important: f32) -> bool {
        p_important < self.as_f32()
    }
}

impl std::fmt::Display for Threshold {
    /// The f32 value, honouring the formatter's precision (`{:.4}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.as_f32(), f)
    }
}

impl TryFrom<f64> for Threshold {
    type Error = NotAProbability;
    fn try_from(p: f64) -> Result<Self, NotAProbability> {
        Threshold::new(p)
    }
}

impl From<Threshold> for f64 {
    fn from(t: Threshold) -> f64 {
        t.0
    }
}

/// A value offered as a [`Threshold`] that is no probability (outside `[0, 1]`, or NaN).
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("{value} is outside [0, 1], the range of P(important)")]
pub struct NotAProbability {
    /// The value.
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threshold_is_a_probability_compared_at_f32() {
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(Threshold::new(bad).is_err(), "{bad}");
        }
        let t = Threshold::new(0.3).unwrap();
        assert!(t.accepts(0.29) && !t.accepts(0.3) && !t.accepts(0.31));
        assert_eq!(t.to_string(), 0.3f32.to_string());
        assert_eq!(format!("{t:.3}"), "0.300");
        assert_eq!(serde_json::to_string(&t).unwrap(), "0.3");
        let back: Threshold = serde_json::from_str("0.3").unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<Threshold>("1.5").is_err());
    }
}
