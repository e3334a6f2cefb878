//! The task flags shared by `mine` and `eval`: which dataset, how it is read, which oracle
//! judges it, and how a task becomes prompt tokens.

use std::path::PathBuf;
use std::time::Duration;

use autojudge_core::{BoxError, TextTokenizer, TokenId};
use autojudge_models::{ChatMessage, ChatTemplate};
use autojudge_search::{EosSwap, REFERENCE_MAX_NEW_TOKENS};
use autojudge_tasks::{
    read_gsm8k, read_humaneval, AnswerFallback, CodeOracle, Gsm8kOracle, Gsm8kWording, Isolation,
    Oracle, Sandbox, SandboxLimits, Task, TaskLine,
};
use clap::{Args, ValueEnum};

use crate::numeric_flag::{CODE_TIMEOUT, PROMPTS, SKIP};

/// Which benchmark.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TaskKind {
    /// GSM8K math word problems (final-answer oracle).
    Gsm8k,
    /// HumanEval code completion (unit-test oracle).
    Humaneval,
}

/// How a task's text becomes tokens.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PromptFormat {
    /// The model's chat template when it has one, else plain.
    Auto,
    /// Always the chat template (error if the model has none).
    Chat,
    /// The raw user text with BOS.
    Plain,
}

/// Which labelling semantics a run follows; single flags override its parts.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LabelPreset {
    /// The reference's (`find_important_tokens.py` as its script runs it): its eight-shot
    /// GSM8K wording, lm-eval's strict match, 2,048 new tokens, mining stops after a tested
    /// draft EOS.
    Reference,
    /// autojudge-rs's lenient alternative: the question without the preamble, the
    /// case-insensitive phrase with boxed and last-number fallbacks, 256 new tokens, mining
    /// goes on after an important EOS swap.
    Lenient,
}

/// How GSM8K answers are extracted.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum AnswerFlag {
    /// lm-eval's `gsm8k_cot_llama` strict match.
    Strict,
    /// Case-insensitive phrase, numeric normalisation, then `--gsm8k-fallback`.
    Lenient,
}

/// GSM8K prompt wording.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum WordingFlag {
    /// The reference's eight-shot prompt (its mining script's default): eight worked
    /// examples, then the question, in one user message.
    #[value(name = "reference-8shot")]
    EightShot,
    /// The reference's zero-shot prompt (preamble, question, instruction).
    #[value(name = "reference-0shot", alias = "reference")]
    ZeroShot,
    /// Question and instruction only.
    Short,
}

/// The labelling flags shared by `mine`, `eval` and `pipeline`: a preset and the overrides of
/// its GSM8K parts.
#[derive(Args, Clone, Debug)]
pub struct LabelArgs {
    /// Labelling semantics: `reference` (the reference's prompt, answer extraction, response
    /// cap and EOS rule) or `lenient` (ours); the flags below override single parts.
    #[arg(long = "labels", value_enum, default_value = "reference")]
    pub preset: LabelPreset,
    /// GSM8K prompt wording (default: the preset's).
    #[arg(long, value_enum)]
    pub gsm8k_wording: Option<WordingFlag>,
    /// GSM8K answer extraction (default: the preset's).
    #[arg(long, value_enum)]
    pub gsm8k_answer: Option<AnswerFlag>,
    /// Lenient GSM8K answer fallbacks when "The final answer is" is absent, in order (`none`
    /// for none).
    #[arg(long, value_delimiter = ',', default_value = "boxed,last-number")]
    pub gsm8k_fallback: Vec<String>,
}

