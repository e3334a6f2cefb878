//! `autojudge refeature` and records-only mined directories, on a tiny GGUF model: features
//! recomputed from records equal the stored ones, a directory without feature files gets them
//! back, `mine` resumes such a directory without mining its prompts again, and other task
//! flags are refused naming the manifest field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use autojudge_models::tiny::TinyModel;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autojudge"));
    c.env("RUST_BACKTRACE", "0");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let model = dir.join("tiny.gguf");
    std::fs::write(&model, TinyModel::new(5).layers(3).vocab(300).to_gguf()).unwrap();
    let data = dir.join("gsm8k.jsonl");
    let lines: Vec<String> = (0..4)
        .map(|i| {
            format!(
                "{{\"question\":\"What is {i} plus 2?\",\"answer\":\"#### {}\"}}",
                i + 2
            )
        })
        .collect();
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    (model, data)
}

/// `autojudge CMD` with the tiny pair and task flags, then `extra`.
fn run(cmd: &str, model: &Path, data: &Path, labels: &str, extra: &[&Path]) -> Output {
    let mut c = bin();
    c.args([cmd, "--draft", "self:exit:2", "--prompt-format", "plain"])
        .args(["--labels", labels, "--prompts", "4"])
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data);
    if cmd == "mine" {
        c.args(["--max-new-tokens", "40", "--out"]);
    }
    c.args(extra);
    c.output().unwrap()
}

fn feature_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("features"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn features_come_back_from_records_and_mining_resumes_without_mining_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path());
    let out = tmp.path().join("mined");
    let o = run("mine", &model, &data, "lenient", &[&out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let stored = feature_files(&out);
    assert!(!stored.is_empty(), "the tiny pair disagrees somewhere");

    // --check: recomputed rows equal the stored ones.
    let o = run(
        "refeature",
        &model,
        &data,
        "lenient",
        &[Path::new("--check"), &out],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("0 differ"), "{said}");

    // Records only: refeature writes the same files back.
    std::fs::remove_dir_all(out.join("features")).unwrap();
    let o = run("refeature", &model, &data, "lenient", &[&out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains(&format!("{} feature files written", stored.len())),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(feature_files(&out), stored);

    // Records only again: `mine` recomputes them instead of mining the prompts again.
    std::fs::remove_dir_all(out.join("features")).unwrap();
    let o = run("mine", &model, &data, "lenient", &[&out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("recomputed"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("records.jsonl")).unwrap(),
        records
    );
    assert_eq!(feature_files(&out), stored);

    // Other task flags render other prompts: refused, naming the field.
    let o = run("refeature", &model, &data, "reference", &[&out]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("prompt_format") && !err.contains("panicked"),
        "{err}"
    );
}
