//! Learning curves of judges: validation ROC-AUC of each feature set against the number of
//! mined prompts it was trained on, on one fixed validation split, with bootstrap intervals
//! over validation prompts and the paired difference to a reference feature set.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use autojudge_classifier::{
    default_c_grid, roc_auc, select_c_on_split, split_by_group, LogisticRegressionOptions,
};
use autojudge_core::FeatureSet;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

use crate::{EvalError, EvalResult, TrainOptions, TrainingSet};

/// What a learning curve measures.
#[derive(Clone, Debug, PartialEq)]
pub struct CurveSpec {
    /// Feature sets compared.
    pub sets: Vec<FeatureSet>,
    /// Training sizes in prompts (each capped at the training prompts available).
    pub sizes: Vec<usize>,
    /// The set every other is compared with (paired intervals); DD-DT by default.
    pub reference: FeatureSet,
    /// Fitting options; `val_fraction` and `seed` fix the validation split, `c_grid` the grid.
    pub train: TrainOptions,
    /// Bootstrap resamples of the validation prompts.
    pub bootstrap: usize,
}

impl Default for CurveSpec {
    /// DT, DD-DT and the logit and previous-position sets at 25, 50, 100, 200 and 300 prompts,
    /// against DD-DT, the default training options, 1,000 resamples.
    fn default() -> Self {
        CurveSpec {
            sets: FeatureSet::ALL.to_vec(),
            sizes: vec![25, 50, 100, 200, 300],
            reference: FeatureSet::DraftAndTarget,
            train: TrainOptions::default(),
            bootstrap: 1000,
        }
    }
}

/// One point of a learning curve.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CurvePoint {
    /// Feature set (its short name in CSV).
    #[serde(serialize_with = "set_name")]
    pub features: FeatureSet,
    /// Training prompts used.
    pub train_prompts: usize,
    /// Training rows (mismatches) used.
    pub train_rows: usize,
    /// C chosen by validation AUC (as the reference reports its AUC: at the best C, which makes
    /// the AUC slightly optimistic; the intervals do not include that choice).
    pub best_c: f64,
    /// Validation ROC-AUC.
    pub auc: f64,
    /// 95% bootstrap interval of the AUC (validation prompts resampled).
    pub auc_low: f64,
    /// Upper end of that interval.
    pub auc_high: f64,
    /// AUC minus the reference set's at the same size, on the same resamples.
    pub delta: f64,
    /// 95% interval of `delta`.
    pub delta_low: f64,
    /// Upper end of that interval.
    pub delta_high: f64,
    /// AUC minus this set's AUC at the previous training size, on the same resamples (NaN at
    /// the first size): what the last step of mining bought.
    pub gain: f64,
    /// 95% interval of `gain`.
    pub gain_low: f64,
    /// Upper end of that interval.
    pub gain_high: f64,
}

fn set_name<S: serde::Serializer>(f: &FeatureSet, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name())
}

