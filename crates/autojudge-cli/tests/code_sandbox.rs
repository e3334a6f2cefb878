//! HumanEval commands refuse to start, before any model loads, when the code sandbox cannot
//! be set up; `--unsafe-no-sandbox` is the only way past that.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autojudge"))
}

fn humaneval() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/humaneval/HumanEval.jsonl.gz")
}

/// A PATH holding prlimit but no bwrap: the machine "without the isolation".
fn path_without_bwrap(dir: &Path) -> String {
    let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("util-linux's prlimit (the test command installs it)");
    std::os::unix::fs::symlink(prlimit, dir.join("prlimit")).unwrap();
    dir.display().to_string()
}

fn mine(path: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .env("PATH", path)
        .args([
            "mine",
            "--task",
            "humaneval",
            "--model",
            "/nonexistent/model.gguf",
        ])
        .arg("--data")
        .arg(humaneval())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn without_bwrap_a_code_task_refuses_to_start_with_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_without_bwrap(dir.path());
    let out_dir = dir.path().join("mined");
    let out = mine(&path, &out_dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("needs `bwrap`"), "{stderr}");
    assert!(stderr.contains("apt-get install bubblewrap"), "{stderr}");
    assert!(stderr.contains("--unsafe-no-sandbox"), "{stderr}");
    // Refused before the model was opened and before anything was written.
    assert!(!stderr.contains("nonexistent/model.gguf"), "{stderr}");
    assert!(!out_dir.exists());
}

#[test]
fn unsafe_no_sandbox_gets_past_the_sandbox_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_without_bwrap(dir.path());
    let out = mine(&path, &dir.path().join("mined"), &["--unsafe-no-sandbox"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "no model: it must still fail, later");
    assert!(stderr.contains("warning: --unsafe-no-sandbox"), "{stderr}");
    assert!(stderr.contains("nonexistent/model.gguf"), "{stderr}");
}

#[test]
fn an_interpreter_the_sandbox_cannot_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("mined");
    let path = std::env::var("PATH").unwrap_or_default();
    let out = mine(&path, &out_dir, &["--code-python", "/nonexistent/python3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot be set up"), "{stderr}");
    assert!(stderr.contains("/nonexistent/python3"), "{stderr}");
    assert!(!out_dir.exists());
}
