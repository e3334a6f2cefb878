//! Model selection: a grid over C scored by validation ROC-AUC, with the train/validation split
//! made **by prompt** (no prompt on both sides), seeded; then a refit on all data.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use crate::error::{check_data, ClassifierError, ClassifierResult};
use crate::logistic::{LogisticRegression, LogisticRegressionOptions};
use crate::metrics::roc_auc;

/// The log-spaced default grid 10⁻⁷ … 10².
pub fn default_c_grid() -> Vec<f64> {
    (-7..=2).map(|e| 10f64.powi(e)).collect()
}

/// Outcome of [`select_c`].
#[derive(Clone, Debug)]
pub struct Selection {
    /// `(C, validation ROC-AUC)` for each grid point (AUC `None` if validation has one class).
    pub table: Vec<(f64, Option<f64>)>,
    /// The C with the best validation AUC.
    pub best_c: f64,
    /// Validation rows' indices and the best model's scores on them (for thresholds).
    pub validation: Vec<usize>,
    /// Scores of the best C's train-split model on the validation rows.
    pub validation_scores: Vec<f64>,
    /// The best C refitted on all rows.
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

/// Picks C by validation ROC-AUC over `grid` and refits on everything.
pub fn select_c(
    x: &[Vec<f32>],
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
    if grid.is_empty() {
        return Err(ClassifierError::InvalidOption {
            field: "C grid",
            reason: "empty".into(),
        });
    }
    let (train, val) = split_by_group(groups, val_fraction, seed);
    let pick = |idx: &[usize]| -> (Vec<Vec<f32>>, Vec<bool>) {
        (
            idx.iter().map(|&i| x[i].clone()).collect(),
            idx.iter().map(|&i| y[i]).collect(),
        )
    };
    let (xt, yt) = pick(&train);
    let (xv, yv) = pick(&val);
    let mut table = Vec::new();
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    for &c in grid {
        let m = LogisticRegression::fit(&xt, &yt, LogisticRegressionOptions { c, ..base })?;
        let scores = m.predict_proba(&xv);
        let auc = roc_auc(&scores, &yv);
        table.push((c, auc));
        if let Some(a) = auc {
            if best.as_ref().is_none_or(|(_, b, _)| a > *b) {
                best = Some((c, a, scores));
            }
        }
    }
    let (best_c, validation_scores) = match best {
        Some((c, _, s)) => (c, s),
        None => {
            return Err(ClassifierError::OneClass(
                yv.first().copied().unwrap_or(false),
            ))
        }
    };
    let model = LogisticRegression::fit(x, y, LogisticRegressionOptions { c: best_c, ..base })?;
    Ok(Selection {
        table,
        best_c,
        validation: val,
        validation_scores,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
