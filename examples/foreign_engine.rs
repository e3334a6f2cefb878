//! Bringing your own engine: a minimal model that is *not* built on burn (a character n-gram
//! model with its own count tables and "cache") implements `TargetModel` / `ModelSession`, and
//! the whole AutoJudge stack runs on it unchanged: the semi-greedy search mines important
//! tokens with a user-written oracle, the classifier crate trains a DD-DT judge on the mined
//! hidden states, and the decode loop runs target-only, lossless speculative decoding and
//! AutoJudge with it. Nothing here touches `autojudge::models`.
//!
//! ```text
//! cargo run --release --example foreign_engine
//! ```
//!
//! The task is a toy sum ("q: tom: 3 and 4?" answered "so 3+4=7"); the target is an order-24
//! model of a generated corpus, the draft an order-4 one, and the user-written oracle reads the
//! last number of the response.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use anyhow::{bail, Context};
use autojudge::classifier::selection::select_c;
use autojudge::classifier::thresholds::threshold_for_recall;
use autojudge::classifier::{JudgeModel, LogisticRegressionOptions};
use autojudge::core::{
    check_extend, check_truncate, CoreError, CoreResult, ExtendOutput, FeatureSet, ModelInfo,
    ModelSession, OutputRows, Outputs, TargetModel, TextTokenizer, TokenId, TokenizerId,
};
use autojudge::decode::policy::{ExactMatch, JudgePolicy};
use autojudge::decode::{
    generate_speculative, generate_target_only, AcceptancePolicy, DecodeConfig, DecodeStats,
    Generation, Hooks, ModelDrafter,
};
use autojudge::search::{
    mine_prompt, Answer, Oracle, OracleError, SearchConfig, SearchModels, Task,
};

/// Token 0 ends a document; the others are these characters.
const CHARS: &str = " abcdefghijklmnopqrstuvwxyz0123456789.,:?+=\n";
const EOS: TokenId = 0;
const MAX_NEW_TOKENS: usize = 24;

// ---------------------------------------------------------------------------------------------
// The "foreign engine": weights are count tables, a session is a token list (its KV cache).
// ---------------------------------------------------------------------------------------------

/// Immutable weights: next-token counts for every context of length 0..order-1 in the corpus,
/// keyed by a hash of the context.
struct NgramWeights {
    order: usize,
    counts: HashMap<u64, Vec<(TokenId, u32)>>,
}

/// Key of a context in the count table.
fn context_key(context: &[TokenId]) -> u64 {
    let mut h = DefaultHasher::new();
    context.hash(&mut h);
    h.finish()
}

/// The model handle the stack sees (cheap to share; sessions hold an `Arc` of the weights).
struct NgramModel {
    info: ModelInfo,
    weights: Arc<NgramWeights>,
}

/// A session: the tokens so far. Forking (`Clone`) and truncation are free.
#[derive(Clone)]
struct NgramSession {
    info: ModelInfo,
    weights: Arc<NgramWeights>,
    tokens: Vec<TokenId>,
}

impl NgramModel {
    fn train(name: &str, order: usize, documents: &[Vec<TokenId>]) -> Self {
        let mut table: HashMap<u64, HashMap<TokenId, u32>> = HashMap::new();
        for doc in documents {
            for i in 0..doc.len() {
                for n in 0..order.min(i + 1) {
                    let key = context_key(&doc[i - n..i]);
                    *table.entry(key).or_default().entry(doc[i]).or_default() += 1;
                }
            }
        }
        let counts = table
            .into_iter()
            .map(|(ctx, next)| {
                let mut next: Vec<_> = next.into_iter().collect();
                next.sort_unstable();
                (ctx, next)
            })
            .collect();
        let vocab_size = CHARS.chars().count() + 1;
        NgramModel {
            info: ModelInfo {
                name: format!("{name} (order-{order} char n-gram)"),
                vocab_size,
                hidden_size: vocab_size + 3,
                max_context: 1024,
                tokenizer: TokenizerId("toy-chars".into()),
                eos_ids: vec![EOS],
            },
            weights: Arc::new(NgramWeights { order, counts }),
        }
    }
}

impl NgramWeights {
    /// Next-token distribution after `context` (longest seen suffix, add-0.01 smoothing) and
    /// the length of the suffix it came from.
    fn next(&self, context: &[TokenId], vocab: usize) -> (Vec<f32>, usize) {
        let longest = self.order - 1;
        for n in (0..=longest.min(context.len())).rev() {
            if let Some(next) = self.counts.get(&context_key(&context[context.len() - n..])) {
                let total: u32 = next.iter().map(|&(_, c)| c).sum();
                let denom = total as f32 + 0.01 * vocab as f32;
                let mut p = vec![0.01 / denom; vocab];
                for &(t, c) in next {
                    p[t as usize] += c as f32 / denom;
                }
                return (p, n);
            }
        }
        (vec![1.0 / vocab as f32; vocab], 0)
    }
}

