//! Saving and loading a judge: weights and scaler as safetensors (f64), everything else as JSON
//! in the safetensors metadata. A file whose fields cannot run (NaN weights, a threshold that is
//! no probability, weights of another width than its feature set reads) is refused on load and
//! never written; loading for a different model pair or hidden size is an error.

use std::collections::HashMap;
use std::path::Path;

use autojudge_core::{FeatureSet, ModelInfo, NotAProbability, Threshold};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{ClassifierError, ClassifierResult, JudgeFileFault};
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
    pub threshold: Threshold,
    /// The validation threshold table, one row per quantile of the validation scores.
    pub threshold_table: Vec<ThresholdRow>,
    /// `(C, validation AUC)` rows of the model selection.
    pub c_table: Vec<(f64, Option<f64>)>,
    /// Training rows and positives.
    pub samples: (usize, usize),
}

/// One row of a judge's validation threshold table: what the judge does on its validation
/// mismatches at one threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "ThresholdRowRepr")]
pub struct ThresholdRow {
    /// The threshold.
    pub threshold: Threshold,
    /// Fraction of important mismatches it rejects.
    pub recall: f64,
    /// Of the mismatches it rejects, the fraction that are important.
    pub precision: f64,
    /// Fraction of mismatches it accepts.
    pub accepted_fraction: f64,
}

impl ThresholdRow {
    /// The row of `m`, whose threshold must be a probability (a threshold among a judge's
    /// scores is).
    pub fn from_metrics(m: &ThresholdMetrics) -> Result<Self, NotAProbability> {
        Ok(ThresholdRow {
            threshold: Threshold::new(m.threshold)?,
            recall: m.recall,
            precision: m.precision,
            accepted_fraction: m.accepted_fraction,
        })
    }
}

/// The forms a threshold row is read in.
#[derive(Deserialize)]
#[serde(untagged)]
enum ThresholdRowRepr {
    Named {
        threshold: Threshold,
        recall: f64,
        precision: f64,
        accepted_fraction: f64,
    },
    /// Files written before rows had names: `[threshold, recall, precision, accepted]`.
    Unnamed(Threshold, f64, f64, f64),
}

impl From<ThresholdRowRepr> for ThresholdRow {
    fn from(r: ThresholdRowRepr) -> Self {
        let (threshold, recall, precision, accepted_fraction) = match r {
            ThresholdRowRepr::Named {
                threshold,
                recall,
                precision,
                accepted_fraction,
            } => (threshold, recall, precision, accepted_fraction),
            ThresholdRowRepr::Unnamed(t, r, p, a) => (t, r, p, a),
        };
        ThresholdRow {
            threshold,
            recall,
            precision,
            accepted_fraction,
        }
    }
}

