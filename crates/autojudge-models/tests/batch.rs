//! Batched extend (`TargetModel::extend_batch`): every item's outputs, and the session it
//! leaves, are those of extending it alone, whatever else is in the batch.

mod common;

use autojudge_core::{
    BatchItem, CoreError, ExtendOutput, ModelSession, OutputRows, Outputs, TargetModel, TokenId,
};
use autojudge_models::tiny::TinyModel;
use autojudge_models::{LayerPlan, Llama, LlamaSession, ProjectionKernel};
use common::*;
use proptest::prelude::*;

fn model(kernel: ProjectionKernel, bias: bool) -> Llama<B> {
    let mut t = TinyModel::new(5);
    if bias {
        t = t.with_bias();
    }
    t.kernel = kernel;
    t.build::<B>(&Default::default())
        .unwrap()
        .with_initial_capacity(4)
}

fn rows_strategy() -> impl Strategy<Value = OutputRows> {
    prop_oneof![
        Just(OutputRows::None),
        Just(OutputRows::Last),
        Just(OutputRows::All),
        (1usize..10).prop_map(OutputRows::Tail),
    ]
}

/// One batch member: its prefix (extended alone beforehand), the tokens of the batched call,
/// the outputs it asks for, and whether it runs the early-exit draft view.
#[derive(Clone, Debug)]
struct Member {
    prefix: Vec<TokenId>,
    tokens: Vec<TokenId>,
    outputs: Outputs,
    draft_view: bool,
}

fn member_strategy() -> impl Strategy<Value = Member> {
    (
        prop::collection::vec(0u32..64, 0..20),
        prop::collection::vec(0u32..64, 1..9),
        rows_strategy(),
        rows_strategy(),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(prefix, tokens, logits, hidden, draft_view)| Member {
            prefix,
            tokens,
            outputs: Outputs { logits, hidden },
            draft_view,
        })
}

fn session(m: &Llama<B>, draft: &Llama<B>, member: &Member) -> LlamaSession<B> {
    let mut s = if member.draft_view { draft } else { m }
        .new_session()
        .unwrap();
    if !member.prefix.is_empty() {
        s.extend(&member.prefix, Outputs::NONE).unwrap();
    }
    s
}