/// A learning curve with its split's size.
#[derive(Clone, Debug, PartialEq)]
pub struct LearningCurve {
    /// Points in `spec.sizes` order, sets in `spec.sets` order within a size.
    pub points: Vec<CurvePoint>,
    /// Validation prompts (fixed for every point).
    pub validation_prompts: usize,
    /// Validation rows and the important ones among them.
    pub validation_rows: (usize, usize),
    /// Training prompts available.
    pub train_prompts: usize,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn interval(mut v: Vec<f64>) -> (f64, f64) {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    (percentile(&v, 0.025), percentile(&v, 0.975))
}

/// Measures the curve on the mined `dirs`: one validation split by prompt
/// (`spec.train.val_fraction`, `spec.train.seed`), the remaining prompts in a seeded order, the
/// first `n` of them for size `n`; C chosen on the validation split per point. `progress` sees
/// each point as it is measured.
pub fn learning_curve(
    dirs: &[PathBuf],
    spec: &CurveSpec,
    progress: &mut dyn FnMut(&CurvePoint),
) -> EvalResult<LearningCurve> {
    let mut sets = spec.sets.clone();
    if !sets.contains(&spec.reference) {
        sets.push(spec.reference);
    }
    let data: Vec<TrainingSet> = sets
        .iter()
        .map(|&s| TrainingSet::load(dirs, s))
        .collect::<EvalResult<_>>()?;
    let source = dirs
        .first()
        .map_or_else(String::new, |d| d.display().to_string());
    measure(&data, spec, &source, progress)
}

/// [`learning_curve`] on loaded rows (one [`TrainingSet`] per set, same prompts and order;
/// the reference set among them).
fn measure(
    data: &[TrainingSet],
    spec: &CurveSpec,
    source: &str,
    progress: &mut dyn FnMut(&CurvePoint),
) -> EvalResult<LearningCurve> {
    let groups = &data[0].groups;
    let y = &data[0].y;
    let (train_rows, val_rows) = split_by_group(groups, spec.train.val_fraction, spec.train.seed);
    let mut train_prompts: Vec<u64> = train_rows
        .iter()
        .map(|&i| groups[i])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    train_prompts.shuffle(&mut StdRng::seed_from_u64(spec.train.seed ^ 0x5eed));
    // Validation rows per prompt, for resampling prompts.
    let mut by_prompt: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (k, &i) in val_rows.iter().enumerate() {
        by_prompt.entry(groups[i]).or_default().push(k);
    }
    let prompts: Vec<&Vec<usize>> = by_prompt.values().collect();
    let mut rng = StdRng::seed_from_u64(spec.train.seed ^ 0xb007);
    let resamples: Vec<Vec<usize>> = (0..spec.bootstrap)
        .map(|_| {
            (0..prompts.len())
                .flat_map(|_| prompts[rng.random_range(0..prompts.len())].iter().copied())
                .collect()
        })
        .collect();
    let yv: Vec<bool> = val_rows.iter().map(|&i| y[i]).collect();
    let auc_on = |scores: &[f64], rows: &[usize]| -> f64 {
        let s: Vec<f64> = rows.iter().map(|&k| scores[k]).collect();
        let l: Vec<bool> = rows.iter().map(|&k| yv[k]).collect();
        roc_auc(&s, &l).unwrap_or(f64::NAN)
    };
    let grid = spec.train.c_grid.clone().unwrap_or_else(default_c_grid);
    let base = LogisticRegressionOptions {
        class_weight: spec.train.class_weight,
        tol: spec.train.tol,
        max_iter: spec.train.max_iter,
        ..LogisticRegressionOptions::default()
    };
    let mut points = Vec::new();
    // Each set's AUC and resampled AUCs at the previous size.
    let mut previous: BTreeMap<&'static str, (f64, Vec<f64>)> = BTreeMap::new();
    for &size in &spec.sizes {
        let n = size.min(train_prompts.len());
        let chosen: BTreeSet<u64> = train_prompts[..n].iter().copied().collect();
        let train: Vec<usize> = train_rows
            .iter()
            .copied()
            .filter(|&i| chosen.contains(&groups[i]))
            .collect();
        let mut measured = Vec::new();
        for d in data {
            let set = &d.features;
            if d.groups != *groups || d.y != *y {
                return Err(EvalError::Conflict {
                    path: source.to_string(),
                    reason: format!("the {set} rows are not the {} rows", data[0].features),
                });
            }
            let sel = select_c_on_split(&d.x, &d.y, &train, &val_rows, &grid, base)?;
            let boot: Vec<f64> = resamples
                .iter()
                .map(|r| auc_on(&sel.validation_scores, r))
                .collect();
            let auc = roc_auc(&sel.validation_scores, &yv).unwrap_or(f64::NAN);
            measured.push((*set, sel.best_c, auc, boot));
        }
        let reference = measured
            .iter()
            .find(|m| m.0 == spec.reference)
            .expect("the reference set is measured")
            .clone();
        for (set, best_c, auc, boot) in measured {
            if !spec.sets.contains(&set) {
                continue;
            }
            let deltas: Vec<f64> = boot.iter().zip(&reference.3).map(|(a, b)| a - b).collect();
            let (gain, (gain_low, gain_high)) = match previous.get(set.name()) {
                Some((prev_auc, prev_boot)) => (
                    auc - prev_auc,
                    interval(boot.iter().zip(prev_boot).map(|(a, b)| a - b).collect()),
                ),
                None => (f64::NAN, (f64::NAN, f64::NAN)),
            };
            previous.insert(set.name(), (auc, boot.clone()));
            let (auc_low, auc_high) = interval(boot);
            let (delta_low, delta_high) = interval(deltas);
            let point = CurvePoint {
                features: set,
                train_prompts: n,
                train_rows: train.len(),
                best_c,
                auc,
                auc_low,
                auc_high,
                delta: auc - reference.2,
                delta_low,
                delta_high,
                gain,
                gain_low,
                gain_high,
            };
            progress(&point);
            points.push(point);
        }
    }
    Ok(LearningCurve {
        points,
        validation_prompts: prompts.len(),
        validation_rows: (yv.len(), yv.iter().filter(|&&l| l).count()),
        train_prompts: train_prompts.len(),
    })
}

impl LearningCurve {
    /// The curve as CSV (one row per point).
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "features,train_prompts,train_rows,best_c,auc,auc_low,auc_high,delta_vs_reference,delta_low,delta_high,gain_vs_previous_size,gain_low,gain_high\n",
        );
        for p in &self.points {
            let _ = writeln!(
                out,
                "{},{},{},{:.3e},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}",
                p.features,
                p.train_prompts,
                p.train_rows,
                p.best_c,
                p.auc,
                p.auc_low,
                p.auc_high,
                p.delta,
                p.delta_low,
                p.delta_high,
                p.gain,
                p.gain_low,
                p.gain_high
            );
        }
        out
    }

    /// The mining gate: whether the best feature set (highest AUC at the largest size) still
    /// gains from its last step of training data by more than that gain's interval (its paired
    /// 95% interval lies above 0). Mining goes on to twice the largest size, up to `cap`
    /// prompts, only then.
    pub fn gate(&self, cap: usize) -> Option<Gate> {
        let largest = self.points.iter().map(|p| p.train_prompts).max()?;
        let best = self
            .points
            .iter()
            .filter(|p| p.train_prompts == largest && p.auc.is_finite())
            .max_by(|a, b| a.auc.total_cmp(&b.auc))?
            .clone();
        let previous = self
            .points
            .iter()
            .filter(|p| p.features == best.features && p.train_prompts < largest)
            .map(|p| p.train_prompts)
            .max();
        let next = (largest * 2).min(cap);
        let decision = match previous {
            None => GateDecision::NeedsTwoSizes,
            Some(_) if best.gain_low > 0.0 && next > largest => {
                GateDecision::KeepMining { to: next }
            }
            Some(_) if best.gain_low > 0.0 => GateDecision::CapReached,
            Some(_) => GateDecision::Stop,
        };
        Some(Gate {
            best,
            previous_size: previous,
            decision,
        })
    }
}

