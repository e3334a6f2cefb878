//! Run directories written by earlier builds still load and resume with this one: the mined
//! and evaluation directories committed under `docs/results/` (the zero-shot Qwen blocks,
//! frozen since 2026-12-07, and the live campaign's first block, kept as records only) are
//! copied to a scratch directory and opened as a reader and as a resuming writer would.

use std::path::{Path, PathBuf};

use autojudge_core::FeatureSet;
use autojudge_eval::{EvalDir, EvalSettings, TrainingSet};
use autojudge_search::MinedDir;

fn results(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/results")
        .join(rel)
}

/// Copies the files git tracks of a run directory (what a fresh clone holds).
fn copy_tracked(from: &Path, to: &Path) {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z", "."])
        .current_dir(from)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files in {}", from.display());
    let files: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .split('\0')
        .filter(|f| !f.is_empty())
        .collect();
    assert!(!files.is_empty(), "{} tracks no file", from.display());
    for f in files {
        let dest = to.join(f);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from.join(f), dest).unwrap();
    }
}

/// Committed lines of a JSONL file (a torn tail of a run appending right now aside).
fn committed_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().matches('\n').count()
}

#[test]
fn a_mined_directory_of_an_earlier_build_loads_trains_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b0000");
    copy_tracked(&results("showcase-qwen-0shot/mined/b0000"), &dir);
    let lines = committed_lines(&dir.join("records.jsonl"));
    let read = MinedDir::open(&dir).unwrap();
    assert_eq!(read.records.len(), lines);
    let set = TrainingSet::load(std::slice::from_ref(&dir), FeatureSet::Target).unwrap();
    assert!(
        set.x.len() > lines && set.width() == 1536,
        "{} rows",
        set.x.len()
    );
    let resumed = MinedDir::create_or_resume(&dir, read.manifest.clone()).unwrap();
    assert_eq!(resumed.records, read.records);
    assert!(
        resumed.remining().is_empty(),
        "every feature file is intact"
    );
}

#[test]
fn the_campaigns_records_only_block_loads_and_resumes_under_its_own_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b0000");
    copy_tracked(&results("showcase-qwen/mined/b0000"), &dir);
    let lines = committed_lines(&dir.join("records.jsonl"));
    let read = MinedDir::open_records(&dir).unwrap();
    assert_eq!(read.records.len(), lines);
    assert!(lines > 0);
    // Feature files are not committed: a resuming writer lists every mined prompt as damaged
    // (`autojudge mine` recomputes them from the records before it resumes), and the manifest
    // written by the earlier build equals the one this build reads.
    let resumed = MinedDir::create_or_resume(&dir, read.manifest.clone()).unwrap();
    let mined = read
        .records
        .values()
        .filter(|r| matches!(r.outcome, autojudge_search::PromptOutcome::Mined(_)))
        .count();
    assert_eq!(resumed.remining().len(), mined);
    assert_eq!(resumed.records.len() + mined, lines);
}

#[test]
fn an_evaluation_directory_of_an_earlier_build_reads_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b000");
    copy_tracked(&results("showcase-qwen-0shot/eval-gsm8k/k8/b000"), &dir);
    let lines = committed_lines(&dir.join(autojudge_eval::RESULTS_FILE));
    let (settings, read) = EvalDir::read(&dir).unwrap();
    assert_eq!(read.len(), lines);
    assert_eq!(EvalSettings::load(&dir).unwrap(), settings);
    let resumed = EvalDir::create_or_resume(&dir, settings).unwrap();
    assert_eq!(resumed.lines(), read.as_slice());
}
