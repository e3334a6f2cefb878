//! Lossless greedy speculative decoding on real models running the quantized host kernels:
//! the output equals target-only greedy decoding token for token, for every draft window.

use autojudge_core::{TargetModel, TokenId};
use autojudge_decode::policies::ExactMatch;
use autojudge_decode::{
    generate_speculative, generate_target_only, DecodeConfig, Hooks, ModelDrafter,
};
use autojudge_models::backend::CpuBackend as B;
use autojudge_models::gguf::{GgmlType, GgufFile};
use autojudge_models::tiny::TinyModel;
use autojudge_models::{load_gguf_file, ComputeDType, LayerPlan, Llama, LoadOptions};
use proptest::prelude::*;

fn quantized(bytes: Vec<u8>) -> Llama<B> {
    let g = GgufFile::from_bytes("q.gguf", bytes).unwrap();
    let opts = LoadOptions {
        dtype: ComputeDType::Quant,
        ..LoadOptions::default()
    };
    load_gguf_file::<B>(g, &opts, &Default::default())
        .unwrap()
        .model
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn greedy_speculation_on_quantized_models_is_lossless(
        prompt in prop::collection::vec(1u32..64, 1..10),
        k in 1usize..=12,
        max_new in 1usize..40,
        kquant in any::<bool>(),
    ) {
        let target = if kquant {
            quantized(TinyModel::wide(7).to_gguf_quantized(GgmlType::Q4_K, GgmlType::Q6_K))
        } else {
            quantized(TinyModel::new(6).layers(3).to_gguf_quantized(GgmlType::Q4_1, GgmlType::Q8_0))
        };
        let draft = target.draft_view(LayerPlan::EarlyExit(1)).unwrap();
        let cfg = DecodeConfig::greedy(k, max_new);
        let want: Vec<TokenId> = generate_target_only(&mut target.new_session().unwrap(), &prompt, &cfg, Hooks::default())
            .unwrap()
            .tokens;
        let mut t = target.new_session().unwrap();
        let mut d = ModelDrafter::new(draft.new_session().unwrap());
        let got = generate_speculative(&mut t, &mut d, &mut ExactMatch, &prompt, &cfg, Hooks::default()).unwrap();
        prop_assert_eq!(&got.tokens, &want);
    }
}
