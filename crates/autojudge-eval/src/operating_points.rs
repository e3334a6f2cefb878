//! Operating points across draft windows: every method's summary at every window k next to
//! lossless speculative decoding's, and for each criterion on the answers the method of each
//! family with the largest gain in tokens per target call over lossless SD at the same k.
//! This is the table that says whether a lossy method buys anything, and at what cost.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::join::read_joined;
use crate::method::{LOSSLESS, TARGET_ONLY};
use crate::summary::{method_order, timed};
use crate::{EvalDir, EvalError, EvalResult, EvalSettings, MethodSummary, Report};

/// The sweep over evaluation directories that differ only in their window k: directories with
/// the same k are joined (as [`crate::join_dirs`] does, nothing written), every window is
/// summarised over the prompts all windows have lines for, the first `first` of them (in
/// dataset order) when given, so windows are compared on the same prompts. A non-empty
/// `families` keeps only those method families (target-only and lossless SD always stay), so
/// a family evaluated on fewer prompts (a judge added later) does not shrink the others.
pub fn sweep_dirs(
    dirs: &[PathBuf],
    first: Option<usize>,
    families: &[String],
    criteria: &[Criterion],
    resamples: usize,
) -> EvalResult<Sweep> {
    let mut groups: BTreeMap<usize, Vec<PathBuf>> = BTreeMap::new();
    let mut reference: Option<(PathBuf, EvalSettings)> = None;
    for dir in dirs {
        let settings = EvalDir::read(dir)?.0;
        match &reference {
            Some((_, r)) => autojudge_runs::check_same_settings(
                &dir.join(EvalSettings::FILE),
                r,
                &settings,
                &["k"],
            )?,
            None => reference = Some((dir.clone(), settings.clone())),
        }
        groups.entry(settings.k).or_default().push(dir.clone());
    }
    let kept = |family: &str| {
        families.is_empty()
            || family == TARGET_ONLY
            || family == LOSSLESS
            || families.iter().any(|f| f == family)
    };
    let windows = groups
        .iter()
        .map(|(&k, dirs)| {
            let (settings, mut lines) = read_joined(dirs)?;
            lines.retain(|l| kept(&l.family));
            Ok((k, (settings, lines)))
        })
        .collect::<EvalResult<Vec<_>>>()?;
    for f in families {
        if !windows
            .iter()
            .any(|(_, (_, lines))| lines.iter().any(|l| &l.family == f))
        {
            return Err(EvalError::InvalidOption {
                field: "families",
                reason: format!("no method of family `{f}` in any directory"),
            });
        }
    }
    // The prompts every method of every window finished: a prompt interrupted half-way in one
    // window leaves every window.
    let mut shared: Option<BTreeSet<usize>> = None;
    for (_, (_, lines)) in &windows {
        let mut by_method: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for l in lines {
            by_method.entry(&l.method).or_default().insert(l.index);
        }
        for have in by_method.into_values() {
            shared = Some(match shared {
                Some(s) => s.intersection(&have).copied().collect(),
                None => have,
            });
        }
    }
    let keep: BTreeSet<usize> = shared
        .unwrap_or_default()
        .into_iter()
        .take(first.unwrap_or(usize::MAX))
        .collect();
    for ((k, (_, lines)), dirs) in windows.iter().zip(groups.values()) {
        let gold = lines
            .iter()
            .any(|l| l.method == TARGET_ONLY && keep.contains(&l.index) && l.correct.is_some());
        if !gold {
            return Err(EvalError::InvalidOption {
                field: "dirs",
                reason: format!(
                    "window k = {k} ({}) has no target-only answer checked against a gold on the \
                     shared prompts: accuracy differences would be meaningless",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let reports: Vec<(usize, Report)> = windows
        .into_iter()
        .map(|(k, (settings, mut lines))| {
            lines.retain(|l| keep.contains(&l.index));
            (
                k,
                Report::new(&settings, &lines, &method_order(&lines), resamples),
            )
        })
        .collect();
    Sweep::new(&reports, criteria)
}

/// One method at one draft window, with its gain over lossless SD.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SweepRow {
    /// Draft window.
    pub k: usize,
    /// The method's summary in its window's report.
    pub summary: MethodSummary,
    /// Tokens per target call over lossless SD's in the same report (same k, same prompts);
    /// NaN when that report has no lossless row.
    pub gain_vs_lossless: f64,
    /// Tokens per target call over the best lossless SD of any window: lossless SD may pick
    /// its k too, so this is the gain a user actually gets. NaN without lossless rows.
    pub gain_vs_best_lossless: f64,
}

/// What a lossy method must keep of the target's answers to count at an operating point.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Criterion {
    /// The 95% interval of Δ accuracy vs target-only contains 0, and the answer agrees with
    /// target-only's on at least this fraction of the prompts target-only answers correctly.
    /// The interval is a percentile bootstrap over prompts: a method that only loses answers,
    /// a few in a few hundred prompts, can still have an upper bound of exactly 0; the
    /// agreement bound is what limits those losses.
    NoDetectableLoss {
        /// Minimum agreement on the prompts target-only answers correctly (e.g. 0.98).
        min_agreement_on_correct: f64,
    },
    /// Accuracy at most this many percentage points below target-only's (point estimate).
    AccuracyDrop {
        /// Largest accepted drop, in points (2.0 = 2 points).
        max_drop_points: f64,
    },
}

impl Criterion {
    /// (a) no detectable loss with agreement on correct prompts ≥ 0.98; (b) at most a
    /// 2-point accuracy drop.
    pub const STANDARD: [Criterion; 2] = [
        Criterion::NoDetectableLoss {
            min_agreement_on_correct: 0.98,
        },
        Criterion::AccuracyDrop {
            max_drop_points: 2.0,
        },
    ];

    /// Whether a method's summary meets the criterion (never for a NaN figure).
    pub fn admits(&self, s: &MethodSummary) -> bool {
        let (d, lo, hi) = s.accuracy_diff;
        match *self {
            Criterion::NoDetectableLoss {
                min_agreement_on_correct,
            } => lo <= 0.0 && 0.0 <= hi && s.agreement_on_correct.0 >= min_agreement_on_correct,
            // A drop of exactly the bound qualifies (1/50 of a prompt set is not exactly 0.02).
            Criterion::AccuracyDrop { max_drop_points } => d * 100.0 >= -max_drop_points - 1e-9,
        }
    }

    /// A short label for tables.
    pub fn label(&self) -> String {
        match *self {
            Criterion::NoDetectableLoss {
                min_agreement_on_correct,
            } => format!("Δ accuracy CI ∋ 0, agreement on correct ≥ {min_agreement_on_correct}"),
            Criterion::AccuracyDrop { max_drop_points } => {
                format!("accuracy drop ≤ {max_drop_points} points")
            }
        }
    }
}

/// The best method of one family under one criterion.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OperatingPoint {
    /// The criterion the method meets.
    pub criterion: Criterion,
    /// Method family (one plot curve).
    pub family: String,
    /// The family's method (at any k) with the largest gain over lossless SD at its k among
    /// those meeting the criterion (ties to the larger gain over the best lossless SD); `None`
    /// when none of the family's methods does.
    pub best: Option<SweepRow>,
}

/// Reports at several draft windows and their operating points.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sweep {
    /// The windows' report titles, one per line.
    pub titles: Vec<String>,
    /// Every method at every window, windows in increasing k, methods in report order.
    pub rows: Vec<SweepRow>,
    /// Per criterion, per lossy family and for lossless SD itself: the best point.
    pub points: Vec<OperatingPoint>,
}

impl Sweep {
    /// The sweep over `reports` (one per window k; two reports with the same k are refused)
    /// under `criteria`.
    pub fn new(reports: &[(usize, Report)], criteria: &[Criterion]) -> EvalResult<Self> {
        let mut by_k: BTreeMap<usize, &Report> = BTreeMap::new();
        for (k, r) in reports {
            if !r.rows.iter().any(|s| s.method == TARGET_ONLY) {
                return Err(EvalError::InvalidOption {
                    field: "reports",
                    reason: format!(
                        "the report for window k = {k} has no target-only row, the reference \
                         of every accuracy difference"
                    ),
                });
            }
            if by_k.insert(*k, r).is_some() {
                return Err(EvalError::InvalidOption {
                    field: "k",
                    reason: format!("two reports for window k = {k}; join them first"),
                });
            }
        }
        let tpc = |r: &Report, m: &str| {
            r.rows
                .iter()
                .find(|s| s.method == m)
                .map_or(f64::NAN, |s| s.tokens_per_target_call)
        };
        let best_lossless = by_k
            .values()
            .map(|r| tpc(r, LOSSLESS))
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max);
        let rows: Vec<SweepRow> = by_k
            .iter()
            .flat_map(|(&k, r)| {
                let lossless = tpc(r, LOSSLESS);
                r.rows.iter().map(move |s| SweepRow {
                    k,
                    summary: s.clone(),
                    gain_vs_lossless: s.tokens_per_target_call / lossless,
                    gain_vs_best_lossless: s.tokens_per_target_call / best_lossless,
                })
            })
            .collect();
        let mut families: Vec<String> = Vec::new();
        for r in &rows {
            if r.summary.method != TARGET_ONLY && !families.contains(&r.summary.family) {
                families.push(r.summary.family.clone());
            }
        }
        let points = criteria
            .iter()
            .flat_map(|c| {
                let rows = &rows;
                families.iter().map(move |f| OperatingPoint {
                    criterion: *c,
                    family: f.clone(),
                    best: rows
                        .iter()
                        .filter(|r| &r.summary.family == f && c.admits(&r.summary))
                        .filter(|r| r.gain_vs_lossless.is_finite())
                        // Ties (lossless SD is 1.0 at every k) go to the larger absolute gain.
                        .max_by(|a, b| {
                            a.gain_vs_lossless
                                .total_cmp(&b.gain_vs_lossless)
                                .then(a.gain_vs_best_lossless.total_cmp(&b.gain_vs_best_lossless))
                        })
                        .cloned(),
                })
            })
            .collect();
        Ok(Sweep {
            titles: by_k.values().map(|r| r.title.clone()).collect(),
            rows,
            points,
        })
    }

    /// The operating-point table, then every method at every window (Markdown).
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        for t in &self.titles {
            let _ = writeln!(md, "- {t}");
        }
        md.push_str("\n| criterion | family | best method | k | prompts | tokens/target call | gain vs lossless (same k) | vs best lossless | Δ accuracy [95% CI] | agreement where target-only is correct [95% CI] | speed-up vs lossless |\n");
        md.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for p in &self.points {
            match &p.best {
                Some(r) => {
                    let s = &r.summary;
                    let (d, lo, hi) = s.accuracy_diff;
                    let (c, clo, chi) = s.agreement_on_correct;
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} | {:.2} | {:.3}x | {:.3}x | {:+.3} [{:+.3}, {:+.3}] | {:.3} [{:.3}, {:.3}] | {} |",
                        p.criterion.label(), p.family, s.method, r.k, s.prompts, s.tokens_per_target_call,
                        r.gain_vs_lossless, r.gain_vs_best_lossless, d, lo, hi, c, clo, chi, timed(s.speedup_vs_lossless, "x", 2)
                    );
                }
                None => {
                    let _ = writeln!(
                        md,
                        "| {} | {} | none qualifies | | | | | | | | |",
                        p.criterion.label(),
                        p.family
                    );
                }
            }
        }
        md.push_str("\n| k | method | prompts | accuracy | Δ accuracy [95% CI] | agreement [95% CI] | agreement where target-only is correct [95% CI] | accepted/cycle | tokens/target call | gain vs lossless | speed-up vs target-only | vs lossless |\n");
        md.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for r in &self.rows {
            let s = &r.summary;
            let (d, lo, hi) = s.accuracy_diff;
            let (c, clo, chi) = s.agreement_on_correct;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.3} | {:+.3} [{:+.3}, {:+.3}] | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] | {:.2} | {:.2} | {:.3}x | {} | {} |",
                r.k, s.method, s.prompts, s.accuracy, d, lo, hi, s.agreement, s.agreement_ci.0,
                s.agreement_ci.1, c, clo, chi, s.accepted_per_cycle, s.tokens_per_target_call,
                r.gain_vs_lossless, timed(s.speedup_vs_target, "x", 2), timed(s.speedup_vs_lossless, "x", 2)
            );
        }
        md
    }

    /// Every method at every window as CSV (unrounded).
    pub fn csv(&self) -> String {
        let mut csv = String::from("k,method,family,prompts,accuracy,accuracy_diff,accuracy_diff_lo,accuracy_diff_hi,agreement,agreement_lo,agreement_hi,target_correct_prompts,agreement_on_correct,agreement_on_correct_lo,agreement_on_correct_hi,accepted_per_cycle,tokens_per_target_call,gain_vs_lossless,gain_vs_best_lossless,speedup_vs_target,speedup_vs_lossless\n");
        for r in &self.rows {
            let s = &r.summary;
            let (d, lo, hi) = s.accuracy_diff;
            let (c, clo, chi) = s.agreement_on_correct;
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.k,
                s.method,
                s.family,
                s.prompts,
                s.accuracy,
                d,
                lo,
                hi,
                s.agreement,
                s.agreement_ci.0,
                s.agreement_ci.1,
                s.target_correct_prompts,
                c,
                clo,
                chi,
                s.accepted_per_cycle,
                s.tokens_per_target_call,
                r.gain_vs_lossless,
                r.gain_vs_best_lossless,
                s.speedup_vs_target,
                s.speedup_vs_lossless
            );
        }
        csv
    }

    /// Writes `operating_points.md`, `sweep.csv` and `sweep.json` into `dir`.
    pub fn write_tables(&self, dir: &Path) -> EvalResult<()> {
        std::fs::create_dir_all(dir).map_err(|e| EvalError::file(dir, e))?;
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| EvalError::file(&path, e))
        };
        write("operating_points.md", self.markdown())?;
        write("sweep.csv", self.csv())?;
        write(
            "sweep.json",
            serde_json::to_string_pretty(self).expect("sweeps serialize"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        method: &str,
        family: &str,
        tpc: f64,
        diff: (f64, f64, f64),
        on_correct: f64,
    ) -> MethodSummary {
        MethodSummary {
            method: method.into(),
            family: family.into(),
            prompts: 50,
            answered: 50,
            accuracy: 0.6 + diff.0,
            accuracy_diff: diff,
            agreement: 0.9,
            agreement_ci: (0.8, 1.0),
            target_correct_prompts: 30,
            agreement_on_correct: (on_correct, on_correct - 0.05, 1.0),
            accepted_per_cycle: tpc - 1.0,
            tokens_per_target_call: tpc,
            target_calls_per_token: 1.0 / tpc,
            tokens_per_second: 10.0,
            speedup_vs_target: 1.0,
            speedup_vs_lossless: 1.0,
        }
    }

    fn report(rows: Vec<MethodSummary>) -> Report {
        Report {
            title: "t".into(),
            rows,
        }
    }

    #[test]
    fn operating_points_pick_the_largest_same_window_gain_that_keeps_the_answers() {
        let zero = (0.0, 0.0, 0.0);
        let k4 = report(vec![
            row(TARGET_ONLY, TARGET_ONLY, 1.0, zero, 1.0),
            row(LOSSLESS, LOSSLESS, 3.0, zero, 1.0),
            row("judge@0.5", "judge", 3.3, (-0.01, -0.04, 0.02), 0.99),
            row("judge@0.9", "judge", 3.9, (-0.03, -0.06, -0.01), 0.90),
        ]);
        let k8 = report(vec![
            row(TARGET_ONLY, TARGET_ONLY, 1.0, zero, 1.0),
            row(LOSSLESS, LOSSLESS, 4.0, zero, 1.0),
            // Larger absolute tokens/call than judge@0.5 at k=4, smaller gain over its lossless.
            row("judge@0.5", "judge", 4.2, (-0.02, -0.05, 0.01), 0.985),
            row("top-2", "top-k", 6.0, (-0.2, -0.3, -0.1), 0.5),
        ]);
        let sweep = Sweep::new(&[(8, k8), (4, k4)], &Criterion::STANDARD).unwrap();
        assert_eq!(
            sweep.rows.first().map(|r| r.k),
            Some(4),
            "windows in increasing k"
        );
        let best = |c: usize, f: &str| {
            let p = sweep
                .points
                .iter()
                .filter(|p| p.criterion == Criterion::STANDARD[c] && p.family == f)
                .collect::<Vec<_>>();
            assert_eq!(p.len(), 1);
            p[0].best.as_ref().map(|r| (r.k, r.summary.method.clone()))
        };
        assert_eq!(
            best(0, "judge"),
            Some((4, "judge@0.5".into())),
            "1.10x beats 1.05x"
        );
        assert_eq!(
            best(1, "judge"),
            Some((4, "judge@0.5".into())),
            "judge@0.9 drops 3 points"
        );
        assert_eq!(best(0, "top-k"), None);
        assert_eq!(best(1, "top-k"), None);
        assert_eq!(
            best(0, LOSSLESS),
            Some((8, LOSSLESS.into())),
            "a tie at 1.0 goes to the better window"
        );
        assert!(!sweep.points.iter().any(|p| p.family == TARGET_ONLY));
        let r = sweep
            .rows
            .iter()
            .find(|r| r.k == 8 && r.summary.method == "judge@0.5")
            .unwrap();
        assert!((r.gain_vs_lossless - 1.05).abs() < 1e-12);
        assert!((r.gain_vs_best_lossless - 1.05).abs() < 1e-12);
        let r = sweep
            .rows
            .iter()
            .find(|r| r.k == 4 && r.summary.method == "judge@0.5")
            .unwrap();
        assert!(
            (r.gain_vs_best_lossless - 3.3 / 4.0).abs() < 1e-12,
            "lossless at k = 8 is better"
        );
        let md = sweep.markdown();
        assert!(md.contains("none qualifies"), "{md}");
        let csv = sweep.csv();
        assert_eq!(csv.lines().count(), 1 + 8);
        let columns = |l: &str| l.split(',').count();
        assert!(csv.lines().all(|l| columns(l) == 21), "{csv}");
    }

    #[test]
    fn each_half_of_the_no_loss_criterion_and_the_drop_bound_are_enforced() {
        let [no_loss, drop] = Criterion::STANDARD;
        // Interval containing 0 but agreement on correct prompts below 0.98.
        assert!(!no_loss.admits(&row("m", "f", 2.0, (-0.02, -0.06, 0.02), 0.97)));
        // Agreement 0.99 but an interval excluding 0.
        assert!(!no_loss.admits(&row("m", "f", 2.0, (-0.04, -0.08, -0.01), 0.99)));
        assert!(no_loss.admits(&row("m", "f", 2.0, (-0.02, -0.06, 0.0), 0.98)));
        // Exactly 2 points (1 of 50 prompts) qualifies, 3 of 100 does not.
        assert!(drop.admits(&row("m", "f", 2.0, (-1.0 / 50.0, -0.1, 0.0), 0.5)));
        assert!(!drop.admits(&row("m", "f", 2.0, (-3.0 / 100.0, -0.1, 0.0), 0.5)));
        assert_eq!(drop.label(), "accuracy drop ≤ 2 points");
    }

    #[test]
    fn a_nan_figure_never_qualifies_and_malformed_sweeps_are_refused() {
        let nan = (f64::NAN, f64::NAN, f64::NAN);
        let s = row("m", "f", 2.0, nan, 1.0);
        assert!(!Criterion::STANDARD.iter().any(|c| c.admits(&s)));
        let zero = (0.0, 0.0, 0.0);
        let r = || {
            report(vec![
                row(TARGET_ONLY, TARGET_ONLY, 1.0, zero, 1.0),
                row(LOSSLESS, LOSSLESS, 2.0, zero, 1.0),
            ])
        };
        assert!(Sweep::new(&[(4, r()), (8, r())], &Criterion::STANDARD).is_ok());
        assert!(Sweep::new(&[(4, r()), (4, r())], &Criterion::STANDARD).is_err());
        // Without target-only, Δ accuracy would be measured against nothing.
        let headless = report(vec![row(LOSSLESS, LOSSLESS, 2.0, zero, 1.0)]);
        assert!(Sweep::new(&[(4, headless)], &Criterion::STANDARD).is_err());
    }
}