/// Flags selecting the task, its data and its oracle.
#[derive(Args, Clone, Debug)]
pub struct TaskArgs {
    /// Benchmark.
    #[arg(long, value_enum, default_value = "gsm8k")]
    pub task: TaskKind,
    /// Dataset file (GSM8K JSONL; HumanEval JSONL or JSONL.gz).
    #[arg(long)]
    pub data: PathBuf,
    /// Questions to skip from the start of the file.
    #[arg(long, default_value_t = 0, value_parser = SKIP.parser::<usize>())]
    pub skip: usize,
    /// Number of questions (after --skip).
    #[arg(long, default_value_t = 50, value_parser = PROMPTS.parser::<usize>())]
    pub prompts: usize,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Timeout of one HumanEval test run, seconds.
    #[arg(long, default_value_t = 10.0, value_parser = CODE_TIMEOUT.parser::<f64>())]
    pub code_timeout: f64,
    /// Python interpreter for HumanEval tests: a path, or a name looked up in
    /// /usr/local/bin:/usr/bin:/bin (the sandbox's PATH; the sandbox user must be able to read it).
    #[arg(long, default_value = "python3")]
    pub code_python: PathBuf,
    /// Run model-written code (HumanEval tests) without the bubblewrap sandbox: it can then
    /// read and write your files and reach the network; only resource limits apply. For
    /// machines where the sandbox cannot be set up (docs/sandbox.md).
    #[arg(long)]
    pub unsafe_no_sandbox: bool,
    /// Prompt rendering.
    #[arg(long, value_enum, default_value = "auto")]
    pub prompt_format: PromptFormat,
}

impl TaskArgs {
    /// The GSM8K prompt wording in force.
    pub fn wording(&self) -> Gsm8kWording {
        match (self.labels.gsm8k_wording, self.labels.preset) {
            (Some(WordingFlag::EightShot), _) | (None, LabelPreset::Reference) => {
                Gsm8kWording::ReferenceEightShot
            }
            (Some(WordingFlag::ZeroShot), _) => Gsm8kWording::Reference,
            (Some(WordingFlag::Short), _) | (None, LabelPreset::Lenient) => Gsm8kWording::Short,
        }
    }

    /// The preset's response cap, unless `flag` sets one.
    pub fn max_new_tokens(&self, flag: Option<usize>) -> usize {
        flag.unwrap_or(match self.labels.preset {
            LabelPreset::Reference => REFERENCE_MAX_NEW_TOKENS,
            LabelPreset::Lenient => 256,
        })
    }

    /// The preset's EOS rule, unless `flag` sets one.
    pub fn eos_swap(&self, flag: Option<EosSwap>) -> EosSwap {
        flag.unwrap_or(match self.labels.preset {
            LabelPreset::Reference => EosSwap::StopMining,
            LabelPreset::Lenient => EosSwap::Continue,
        })
    }

    /// The wording as recorded with results: `gsm8k-wording=reference` (zero-shot) or
    /// `gsm8k-wording=reference-8shot` for GSM8K's reference wordings, empty otherwise (the
    /// short wording keeps the records of directories mined with it, so they resume).
    pub fn wording_tag(&self) -> String {
        match (self.task, self.wording()) {
            (TaskKind::Gsm8k, Gsm8kWording::Short) | (TaskKind::Humaneval, _) => String::new(),
            (TaskKind::Gsm8k, w) => format!("gsm8k-wording={w}"),
        }
    }

    /// How prompts are rendered, as recorded in manifests: `chat` or `plain`, then
    /// `;` and [`TaskArgs::wording_tag`] when it is not empty.
    pub fn prompt_identity(&self, chat: bool) -> String {
        let base = if chat { "chat" } else { "plain" };
        match self.wording_tag() {
            tag if tag.is_empty() => base.into(),
            tag => format!("{base};{tag}"),
        }
    }