/// What the learning curve says about mining more ([`LearningCurve::gate`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// The best set's point at the largest size (its `gain` is the last step's).
    pub best: CurvePoint,
    /// The size its gain is measured from.
    pub previous_size: Option<usize>,
    /// The decision.
    pub decision: GateDecision,
}

/// The gate's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateDecision {
    /// The last step gained more than its interval: mine up to `to` prompts.
    KeepMining {
        /// Training prompts to reach.
        to: usize,
    },
    /// The last step's gain is within its interval: the judge has the data it can use.
    Stop,
    /// Still gaining, but the cap is reached.
    CapReached,
    /// One training size only: no gain to measure.
    NeedsTwoSizes,
}

impl Gate {
    /// The decision in one paragraph, with its figures.
    pub fn markdown(&self) -> String {
        let b = &self.best;
        let step = match self.previous_size {
            Some(p) => format!(
                "from {p} to {} training prompts its AUC changed by {:+.3} [{:+.3}, {:+.3}] \
                 (paired 95% bootstrap interval over validation prompts)",
                b.train_prompts, b.gain, b.gain_low, b.gain_high
            ),
            None => "only one training size was measured".into(),
        };
        let verdict = match self.decision {
            GateDecision::KeepMining { to } => {
                format!("the gain exceeds its interval: **keep mining, to {to} training prompts**")
            }
            GateDecision::Stop => {
                "the gain is within its interval: **stop mining**; more prompts are not \
                 shown to help"
                    .into()
            }
            GateDecision::CapReached => {
                "the gain exceeds its interval, but the cap is reached: **stop mining**".into()
            }
            GateDecision::NeedsTwoSizes => "**measure a second size first**".into(),
        };
        format!(
            "Gate: the best feature set at {} training prompts is {} (AUC {:.3} [{:.3}, {:.3}]); \
             {step}; {verdict}.\n",
            b.train_prompts, b.features, b.auc, b.auc_low, b.auc_high
        )
    }
}

