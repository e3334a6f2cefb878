//! `autojudge serve`: the OpenAI-compatible server of `autojudge-serve` over the burn models:
//! a target, optionally a draft (lossless decoding) and a judge (AutoJudge decoding).

use std::path::PathBuf;
use std::sync::Arc;

use autojudge_classifier::{load_judge, JudgeModel};
use autojudge_core::{TargetModel, TextTokenizer, Threshold};
use autojudge_models::{load_model, Llama};
use autojudge_serve::{ChatMessage, MethodName, Pool, ServeConfig, ServedModels};
use clap::{Args, ValueEnum};

use crate::device::ModelArgs;
use crate::draft_choice::DraftChoice;
use crate::numeric_flag::{CONCURRENT, NEW_TOKENS, PORT, QUEUE, THRESHOLD, WINDOW};
use crate::with_backend;

/// A method as the flag names it.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodFlag {
    /// The target alone.
    TargetOnly,
    /// Lossless speculative decoding (needs --draft).
    Lossless,
    /// AutoJudge (needs --draft and --judge).
    Autojudge,
}

impl From<MethodFlag> for MethodName {
    fn from(m: MethodFlag) -> Self {
        match m {
            MethodFlag::TargetOnly => MethodName::TargetOnly,
            MethodFlag::Lossless => MethodName::Lossless,
            MethodFlag::Autojudge => MethodName::Autojudge,
        }
    }
}

/// Arguments of `serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Draft for lossless and AutoJudge decoding: a model path or `self:PLAN`.
    #[arg(long)]
    pub draft: Option<String>,
    /// Judge file (`autojudge train`) for AutoJudge decoding; needs --draft.
    #[arg(long)]
    pub judge: Option<PathBuf>,
    /// Default judge threshold (default: the judge file's).
    #[arg(long, value_parser = THRESHOLD.parser::<f64>())]
    pub threshold: Option<f64>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8000, value_parser = PORT.parser::<u16>())]
    pub port: u16,
    /// The model id clients name (default: the model file's stem).
    #[arg(long)]
    pub served_name: Option<String>,
    /// Requests decoded at once (their forwards are batched together).
    #[arg(long, default_value_t = 8, value_parser = CONCURRENT.parser::<usize>())]
    pub max_concurrent: usize,
    /// Requests waiting for a worker before new ones get 429.
    #[arg(long, default_value_t = 64, value_parser = QUEUE.parser::<usize>())]
    pub max_queue: usize,
    /// Default draft window k.
    #[arg(long, default_value_t = 8, value_parser = WINDOW.parser::<usize>())]
    pub k: usize,
    /// New tokens when a request names no max_tokens.
    #[arg(long, default_value_t = 256, value_parser = NEW_TOKENS.parser::<usize>())]
    pub default_max_tokens: usize,
    /// Method when a request names none (default: autojudge with a judge, else lossless with a
    /// draft, else target-only).
    #[arg(long, value_enum)]
    pub method: Option<MethodFlag>,
}

/// The models' chat template as the server takes it.
struct Template(autojudge_models::ChatTemplate);

impl autojudge_serve::ChatTemplate for Template {
    fn render(&self, messages: &[ChatMessage]) -> Result<String, autojudge_core::BoxError> {
        let m: Vec<autojudge_models::ChatMessage> = messages
            .iter()
            .map(|m| autojudge_models::ChatMessage {
                role: m.role.clone(),
                content: m.content.clone(),
            })
            .collect();
        Ok(self.0.render(&m, true)?)
    }
}

/// Runs `serve`.
pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    with_backend!(a.model.device, |B, device| serve::<B>(&a, &device))
}

fn serve<B: burn::tensor::backend::Backend>(a: &ServeArgs, device: &B::Device) -> anyhow::Result<()>
where
    Llama<B>: 'static,
{
    let loaded = load_model::<B>(&a.model.model, &a.model.load_options(), device)?;
    let target = loaded.model.draft_view(a.model.layers.clone())?;
    let draft = match a.draft.as_deref() {
        None => None,
        Some(spec) => match DraftChoice::parse(spec, &target, &a.model.load_options(), device)? {
            DraftChoice::Model(m) => Some(m),
            DraftChoice::Ngram => anyhow::bail!("--draft ngram: serve needs a draft model"),
        },
    };
    let judge = match &a.judge {
        None => None,
        Some(path) => {
            let d = draft
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("--judge needs --draft"))?;
            let (judge, meta) = load_judge(path)?;
            meta.check_pair(path, target.info(), Some(d.info()))?;
            let threshold = match a.threshold {
                Some(t) => Threshold::new(t).map_err(|e| anyhow::anyhow!("--threshold: {e}"))?,
                None => meta.threshold,
            };
            Some((judge, threshold))
        }
    };
    let name = a.served_name.clone().unwrap_or_else(|| {
        a.model
            .model
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
    });
    let tokenizer: Arc<dyn TextTokenizer> = Arc::new(loaded.tokenizer);
    let models = ServedModels::<Llama<B>, Llama<B>, JudgeModel> {
        name: name.clone(),
        target,
        draft,
        tokenizer,
        chat: loaded
            .chat_template
            .map(|t| Arc::new(Template(t)) as Arc<dyn autojudge_serve::ChatTemplate>),
        judge,
    };
    let config = ServeConfig {
        max_concurrent: a.max_concurrent,
        max_queue: a.max_queue,
        draft_window: a.k,
        max_draft_window: a.k.max(ServeConfig::default().max_draft_window),
        default_max_tokens: a.default_max_tokens,
        default_method: a.method.map(MethodName::from),
        ..ServeConfig::default()
    };
    let pool = Arc::new(Pool::start(models, config)?);
    let addr = format!("{}:{}", a.host, a.port);
    autojudge_serve::run(
        Arc::clone(&pool) as Arc<dyn autojudge_serve::Generator>,
        &addr,
        autojudge_serve::shutdown_signal(),
        |local| {
            eprintln!(
                "serving `{name}` on http://{local} (OpenAI API under /v1; /health, /metrics)"
            )
        },
    )?;
    eprintln!("stopped: every request in flight has finished");
    Ok(())
}
