//! Bringing your own engine: a minimal model that is *not* built on burn (a character n-gram
//! model with its own count tables and "cache") implements `TargetModel` / `ModelSession`, and
//! the whole AutoJudge stack runs on it unchanged: the semi-greedy search mines important
//! tokens with a user-written oracle into a resumable mined directory, `autojudge-eval` trains
//! a DD-DT judge on the mined hidden states and evaluates target-only, lossless speculative
//! decoding and AutoJudge exactly as `autojudge eval` does (the same `eval.json`,
//! `results.jsonl` and `summary.*` files). Nothing here touches `autojudge::models`.
//!
//! ```text
//! cargo run --release --example foreign_engine [-- OUT_DIR]   (default results/foreign-engine)
//! ```
//!
//! The task is a toy sum ("q: tom: 3 and 4?" answered "so 3+4=7"); the target is an order-24
//! model of a generated corpus, the draft an order-4 one, and the user-written oracle reads the
//! last number of the response.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
// The whole flow comes from the prelude: the contract, mining, training, evaluation.
use autojudge::prelude::*;

/// Token 0 ends a document; the others are these characters.
/// Prompts mined and evaluated at once: this engine implements only `extend`, and the
/// batched drivers still run it (the contract's `extend_batch` loops over the sessions).
const PARALLEL: usize = 2;

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
                        CoreError::Tokenizer(format!("character {c:?} not in vocabulary").into())
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
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("results/foreign-engine"), PathBuf::from);
    let report = run(&out)?;
    println!("\n{}", report.markdown());
    println!("results in {}", out.display());
    Ok(())
}

/// Builds the engine, mines into `out/mined`, trains the judge into `out/judge.safetensors`
/// and evaluates the three methods into `out/eval` (each step resumes).
fn run(out: &Path) -> anyhow::Result<Report> {
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
    let lines = |split: &Split| -> Vec<TaskLine> {
        split.iter().map(|&(i, p)| task(i, p).into()).collect()
    };
    let render = |t: &Task| Ok(tokenizer.encode(&t.user_prompt, false)?);
    let oracle = LastNumberOracle;

    // 0. The engine keeps the contract the rest relies on (bit-exactly: tolerance 0).
    for model in [&target, &draft] {
        let probe = &documents[0][..documents[0].len().min(16)];
        let checked = check_conformance(model, probe, 0.0)?;
        println!(
            "{}: conforms ({} checks, max row difference {})",
            model.info.name,
            checked.checks.len(),
            checked.max_difference
        );
    }

    // 1. Mine important tokens on training problems with the user's oracle.
    let search = SearchConfig {
        max_new_tokens: MAX_NEW_TOKENS,
        ..SearchConfig::default()
    };
    let manifest = Manifest::new(
        target.info(),
        draft.info(),
        "toy-sum",
        &oracle,
        search.clone(),
        0..problems.len(),
    )
    .with_dataset("generated");
    let mined_path = out.join("mined");
    let mut mined = MinedDir::create_or_resume(&mined_path, manifest)?;
    let models = SearchModels {
        target: &target,
        draft: &draft,
        tokenizer: &tokenizer,
        oracle: &oracle,
    };
    let totals = run_mining(
        &mut mined,
        &models,
        &search,
        lines(&train),
        &render,
        PARALLEL,
        &mut |_| {},
    )?;
    println!(
        "mined {} prompts: {} mismatches, {} important ({:.0}%)",
        totals.prompts,
        totals.mismatches,
        totals.important,
        100.0 * totals.important_fraction()
    );
    if totals.important == 0 || totals.important == totals.mismatches {
        bail!("the mined labels have one class only; a judge cannot be trained");
    }

    // 2. Train the DD-DT judge: C by validation ROC-AUC (split by prompt), then a threshold
    //    that keeps 90% recall of important tokens on validation. The grid skips the tiny C
    //    values of the default grid: on this separable toy they tie at AUC 1 with nearly
    //    constant, useless probabilities.
    let set = TrainingSet::load(&[mined_path], FeatureSet::DraftAndTarget)?;
    let trained = train_judge(
        &set,
        &TrainOptions {
            c_grid: Some(vec![0.01, 0.1, 1.0, 10.0]),
            tol: 1e-6,
            ..TrainOptions::default()
        },
    )?;
    trained.save(&out.join("judge.safetensors"))?;
    let auc = trained
        .meta
        .c_table
        .iter()
        .find(|(c, _)| *c == trained.best_c)
        .and_then(|(_, auc)| *auc);
    println!(
        "judge: C = {}, validation ROC-AUC {}, threshold {:.3} (recall 0.9)",
        trained.best_c,
        auc.map_or("n/a".into(), |a| format!("{a:.3}")),
        trained.meta.threshold
    );

    // 3. Evaluate held-out problems with each method through the same engine and the same
    //    harness as `autojudge eval`.
    let settings = EvalSettings::new(
        "toy-sum",
        target.info(),
        draft.info(),
        &oracle,
        4,
        MAX_NEW_TOKENS,
    )
    .with_data("generated")
    .with_dtype("counts");
    let mut dir = EvalDir::create_or_resume(&out.join("eval"), settings)?;
    let mut methods = Method::baselines(&[], &[]);
    methods.extend(trained.methods("autojudge-dd-dt", &[]));
    let plan = EvalPlan {
        methods,
        bootstrap: 1000,
    };
    let report = evaluate(
        &mut dir,
        &models,
        &plan,
        lines(&test),
        &render,
        PARALLEL,
        &mut |_| {},
    )?;
    report.write_tables(dir.root())?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    /// The foreign engine runs the whole stack through the library: lossless SD reproduces
    /// target-only, and the judge accepts more draft tokens than lossless SD without changing
    /// answers here; a rerun resumes to the same report.
    #[test]
    fn the_whole_stack_runs_on_a_foreign_engine() {
        let out = std::env::temp_dir().join(format!("aj-foreign-engine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let report = super::run(&out).unwrap();
        let [target_only, lossless, autojudge] = &report.rows[..] else {
            panic!("three methods expected: {report:?}")
        };
        assert_eq!(target_only.method, "target-only");
        assert_eq!(target_only.accuracy, 1.0);
        assert_eq!(lossless.agreement, 1.0);
        assert!(autojudge.agreement >= 0.95, "{autojudge:?}");
        assert!(
            autojudge.accepted_per_cycle > lossless.accepted_per_cycle,
            "AutoJudge should accept more than lossless SD"
        );
        assert!(autojudge.target_calls_per_token < lossless.target_calls_per_token);
        for f in [
            "eval/eval.json",
            "eval/results.jsonl",
            "eval/summary.md",
            "mined/records.jsonl",
        ] {
            assert!(out.join(f).exists(), "{f}");
        }
        let lines = std::fs::read_to_string(out.join("eval/results.jsonl")).unwrap();
        let again = super::run(&out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("eval/results.jsonl")).unwrap(),
            lines,
            "a rerun resumes and adds nothing"
        );
        assert_eq!(again.rows.len(), 3);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
