//! Golden outputs of a trusted reference (HF transformers, llama.cpp; made by the committed
//! scripts under scripts/golden/) and the check of a loaded model against them, on any backend.

use autojudge_core::{ModelSession, Outputs, TargetModel, TokenId};
use autojudge_models::LoadedModel;
use burn::tensor::backend::Backend;
use serde_json::Value;

/// A fixture: the prompt, top-k logits at some positions, and the greedy continuation.
pub struct Golden {
    pub prompt: Vec<TokenId>,
    pub topk: Vec<(usize, Vec<usize>, Vec<f32>)>,
    pub greedy: Vec<TokenId>,
}

pub fn read_golden(path: &std::path::Path) -> Golden {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ids = |x: &Value| {
        x.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as TokenId)
            .collect::<Vec<_>>()
    };
    Golden {
        prompt: ids(&v["prompt_ids"]),
        greedy: ids(&v["greedy"]),
        topk: v["topk"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["position"].as_u64().unwrap() as usize,
                    r["ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap() as usize)
                        .collect(),
                    r["logits"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap() as f32)
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Checks an already loaded model's logits with tolerance `rel_tol` (relative to the largest
/// reference logit of the row); returns the largest logit error and how many greedy tokens
/// agree with the reference's before the first difference.
pub fn check_loaded<B: Backend>(
    loaded: &LoadedModel<B>,
    model_path: &std::path::Path,
    golden: &Golden,
    rel_tol: f32,
) -> (f32, usize) {
    let mut s = loaded.model.new_session().unwrap();
    let out = s.extend(&golden.prompt, Outputs::ALL_LOGITS).unwrap();
    let mut worst = 0.0f32;
    for (pos, ids, logits) in &golden.topk {
        let row = out.logits_row(*pos);
        let scale = logits.iter().fold(1.0f32, |m, x| m.max(x.abs()));
        for (id, want) in ids.iter().zip(logits) {
            let err = (row[*id] - want).abs();
            worst = worst.max(err / scale);
            assert!(
                err <= rel_tol * scale,
                "{}: position {pos} token {id}: ours {} vs reference {want}",
                model_path.display(),
                row[*id]
            );
        }
    }
    let mut next = out.argmax_row(golden.prompt.len() - 1);
    let mut got = Vec::new();
    for _ in 0..golden.greedy.len() {
        got.push(next);
        next = s
            .extend(&[next], Outputs::LAST_LOGITS)
            .unwrap()
            .argmax_row(0);
    }
    let agreed = got
        .iter()
        .zip(&golden.greedy)
        .take_while(|(a, b)| a == b)
        .count();
    (worst, agreed)
}
