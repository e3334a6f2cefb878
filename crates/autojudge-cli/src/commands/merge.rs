//! `autojudge merge`: joins shard directories of one mining run (refusing shards of other
//! models or settings, duplicates and gaps), and `autojudge mine-stats`: per-directory
//! figures, and whether two directories hold identical labels (naive vs fast).

use std::path::PathBuf;

use autojudge_search::{MinedDir, PromptOutcome, Totals};
use clap::Args;

use crate::output_guard::{check_outputs, Input, Output, OutputKind};
use crate::shared::mining::summary;

/// Arguments of `merge`.
#[derive(Args)]
pub struct MergeArgs {
    /// Output directory (must not hold records).
    #[arg(long)]
    pub out: PathBuf,
    /// Shard directories.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

/// Runs `merge`.
pub fn run(a: MergeArgs) -> anyhow::Result<()> {
    let inputs: Vec<Input<'_>> = a
        .shards
        .iter()
        .map(|s| Input {
            flag: "shard",
            path: s,
        })
        .collect();
    check_outputs(
        &[Output::new("--out", &a.out, OutputKind::MinedDir)],
        &inputs,
    )?;
    let merged = MinedDir::merge(&a.shards, &a.out)?;
    println!(
        "merged {} shards into {}: {}",
        a.shards.len(),
        a.out.display(),
        summary(&Totals::of(merged.records.values()))
    );
    Ok(())
}

/// Arguments of `mine-stats`.
#[derive(Args)]
pub struct MineStatsArgs {
    /// Mined directories (with several, a row over all of them too); with two, also compares
    /// their labels prompt by prompt.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
}

/// One `mine-stats` table row over the records of `dirs`.
fn print_stats_row(label: &str, dirs: &[MinedDir]) {
    let t = Totals::of(dirs.iter().flat_map(|d| d.records.values()));
    let m = t.mined().max(1) as f64;
    // Responses that reached `--max-new-tokens` (their answer, if any, comes from text the cap
    // cut short), each against its own directory's cap.
    let (at_cap, final_at_cap) = dirs
        .iter()
        .flat_map(|d| {
            let cap = d.manifest.search.max_new_tokens;
            d.records.values().filter_map(move |r| match &r.outcome {
                PromptOutcome::Mined(m) => Some((m, cap)),
                PromptOutcome::Failed { .. } => None,
            })
        })
        .fold((0, 0), |(a, b), (m, cap)| {
            (
                a + usize::from(m.response.len() >= cap),
                b + usize::from(m.final_response.len() >= cap),
            )
        });
    let mut caps: Vec<usize> = dirs
        .iter()
        .map(|d| d.manifest.search.max_new_tokens)
        .collect();
    caps.sort_unstable();
    caps.dedup();
    let caps = caps
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("/");
    let mut algorithms: Vec<String> = dirs
        .iter()
        .map(|d| format!("{:?}", d.manifest.search.algorithm))
        .collect();
    algorithms.sort();
    algorithms.dedup();
    println!(
        "| {label} | {} | {} | {} | {:.1} | {at_cap} / {final_at_cap} (cap {caps}) | {:.1} | {:.1}% | {:.1} | {:.1} | {:.1}x | {:.0} | {:.1} | {:.2} |",
        algorithms.join("/"),
        t.prompts,
        t.failed,
        t.response_tokens as f64 / m,
        t.mismatches as f64 / m,
        100.0 * t.important_fraction(),
        t.work.target_calls as f64 / m,
        t.naive_target_calls as f64 / m,
        t.naive_target_calls as f64 / t.work.target_calls.max(1) as f64,
        t.work.target_tokens as f64 / m,
        t.work.draft_calls as f64 / m,
        t.wall_ms as f64 / 1000.0 / t.prompts.max(1) as f64
    );
}

/// Runs `mine-stats`: a row per directory and, with several, one over all of them.
pub fn run_stats(a: MineStatsArgs) -> anyhow::Result<()> {
    let dirs: Vec<MinedDir> = a
        .dirs
        .iter()
        .map(|d| MinedDir::open(d))
        .collect::<Result<_, _>>()?;
    println!("| dir | algorithm | prompts | failed | response tokens | greedy / final responses at the cap | mismatches/response | important | target calls/prompt | naive target calls/prompt | naive / this | target tokens/prompt | draft calls/prompt | s/prompt |");
    println!(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for (p, d) in a.dirs.iter().zip(&dirs) {
        print_stats_row(&p.display().to_string(), std::slice::from_ref(d));
    }
    // A total over disjoint directories (the blocks or shards of one run); directories that
    // mined the same prompts (two runs compared below) have no meaningful total.
    let mut seen = std::collections::HashSet::new();
    let disjoint = dirs
        .iter()
        .flat_map(|d| d.records.keys())
        .all(|i| seen.insert(*i));
    if dirs.len() > 1 && disjoint {
        print_stats_row(&format!("all {} directories", dirs.len()), &dirs);
    }
    if let [a0, b0] = dirs.as_slice() {
        let (mut same, mut differ, mut compared) = (0, 0, 0);
        for (i, ra) in &a0.records {
            let Some(rb) = b0.records.get(i) else {
                continue;
            };
            compared += 1;
            let labels = |r: &autojudge_search::PromptRecord| match &r.outcome {
                PromptOutcome::Mined(m) => Some((
                    m.response.clone(),
                    m.final_response.clone(),
                    m.mismatches.clone(),
                )),
                PromptOutcome::Failed { .. } => None,
            };
            if labels(ra) == labels(rb) {
                same += 1;
            } else {
                differ += 1;
            }
        }
        println!("\nlabels on {compared} common prompts: {same} identical, {differ} different");
        let common = |d: &MinedDir, other: &MinedDir| {
            Totals::of(
                d.records
                    .values()
                    .filter(|r| other.records.contains_key(&r.index)),
            )
        };
        let (ta, tb) = (common(a0, b0), common(b0, a0));
        if tb.work.target_calls > 0 && tb.wall_ms > 0 {
            println!(
                "on those prompts: target calls {} vs {} ({:.1}x), wall time {:.1} s vs {:.1} s ({:.1}x) (first / second)",
                ta.work.target_calls,
                tb.work.target_calls,
                ta.work.target_calls as f64 / tb.work.target_calls as f64,
                ta.wall_ms as f64 / 1000.0,
                tb.wall_ms as f64 / 1000.0,
                ta.wall_ms as f64 / tb.wall_ms as f64
            );
        }
    }
    Ok(())
}