impl JudgeMeta {
    /// Records a threshold table (its thresholds must be probabilities).
    pub fn with_table(mut self, t: &[ThresholdMetrics]) -> Result<Self, NotAProbability> {
        self.threshold_table = t
            .iter()
            .map(ThresholdRow::from_metrics)
            .collect::<Result<_, _>>()?;
        Ok(self)
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

/// Checks that a judge's weights and metadata can run: the recorded hidden sizes positive, a
/// draft recorded when the feature set reads the draft's hidden states, weights exactly as wide
/// as the recorded feature set reads for those sizes, finite weights and scaler, positive
/// scales (thresholds are probabilities by type). The first field at fault is named with
/// `path`.
pub fn validate(path: &Path, model: &LogisticRegression, meta: &JudgeMeta) -> ClassifierResult<()> {
    let bad = |field: String, fault: JudgeFileFault| {
        Err(ClassifierError::BadJudgeFile {
            path: path.display().to_string(),
            field,
            fault,
        })
    };
    if meta.target.1 == 0 {
        return bad("target".into(), JudgeFileFault::ZeroHiddenSize);
    }
    let draft = match meta.draft {
        Some((_, 0)) => return bad("draft".into(), JudgeFileFault::ZeroHiddenSize),
        Some((_, d)) => Some(d),
        None if meta.features.uses_draft_hidden() => {
            return bad(
                "draft".into(),
                JudgeFileFault::MissingDraft {
                    features: meta.features,
                },
            )
        }
        None => None,
    };
    let expected = meta.features.width(meta.target.1, draft.unwrap_or(0));
    if model.coef.len() != expected {
        return bad(
            "coef".into(),
            JudgeFileFault::Width {
                got: model.coef.len(),
                expected,
                features: meta.features,
                target: meta.target.1,
                draft: draft.filter(|_| meta.features.uses_draft_hidden()),
            },
        );
    }
    for (name, v) in [
        ("scaler.mean", &model.scaler.mean),
        ("scaler.scale", &model.scaler.scale),
    ] {
        if v.len() != expected {
            return bad(
                name.into(),
                JudgeFileFault::Length {
                    got: v.len(),
                    expected,
                },
            );
        }
    }
    for (name, v) in [
        ("coef", &model.coef),
        ("intercept", &vec![model.intercept]),
        ("scaler.mean", &model.scaler.mean),
        ("scaler.scale", &model.scaler.scale),
    ] {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return bad(
                format!("{name}[{i}]"),
                JudgeFileFault::NonFinite { value: v[i] },
            );
        }
    }
    if let Some(i) = model.scaler.scale.iter().position(|&x| x <= 0.0) {
        return bad(
            format!("scaler.scale[{i}]"),
            JudgeFileFault::NonPositiveScale {
                value: model.scaler.scale[i],
            },
        );
    }
    Ok(())
}

/// Writes `judge` and `meta` to `path`, refusing what [`load`] would refuse ([`validate`]).
pub fn save(path: &Path, judge: &JudgeModel, meta: &JudgeMeta) -> ClassifierResult<()> {
    validate(path, &judge.model, meta)?;
    write(path, judge, meta)
}

/// Writes `judge` and `meta` to `path` as they are.
fn write(path: &Path, judge: &JudgeModel, meta: &JudgeMeta) -> ClassifierResult<()> {
    let meta_json = serde_json::to_value(meta).map_err(|e| ClassifierError::file(path, e))?;
    write_json(path, judge, &meta_json)
}

/// Writes `judge` with `meta_json` as its metadata.
fn write_json(
    path: &Path,
    judge: &JudgeModel,
    meta_json: &serde_json::Value,
) -> ClassifierResult<()> {
    let err = |e: autojudge_core::BoxError| ClassifierError::file(path, e);
    let m = &judge.model;
    let data = [
        ("coef", f64_bytes(&m.coef), m.coef.len()),
        ("intercept", f64_bytes(&[m.intercept]), 1),
        (
            "scaler.mean",
            f64_bytes(&m.scaler.mean),
            m.scaler.mean.len(),
        ),
        (
            "scaler.scale",
            f64_bytes(&m.scaler.scale),
            m.scaler.scale.len(),
        ),
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
    let info = HashMap::from([("autojudge".to_string(), meta_json.to_string())]);
    safetensors::serialize_to_file(views, Some(info), path).map_err(|e| err(e.into()))
}

/// Names the threshold field that holds no number (JSON writes NaN and infinities as `null`)
/// or no probability, which a typed parse would only report by line and column. A table row
/// holds its threshold first (`[threshold, ...]`, files from before rows had names) or under
/// `threshold`.
fn check_thresholds(path: &Path, meta: &serde_json::Value) -> ClassifierResult<()> {
    let check = |field: String, v: &serde_json::Value| {
        let fault = match v.as_f64() {
            None => JudgeFileFault::NotANumber {
                found: v.to_string(),
            },
            Some(x) => match Threshold::new(x) {
                Ok(_) => return Ok(()),
                Err(NotAProbability { value }) => JudgeFileFault::NotAProbability { value },
            },
        };
        Err(ClassifierError::BadJudgeFile {
            path: path.display().to_string(),
            field,
            fault,
        })
    };
    if let Some(v) = meta.get("threshold") {
        check("threshold".into(), v)?;
    }
    let rows = meta.get("threshold_table").and_then(|t| t.as_array());
    for (i, row) in rows.into_iter().flatten().enumerate() {
        if let Some(v) = row.get(0).or_else(|| row.get("threshold")) {
            check(format!("threshold_table[{i}]"), v)?;
        }
    }
    Ok(())
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
    let meta_value: serde_json::Value =
        serde_json::from_str(meta_json).map_err(|e| err(format!("metadata: {e}").into()))?;
    check_thresholds(path, &meta_value)?;
    let meta: JudgeMeta =
        serde_json::from_value(meta_value).map_err(|e| err(format!("metadata: {e}").into()))?;
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
    let intercept = get("intercept")?;
    if intercept.len() != 1 {
        return Err(ClassifierError::BadJudgeFile {
            path: path.display().to_string(),
            field: "intercept".into(),
            fault: JudgeFileFault::Length {
                got: intercept.len(),
                expected: 1,
            },
        });
    }
    let model = LogisticRegression {
        scaler: StandardScaler { mean, scale },
        coef,
        intercept: intercept[0],
        options: meta.options,
        converged: true,
        iterations: 0,
    };
    validate(path, &model, &meta)?;
    Ok((
        JudgeModel {
            features: meta.features,
            model,
        },
        meta,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DD-DT judge for a 3-wide target and a 2-wide draft (5 weights), and its metadata.
    fn dd_dt() -> (JudgeModel, JudgeMeta) {
        let model = LogisticRegression {
            scaler: StandardScaler {
                mean: vec![0.0, 0.5, -0.5, 1.0, 0.0],
                scale: vec![1.0, 2.0, 0.5, 1.0, 3.0],
            },
            coef: vec![0.3, -0.2, 0.1, 0.4, -0.5],
            intercept: -0.1,
            options: LogisticRegressionOptions::default(),
            converged: true,
            iterations: 0,
        };
        let meta = JudgeMeta {
            features: FeatureSet::DraftAndTarget,
            draft: Some(("draft.gguf".into(), 2)),
            target: ("target.gguf".into(), 3),
            tokenizer: "t".into(),
            options: model.options,
            threshold: Threshold::new(0.4).unwrap(),
            threshold_table: [(0.1, 1.0, 0.5, 0.2), (0.4, 0.9, 0.6, 0.5)]
                .map(|(t, recall, precision, accepted_fraction)| ThresholdRow {
                    threshold: Threshold::new(t).unwrap(),
                    recall,
                    precision,
                    accepted_fraction,
                })
                .to_vec(),
            c_table: vec![(1.0, Some(0.8))],
            samples: (10, 4),
        };
        (
            JudgeModel {
                features: FeatureSet::DraftAndTarget,
                model,
            },
            meta,
        )
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "aj-judge-{name}-{}.safetensors",
            std::process::id()
        ))
    }

    /// Writes the DD-DT judge with `edit` applied (bypassing `save`'s checks) and loads it.
    fn load_edited(
        name: &str,
        edit: impl FnOnce(&mut JudgeModel, &mut JudgeMeta),
    ) -> (String, ClassifierResult<(JudgeModel, JudgeMeta)>) {
        let (mut judge, mut meta) = dd_dt();
        edit(&mut judge, &mut meta);
        let path = scratch(name);
        write(&path, &judge, &meta).unwrap();
        let loaded = load(&path);
        std::fs::remove_file(&path).unwrap();
        (path.display().to_string(), loaded)
    }

    /// Writes the DD-DT judge with `edit` applied to its metadata's JSON and loads it.
    fn load_edited_json(
        name: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> (String, ClassifierResult<(JudgeModel, JudgeMeta)>) {
        let (judge, meta) = dd_dt();
        let mut json = serde_json::to_value(&meta).unwrap();
        edit(&mut json);
        let path = scratch(name);
        write_json(&path, &judge, &json).unwrap();
        let loaded = load(&path);
        std::fs::remove_file(&path).unwrap();
        (path.display().to_string(), loaded)
    }

    /// Asserts that the file whose metadata JSON is edited is refused naming itself, `field`
    /// and `fault`.
    fn refused_json(
        name: &str,
        field: &str,
        fault: JudgeFileFault,
        edit: impl FnOnce(&mut serde_json::Value),
    ) {
        let (path, loaded) = load_edited_json(name, edit);
        let err = loaded.unwrap_err();
        assert_eq!(
            err,
            ClassifierError::BadJudgeFile {
                path: path.clone(),
                field: field.into(),
                fault,
            },
            "{err}"
        );
    }

    /// Asserts that the edited file is refused naming itself, `field` and `fault`.
    fn refused(
        name: &str,
        field: &str,
        fault: JudgeFileFault,
        edit: impl FnOnce(&mut JudgeModel, &mut JudgeMeta),
    ) {
        let (path, loaded) = load_edited(name, edit);
        let err = loaded.unwrap_err();
        assert_eq!(
            err,
            ClassifierError::BadJudgeFile {
                path: path.clone(),
                field: field.into(),
                fault,
            },
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&path) && msg.contains(field), "{msg}");
    }

    #[test]
    fn a_sound_judge_round_trips() {
        let (judge, meta) = dd_dt();
        let path = scratch("sound");
        save(&path, &judge, &meta).unwrap();
        let (back, back_meta) = load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((back.model.coef, back_meta), (judge.model.coef, meta));
    }

    #[test]
    fn non_finite_weights_are_refused_by_field() {
        let nan = |v: f64| JudgeFileFault::NonFinite { value: v };
        let (n, inf) = (f64::NAN, f64::INFINITY);
        // NaN != NaN: compare through the message.
        let (_, loaded) = load_edited("coef-nan", |j, _| j.model.coef[1] = n);
        let msg = loaded.unwrap_err().to_string();
        assert!(
            msg.contains("judge field `coef[1]`: NaN is not a finite number"),
            "{msg}"
        );
        refused("coef-inf", "coef[4]", nan(inf), |j, _| {
            j.model.coef[4] = inf
        });
        refused("intercept", "intercept[0]", nan(-inf), |j, _| {
            j.model.intercept = -inf
        });
        refused("mean", "scaler.mean[2]", nan(inf), |j, _| {
            j.model.scaler.mean[2] = inf
        });
        refused("scale-inf", "scaler.scale[0]", nan(inf), |j, _| {
            j.model.scaler.scale[0] = inf
        });
    }

    #[test]
    fn non_positive_scales_are_refused() {
        for v in [0.0, -1.0] {
            refused(
                "scale",
                "scaler.scale[3]",
                JudgeFileFault::NonPositiveScale { value: v },
                |j, _| j.model.scaler.scale[3] = v,
            );
        }
    }

    #[test]
    fn thresholds_outside_the_probability_range_are_refused() {
        for v in [-0.1, 1.5] {
            refused_json(
                "threshold",
                "threshold",
                JudgeFileFault::NotAProbability { value: v },
                |m| m["threshold"] = v.into(),
            );
        }
        // JSON holds NaN and infinities as `null`.
        refused_json(
            "threshold-null",
            "threshold",
            JudgeFileFault::NotANumber {
                found: "null".into(),
            },
            |m| m["threshold"] = serde_json::Value::Null,
        );
        refused_json(
            "table-null",
            "threshold_table[0]",
            JudgeFileFault::NotANumber {
                found: "null".into(),
            },
            |m| m["threshold_table"][0]["threshold"] = serde_json::Value::Null,
        );
        refused_json(
            "table",
            "threshold_table[1]",
            JudgeFileFault::NotAProbability { value: 2.0 },
            |m| m["threshold_table"][1]["threshold"] = 2.0.into(),
        );
    }

    #[test]
    fn threshold_rows_are_saved_by_name_and_unnamed_rows_still_load() {
        let (judge, meta) = dd_dt();
        let path = scratch("named");
        save(&path, &judge, &meta).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&std::fs::read(&path).unwrap())
            .map(|(n, h)| (n, h.metadata().clone().unwrap()))
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&header["autojudge"]).unwrap();
        assert_eq!(
            json["threshold_table"][1],
            serde_json::json!({"threshold": 0.4, "recall": 0.9, "precision": 0.6,
                               "accepted_fraction": 0.5})
        );
        // A file written before rows had names: `[threshold, recall, precision, accepted]`.
        let (_, loaded) = load_edited_json("unnamed", |m| {
            m["threshold_table"] = serde_json::json!([[0.1, 1.0, 0.5, 0.2], [0.4, 0.9, 0.6, 0.5]]);
        });
        assert_eq!(loaded.unwrap().1, meta);
        refused_json(
            "unnamed-bad",
            "threshold_table[1]",
            JudgeFileFault::NotAProbability { value: -1.0 },
            |m| {
                m["threshold_table"] =
                    serde_json::json!([[0.1, 1.0, 0.5, 0.2], [-1.0, 0.9, 0.6, 0.5]])
            },
        );
    }