impl LearningCurve {
    /// The curve as a Markdown table: a row per feature set, a column per training size, each
    /// cell `AUC [95% interval]`, then the difference to `reference` at the largest size.
    pub fn markdown(&self, reference: FeatureSet) -> String {
        let sizes: Vec<usize> = self
            .points
            .iter()
            .map(|p| p.train_prompts)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut sets: Vec<FeatureSet> = Vec::new();
        for p in &self.points {
            if !sets.contains(&p.features) {
                sets.push(p.features);
            }
        }
        let largest = sizes.last().copied().unwrap_or(0);
        let mut out = String::from("| features |");
        for n in &sizes {
            let _ = write!(out, " {n} prompts |");
        }
        let _ = writeln!(out, " Δ vs {reference} at {largest} [95% CI] |");
        out.push_str("| --- |");
        for _ in 0..=sizes.len() {
            out.push_str(" --- |");
        }
        out.push('\n');
        for set in sets {
            let _ = write!(out, "| {set} |");
            for n in &sizes {
                match self
                    .points
                    .iter()
                    .find(|p| p.features == set && p.train_prompts == *n)
                {
                    Some(p) => {
                        let _ =
                            write!(out, " {:.3} [{:.3}, {:.3}] |", p.auc, p.auc_low, p.auc_high);
                    }
                    None => out.push_str(" |"),
                }
            }
            match self
                .points
                .iter()
                .find(|p| p.features == set && p.train_prompts == largest)
            {
                Some(p) => {
                    let _ = writeln!(
                        out,
                        " {:+.3} [{:+.3}, {:+.3}] |",
                        p.delta, p.delta_low, p.delta_high
                    );
                }
                None => out.push_str(" |\n"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::tests::TestRows;

    /// DT rows carry the label, DD-DT rows are noise: DT wins, its difference interval
    /// excludes 0, and every interval brackets its estimate.
    #[test]
    fn an_informative_set_beats_noise_with_a_paired_interval() {
        let rows = TestRows::new(120, 12, 7);
        let informative = rows.set(FeatureSet::Target, 1.2);
        let noise = rows.set(FeatureSet::DraftAndTarget, 0.0);
        let spec = CurveSpec {
            sets: vec![FeatureSet::Target, FeatureSet::DraftAndTarget],
            sizes: vec![20, 100],
            train: TrainOptions {
                c_grid: Some(vec![0.01, 1.0]),
                val_fraction: 0.25,
                ..TrainOptions::default()
            },
            bootstrap: 200,
            ..CurveSpec::default()
        };
        let mut seen = 0;
        let curve = measure(&[informative, noise], &spec, "test", &mut |_| seen += 1).unwrap();
        assert_eq!(seen, 4);
        assert_eq!(curve.validation_prompts, 30);
        assert_eq!(curve.train_prompts, 90);
        let at = |set, n| {
            curve
                .points
                .iter()
                .find(|p| p.features == set && p.train_prompts == n)
                .unwrap()
                .clone()
        };
        let dt = at(FeatureSet::Target, 90);
        assert!(dt.auc > 0.75, "{dt:?}");
        assert!(dt.delta_low > 0.0, "{dt:?}");
        assert_eq!(at(FeatureSet::DraftAndTarget, 90).delta, 0.0);
        assert_eq!(at(FeatureSet::Target, 20).train_rows, 20 * 12);
        for p in &curve.points {
            assert!(p.auc_low <= p.auc && p.auc <= p.auc_high, "{p:?}");
        }
        let table = curve.markdown(FeatureSet::DraftAndTarget);
        assert!(
            table.contains("| dt |") && table.contains("90 prompts"),
            "{table}"
        );
        assert_eq!(curve.csv().lines().count(), 5);
        assert!(at(FeatureSet::Target, 20).gain.is_nan());
        let dt_gain = at(FeatureSet::Target, 90);
        assert!(dt_gain.gain_low <= dt_gain.gain && dt_gain.gain <= dt_gain.gain_high);
    }

    /// The gate goes on only while the best set's last step gains beyond its interval.
    #[test]
    fn the_gate_keeps_mining_only_while_the_best_set_still_gains() {
        let rows = TestRows::new(160, 12, 3);
        let spec = |sizes: Vec<usize>| CurveSpec {
            sets: vec![FeatureSet::Target],
            sizes,
            reference: FeatureSet::Target,
            train: TrainOptions {
                c_grid: Some(vec![0.01, 1.0]),
                val_fraction: 0.25,
                ..TrainOptions::default()
            },
            bootstrap: 200,
        };
        // Weak signal: from 2 to 120 training prompts the AUC rises far beyond its interval.
        let weak = [rows.set(FeatureSet::Target, 0.6)];
        let curve = measure(&weak, &spec(vec![2, 120]), "test", &mut |_| {}).unwrap();
        let gate = curve.gate(500).unwrap();
        assert!(gate.best.gain_low > 0.0, "{:?}", gate.best);
        assert_eq!(gate.decision, GateDecision::KeepMining { to: 240 });
        assert_eq!(gate.previous_size, Some(2));
        assert!(
            gate.markdown().contains("keep mining, to 240"),
            "{}",
            gate.markdown()
        );
        assert_eq!(curve.gate(120).unwrap().decision, GateDecision::CapReached);
        // Noise: nothing to gain.
        let noise = [rows.set(FeatureSet::Target, 0.0)];
        let curve = measure(&noise, &spec(vec![60, 120]), "test", &mut |_| {}).unwrap();
        let gate = curve.gate(500).unwrap();
        assert_eq!(gate.decision, GateDecision::Stop, "{:?}", gate.best);
        assert!(gate.markdown().contains("stop mining"));
        let one = measure(&noise, &spec(vec![60]), "test", &mut |_| {}).unwrap();
        assert_eq!(one.gate(500).unwrap().decision, GateDecision::NeedsTwoSizes);
    }
}
