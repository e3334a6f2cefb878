//! The semi-greedy search on tiny random models: the fast implementation labels exactly like
//! the naive (reference-cost) one with far fewer target calls; mined directories resume,
//! shard and merge without losing or duplicating anything; bad input becomes records.

mod common;

use std::path::Path;

use autojudge_core::{TargetModel, TokenId};
use autojudge_models::backend::CpuBackend;
use autojudge_models::tiny::TinyModel;
use autojudge_models::{LayerPlan, Llama};
use autojudge_runs::RunError;
use autojudge_search::*;
use autojudge_tasks::*;
use common::{CountOracle, IdText};
use proptest::prelude::*;

fn models(seed: u64) -> (Llama<CpuBackend>, Llama<CpuBackend>) {
    let dev = Default::default();
    let target = TinyModel::new(seed)
        .layers(3)
        .build::<CpuBackend>(&dev)
        .unwrap();
    let draft = if seed.is_multiple_of(2) {
        TinyModel::new(seed + 1000)
            .build::<CpuBackend>(&dev)
            .unwrap()
    } else {
        target.draft_view(LayerPlan::EarlyExit(2)).unwrap()
    };
    (target, draft)
}

fn task(i: usize) -> Task {
    Task {
        index: i,
        id: format!("t{i}"),
        user_prompt: String::new(),
        gold: None,
        code: None,
    }
}

fn prompt(seed: u64, len: usize) -> Vec<TokenId> {
    (0..len)
        .map(|i| 1 + ((seed as usize * 31 + i * 17) % 63) as TokenId)
        .collect()
}

fn cfg(algorithm: Algorithm, draft_proposals: usize, max_new: usize) -> SearchConfig {
    SearchConfig {
        max_new_tokens: max_new,
        algorithm,
        min_block: 4,
        max_block: 16,
        draft_proposals,
        max_draft_proposals: 0,
        eos_swap: EosSwap::StopMining,
    }
}

