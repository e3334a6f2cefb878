//! `mine` → `train` → `eval` end to end on a tiny random GGUF model, and the kill -9 test:
//! a mining run with several prompts in flight, killed at an arbitrary instant and rerun,
//! yields exactly the records and feature files of an uninterrupted one-at-a-time run.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{bin, content, mine_cmd, mined_and_relabelled, records, relabel, setup};

#[test]
fn mining_killed_with_sigkill_resumes_to_identical_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path(), 30);
    let whole = tmp.path().join("whole");
    assert!(mine_cmd(&model, &data, &whole, 30, 1)
        .status()
        .unwrap()
        .success());
    assert_eq!(records(&whole), 30);

    let killed = tmp.path().join("killed");
    let mut interrupted = 0;
    for round in 0..4 {
        // Killed runs mine 4 prompts at once: what is lost is the prompts in flight.
        let mut child = mine_cmd(&model, &data, &killed, 30, 4).spawn().unwrap();
        let before = records(&killed);
        let start = Instant::now();
        // Kill once a record more has been committed (at a varying moment of the next prompt).
        while records(&killed) <= before && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2 + round * 3));
        }
        std::thread::sleep(Duration::from_millis(round * 7));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if records(&killed) < 30 {
            interrupted += 1;
        }
    }
    assert!(interrupted > 0, "the run finished before any kill");
    assert!(mine_cmd(&model, &data, &killed, 30, 3)
        .status()
        .unwrap()
        .success());
    assert_eq!(content(&killed), content(&whole));
}

/// `autojudge pipeline` on a reused (relabelled) mined directory: trains both judges, evaluates
/// the baselines and both judges, writes the report; a rerun retrains nothing and adds no line.
#[test]
fn pipeline_trains_both_judges_and_evaluates_them_resumably() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path(), 24);
    let mined = tmp.path().join("mined");
    mined_and_relabelled(&model, &data, &mined, 16);
    let out = tmp.path().join("pipe");
    let pipeline = || {
        bin()
            .args([
                "pipeline",
                "--draft",
                "self:exit:2",
                "--max-new-tokens",
                "16",
            ])
            // The zero-shot wording: the eight-shot one does not fit the tiny model's context.
            .args(["--gsm8k-wording", "reference-0shot"])
            .args(["--eval-prompts", "2", "--test-skip", "20"])
            .args(["--topk", "2", "--prob", "none", "--judge-quantiles", "none"])
            // Relabelled rows carry no signal: a large validation split keeps the thresholds
            // away from accepting none or all of them.
            .args(["--val-fraction", "0.5", "--c-grid", "100"])
            .arg("--model")
            .arg(&model)
            .arg("--train-data")
            .arg(&data)
            .arg("--test-data")
            .arg(&data)
            .arg("--mined")
            .arg(&mined)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = pipeline();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for f in [
        "judges/dt.safetensors",
        "judges/dd-dt.safetensors",
        "judges/dt.thresholds.csv",
        "eval/eval.json",
        "eval/summary.md",
    ] {
        assert!(
            out.join(f).exists(),
            "{f}: {}",
            String::from_utf8_lossy(&first.stderr)
        );
    }
    let lines = std::fs::read_to_string(out.join("eval/results.jsonl")).unwrap();
    let methods: std::collections::BTreeSet<String> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["family"].to_string())
        .collect();
    for family in [
        "target-only",
        "lossless",
        "top-k",
        "autojudge-dt",
        "autojudge-dd-dt",
    ] {
        assert!(methods.contains(&format!("\"{family}\"")), "{methods:?}");
    }
    let judge = std::fs::read(out.join("judges/dt.safetensors")).unwrap();
    let second = pipeline();
    assert!(second.status.success());
    assert!(!String::from_utf8_lossy(&second.stderr).contains("training the"));
    assert_eq!(
        std::fs::read(out.join("judges/dt.safetensors")).unwrap(),
        judge
    );
    assert_eq!(
        std::fs::read_to_string(out.join("eval/results.jsonl")).unwrap(),
        lines
    );
}

