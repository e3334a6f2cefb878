//! `autojudge`: the command line of autojudge-rs.

use autojudge_cli::commands;

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
    /// Greedy outputs under two projection dtypes on GSM8K prompts: which change, from where.
    DtypeAgreement(commands::dtype_agreement::DtypeAgreementArgs),
    /// Measure self-speculative draft views: agreement with the target and cost.
    DraftSweep(commands::draft_sweep::DraftSweepArgs),
    /// Mine important tokens (semi-greedy search) into a resumable directory.
    Mine(commands::mine::MineArgs),
    /// Join the shard directories of one mining run.
    Merge(commands::merge::MergeArgs),
    /// Figures of mined directories; with two, whether their labels are identical.
    MineStats(commands::merge::MineStatsArgs),
    /// The whole AutoJudge experiment: mine on train, train a judge per feature set, evaluate
    /// every method on test (each step resumes).
    Pipeline(commands::pipeline::PipelineArgs),
    /// Evaluate every decoding method (baselines and AutoJudge) on the same test prompts.
    Eval(commands::eval::EvalArgs),
    /// One report (summary, table, plots) from evaluation directories run in parallel.
    Report(commands::combine::ReportArgs),
    /// Train the judge on mined directories.
    Train(commands::train::TrainArgs),
    /// Validation AUC of each feature set against the number of training prompts.
    LearningCurve(commands::learning_curve::LearningCurveArgs),
    /// Print a GGUF file's metadata and tensor directory.
    Inspect(commands::inspect::InspectArgs),
}

/// Keeps freed large buffers (activations, logits, the KV growth of a prefill) in glibc's heap
/// for reuse: above its default mmap threshold every such buffer is a fresh mapping whose pages
/// the kernel faults in and zeroes on first touch (measured: 17% of a Qwen 1.5B prefill).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_buffers_in_the_heap() {
    // SAFETY: mallopt only adjusts allocator thresholds; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 2 << 30);
    }
}

fn main() -> anyhow::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_large_buffers_in_the_heap();
    let cli = Cli::parse();
    match cli.command {
        Command::Generate(a) => commands::generate::run(a),
        Command::BenchModel(a) => commands::bench_model::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::BenchDecode(a) => commands::bench_decode::run(a),
        Command::DraftSweep(a) => commands::draft_sweep::run(a),
        Command::DtypeAgreement(a) => commands::dtype_agreement::run(a),
        Command::Mine(a) => commands::mine::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::LearningCurve(a) => commands::learning_curve::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Pipeline(a) => commands::pipeline::run(a),
        Command::Report(a) => commands::combine::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::MineStats(a) => commands::merge::run_stats(a),
    }
}
