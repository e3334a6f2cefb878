//! The evaluation summary: per method, over the prompts every method finished, accuracy and
//! its paired difference to target-only, answer agreement with target-only overall and on the
//! prompts target-only answers correctly (95% bootstrap intervals over prompts), accepted
//! tokens per cycle, tokens per target call, target calls per token, tok/s and wall-clock
//! speed-ups; written as Markdown, CSV and JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use autojudge_decode::DecodeStats;
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::method::{LOSSLESS, TARGET_ONLY};
use crate::{EvalError, EvalResult, EvalSettings, ResultLine};

/// Summary of one method over the prompts all methods finished.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MethodSummary {
    /// Method name.
    pub method: String,
    /// Plot curve.
    pub family: String,
    /// Prompts.
    pub prompts: usize,
    /// Prompts whose response the oracle found an answer in.
    pub answered: usize,
    /// Accuracy against the gold.
    pub accuracy: f64,
    /// Accuracy minus target-only's, with a 95% paired bootstrap interval.
    pub accuracy_diff: (f64, f64, f64),
    /// Fraction of prompts whose answer equals target-only's.
    pub agreement: f64,
    /// Agreement's 95% bootstrap interval.
    pub agreement_ci: (f64, f64),
    /// Prompts target-only answers correctly (the denominator of `agreement_on_correct`, whose
    /// interval is the exact binomial one, [`clopper_pearson`]).
    pub target_correct_prompts: usize,
    /// Fraction of the prompts target-only answers correctly whose answer equals
    /// target-only's, with its exact binomial 95% interval ([`clopper_pearson`]; a bootstrap
    /// collapses to a point when every answer is kept): the answers a lossy method may not lose.
    pub agreement_on_correct: (f64, f64, f64),
    /// Accepted draft tokens per verification cycle.
    pub accepted_per_cycle: f64,
    /// Generated tokens per target verification call (prefill excluded; 1 for target-only):
    /// the speculative speed-up bound, comparable across engines.
    pub tokens_per_target_call: f64,
    /// Target forward calls per generated token.
    pub target_calls_per_token: f64,
    /// Generated tokens per second.
    pub tokens_per_second: f64,
    /// Wall-clock speed-up over target-only (same prompts).
    pub speedup_vs_target: f64,
    /// Wall-clock speed-up over lossless speculative decoding.
    pub speedup_vs_lossless: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The exact (Clopper–Pearson) `1 − alpha` interval of a binomial proportion: `successes` of
