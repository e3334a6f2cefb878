//! Reference-exact mining reproduces an independent implementation of the reference's
//! algorithm: `tests/fixtures/reference_labels.json` was written by
//! `scripts/golden/make_mining_fixture.py` (HF transformers, SmolLM2-135M-Instruct Q4_1
//! dequantized to f32, its 24-layer early exit as the draft, lm-eval's strict match, the
//! reference's zero-shot GSM8K prompt, the EOS rule). Our search must produce the same greedy
//! response, answer, mismatches, labels, swapped answers and final response, token for token.

use std::path::PathBuf;

use autojudge::core::{TargetModel, TextTokenizer, TokenId};
use autojudge::models::{
    backend::CpuBackend as B, load_model, ChatMessage, LayerPlan, LoadOptions,
};
use autojudge::search::{mine_prompt, SearchConfig, SearchModels};
use autojudge::tasks::{read_gsm8k, Gsm8kOracle, Gsm8kWording};
use serde_json::Value;

// The models crate's test helpers: `smollm_path` finds the embedded SmolLM2 GGUF or fails with
// the command that fetches it.
#[path = "../crates/autojudge-models/tests/common/mod.rs"]
mod common;
use common::smollm_path;

fn ids(v: &Value) -> Vec<TokenId> {
    v.as_array()
        .expect("token list")
        .iter()
        .map(|x| x.as_u64().expect("token id") as TokenId)
        .collect()
}

fn answer(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

#[test]
fn reference_exact_mining_reproduces_the_python_fixture() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/reference_labels.json")).unwrap(),
    )
    .unwrap();
    let dev = Default::default();
    let loaded = load_model::<B>(&smollm_path(), &LoadOptions::default(), &dev).unwrap();
    let target = &loaded.model;
    let draft = target.draft_view(LayerPlan::EarlyExit(24)).unwrap();
    let fixture_eos: Vec<TokenId> = ids(&fixture["eos_ids"]);
    assert_eq!(target.info().eos_ids, fixture_eos, "EOS ids");
    let template = loaded
        .chat_template
        .as_ref()
        .expect("SmolLM2 ships a chat template");
    let tasks = read_gsm8k(
        &root.join("data/gsm8k/train.jsonl"),
        Gsm8kWording::Reference,
    )
    .unwrap();
    let oracle = Gsm8kOracle::StrictMatch;
    let models = SearchModels {
        target,
        draft: &draft,
        tokenizer: &loaded.tokenizer,
        oracle: &oracle,
    };
    let cfg = SearchConfig {
        max_new_tokens: fixture["max_new_tokens"].as_u64().unwrap() as usize,
        ..SearchConfig::default()
    };
    let records = fixture["records"].as_array().unwrap();
    assert!(
        records.len() >= 3,
        "the fixture holds {} prompts",
        records.len()
    );
    let mut labels = 0;
    for rec in records {
        let line = rec["line"].as_u64().unwrap() as usize;
        let task = tasks[line].task().unwrap();
        let text = template
            .render(&[ChatMessage::user(task.user_prompt.clone())], true)
            .unwrap();
        let prompt = loaded.tokenizer.encode(&text, true).unwrap();
        assert_eq!(
            prompt,
            ids(&rec["prompt_ids"]),
            "line {line}: prompt tokens"
        );
        let (got, _) = mine_prompt(&models, task, &prompt, &cfg).unwrap();
        assert_eq!(
            got.response,
            ids(&rec["response"]),
            "line {line}: greedy response"
        );
        assert_eq!(got.answer.0, answer(&rec["answer"]), "line {line}: answer");
        let want = rec["mismatches"].as_array().unwrap();
        let got_rows: Vec<String> = got
            .mismatches
            .iter()
            .map(|m| {
                format!(
                    "pos {} important {} target {} draft {} swapped {:?} len {}",
                    m.position,
                    m.important,
                    m.target_token,
                    m.draft_token,
                    m.swapped_answer.0,
                    m.swapped_len
                )
            })
            .collect();
        let want_rows: Vec<String> = want
            .iter()
            .map(|m| {
                format!(
                    "pos {} important {} target {} draft {} swapped {:?} len {}",
                    m["position"],
                    m["important"],
                    m["target_token"],
                    m["draft_token"],
                    answer(&m["swapped_answer"]),
                    m["swapped_len"]
                )
            })
            .collect();
        assert_eq!(got_rows, want_rows, "line {line}: mismatches");
        assert_eq!(
            got.final_response,
            ids(&rec["final_response"]),
            "line {line}: final response"
        );
        labels += want.len();
    }
    assert!(labels >= 50, "only {labels} labels compared");
}
