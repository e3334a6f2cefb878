//! The code oracle (HumanEval): extract the function from the response and run the task's
//! unit tests in the [`Sandbox`]. Outcome: `pass` when the tests returned normally, `fail`
//! otherwise (an exception, an exit, a limit, a timeout).

mod sandbox;

pub use sandbox::{
    Isolation, ProgramOutcome, Sandbox, SandboxError, SandboxLimits, HARNESS, SANDBOX_PATH,
};

use autojudge_core::ErrorChain;

use super::{Answer, Oracle, OracleError};
use crate::Task;

/// Runs HumanEval-style tests in a [`Sandbox`].
#[derive(Clone, Debug)]
pub struct CodeOracle {
    sandbox: Sandbox,
}

/// The code of `response`: the fenced block defining `entry_point`, else the first fenced
/// block, else the whole text.
pub fn extract_code(response: &str, entry_point: &str) -> String {
    let mut blocks = Vec::new();
    let mut rest = response;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let body_start = after.find('\n').map_or(after.len(), |n| n + 1);
        let body = &after[body_start..];
        let end = body.find("```").unwrap_or(body.len());
        blocks.push(body[..end].to_string());
        rest = &body[(end + 3).min(body.len())..];
    }
    let def = format!("def {entry_point}(");
    blocks
        .iter()
        .find(|b| b.contains(&def))
        .or(blocks.first())
        .cloned()
        .unwrap_or_else(|| response.to_string())
}

/// The program that tests `response` for `task`.
pub fn program(task: &crate::CodeTask, response: &str) -> String {
    let code = extract_code(response, &task.entry_point);
    let body = if code.contains(&format!("def {}(", task.entry_point)) {
        // A whole function: keep the prompt's imports (and helpers) before it.
        format!("{}\n{}", task.prompt, code)
    } else {
        // A bare body continuing the prompt.
        format!("{}{}", task.prompt, code)
    };
    format!("{body}\n\n{}\n\ncheck({})\n", task.test, task.entry_point)
}

impl CodeOracle {
    /// An oracle running every program in `sandbox`.
    pub fn new(sandbox: Sandbox) -> Self {
        CodeOracle { sandbox }
    }

    /// The sandbox the tests run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Runs `source` once in the sandbox.
    pub fn run_program(&self, source: &str) -> Result<ProgramOutcome, OracleError> {
        self.sandbox
            .run(source)
            .map_err(|e| OracleError::Unavailable(ErrorChain(&e).to_string()))
    }
}

impl Oracle for CodeOracle {
    fn name(&self) -> String {
        format!(
            "code(python;sandbox={};timeout={}s)",
            self.sandbox.isolation(),
            self.sandbox.limits().wall_time.as_secs_f64()
        )
    }

    fn answer(&self, task: &Task, response: &str) -> Result<Answer, OracleError> {
        let code = task.code.as_ref().ok_or_else(|| OracleError::WrongTask {
            task: task.id.clone(),
            reason: "no unit tests".into(),
        })?;
        let passed = self.run_program(&program(code, response))? == ProgramOutcome::Passed;
        Ok(Answer::found(if passed { "pass" } else { "fail" }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_the_block_with_the_function() {
        let r = "Here:\n```python\nprint(1)\n```\nand\n```python\ndef add(a, b):\n    return a + b\n```\n";
        assert_eq!(extract_code(r, "add"), "def add(a, b):\n    return a + b\n");
        assert_eq!(extract_code("    return a+b", "add"), "    return a+b");
    }

    #[test]
    fn the_program_is_prompt_code_tests_and_the_check_call() {
        let task = crate::CodeTask {
            prompt: "import math\n\ndef add(a, b):\n".into(),
            test: "def check(f):\n    assert f(2, 3) == 5\n".into(),
            entry_point: "add".into(),
        };
        let whole = program(&task, "```python\ndef add(a, b):\n    return a + b\n```");
        assert!(
            whole.starts_with("import math\n\ndef add(a, b):\n\ndef add(a, b):\n    return a + b")
        );
        assert!(whole.ends_with("check(add)\n"));
        let body = program(&task, "    return a + b\n");
        assert!(body.starts_with("import math\n\ndef add(a, b):\n    return a + b\n"));
    }
}
