//! `autojudge operating-points` on evaluation directories written by hand: windows compared on
//! the prompts they share, the best gain per family under each criterion, the tables and plots
//! written, and directories from different runs refused with the field that differs.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use autojudge_decode::DecodeStats;
use autojudge_eval::{EvalSettings, ResultLine};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autojudge"))
}

fn settings(k: usize) -> EvalSettings {
    EvalSettings {
        task: "gsm8k".into(),
        data: "test.jsonl".into(),
        oracle: "gsm8k".into(),
        chat: true,
        wording: String::new(),
        target: "target".into(),
        draft: "draft".into(),
        dtype: "quant".into(),
        k,
        max_new_tokens: 64,
        prefill: autojudge_eval::PromptPrefill::PerMethod,
    }
}

/// One line: `emitted` tokens over `cycles` target calls; the answer is the gold unless
/// `wrong`.
fn line(method: &str, family: &str, index: usize, cycles: u64, wrong: bool) -> ResultLine {
    let stats = DecodeStats {
        cycles,
        emitted: 60,
        accepted: 60 - cycles,
        target_calls: cycles,
        wall_time: Duration::from_millis(10 * cycles),
        ..DecodeStats::default()
    };
    let answer = if wrong { "0" } else { "1" };
    ResultLine {
        method: method.into(),
        family: family.into(),
        index,
        task_id: format!("gsm8k:{index}"),
        answer: Some(answer.into()),
        gold: Some("1".into()),
        correct: Some(!wrong),
        agrees: Some(!wrong),
        tokens: 60,
        stats,
        derived: false,
    }
}

fn write_dir(dir: &Path, s: &EvalSettings, lines: &[ResultLine]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("eval.json"), serde_json::to_string(s).unwrap()).unwrap();
    let text: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    std::fs::write(dir.join("results.jsonl"), text).unwrap();
}

/// Prompts `range` of one window: target-only (60 calls), lossless (`lossless` calls), a judge
/// that keeps every answer (`keep` calls) and one that gets every fourth prompt wrong (`lose`
/// calls).
fn window(
    range: std::ops::Range<usize>,
    (lossless, keep, lose): (u64, u64, u64),
) -> Vec<ResultLine> {
    range
        .flat_map(|i| {
            [
                line("target-only", "target-only", i, 60, false),
                line("lossless", "lossless", i, lossless, false),
                line("judge@0.5", "judge", i, keep, false),
                line("judge@0.9", "judge", i, lose, i % 4 == 0),
            ]
        })
        .collect()
}

fn all_dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    tmp.path().join("all")
}

fn run(args: &[&str], dirs: &[&Path]) -> Output {
    bin()
        .arg("operating-points")
        .args(args)
        .args(dirs)
        .output()
        .unwrap()
}