impl NgramSession {
    /// Logits (log-probabilities) and a hidden state for the position after `tokens[..end]`.
    /// The hidden state is what the judge reads: one-hot of the last token, then the top
    /// probability, the entropy and the matched context length of this model.
    fn outputs_at(&self, end: usize) -> (Vec<f32>, Vec<f32>) {
        let vocab = self.info.vocab_size;
        let (p, matched) = self.weights.next(&self.tokens[..end], vocab);
        let logits = p.iter().map(|x| x.ln()).collect();
        let mut hidden = vec![0.0; self.info.hidden_size];
        hidden[self.tokens[end - 1] as usize] = 1.0;
        hidden[vocab] = p.iter().copied().fold(0.0, f32::max);
        hidden[vocab + 1] = -p.iter().map(|&x| x * x.ln()).sum::<f32>();
        hidden[vocab + 2] = matched as f32 / self.weights.order as f32;
        (logits, hidden)
    }
}

impl TargetModel for NgramModel {
    type Session = NgramSession;
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn new_session(&self) -> CoreResult<NgramSession> {
        Ok(NgramSession {
            info: self.info.clone(),
            weights: Arc::clone(&self.weights),
            tokens: Vec::new(),
        })
    }
}

impl ModelSession for NgramSession {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn tokens(&self) -> &[TokenId] {
        &self.tokens
    }
    fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput> {
        check_extend(&self.info, self.tokens.len(), tokens)?;
        let start = self.tokens.len();
        self.tokens.extend_from_slice(tokens);
        let rows =
            |r: OutputRows| start + tokens.len() - r.count(tokens.len())..start + tokens.len();
        let mut out = ExtendOutput {
            vocab_size: self.info.vocab_size,
            hidden_size: self.info.hidden_size,
            ..ExtendOutput::default()
        };
        let (logit_rows, hidden_rows) = (rows(outputs.logits), rows(outputs.hidden));
        // One table lookup per position, shared by both outputs.
        let first = logit_rows.start.min(hidden_rows.start);
        for i in first..start + tokens.len() {
            let (logits, hidden) = self.outputs_at(i + 1);
            if logit_rows.contains(&i) {
                out.logits.extend(logits);
            }
            if hidden_rows.contains(&i) {
                out.hidden.extend(hidden);
            }
        }
        Ok(out)
    }
    fn truncate(&mut self, n: usize) -> CoreResult<()> {
        check_truncate(self.tokens.len(), n)?;
        self.tokens.truncate(n);
        Ok(())
    }
}

/// One token per character of [`CHARS`].
struct CharTokenizer(TokenizerId);

impl TextTokenizer for CharTokenizer {
    fn encode(&self, text: &str, _add_bos: bool) -> CoreResult<Vec<TokenId>> {
        text.chars()
            .map(|c| {
                CHARS
                    .chars()
                    .position(|x| x == c)
                    .map(|i| i as TokenId + 1)
                    .ok_or_else(|| {
                        CoreError::Tokenizer(format!("character {c:?} not in vocabulary"))
                    })
            })
            .collect()
    }
    fn decode(&self, ids: &[TokenId]) -> CoreResult<String> {
        Ok(ids
            .iter()
            .filter(|&&t| t != EOS)
            .filter_map(|&t| CHARS.chars().nth(t as usize - 1))
            .collect())
    }
    fn id(&self) -> &TokenizerId {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// A user-written oracle: the last number in the response.
// ---------------------------------------------------------------------------------------------

struct LastNumberOracle;

impl Oracle for LastNumberOracle {
    fn name(&self) -> String {
        "last-number".into()
    }
    fn answer(&self, _task: &Task, response: &str) -> Result<Answer, OracleError> {
        let number = response
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|w| !w.is_empty());
        Ok(number.map_or_else(Answer::missing, Answer::found))
    }
}

// ---------------------------------------------------------------------------------------------
// The toy task and the run.
// ---------------------------------------------------------------------------------------------

/// Problems with their indices (one side of the mine/evaluate split).
type Split<'a> = Vec<(usize, &'a Problem)>;

/// A problem: its question text (the prompt) and the gold answer.
struct Problem {
    question: String,
    gold: u32,
}

