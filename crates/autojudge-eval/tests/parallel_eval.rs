//! An evaluation run with several prompts at once commits the same lines, in the same order,
//! as one prompt at a time, and a resumed parallel run completes an interrupted one exactly.

use std::path::Path;

use autojudge_core::{TargetModel, TextTokenizer};
use autojudge_decode::testing::{IdText, MockLm};
use autojudge_eval::{evaluate, EvalDir, EvalPlan, EvalSettings, Method, PromptPrefill};
use autojudge_search::SearchModels;
use autojudge_tasks::{Answer, Oracle, OracleError, Task, TaskLine};

/// Answer: the sum of the response's token ids mod 5.
struct SumOracle;

impl Oracle for SumOracle {
    fn name(&self) -> String {
        "sum mod 5".into()
    }
    fn answer(&self, _task: &Task, response: &str) -> Result<Answer, OracleError> {
        let sum: u64 = response
            .split_whitespace()
            .filter_map(|w| w.parse::<u64>().ok())
            .sum();
        Ok(Answer::found((sum % 5).to_string()))
    }
}

fn tasks(n: usize) -> Vec<TaskLine> {
    (0..n)
        .map(|i| {
            let prompt: String = (0..4 + i % 3)
                .map(|j| format!("{} ", 3 + (i * 7 + j) % 40))
                .collect();
            let task = Task {
                index: i,
                id: format!("t{i}"),
                user_prompt: prompt,
                gold: Some((i % 5).to_string()),
                code: None,
            };
            TaskLine::Task(task)
        })
        .collect()
}

fn run(dir: &Path, prompts: usize, parallel: usize) -> Vec<serde_json::Value> {
    run_methods(dir, prompts, parallel, Method::baselines(&[2], &[0.3]))
}

fn run_methods(
    dir: &Path,
    prompts: usize,
    parallel: usize,
    methods: Vec<Method>,
) -> Vec<serde_json::Value> {
    run_with(dir, prompts, parallel, methods, PromptPrefill::PerMethod)
}

fn run_with(
    dir: &Path,
    prompts: usize,
    parallel: usize,
    methods: Vec<Method>,
    prefill: PromptPrefill,
) -> Vec<serde_json::Value> {
    let target = MockLm::new(1, 48, 4.0);
    let draft = target.noisy_copy(2, 0.6);
    let tok = IdText::of(&target);
    let models = SearchModels {
        target: &target,
        draft: &draft,
        tokenizer: &tok,
        oracle: &SumOracle,
    };
    let settings = EvalSettings {
        task: "mock".into(),
        data: "mock.jsonl".into(),
        oracle: SumOracle.name(),
        chat: false,
        wording: String::new(),
        target: target.info().name.clone(),
        draft: draft.info().name.clone(),
        dtype: "f32".into(),
        k: 4,
        max_new_tokens: 24,
        prefill,
    };
    let mut eval = EvalDir::create_or_resume(dir, settings).unwrap();
    let plan = EvalPlan {
        methods,
        bootstrap: 10,
    };
    let render = |t: &Task| Ok(tok.encode(&t.user_prompt, false)?);
    evaluate(
        &mut eval,
        &models,
        &plan,
        tasks(prompts),
        &render,
        parallel,
        &mut |_| {},
    )
    .unwrap();
    // Lines in file order, without their timings.
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let stats = v["stats"].as_object_mut().unwrap();
            for timing in ["draft_time", "target_time", "policy_time", "wall_time"] {
                stats.remove(timing);
            }
            v
        })
        .collect()
}

#[test]
fn parallel_evaluation_commits_the_same_lines_in_the_same_order() {
    let tmp = tempfile::tempdir().unwrap();
    let one = run(&tmp.path().join("one"), 9, 1);
    assert_eq!(one.len(), 9 * 4);
    assert_eq!(run(&tmp.path().join("four"), 9, 4), one);
    // Interrupted after 4 prompts run 2 at once, resumed 3 at once.
    let resumed = tmp.path().join("resumed");
    run(&resumed, 4, 2);
    assert_eq!(run(&resumed, 9, 3), one);
}

/// The lossless lines of `lines`, keyed by prompt, without the `derived` mark.
fn lossless(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter(|l| l["method"] == "lossless")
        .map(|l| {
            let mut l = l.clone();
            l.as_object_mut().unwrap().remove("derived");
            l
        })
        .collect()
}

