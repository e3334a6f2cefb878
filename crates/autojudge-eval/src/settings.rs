//! The settings an evaluation directory was produced with (`eval.json`). A rerun with other
//! settings is refused, naming the field, so resumed results never mix two runs; adding
//! methods (a judge, a threshold) or prompts to a directory is allowed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EvalResult;

/// What every result line of one directory must share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Benchmark name.
    pub task: String,
    /// Dataset file name.
    pub data: String,
    /// Oracle identity (includes its options, e.g. GSM8K fallbacks).
    pub oracle: String,
    /// Whether prompts went through the chat template.
    pub chat: bool,
    /// How the task's text was worded, when a task has variants (e.g.
    /// `gsm8k-wording=reference`; empty for the task's only or short wording).
    #[serde(default)]
    pub wording: String,
    /// Target model identity.
    pub target: String,
    /// Draft model identity.
    pub draft: String,
    /// The engine's compute precision or variant (free-form; part of the identity because it
    /// changes outputs and speed).
    pub dtype: String,
    /// Draft window k.
    pub k: usize,
    /// Response budget.
    pub max_new_tokens: usize,
    /// Whether the methods of one prompt share its prefill (absent from `eval.json` files that
    /// predate the setting: they ran per method).
    #[serde(default, skip_serializing_if = "PromptPrefill::is_per_method")]
    pub prefill: PromptPrefill,
}

/// How the prompt reaches the models' caches in an evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromptPrefill {
    /// Every method prefills the prompt itself, in fresh sessions: its times and target calls
    /// include the prefill.
    #[default]
    PerMethod,
    /// The prompt is prefilled once into a target and a draft session that every method of the
    /// prompt then continues (the decode loop keeps the common prefix): no method's times or
    /// target calls include the prefill, and a long prompt (eight shots) is not paid once per
    /// method. Outputs are the same.
    Shared,
}

impl PromptPrefill {
    /// Whether this is [`PromptPrefill::PerMethod`] (the default, left out of `eval.json`).
    pub fn is_per_method(&self) -> bool {
        *self == PromptPrefill::PerMethod
    }
}

impl EvalSettings {
    /// File name inside the results directory.
    pub const FILE: &'static str = "eval.json";

    /// The settings of an evaluation of a task given in code: the task's name (also its
    /// data's), the two models' names, the oracle's name, the window `k` and the response
    /// budget; plain prompts, no wording variant, no dtype label, one prefill per prompt
    /// shared by its methods. The `with_` methods set the rest.
    pub fn new(
        task: impl Into<String>,
        target: &autojudge_core::ModelInfo,
        draft: &autojudge_core::ModelInfo,
        oracle: &dyn autojudge_tasks::Oracle,
        k: usize,
        max_new_tokens: usize,
    ) -> Self {
        let task = task.into();
        EvalSettings {
            data: task.clone(),
            task,
            oracle: oracle.name(),
            chat: false,
            wording: String::new(),
            target: target.name.clone(),
            draft: draft.name.clone(),
            dtype: String::new(),
            k,
            max_new_tokens,
            prefill: PromptPrefill::Shared,
        }
    }

    /// The dataset's name (default: the task's).
    pub fn with_data(mut self, data: impl Into<String>) -> Self {
        self.data = data.into();
        self
    }

    /// The engine's precision or variant label (default empty).
    pub fn with_dtype(mut self, dtype: impl Into<String>) -> Self {
        self.dtype = dtype.into();
        self
    }

    /// How the prompt reaches the caches (default [`PromptPrefill::Shared`]).
    pub fn with_prefill(mut self, prefill: PromptPrefill) -> Self {
        self.prefill = prefill;
        self
    }

    /// The settings of an existing results directory.
    pub fn load(dir: &Path) -> EvalResult<Self> {
        Ok(autojudge_runs::read_settings(&dir.join(Self::FILE))?)
    }

    /// Writes the settings into a new directory, or checks them against an existing one.
    pub fn check_or_write(&self, dir: &Path) -> EvalResult<()> {
        Ok(autojudge_runs::check_or_write_settings(
            &dir.join(Self::FILE),
            self,
            &[],
        )?)
    }

    /// A one-line title for reports: task, data, prompt count, models, k, budget.
    pub fn title(&self, prompts: usize) -> String {
        format!(
            "{} on {} ({prompts} prompts), target {}, draft {}, k = {}, max {} new tokens",
            self.task, self.data, self.target, self.draft, self.k, self.max_new_tokens
        )
    }
}