fn strip_work(m: &MinedPrompt) -> MinedPrompt {
    MinedPrompt {
        work: WorkCounters::default(),
        ..m.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn fast_search_labels_exactly_like_the_naive_one(
        seed in 0u64..1000, plen in 1usize..12, max_new in 1usize..48, proposals in 0usize..4,
        max_proposals in 0usize..12, eos_continues in any::<bool>(),
    ) {
        let (target, draft) = models(seed);
        let tok = IdText(target.info().tokenizer.clone());
        let m = SearchModels { target: &target, draft: &draft, tokenizer: &tok, oracle: &CountOracle };
        let p = prompt(seed, plen);
        let eos_swap = if eos_continues { EosSwap::Continue } else { EosSwap::StopMining };
        let naive_cfg = SearchConfig { eos_swap, ..cfg(Algorithm::Naive, 0, max_new) };
        let (naive, nf) = mine_prompt(&m, &task(0), &p, &naive_cfg).unwrap();
        let fast_cfg = SearchConfig {
            max_draft_proposals: max_proposals,
            eos_swap,
            ..cfg(Algorithm::Fast, proposals, max_new)
        };
        let (fast, ff) = mine_prompt(&m, &task(0), &p, &fast_cfg).unwrap();
        prop_assert_eq!(strip_work(&naive), strip_work(&fast));
        // The naive cost is computable from the labels (mine-stats reports it for fast runs).
        prop_assert_eq!(naive.work.target_calls, fast.naive_target_calls(p.len()));
        prop_assert_eq!(nf.len(), fast.mismatches.len());
        for (a, b) in nf.iter().zip(&ff) {
            prop_assert_eq!(a.draft.len(), draft.info().hidden_size);
            prop_assert_eq!(a.draft_prev.len(), draft.info().hidden_size);
            prop_assert_eq!(a.target.len(), target.info().hidden_size);
            prop_assert_eq!(a.target_prev.len(), target.info().hidden_size);
            prop_assert_eq!(a.logits.len(), autojudge_core::LOGIT_FEATURES.len());
            let all = |f: &MismatchFeatures| {
                [&f.draft, &f.draft_prev, &f.target, &f.target_prev, &f.logits]
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect::<Vec<f32>>()
            };
            for (x, y) in all(a).into_iter().zip(all(b)) {
                prop_assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
            }
        }
        // Every unimportant swap is in the final response; important ones are not.
        for mm in &fast.mismatches {
            let tok_at = fast.final_response.get(mm.position).copied();
            if mm.important {
                prop_assert_eq!(tok_at, Some(mm.target_token));
            } else {
                prop_assert_eq!(tok_at, Some(mm.draft_token));
            }
        }
        prop_assert_eq!(&fast.final_answer, &fast.answer);
    }
}

/// The reference's EOS rule: the search stops after testing a draft EOS, whatever its label;
/// `Continue` goes on after an important one. Both agree up to that mismatch.
#[test]
fn a_tested_draft_eos_ends_the_prompt_under_the_reference_rule() {
    let mut seen = 0;
    for seed in 0..400u64 {
        let (target, draft) = models(seed);
        let tok = IdText(target.info().tokenizer.clone());
        let m = SearchModels {
            target: &target,
            draft: &draft,
            tokenizer: &tok,
            oracle: &CountOracle,
        };
        let p = prompt(seed, 5);
        let run = |eos_swap| {
            let c = SearchConfig {
                eos_swap,
                ..cfg(Algorithm::Fast, 0, 40)
            };
            mine_prompt(&m, &task(0), &p, &c).unwrap().0
        };
        let go_on = run(EosSwap::Continue);
        let eos = &target.info().eos_ids;
        let Some(first) = go_on
            .mismatches
            .iter()
            .position(|x| eos.contains(&x.draft_token))
        else {
            continue;
        };
        let stop = run(EosSwap::StopMining);
        assert_eq!(stop.mismatches, go_on.mismatches[..=first], "seed {seed}");
        if first + 1 < go_on.mismatches.len() {
            seen += 1;
        }
    }
    assert!(
        seen > 0,
        "no seed tested a draft EOS before its last mismatch"
    );
}

#[test]
fn fast_search_needs_far_fewer_target_calls() {
    let (mut naive_calls, mut fast_calls, mut mismatches) = (0, 0, 0);
    for seed in [2u64, 3, 4, 5] {
        let (target, draft) = models(seed);
        let tok = IdText(target.info().tokenizer.clone());
        let m = SearchModels {
            target: &target,
            draft: &draft,
            tokenizer: &tok,
            oracle: &CountOracle,
        };
        let p = prompt(seed, 6);
        let (n, _) = mine_prompt(&m, &task(0), &p, &cfg(Algorithm::Naive, 0, 96)).unwrap();
        let (f, _) = mine_prompt(&m, &task(0), &p, &cfg(Algorithm::Fast, 0, 96)).unwrap();
        assert_eq!(strip_work(&n), strip_work(&f));
        naive_calls += n.work.target_calls;
        fast_calls += f.work.target_calls;
        mismatches += f.mismatches.len();
    }
    assert!(
        mismatches > 10,
        "too few mismatches to compare: {mismatches}"
    );
    assert!(
        fast_calls * 3 < naive_calls,
        "fast {fast_calls} vs naive {naive_calls} target calls"
    );
}

fn manifest(target: &Llama<CpuBackend>, draft: &Llama<CpuBackend>, shard: Shard) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT,
        target: target.info().into(),
        draft: draft.info().into(),
        task: "synthetic".into(),
        dataset: "synthetic".into(),
        prompt_format: "ids".into(),
        oracle: CountOracle.name(),
        search: cfg(Algorithm::Fast, 0, 24),
        feature_dtype: FeatureDType::F32,
        shard,
        lines: 0..9,
    }
}

fn tasks(shard: Shard) -> Vec<TaskLine> {
    (0..9)
        .filter(|&i| shard.contains(i))
        .map(|i| {
            if i == 4 {
                TaskLine::Unreadable {
                    index: i,
                    error: TaskError::BadRecord {
                        path: "data.jsonl".into(),
                        line: 5,
                        reason: "not JSON".into(),
                    },
                }
            } else {
                task(i).into()
            }
        })
        .collect()
}

fn render(t: &Task) -> Result<Vec<TokenId>, autojudge_core::BoxError> {
    // Task 6's prompt does not fit the context.
    Ok(prompt(t.index as u64, if t.index == 6 { 300 } else { 5 }))
}

fn mine_into(dir: &Path, shard: Shard, only: Option<usize>) -> MinedDir {
    mine_parallel(dir, shard, only, 1)
}

fn mine_parallel(dir: &Path, shard: Shard, only: Option<usize>, parallel: usize) -> MinedDir {
    let (target, draft) = models(8);
    let tok = IdText(target.info().tokenizer.clone());
    let m = SearchModels {
        target: &target,
        draft: &draft,
        tokenizer: &tok,
        oracle: &CountOracle,
    };
    let mut d = MinedDir::create_or_resume(dir, manifest(&target, &draft, shard)).unwrap();
    let mut all = tasks(shard);
    if let Some(n) = only {
        all.truncate(n);
    }
    let search = d.manifest.search.clone();
    run_mining(&mut d, &m, &search, all, &render, parallel, &mut |_| {}).unwrap();
    d
}

fn content(d: &MinedDir) -> Vec<(PromptRecord, Vec<MismatchFeatures>)> {
    d.records
        .values()
        .map(|r| {
            (
                PromptRecord {
                    wall_ms: 0,
                    ..r.clone()
                },
                d.features(r.index).unwrap(),
            )
        })
        .collect()
}

