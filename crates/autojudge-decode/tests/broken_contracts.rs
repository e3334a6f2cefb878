//! A foreign engine, drafter or judge that breaks its contract gets a typed error naming the
//! rule it broke, never a panic inside the library and never a silently wrong generation.

use autojudge_core::{
    ContractBreach, CoreError, FeatureSet, OutputPart, Rows, TargetModel, Threshold, TokenId,
};
use autojudge_decode::policies::{ExactMatch, JudgePolicy, RejectionSampling};
use autojudge_decode::testing::{Fault, Faulty, MockLm};
use autojudge_decode::{
    generate_speculative, AcceptancePolicy, DecodeConfig, DecodeError, Drafter, Generation, Hooks,
    Judge, ModelDrafter, Needs, NgramDrafter, Proposal, ProposalBreach, ProposalInput, Sampling,
    StdRng,
};

const VOCAB: usize = 24;
const PROMPT: [TokenId; 4] = [3, 4, 5, 3];

fn target() -> MockLm {
    MockLm::new(7, VOCAB, 3.0)
}

fn draft() -> MockLm {
    target().noisy_copy(8, 1.5)
}

/// A judge answering `values(rows)`, reading feature rows of `width` when it says so.
struct TestJudge {
    set: FeatureSet,
    width: Option<usize>,
    values: fn(usize) -> Vec<f32>,
}

impl Judge for TestJudge {
    fn name(&self) -> String {
        "test-judge".into()
    }
    fn features(&self) -> FeatureSet {
        self.set
    }
    fn p_important(&self, rows: &Rows) -> Vec<f32> {
        (self.values)(rows.len())
    }
    fn feature_width(&self) -> Option<usize> {
        self.width
    }
}

/// A judge that never accepts a mismatch, for feature set `set`.
fn never(set: FeatureSet) -> JudgePolicy<TestJudge> {
    JudgePolicy {
        judge: TestJudge {
            set,
            width: None,
            values: |n| vec![1.0; n],
        },
        threshold: Threshold::new(0.5).unwrap(),
    }
}

/// Decodes `PROMPT` with `target` verifying the proposals of `drafter`, judged by `policy`.
fn run<T: TargetModel, D: Drafter, P: AcceptancePolicy>(
    target: &T,
    drafter: &mut D,
    policy: &mut P,
    cfg: &DecodeConfig,
) -> Result<Generation, DecodeError> {
    let mut t = target.new_session().unwrap();
    generate_speculative(&mut t, drafter, policy, &PROMPT, cfg, Hooks::default())
}

/// The breach inside `e`, checking that it names `by`.
fn breach(e: &DecodeError, by: &str) -> ContractBreach {
    match e {
        DecodeError::Core(CoreError::BrokenContract { by: who, breach }) => {
            assert_eq!(who, by, "{e}");
            breach.clone()
        }
        other => panic!("expected a broken contract by `{by}`, got {other}"),
    }
}

#[test]
fn a_target_returning_too_few_hidden_rows_is_named() {
    let faulty = Faulty::new(target(), Fault::DropHiddenRow);
    let mut d = ModelDrafter::new(draft().new_session().unwrap());
    let e = run(
        &faulty,
        &mut d,
        &mut never(FeatureSet::Target),
        &DecodeConfig::greedy(4, 20),
    )
    .unwrap_err();
    assert_eq!(
        breach(&e, "mock-7"),
        ContractBreach::RowCount {
            part: OutputPart::Hidden,
            got: 4,
            requested: 5
        }
    );
    assert!(
        e.to_string()
            .contains("ModelSession::extend returned 4 hidden-state rows for 5 requested"),
        "{e}"
    );
}

#[test]
fn a_target_returning_too_few_logits_rows_is_named() {
    let faulty = Faulty::new(target(), Fault::DropLogitsRow);
    let mut d = ModelDrafter::new(draft().new_session().unwrap());
    let e = run(
        &faulty,
        &mut d,
        &mut ExactMatch,
        &DecodeConfig::greedy(4, 20),
    )
    .unwrap_err();
    assert_eq!(
        breach(&e, "mock-7"),
        ContractBreach::RowCount {
            part: OutputPart::Logits,
            got: 4,
            requested: 5
        }
    );
}

