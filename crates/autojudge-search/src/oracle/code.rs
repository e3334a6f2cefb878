//! The code oracle (HumanEval): extract the function from the response, run the task's unit
//! tests with `python3` in a fresh temporary directory, with a timeout and sockets disabled.
//! Outcome: `pass` or `fail` (a timeout or crash of the program is a `fail`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Answer, Oracle, OracleError};
use crate::Task;

/// Runs HumanEval-style tests.
#[derive(Clone, Debug)]
pub struct CodeOracle {
    /// Python interpreter.
    pub python: PathBuf,
    /// Wall-clock limit per test run.
    pub timeout: Duration,
}

impl Default for CodeOracle {
    fn default() -> Self {
        CodeOracle {
            python: PathBuf::from("python3"),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Prepended to every program: no network from generated code.
const NO_NETWORK: &str = "import socket as _aj_socket\n\
def _aj_no_network(*_a, **_k):\n    raise OSError('network disabled by autojudge')\n\
_aj_socket.socket = _aj_no_network\n_aj_socket.create_connection = _aj_no_network\n\
del _aj_socket\n";

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
    format!(
        "{NO_NETWORK}{body}\n\n{}\n\ncheck({})\n",
        task.test, task.entry_point
    )
}

impl CodeOracle {
    /// Runs `source` in a fresh temp dir; `Ok(true)` when it exits with status 0 in time.
    pub fn run_program(&self, source: &str) -> Result<bool, OracleError> {
        let dir = tempfile::tempdir().map_err(|e| OracleError::Unavailable(e.to_string()))?;
        let file = dir.path().join("solution.py");
        std::fs::write(&file, source).map_err(|e| OracleError::Unavailable(e.to_string()))?;
        let mut child = Command::new(&self.python)
            .arg("-I")
            .arg(&file)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                OracleError::Unavailable(format!("cannot run {}: {e}", self.python.display()))
            })?;
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status.success()),
                Ok(None) if start.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(false);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(OracleError::Unavailable(e.to_string())),
            }
        }
    }
}

impl Oracle for CodeOracle {
    fn name(&self) -> String {
        format!("code(python;timeout={}s)", self.timeout.as_secs_f64())
    }

    fn answer(&self, task: &Task, response: &str) -> Result<Answer, OracleError> {
        let code = task.code.as_ref().ok_or_else(|| OracleError::WrongTask {
            task: task.id.clone(),
            reason: "no unit tests".into(),
        })?;
        let passed = self.run_program(&program(code, response))?;
        Ok(Answer::found(if passed { "pass" } else { "fail" }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CodeTask;

    fn task() -> Task {
        Task {
            index: 0,
            id: "t/0".into(),
            user_prompt: String::new(),
            gold: Some("pass".into()),
            code: Some(CodeTask {
                prompt: "import math\n\ndef add(a, b):\n    \"\"\"Add.\"\"\"\n".into(),
                test: "def check(f):\n    assert f(2, 3) == 5\n".into(),
                entry_point: "add".into(),
            }),
        }
    }

    fn python_available() -> bool {
        Command::new("python3")
            .arg("-c")
            .arg("pass")
            .status()
            .is_ok_and(|s| s.success())
    }

    #[test]
    fn extracts_the_block_with_the_function() {
        let r = "Here:\n```python\nprint(1)\n```\nand\n```python\ndef add(a, b):\n    return a + b\n```\n";
        assert_eq!(extract_code(r, "add"), "def add(a, b):\n    return a + b\n");
        assert_eq!(extract_code("    return a+b", "add"), "    return a+b");
    }

    #[test]
    fn pass_fail_and_timeout() {
        if !python_available() {
            eprintln!("python3 not found; skipping");
            return;
        }
        let o = CodeOracle {
            timeout: Duration::from_secs(2),
            ..CodeOracle::default()
        };
        let t = task();
        let ok = o
            .answer(&t, "```python\ndef add(a, b):\n    return a + b\n```")
            .unwrap();
        assert_eq!(ok, Answer::found("pass"));
        assert_eq!(o.is_correct(&t, &ok), Some(true));
        let body = o.answer(&t, "    return a + b\n").unwrap();
        assert_eq!(body, Answer::found("pass"));
        let wrong = o
            .answer(&t, "```python\ndef add(a, b):\n    return a - b\n```")
            .unwrap();
        assert_eq!(wrong, Answer::found("fail"));
        let slow = o
            .answer(&t, "```python\ndef add(a, b):\n    while True: pass\n```")
            .unwrap();
        assert_eq!(slow, Answer::found("fail"));
        let net = o
            .answer(&t, "```python\nimport socket\ndef add(a, b):\n    socket.socket()\n    return a + b\n```")
            .unwrap();
        assert_eq!(net, Answer::found("fail"));
    }

    #[test]
    fn missing_interpreter_is_an_oracle_error() {
        let o = CodeOracle {
            python: "/nonexistent/python".into(),
            ..CodeOracle::default()
        };
        assert!(matches!(
            o.answer(&task(), "x"),
            Err(OracleError::Unavailable(_))
        ));
    }
}