/// Committed lines of `records.jsonl`, in file order, without their wall times.
fn record_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("records.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["wall_ms"] = 0.into();
            v
        })
        .collect()
}

#[test]
fn parallel_mining_commits_the_same_records_in_the_same_order() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    let four = tmp.path().join("four");
    let a = mine_parallel(&one, Shard::ALL, None, 1);
    let b = mine_parallel(&four, Shard::ALL, None, 4);
    assert_eq!(content(&a), content(&b));
    assert_eq!(record_lines(&one), record_lines(&four));
    // Interrupted after 3 prompts mined 3 at once, resumed 5 at once: still the same.
    let resumed = tmp.path().join("resumed");
    drop(mine_parallel(&resumed, Shard::ALL, Some(3), 3));
    let c = mine_parallel(&resumed, Shard::ALL, None, 5);
    assert_eq!(content(&a), content(&c));
    assert_eq!(record_lines(&one), record_lines(&resumed));
}

#[test]
fn zero_workers_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (target, draft) = models(8);
    let tok = IdText(target.info().tokenizer.clone());
    let m = SearchModels {
        target: &target,
        draft: &draft,
        tokenizer: &tok,
        oracle: &CountOracle,
    };
    let mut d =
        MinedDir::create_or_resume(tmp.path(), manifest(&target, &draft, Shard::ALL)).unwrap();
    let search = d.manifest.search.clone();
    let err = run_mining(
        &mut d,
        &m,
        &search,
        tasks(Shard::ALL),
        &render,
        0,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("parallel"), "{err}");
}

#[test]
fn interrupted_run_resumes_to_the_same_content() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = mine_into(&tmp.path().join("whole"), Shard::ALL, None);
    let c = content(&whole);
    assert_eq!(c.len(), 9);
    let bad = &whole.records[&4];
    assert!(
        matches!(&bad.outcome, PromptOutcome::Failed { reason } if reason.contains("data.jsonl:5"))
    );
    let long = &whole.records[&6];
    assert!(
        matches!(&long.outcome, PromptOutcome::Failed { reason } if reason.contains("context"))
    );
    assert!(c.iter().any(|(_, f)| !f.is_empty()));

    // Killed after 3 prompts while writing the 4th: an orphan feature file and a torn line.
    let dir = tmp.path().join("killed");
    let part = mine_into(&dir, Shard::ALL, Some(3));
    drop(part);
    std::fs::write(dir.join("features/p0000003.safetensors"), b"garbage").unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("records.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"index\":3,\"task_id\":\"t3\",\"go").unwrap();
    drop(f);
    let resumed = mine_into(&dir, Shard::ALL, None);
    assert_eq!(content(&resumed), c);
    // While the resumed run holds the directory, a second writer is refused.
    let err = MinedDir::create_or_resume(&dir, resumed.manifest.clone())
        .err()
        .expect("locked");
    assert!(
        matches!(err, SearchError::Run(RunError::Busy { .. })),
        "{err}"
    );
    drop(resumed);
    // A second resume is a no-op.
    let again = mine_into(&dir, Shard::ALL, None);
    assert_eq!(content(&again), c);
    let lines = std::fs::read_to_string(dir.join("records.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 9);
}

#[test]
fn shards_merge_into_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = mine_into(&tmp.path().join("whole"), Shard::ALL, None);
    let shards: Vec<_> = (0..3)
        .map(|i| {
            let p = tmp.path().join(format!("s{i}"));
            mine_into(&p, Shard { index: i, count: 3 }, None);
            p
        })
        .collect();
    let merged = MinedDir::merge(&shards, &tmp.path().join("merged")).unwrap();
    assert_eq!(content(&merged), content(&whole));
    // Missing and duplicate shards are refused.
    let err = MinedDir::merge(&shards[..2], &tmp.path().join("m2"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("missing shard(s) 2/3"), "{err}");
    let dup = [shards[0].clone(), shards[0].clone(), shards[1].clone()];
    let err = MinedDir::merge(&dup, &tmp.path().join("m3")).err().unwrap();
    assert!(err.to_string().contains("shard"), "{err}");
}

#[test]
fn other_settings_are_refused_with_the_field_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    mine_into(&dir, Shard::ALL, Some(1));
    let (target, draft) = models(8);
    let mut m = manifest(&target, &draft, Shard::ALL);
    m.search.max_new_tokens = 99;
    let err = MinedDir::create_or_resume(&dir, m).err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("search") && msg.contains("99"), "{msg}");
    // A shard of another run is refused by merge.
    let other = tmp.path().join("o");
    let mut m2 = manifest(&target, &draft, Shard { index: 1, count: 2 });
    m2.oracle = "another oracle".into();
    MinedDir::create_or_resume(&other, m2).unwrap();
    let first = tmp.path().join("f");
    MinedDir::create_or_resume(
        &first,
        manifest(&target, &draft, Shard { index: 0, count: 2 }),
    )
    .unwrap();
    let err = MinedDir::merge(&[first, other], &tmp.path().join("m"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("oracle"), "{err}");
}

