//! `autojudge generate`: greedy or sampled generation with streamed output.

use std::io::Write;
use std::time::Instant;

use autojudge_core::{argmax, ModelSession, Outputs, TargetModel, TextTokenizer, TokenId};
use autojudge_models::{load_model, ChatMessage};
use clap::Args;

use crate::device::ModelArgs;
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
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
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
    let mut session = model.new_session()?;
    let t1 = Instant::now();
    let out = session.extend(&prompt, Outputs::LAST_LOGITS)?;
    let prefill_s = t1.elapsed().as_secs_f64();
    let mut next = argmax(out.logits_row(0)).unwrap_or(0) as TokenId;
    let mut generated: Vec<TokenId> = Vec::new();
    let mut printed = 0usize;
    let eos = &model.info().eos_ids;
    let t2 = Instant::now();
    let stdout = std::io::stdout();
    while generated.len() < a.max_new_tokens && !eos.contains(&next) {
        generated.push(next);
        let text = tok.decode(&generated)?;
        if text.len() > printed && text.is_char_boundary(printed) && !text.ends_with('\u{fffd}') {
            print!("{}", &text[printed..]);
            stdout.lock().flush()?;
            printed = text.len();
        }
        if session.len() + 1 > model.info().max_context {
            break;
        }
        let out = session.extend(&[next], Outputs::LAST_LOGITS)?;
        next = argmax(out.logits_row(0)).unwrap_or(0) as TokenId;
    }
    let decode_s = t2.elapsed().as_secs_f64();
    println!();
    eprintln!(
        "prompt {} tokens in {:.2}s ({:.1} tok/s); generated {} tokens in {:.2}s ({:.2} tok/s)",
        prompt.len(),
        prefill_s,
        prompt.len() as f64 / prefill_s,
        generated.len(),
        decode_s,
        generated.len() as f64 / decode_s.max(1e-9)
    );
    Ok(())
}
