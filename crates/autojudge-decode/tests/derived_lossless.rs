//! Lossless statistics derived from the target-only output equal a measured lossless run's,
//! counter for counter, on random mock pairs: EOS ends (several EOS ids, the draft stopping
//! early after a disagreement), the token budget and a full context.

use autojudge_core::{ModelSession, Outputs, TargetModel, TokenId};
use autojudge_decode::policies::ExactMatch;
use autojudge_decode::testing::MockLm;
use autojudge_decode::{
    derive_lossless, generate_speculative, generate_target_only, DecodeConfig, DecodeError,
    DecodeStats, Hooks, ModelDrafter, Sampling, StopReason, TargetFacts, WindowPolicy,
};
use proptest::prelude::*;

/// A fresh target session with the mock's context.
const FRESH: TargetFacts = TargetFacts {
    max_context: 4096,
    cached_prompt: 0,
};

/// The counters a derivation promises (times aside).
fn counters(s: &DecodeStats) -> DecodeStats {
    DecodeStats {
        draft_time: Default::default(),
        target_time: Default::default(),
        policy_time: Default::default(),
        wall_time: Default::default(),
        ..s.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn derived_lossless_counters_equal_a_measured_run(
        seed in 0u64..10_000,
        vocab in 6usize..40,
        k in 1usize..=12,
        noise in prop::sample::select(vec![0.0f32, 0.5, 1.5, 4.0]),
        prompt in prop::collection::vec(1u32..6, 1..10),
        max_new in 0usize..80,
        context in prop::sample::select(vec![24usize, 40, 4096]),
        draft_context in prop::sample::select(vec![30usize, 4096]),
        two_eos in any::<bool>(),
    ) {
        let eos: Vec<TokenId> = if two_eos { vec![0, 1] } else { vec![0] };
        let target = MockLm::new(seed, vocab, 2.5).with_eos(eos.clone()).with_max_context(context);
        let draft = target
            .noisy_copy(seed + 7, noise)
            .with_eos(eos)
            .with_max_context(draft_context);
        prop_assume!(prompt.len() < context.min(draft_context));
        let cfg = DecodeConfig::greedy(k, max_new);
        let t_only = generate_target_only(
            &mut target.new_session().unwrap(),
            &prompt,
            &DecodeConfig::greedy(1, max_new),
            Hooks::default(),
        )
        .unwrap();
        let mut t = target.new_session().unwrap();
        let mut d = ModelDrafter::new(draft.new_session().unwrap());
        let measured =
            generate_speculative(&mut t, &mut d, &mut ExactMatch, &prompt, &cfg, Hooks::default())
                .unwrap();
        prop_assert_eq!(&measured.tokens, &t_only.tokens);
        let derived = derive_lossless(
            &mut draft.new_session().unwrap(),
            &prompt,
            &t_only,
            TargetFacts { max_context: context, cached_prompt: 0 },
            &cfg,
        );
        // The prompt prefilled once into both sessions (an evaluation's shared prefill): the
        // measured run counts no prefill call, and neither does the derivation told so.
        let head = &prompt[..prompt.len() - 1];
        let mut t2 = target.new_session().unwrap();
        let mut d2 = draft.new_session().unwrap();
        if !head.is_empty() {
            t2.extend(head, Outputs::NONE).unwrap();
            d2.extend(head, Outputs::NONE).unwrap();
        }
        let mut d2 = ModelDrafter::new(d2);
        let shared =
            generate_speculative(&mut t2, &mut d2, &mut ExactMatch, &prompt, &cfg, Hooks::default())
                .unwrap();
        prop_assert_eq!(&shared.tokens, &t_only.tokens);
        let mut d3 = draft.new_session().unwrap();
        if !head.is_empty() {
            d3.extend(head, Outputs::NONE).unwrap();
        }
        let facts = TargetFacts { max_context: context, cached_prompt: head.len() };
        if let Ok(stats) = derive_lossless(&mut d3, &prompt, &t_only, facts, &cfg) {
            prop_assert_eq!(counters(&stats), counters(&shared.stats));
        }
        match derived {
            Ok(stats) => prop_assert_eq!(counters(&stats), counters(&measured.stats)),
            // The draft's context is shorter than the target's: the teacher-forced pass cannot
            // hold the whole output, and says so.
            Err(DecodeError::Core(_)) => prop_assert!(draft_context < context),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}

#[test]
fn a_reused_draft_session_gives_the_same_counters() {
    let target = MockLm::new(3, 12, 2.5).with_eos(vec![0]);
    let draft = target.noisy_copy(9, 1.0);
    let cfg = DecodeConfig::greedy(6, 50);
    let mut session = draft.new_session().unwrap();
    let mut first = None;
    for prompt in [vec![2u32, 3, 4], vec![2, 3, 5, 7], vec![2, 3, 4]] {
        let t_only = generate_target_only(
            &mut target.new_session().unwrap(),
            &prompt,
            &cfg,
            Hooks::default(),
        )
        .unwrap();
        let fresh = derive_lossless(
            &mut draft.new_session().unwrap(),
            &prompt,
            &t_only,
            FRESH,
            &cfg,
        )
        .unwrap();
        let reused = derive_lossless(&mut session, &prompt, &t_only, FRESH, &cfg).unwrap();
        assert_eq!(fresh, reused);
        if prompt == [2, 3, 4] {
            match &first {
                None => first = Some(fresh),
                Some(f) => assert_eq!(f, &fresh),
            }
        }
    }
}

#[test]
fn what_cannot_be_derived_is_a_typed_error() {
    let target = MockLm::new(5, 10, 2.5).with_eos(vec![0]);
    let draft_without_eos = target.noisy_copy(1, 0.5).with_eos(vec![5]);
    let prompt = [3u32, 4];
    let cfg = DecodeConfig::greedy(4, 200);
    let t_only = generate_target_only(
        &mut target.new_session().unwrap(),
        &prompt,
        &cfg,
        Hooks::default(),
    )
    .unwrap();
    assert_eq!(
        t_only.stop,
        StopReason::Eos,
        "the mock target ends at its EOS"
    );
    assert_eq!(t_only.end_token, Some(0));
    let mut d = draft_without_eos.new_session().unwrap();
    let e = derive_lossless(&mut d, &prompt, &t_only, FRESH, &cfg).unwrap_err();
    assert!(matches!(e, DecodeError::NotDerivable { .. }), "{e}");
    assert!(e.to_string().contains("EOS 0"), "{e}");

    let draft = target.noisy_copy(1, 0.5).with_eos(vec![0]);
    let mut d = draft.new_session().unwrap();
    let mut adaptive = cfg.clone();
    adaptive.window = WindowPolicy::Adaptive {
        start: 2,
        min: 1,
        max: 4,
    };
    let sampled = DecodeConfig {
        sampling: Sampling::Temperature {
            temperature: 1.0,
            top_p: 1.0,
        },
        ..cfg.clone()
    };
    for bad in [adaptive, sampled] {
        let e = derive_lossless(&mut d, &prompt, &t_only, FRESH, &bad).unwrap_err();
        assert!(matches!(e, DecodeError::InvalidConfig { .. }), "{e}");
    }
    // A run of another budget is not this prompt's greedy output under `cfg`.
    let short = DecodeConfig::greedy(4, 3);
    let t_short = generate_target_only(
        &mut target.new_session().unwrap(),
        &prompt,
        &short,
        Hooks::default(),
    )
    .unwrap();
    if t_short.stop == StopReason::MaxTokens {
        let e = derive_lossless(&mut d, &prompt, &t_short, FRESH, &cfg).unwrap_err();
        assert!(matches!(e, DecodeError::NotDerivable { .. }), "{e}");
    }
}
