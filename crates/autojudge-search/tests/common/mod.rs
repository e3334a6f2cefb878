//! Test doubles shared by the search crate's integration tests: a tokenizer of space-separated
//! ids and an oracle whose labels mix on random models.
#![allow(dead_code)]

use autojudge_core::{CoreResult, TextTokenizer, TokenId, TokenizerId};
use autojudge_tasks::{Answer, Oracle, OracleError, Task};

/// Ids as space-separated numbers, so oracles can read them.
pub struct IdText(pub TokenizerId);

impl TextTokenizer for IdText {
    fn encode(&self, text: &str, add_bos: bool) -> CoreResult<Vec<TokenId>> {
        autojudge_decode::testing::IdText(self.0.clone()).encode(text, add_bos)
    }
    fn decode(&self, ids: &[TokenId]) -> CoreResult<String> {
        Ok(ids
            .iter()
            .filter(|&&t| t != 0)
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" "))
    }
    fn id(&self) -> &TokenizerId {
        &self.0
    }
}

/// Answer: number of response tokens above 40, mod 3 (mixed labels on random models).
pub struct CountOracle;

impl Oracle for CountOracle {
    fn name(&self) -> String {
        "count>40 mod 3".into()
    }
    fn answer(&self, _task: &Task, response: &str) -> Result<Answer, OracleError> {
        let n = response
            .split_whitespace()
            .filter(|w| w.parse::<u32>().is_ok_and(|v| v > 40))
            .count();
        Ok(Answer::found((n % 3).to_string()))
    }
}
