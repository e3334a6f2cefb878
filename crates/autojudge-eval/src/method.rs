//! The decoding methods an evaluation compares, and running one of them on one prompt through
//! any engine that implements the core contract.

use std::path::Path;

use autojudge_classifier::{load_judge, JudgeMeta, JudgeModel};
use autojudge_core::{ModelInfo, ModelSession, TargetModel, Threshold, TokenId};
use autojudge_decode::policies::{Divergence, ExactMatch, JudgePolicy, TopK};
use autojudge_decode::{
    derive_lossless, generate_speculative, generate_target_only, AcceptancePolicy, DecodeConfig,
    Generation, Hooks, ModelDrafter, TargetFacts,
};

use crate::EvalResult;

/// One method of the comparison.
#[derive(Clone, Debug)]
pub enum Method {
    /// The target alone, greedy: the reference every other method is compared with.
    TargetOnly,
    /// Speculative decoding accepting only draft tokens equal to the target's (lossless).
    Lossless,
    /// [`Method::Lossless`]'s counters derived from the target-only output and one
    /// teacher-forced draft pass ([`autojudge_decode::derive_lossless`]): the same line but for
    /// wall-clock time, which is not measured (the line says `derived`), at a fraction of the
    /// cost. Its output is target-only's (greedy lossless decoding is exact).
    LosslessDerived,
    /// Accepts a draft token within the target's top `k` (lossy baseline).
    TopK(usize),
    /// Accepts a draft token the target gives at least this probability (lossy baseline).
    TargetProb(f32),
    /// JuDi (training-free): accepts a mismatch whose KL(target ‖ draft) is at most this,
    /// unless the target's top-1 probability exceeds 0.9.
    Judi(f32),
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
    pub threshold: Threshold,
}

impl Method {
    /// Name with its parameter (a result line's `method`).
    pub fn name(&self) -> String {
        match self {
            Method::TargetOnly => TARGET_ONLY.into(),
            Method::Lossless | Method::LosslessDerived => LOSSLESS.into(),
            Method::TopK(k) => format!("top-{k}"),
            Method::TargetProb(t) => format!("p>={t}"),
            Method::Judi(t) => format!("judi@{t}"),
            // The shortest text that round-trips the f32 threshold: two thresholds closer than
            // any fixed number of decimals (a small C packs its probabilities tightly) keep
            // distinct names.
            Method::Judge(j) => format!("{}@{}", j.label, j.threshold),
        }
    }

