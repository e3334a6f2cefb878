//! GSM8K questions as prompts for the benchmark commands (`bench-decode`, `draft-sweep`,
//! `dtype-agreement`).

use autojudge_core::{TextTokenizer, TokenId};
use autojudge_models::ChatMessage;
use std::io::BufRead;

/// The GSM8K zero-shot instruction appended to each question.
pub const GSM8K_SUFFIX: &str = "Your response should end with \"The final answer is [answer]\" where [answer] is the response to the problem.";

/// Reads GSM8K questions `skip..skip+n`; every error names the file (and the line).
pub fn read_questions(
    path: &std::path::Path,
    skip: usize,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        anyhow::bail!(
            "{}: is a directory; a GSM8K JSONL file is needed",
            path.display()
        );
    }
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate().skip(skip) {
        if out.len() >= n {
            break;
        }
        let line = line.map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        let v: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        let q = v["question"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{}:{}: no `question` field", path.display(), i + 1))?;
        out.push(q.to_string());
    }
    Ok(out)
}

/// GSM8K `questions` (from [`read_questions`]) as prompt token ids: the zero-shot
/// instruction appended, rendered with `template` as one user turn.
pub fn gsm8k_prompt_ids(
    questions: &[String],
    template: &autojudge_models::ChatTemplate,
    tokenizer: &autojudge_models::LlmTokenizer,
) -> anyhow::Result<Vec<Vec<TokenId>>> {
    questions
        .iter()
        .map(|q| {
            let text =
                template.render(&[ChatMessage::user(format!("{q}\n{GSM8K_SUFFIX}"))], true)?;
            Ok(tokenizer.encode(&text, true)?)
        })
        .collect()
}
