//! The decode loop on mock models: lossless greedy speculation, judges at the extremes, stop
//! conditions and typed errors.

use autojudge_core::{
    CoreResult, FeatureSet, ModelSession, Rows, TargetModel, TextTokenizer, TokenId, TokenizerId,
};
use autojudge_decode::policies::{Divergence, ExactMatch, JudgePolicy, RejectionSampling, TopK};
use autojudge_decode::testing::MockLm;
use autojudge_decode::{
    generate_speculative, generate_target_only, DecodeConfig, DecodeError, Hooks, Judge,
    ModelDrafter, NgramDrafter, StopReason, WindowPolicy,
};
use proptest::prelude::*;

const VOCAB: usize = 24;

fn target_only(t: &MockLm, prompt: &[TokenId], cfg: &DecodeConfig) -> Vec<TokenId> {
    generate_target_only(&mut t.new_session().unwrap(), prompt, cfg, Hooks::default())
        .unwrap()
        .tokens
}

type Session = <MockLm as TargetModel>::Session;
type RunFn<'a> =
    dyn FnMut(&mut Session, &mut ModelDrafter<Session>) -> autojudge_decode::Generation + 'a;

struct ConstJudge(f32, FeatureSet);
impl Judge for ConstJudge {
    fn name(&self) -> String {
        format!("const{}", self.0)
    }
    fn features(&self) -> FeatureSet {
        self.1
    }
    fn p_important(&self, rows: &Rows) -> Vec<f32> {
        // MockLm hidden states are 4 wide.
        let width = self.1.width(4, 4);
        assert!(rows.iter().all(|r| r.len() == width), "feature width");
        vec![self.0; rows.len()]
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Greedy speculative decoding emits exactly target-only greedy output, whatever the draft
    /// quality, window, drafter or lossless policy.
    #[test]
    fn greedy_speculation_is_lossless(seed in 0u64..1000, k in 1usize..=16, noise in prop::sample::select(vec![0.0f32, 0.3, 1.0, 4.0]),
                                      prompt in prop::collection::vec(0u32..VOCAB as u32, 1..12), max_new in 1usize..60, window in 0u8..3) {
        let target = MockLm::new(seed, VOCAB, 3.0).with_eos(vec![0]);
        let draft = target.noisy_copy(seed + 1, noise);
        let mut cfg = DecodeConfig::greedy(k, max_new);
        match window {
            1 => cfg.window = WindowPolicy::Adaptive { start: k.min(4), min: 1, max: k.max(4) },
            2 => cfg.window = WindowPolicy::Doubling { min: k.min(2), max: k.max(8) },
            _ => {}
        }
        let want = target_only(&target, &prompt, &cfg);
        let mut t = target.new_session().unwrap();
        let mut d = ModelDrafter::new(draft.new_session().unwrap());
        let got = generate_speculative(&mut t, &mut d, &mut ExactMatch, &prompt, &cfg, Hooks::default()).unwrap();
        prop_assert_eq!(&got.tokens, &want);
        // Rollback: the target session holds exactly prompt + accepted output (pending excluded).
        if got.stop != StopReason::Eos {
            let mut full = prompt.clone();
            full.extend_from_slice(&got.tokens);
            prop_assert_eq!(t.tokens(), &full[..full.len() - 1]);
        }
        let mut t2 = target.new_session().unwrap();
        let mut d2 = ModelDrafter::new(draft.new_session().unwrap());
        let rs = generate_speculative(&mut t2, &mut d2, &mut RejectionSampling, &prompt, &cfg, Hooks::default()).unwrap();
        prop_assert_eq!(&rs.tokens, &want);
        let mut t3 = target.new_session().unwrap();
        let ng = generate_speculative(&mut t3, &mut NgramDrafter::new(VOCAB), &mut ExactMatch, &prompt, &cfg, Hooks::default()).unwrap();
        prop_assert_eq!(&ng.tokens, &want);
        prop_assert!(got.stats.accepted <= got.stats.drafted);
        prop_assert_eq!(got.stats.accepted_mismatches, 0);
    }
}

#[test]
fn never_accept_judge_is_exact_match_and_always_accept_takes_every_draft() {
    let target = MockLm::new(7, VOCAB, 3.0);
    let draft = target.noisy_copy(8, 1.5);
    let prompt = [3, 4, 5];
    let cfg = DecodeConfig::greedy(5, 80);
    let run = |policy: &mut RunFn<'_>| {
        let mut t = target.new_session().unwrap();
        let mut d = ModelDrafter::new(draft.new_session().unwrap());
        policy(&mut t, &mut d)
    };
    let exact = run(&mut |t, d| {
        generate_speculative(t, d, &mut ExactMatch, &prompt, &cfg, Hooks::default()).unwrap()
    });
    for fs in FeatureSet::ALL {
        let never = run(&mut |t, d| {
            generate_speculative(
                t,
                d,
                &mut JudgePolicy {
                    judge: ConstJudge(1.0, fs),
                    threshold: autojudge_core::Threshold::new(0.5).unwrap(),
                },
                &prompt,
                &cfg,
                Hooks::default(),
            )
            .unwrap()
        });
        assert_eq!(never.tokens, exact.tokens);
        assert_eq!(never.stats.accepted, exact.stats.accepted);
        let always = run(&mut |t, d| {
            generate_speculative(
                t,
                d,
                &mut JudgePolicy {
                    judge: ConstJudge(0.0, fs),
                    threshold: autojudge_core::Threshold::new(0.5).unwrap(),
                },
                &prompt,
                &cfg,
                Hooks::default(),
            )
            .unwrap()
        });
        assert_eq!(
            always.stats.accepted, always.stats.drafted,
            "every draft token accepted"
        );
        assert!(always.stats.accepted_mismatches > 0);
        // Expected: each cycle = draft's greedy k tokens, then the target's greedy token.
        let mut ctx: Vec<TokenId> = prompt.to_vec();
        let mut want = Vec::new();
        while want.len() < 80 {
            for _ in 0..5.min(80 - want.len() - 1) {
                let t = autojudge_core::argmax(&draft.logits(&ctx)).unwrap() as TokenId;
                ctx.push(t);
                want.push(t);
            }
            let t = autojudge_core::argmax(&target.logits(&ctx)).unwrap() as TokenId;
            ctx.push(t);
            want.push(t);
        }
        assert_eq!(always.tokens, want);
    }
    // Lossy baselines at their extremes.
    let top1 = run(&mut |t, d| {
        generate_speculative(t, d, &mut TopK { k: 1 }, &prompt, &cfg, Hooks::default()).unwrap()
    });
    assert_eq!(top1.tokens, exact.tokens);
    let strict = run(&mut |t, d| {
        generate_speculative(
            t,
            d,
            &mut Divergence::TargetProb(1.1),
            &prompt,
            &cfg,
            Hooks::default(),
        )
        .unwrap()
    });
    assert_eq!(strict.tokens, exact.tokens);
    let loose = run(&mut |t, d| {
        generate_speculative(
            t,
            d,
            &mut Divergence::TargetProb(0.0),
            &prompt,
            &cfg,
            Hooks::default(),
        )
        .unwrap()
    });
    assert_eq!(loose.stats.accepted, loose.stats.drafted);
    let kl = run(&mut |t, d| {
        generate_speculative(
            t,
            d,
            &mut Divergence::Kl(1e9),
            &prompt,
            &cfg,
            Hooks::default(),
        )
        .unwrap()
    });
    assert_eq!(kl.stats.accepted, kl.stats.drafted);
    let top5 = run(&mut |t, d| {
        generate_speculative(t, d, &mut TopK { k: 5 }, &prompt, &cfg, Hooks::default()).unwrap()
    });
    assert!(
        top5.stats.accepted > exact.stats.accepted,
        "top-5 accepts more than exact match"
    );
}

