//! The application layer of the `autojudge` command line: the parsed command line ([`Cli`]),
//! one module per subcommand, shared flags, and the GSM8K pipeline. A library so that
//! `examples/gsm8k_eval` runs the very same code as `autojudge pipeline`, and so that tests can
//! walk every subcommand's flags (`<Cli as clap::CommandFactory>::command()`).

pub mod commands;
pub mod device;
pub mod draft_choice;
pub mod list_arg;
pub mod memory_bandwidth;
pub mod numeric_flag;
pub mod output_guard;
pub mod parallel_arg;
pub mod shared;
pub mod task_choice;

use clap::{CommandFactory, Parser, Subcommand};

/// AutoJudge: task-specific lossy speculative decoding.
#[derive(Parser)]
#[command(
    name = "autojudge",
    version,
    about,
    mut_subcommands = numeric_flag::take_negative_numbers
)]
pub struct Cli {
    /// The subcommand and its flags.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Generate text with a model, streaming tokens and printing tok/s.
    Generate(commands::generate::GenerateArgs),
    /// Serve a model over an OpenAI-compatible HTTP API (target-only, lossless, AutoJudge).
    Serve(commands::serve::ServeArgs),
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
    Report(commands::report::ReportArgs),
    /// Compare evaluations at several draft windows: each family's best gain over lossless SD
    /// that keeps the answers, with plots against tokens per target call.
    OperatingPoints(commands::operating_points::OperatingPointsArgs),
    /// Recompute mined directories' feature files from their records (`--check`: compare
    /// with the stored ones).
    Refeature(commands::refeature::RefeatureArgs),
    /// Train the judge on mined directories.
    Train(commands::train::TrainArgs),
    /// Validation AUC of each feature set against the number of training prompts.
    LearningCurve(commands::learning_curve::LearningCurveArgs),
    /// Print a GGUF file's metadata and tensor directory.
    Inspect(commands::inspect::InspectArgs),
}

impl Cli {
    /// Parses `args` (the program name first) like [`Cli::parse_checked`], returning clap's
    /// error instead of exiting.
    pub fn try_parse_checked_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args)?;
        cli.command.check()?;
        Ok(cli)
    }

    /// Parses the process's command line; a bad flag value (outside its
    /// [`numeric_flag`] domain) or a broken cross-flag constraint exits with clap's usage
    /// error, status 2, before anything is loaded or written.
    pub fn parse_checked() -> Self {
        let cli = Cli::parse();
        if let Err(e) = cli.command.check() {
            e.exit();
        }
        cli
    }
}

/// A usage error (exit status 2) of subcommand `name` with `message`.
fn usage_error(name: &str, message: String) -> clap::Error {
    let mut cmd = Cli::command();
    cmd.build();
    match cmd.find_subcommand_mut(name) {
        Some(sub) => sub.error(clap::error::ErrorKind::ArgumentConflict, message),
        None => cmd.error(clap::error::ErrorKind::ArgumentConflict, message),
    }
}

impl Command {
    /// The constraints between flags, checked right after parsing: a usage error naming the
    /// flags.
    pub fn check(&self) -> Result<(), clap::Error> {
        let (name, result) = match self {
            Command::Mine(a) => ("mine", a.check()),
            Command::Pipeline(a) => ("pipeline", a.check()),
            _ => return Ok(()),
        };
        result.map_err(|m| usage_error(name, m))
    }

    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Generate(a) => commands::generate::run(a),
            Command::Serve(a) => commands::serve::run(a),
            Command::BenchModel(a) => commands::bench_model::run(a),
            Command::Inspect(a) => commands::inspect::run(a),
            Command::BenchDecode(a) => commands::bench_decode::run(a),
            Command::DraftSweep(a) => commands::draft_sweep::run(a),
            Command::DtypeAgreement(a) => commands::dtype_agreement::run(a),
            Command::Mine(a) => commands::mine::run(a),
            Command::Train(a) => commands::train::run(a),
            Command::Refeature(a) => commands::refeature::run(a),
            Command::LearningCurve(a) => commands::learning_curve::run(a),
            Command::Eval(a) => commands::eval::run(a),
            Command::Pipeline(a) => commands::pipeline::run(a),
            Command::Report(a) => commands::report::run(a),
            Command::OperatingPoints(a) => commands::operating_points::run(a),
            Command::Merge(a) => commands::merge::run(a),
            Command::MineStats(a) => commands::merge::run_stats(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
