//! Bad inputs end in a clear error, never a hang, a panic or a clobbered file: a directory
//! given as a dataset or a model file, an output path onto an input or into a mined or
//! evaluation directory, and numeric values outside their flags' domains (the usage error,
//! exit status 2, that names the flag).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use autojudge_models::tiny::TinyModel;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autojudge"));
    c.env("RUST_BACKTRACE", "0")
        .env_remove("AUTOJUDGE_MODEL")
        .env_remove("AUTOJUDGE_GSM8K_TEST")
        .env_remove("AUTOJUDGE_GSM8K_TRAIN");
    c
}

/// Runs `cmd`, failing the test (and killing it) when it runs past `limit`: a hang is a
/// failure, not a stuck test.
fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure (not a usage error) whose message contains every one of `needles`, without a
/// panic.
fn assert_fails_naming(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "no {n:?} in: {err}");
    }
}

/// A usage error (exit status 2) naming `flag` and `domain`.
fn assert_usage_error(o: &Output, flag: &str, domain: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(flag) && err.contains(domain), "{err}");
}

/// A tiny random GGUF model and a GSM8K file of `questions` lines in `dir`.
fn setup(dir: &Path, questions: usize) -> (PathBuf, PathBuf) {
    let model = dir.join("tiny.gguf");
    std::fs::write(&model, TinyModel::new(11).layers(3).vocab(300).to_gguf()).unwrap();
    let data = dir.join("gsm8k.jsonl");
    let lines: Vec<String> = (0..questions)
        .map(|i| {
            format!(
                "{{\"question\":\"What is {i} plus 1?\",\"answer\":\"#### {}\"}}",
                i + 1
            )
        })
        .collect();
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    (model, data)
}

/// Mines `prompts` prompts of the tiny model into `out`, then marks every third mismatch
/// important (a random model changes no answer) so that `train` would succeed on it.
fn mine(model: &Path, data: &Path, out: &Path, prompts: usize) {
    let mut c = bin();
    c.args(["mine", "--draft", "self:exit:2", "--prompt-format", "plain"])
        .args(["--labels", "lenient", "--max-new-tokens", "40"])
        .args(["--prompts", &prompts.to_string()])
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out);
    let o = run_within(c, Duration::from_secs(120));
    assert!(o.status.success(), "{}", stderr(&o));
    common::relabel(out);
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_directory_as_dataset_is_an_error_naming_it_for_mine_and_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, _) = setup(tmp.path(), 1);
    let dir = tmp.path().join("not-a-file");
    std::fs::create_dir(&dir).unwrap();
    let shown = dir.display().to_string();
    for (command, data_flag, out) in [
        ("mine", "--data", Some("mined")),
        ("eval", "--data", Some("eval")),
        ("pipeline", "--train-data", Some("pipe")),
    ] {
        let mut c = bin();
        c.args([command, "--draft", "self:exit:2"])
            .arg("--model")
            .arg(&model)
            .arg(data_flag)
            .arg(&dir);
        if command == "pipeline" {
            c.arg("--test-data").arg(tmp.path().join("gsm8k.jsonl"));
        }
        if let Some(o) = out {
            c.arg("--out").arg(tmp.path().join(o));
        }
        let o = run_within(c, Duration::from_secs(60));
        assert_fails_naming(&o, &[&shown, "is a directory"]);
    }
    let mut c = bin();
    c.args(["eval", "--task", "humaneval", "--draft", "self:exit:2"])
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path().join("he"));
    assert_fails_naming(
        &run_within(c, Duration::from_secs(60)),
        &[&shown, "is a directory"],
    );
}

#[test]
fn a_directory_for_bench_decode_draft_sweep_or_dtype_agreement_names_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, _) = setup(tmp.path(), 1);
    let shown = tmp.path().display().to_string();
    for args in [
        &["bench-decode", "--draft", "ngram"][..],
        &["draft-sweep", "--plan", "exit:1"],
        &["dtype-agreement"],
    ] {
        let mut c = bin();
        c.args(args)
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(tmp.path());
        let o = run_within(c, Duration::from_secs(60));
        assert_fails_naming(&o, &[&shown, "is a directory"]);
    }
}

#[test]
fn inspect_of_a_directory_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.arg("inspect").arg(tmp.path());
    let o = run_within(c, Duration::from_secs(30));
    assert_fails_naming(&o, &[&tmp.path().display().to_string(), "is a directory"]);
    assert!(!stderr(&o).contains("No such device"), "{}", stderr(&o));
}