/// Every value of a prompt's features, in one list.
fn feature_values(f: &[MismatchFeatures]) -> Vec<f32> {
    f.iter()
        .flat_map(|f| {
            [
                &f.draft,
                &f.draft_prev,
                &f.target,
                &f.target_prev,
                &f.logits,
            ]
        })
        .flatten()
        .copied()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Features recomputed from a record (prompt and final response) equal the mined ones.
    #[test]
    fn features_recomputed_from_the_record_equal_the_mined_ones(
        seed in 0u64..1000, plen in 1usize..12, max_new in 1usize..48, proposals in 0usize..4,
        eos_continues in any::<bool>(), naive in any::<bool>(),
    ) {
        let (target, draft) = models(seed);
        let tok = IdText(target.info().tokenizer.clone());
        let m = SearchModels { target: &target, draft: &draft, tokenizer: &tok, oracle: &CountOracle };
        let p = prompt(seed, plen);
        let eos_swap = if eos_continues { EosSwap::Continue } else { EosSwap::StopMining };
        let algorithm = if naive { Algorithm::Naive } else { Algorithm::Fast };
        let c = SearchConfig { eos_swap, ..cfg(algorithm, proposals, max_new) };
        let (rec, mined) = mine_prompt(&m, &task(0), &p, &c).unwrap();
        let again = recompute_features(&target, &draft, &p, &rec, "records.jsonl", 0).unwrap();
        prop_assert_eq!(again.len(), mined.len());
        let (a, b) = (feature_values(&mined), feature_values(&again));
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.into_iter().zip(b) {
            prop_assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
        }
    }
}

#[test]
fn a_directory_without_feature_files_gets_them_back_from_its_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mined");
    let mined = mine_into(&dir, Shard::ALL, None);
    let before = content(&mined);
    assert!(before.iter().any(|(_, f)| !f.is_empty()), "some features");
    drop(mined);
    std::fs::remove_dir_all(dir.join("features")).unwrap();
    let e = MinedDir::open(&dir)
        .err()
        .expect("missing features are refused");
    assert!(matches!(e, SearchError::DamagedFeatures { .. }), "{e}");
    let records = MinedDir::open_records(&dir).unwrap();
    let damaged: Vec<usize> = records.feature_damage().iter().map(|d| d.index).collect();
    let with_mismatches: Vec<usize> = before
        .iter()
        .filter(|(_, f)| !f.is_empty())
        .map(|(r, _)| r.index)
        .collect();
    assert_eq!(damaged, with_mismatches);
    let (target, draft) = models(8);
    for (index, record) in &records.records {
        let PromptOutcome::Mined(m) = &record.outcome else {
            continue;
        };
        if m.mismatches.is_empty() {
            continue;
        }
        let task = task(*index);
        let p = render(&task).unwrap();
        let f = recompute_features(&target, &draft, &p, m, "records.jsonl", *index).unwrap();
        records.write_features(*index, &f).unwrap();
    }
    // A prompt without a record, or rows that do not match the record, are refused.
    assert!(records.write_features(99, &[]).is_err());
    assert!(records.feature_damage().is_empty());
    let after = content(&MinedDir::open(&dir).unwrap());
    assert_eq!(before.len(), after.len());
    for ((r0, f0), (r1, f1)) in before.iter().zip(&after) {
        assert_eq!(r0, r1);
        let (a, b) = (feature_values(f0), feature_values(f1));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.into_iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
        }
    }
}

#[test]
fn a_record_that_does_not_fit_its_prompt_is_a_typed_error() {
    let (target, draft) = models(3);
    let tok = IdText(target.info().tokenizer.clone());
    let m = SearchModels {
        target: &target,
        draft: &draft,
        tokenizer: &tok,
        oracle: &CountOracle,
    };
    let p = prompt(3, 5);
    let (mut rec, _) = mine_prompt(&m, &task(0), &p, &cfg(Algorithm::Fast, 0, 40)).unwrap();
    let last = rec
        .mismatches
        .last_mut()
        .expect("this seed's prompt has mismatches");
    last.position = rec.final_response.len() + 3;
    let e = recompute_features(&target, &draft, &p, &rec, "b/records.jsonl", 6).unwrap_err();
    assert!(
        matches!(&e, SearchError::BadRecord { path, line: 7, .. } if path == "b/records.jsonl"),
        "{e}"
    );
}
