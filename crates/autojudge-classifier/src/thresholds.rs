//! Threshold selection: a table of validation-quantile thresholds with recall/precision of
//! important tokens and the fraction of mismatches accepted, and the threshold for a target
//! recall of important tokens.

use crate::metrics::{at_threshold, ThresholdMetrics};

/// Metrics at the validation-score quantiles `qs` (each in 0..=1).
pub fn threshold_table(scores: &[f64], y: &[bool], qs: &[f64]) -> Vec<ThresholdMetrics> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    qs.iter()
        .filter_map(|&q| {
            let i = ((sorted.len().saturating_sub(1)) as f64 * q.clamp(0.0, 1.0)).round() as usize;
            sorted.get(i).map(|&t| at_threshold(scores, y, t))
        })
        .collect()
}

/// A threshold whose recall of important tokens (positives) is ≥ `recall` and that accepts the
/// most mismatches: midway between the lowest positive score that must be caught and the next
/// lower score, so that rounding of the scores at decode time (f32) moves no row across it.
pub fn threshold_for_recall(scores: &[f64], y: &[bool], recall: f64) -> Option<f64> {
    let positives = y.iter().filter(|&&l| l).count();
    // The small epsilon keeps `n · (k / n)` from rounding up past `k`.
    let need = (positives as f64 * recall - 1e-9).ceil().max(0.0) as usize;
    threshold_catching(scores, y, need)
}

/// The threshold that catches the `need` highest-scored positives (at least one, at most all)
/// and accepts every row scored below the lowest of them (see [`threshold_for_recall`]).
fn threshold_catching(scores: &[f64], y: &[bool], need: usize) -> Option<f64> {
    let mut pos: Vec<f64> = scores
        .iter()
        .zip(y)
        .filter(|(_, &l)| l)
        .map(|(&s, _)| s)
        .collect();
    if pos.is_empty() {
        return None;
    }
    pos.sort_by(|a, b| b.total_cmp(a));
    let t = pos[need.clamp(1, pos.len()) - 1];
    let below = scores
        .iter()
        .copied()
        .filter(|&s| s < t)
        .fold(f64::NEG_INFINITY, f64::max);
    Some(if below.is_finite() {
        (t + below) / 2.0
    } else {
        t
    })
}

/// A threshold that lets at most `budget` important validation mismatches per validation
/// prompt through on average (accepted: score below the threshold), accepting as many
/// mismatches as that allows: aimed at the answer (each accepted important mismatch may change
/// it) rather than at token recall. `prompts` is the number of validation prompts. `None` when
/// validation holds no important mismatch.
pub fn threshold_for_budget(
    scores: &[f64],
    y: &[bool],
    prompts: usize,
    budget: f64,
) -> Option<f64> {
    let positives = y.iter().filter(|&&l| l).count();
    if positives == 0 {
        return None;
    }
    let allowed = ((budget.max(0.0) * prompts as f64 + 1e-9).floor() as usize).min(positives - 1);
    threshold_catching(scores, y, positives - allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_threshold_is_the_most_permissive_one_meeting_the_target() {
        let s = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let y = [true, false, true, true, false, false];
        let t = threshold_for_recall(&s, &y, 2.0 / 3.0).unwrap();
        assert_eq!(
            t, 0.5,
            "midway between 0.7 (needed) and 0.3 (next lower score)"
        );
        assert!(at_threshold(&s, &y, t).recall >= 2.0 / 3.0);
        assert_eq!(threshold_for_recall(&s, &y, 1.0), Some(0.25));
        assert_eq!(
            threshold_for_recall(&[0.4, 0.9], &[true, false], 1.0),
            Some(0.4)
        );
        // Budget: 2 prompts, 0.5 important accepted per prompt -> one of the three lets
        // through (the lowest, 0.3), so the threshold sits above it.
        let t = threshold_for_budget(&s, &y, 2, 0.5).unwrap();
        let m = at_threshold(&s, &y, t);
        assert!(t > 0.3 && t <= 0.7, "{t}");
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(threshold_for_budget(&s, &y, 2, 0.0), Some(0.25));
        let table = threshold_table(&s, &y, &[0.0, 0.5, 1.0]);
        assert_eq!(table.len(), 3);
        assert!(table[0].recall >= table[2].recall);
    }
}