    /// The family (one plot curve) the method belongs to.
    pub fn family(&self) -> String {
        match self {
            Method::Judge(j) => j.label.clone(),
            Method::TopK(_) => "top-k".into(),
            Method::TargetProb(_) => "target-prob".into(),
            Method::Judi(_) => "judi".into(),
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

    /// JuDi at each KL threshold of `taus`.
    pub fn judi_sweep(taus: &[f32]) -> Vec<Method> {
        taus.iter().map(|&t| Method::Judi(t)).collect()
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
        self.generate_in(
            &mut target.new_session()?,
            &mut draft.new_session()?,
            target.info().max_context,
            prompt,
            cfg,
        )
    }

    /// [`Method::generate`] in the given sessions, which may hold a prefix of `prompt` (a
    /// prefill shared by the methods of one prompt; the decode loop keeps the common prefix):
    /// the same output, without paying for what the sessions already hold. `target_max_context`
    /// is the target's context limit.
    pub fn generate_in<TS: ModelSession, DS: ModelSession>(
        &self,
        target: &mut TS,
        draft: &mut DS,
        target_max_context: usize,
        prompt: &[TokenId],
        cfg: &DecodeConfig,
    ) -> EvalResult<Generation> {
        fn spec<TS: ModelSession, DS: ModelSession, P: AcceptancePolicy>(
            target: &mut TS,
            draft: &mut DS,
            mut policy: P,
            prompt: &[TokenId],
            cfg: &DecodeConfig,
        ) -> EvalResult<Generation> {
            let mut drafter = ModelDrafter::new(&mut *draft);
            Ok(generate_speculative(
                target,
                &mut drafter,
                &mut policy,
                prompt,
                cfg,
                Hooks::default(),
            )?)
        }
        match self {
            Method::TargetOnly => Ok(generate_target_only(
                target,
                prompt,
                &DecodeConfig::greedy(1, cfg.stop.max_new_tokens),
                Hooks::default(),
            )?),
            Method::Lossless => spec(target, draft, ExactMatch, prompt, cfg),
            Method::LosslessDerived => {
                let t_only = Method::TargetOnly.generate_in(
                    target,
                    draft,
                    target_max_context,
                    prompt,
                    cfg,
                )?;
                Method::derive_lossless_in(draft, target_max_context, prompt, &t_only, cfg)
            }
            Method::TopK(k) => spec(target, draft, TopK { k: *k }, prompt, cfg),
            Method::TargetProb(t) => spec(target, draft, Divergence::TargetProb(*t), prompt, cfg),
            Method::Judi(t) => spec(target, draft, Divergence::Judi(*t), prompt, cfg),
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

    /// [`Method::LosslessDerived`]'s generation from `target_only` (this prompt's target-only
    /// generation under `cfg`'s budget, in a session that held the same prefix of the prompt as
    /// `draft` holds now): its tokens and stop, and the derived counters, with the
    /// derivation's own time as wall and draft time.
    pub fn derive_lossless_in<DS: ModelSession>(
        draft: &mut DS,
        target_max_context: usize,
        prompt: &[TokenId],
        target_only: &Generation,
        cfg: &DecodeConfig,
    ) -> EvalResult<Generation> {
        let started = std::time::Instant::now();
        let cached_prompt = draft
            .tokens()
            .iter()
            .zip(&prompt[..prompt.len().saturating_sub(1)])
            .take_while(|(a, b)| a == b)
            .count();
        let mut stats = derive_lossless(
            draft,
            prompt,
            target_only,
            TargetFacts {
                max_context: target_max_context,
                cached_prompt,
            },
            cfg,
        )?;
        // What the derivation cost (draft forwards only): summaries never read it as the
        // method's speed (the line is marked derived).
        stats.wall_time = started.elapsed();
        stats.draft_time = stats.wall_time;
        Ok(Generation {
            stats,
            ..target_only.clone()
        })
    }
}

/// Name of the target-only method.
pub const TARGET_ONLY: &str = "target-only";
/// Name of lossless speculative decoding.
pub const LOSSLESS: &str = "lossless";

/// Quantiles of a judge's threshold table: 26 validation quantiles 0, 0.04, …, 1 (row `i`
/// holds quantile `0.04 * i`), as the reference sweeps them.
pub const THRESHOLD_QUANTILES: [f64; 26] = [
    0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.28, 0.32, 0.36, 0.4, 0.44, 0.48, 0.52, 0.56, 0.6,
    0.64, 0.68, 0.72, 0.76, 0.8, 0.84, 0.88, 0.92, 0.96, 1.0,
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
    // The file's stem names the family (`dt.safetensors` -> `autojudge-dt`), so two judges of
    // one feature set (e.g. two threshold rules) stay apart in tables and plots.
    let stem = path.file_stem().map_or_else(
        || meta.features.to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    Ok(judge_methods(
        &format!("autojudge-{stem}"),
        &judge,
        &meta,
        quantiles,
    ))
}

/// The methods of one judge, in memory: at its chosen threshold and at the thresholds of its
/// validation table nearest each accepted fraction in `quantiles`, in increasing order, each
/// once, under the family `label` ([`judge_sweep`] for a judge file;
/// [`crate::TrainedJudge::methods`] for one just trained).
pub fn judge_methods(
    label: &str,
    judge: &JudgeModel,
    meta: &JudgeMeta,
    quantiles: &[f64],
) -> Vec<Method> {
    let mut thresholds = vec![meta.threshold];
    for q in quantiles {
        // The row whose accepted fraction of validation mismatches is nearest `q` (row `i` sits
        // at quantile `THRESHOLD_QUANTILES[i]`, whatever table size a judge was saved with).
        let nearest = meta.threshold_table.iter().min_by(|a, b| {
            (a.accepted_fraction - q)
                .abs()
                .total_cmp(&(b.accepted_fraction - q).abs())
        });
        if let Some(r) = nearest {
            thresholds.push(r.threshold);
        }
    }
    thresholds.sort_by(|a, b| a.get().total_cmp(&b.get()));
    thresholds.dedup();
    thresholds
        .into_iter()
        .map(|threshold| {
            Method::Judge(JudgeMethod {
                label: label.to_owned(),
                judge: judge.clone(),
                threshold,
            })
        })
        .collect()
}
