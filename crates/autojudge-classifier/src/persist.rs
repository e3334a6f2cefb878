//! Saving and loading a judge: weights and scaler as safetensors (f64), everything else as JSON
//! in the safetensors metadata. Loading for a different model pair or hidden size is an error.

use std::collections::HashMap;
use std::path::Path;

use autojudge_core::{FeatureSet, ModelInfo};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{ClassifierError, ClassifierResult};
use crate::judge_model::JudgeModel;
use crate::logistic::{LogisticRegression, LogisticRegressionOptions};
use crate::metrics::ThresholdMetrics;
use crate::scaler::StandardScaler;

/// Everything recorded next to the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeMeta {
    /// Feature set.
    pub features: FeatureSet,
    /// Draft model name and hidden size (DD-DT).
    pub draft: Option<(String, usize)>,
    /// Target model name and hidden size.
    pub target: (String, usize),
    /// Tokenizer identity of the pair.
    pub tokenizer: String,
    /// Fitting options (C, class weights, tolerance).
    pub options: LogisticRegressionOptions,
    /// Chosen decision threshold.
    pub threshold: f64,
    /// `(threshold, recall, precision, accepted fraction)` rows of the validation table.
    pub threshold_table: Vec<(f64, f64, f64, f64)>,
    /// `(C, validation AUC)` rows of the model selection.
    pub c_table: Vec<(f64, Option<f64>)>,
    /// Training rows and positives.
    pub samples: (usize, usize),
}

impl JudgeMeta {
    /// Records a threshold table.
    pub fn with_table(mut self, t: &[ThresholdMetrics]) -> Self {
        self.threshold_table = t
            .iter()
            .map(|m| (m.threshold, m.recall, m.precision, m.negative_rate))
            .collect();
        self
    }

    /// Checks that this judge belongs to `target` (and `draft` when its features read the
    /// draft).
    pub fn check_pair(
        &self,
        path: &Path,
        target: &ModelInfo,
        draft: Option<&ModelInfo>,
    ) -> ClassifierResult<()> {
        let p = path.display().to_string();
        let mismatch = |field, expected: String, found: String| {
            Err(ClassifierError::Mismatch {
                path: p.clone(),
                field,
                expected,
                found,
            })
        };
        if self.target.1 != target.hidden_size {
            return mismatch(
                "target hidden size",
                self.target.1.to_string(),
                target.hidden_size.to_string(),
            );
        }
        if self.tokenizer != target.tokenizer.0 {
            return mismatch(
                "tokenizer",
                self.tokenizer.clone(),
                target.tokenizer.0.clone(),
            );
        }
        if self.target.0 != target.name {
            return mismatch("target model", self.target.0.clone(), target.name.clone());
        }
        if let (Some((name, hidden)), Some(d)) = (&self.draft, draft) {
            if *hidden != d.hidden_size {
                return mismatch(
                    "draft hidden size",
                    hidden.to_string(),
                    d.hidden_size.to_string(),
                );
            }
            if *name != d.name {
                return mismatch("draft model", name.clone(), d.name.clone());
            }
        }
        Ok(())
    }
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `judge` and `meta` to `path`.
pub fn save(path: &Path, judge: &JudgeModel, meta: &JudgeMeta) -> ClassifierResult<()> {
    let err = |e: autojudge_core::BoxError| ClassifierError::file(path, e);
    let m = &judge.model;
    let d = m.coef.len();
    let data = [
        ("coef", f64_bytes(&m.coef), d),
        ("intercept", f64_bytes(&[m.intercept]), 1),
        ("scaler.mean", f64_bytes(&m.scaler.mean), d),
        ("scaler.scale", f64_bytes(&m.scaler.scale), d),
    ];
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, b, len)| {
            Ok((
                n.to_string(),
                TensorView::new(Dtype::F64, vec![*len], b).map_err(|e| err(e.into()))?,
            ))
        })
        .collect::<ClassifierResult<_>>()?;
    let meta_json = serde_json::to_string(meta).map_err(|e| err(e.into()))?;
    let info = HashMap::from([("autojudge".to_string(), meta_json)]);
    safetensors::serialize_to_file(views, Some(info), path).map_err(|e| err(e.into()))
}

/// Reads a judge written by [`save`].
pub fn load(path: &Path) -> ClassifierResult<(JudgeModel, JudgeMeta)> {
    let err = |e: autojudge_core::BoxError| ClassifierError::file(path, e);
    let bytes = std::fs::read(path).map_err(|e| err(e.into()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| err(e.into()))?;
    let meta_json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("autojudge"))
        .ok_or_else(|| err("no `autojudge` metadata (not a judge file)".into()))?;
    let meta: JudgeMeta =
        serde_json::from_str(meta_json).map_err(|e| err(format!("metadata: {e}").into()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| err(e.into()))?;
    let get = |name: &str| -> ClassifierResult<Vec<f64>> {
        let t = st
            .tensor(name)
            .map_err(|e| err(format!("tensor `{name}`: {e}").into()))?;
        if t.dtype() != Dtype::F64 {
            return Err(err(format!(
                "tensor `{name}` is {:?}, expected F64",
                t.dtype()
            )
            .into()));
        }
        Ok(t.data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    };
    let coef = get("coef")?;
    let (mean, scale) = (get("scaler.mean")?, get("scaler.scale")?);
    let intercept = *get("intercept")?
        .first()
        .ok_or_else(|| err("empty intercept".into()))?;
    if mean.len() != coef.len() || scale.len() != coef.len() {
        return Err(err(format!(
            "coef has {} entries, scaler {} / {}",
            coef.len(),
            mean.len(),
            scale.len()
        )
        .into()));
    }
    let width = meta
        .features
        .width(meta.target.1, meta.draft.as_ref().map_or(0, |d| d.1));
    if width != coef.len() {
        return Err(err(format!(
            "feature set `{}` of a {}-wide target{} reads {width} features, coef has {}",
            meta.features,
            meta.target.1,
            meta.draft
                .as_ref()
                .map_or(String::new(), |d| format!(" and a {}-wide draft", d.1)),
            coef.len()
        )
        .into()));
    }
    let model = LogisticRegression {
        scaler: StandardScaler { mean, scale },
        coef,
        intercept,
        options: meta.options,
        converged: true,
        iterations: 0,
    };
    Ok((
        JudgeModel {
            features: meta.features,
            model,
        },
        meta,
    ))
}