/// The corpus and the problems. Each answer opens with a filler word (`so`, `ok`, `well`,
/// `then`); every problem appears once with each filler and twice more with its name's
/// favourite. The target sees the name and picks the favourite; the draft cannot and guesses:
/// those mismatches leave the answer unchanged, while its guesses at digits change it.
fn corpus_and_problems() -> (Vec<String>, Vec<Problem>) {
    let fillers = ["so", "ok", "well", "then"];
    let (mut corpus, mut problems) = (Vec::new(), Vec::new());
    for (ni, n) in ["tom", "ann", "bob", "eve"].iter().enumerate() {
        for a in 1..=9u32 {
            for b in 1..=9u32 {
                let s = a + b;
                let question = format!("q: {n}: {a} and {b}?\na:");
                for (fi, filler) in fillers.iter().enumerate() {
                    let copies = if fi == ni { 3 } else { 1 };
                    for _ in 0..copies {
                        corpus.push(format!("{question} {filler} {a}+{b}={s}"));
                    }
                }
                problems.push(Problem { question, gold: s });
            }
        }
    }
    (corpus, problems)
}

fn task(i: usize, p: &Problem) -> Task {
    Task {
        index: i,
        id: format!("toy:{i}"),
        user_prompt: p.question.clone(),
        gold: Some(p.gold.to_string()),
        code: None,
    }
}

fn main() -> anyhow::Result<()> {
    let rows = run()?;
    println!(
        "\n| method | accuracy | agrees with target-only | accepted/cycle | target calls/token |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {} | {}/{n} | {}/{n} | {} | {:.3} |",
            r.method,
            r.correct,
            r.agree,
            r.accepted_per_cycle
                .map_or("-".to_string(), |a| format!("{a:.2}")),
            r.target_calls_per_token,
            n = r.prompts
        );
    }
    Ok(())
}

/// One method's results on the evaluation problems.
struct Row {
    method: &'static str,
    prompts: usize,
    correct: usize,
    agree: usize,
    accepted_per_cycle: Option<f64>,
    target_calls_per_token: f64,
}

