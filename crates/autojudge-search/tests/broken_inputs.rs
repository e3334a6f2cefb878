//! Mining on an engine that breaks the model contract stops with a typed error naming the rule
//! (never a panic, never features read from the wrong rows), commits nothing of the prompt it
//! was on, and resumes with a fixed engine to what a healthy run gives. A mined directory whose
//! feature files were deleted or truncated is refused on reading and re-mined on resume.

mod common;

use std::path::Path;

use autojudge_core::{ContractBreach, CoreError, OutputPart, TargetModel, TokenId};
use autojudge_decode::testing::{Fault, Faulty};
use autojudge_models::backend::CpuBackend;
use autojudge_models::tiny::TinyModel;
use autojudge_models::Llama;
use autojudge_search::*;
use autojudge_tasks::*;
use common::{CountOracle, IdText};

type Model = Llama<CpuBackend>;

/// A 3-layer target and an independent 2-layer draft.
fn models() -> (Model, Model) {
    let dev = Default::default();
    let target = TinyModel::new(8)
        .layers(3)
        .build::<CpuBackend>(&dev)
        .unwrap();
    let draft = TinyModel::new(1008).build::<CpuBackend>(&dev).unwrap();
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

fn prompt(seed: u64) -> Vec<TokenId> {
    (0..5)
        .map(|i| 1 + ((seed as usize * 31 + i * 17) % 63) as TokenId)
        .collect()
}

fn render(t: &Task) -> Result<Vec<TokenId>, autojudge_core::BoxError> {
    Ok(prompt(t.index as u64))
}

fn search() -> SearchConfig {
    SearchConfig {
        max_new_tokens: 24,
        algorithm: Algorithm::Fast,
        min_block: 4,
        max_block: 16,
        draft_proposals: 0,
        max_draft_proposals: 0,
        eos_swap: EosSwap::StopMining,
    }
}

const PROMPTS: usize = 6;

fn manifest(target: &impl TargetModel, draft: &impl TargetModel) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT,
        target: target.info().into(),
        draft: draft.info().into(),
        task: "synthetic".into(),
        dataset: "synthetic".into(),
        prompt_format: "ids".into(),
        oracle: CountOracle.name(),
        search: search(),
        feature_dtype: FeatureDType::F16,
        shard: Shard::ALL,
        lines: 0..PROMPTS,
    }
}

/// Mines every prompt of the run into `dir` (resuming it) with `target` and `draft`.
fn mine<T: TargetModel, D: TargetModel>(
    dir: &Path,
    target: &T,
    draft: &D,
) -> (SearchResult<Totals>, MinedDir) {
    let tok = IdText(target.info().tokenizer.clone());
    let m = SearchModels {
        target,
        draft,
        tokenizer: &tok,
        oracle: &CountOracle,
    };
    let mut d = MinedDir::create_or_resume(dir, manifest(target, draft)).unwrap();
    let tasks = (0..PROMPTS).map(|i| task(i).into());
    let result = run_mining(&mut d, &m, &search(), tasks, &render, 2, &mut |_| {});
    (result, d)
}

/// Records (without wall times) and features of a directory, by dataset line.
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

/// The contract breach inside a mining error, checking that it names `by`.
fn breach(e: &SearchError, by: &str) -> ContractBreach {
    match e {
        SearchError::Core(CoreError::BrokenContract { by: who, breach }) => {
            assert_eq!(who, by, "{e}");
            breach.clone()
        }
        other => panic!("expected a broken contract by `{by}`, got {other}"),
    }
}

fn mine_one<T: TargetModel, D: TargetModel>(target: &T, draft: &D) -> SearchError {
    let tok = IdText(target.info().tokenizer.clone());
    let m = SearchModels {
        target,
        draft,
        tokenizer: &tok,
        oracle: &CountOracle,
    };
    mine_prompt(&m, &task(0), &prompt(0), &search()).unwrap_err()
}

#[test]
fn a_target_returning_too_few_hidden_rows_is_named_not_mined() {
    let (target, draft) = models();
    let e = mine_one(&Faulty::new(&target, Fault::DropHiddenRow), &draft);
    assert!(
        matches!(
            breach(&e, "tiny-seed8"),
            ContractBreach::RowCount {
                part: OutputPart::Hidden,
                got,
                requested,
            } if got + 1 == requested
        ),
        "{e}"
    );
    assert!(e.to_string().contains("hidden-state rows for"), "{e}");
}