#[test]
fn a_target_with_logits_wider_than_its_vocabulary_is_named() {
    let faulty = Faulty::new(target(), Fault::WideLogits);
    let e = run(
        &faulty,
        &mut NgramDrafter::new(VOCAB),
        &mut ExactMatch,
        &DecodeConfig::greedy(4, 20),
    )
    .unwrap_err();
    assert_eq!(
        breach(&e, "mock-7"),
        ContractBreach::RowWidth {
            part: OutputPart::Logits,
            got: VOCAB + 1,
            field: "vocab_size",
            declared: VOCAB,
        }
    );
}

#[test]
fn nan_logits_from_the_target_are_named() {
    let faulty = Faulty::new(target(), Fault::NanLogits).after(1);
    let e = run(
        &faulty,
        &mut NgramDrafter::new(VOCAB),
        &mut ExactMatch,
        &DecodeConfig::greedy(4, 20),
    )
    .unwrap_err();
    assert!(
        matches!(
            breach(&e, "mock-7"),
            ContractBreach::BadValue {
                part: OutputPart::Logits,
                row: 0,
                column: 0,
                value,
            } if value.is_nan()
        ),
        "{e}"
    );
}

#[test]
fn a_target_that_does_not_append_is_named() {
    let faulty = Faulty::new(target(), Fault::ForgetTokens);
    let e = run(
        &faulty,
        &mut NgramDrafter::new(VOCAB),
        &mut ExactMatch,
        &DecodeConfig::greedy(4, 20),
    )
    .unwrap_err();
    assert_eq!(
        breach(&e, "mock-7"),
        ContractBreach::SessionLength {
            before: 0,
            appended: 3,
            after: 0
        }
    );
}

#[test]
fn a_draft_with_narrower_hidden_states_than_declared_is_named() {
    let faulty = Faulty::new(draft(), Fault::NarrowHidden);
    let mut d = ModelDrafter::new(faulty.new_session().unwrap());
    let e = run(
        &target(),
        &mut d,
        &mut never(FeatureSet::DraftAndTarget),
        &DecodeConfig::greedy(4, 20),
    )
    .unwrap_err();
    assert_eq!(
        breach(&e, "mock-7-noisy1.5"),
        ContractBreach::RowWidth {
            part: OutputPart::Hidden,
            got: 3,
            field: "hidden_size",
            declared: 4,
        }
    );
}

#[test]
fn a_draft_whose_rewind_keeps_too_much_is_named() {
    let faulty = Faulty::new(draft(), Fault::OverRewind);
    let mut d = ModelDrafter::new(faulty.new_session().unwrap());
    let e = run(
        &target(),
        &mut d,
        &mut ExactMatch,
        &DecodeConfig::greedy(4, 20),
    )
    .unwrap_err();
    assert!(
        matches!(
            breach(&e, "mock-7-noisy1.5"),
            ContractBreach::Rewind {
                ctx_len: 4,
                at_most: 3,
                kept: 1,
                after: 0
            }
        ),
        "{e}"
    );
}

#[test]
fn a_judge_returning_too_few_values_is_named() {
    let mut policy = JudgePolicy {
        judge: TestJudge {
            set: FeatureSet::Target,
            width: None,
            values: |n| vec![0.0; n - 1],
        },
        threshold: Threshold::new(0.5).unwrap(),
    };
    let mut d = ModelDrafter::new(draft().new_session().unwrap());
    let e = run(&target(), &mut d, &mut policy, &DecodeConfig::greedy(4, 40)).unwrap_err();
    assert!(
        matches!(breach(&e, "test-judge"), ContractBreach::JudgeCount { got, rows } if got + 1 == rows),
        "{e}"
    );
    assert!(e.to_string().contains("Judge::p_important returned"), "{e}");
}

#[test]
fn a_judge_returning_no_probability_is_named() {
    for (values, bad) in [
        ((|n| vec![f32::NAN; n]) as fn(usize) -> Vec<f32>, f32::NAN),
        (|n| vec![1.5; n], 1.5),
        (|n| vec![-0.25; n], -0.25),
    ] {
        let mut policy = JudgePolicy {
            judge: TestJudge {
                set: FeatureSet::Target,
                width: None,
                values,
            },
            threshold: Threshold::new(0.5).unwrap(),
        };
        let mut d = ModelDrafter::new(draft().new_session().unwrap());
        let e = run(&target(), &mut d, &mut policy, &DecodeConfig::greedy(4, 40)).unwrap_err();
        assert!(
            matches!(
                breach(&e, "test-judge"),
                ContractBreach::JudgeValue { row: 0, value }
                    if value.to_bits() == bad.to_bits()
            ),
            "{e}"
        );
    }
}