/// Tokens are letters; id 0 is '.', a stop-string fixture.
struct Letters;
impl TextTokenizer for Letters {
    fn encode(&self, _t: &str, _b: bool) -> CoreResult<Vec<TokenId>> {
        unimplemented!()
    }
    fn decode(&self, ids: &[TokenId]) -> CoreResult<String> {
        Ok(ids
            .iter()
            .map(|&i| {
                if i == 0 {
                    '.'
                } else {
                    (b'a' + (i as u8 - 1) % 26) as char
                }
            })
            .collect())
    }
    fn id(&self) -> &TokenizerId {
        unimplemented!()
    }
}

/// Lossless speculative decoding of `prompt` with `draft` proposing for `target`.
fn exact_match(
    target: &MockLm,
    draft: &MockLm,
    prompt: &[TokenId],
    cfg: &DecodeConfig,
    hooks: Hooks<'_>,
) -> autojudge_decode::Generation {
    let mut s = target.new_session().unwrap();
    let mut d = ModelDrafter::new(draft.new_session().unwrap());
    generate_speculative(&mut s, &mut d, &mut ExactMatch, prompt, cfg, hooks).unwrap()
}

#[test]
fn stop_conditions() {
    let target = MockLm::new(11, VOCAB, 3.0);
    let draft = target.noisy_copy(12, 0.5);
    let prompt = [1, 2];
    let free = target_only(&target, &prompt, &DecodeConfig::greedy(4, 40));
    assert_eq!(free.len(), 40, "max tokens is exact");
    // EOS: make the 10th generated token an EOS id; output stops before it.
    let eos = free[9];
    let first = free.iter().position(|&t| t == eos).unwrap();
    let t2 = target.clone().with_eos(vec![eos]);
    let mut cfg = DecodeConfig::greedy(4, 40);
    let g = exact_match(&t2, &draft, &prompt, &cfg, Hooks::default());
    assert_eq!(
        (g.stop, g.tokens.as_slice()),
        (StopReason::Eos, &free[..first])
    );
    // Stop string spanning tokens: the text of free[3..5].
    let text = Letters.decode(&free).unwrap();
    let needle = text[3..5].to_string();
    let at = text.find(&needle).unwrap();
    cfg.stop.stop_strings = vec![needle];
    let mut streamed = Vec::new();
    let mut cb = |t: &[TokenId]| streamed.extend_from_slice(t);
    let hooks = Hooks {
        tokenizer: Some(&Letters),
        on_tokens: Some(&mut cb),
        cancel: None,
    };
    let g = exact_match(&target, &draft, &prompt, &cfg, hooks);
    assert_eq!(g.stop, StopReason::StopString);
    assert_eq!(g.tokens, free[..at + 2]);
    assert_eq!(streamed, g.tokens, "the stream carries exactly the output");
    // Context full: a clean stop, never an error.
    let small = target.clone().with_max_context(12);
    let mut s = small.new_session().unwrap();
    let mut d = ModelDrafter::new(draft.clone().with_max_context(12).new_session().unwrap());
    let g = generate_speculative(
        &mut s,
        &mut d,
        &mut ExactMatch,
        &prompt,
        &DecodeConfig::greedy(8, 100),
        Hooks::default(),
    )
    .unwrap();
    assert_eq!(g.stop, StopReason::ContextFull);
    assert_eq!(g.tokens, free[..g.tokens.len()]);
    let g = generate_target_only(
        &mut small.new_session().unwrap(),
        &prompt,
        &DecodeConfig::greedy(8, 100),
        Hooks::default(),
    )
    .unwrap();
    assert_eq!(g.stop, StopReason::ContextFull);
}