    #[test]
    fn dd_dt_weights_relabelled_as_dt_are_refused() {
        refused(
            "relabelled",
            "coef",
            JudgeFileFault::Width {
                got: 5,
                expected: 3,
                features: FeatureSet::Target,
                target: 3,
                draft: None,
            },
            |j, m| {
                j.features = FeatureSet::Target;
                m.features = FeatureSet::Target;
            },
        );
        // Relabelled with the draft record dropped too: the width still gives it away.
        refused(
            "relabelled-no-draft",
            "coef",
            JudgeFileFault::Width {
                got: 5,
                expected: 3,
                features: FeatureSet::Target,
                target: 3,
                draft: None,
            },
            |_, m| {
                m.features = FeatureSet::Target;
                m.draft = None;
            },
        );
        // A draft-reading feature set without a draft record.
        refused(
            "no-draft",
            "draft",
            JudgeFileFault::MissingDraft {
                features: FeatureSet::DraftAndTarget,
            },
            |_, m| m.draft = None,
        );
        // Hidden sizes that do not add up to the weights.
        refused(
            "hidden",
            "coef",
            JudgeFileFault::Width {
                got: 5,
                expected: 6,
                features: FeatureSet::DraftAndTarget,
                target: 4,
                draft: Some(2),
            },
            |_, m| m.target.1 = 4,
        );
    }

