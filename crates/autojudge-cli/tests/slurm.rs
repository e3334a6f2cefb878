//! The Slurm recipe of `docs/scale-out.md`, run under a real Slurm: the job scripts in
//! `scripts/slurm/` are submitted with `sbatch --array` on a tiny model, one mining task is
//! cancelled mid-run with `scancel` and resubmitted, and the merged mined directory and the
//! joined evaluation report equal sequential runs of the same commands.
//!
//! Needs a cluster that takes jobs: `scripts/slurm/local-cluster.sh up` (root) brings up a
//! one-node one; the test command (`scripts/test.sh`) does that and runs this test with
//! `--ignored`. The documentation test below runs everywhere.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, content, mine_cmd, mine_flags, records, relabel, setup, train_dd_dt};

/// Test prompts (GSM8K-shaped lines) mined in shards.
const MINE_PROMPTS: usize = 24;
/// Mining shards (array tasks); the machine has fewer CPUs, so some tasks wait.
const SHARDS: usize = 3;
/// Evaluation blocks and prompts per block.
const EVAL_BLOCKS: usize = 2;
const EVAL_BLOCK: usize = 2;
/// The first test line evaluated (after the mined ones).
const EVAL_SKIP: usize = 24;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn job_script(name: &str) -> PathBuf {
    repo().join("scripts/slurm").join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sbatch --parsable --wait` of `script` with `slurm` options, the job's environment `env`
/// (added to this process's, which sbatch exports) and the script's arguments `args`; the
/// jobs' output goes to `logs`.
fn sbatch(
    logs: &Path,
    slurm: &[String],
    script: &str,
    env: &[(&str, OsString)],
    args: &[OsString],
) -> Command {
    let mut c = Command::new("sbatch");
    c.args(["--parsable", "--wait"])
        .arg(format!("--output={}/%x-%A_%a.out", logs.display()))
        .args(slurm)
        .arg(job_script(script))
        .args(args)
        .env("AUTOJUDGE_BIN", env!("CARGO_BIN_EXE_autojudge"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs a submission to its end; panics with the jobs' logs unless every task exited 0.
fn submit_and_wait(mut c: Command, logs: &Path) {
    let out = c.output().expect("sbatch runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}\n{}",
        c,
        stderr(&out),
        job_logs(logs)
    );
}

fn job_logs(logs: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(logs).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        all += &format!("--- {}\n{text}\n", e.path().display());
    }
    all
}

/// Result lines of an evaluation directory keyed by (method, prompt), without the timings.
fn result_lines(dir: &Path) -> BTreeMap<(String, u64), serde_json::Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let stats = v["stats"].as_object_mut().unwrap();
            for timing in ["draft_time", "target_time", "policy_time", "wall_time"] {
                assert!(stats.remove(timing).is_some(), "no {timing} in {l}");
            }
            let key = (
                v["method"].as_str().unwrap().to_owned(),
                v["index"].as_u64().unwrap(),
            );
            (key, v)
        })
        .collect()
}

fn cluster_ready() -> Result<(), String> {
    let out = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .map_err(|e| format!("sinfo: {e}"))?;
    let states = String::from_utf8_lossy(&out.stdout);
    if out.status.success()
        && states
            .lines()
            .any(|s| s.starts_with("idle") || s == "mixed")
    {
        Ok(())
    } else {
        Err(format!(
            "no node takes jobs (sinfo: {} {})",
            states.trim(),
            stderr(&out).trim()
        ))
    }
}

#[test]
#[ignore = "needs a Slurm cluster that takes jobs: `scripts/slurm/local-cluster.sh up` as root \
            (scripts/test.sh brings one up and runs this test)"]
fn job_arrays_with_a_cancelled_and_resubmitted_task_equal_sequential_runs() {
    if let Err(e) = cluster_ready() {
        panic!("{e}: bring one up with `scripts/slurm/local-cluster.sh up` (root)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path(), MINE_PROMPTS + EVAL_BLOCKS * EVAL_BLOCK);
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();

    // The sequential run every sharded one must equal.
    let whole = tmp.path().join("whole");
    let o = mine_cmd(&model, &data, &whole, MINE_PROMPTS, 1)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(records(&whole), MINE_PROMPTS);

    // Mining as an array; the last shard is cancelled once it has committed a prompt.
    let mined = tmp.path().join("mined");
    let flags = mine_flags(&model, &data, MINE_PROMPTS);
    let out_env = [("OUT", mined.clone().into_os_string())];
    let mut array = sbatch(
        &logs,
        &[format!("--array=0-{}", SHARDS - 1)],
        "mine.sbatch",
        &out_env,
        &flags,
    )
    .spawn()
    .unwrap();
    let mut job = String::new();
    BufReader::new(array.stdout.take().unwrap())
        .read_line(&mut job)
        .unwrap();
    let job = job.trim().to_owned();
    assert!(!job.is_empty(), "sbatch printed no job id");
    let last = mined.join(format!("shard-{}", SHARDS - 1));
    let start = Instant::now();
    while records(&last) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "shard {} committed nothing in 300 s\n{}",
            SHARDS - 1,
            job_logs(&logs)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let cancel = Command::new("scancel")
        .arg(format!("{job}_{}", SHARDS - 1))
        .output()
        .unwrap();
    assert!(cancel.status.success(), "scancel: {}", stderr(&cancel));
    let status = array.wait().unwrap();
    assert!(
        !status.success(),
        "the array reports success although a task was cancelled"
    );
    let per_shard = MINE_PROMPTS / SHARDS;
    let committed = records(&last);
    assert!(
        committed < per_shard,
        "shard {} finished ({committed} prompts) before the cancel reached it",
        SHARDS - 1
    );
    // The other shards finished.
    for i in 0..SHARDS - 1 {
        assert_eq!(records(&mined.join(format!("shard-{i}"))), per_shard);
    }

    // Resubmitted alone, as docs/scale-out.md says: the task count of the full array.
    let shards_env = [
        ("OUT", mined.clone().into_os_string()),
        ("SHARDS", SHARDS.to_string().into()),
    ];
    submit_and_wait(
        sbatch(
            &logs,
            &[format!("--array={}", SHARDS - 1)],
            "mine.sbatch",
            &shards_env,
            &flags,
        ),
        &logs,
    );
    assert_eq!(records(&last), per_shard);
    submit_and_wait(sbatch(&logs, &[], "merge.sbatch", &out_env, &[]), &logs);
    let merged = mined.join("all");
    assert_eq!(content(&merged), content(&whole));

    // A judge from the merged records (a random model's labels are one-class: relabelled).
    relabel(&merged);
    let judge = tmp.path().join("judge.safetensors");
    train_dd_dt(&merged, &judge);

    // Evaluation in blocks as an array, joined by report; and the same prompts in one run.
    let mut eval_flags: Vec<OsString> = [
        "--draft",
        "self:exit:2",
        "--prompt-format",
        "plain",
        "--gsm8k-wording",
        "reference-0shot",
        "--max-new-tokens",
        "16",
        "--topk",
        "2",
        "--prob",
        "0.3",
        "--judge-quantiles",
        "0.5",
    ]
    .map(OsString::from)
    .into();
    eval_flags.extend([
        "--model".into(),
        model.clone().into(),
        "--data".into(),
        data.clone().into(),
        "--judge".into(),
        judge.clone().into(),
    ]);
    let eval = tmp.path().join("eval");
    submit_and_wait(
        sbatch(
            &logs,
            &[format!("--array=0-{}", EVAL_BLOCKS - 1)],
            "eval.sbatch",
            &[
                ("OUT", eval.clone().into_os_string()),
                ("BLOCK", EVAL_BLOCK.to_string().into()),
                ("SKIP", EVAL_SKIP.to_string().into()),
            ],
            &eval_flags,
        ),
        &logs,
    );
    submit_and_wait(
        sbatch(
            &logs,
            &[],
            "report.sbatch",
            &[("OUT", eval.clone().into_os_string())],
            &[],
        ),
        &logs,
    );
    let one_run = tmp.path().join("eval-one-run");
    let o = bin()
        .arg("eval")
        .args(&eval_flags)
        .args(["--skip", &EVAL_SKIP.to_string()])
        .args(["--prompts", &(EVAL_BLOCKS * EVAL_BLOCK).to_string()])
        .arg("--out")
        .arg(&one_run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let joined = result_lines(&eval.join("report"));
    assert_eq!(joined.len(), result_lines(&one_run).len());
    assert!(
        joined.len() >= EVAL_BLOCKS * EVAL_BLOCK * 5,
        "{} lines",
        joined.len()
    );
    assert_eq!(joined, result_lines(&one_run));
    for f in ["summary.md", "summary.csv", "summary.json"] {
        assert!(eval.join("report").join(f).exists(), "{f}");
    }
}

/// `docs/scale-out.md` shows every job script the test above submits, byte for byte.
#[test]
fn the_documentation_shows_the_job_scripts_that_run() {
    let doc = std::fs::read_to_string(repo().join("docs/scale-out.md")).unwrap();
    for name in [
        "mine.sbatch",
        "merge.sbatch",
        "eval.sbatch",
        "report.sbatch",
    ] {
        let script = std::fs::read_to_string(job_script(name)).unwrap();
        let block = format!("```bash\n{script}```");
        assert!(
            doc.contains(&block),
            "docs/scale-out.md does not show scripts/slurm/{name} as it is"
        );
    }
}