#[test]
fn a_cancelled_generation_stops_before_its_next_cycle_with_what_it_emitted() {
    let target = MockLm::new(11, VOCAB, 3.0);
    let draft = target.noisy_copy(12, 0.5);
    let prompt = [1, 2];
    let cfg = DecodeConfig::greedy(4, 40);
    let free = target_only(&target, &prompt, &cfg);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut streamed = Vec::new();
    // The client goes away once 10 tokens have reached it.
    let mut cb = |t: &[TokenId]| {
        streamed.extend_from_slice(t);
        if streamed.len() >= 10 {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let hooks = Hooks {
        tokenizer: None,
        on_tokens: Some(&mut cb),
        cancel: Some(&cancel),
    };
    let g = exact_match(&target, &draft, &prompt, &cfg, hooks);
    assert_eq!(g.stop, StopReason::Cancelled);
    assert!(
        g.tokens.len() >= 10 && g.tokens.len() < 10 + 5,
        "{}",
        g.tokens.len()
    );
    assert_eq!(
        g.tokens,
        free[..g.tokens.len()],
        "what was emitted is the target's"
    );
    assert_eq!(streamed, g.tokens);
    // Cancelled before it starts: nothing is generated.
    let mut s = target.new_session().unwrap();
    let g = generate_target_only(
        &mut s,
        &prompt,
        &cfg,
        Hooks {
            cancel: Some(&cancel),
            ..Hooks::default()
        },
    )
    .unwrap();
    assert_eq!((g.stop, g.tokens.len()), (StopReason::Cancelled, 0));
}

#[test]
fn typed_errors() {
    let target = MockLm::new(1, VOCAB, 3.0);
    let mut s = target.new_session().unwrap();
    let e = generate_target_only(&mut s, &[], &DecodeConfig::greedy(4, 4), Hooks::default())
        .unwrap_err();
    assert!(matches!(e, DecodeError::EmptyPrompt));
    let e = generate_target_only(&mut s, &[1], &DecodeConfig::greedy(0, 4), Hooks::default())
        .unwrap_err();
    assert!(matches!(
        e,
        DecodeError::InvalidConfig {
            field: "window",
            ..
        }
    ));
    let mut judge = JudgePolicy {
        judge: ConstJudge(0.0, FeatureSet::DraftAndTarget),
        threshold: autojudge_core::Threshold::new(0.5).unwrap(),
    };
    let e = generate_speculative(
        &mut s,
        &mut NgramDrafter::new(VOCAB),
        &mut judge,
        &[1, 2],
        &DecodeConfig::greedy(4, 4),
        Hooks::default(),
    )
    .unwrap_err();
    assert!(matches!(e, DecodeError::MissingInput { .. }), "{e}");
    assert!(e.to_string().contains("`hidden` rows"), "{e}");
}
