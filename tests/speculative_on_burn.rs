//! The decode loop on real burn models (tiny, seeded): greedy speculation with a separate draft
//! model or a self-speculative layer-skip view emits exactly the target-only output, and the
//! target's KV cache after rollbacks equals a fresh session fed the same tokens.

use autojudge::core::{ModelSession, Outputs, TargetModel, TokenId};
use autojudge::decode::policies::ExactMatch;
use autojudge::decode::{
    generate_speculative, generate_target_only, DecodeConfig, Hooks, ModelDrafter, NgramDrafter,
};
use autojudge::models::{backend::CpuBackend as B, tiny::TinyModel, LayerPlan};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn greedy_speculation_on_burn_models_is_lossless(seed in 0u64..50, k in 1usize..=16, plan in 0usize..3,
                                                    prompt in prop::collection::vec(1u32..64, 1..10)) {
        let dev = Default::default();
        let target = TinyModel::new(seed).layers(4).build::<B>(&dev).unwrap();
        let draft = match plan {
            0 => target.draft_view(LayerPlan::EarlyExit(2)).unwrap(),
            1 => target.draft_view(LayerPlan::Skip(vec![1])).unwrap(),
            _ => TinyModel::new(seed + 100).layers(2).build::<B>(&dev).unwrap(),
        };
        let cfg = DecodeConfig::greedy(k, 40);
        let want = generate_target_only(&mut target.new_session().unwrap(), &prompt, &cfg, Hooks::default()).unwrap();
        let mut t = target.new_session().unwrap();
        let mut d = ModelDrafter::new(draft.new_session().unwrap());
        let got = generate_speculative(&mut t, &mut d, &mut ExactMatch, &prompt, &cfg, Hooks::default()).unwrap();
        prop_assert_eq!(&got.tokens, &want.tokens);
        prop_assert!(got.stats.target_calls <= want.stats.target_calls);
        // Rollback exactness: the session after many truncations scores the next token like a
        // fresh session fed the same sequence.
        let mut fresh = target.new_session().unwrap();
        let seq = t.tokens().to_vec();
        let probe: [TokenId; 2] = [5, 9];
        let a = t.extend(&probe, Outputs::ALL_LOGITS).unwrap();
        fresh.extend(&seq, Outputs::NONE).unwrap();
        let b = fresh.extend(&probe, Outputs::ALL_LOGITS).unwrap();
        let diff = a.logits.iter().zip(&b.logits).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        prop_assert!(diff < 1e-4, "rolled-back session differs by {}", diff);
        let mut t2 = target.new_session().unwrap();
        let ng = generate_speculative(&mut t2, &mut NgramDrafter::new(64), &mut ExactMatch, &prompt, &cfg, Hooks::default()).unwrap();
        prop_assert_eq!(&ng.tokens, &want.tokens);
    }
}
