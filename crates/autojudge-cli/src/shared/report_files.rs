//! Writing an evaluation report: the tables (Markdown, CSV, JSON) and the Pareto plots (PNG
//! and SVG), printing the Markdown table and the plot paths.

use std::path::Path;

use autojudge_eval::{MethodSummary, Report};

/// Writes `summary.md`, `summary.csv`, `summary.json` and the plots into `dir`; prints the
/// Markdown table and the plot paths.
pub fn write_reports(dir: &Path, report: &Report) -> anyhow::Result<()> {
    report.write_tables(dir)?;
    let md = report.markdown();
    let rows = &report.rows;
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
        plot_answers_against(dir, rows, stem, (x_label, x));
    }
    Ok(())
}

/// Plots accuracy and answer agreement against `x` (`<dir>/{accuracy,agreement}_vs_<x_stem>`,
/// PNG and SVG), one curve per family; prints the paths, or why a plot failed.
pub fn plot_answers_against(
    dir: &Path,
    rows: &[MethodSummary],
    x_stem: &str,
    x: (&str, fn(&MethodSummary) -> f64),
) {
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
        let base = dir.join(format!("{ystem}_vs_{x_stem}"));
        match super::plot::pareto(&base, rows, x, (y_label, y)) {
            Ok(paths) => paths.iter().for_each(|p| println!("plot: {}", p.display())),
            Err(e) => eprintln!("plot {}: {e}", base.display()),
        }
    }
}
