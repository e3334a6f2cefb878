//! The paper's experiment on GSM8K, end to end: mine important tokens on the train split,
//! train the DT and DD-DT judges, and evaluate target-only, lossless speculative decoding,
//! top-k, target-probability and AutoJudge on the test split, writing tables and plots.
//!
//! ```bash
//! cargo run --release --example gsm8k_eval -- \
//!   --model ~/.cache/autojudge/models/SmolLM2-135M-Instruct.Q4_1.gguf --out results/smollm2
//! ```
//!
//! Same flags as `autojudge pipeline` (it is the same code); rerunning resumes.

use autojudge_cli::commands::pipeline::{run, PipelineArgs};
use clap::Parser;

/// Flags of the GSM8K pipeline.
#[derive(Parser)]
#[command(
    name = "gsm8k_eval",
    about = "AutoJudge on GSM8K: mine, train, evaluate"
)]
struct Cli {
    #[command(flatten)]
    pipeline: PipelineArgs,
}

fn main() -> anyhow::Result<()> {
    run(Cli::parse().pipeline)
}
