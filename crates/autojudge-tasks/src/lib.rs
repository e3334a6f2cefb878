//! The tasks AutoJudge mines and evaluates on, engine-agnostic: dataset readers and prompt
//! wordings ([`read_gsm8k`], [`read_humaneval`], [`Gsm8kWording`]), the answer oracles that
//! decide whether a response's answer changed ([`Gsm8kOracle`], [`CodeOracle`]), and the
//! [`Sandbox`] that runs model-written code.
//!
//! The search (`autojudge-search`) and the evaluation (`autojudge-eval`) take a [`Task`] and
//! an [`Oracle`] from here; a program with its own task builds `Task`s and implements
//! `Oracle` itself.

mod error;
mod oracle;
mod task;

pub use error::{TaskError, TaskResult};
pub use oracle::code::{
    extract_code, CodeOracle, Isolation, ProgramOutcome, Sandbox, SandboxError, SandboxLimits,
    HARNESS, SANDBOX_PATH,
};
pub use oracle::gsm8k::{normalize_number, AnswerFallback, Gsm8kOracle};
pub use oracle::{Answer, Oracle, OracleError};
pub use task::{
    read_gsm8k, read_humaneval, CodeTask, Gsm8kWording, Task, TaskLine, GSM8K_INSTRUCTION,
    GSM8K_PREAMBLE, GSM8K_SHOTS, HUMANEVAL_INSTRUCTION,
};
