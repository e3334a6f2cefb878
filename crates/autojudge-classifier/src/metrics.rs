//! Classification metrics: ROC-AUC (ties share ranks, like scikit-learn) and
//! accuracy/precision/recall at a threshold.

/// Area under the ROC curve of `scores` for labels `y` (`None` without both classes).
pub fn roc_auc(scores: &[f64], y: &[bool]) -> Option<f64> {
    let pos = y.iter().filter(|&&v| v).count();
    let neg = y.len() - pos;
    if pos == 0 || neg == 0 || scores.len() != y.len() {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties (Mann–Whitney U).
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y[k] {
                rank_sum_pos += avg;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

/// Width between the 5th and 95th percentiles of `scores` (0 for none): how far apart a model
/// places the rows it ranks. A threshold among scores that span almost nothing is fragile: a
/// small shift of the features moves many rows across it.
pub fn score_spread(scores: &[f64]) -> f64 {
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    at(0.95) - at(0.05)
}

/// Confusion-matrix metrics at a threshold (`score ≥ threshold` predicts positive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThresholdMetrics {
    /// Threshold.
    pub threshold: f64,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Of predicted positives, the fraction that are positive (1 when none predicted).
    pub precision: f64,
    /// Of positives, the fraction predicted positive.
    pub recall: f64,
    /// Fraction predicted negative (for a judge: mismatches accepted).
    pub accepted_fraction: f64,
}

/// Metrics of `scores` against `y` at `threshold`.
pub fn at_threshold(scores: &[f64], y: &[bool], threshold: f64) -> ThresholdMetrics {
    let (mut tp, mut fp, mut tn, mut fn_) = (0usize, 0usize, 0usize, 0usize);
    for (&s, &l) in scores.iter().zip(y) {
        match (s >= threshold, l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    let n = scores.len().max(1) as f64;
    ThresholdMetrics {
        threshold,
        accuracy: (tp + tn) as f64 / n,
        precision: if tp + fp == 0 {
            1.0
        } else {
            tp as f64 / (tp + fp) as f64
        },
        recall: if tp + fn_ == 0 {
            1.0
        } else {
            tp as f64 / (tp + fn_) as f64
        },
        accepted_fraction: (tn + fn_) as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_handles_ties_and_extremes() {
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, true]), None);
        let m = at_threshold(&[0.1, 0.9, 0.6], &[false, true, false], 0.5);
        assert_eq!((m.precision, m.recall), (0.5, 1.0));
    }
}