    /// The task's oracle.
    pub fn oracle(&self) -> anyhow::Result<Box<dyn Oracle>> {
        let strict = match (self.labels.gsm8k_answer, self.labels.preset) {
            (Some(a), _) => a == AnswerFlag::Strict,
            (None, preset) => preset == LabelPreset::Reference,
        };
        Ok(match self.task {
            TaskKind::Gsm8k if strict => Box::new(Gsm8kOracle::StrictMatch),
            TaskKind::Gsm8k => {
                let fallbacks = self
                    .labels
                    .gsm8k_fallback
                    .iter()
                    .filter(|f| f.as_str() != "none")
                    .map(|f| f.parse::<AnswerFallback>().map_err(anyhow::Error::msg))
                    .collect::<anyhow::Result<_>>()?;
                Box::new(Gsm8kOracle::Lenient { fallbacks })
            }
            TaskKind::Humaneval => Box::new(self.code_oracle()?),
        })
    }

    /// The HumanEval oracle: the unit tests run in the bubblewrap sandbox, or without one
    /// under `--unsafe-no-sandbox`; fails with what the machine lacks when the sandbox cannot
    /// be set up.
    pub fn code_oracle(&self) -> anyhow::Result<CodeOracle> {
        let isolation = if self.unsafe_no_sandbox {
            eprintln!(
                "warning: --unsafe-no-sandbox: model-written code runs with your user's access \
                 to files and network (only resource limits apply)"
            );
            Isolation::UnsafeNone
        } else {
            Isolation::Bubblewrap
        };
        let wall_time = Duration::try_from_secs_f64(self.code_timeout)
            .map_err(|e| anyhow::anyhow!("--code-timeout {}: {e}", self.code_timeout))?;
        let limits = SandboxLimits {
            wall_time,
            ..SandboxLimits::default()
        };
        Ok(CodeOracle::new(Sandbox::new(
            isolation,
            &self.code_python,
            limits,
        )?))
    }

    /// `--data` as an input path (no output may overwrite it).
    pub fn inputs(&self) -> Vec<crate::output_guard::Input<'_>> {
        vec![crate::output_guard::Input {
            flag: "--data",
            path: &self.data,
        }]
    }

    /// Dataset lines `skip..skip+prompts` (each a task or its per-line error).
    pub fn tasks(&self) -> anyhow::Result<Vec<TaskLine>> {
        Ok(self
            .all_tasks()?
            .into_iter()
            .skip(self.skip)
            .take(self.prompts)
            .collect())
    }

    /// Every dataset line (a task or its per-line error), `--skip`/`--prompts` aside.
    pub fn all_tasks(&self) -> anyhow::Result<Vec<TaskLine>> {
        let all = match self.task {
            TaskKind::Gsm8k => read_gsm8k(&self.data, self.wording())?,
            TaskKind::Humaneval => read_humaneval(&self.data)?,
        };
        Ok(all)
    }

    /// The dataset's file name (recorded in manifests; the directory part is left out so a
    /// run moved to another machine resumes).
    pub fn file_name(&self) -> String {
        self.data
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
    }

    /// Task name for manifests.
    pub fn name(&self) -> &'static str {
        match self.task {
            TaskKind::Gsm8k => "gsm8k",
            TaskKind::Humaneval => "humaneval",
        }
    }

    /// Whether prompts use the chat template, given whether the model has one.
    pub fn uses_chat(&self, has_template: bool) -> anyhow::Result<bool> {
        match self.prompt_format {
            PromptFormat::Auto => Ok(has_template),
            PromptFormat::Plain => Ok(false),
            PromptFormat::Chat if has_template => Ok(true),
            PromptFormat::Chat => {
                anyhow::bail!("--prompt-format chat: the model has no chat template")
            }
        }
    }
}

/// Renders a task as prompt tokens (chat template when given).
pub fn render_prompt(
    template: Option<&ChatTemplate>,
    tokenizer: &dyn TextTokenizer,
    task: &Task,
) -> Result<Vec<TokenId>, BoxError> {
    let text = match template {
        Some(t) => t.render(&[ChatMessage::user(task.user_prompt.clone())], true)?,
        None => task.user_prompt.clone(),
    };
    Ok(tokenizer.encode(&text, true)?)
}