/// Builds the engine, mines, trains the judge and evaluates the three methods.
fn run() -> anyhow::Result<Vec<Row>> {
    let tokenizer = CharTokenizer(TokenizerId("toy-chars".into()));
    let (corpus, problems) = corpus_and_problems();
    let documents = corpus
        .iter()
        .map(|text| {
            let mut d = tokenizer.encode(text, false)?;
            d.push(EOS);
            Ok(d)
        })
        .collect::<CoreResult<Vec<_>>>()?;
    // Mine on two thirds of the problems, evaluate the judge on the others.
    let (train, test): (Split, Split) = problems.iter().enumerate().partition(|(i, _)| i % 3 != 0);
    let target = NgramModel::train("target", 24, &documents);
    let draft = NgramModel::train("draft", 4, &documents);
    println!(
        "engine: {} / {}; {} corpus documents; {} problems to mine, {} to evaluate",
        target.info.name,
        draft.info.name,
        documents.len(),
        train.len(),
        test.len()
    );

    // 1. Mine important tokens on training problems with the user's oracle.
    let oracle = LastNumberOracle;
    let models = SearchModels {
        target: &target,
        draft: &draft,
        tokenizer: &tokenizer,
        oracle: &oracle,
    };
    let search = SearchConfig {
        max_new_tokens: MAX_NEW_TOKENS,
        ..SearchConfig::default()
    };
    let (mut x, mut y, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for &(i, p) in &train {
        let prompt = tokenizer.encode(&p.question, false)?;
        let (mined, features) = mine_prompt(&models, &task(i, p), &prompt, &search)?;
        for (m, f) in mined.mismatches.iter().zip(features) {
            x.push([f.draft, f.target].concat());
            y.push(m.important);
            groups.push(i as u64);
        }
    }
    let important = y.iter().filter(|&&b| b).count();
    println!(
        "mined {} prompts: {} mismatches, {} important ({:.0}%)",
        groups
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        y.len(),
        important,
        100.0 * important as f64 / y.len().max(1) as f64
    );
    if important == 0 || important == y.len() {
        bail!("the mined labels have one class only; a judge cannot be trained");
    }

    // 2. Train the DD-DT judge: C by validation ROC-AUC (split by prompt), then a threshold
    //    that keeps 90% recall of important tokens on validation.
    let options = LogisticRegressionOptions {
        tol: 1e-6,
        max_iter: 2000,
        ..LogisticRegressionOptions::default()
    };
    // The grid skips the tiny C values of `default_c_grid()`: on this separable toy they tie at
    // AUC 1 with nearly constant, useless probabilities.
    let grid = [0.01, 0.1, 1.0, 10.0];
    let sel = select_c(&x, &y, &groups, &grid, 0.2, 0, options)?;
    let val_labels: Vec<bool> = sel.validation.iter().map(|&i| y[i]).collect();
    let threshold = threshold_for_recall(&sel.validation_scores, &val_labels, 0.9)
        .context("no validation positives to set a threshold")?;
    let auc = sel
        .table
        .iter()
        .find(|(c, _)| *c == sel.best_c)
        .and_then(|(_, auc)| *auc);
    println!(
        "judge: C = {}, validation ROC-AUC {}, threshold {threshold:.3} (recall 0.9)",
        sel.best_c,
        auc.map_or("n/a".into(), |a| format!("{a:.3}"))
    );
    let judge = JudgeModel {
        features: FeatureSet::DraftAndTarget,
        model: sel.model,
    };

    // 3. Decode held-out problems with each method through the same engine.
    let cfg = DecodeConfig::greedy(4, MAX_NEW_TOKENS);
    let policy = JudgePolicy {
        judge,
        threshold: threshold as f32,
    };
    let mut reference = Vec::new();
    let mut target_only = |prompt: &[TokenId]| -> anyhow::Result<Generation> {
        let mut session = target.new_session()?;
        Ok(generate_target_only(
            &mut session,
            prompt,
            &cfg,
            Hooks::default(),
        )?)
    };
    let mut policy = policy;
    Ok(vec![
        report(
            "target-only",
            &test,
            &tokenizer,
            &mut reference,
            &mut target_only,
        )?,
        report(
            "lossless SD, k = 4",
            &test,
            &tokenizer,
            &mut reference,
            |prompt| speculative(&target, &draft, &mut ExactMatch, prompt, &cfg),
        )?,
        report(
            "AutoJudge DD-DT, k = 4",
            &test,
            &tokenizer,
            &mut reference,
            |prompt| speculative(&target, &draft, &mut policy, prompt, &cfg),
        )?,
    ])
}

/// Speculative decoding of `prompt` with a fresh target session and a draft drafter.
fn speculative<P: AcceptancePolicy>(
    target: &NgramModel,
    draft: &NgramModel,
    policy: &mut P,
    prompt: &[TokenId],
    cfg: &DecodeConfig,
) -> anyhow::Result<Generation> {
    Ok(generate_speculative(
        &mut target.new_session()?,
        &mut ModelDrafter::new(draft.new_session()?),
        policy,
        prompt,
        cfg,
        Hooks::default(),
    )?)
}

/// Decodes every evaluation problem with `generate`. The first call fills `reference`
/// (target-only answers) for the agreement column.
fn report(
    method: &'static str,
    test: &[(usize, &Problem)],
    tokenizer: &CharTokenizer,
    reference: &mut Vec<Answer>,
    mut generate: impl FnMut(&[TokenId]) -> anyhow::Result<Generation>,
) -> anyhow::Result<Row> {
    let (mut correct, mut agree) = (0, 0);
    let mut stats = DecodeStats::default();
    for (row, &(i, p)) in test.iter().enumerate() {
        let g = generate(&tokenizer.encode(&p.question, false)?)?;
        let answer = LastNumberOracle.answer(&task(i, p), &tokenizer.decode(&g.tokens)?)?;
        correct += usize::from(answer == Answer::found(p.gold.to_string()));
        if reference.len() == row {
            reference.push(answer.clone());
        }
        agree += usize::from(reference[row] == answer);
        stats.merge(&g.stats);
    }
    Ok(Row {
        method,
        prompts: test.len(),
        correct,
        agree,
        accepted_per_cycle: (stats.drafted > 0).then(|| stats.mean_accepted()),
        target_calls_per_token: stats.target_calls_per_token(),
    })
}

#[cfg(test)]
mod tests {
    /// The foreign engine runs the whole stack: lossless SD reproduces target-only, and the
    /// judge accepts more draft tokens than lossless SD without changing answers here.
    #[test]
    fn the_whole_stack_runs_on_a_foreign_engine() {
        let rows = super::run().unwrap();
        let [target_only, lossless, autojudge] = &rows[..] else {
            panic!("three methods expected")
        };
        assert_eq!(target_only.correct, target_only.prompts);
        assert_eq!(lossless.agree, lossless.prompts);
        assert!(autojudge.agree * 100 >= autojudge.prompts * 95);
        assert!(
            autojudge.accepted_per_cycle.unwrap() > lossless.accepted_per_cycle.unwrap(),
            "AutoJudge should accept more than lossless SD"
        );
        assert!(autojudge.target_calls_per_token < lossless.target_calls_per_token);
    }
}
