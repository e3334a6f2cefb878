//! The `--draft` flag shared by the commands: a model path, `self:PLAN` (a self-speculative
//! view of the target) or `ngram`, and greedy lossless speculative generation with it.

use autojudge_core::{check_same_tokenizer, TargetModel, TokenId};
use autojudge_decode::policies::ExactMatch;
use autojudge_decode::{
    generate_speculative, DecodeConfig, Generation, Hooks, ModelDrafter, NgramDrafter,
};
use autojudge_models::{load_model, LayerPlan, Llama, LoadOptions};
use burn::tensor::backend::Backend;

/// A parsed `--draft`.
pub enum DraftChoice<B: Backend> {
    /// A draft model (separate checkpoint or a view of the target).
    Model(Llama<B>),
    /// Prompt lookup.
    Ngram,
}

impl<B: Backend> DraftChoice<B> {
    /// Parses `spec` against `target`; a separate model must share the target's tokenizer.
    pub fn parse(
        spec: &str,
        target: &Llama<B>,
        opts: &LoadOptions,
        device: &B::Device,
    ) -> anyhow::Result<Self> {
        if spec == "ngram" {
            return Ok(DraftChoice::Ngram);
        }
        if let Some(plan) = spec.strip_prefix("self:") {
            return Ok(DraftChoice::Model(target.draft_view(
                plan.parse::<LayerPlan>().map_err(anyhow::Error::msg)?,
            )?));
        }
        let m = load_model::<B>(std::path::Path::new(spec), opts, device)?.model;
        check_same_tokenizer(m.info(), target.info())?;
        Ok(DraftChoice::Model(m))
    }

    /// Greedy lossless speculative generation (exact-match acceptance).
    pub fn generate(
        &self,
        target: &Llama<B>,
        prompt: &[TokenId],
        cfg: &DecodeConfig,
        hooks: Hooks<'_>,
    ) -> anyhow::Result<Generation> {
        let mut t = target.new_session()?;
        Ok(match self {
            DraftChoice::Model(m) => generate_speculative(
                &mut t,
                &mut ModelDrafter::new(m.new_session()?),
                &mut ExactMatch,
                prompt,
                cfg,
                hooks,
            )?,
            DraftChoice::Ngram => generate_speculative(
                &mut t,
                &mut NgramDrafter::new(target.info().vocab_size),
                &mut ExactMatch,
                prompt,
                cfg,
                hooks,
            )?,
        })
    }
}

/// A target with its tokenizer, a draft model (not n-gram: mining and evaluation need its
/// hidden states) and the chat template when prompts use it.
pub struct ModelPair<B: Backend> {
    /// Target model.
    pub target: Llama<B>,
    /// Draft model (separate checkpoint or a view of the target).
    pub draft: Llama<B>,
    /// The target's tokenizer.
    pub tokenizer: autojudge_models::LlmTokenizer,
    /// Chat template, when the task's prompts use it.
    pub template: Option<autojudge_models::ChatTemplate>,
}

impl<B: Backend> ModelPair<B> {
    /// The pair, its tokenizer and `oracle` as the search and evaluation libraries take them.
    pub fn search_models<'a>(
        &'a self,
        oracle: &'a dyn autojudge_tasks::Oracle,
    ) -> autojudge_search::SearchModels<'a, Llama<B>, Llama<B>> {
        autojudge_search::SearchModels {
            target: &self.target,
            draft: &self.draft,
            tokenizer: &self.tokenizer,
            oracle,
        }
    }

    /// Loads the target of `model`, parses `draft` against it and picks the prompt template.
    pub fn load(
        model: &crate::device::ModelArgs,
        draft: &str,
        task: &crate::task_choice::TaskArgs,
        device: &B::Device,
    ) -> anyhow::Result<Self> {
        let loaded = load_model::<B>(&model.model, &model.load_options(), device)?;
        let DraftChoice::Model(draft_model) =
            DraftChoice::parse(draft, &loaded.model, &model.load_options(), device)?
        else {
            anyhow::bail!("--draft {draft}: a draft model is needed (hidden states), not n-gram");
        };
        check_same_tokenizer(draft_model.info(), loaded.model.info())?;
        let template = if task.uses_chat(loaded.chat_template.is_some())? {
            loaded.chat_template
        } else {
            None
        };
        Ok(ModelPair {
            target: loaded.model,
            draft: draft_model,
            tokenizer: loaded.tokenizer,
            template,
        })
    }
}