#[test]
fn a_draft_returning_too_few_hidden_rows_is_named() {
    let (target, draft) = models();
    let e = mine_one(&target, &Faulty::new(&draft, Fault::DropHiddenRow));
    assert_eq!(
        breach(&e, "tiny-seed1008"),
        ContractBreach::RowCount {
            part: OutputPart::Hidden,
            got: 1,
            requested: 2
        }
    );
}

#[test]
fn hidden_states_narrower_than_declared_are_named() {
    let (target, draft) = models();
    let e = mine_one(&target, &Faulty::new(&draft, Fault::NarrowHidden));
    assert!(
        matches!(
            breach(&e, "tiny-seed1008"),
            ContractBreach::RowWidth {
                part: OutputPart::Hidden,
                field: "hidden_size",
                got,
                declared,
            } if got + 1 == declared
        ),
        "{e}"
    );
}

#[test]
fn logits_of_the_wrong_width_or_count_and_nan_logits_are_named() {
    let (target, draft) = models();
    let e = mine_one(&Faulty::new(&target, Fault::WideLogits), &draft);
    assert!(
        matches!(
            breach(&e, "tiny-seed8"),
            ContractBreach::RowWidth {
                part: OutputPart::Logits,
                ..
            }
        ),
        "{e}"
    );
    let e = mine_one(&Faulty::new(&target, Fault::DropLogitsRow), &draft);
    assert!(
        matches!(
            breach(&e, "tiny-seed8"),
            ContractBreach::RowCount {
                part: OutputPart::Logits,
                got,
                requested,
            } if got + 1 == requested
        ),
        "{e}"
    );
    let e = mine_one(&target, &Faulty::new(&draft, Fault::NanLogits));
    assert!(
        matches!(
            breach(&e, "tiny-seed1008"),
            ContractBreach::BadValue {
                part: OutputPart::Logits,
                row: 0,
                column: 0,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn sessions_that_do_not_append_or_over_rewind_are_named() {
    let (target, draft) = models();
    let e = mine_one(&Faulty::new(&target, Fault::ForgetTokens), &draft);
    assert!(
        matches!(
            breach(&e, "tiny-seed8"),
            ContractBreach::SessionLength { after: 0, .. }
        ),
        "{e}"
    );
    let e = mine_one(&target, &Faulty::new(&draft, Fault::OverRewind));
    assert!(
        matches!(breach(&e, "tiny-seed1008"), ContractBreach::Rewind { .. }),
        "{e}"
    );
}

#[test]
fn a_broken_engine_stops_the_run_and_a_fixed_one_resumes_it_losing_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (target, draft) = models();
    let (whole, healthy) = mine(&tmp.path().join("healthy"), &target, &draft);
    whole.unwrap();
    let want = content(&healthy);
    assert!(want.iter().any(|(_, f)| !f.is_empty()), "no mismatch mined");

    let dir = tmp.path().join("broken");
    let broken = Faulty::new(&target, Fault::DropHiddenRow);
    let (result, d) = mine(&dir, &broken, &draft);
    let e = result.unwrap_err();
    assert!(
        matches!(
            breach(&e, "tiny-seed8"),
            ContractBreach::RowCount {
                part: OutputPart::Hidden,
                ..
            }
        ),
        "{e}"
    );
    // No prompt became a `failed` record: the prompts the breach hit are not committed.
    assert!(
        d.records
            .values()
            .all(|r| matches!(r.outcome, PromptOutcome::Mined(_))),
        "{:?}",
        d.records
    );
    assert!(d.records.len() < PROMPTS);
    drop(d);
    let (resumed, d) = mine(&dir, &target, &draft);
    resumed.unwrap();
    assert_eq!(content(&d), want);
}

/// A healthy run of every prompt into `dir`; returns the prompts that have feature files.
fn mined_with_features(dir: &Path) -> (MinedDir, Vec<usize>) {
    let (target, draft) = models();
    let (result, d) = mine(dir, &target, &draft);
    result.unwrap();
    let with: Vec<usize> = d
        .records
        .values()
        .filter(|r| matches!(&r.outcome, PromptOutcome::Mined(m) if !m.mismatches.is_empty()))
        .map(|r| r.index)
        .collect();
    assert!(with.len() >= 2, "too few prompts with mismatches: {with:?}");
    (d, with)
}

fn feature_file(dir: &Path, index: usize) -> std::path::PathBuf {
    dir.join("features")
        .join(format!("p{index:07}.safetensors"))
}

/// Damages the feature file of `index` with `damage`, then checks that reading refuses the
/// directory naming the file and `expected`, and that resuming re-mines exactly that prompt
/// back to `want` without a duplicate line.
fn damaged_then_resumed(
    dir: &Path,
    index: usize,
    want: &[(PromptRecord, Vec<MismatchFeatures>)],
    damage: impl FnOnce(&Path),
    expected: impl Fn(&FeatureDamage) -> bool,
) {
    let path = feature_file(dir, index);
    damage(&path);
    let err = MinedDir::open(dir)
        .err()
        .expect("a damaged directory was opened");
    match &err {
        SearchError::DamagedFeatures {
            path: p,
            index: i,
            damage,
        } => {
            assert_eq!((p.as_str(), *i), (path.to_str().unwrap(), index), "{err}");
            assert!(expected(damage), "{err}");
        }
        other => panic!("expected damaged features, got {other}"),
    }
    assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");

    let (target, draft) = models();
    let d = MinedDir::create_or_resume(dir, manifest(&target, &draft)).unwrap();
    let remining: Vec<usize> = d.remining().iter().map(|r| r.index).collect();
    assert_eq!(remining, vec![index]);
    assert!(expected(&d.remining()[0].damage));
    assert!(!d.records.contains_key(&index));
    assert_eq!(d.records.len(), PROMPTS - 1);
    drop(d);
    let (result, d) = mine(dir, &target, &draft);
    result.unwrap();
    assert!(d.remining().is_empty());
    assert_eq!(content(&d), want);
    let lines = std::fs::read_to_string(dir.join("records.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), PROMPTS, "a prompt committed twice");
    MinedDir::open(dir).unwrap();
}

#[test]
fn a_deleted_feature_file_is_refused_on_reading_and_re_mined_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let (d, with) = mined_with_features(&dir);
    let want = content(&d);
    drop(d);
    damaged_then_resumed(
        &dir,
        with[0],
        &want,
        |p| std::fs::remove_file(p).unwrap(),
        |d| *d == FeatureDamage::Missing,
    );
}

#[test]
fn a_truncated_feature_file_is_refused_on_reading_and_re_mined_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let (d, with) = mined_with_features(&dir);
    let want = content(&d);
    drop(d);
    let index = with[1];
    let len = std::fs::metadata(feature_file(&dir, index)).unwrap().len();
    damaged_then_resumed(
        &dir,
        index,
        &want,
        |p| {
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(len - 10).unwrap();
        },
        |d| {
            *d == FeatureDamage::Truncated {
                len: len - 10,
                needed: len,
            }
        },
    );
    // Cut inside the header.
    damaged_then_resumed(
        &dir,
        index,
        &want,
        |p| {
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(20).unwrap();
        },
        |d| matches!(d, FeatureDamage::Truncated { len: 20, .. }),
    );
}

#[test]
fn another_prompts_feature_file_is_refused_by_its_row_count() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let (d, with) = mined_with_features(&dir);
    let want = content(&d);
    let rows = |i: usize| match &d.records[&i].outcome {
        PromptOutcome::Mined(m) => m.mismatches.len(),
        PromptOutcome::Failed { .. } => 0,
    };
    let Some((a, b)) = with
        .iter()
        .flat_map(|&a| with.iter().map(move |&b| (a, b)))
        .find(|&(a, b)| rows(a) != rows(b))
    else {
        panic!("every prompt has the same number of mismatches: {with:?}");
    };
    let (rows_a, rows_b) = (rows(a), rows(b));
    drop(d);
    damaged_then_resumed(
        &dir,
        b,
        &want,
        |p| {
            std::fs::copy(feature_file(&dir, a), p).unwrap();
        },
        |d| {
            *d == FeatureDamage::Rows {
                tensor: "draft_hidden",
                rows: rows_a,
                mismatches: rows_b,
            }
        },
    );
}