/// `n`. Unlike a bootstrap it does not collapse to a point when every trial succeeds (27 of 27
/// gives [0.872, 1]). NaN bounds for `n = 0`.
pub fn clopper_pearson(successes: usize, n: usize, alpha: f64) -> (f64, f64) {
    if n == 0 || successes > n {
        return (f64::NAN, f64::NAN);
    }
    // P(X ≤ k) for X ~ Binomial(n, p), summed in log space.
    let cdf = |k: usize, p: f64| -> f64 {
        if p <= 0.0 {
            return 1.0;
        }
        if p >= 1.0 {
            return if k >= n { 1.0 } else { 0.0 };
        }
        let (lp, lq) = (p.ln(), (1.0 - p).ln());
        let mut log_choose = 0.0;
        let mut sum = 0.0;
        for i in 0..=k {
            if i > 0 {
                log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
            }
            sum += (log_choose + i as f64 * lp + (n - i) as f64 * lq).exp();
        }
        sum.min(1.0)
    };
    // Bisection on a monotone function of p: the first p at which `above(p)` holds.
    let solve = |above: &dyn Fn(f64) -> bool| -> f64 {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if above(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let half = alpha / 2.0;
    // Lower: P(X ≥ k; p) = alpha/2, i.e. 1 − cdf(k − 1, p) rises through alpha/2.
    let lower = if successes == 0 {
        0.0
    } else {
        solve(&|p| 1.0 - cdf(successes - 1, p) >= half)
    };
    // Upper: P(X ≤ k; p) = alpha/2, i.e. cdf(k, p) falls through alpha/2.
    let upper = if successes == n {
        1.0
    } else {
        solve(&|p| cdf(successes, p) <= half)
    };
    (lower, upper)
}

/// Mean and 95% bootstrap interval of `v` (seeded resampling of prompts).
fn bootstrap(v: &[f64], resamples: usize, seed: u64) -> (f64, f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| v[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    (mean, percentile(&means, 0.025), percentile(&means, 0.975))
}

/// A wall-clock figure with `decimals` and `unit`, or "untimed" where a derived method has none
/// (NaN).
pub(crate) fn timed(v: f64, unit: &str, decimals: usize) -> String {
    if v.is_nan() {
        "untimed".into()
    } else {
        format!("{v:.decimals$}{unit}")
    }
}

/// Per-method summaries (in `order`) over the prompts every method finished.
pub fn summarize(lines: &[ResultLine], order: &[String], resamples: usize) -> Vec<MethodSummary> {
    let mut by: BTreeMap<&str, BTreeMap<usize, &ResultLine>> = BTreeMap::new();
    for l in lines {
        by.entry(&l.method).or_default().insert(l.index, l);
    }
    let methods: Vec<&String> = order
        .iter()
        .filter(|m| by.contains_key(m.as_str()))
        .collect();
    let common: Vec<usize> = match methods.first() {
        Some(m) => by[m.as_str()]
            .keys()
            .copied()
            .filter(|i| methods.iter().all(|m| by[m.as_str()].contains_key(i)))
            .collect(),
        None => return Vec::new(),
    };
    // Derived lines were not timed: their method has no wall-clock figures (NaN).
    let wall = |m: &str| -> f64 {
        by.get(m).map_or(f64::NAN, |r| {
            common
                .iter()
                .map(|i| match r[i].derived {
                    true => f64::NAN,
                    false => r[i].stats.wall_time.as_secs_f64(),
                })
                .sum()
        })
    };
    let (base_wall, lossless_wall) = (wall(TARGET_ONLY), wall(LOSSLESS));
    let base = by.get(TARGET_ONLY);
    methods
        .iter()
        .map(|m| {
            let rows: Vec<&ResultLine> = common.iter().map(|i| by[m.as_str()][i]).collect();
            let mut s = DecodeStats::default();
            rows.iter().for_each(|r| s.merge(&r.stats));
            let correct = |r: &ResultLine| f64::from(u8::from(r.correct == Some(true)));
            let diffs: Vec<f64> = rows
                .iter()
                .map(|r| correct(r) - base.map_or(0.0, |b| correct(b[&r.index])))
                .collect();
            let agree: Vec<f64> = rows
                .iter()
                .map(|r| f64::from(u8::from(r.agrees == Some(true))))
                .collect();
            let agree_on_correct: Vec<f64> = rows
                .iter()
                .zip(&agree)
                .filter(|(r, _)| base.is_some_and(|b| b[&r.index].correct == Some(true)))
                .map(|(_, &a)| a)
                .collect();
            let (d, lo, hi) = bootstrap(&diffs, resamples, 1);
            let (ag, alo, ahi) = bootstrap(&agree, resamples, 2);
            let w = wall(m);
            MethodSummary {
                method: m.to_string(),
                family: rows.first().map_or_else(String::new, |r| r.family.clone()),
                prompts: rows.len(),
                answered: rows.iter().filter(|r| r.answer.is_some()).count(),
                accuracy: rows.iter().map(|r| correct(r)).sum::<f64>() / rows.len().max(1) as f64,
                accuracy_diff: (d, lo, hi),
                agreement: ag,
                agreement_ci: (alo, ahi),
                target_correct_prompts: agree_on_correct.len(),
                agreement_on_correct: {
                    let kept = agree_on_correct.iter().filter(|&&a| a > 0.5).count();
                    let n = agree_on_correct.len();
                    let (lo, hi) = clopper_pearson(kept, n, 0.05);
                    (kept as f64 / n as f64, lo, hi)
                },
                accepted_per_cycle: if m.as_str() == TARGET_ONLY {
                    0.0
                } else {
                    s.mean_accepted()
                },
                tokens_per_target_call: s.tokens_per_target_call(),
                target_calls_per_token: s.target_calls_per_token(),
                tokens_per_second: if w.is_nan() {
                    f64::NAN
                } else {
                    s.tokens_per_second()
                },
                speedup_vs_target: base_wall / w,
                speedup_vs_lossless: lossless_wall / w,
            }
        })
        .collect()
}

/// Methods in report order: target-only, lossless, then the others as they first appear.
pub fn method_order(lines: &[ResultLine]) -> Vec<String> {
    let mut order: Vec<String> = [TARGET_ONLY, LOSSLESS]
        .into_iter()
        .filter(|m| lines.iter().any(|l| l.method == *m))
        .map(String::from)
        .collect();
    for l in lines {
        if !order.contains(&l.method) {
            order.push(l.method.clone());
        }
    }
    order
}

/// A titled summary: what an evaluation run or a joined report produces.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Report {
    /// One line naming task, data, prompts, models and settings.
    pub title: String,
    /// One row per method, in report order.
    pub rows: Vec<MethodSummary>,
}

impl Report {
    /// The summary of `lines` (one directory's settings): methods in `order` over the prompts
    /// every method finished, titled with the settings and the number of prompts in the lines.
    pub fn new(
        settings: &EvalSettings,
        lines: &[ResultLine],
        order: &[String],
        resamples: usize,
    ) -> Self {
        let prompts: BTreeSet<usize> = lines.iter().map(|l| l.index).collect();
        Report {
            title: settings.title(prompts.len()),
            rows: summarize(lines, order, resamples),
        }
    }

    /// A loud warning when target-only's responses mostly have no answer: accuracy and
    /// agreement then say little about a lossy method (every method "agrees" on no answer).
    pub fn warning(&self) -> Option<String> {
        let t = self.rows.iter().find(|r| r.method == TARGET_ONLY)?;
        (t.prompts > 0 && t.answered * 2 < t.prompts).then(|| {
            format!(
                "**WARNING: target-only's responses have no answer on {} of {} prompts**: the \
                 oracle reads none (a response cut off by the token budget, or an answer format \
                 it does not read), so accuracy and answer agreement below say little about what \
                 a lossy method keeps.",
                t.prompts - t.answered,
                t.prompts
            )
        })
    }

    /// The Markdown table (with the title above it, and [`Report::warning`] when there is one).
    pub fn markdown(&self) -> String {
        let mut md = format!("{}\n\n", self.title);
        if let Some(w) = self.warning() {
            let _ = writeln!(md, "{w}\n");
        }
        md.push_str("| method | prompts | accuracy | Δ accuracy vs target-only [95% CI] | agreement with target-only [95% CI] | agreement where target-only is correct [95% CI] | accepted/cycle | tokens/target call | tok/s | speed-up vs target-only | vs lossless |\n");
        md.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for r in &self.rows {
            let (d, lo, hi) = r.accuracy_diff;
            let (c, clo, chi) = r.agreement_on_correct;
            let _ = writeln!(
                md,
                "| {} | {} | {:.3} | {:+.3} [{:+.3}, {:+.3}] | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] of {} | {:.2} | {:.2} | {} | {} | {} |",
                r.method, r.prompts, r.accuracy, d, lo, hi, r.agreement, r.agreement_ci.0, r.agreement_ci.1,
                c, clo, chi, r.target_correct_prompts,
                r.accepted_per_cycle, r.tokens_per_target_call, timed(r.tokens_per_second, "", 1),
                timed(r.speedup_vs_target, "x", 2), timed(r.speedup_vs_lossless, "x", 2)
            );
        }
        md
    }

    /// The CSV table (one row per method, every figure unrounded).
    pub fn csv(&self) -> String {
        let mut csv = String::from("method,family,prompts,accuracy,accuracy_diff,accuracy_diff_lo,accuracy_diff_hi,agreement,agreement_lo,agreement_hi,target_correct_prompts,agreement_on_correct,agreement_on_correct_lo,agreement_on_correct_hi,accepted_per_cycle,tokens_per_target_call,target_calls_per_token,tokens_per_second,speedup_vs_target,speedup_vs_lossless\n");
        for r in &self.rows {
            let (d, lo, hi) = r.accuracy_diff;
            let (c, clo, chi) = r.agreement_on_correct;
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.method,
                r.family,
                r.prompts,
                r.accuracy,
                d,
                lo,
                hi,
                r.agreement,
                r.agreement_ci.0,
                r.agreement_ci.1,
                r.target_correct_prompts,
                c,
                clo,
                chi,
                r.accepted_per_cycle,
                r.tokens_per_target_call,
                r.target_calls_per_token,
                r.tokens_per_second,
                r.speedup_vs_target,
                r.speedup_vs_lossless
            );
        }
        csv
    }

    /// Writes `summary.md`, `summary.csv` and `summary.json` into `dir`.
    pub fn write_tables(&self, dir: &Path) -> EvalResult<()> {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| EvalError::file(&path, e))
        };
        write("summary.md", self.markdown())?;
        write("summary.csv", self.csv())?;
        write(
            "summary.json",
            serde_json::to_string_pretty(&self.rows).expect("summaries serialize"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_the_beta_quantiles() {
        // Beta quantiles from scipy.stats.beta.ppf.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        let (lo, hi) = super::clopper_pearson(27, 27, 0.05);
        assert!(
            close(lo, 0.025f64.powf(1.0 / 27.0)) && hi == 1.0,
            "{lo} {hi}"
        );
        let (lo, hi) = super::clopper_pearson(0, 10, 0.05);
        assert!(
            lo == 0.0 && close(hi, 1.0 - 0.025f64.powf(0.1)),
            "{lo} {hi}"
        );
        let (lo, hi) = super::clopper_pearson(5, 10, 0.05);
        assert!(close(lo, 0.187086) && close(hi, 0.812914), "{lo} {hi}");
        assert!(super::clopper_pearson(0, 0, 0.05).0.is_nan());
    }

    #[test]
    fn a_target_without_answers_is_a_loud_warning_in_the_table() {
        let line = |index: usize, method: &str, answer: Option<&str>| ResultLine {
            method: method.into(),
            family: method.into(),
            index,
            task_id: format!("t{index}"),
            answer: answer.map(String::from),
            gold: Some("1".into()),
            correct: Some(answer == Some("1")),
            agrees: Some(true),
            tokens: 10,
            stats: DecodeStats::default(),
            derived: false,
        };
        let settings = crate::EvalSettings {
            task: "t".into(),
            data: "d".into(),
            oracle: "o".into(),
            chat: false,
            wording: String::new(),
            target: "T".into(),
            draft: "D".into(),
            dtype: "f32".into(),
            k: 4,
            max_new_tokens: 8,
            prefill: crate::PromptPrefill::PerMethod,
        };
        let order = [TARGET_ONLY.to_string()];
        let mostly_none: Vec<ResultLine> = (0..4)
            .map(|i| line(i, TARGET_ONLY, (i == 0).then_some("1")))
            .collect();
        let report = Report::new(&settings, &mostly_none, &order, 10);
        assert_eq!(report.rows[0].answered, 1);
        let md = report.markdown();
        assert!(
            md.contains("WARNING") && md.contains("no answer on 3 of 4 prompts"),
            "{md}"
        );
        let answered: Vec<ResultLine> = (0..4).map(|i| line(i, TARGET_ONLY, Some("2"))).collect();
        let report = Report::new(&settings, &answered, &order, 10);
        assert!(report.warning().is_none() && !report.markdown().contains("WARNING"));
    }

    #[test]
    fn bootstrap_interval_brackets_the_mean_and_collapses_on_constants() {
        let (m, lo, hi) = bootstrap(&[1.0; 20], 500, 3);
        assert_eq!((m, lo, hi), (1.0, 1.0, 1.0));
        let v: Vec<f64> = (0..40).map(|i| f64::from(u8::from(i % 4 == 0))).collect();
        let (m, lo, hi) = bootstrap(&v, 2000, 3);
        assert!((m - 0.25).abs() < 1e-12);
        assert!(lo < m && m < hi && lo > 0.05 && hi < 0.5, "{lo} {hi}");
        assert_eq!(bootstrap(&v, 2000, 3), (m, lo, hi), "seeded");
    }
}
