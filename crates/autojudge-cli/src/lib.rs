//! The application layer of the `autojudge` command line: one module per subcommand, shared
//! flags, and the GSM8K pipeline. A library so that `examples/gsm8k_eval` runs the very same
//! code as `autojudge pipeline`.

pub mod commands;
pub mod device;
pub mod draft_choice;
pub mod list_arg;
pub mod parallel_arg;
pub mod task_choice;
