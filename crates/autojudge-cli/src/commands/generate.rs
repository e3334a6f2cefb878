//! `autojudge generate`: greedy generation with streamed output, target-only or speculative
//! (`--draft`), through the same decode loop as the benchmarks.

use std::io::Write;
use std::time::Instant;

use autojudge_core::{TargetModel, TextTokenizer, TokenId};
use autojudge_decode::{generate_target_only, DecodeConfig, Hooks};
use autojudge_models::{load_model, ChatMessage};
use clap::Args;

use crate::device::ModelArgs;
use crate::draft_choice::DraftChoice;
use crate::numeric_flag::{NEW_TOKENS, WINDOW};
use crate::with_backend;

/// Arguments of `generate`.
#[derive(Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The prompt.
    #[arg(long)]
    pub prompt: String,
    /// Wrap the prompt as a user turn with the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// Maximum new tokens.
    #[arg(long, default_value_t = 128, value_parser = NEW_TOKENS.parser::<usize>())]
    pub max_new_tokens: usize,
    /// Speculative decoding with this draft: a model path, `self:exit:N`, `self:skip:A,B` or `ngram`.
    #[arg(long)]
    pub draft: Option<String>,
    /// Draft window.
    #[arg(long, default_value_t = 4, value_parser = WINDOW.parser::<usize>())]
    pub k: usize,
}

/// Runs `generate`.
pub fn run(a: GenerateArgs) -> anyhow::Result<()> {
    with_backend!(a.model.device, |B, device| generate::<B>(&a, &device))
}

fn generate<B: burn::tensor::backend::Backend>(
    a: &GenerateArgs,
    device: &B::Device,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let loaded = load_model::<B>(&a.model.model, &a.model.load_options(), device)?;
    let model = loaded.model.draft_view(a.model.layers.clone())?;
    let draft = a
        .draft
        .as_deref()
        .map(|d| DraftChoice::parse(d, &model, &a.model.load_options(), device))
        .transpose()?;
    eprintln!(
        "loaded {} in {:.2}s",
        model.info().name,
        t0.elapsed().as_secs_f64()
    );
    let text = if a.chat {
        let t = loaded
            .chat_template
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{} has no chat template", a.model.model.display()))?;
        t.render(&[ChatMessage::user(a.prompt.clone())], true)?
    } else {
        a.prompt.clone()
    };
    let tok = &loaded.tokenizer;
    let prompt = tok.encode(&text, true)?;
    // Stream: decode everything emitted so far, print what is new (whole characters only).
    let mut emitted: Vec<TokenId> = Vec::new();
    let mut printed = 0usize;
    let mut stream = |new: &[TokenId]| {
        emitted.extend_from_slice(new);
        if let Ok(text) = tok.decode(&emitted) {
            if text.len() > printed && text.is_char_boundary(printed) && !text.ends_with('\u{fffd}')
            {
                print!("{}", &text[printed..]);
                let _ = std::io::stdout().flush();
                printed = text.len();
            }
        }
    };
    let cfg = DecodeConfig::greedy(a.k, a.max_new_tokens);
    let hooks = Hooks {
        tokenizer: None,
        on_tokens: Some(&mut stream),
        cancel: None,
    };
    let g = match &draft {
        None => generate_target_only(&mut model.new_session()?, &prompt, &cfg, hooks)?,
        Some(d) => d.generate(&model, &prompt, &cfg, hooks)?,
    };
    // What the stream held back (an unfinished character at the end) is printed as decoded.
    let text = tok.decode(&g.tokens)?;
    if text.len() > printed && text.is_char_boundary(printed) {
        print!("{}", &text[printed..]);
    }
    println!();
    let s = &g.stats;
    eprintln!(
        "prompt {} tokens; generated {} tokens in {:.2}s ({:.2} tok/s, prefill included); stop: {:?}",
        prompt.len(),
        g.tokens.len(),
        s.wall_time.as_secs_f64(),
        g.tokens.len() as f64 / s.wall_time.as_secs_f64().max(1e-9),
        g.stop
    );
    if draft.is_some() {
        eprintln!(
            "speculative: {:.2} accepted draft tokens per cycle, {:.3} target calls per token, {} draft calls",
            s.mean_accepted(),
            s.target_calls_per_token(),
            s.draft_calls
        );
    }
    Ok(())
}