#[test]
fn rows_of_another_width_than_the_judge_reads_are_refused() {
    // Weights for DD-DT (draft + target hidden states) read 8 features; a DT row has 4.
    let mut policy = JudgePolicy {
        judge: TestJudge {
            set: FeatureSet::Target,
            width: Some(FeatureSet::DraftAndTarget.width(4, 4)),
            values: |n| vec![0.0; n],
        },
        threshold: Threshold::new(0.5).unwrap(),
    };
    let mut d = ModelDrafter::new(draft().new_session().unwrap());
    let e = run(&target(), &mut d, &mut policy, &DecodeConfig::greedy(4, 40)).unwrap_err();
    assert_eq!(
        breach(&e, "test-judge"),
        ContractBreach::JudgeWidth {
            got: 4,
            expected: 8
        }
    );
}

#[test]
fn a_nan_judge_threshold_cannot_reach_the_policy() {
    // The policy holds a `Threshold`, which is a probability by construction.
    for bad in [f64::NAN, -0.5, 2.0] {
        assert!(Threshold::new(bad).is_err(), "{bad}");
    }
}

/// A drafter proposing `k` tokens of the n-gram drafter with `probs` cut to `keep` rows.
struct ShortProbs {
    inner: NgramDrafter,
    keep: usize,
}

impl Drafter for ShortProbs {
    fn name(&self) -> String {
        "short-probs".into()
    }
    fn supports(&self, needs: Needs) -> Result<(), ProposalInput> {
        self.inner.supports(needs)
    }
    fn propose(
        &mut self,
        context: &[TokenId],
        k: usize,
        sampling: Sampling,
        needs: Needs,
        rng: &mut StdRng,
    ) -> autojudge_decode::DecodeResult<Proposal> {
        let mut p = self.inner.propose(context, k, sampling, needs, rng)?;
        p.probs.truncate(self.keep);
        Ok(p)
    }
    fn forward_calls(&self) -> u64 {
        0
    }
}

fn sampling_cfg() -> DecodeConfig {
    DecodeConfig {
        sampling: Sampling::Temperature {
            temperature: 1.0,
            top_p: 1.0,
        },
        ..DecodeConfig::greedy(4, 40)
    }
}

#[test]
fn a_drafter_with_fewer_distributions_than_tokens_is_named() {
    // A repetitive prompt, so prompt lookup proposes.
    let mut drafter = ShortProbs {
        inner: NgramDrafter::new(VOCAB),
        keep: 0,
    };
    let e = run(
        &target(),
        &mut drafter,
        &mut RejectionSampling,
        &sampling_cfg(),
    )
    .unwrap_err();
    match &e {
        DecodeError::BrokenDrafter { drafter, breach } => {
            assert_eq!(drafter, "short-probs");
            assert!(
                matches!(
                    breach,
                    ProposalBreach::RowCount {
                        input: ProposalInput::Probs,
                        got: 0,
                        tokens
                    } if *tokens > 0
                ),
                "{e}"
            );
        }
        other => panic!("expected a broken drafter, got {other}"),
    }
}

#[test]
fn a_drafter_with_distributions_over_another_vocabulary_is_named() {
    let e = run(
        &target(),
        &mut NgramDrafter::new(VOCAB - 4),
        &mut RejectionSampling,
        &sampling_cfg(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &e,
            DecodeError::BrokenDrafter {
                breach: ProposalBreach::DistributionWidth {
                    input: ProposalInput::Probs,
                    row: 0,
                    got,
                    vocab: VOCAB,
                },
                ..
            } if *got == VOCAB - 4
        ),
        "{e}"
    );
}

#[test]
fn a_well_behaved_faulty_wrapper_changes_nothing() {
    // `after` keeps the wrapper healthy: the same generation as the bare model.
    let cfg = DecodeConfig::greedy(4, 30);
    let healthy = Faulty::new(target(), Fault::DropHiddenRow).after(u64::MAX);
    let mut d1 = ModelDrafter::new(draft().new_session().unwrap());
    let mut d2 = ModelDrafter::new(draft().new_session().unwrap());
    let a = run(&healthy, &mut d1, &mut never(FeatureSet::Target), &cfg).unwrap();
    let b = run(&target(), &mut d2, &mut never(FeatureSet::Target), &cfg).unwrap();
    assert_eq!(a.tokens, b.tokens);
}
