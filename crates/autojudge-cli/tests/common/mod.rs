//! Helpers shared by the CLI's end-to-end tests: a tiny random GGUF model with a GSM8K-shaped
//! dataset, the mining command on it, and the comparisons of mined directories.
#![allow(dead_code)] // each test crate uses its own subset

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use autojudge_models::tiny::TinyModel;

/// The `autojudge` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autojudge"))
}

/// A tiny random model (`tiny.gguf`) and `questions` GSM8K-shaped lines (`gsm8k.jsonl`) in
/// `dir`.
pub fn setup(dir: &Path, questions: usize) -> (PathBuf, PathBuf) {
    let model = dir.join("tiny.gguf");
    std::fs::write(&model, TinyModel::new(11).layers(3).vocab(300).to_gguf()).unwrap();
    let data = dir.join("gsm8k.jsonl");
    let lines: Vec<String> = (0..questions)
        .map(|i| {
            format!(
                "{{\"question\":\"Tom has {i} apples and buys {} more. How many?\",\"answer\":\"#### {}\"}}",
                i + 3,
                2 * i + 3
            )
        })
        .collect();
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    (model, data)
}

/// The tiny pair's draft (the target's first two layers), plain prompts and lenient labels:
/// the flags mining and evaluation on it share.
pub const TINY_PAIR: [&str; 6] = [
    "--draft",
    "self:exit:2",
    "--prompt-format",
    "plain",
    "--labels",
    "lenient",
];

/// The flags of `autojudge mine` on the tiny pair (draft: the target's first two layers),
/// lenient labels, 40 new tokens: all but `--out`, `--parallel` and `--shard`.
pub fn mine_flags(model: &Path, data: &Path, prompts: usize) -> Vec<OsString> {
    // Lenient labels: mining goes on after an important EOS swap, so a random model yields
    // enough mismatches to train on.
    let mut flags: Vec<OsString> = TINY_PAIR.map(OsString::from).into();
    flags.extend(["--max-new-tokens", "40", "--prompts"].map(OsString::from));
    flags.push(prompts.to_string().into());
    flags.extend(["--model".into(), model.into(), "--data".into(), data.into()]);
    flags
}

/// `autojudge mine` with [`mine_flags`] into `out`, `parallel` prompts at a time, quiet.
pub fn mine_cmd(model: &Path, data: &Path, out: &Path, prompts: usize, parallel: usize) -> Command {
    let mut c = bin();
    c.arg("mine")
        .args(mine_flags(model, data, prompts))
        .args(["--parallel", &parallel.to_string()])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Records without their wall time, and every feature file's bytes.
pub fn content(dir: &Path) -> (Vec<serde_json::Value>, Vec<(String, Vec<u8>)>) {
    let records = std::fs::read_to_string(dir.join("records.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("wall_ms");
            v
        })
        .collect();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("features"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    (records, files)
}

/// Committed prompts of a mined directory (0 before its first).
pub fn records(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("records.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Marks every third mismatch of a mined directory important (a random tiny model's labels
/// are one-class, and training needs both).
pub fn relabel(mined: &Path) {
    let records = std::fs::read_to_string(mined.join("records.jsonl")).unwrap();
    let mut k = 0;
    let relabelled: Vec<String> = records
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for m in v["mismatches"].as_array_mut().into_iter().flatten() {
                k += 1;
                m["important"] = serde_json::Value::Bool(k % 3 == 0);
            }
            v.to_string()
        })
        .collect();
    std::fs::write(mined.join("records.jsonl"), relabelled.join("\n") + "\n").unwrap();
}

/// `prompts` prompts of `data` mined on the tiny pair into `out` (two at a time), relabelled so
/// that a judge can train on them (a random model's labels are one-class).
pub fn mined_and_relabelled(model: &Path, data: &Path, out: &Path, prompts: usize) {
    assert!(mine_cmd(model, data, out, prompts, 2)
        .status()
        .unwrap()
        .success());
    relabel(out);
}

/// A DD-DT judge trained on `mined` into `out` (C fixed to 100, half the prompts validate).
pub fn train_dd_dt(mined: &Path, out: &Path) {
    let o = bin()
        .args(["train", "--features", "dd-dt", "--c-grid", "100"])
        .args(["--val-fraction", "0.5", "--data"])
        .arg(mined)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
