//! Model selection: a grid over C scored by validation ROC-AUC, with the train/validation split
//! made **by prompt** (no prompt on both sides), seeded. The chosen model is the train-split fit
//! whose validation scores were measured (as the reference deploys it), so a threshold chosen
//! on those scores belongs to the model that ships.

use autojudge_core::Rows;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use crate::error::{check_data, ClassifierError, ClassifierResult};
use crate::logistic::{LogisticRegression, LogisticRegressionOptions};
use crate::metrics::{roc_auc, score_spread};

/// The reference's grid: 10⁻⁷ … 10⁻⁰·⁵ in half-decade steps, then 1, 3, 10, 50 and 100.
pub fn default_c_grid() -> Vec<f64> {
    (0..14)
        .map(|i| 10f64.powf(-7.0 + 0.5 * f64::from(i)))
        .chain([1.0, 3.0, 10.0, 50.0, 100.0])
        .collect()
}

/// Outcome of [`select_c`].
#[derive(Clone, Debug)]
pub struct Selection {
    /// `(C, validation ROC-AUC)` for each grid point (AUC `None` if validation has one class).
    pub table: Vec<(f64, Option<f64>)>,
    /// The C with the best validation AUC; on a tie, the one whose validation scores spread
    /// widest ([`score_spread`]: on separable data every C ranks alike, and a small C squeezes
    /// the scores together), then the smallest. A C whose model scores every validation row
    /// alike is never chosen.
    pub best_c: f64,
    /// Validation rows' indices and the best model's scores on them (for thresholds).
    pub validation: Vec<usize>,
    /// Scores of [`Selection::model`] on the validation rows.
    pub validation_scores: Vec<f64>,
    /// The best C's model, fitted on the train split: the one whose validation scores are
    /// [`Selection::validation_scores`].
    pub model: LogisticRegression,
}

/// Splits row indices by group (prompt) id: a seeded shuffle of the distinct groups, the first
/// `val_fraction` of them (at least one) for validation.
pub fn split_by_group(groups: &[u64], val_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut ids: Vec<u64> = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_val = ((ids.len() as f64 * val_fraction).round() as usize)
        .clamp(1, ids.len().saturating_sub(1).max(1));
    let val: std::collections::HashSet<u64> = ids[..n_val].iter().copied().collect();
    (0..groups.len()).partition(|&i| !val.contains(&groups[i]))
}

/// Picks C by validation ROC-AUC over `grid`; returns the train-split model at that C.
pub fn select_c(
    x: &Rows,
    y: &[bool],
    groups: &[u64],
    grid: &[f64],
    val_fraction: f64,
    seed: u64,
    base: LogisticRegressionOptions,
) -> ClassifierResult<Selection> {
    check_data(x, Some(y))?;
    if groups.len() != x.len() {
        return Err(ClassifierError::Shape(format!(
            "{} group ids for {} rows",
            groups.len(),
            x.len()
        )));
    }
    let (train, val) = split_by_group(groups, val_fraction, seed);
    select_c_on_split(x, y, &train, &val, grid, base)
}

/// [`select_c`] on a given split: `train` and `validation` index rows of `x`.
pub fn select_c_on_split(
    x: &Rows,
    y: &[bool],
    train: &[usize],
    validation: &[usize],
    grid: &[f64],
    base: LogisticRegressionOptions,
) -> ClassifierResult<Selection> {
    check_data(x, Some(y))?;
    if grid.is_empty() {
        return Err(ClassifierError::InvalidOption {
            field: "C grid",
            reason: "empty".into(),
        });
    }
    if let Some(&bad) = train.iter().chain(validation).find(|&&i| i >= x.len()) {
        return Err(ClassifierError::Shape(format!(
            "row index {bad} of a split over {} rows",
            x.len()
        )));
    }
    let pick = |idx: &[usize]| -> (Rows, Vec<bool>) {
        (x.select(idx), idx.iter().map(|&i| y[i]).collect())
    };
    let (xt, yt) = pick(train);
    let (xv, yv) = pick(validation);
    let mut table = Vec::new();
    let mut best: Option<(f64, f64, Vec<f64>, LogisticRegression)> = None;
    for &c in grid {
        let m = LogisticRegression::fit(&xt, &yt, LogisticRegressionOptions { c, ..base })?;
        let scores = m.predict_proba(&xv);
        let auc = roc_auc(&scores, &yv);
        table.push((c, auc));
        // A model that gives every validation row the same score (a C so small that the
        // optimizer stops at zero weights) ranks nothing: its AUC of 0.5 is not a candidate.
        let constant = scores.windows(2).all(|w| w[0] == w[1]);
        if let (Some(a), false) = (auc, constant) {
            let better = best.as_ref().is_none_or(|(_, b, best_scores, _)| {
                a > *b || (a == *b && score_spread(&scores) > score_spread(best_scores))
            });
            if better {
                best = Some((c, a, scores, m));
            }
        }
    }
    let Some((best_c, _, validation_scores, model)) = best else {
        if table.iter().any(|(_, a)| a.is_some()) {
            return Err(ClassifierError::InvalidOption {
                field: "C grid",
                reason: "every C gives every validation row the same score; try larger C".into(),
            });
        }
        return Err(ClassifierError::OneClass(
            yv.first().copied().unwrap_or(false),
        ));
    };
    Ok(Selection {
        table,
        best_c,
        validation: validation.to_vec(),
        validation_scores,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_is_the_references() {
        let g = default_c_grid();
        assert_eq!(g.len(), 19);
        assert!((g[0] - 1e-7).abs() < 1e-20 && (g[13] - 10f64.powf(-0.5)).abs() < 1e-12);
        assert_eq!(g[14..], [1.0, 3.0, 10.0, 50.0, 100.0]);
        assert!(g.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn split_keeps_prompts_whole_and_is_seeded() {
        let groups: Vec<u64> = (0..100).map(|i| i / 5).collect();
        let (t, v) = split_by_group(&groups, 0.2, 7);
        assert_eq!(t.len() + v.len(), 100);
        assert_eq!(v.len(), 20);
        let vg: std::collections::HashSet<u64> = v.iter().map(|&i| groups[i]).collect();
        assert!(
            t.iter().all(|&i| !vg.contains(&groups[i])),
            "a prompt on both sides"
        );
        assert_eq!(split_by_group(&groups, 0.2, 7), (t, v));
        assert_ne!(
            split_by_group(&groups, 0.2, 8).1,
            split_by_group(&groups, 0.2, 7).1
        );
    }
}
