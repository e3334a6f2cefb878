//! The decoding methods an evaluation compares, and running one of them on one prompt through
//! any engine that implements the core contract.

use std::path::Path;

use autojudge_classifier::{load_judge, JudgeModel};
use autojudge_core::{FeatureSet, ModelInfo, TargetModel, TokenId};
use autojudge_decode::policies::{Divergence, ExactMatch, JudgePolicy, TopK};
use autojudge_decode::{
    generate_speculative, generate_target_only, AcceptancePolicy, DecodeConfig, Generation, Hooks,
    ModelDrafter,
};

use crate::EvalResult;

/// One method of the comparison.
#[derive(Clone, Debug)]
pub enum Method {
    /// The target alone, greedy: the reference every other method is compared with.
    TargetOnly,
    /// Speculative decoding accepting only draft tokens equal to the target's (lossless).
    Lossless,
    /// Accepts a draft token within the target's top `k` (lossy baseline).
    TopK(usize),
    /// Accepts a draft token the target gives at least this probability (lossy baseline).
    TargetProb(f32),
    /// AutoJudge: accepts a mismatching draft token the judge calls unimportant.
    Judge(JudgeMethod),
}

/// A judge at one decision threshold.
#[derive(Clone, Debug)]
pub struct JudgeMethod {
    /// Family label (`autojudge-dt`, `autojudge-dd-dt`, or the caller's).
    pub label: String,
    /// The trained judge.
    pub judge: JudgeModel,
    /// Probability of "important" at or above which a mismatch is rejected.
    pub threshold: f32,
}

impl Method {
    /// Name with its parameter (a result line's `method`).
    pub fn name(&self) -> String {
        match self {
            Method::TargetOnly => TARGET_ONLY.into(),
            Method::Lossless => LOSSLESS.into(),
            Method::TopK(k) => format!("top-{k}"),
            Method::TargetProb(t) => format!("p>={t}"),
            Method::Judge(j) => format!("{}@{:.4}", j.label, j.threshold),
        }
    }

    /// The family (one plot curve) the method belongs to.
    pub fn family(&self) -> String {
        match self {
            Method::Judge(j) => j.label.clone(),
            Method::TopK(_) => "top-k".into(),
            Method::TargetProb(_) => "target-prob".into(),
            m => m.name(),
        }
    }

    /// Target-only, lossless, then the top-k and target-probability baselines given.
    pub fn baselines(topk: &[usize], target_prob: &[f32]) -> Vec<Method> {
        let mut m = vec![Method::TargetOnly, Method::Lossless];
        m.extend(topk.iter().map(|&k| Method::TopK(k)));
        m.extend(target_prob.iter().map(|&t| Method::TargetProb(t)));
        m
    }

    /// Runs the method on `prompt` with fresh sessions of `target` and `draft` (greedy, window
    /// `cfg.window`; target-only uses one token per call).
    pub fn generate<T: TargetModel, D: TargetModel>(
        &self,
        target: &T,
        draft: &D,
        prompt: &[TokenId],
        cfg: &DecodeConfig,
    ) -> EvalResult<Generation> {
        fn spec<T: TargetModel, D: TargetModel, P: AcceptancePolicy>(
            target: &T,
            draft: &D,
            mut policy: P,
            prompt: &[TokenId],
            cfg: &DecodeConfig,
        ) -> EvalResult<Generation> {
            Ok(generate_speculative(
                &mut target.new_session()?,
                &mut ModelDrafter::new(draft.new_session()?),
                &mut policy,
                prompt,
                cfg,
                Hooks::default(),
            )?)
        }
        match self {
            Method::TargetOnly => Ok(generate_target_only(
                &mut target.new_session()?,
                prompt,
                &DecodeConfig::greedy(1, cfg.stop.max_new_tokens),
                Hooks::default(),
            )?),
            Method::Lossless => spec(target, draft, ExactMatch, prompt, cfg),
            Method::TopK(k) => spec(target, draft, TopK { k: *k }, prompt, cfg),
            Method::TargetProb(t) => spec(target, draft, Divergence::TargetProb(*t), prompt, cfg),
            Method::Judge(j) => spec(
                target,
                draft,
                JudgePolicy {
                    judge: j.judge.clone(),
                    threshold: j.threshold,
                },
                prompt,
                cfg,
            ),
        }
    }
}

/// Name of the target-only method.
pub const TARGET_ONLY: &str = "target-only";
/// Name of lossless speculative decoding.
pub const LOSSLESS: &str = "lossless";

/// Quantiles of a judge's threshold table, in steps of 0.05 (row `i` holds quantile
/// `0.05 * (i + 1)`).
pub const THRESHOLD_QUANTILES: [f64; 19] = [
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85,
    0.9, 0.95,
];

/// The judge saved at `path` (checked against the target and draft it will run with) at its
/// chosen threshold and at the rows of its threshold table for the validation `quantiles`
/// (accepted fraction of validation mismatches ≈ quantile), in increasing threshold order.
pub fn judge_sweep(
    path: &Path,
    quantiles: &[f64],
    target: &ModelInfo,
    draft: &ModelInfo,
) -> EvalResult<Vec<Method>> {
    let (judge, meta) = load_judge(path)?;
    meta.check_pair(path, target, Some(draft))?;
    let label = match meta.features {
        FeatureSet::Target => "autojudge-dt",
        FeatureSet::DraftAndTarget => "autojudge-dd-dt",
    };
    let mut thresholds = vec![meta.threshold];
    for q in quantiles {
        let row = ((q / 0.05).round() as usize).saturating_sub(1);
        if let Some(r) = meta.threshold_table.get(row) {
            thresholds.push(r.0);
        }
    }
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    Ok(thresholds
        .into_iter()
        .map(|t| {
            Method::Judge(JudgeMethod {
                label: label.into(),
                judge: judge.clone(),
                threshold: t as f32,
            })
        })
        .collect())
}