#[test]
fn no_output_overwrites_a_mined_directory_or_an_input() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path(), 16);
    let mined = tmp.path().join("mined");
    mine(&model, &data, &mined, 16);
    let before = snapshot(&mined);
    let data_before = std::fs::read(&data).unwrap();
    let records = mined.join("records.jsonl");
    let train = |out: &Path, data: &Path| {
        let mut c = bin();
        c.args(["train", "--features", "dd-dt", "--c-grid", "100"])
            .args(["--val-fraction", "0.5", "--data"])
            .arg(data)
            .arg("--out")
            .arg(out);
        run_within(c, Duration::from_secs(60))
    };
    // The directory trains: a judge elsewhere is written.
    let judge = tmp.path().join("judges/dd-dt.safetensors");
    let o = train(&judge, &mined);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(judge.exists());
    // The case: the judge written over the mined records.
    let o = train(&records, &mined);
    assert_fails_naming(&o, &[&records.display().to_string(), "--data"]);
    // The same through another spelling, into the features, onto the directory itself, and
    // into a mined directory that is not this run's input.
    let other = tmp.path().join("other");
    mine(&model, &data, &other, 1);
    let other_before = snapshot(&other);
    for (out, input) in [
        (tmp.path().join("x/../mined/./records.jsonl"), &mined),
        (mined.join("features/judge.safetensors"), &mined),
        (mined.join("manifest.json"), &mined),
        (mined.clone(), &mined),
        (other.join("records.jsonl"), &mined),
    ] {
        let o = train(&out, input);
        assert!(!o.status.success(), "{}: {}", out.display(), stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("mined") || stderr(&o).contains("directory"),
            "{}",
            stderr(&o)
        );
    }
    // The other commands' outputs: onto the dataset, the model or into the mined directory.
    let json = |command: &[&str], out: &Path| {
        let mut c = bin();
        c.args(command)
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(&data)
            .arg("--json")
            .arg(out);
        run_within(c, Duration::from_secs(60))
    };
    for command in [
        &["bench-decode", "--draft", "ngram"][..],
        &["dtype-agreement"],
    ] {
        let o = json(command, &data);
        assert_fails_naming(&o, &[&data.display().to_string(), "--json", "--data"]);
        let o = json(command, &records);
        assert_fails_naming(&o, &[&records.display().to_string(), "mined directory"]);
    }
    let dir_out = |command: &[&str], out: &Path| {
        let mut c = bin();
        c.args(command)
            .args(["--draft", "self:exit:2", "--prompts", "1"])
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(out);
        run_within(c, Duration::from_secs(60))
    };
    let o = dir_out(&["eval"], &mined);
    assert_fails_naming(&o, &[&mined.display().to_string(), "is a mined directory"]);
    let o = dir_out(&["mine"], &data);
    assert_fails_naming(&o, &[&data.display().to_string(), "is a file"]);
    let o = dir_out(&["mine"], &mined.join("features"));
    assert_fails_naming(&o, &["inside the mined directory"]);
    let mut c = bin();
    c.args(["pipeline", "--draft", "self:exit:2"])
        .arg("--model")
        .arg(&model)
        .arg("--train-data")
        .arg(&data)
        .arg("--test-data")
        .arg(tmp.path().join("test.jsonl"))
        .arg("--out")
        .arg(&mined);
    let o = run_within(c, Duration::from_secs(60));
    assert_fails_naming(&o, &["inside the mined directory"]);
    for (command, out) in [
        (&["merge"][..], mined.clone()),
        (&["learning-curve", "--data"], mined.clone()),
    ] {
        let mut c = bin();
        c.args(command).arg(&other).arg("--out").arg(&out);
        let o = run_within(c, Duration::from_secs(60));
        assert_fails_naming(&o, &[&out.display().to_string()]);
    }
    let mut c = bin();
    c.args(["merge", "--out"]).arg(&other).arg(&other);
    assert_fails_naming(&run_within(c, Duration::from_secs(60)), &["also the input"]);
    let mut c = bin();
    c.args(["report", "--out"])
        .arg(&mined)
        .arg(tmp.path().join("eval"));
    assert_fails_naming(
        &run_within(c, Duration::from_secs(60)),
        &["is a mined directory"],
    );
    assert_eq!(snapshot(&mined), before, "the mined directory changed");
    assert_eq!(
        snapshot(&other),
        other_before,
        "the other mined directory changed"
    );
    assert_eq!(
        std::fs::read(&data).unwrap(),
        data_before,
        "the dataset changed"
    );
}

