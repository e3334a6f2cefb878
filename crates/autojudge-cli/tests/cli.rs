//! The `autojudge` binary end to end: errors name the file; on the embedded SmolLM2 (when
//! fetched by the test command) `generate` streams text and `bench-decode` reports identical speculative output.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autojudge"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The embedded SmolLM2 GGUF (`AUTOJUDGE_SMOLLM`, else the cache `scripts/fetch-models.sh
/// smollm` fills); a test that needs it fails with that instruction when it is absent.
fn smollm() -> PathBuf {
    const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
    [
        std::env::var_os("AUTOJUDGE_SMOLLM").map(PathBuf::from),
        std::env::var_os("AUTOJUDGE_MODELS").map(|d| PathBuf::from(d).join(FILE)),
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/autojudge/models").join(FILE)),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.exists())
    .unwrap_or_else(|| {
        panic!("{FILE} not found: run `scripts/fetch-models.sh smollm` or set AUTOJUDGE_SMOLLM")
    })
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
    let m = smollm();
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
    let m = smollm();
    let data = root().join("data/gsm8k/test.jsonl");
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