#[test]
fn windows_are_compared_on_shared_prompts_and_each_family_gets_its_best_point() {
    let tmp = tempfile::tempdir().unwrap();
    let (k4, k8a, k8b) = (
        tmp.path().join("k4"),
        tmp.path().join("k8-a"),
        tmp.path().join("k8-b"),
    );
    // k = 4 on prompts 0..8; k = 8 on 0..20 in two halves (joined), so 8 prompts are shared.
    // A family evaluated later, on prompts 0 and 1 only, is left out with --family.
    let late = |k: &[ResultLine]| {
        let mut v = k.to_vec();
        v.extend((0..2).map(|i| line("late@1", "late", i, 10, false)));
        v
    };
    // Prompt 7 was interrupted at k = 4 before judge@0.9 ran on it: it leaves every window.
    let mut k4_lines = late(&window(0..8, (20, 18, 12)));
    k4_lines.retain(|l| !(l.index == 7 && l.method == "judge@0.9"));
    write_dir(&k4, &settings(4), &k4_lines);
    write_dir(&k8a, &settings(8), &late(&window(0..10, (15, 12, 6))));
    write_dir(&k8b, &settings(8), &window(10..20, (15, 12, 6)));
    let out = tmp.path().join("sweep");
    let o = run(
        &[
            "--family",
            "judge",
            "--bootstrap",
            "200",
            "--out",
            out.to_str().unwrap(),
        ],
        &[&k4, &k8a, &k8b],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let rows = sweep["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "4 methods at 2 windows, `late` left out");
    assert!(
        rows.iter().all(|r| r["summary"]["prompts"] == 7),
        "only the prompts every method of every window finished"
    );
    // judge@0.5 at k = 8: 60/12 = 5 tokens per call against lossless's 4: gain 1.25 (at k = 4:
    // 60/18 against 3, 1.11). judge@0.9 loses a quarter of the answers: excluded by both.
    let points = sweep["points"].as_array().unwrap();
    let judge: Vec<_> = points.iter().filter(|p| p["family"] == "judge").collect();
    assert_eq!(judge.len(), 2, "one per criterion");
    for p in judge {
        assert_eq!(p["best"]["k"], 8);
        assert_eq!(p["best"]["summary"]["method"], "judge@0.5");
        let gain = p["best"]["gain_vs_lossless"].as_f64().unwrap();
        assert!((gain - 1.25).abs() < 1e-9, "{gain}");
    }
    for f in [
        "operating_points.md",
        "sweep.csv",
        "accuracy_vs_tokens_per_call.svg",
        "agreement_vs_tokens_per_call.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("operating_points.md")).unwrap();
    assert!(md.contains("| judge | judge@0.5 | 8 | 7 |"), "{md}");

    // --first 2 keeps the first 2 shared prompts (0 and 1: judge@0.9 is wrong on prompt 0, so
    // its accuracy is 0.5; the last two, 5 and 6, would give 1.0); a stricter agreement
    // criterion still admits the judge that keeps every answer.
    let first = tmp.path().join("first");
    let o = run(
        &[
            "--family",
            "judge",
            "--first",
            "2",
            "--min-agreement-on-correct",
            "1",
            "--out",
            first.to_str().unwrap(),
        ],
        &[&k4, &k8a, &k8b],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(first.join("sweep.csv")).unwrap();
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.split(',').nth(3) == Some("2")),
        "{csv}"
    );
    let accuracy = |l: &str| l.split(',').nth(4).unwrap().parse::<f64>().unwrap();
    let lossy: Vec<f64> = csv
        .lines()
        .filter(|l| l.contains(",judge@0.9,"))
        .map(accuracy)
        .collect();
    assert_eq!(lossy, [0.5, 0.5], "{csv}");
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first.join("sweep.json")).unwrap()).unwrap();
    assert!(
        sweep["points"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["family"] == "judge" && p["best"]["summary"]["method"] == "judge@0.5"),
        "agreement 1.0 meets --min-agreement-on-correct 1"
    );

    // Without --family every row is restricted to the prompts every method has: 0 and 1.
    let all = all_dir(&tmp);
    let o = run(&["--out", all.to_str().unwrap()], &[&k4, &k8a, &k8b]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(all.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 10, "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.split(',').nth(3) == Some("2")),
        "{csv}"
    );

    // A family that is in no directory is an error, not an empty row.
    let o = run(
        &["--family", "jugde", "--out", all.to_str().unwrap()],
        &[&k4, &k8a, &k8b],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("jugde"), "{err}");
}

#[test]
fn directories_from_different_runs_are_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_dir(&a, &settings(4), &window(0..4, (20, 18, 12)));
    let mut other = settings(8);
    other.max_new_tokens = 128;
    write_dir(&b, &other, &window(0..4, (15, 12, 6)));
    let out = tmp.path().join("sweep");
    let o = run(&["--out", out.to_str().unwrap()], &[&a, &b]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("max_new_tokens"), "{err}");
    assert!(!out.join("sweep.json").exists(), "nothing written");
    // Two directories of one window holding the same (method, prompt) are refused too.
    let o = run(&["--out", out.to_str().unwrap()], &[&a, &a]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("also in an earlier directory"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