#[test]
fn numeric_values_outside_their_domain_are_usage_errors_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path(), 1);
    let out = tmp.path().join("out");
    let m = model.display().to_string();
    let d = data.display().to_string();
    let o = out.display().to_string();
    let task = ["--model", &m, "--data", &d, "--out", &o];
    let seconds = "must be a finite number of seconds > 0 and <= 3600";
    let fraction = "must be a finite number > 0 and < 1";
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["mine", "--code-timeout", "nan"],
            "--code-timeout",
            seconds,
        ),
        (
            vec!["mine", "--code-timeout=inf"],
            "--code-timeout",
            seconds,
        ),
        (
            vec!["mine", "--code-timeout", "1e400"],
            "--code-timeout",
            seconds,
        ),
        (
            vec!["eval", "--code-timeout", "0"],
            "--code-timeout",
            seconds,
        ),
        (vec!["eval", "--code-timeout=-1"], "--code-timeout", seconds),
        (
            vec!["mine", "--max-new-tokens", "0"],
            "--max-new-tokens",
            "must be a whole number of tokens from 1 to 1048576",
        ),
        (
            vec!["eval", "--max-new-tokens", "0"],
            "--max-new-tokens",
            "from 1 to",
        ),
        (
            vec!["eval", "--k", "0"],
            "--k",
            "must be a whole number of tokens from 1 to 1024",
        ),
        (
            vec!["eval", "--prob", "nan"],
            "--prob",
            "must be a finite number > 0 and <= 1",
        ),
        (
            vec!["eval", "--prob", "0.5,nan"],
            "--prob",
            "list item \"nan\"",
        ),
        (
            vec!["mine", "--max-context", "0"],
            "--max-context",
            "from 1 to",
        ),
        (
            vec!["mine", "--parallel", "0"],
            "--parallel",
            "from 1 to 256",
        ),
    ];
    for (args, flag, domain) in cases {
        let mut c = bin();
        c.args(&args).args(task);
        let o = run_within(c, Duration::from_secs(30));
        assert_usage_error(&o, flag, domain);
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    let judge = tmp.path().join("j.safetensors");
    let j = judge.display().to_string();
    let train = ["--data", &o, "--out", &j];
    for (args, flag, domain) in [
        (
            vec!["train", "--val-fraction", "0"],
            "--val-fraction",
            fraction,
        ),
        (
            vec!["train", "--val-fraction", "1"],
            "--val-fraction",
            fraction,
        ),
        (
            vec!["train", "--val-fraction", "2"],
            "--val-fraction",
            fraction,
        ),
        (
            vec!["train", "--val-fraction", "nan"],
            "--val-fraction",
            fraction,
        ),
        (
            vec!["train", "--recall", "nan"],
            "--recall",
            "must be a finite number > 0 and <= 1",
        ),
        (
            vec!["train", "--max-iter", "0"],
            "--max-iter",
            "from 1 to 10000000",
        ),
        (
            vec!["train", "--c-grid", "inf"],
            "--c-grid",
            "must be a finite number > 0",
        ),
        (
            vec!["train", "--c-grid", "0.1,inf"],
            "--c-grid",
            "must be a finite number > 0",
        ),
        (vec!["train", "--tol", "0"], "--tol", fraction),
        (
            vec!["train", "--seed", "-1"],
            "--seed",
            "from 0 to 18446744073709551615",
        ),
        (
            vec!["learning-curve", "--sizes", "none"],
            "--sizes",
            "at least one",
        ),
    ] {
        let mut c = bin();
        c.args(&args).args(train);
        let o = run_within(c, Duration::from_secs(30));
        assert_usage_error(&o, flag, domain);
        assert!(!judge.exists());
    }
    let mut c = bin();
    c.args([
        "generate",
        "--prompt",
        "hi",
        "--max-new-tokens",
        "0",
        "--model",
        &m,
    ]);
    assert_usage_error(
        &run_within(c, Duration::from_secs(30)),
        "--max-new-tokens",
        "from 1 to",
    );
    // No context-overflow or window message: the value never reaches the decoder.
    let mut c = bin();
    c.args(["generate", "--prompt", "hi", "--k", "0", "--model", &m]);
    let o = run_within(c, Duration::from_secs(30));
    assert_usage_error(&o, "--k", "from 1 to 1024");
    assert!(!stderr(&o).contains("window"), "{}", stderr(&o));
}

/// An error's cause is printed once: the message says the context, the "Caused by" chain the
/// cause (a model file that does not exist; a dataset that is a directory).
#[test]
fn errors_print_their_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.gguf");
    let o = run_within(
        {
            let mut c = bin();
            c.arg("inspect").arg(&missing);
            c
        },
        Duration::from_secs(60),
    );
    assert_fails_naming(&o, &["missing.gguf", "No such file or directory"]);
    assert_eq!(
        stderr(&o).matches("No such file or directory").count(),
        1,
        "{}",
        stderr(&o)
    );
    let (model, _) = setup(tmp.path(), 1);
    let data_dir = tmp.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let o = run_within(
        {
            let mut c = bin();
            c.args(["mine", "--prompt-format", "plain", "--prompts", "1"])
                .arg("--model")
                .arg(&model)
                .arg("--data")
                .arg(&data_dir)
                .arg("--out")
                .arg(tmp.path().join("mined"));
            c
        },
        Duration::from_secs(60),
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert_eq!(
        err.to_lowercase().matches("is a directory").count(),
        1,
        "{err}"
    );
}