    #[test]
    fn zero_hidden_sizes_and_ragged_tensors_are_refused() {
        refused(
            "target-0",
            "target",
            JudgeFileFault::ZeroHiddenSize,
            |_, m| m.target.1 = 0,
        );
        refused(
            "draft-0",
            "draft",
            JudgeFileFault::ZeroHiddenSize,
            |_, m| m.draft = Some(("d".into(), 0)),
        );
        refused(
            "mean-short",
            "scaler.mean",
            JudgeFileFault::Length {
                got: 4,
                expected: 5,
            },
            |j, _| {
                j.model.scaler.mean.pop();
            },
        );
    }

    #[test]
    fn save_refuses_what_load_refuses_and_writes_nothing() {
        let (mut judge, meta) = dd_dt();
        judge.model.coef[0] = f64::NAN;
        let path = scratch("save-nan");
        let err = save(&path, &judge, &meta).unwrap_err();
        assert!(
            matches!(&err, ClassifierError::BadJudgeFile { field, .. } if field == "coef[0]"),
            "{err}"
        );
        assert!(!path.exists());
    }

    #[test]
    fn judge_model_declares_the_width_it_reads() {
        use autojudge_core::Judge;
        let (judge, _) = dd_dt();
        assert_eq!(judge.feature_width(), Some(5));
    }
}
