//! The evaluation report: per-method summary with paired bootstrap intervals, written as
//! Markdown, CSV and JSON, plus Pareto plots (PNG and SVG).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use autojudge_decode::DecodeStats;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// One committed line of `results.jsonl`: one method on one prompt.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ResultLine {
    /// Method name (with its parameter).
    pub method: String,
    /// Method family (one plot curve).
    pub family: String,
    /// Dataset line.
    pub index: usize,
    /// Task id.
    pub task_id: String,
    /// Extracted answer.
    pub answer: Option<String>,
    /// Gold answer.
    pub gold: Option<String>,
    /// Correct against the gold.
    pub correct: Option<bool>,
    /// Same answer as target-only on this prompt.
    pub agrees: Option<bool>,
    /// Generated tokens.
    pub tokens: usize,
    /// Decode statistics.
    pub stats: DecodeStats,
}

/// Summary of one method over the prompts all methods finished.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MethodSummary {
    /// Method name.
    pub method: String,
    /// Plot curve.
    pub family: String,
    /// Prompts.
    pub prompts: usize,
    /// Accuracy against the gold.
    pub accuracy: f64,
    /// Accuracy minus target-only's, with a 95% paired bootstrap interval.
    pub accuracy_diff: (f64, f64, f64),
    /// Fraction of prompts whose answer equals target-only's.
    pub agreement: f64,
    /// Agreement's 95% bootstrap interval.
    pub agreement_ci: (f64, f64),
    /// Accepted draft tokens per verification cycle.
    pub accepted_per_cycle: f64,
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
    let wall = |m: &str| -> f64 {
        by.get(m).map_or(f64::NAN, |r| {
            common
                .iter()
                .map(|i| r[i].stats.wall_time.as_secs_f64())
                .sum()
        })
    };
    let (base_wall, lossless_wall) = (wall("target-only"), wall("lossless"));
    let base = by.get("target-only");
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
            let (d, lo, hi) = bootstrap(&diffs, resamples, 1);
            let (ag, alo, ahi) = bootstrap(&agree, resamples, 2);
            let w = wall(m);
            MethodSummary {
                method: m.to_string(),
                family: rows.first().map_or_else(String::new, |r| r.family.clone()),
                prompts: rows.len(),
                accuracy: rows.iter().map(|r| correct(r)).sum::<f64>() / rows.len().max(1) as f64,
                accuracy_diff: (d, lo, hi),
                agreement: ag,
                agreement_ci: (alo, ahi),
                accepted_per_cycle: if m.as_str() == "target-only" {
                    0.0
                } else {
                    s.mean_accepted()
                },
                target_calls_per_token: s.target_calls_per_token(),
                tokens_per_second: s.tokens_per_second(),
                speedup_vs_target: base_wall / w,
                speedup_vs_lossless: lossless_wall / w,
            }
        })
        .collect()
}

/// Writes `summary.md`, `summary.csv`, `summary.json` and the plots into `dir`; prints the
/// Markdown table and the plot paths.
pub fn write_reports(dir: &Path, title: &str, rows: &[MethodSummary]) -> anyhow::Result<()> {
    let mut md = format!("{title}\n\n");
    md.push_str("| method | prompts | accuracy | Δ accuracy vs target-only [95% CI] | agreement with target-only [95% CI] | accepted/cycle | target calls/token | tok/s | speed-up vs target-only | vs lossless |\n");
    md.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let mut csv = String::from("method,family,prompts,accuracy,accuracy_diff,accuracy_diff_lo,accuracy_diff_hi,agreement,agreement_lo,agreement_hi,accepted_per_cycle,target_calls_per_token,tokens_per_second,speedup_vs_target,speedup_vs_lossless\n");
    for r in rows {
        let (d, lo, hi) = r.accuracy_diff;
        writeln!(
            md,
            "| {} | {} | {:.3} | {:+.3} [{:+.3}, {:+.3}] | {:.3} [{:.3}, {:.3}] | {:.2} | {:.3} | {:.1} | {:.2}x | {:.2}x |",
            r.method, r.prompts, r.accuracy, d, lo, hi, r.agreement, r.agreement_ci.0, r.agreement_ci.1,
            r.accepted_per_cycle, r.target_calls_per_token, r.tokens_per_second, r.speedup_vs_target, r.speedup_vs_lossless
        )?;
        writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
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
            r.accepted_per_cycle,
            r.target_calls_per_token,
            r.tokens_per_second,
            r.speedup_vs_target,
            r.speedup_vs_lossless
        )?;
    }
    std::fs::write(dir.join("summary.md"), &md)?;
    std::fs::write(dir.join("summary.csv"), csv)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(rows)?,
    )?;
    println!("\n{md}");
    for (stem, x_label, x) in [
        (
            "accepted",
            "accepted draft tokens per cycle",
            (|r: &MethodSummary| r.accepted_per_cycle) as fn(&MethodSummary) -> f64,
        ),
        (
            "speedup",
            "wall-clock speed-up vs target-only",
            |r: &MethodSummary| r.speedup_vs_target,
        ),
    ] {
        for (ystem, y_label, y) in [
            (
                "accuracy",
                "accuracy (gold)",
                (|r: &MethodSummary| r.accuracy) as fn(&MethodSummary) -> f64,
            ),
            (
                "agreement",
                "answer agreement with target-only",
                |r: &MethodSummary| r.agreement,
            ),
        ] {
            let base = dir.join(format!("{ystem}_vs_{stem}"));
            match super::plot::pareto(&base, rows, (x_label, x), (y_label, y)) {
                Ok(paths) => paths.iter().for_each(|p| println!("plot: {}", p.display())),
                Err(e) => eprintln!("plot {}: {e}", base.display()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
