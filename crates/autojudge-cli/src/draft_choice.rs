//! The `--draft` flag shared by the commands: a model path, `self:PLAN` (a self-speculative
//! view of the target) or `ngram`, and greedy lossless speculative generation with it.

use autojudge_core::{check_same_tokenizer, TargetModel, TokenId};
use autojudge_decode::policy::ExactMatch;
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
