//! `autojudge`: the command line of autojudge-rs.

mod commands;
mod device;
mod draft_choice;

use clap::{Parser, Subcommand};

/// AutoJudge: task-specific lossy speculative decoding.
#[derive(Parser)]
#[command(name = "autojudge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text with a model, streaming tokens and printing tok/s.
    Generate(commands::generate::GenerateArgs),
    /// Measure prefill, decode and extend-k costs of a model.
    BenchModel(commands::bench_model::BenchModelArgs),
    /// Compare target-only and speculative decoding on GSM8K prompts.
    BenchDecode(commands::bench_decode::BenchDecodeArgs),
    /// Measure self-speculative draft views: agreement with the target and cost.
    DraftSweep(commands::draft_sweep::DraftSweepArgs),
    /// Print a GGUF file's metadata and tensor directory.
    Inspect(commands::inspect::InspectArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate(a) => commands::generate::run(a),
        Command::BenchModel(a) => commands::bench_model::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::BenchDecode(a) => commands::bench_decode::run(a),
        Command::DraftSweep(a) => commands::draft_sweep::run(a),
    }
}