#[test]
fn mine_train_eval_pipeline_on_a_tiny_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path(), 24);
    let mined = tmp.path().join("mined");
    let t0 = Instant::now();
    assert!(mine_cmd(&model, &data, &mined, 24, 1)
        .status()
        .unwrap()
        .success());
    eprintln!("mine {:?}", t0.elapsed());
    let stats = bin().arg("mine-stats").arg(&mined).output().unwrap();
    assert!(String::from_utf8_lossy(&stats.stdout).contains("| Fast | 24 |"));

    // A random tiny model's text has no numbers, so no swap changes the answer: training
    // refuses one-class data by name. Relabel every third mismatch to exercise the rest.
    let judge = tmp.path().join("judges/dd-dt.safetensors");
    let train = |dir: &Path| {
        bin()
            .args(["train", "--features", "dd-dt", "--c-grid", "100", "--data"])
            .arg(dir)
            .arg("--out")
            .arg(&judge)
            .output()
            .unwrap()
    };
    let one_class = train(&mined);
    if !one_class.status.success() {
        assert!(String::from_utf8_lossy(&one_class.stderr).contains("only one class"));
    }
    relabel(&mined);
    let out = bin()
        .args(["train", "--features", "dd-dt", "--c-grid", "100", "--data"])
        .arg(&mined)
        .arg("--out")
        .arg(&judge)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("validation ROC-AUC") && stdout.contains("mismatches accepted"));
    assert!(tmp.path().join("judges/dd-dt.c_table.csv").exists());
    assert!(tmp.path().join("judges/dd-dt.thresholds.csv").exists());

    let results = tmp.path().join("eval");
    let eval_into = |results: &Path, skip: &str, prompts: &str, max_new: &str| {
        bin()
            .args(["eval", "--draft", "self:exit:2", "--prompt-format", "plain"])
            // The zero-shot wording: the eight-shot one does not fit the tiny model's context.
            .args(["--gsm8k-wording", "reference-0shot"])
            .args([
                "--max-new-tokens",
                max_new,
                "--skip",
                skip,
                "--prompts",
                prompts,
            ])
            .args(["--topk", "2", "--prob", "0.3", "--judge-quantiles", "0.5"])
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(&data)
            .arg("--judge")
            .arg(&judge)
            .arg("--out")
            .arg(results)
            .output()
            .unwrap()
    };
    let eval = |prompts: &str| eval_into(&results, "20", prompts, "16");
    eprintln!("train {:?}", t0.elapsed());
    let first = eval("2");
    eprintln!("eval {:?}", t0.elapsed());
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let lines = std::fs::read_to_string(results.join("results.jsonl")).unwrap();
    let n = lines.lines().count();
    assert!(n >= 2 * 5, "{n} result lines");
    // Resuming with more prompts only adds the new ones.
    let second = eval("3");
    assert!(second.status.success());
    let lines = std::fs::read_to_string(results.join("results.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), n / 2 * 3);
    let md = std::fs::read_to_string(results.join("summary.md")).unwrap();
    assert!(
        md.contains("| target-only | 3 |") && md.contains("| lossless | 3 |"),
        "{md}"
    );
    assert!(md.contains("autojudge-dd-dt@"), "{md}");
    for f in ["summary.csv", "summary.json"] {
        assert!(results.join(f).exists(), "{f}");
    }
    // Other settings in the same directory are refused by field.
    let other = eval_into(&results, "20", "3", "17");
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("max_new_tokens"));
    // A second directory (another core's share of the prompts) joins into one report.
    let part = tmp.path().join("eval-part");
    assert!(eval_into(&part, "23", "1", "16").status.success());
    let joined = tmp.path().join("eval-joined");
    let report = |dirs: &[&Path], out: &Path| {
        bin()
            .arg("report")
            .args(dirs)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let ok = report(&[&results, &part], &joined);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let md = std::fs::read_to_string(joined.join("summary.md")).unwrap();
    assert!(md.contains("| target-only | 4 |"), "{md}");
    let joined_lines = std::fs::read_to_string(joined.join("results.jsonl")).unwrap();
    assert_eq!(joined_lines.lines().count(), n / 2 * 4);
    let twice = report(&[&results, &results], &tmp.path().join("eval-twice"));
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("also in an earlier directory"));
}