#[test]
fn derived_lossless_lines_equal_measured_ones_but_for_the_mark_and_timings() {
    let tmp = tempfile::tempdir().unwrap();
    let measured = run_methods(
        &tmp.path().join("measured"),
        7,
        1,
        vec![Method::TargetOnly, Method::Lossless],
    );
    let derived = run_methods(
        &tmp.path().join("derived"),
        7,
        2,
        vec![Method::TargetOnly, Method::LosslessDerived],
    );
    assert!(derived
        .iter()
        .all(|l| (l["method"] == "lossless") == (l["derived"] == true)));
    assert!(measured.iter().all(|l| l.get("derived").is_none()));
    assert_eq!(lossless(&measured).len(), 7);
    assert_eq!(lossless(&measured), lossless(&derived));
    // Resumed after target-only alone: the derivation regenerates target-only's output.
    let resumed = tmp.path().join("resumed");
    run_methods(&resumed, 7, 1, vec![Method::TargetOnly]);
    let lines = run_methods(
        &resumed,
        7,
        1,
        vec![Method::TargetOnly, Method::LosslessDerived],
    );
    assert_eq!(lossless(&lines), lossless(&measured));
    // Summaries give the derived method no wall-clock figures.
    let (settings, committed) = EvalDir::read(&tmp.path().join("derived")).unwrap();
    let report = autojudge_eval::Report::new(
        &settings,
        &committed,
        &["target-only".into(), "lossless".into()],
        10,
    );
    let row = &report.rows[1];
    assert!(row.tokens_per_second.is_nan() && row.speedup_vs_target.is_nan());
    assert!(row.tokens_per_target_call > 1.0);
    assert!(report.markdown().contains("untimed"));
}

#[test]
fn a_shared_prefill_changes_no_output_and_drops_only_the_prefill_call() {
    let tmp = tempfile::tempdir().unwrap();
    let methods = || {
        let mut m = Method::baselines(&[2], &[0.3]);
        m.push(Method::Judi(0.5));
        m[1] = Method::LosslessDerived;
        m
    };
    let per = run_with(
        &tmp.path().join("per"),
        6,
        1,
        methods(),
        PromptPrefill::PerMethod,
    );
    let shared = run_with(
        &tmp.path().join("shared"),
        6,
        2,
        methods(),
        PromptPrefill::Shared,
    );
    assert_eq!(per.len(), shared.len());
    for (a, b) in per.iter().zip(&shared) {
        for field in ["method", "index", "answer", "tokens", "agrees", "derived"] {
            assert_eq!(a.get(field), b.get(field), "{field}: {a} vs {b}");
        }
        for counter in [
            "cycles",
            "emitted",
            "accepted",
            "drafted",
            "draft_calls",
            "accepted_hist",
        ] {
            assert_eq!(
                a["stats"][counter], b["stats"][counter],
                "{counter}: {a} vs {b}"
            );
        }
        let calls = |v: &serde_json::Value| v["stats"]["target_calls"].as_u64().unwrap();
        assert_eq!(
            calls(a),
            calls(b) + 1,
            "only the prefill call is gone: {a} vs {b}"
        );
    }
    // A directory from before the setting (no `prefill` in eval.json) is per-method: resuming
    // it shared is refused, naming the field.
    let settings = std::fs::read_to_string(tmp.path().join("per/eval.json")).unwrap();
    assert!(!settings.contains("prefill"), "{settings}");
    let again = std::panic::catch_unwind(|| {
        run_with(
            &tmp.path().join("per"),
            6,
            1,
            methods(),
            PromptPrefill::Shared,
        )
    });
    assert!(
        again.is_err(),
        "a shared run resumed a per-method directory"
    );
}

#[test]
fn a_plan_naming_one_method_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("twice");
    let twice = std::panic::catch_unwind(|| {
        run_methods(
            &dir,
            2,
            1,
            vec![
                Method::TargetOnly,
                Method::Lossless,
                Method::LosslessDerived,
            ],
        )
    });
    assert!(twice.is_err(), "a plan with two `lossless` methods ran");
    let lines = std::fs::read_to_string(dir.join("results.jsonl")).unwrap_or_default();
    assert!(lines.is_empty(), "{lines}");
}
