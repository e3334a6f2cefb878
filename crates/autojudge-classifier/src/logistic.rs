//! L2-regularised logistic regression with scikit-learn's objective:
//! `C · Σᵢ sᵢ · log(1 + exp(−yᵢ (xᵢ·w + b))) + ½‖w‖²` (intercept unpenalised, `sᵢ` class
//! weights), on standardized features, minimized by L-BFGS.

use autojudge_core::Rows;
use serde::{Deserialize, Serialize};

use crate::error::{check_data, ClassifierError, ClassifierResult};
use crate::lbfgs::{minimize, LbfgsOptions};
use crate::scaler::StandardScaler;

/// Sample weighting by class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClassWeight {
    /// Every sample weighs 1.
    #[default]
    None,
    /// `n / (2 · n_class)`, as scikit-learn's `class_weight="balanced"`.
    Balanced,
}

/// Fitting options.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionOptions {
    /// Inverse regularisation strength (> 0).
    pub c: f64,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Gradient tolerance relative to the initial gradient (L-BFGS).
    pub tol: f64,
    /// Maximum L-BFGS iterations.
    pub max_iter: usize,
}

impl Default for LogisticRegressionOptions {
    fn default() -> Self {
        LogisticRegressionOptions {
            c: 1.0,
            class_weight: ClassWeight::None,
            tol: 1e-8,
            max_iter: 20_000,
        }
    }
}

/// A fitted model: scaler, coefficients and intercept; `true` labels are the positive class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Standardization fitted on the training rows.
    pub scaler: StandardScaler,
    /// Coefficients on standardized features.
    pub coef: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// Options it was fitted with.
    pub options: LogisticRegressionOptions,
    /// Whether L-BFGS reached its tolerance.
    pub converged: bool,
    /// L-BFGS iterations used.
    pub iterations: usize,
}

/// `log(1 + exp(−m))`, stable for any `m`.
fn log1p_exp_neg(m: f64) -> f64 {
    if m > 0.0 {
        (-m).exp().ln_1p()
    } else {
        -m + m.exp().ln_1p()
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl LogisticRegression {
    /// Fits on raw feature rows `x` with labels `y` (standardizes internally).
    pub fn fit(x: &Rows, y: &[bool], options: LogisticRegressionOptions) -> ClassifierResult<Self> {
        if options.c.is_nan() || options.c <= 0.0 {
            return Err(ClassifierError::InvalidOption {
                field: "C",
                reason: format!("{} (must be > 0)", options.c),
            });
        }
        let d = check_data(x, Some(y))?;
        let scaler = StandardScaler::fit(x)?;
        let xs = scaler.transform(x);
        let n = y.len() as f64;
        let pos = y.iter().filter(|&&v| v).count() as f64;
        let (w_pos, w_neg) = match options.class_weight {
            ClassWeight::None => (1.0, 1.0),
            ClassWeight::Balanced => (n / (2.0 * pos), n / (2.0 * (n - pos))),
        };
        let c = options.c;
        let fg = |theta: &[f64], grad: &mut [f64]| -> f64 {
            let (w, b) = theta.split_at(d);
            let b = b[0];
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut loss = 0.0;
            let mut gb = 0.0;
            for (row, &label) in xs.chunks_exact(d).zip(y) {
                let (yi, si) = if label { (1.0, w_pos) } else { (-1.0, w_neg) };
                let z: f64 = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + b;
                let m = yi * z;
                loss += si * log1p_exp_neg(m);
                let r = -yi * si * sigmoid(-m);
                for (g, &xv) in grad[..d].iter_mut().zip(row) {
                    *g += r * xv;
                }
                gb += r;
            }
            let mut reg = 0.0;
            for (g, &wv) in grad[..d].iter_mut().zip(w) {
                *g = c * *g + wv;
                reg += wv * wv;
            }
            grad[d] = c * gb;
            c * loss + 0.5 * reg
        };
        let r = minimize(
            fg,
            vec![0.0; d + 1],
            LbfgsOptions {
                gtol: options.tol,
                max_iter: options.max_iter,
                memory: 10,
            },
        );
        Ok(LogisticRegression {
            scaler,
            coef: r.x[..d].to_vec(),
            intercept: r.x[d],
            options,
            converged: r.converged,
            iterations: r.iterations,
        })
    }

    /// Decision value `x·w + b` on standardized features.
    pub fn decision(&self, row: &[f32]) -> f64 {
        let xs = self.scaler.transform_row(row);
        xs.iter().zip(&self.coef).map(|(a, b)| a * b).sum::<f64>() + self.intercept
    }

    /// P(positive class) for each row.
    pub fn predict_proba(&self, x: &Rows) -> Vec<f64> {
        x.iter().map(|r| sigmoid(self.decision(r))).collect()
    }
}
