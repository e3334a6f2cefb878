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

#[test]
fn a_parallel_count_whose_kv_caches_cannot_fit_is_refused_before_any_work() {
    let m = smollm();
    let out_dir = std::env::temp_dir().join(format!("aj-parallel-oom-{}", std::process::id()));
    let out = bin()
        .args([
            "mine",
            "--parallel",
            "256",
            "--max-new-tokens",
            "7000",
            "--prompts",
            "1",
            "--model",
        ])
        .arg(&m)
        .arg("--data")
        .arg(root().join("data/gsm8k/train.jsonl"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--parallel 256") && err.contains("GiB of KV cache"),
        "{err}"
    );
    assert!(!out_dir.exists(), "nothing written before the check");
}

#[test]
#[cfg_attr(
    not(feature = "random-models"),
    ignore = "`--random-shape` needs --features random-models (the test command turns it on)"
)]
fn bench_model_reports_batched_throughput_per_batch_size() {
    let out = bin()
        .args([
            "bench-model",
            "--random-shape",
            "smollm2-135m",
            "--model",
            "unused",
            "--prefill",
            "16",
            "--decode",
            "2",
            "--reps",
            "1",
            "--ks",
            "4",
            "--batch",
            "1,3",
            "--batch-k",
            "2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("batch"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        header.contains("ms/verify-2") && header.contains("x B=1"),
        "{header}"
    );
    let sizes: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("batch"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(sizes, ["1", "3"], "{stdout}");
}