/// Extends every member alone and in one batch; returns (alone, batched) outputs and the
/// next step's logits of both sessions (the KV cache the batch wrote must serve later steps).
#[allow(clippy::type_complexity)]
fn alone_and_batched(
    m: &Llama<B>,
    members: &[Member],
) -> Vec<(ExtendOutput, ExtendOutput, Vec<f32>, Vec<f32>)> {
    let draft = m.draft_view(LayerPlan::EarlyExit(1)).unwrap();
    let mut alone: Vec<_> = members.iter().map(|x| session(m, &draft, x)).collect();
    let mut batched: Vec<_> = members.iter().map(|x| session(m, &draft, x)).collect();
    let alone_out: Vec<ExtendOutput> = alone
        .iter_mut()
        .zip(members)
        .map(|(s, x)| s.extend(&x.tokens, x.outputs).unwrap())
        .collect();
    let mut items: Vec<BatchItem<'_, LlamaSession<B>>> = batched
        .iter_mut()
        .zip(members)
        .map(|(session, x)| BatchItem {
            session,
            tokens: &x.tokens,
            outputs: x.outputs,
        })
        .collect();
    let batched_out = m.extend_batch(&mut items);
    let next = |s: &mut LlamaSession<B>| s.extend(&[7], Outputs::LAST_LOGITS).unwrap().logits;
    alone_out
        .into_iter()
        .zip(batched_out)
        .zip(alone.iter_mut().zip(batched.iter_mut()))
        .map(|((a, b), (sa, sb))| {
            assert_eq!(sa.tokens(), sb.tokens(), "batched session holds its tokens");
            (a, b.unwrap(), next(sa), next(sb))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn host_forward_batches_are_bit_identical_to_single_extends(
        members in prop::collection::vec(member_strategy(), 1..7),
        bias in any::<bool>(),
    ) {
        let m = model(ProjectionKernel::Host, bias);
        prop_assert!(m.uses_host_forward());
        for (i, (a, b, na, nb)) in alone_and_batched(&m, &members).into_iter().enumerate() {
            prop_assert_eq!(&a, &b, "member {} of {:?}", i, members);
            prop_assert_eq!(&na, &nb, "next step after the batch, member {}", i);
        }
    }

    #[test]
    fn quantized_batches_are_bit_identical_to_single_extends(
        members in prop::collection::vec(member_strategy(), 1..6),
    ) {
        for (label, m) in quantized_models() {
            for (i, (a, b, na, nb)) in alone_and_batched(&m, &members).into_iter().enumerate() {
                prop_assert_eq!(&a, &b, "{}: member {} of {:?}", label, i, members);
                prop_assert_eq!(&na, &nb, "{}: next step after the batch, member {}", label, i);
            }
        }
    }

    #[test]
    fn burn_forward_batches_match_single_extends_within_rounding(
        members in prop::collection::vec(member_strategy(), 1..5),
    ) {
        let m = model(ProjectionKernel::Burn, false);
        prop_assert!(!m.uses_host_forward());
        for (i, (a, b, na, nb)) in alone_and_batched(&m, &members).into_iter().enumerate() {
            prop_assert_eq!((a.logit_rows(), a.hidden_rows()), (b.logit_rows(), b.hidden_rows()));
            prop_assert!(max_abs_diff(&a.logits, &b.logits) < 1e-4, "member {} logits", i);
            prop_assert!(max_abs_diff(&a.hidden, &b.hidden) < 1e-4, "member {} hidden", i);
            prop_assert!(max_abs_diff(&na, &nb) < 1e-4, "member {} next step", i);
        }
    }
}

#[test]
fn a_bad_item_fails_alone_and_other_models_sessions_are_served() {
    let m = model(ProjectionKernel::Host, false);
    let other = TinyModel::new(6).build::<B>(&Default::default()).unwrap();
    let mut good = m.new_session().unwrap();
    let mut bad = m.new_session().unwrap();
    let mut foreign = other.new_session().unwrap();
    let oov = [64u32];
    let ok = [1u32, 2, 3];
    let results = m.extend_batch(&mut [
        BatchItem {
            session: &mut good,
            tokens: &ok,
            outputs: Outputs::ALL_LOGITS,
        },
        BatchItem {
            session: &mut bad,
            tokens: &oov,
            outputs: Outputs::ALL_LOGITS,
        },
        BatchItem {
            session: &mut foreign,
            tokens: &ok,
            outputs: Outputs::ALL_LOGITS,
        },
    ]);
    assert!(matches!(
        results[1],
        Err(CoreError::TokenOutOfVocab { token: 64, .. })
    ));
    assert_eq!(bad.len(), 0);
    let alone = |model: &Llama<B>| {
        model
            .new_session()
            .unwrap()
            .extend(&ok, Outputs::ALL_LOGITS)
            .unwrap()
    };
    assert_eq!(results[0].as_ref().unwrap(), &alone(&m));
    assert_eq!(results[2].as_ref().unwrap(), &alone(&other));
}

#[test]
fn session_bytes_cover_the_kv_cache_a_session_allocates() {
    let m = model(ProjectionKernel::Host, false);
    let c = m.config();
    let per_position = 2 * c.num_layers * c.num_kv_heads * c.head_dim * 4;
    // Initial capacity 4, doubling: 10 positions live in a 16-position allocation.
    assert_eq!(m.session_bytes(10), Some(16 * per_position as u64));
    let draft = m.draft_view(LayerPlan::EarlyExit(1)).unwrap();
    assert_eq!(
        draft.session_bytes(4),
        Some((4 * per_position / c.num_layers) as u64)
    );
}
