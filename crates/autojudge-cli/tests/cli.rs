//! The `autojudge` binary end to end: errors name the file; on the embedded SmolLM2 (when
//! present) `generate` streams text and `bench-decode` reports identical speculative output.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autojudge"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn smollm() -> Option<PathBuf> {
    let p = std::env::var_os("AUTOJUDGE_SMOLLM")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    p.exists().then_some(p)
}

#[test]
fn missing_model_is_a_clear_error() {
    let out = bin()
        .args([
            "generate",
            "--model",
            "/nonexistent/model.gguf",
            "--prompt",
            "hi",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model.gguf"), "{err}");
}

#[test]
fn generate_streams_text_and_reports_speed() {
    let Some(m) = smollm() else { return };
    let out = bin()
        .args([
            "generate",
            "--chat",
            "--max-new-tokens",
            "12",
            "--prompt",
            "What is 2+3?",
            "--model",
        ])
        .arg(&m)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tok/s"));
}

#[test]
fn bench_decode_speculative_output_is_identical() {
    let Some(m) = smollm() else { return };
    let data = root().join("../shared/data/gsm8k/test.jsonl");
    if !data.exists() {
        return;
    }
    let out = bin()
        .args([
            "bench-decode",
            "--draft",
            "ngram",
            "--ks",
            "4",
            "--prompts",
            "1",
            "--max-new-tokens",
            "24",
            "--model",
        ])
        .arg(&m)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| ngram | 4 |"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        row.ends_with("| 1/1 |"),
        "speculative output differs from target-only: {row}"
    );
}
