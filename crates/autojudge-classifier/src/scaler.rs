//! Standardization with scikit-learn's `StandardScaler` semantics: population mean and
//! standard deviation (ddof = 0) of the training data; a zero-variance feature keeps scale 1.

use serde::{Deserialize, Serialize};

use autojudge_core::Rows;

use crate::error::{check_data, ClassifierResult};

/// Per-feature mean and scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Feature means.
    pub mean: Vec<f64>,
    /// Feature standard deviations (1 where a feature is constant).
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// Fits on rows `x`.
    pub fn fit(x: &Rows) -> ClassifierResult<Self> {
        let d = check_data(x, None)?;
        let n = x.len() as f64;
        let mut mean = vec![0.0f64; d];
        for row in x {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; d];
        for row in x {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v as f64 - m).powi(2);
            }
        }
        let scale = var
            .iter()
            .zip(&mean)
            .map(|(&s, m)| {
                let sd = (s / n).sqrt();
                // sklearn treats variance below ~eps·mean² as zero.
                if sd <= 10.0 * f64::EPSILON * m.abs().max(1.0) {
                    1.0
                } else {
                    sd
                }
            })
            .collect();
        Ok(StandardScaler { mean, scale })
    }

    /// Standardizes one row.
    pub fn transform_row(&self, row: &[f32]) -> Vec<f64> {
        row.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((&v, m), s)| (v as f64 - m) / s)
            .collect()
    }

    /// Standardizes rows: `x.len() × x.width()` values, row-major.
    pub fn transform(&self, x: &Rows) -> Vec<f64> {
        x.iter().flat_map(|r| self.transform_row(r)).collect()
    }
}
