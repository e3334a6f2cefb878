//! The judge reads at decode time exactly the rows it was trained on: for every feature set,
//! the rows the decode loop hands a judge equal the rows mining stored for the same contexts
//! (hidden states at the draft token's own position and at the predicting position, and the
//! logit features), on real burn models.

use std::cell::RefCell;

use autojudge::core::{
    CoreResult, FeatureSet, Judge, Rows, TargetModel, TextTokenizer, TokenId, TokenizerId,
};
use autojudge::decode::policies::JudgePolicy;
use autojudge::decode::{generate_speculative, DecodeConfig, Hooks, ModelDrafter};
use autojudge::models::{backend::CpuBackend as B, tiny::TinyModel, LayerPlan, Llama};
use autojudge::search::{mine_prompt, Algorithm, EosSwap, SearchConfig, SearchModels};
use autojudge::tasks::{Answer, Oracle, OracleError, Task};

/// Rejects every mismatch (so decoding follows the target's greedy response) and records the
/// first row of each call: the window's first mismatch, whose context is the target's greedy
/// response (later rows of a window follow the draft's own rejected proposal).
struct Recorder {
    set: FeatureSet,
    rows: RefCell<Vec<Vec<f32>>>,
}

impl Judge for Recorder {
    fn name(&self) -> String {
        "recorder".into()
    }
    fn features(&self) -> FeatureSet {
        self.set
    }
    fn p_important(&self, rows: &Rows) -> Vec<f32> {
        self.rows.borrow_mut().push(rows[0].to_vec());
        vec![1.0; rows.len()]
    }
}

struct Ids(TokenizerId);

impl TextTokenizer for Ids {
    fn encode(&self, text: &str, _bos: bool) -> CoreResult<Vec<TokenId>> {
        Ok(text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect())
    }
    fn decode(&self, ids: &[TokenId]) -> CoreResult<String> {
        Ok(ids
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" "))
    }
    fn id(&self) -> &TokenizerId {
        &self.0
    }
}

/// Every swap changes the answer (the response itself), so mining never leaves the target's
/// greedy response: each mined context is one the lossless decode loop also visits.
struct Everything;

impl Oracle for Everything {
    fn name(&self) -> String {
        "whole response".into()
    }
    fn answer(&self, _t: &Task, response: &str) -> Result<Answer, OracleError> {
        Ok(Answer::found(response))
    }
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + x.abs().max(y.abs())))
}

fn pair(seed: u64) -> (Llama<B>, Llama<B>) {
    let dev = Default::default();
    let target = TinyModel::new(seed).layers(4).build::<B>(&dev).unwrap();
    let draft = if seed.is_multiple_of(2) {
        target.draft_view(LayerPlan::EarlyExit(2)).unwrap()
    } else {
        TinyModel::new(seed + 500)
            .layers(2)
            .build::<B>(&dev)
            .unwrap()
    };
    (target, draft)
}

#[test]
fn decode_time_rows_equal_mined_rows_for_every_feature_set() {
    let mut compared = 0;
    for seed in 0..6u64 {
        let (target, draft) = pair(seed);
        let tok = Ids(target.info().tokenizer.clone());
        let m = SearchModels {
            target: &target,
            draft: &draft,
            tokenizer: &tok,
            oracle: &Everything,
        };
        let prompt: Vec<TokenId> = (0..6)
            .map(|i| 1 + ((seed as u32 * 7 + i * 13) % 60))
            .collect();
        let task = Task {
            index: 0,
            id: "t".into(),
            user_prompt: String::new(),
            gold: None,
            code: None,
        };
        let cfg = SearchConfig {
            max_new_tokens: 32,
            algorithm: Algorithm::Fast,
            eos_swap: EosSwap::Continue,
            ..SearchConfig::default()
        };
        let (mined, features) = mine_prompt(&m, &task, &prompt, &cfg).unwrap();
        assert!(mined.mismatches.iter().all(|x| x.important));
        for set in FeatureSet::ALL {
            let mut policy = JudgePolicy {
                judge: Recorder {
                    set,
                    rows: RefCell::new(Vec::new()),
                },
                threshold: autojudge::core::Threshold::new(0.5).unwrap(),
            };
            let out = generate_speculative(
                &mut target.new_session().unwrap(),
                &mut ModelDrafter::new(draft.new_session().unwrap()),
                &mut policy,
                &prompt,
                &DecodeConfig::greedy(4, 32),
                Hooks::default(),
            )
            .unwrap();
            assert_eq!(out.tokens, mined.response, "seed {seed}: lossless path");
            let seen = policy.judge.rows.into_inner();
            // The loop meets the same mismatches, in order, except at the last position: the
            // loop never drafts the budget's last token (the target emits it), mining tests it.
            assert!(
                seen.len() + 1 >= features.len() && seen.len() <= features.len(),
                "seed {seed} {set}: {} vs {}",
                seen.len(),
                features.len()
            );
            for (k, (row, f)) in seen.iter().zip(&features).enumerate() {
                let want = set.row(&f.parts());
                assert_eq!(
                    row.len(),
                    set.width(target.info().hidden_size, draft.info().hidden_size)
                );
                assert!(
                    close(row, &want),
                    "seed {seed}, {set}, mismatch {k}:\n decode {row:?}\n mined  {want:?}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 30, "only {compared} rows compared");
}
