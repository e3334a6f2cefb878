//! Refuses, before any work, an output path that would overwrite one of the command's inputs
//! or write into a mined or evaluation directory the command does not own: `train --out
//! <mined>/records.jsonl` is an error naming the path, not a clobbered dataset. Paths are
//! compared after resolving links and `..`, also for outputs that do not exist yet.

use std::path::{Component, Path, PathBuf};

use anyhow::bail;

/// The file a directory holds when `mine` (or `merge`) wrote it.
pub const MINED_MARKER: &str = "manifest.json";

/// What a command writes at an output path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// One file (plus the siblings listed with it).
    File,
    /// A mined directory: created, or resumed when it already is one.
    MinedDir,
    /// An evaluation directory: created, or resumed when it already is one.
    EvalDir,
    /// A plain directory the command fills (neither mined nor evaluation).
    Dir,
    /// A plain directory of the listed files (which may sit next to anything else).
    FilesIn(&'static [&'static str]),
}

/// One path a command writes.
#[derive(Clone, Debug)]
pub struct Output<'a> {
    /// The flag that names it (`--out`).
    pub flag: &'a str,
    /// The path as given.
    pub path: &'a Path,
    /// What is written there.
    pub kind: OutputKind,
    /// Further files written next to it (a judge's tables).
    pub siblings: Vec<PathBuf>,
}

impl<'a> Output<'a> {
    /// An output of `kind` at `path`, named by `flag`.
    pub fn new(flag: &'a str, path: &'a Path, kind: OutputKind) -> Self {
        Output {
            flag,
            path,
            kind,
            siblings: Vec::new(),
        }
    }
}

/// One path a command reads.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The flag that names it (`--data`; a positional argument by its value name).
    pub flag: &'a str,
    /// The path as given.
    pub path: &'a Path,
}

/// `path` made absolute, with links and `..` resolved: the longest existing prefix is
/// canonicalized and the rest appended component by component.
pub fn resolve(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let comps: Vec<Component<'_>> = abs.components().collect();
    for cut in (0..=comps.len()).rev() {
        let prefix: PathBuf = comps[..cut].iter().collect();
        let Ok(mut out) = prefix.canonicalize() else {
            continue;
        };
        for c in &comps[cut..] {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(n) => out.push(n),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        return out;
    }
    abs
}

/// Whether resolved `inner` is resolved `outer` or lies below it.
fn within(inner: &Path, outer: &Path) -> bool {
    inner.starts_with(outer)
}

/// The kind of directory `dir` is, by its marker file: `mined`, `evaluation` or neither.
fn marked(dir: &Path) -> Option<&'static str> {
    if dir.join(MINED_MARKER).is_file() {
        Some("mined")
    } else if dir.join(autojudge_eval::EvalSettings::FILE).is_file() {
        Some("evaluation")
    } else {
        None
    }
}

/// The paths an output writes, resolved: the file and its siblings, the directory, or the
/// listed files in it.
fn written(o: &Output<'_>, at: &Path) -> Vec<PathBuf> {
    let mut w = match o.kind {
        OutputKind::FilesIn(names) => names.iter().map(|n| at.join(n)).collect(),
        _ => vec![at.to_path_buf()],
    };
    w.extend(o.siblings.iter().map(|s| resolve(s)));
    w
}

/// Refuses outputs that would overwrite an input, write into an input directory, or write
/// into a mined or evaluation directory other than one the output itself is (and resumes);
/// the error names the output path and what it would clobber.
pub fn check_outputs(outputs: &[Output<'_>], inputs: &[Input<'_>]) -> anyhow::Result<()> {
    for o in outputs {
        let at = resolve(o.path);
        let shown = o.path.display();
        let flag = o.flag;
        let is_dir_output = o.kind != OutputKind::File;
        if is_dir_output && at.is_file() {
            bail!("{flag} {shown}: is a file; an output directory is needed");
        }
        if !is_dir_output && at.is_dir() {
            bail!("{flag} {shown}: is a directory; an output file path is needed");
        }
        if at.is_dir() {
            match (marked(&at), o.kind) {
                (Some("mined"), OutputKind::MinedDir)
                | (Some("evaluation"), OutputKind::EvalDir)
                | (None, _) => {}
                (Some(kind), _) => bail!(
                    "{flag} {shown}: is a {kind} directory, which this command must not write \
                     into; choose another path"
                ),
            }
        }
        let writes = written(o, &at);
        for i in inputs {
            let input = resolve(i.path);
            let ishown = i.path.display();
            if input == at {
                bail!(
                    "{flag} {shown}: is also the input {} {ishown}; writing there would \
                     overwrite it",
                    i.flag
                );
            }
            for w in &writes {
                if within(&input, w) {
                    bail!(
                        "{flag} {shown}: would overwrite {}, the input {} {ishown}",
                        w.display(),
                        i.flag
                    );
                }
                if within(w, &input) {
                    bail!(
                        "{flag} {shown}: lies inside the input {} {ishown}; writing {} would \
                         change it",
                        i.flag,
                        w.display()
                    );
                }
            }
        }
        for w in &writes {
            // A mined or evaluation directory above a written path belongs to another run.
            if let Some(dir) = w.ancestors().skip(1).find(|d| marked(d).is_some()) {
                let kind = marked(dir).unwrap_or_default();
                bail!(
                    "{flag} {shown}: {} lies inside the {kind} directory {}, whose files only \
                     the run that made it writes; choose a path outside it",
                    w.display(),
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

/// An input when `spec` (a `--draft` value) names a model file, not `ngram` or `self:PLAN`.
pub fn draft_input(spec: &str) -> Option<Input<'_>> {
    (spec != "ngram" && !spec.starts_with("self:")).then(|| Input {
        flag: "--draft",
        path: Path::new(spec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mined(dir: &Path) {
        std::fs::create_dir_all(dir.join("features")).unwrap();
        std::fs::write(dir.join(MINED_MARKER), "{}").unwrap();
        std::fs::write(dir.join("records.jsonl"), "").unwrap();
    }

    #[test]
    fn resolve_handles_missing_tails_and_dot_dot() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().canonicalize().unwrap();
        assert_eq!(resolve(&tmp.path().join("a/../b/./c")), real.join("b/c"));
        assert_eq!(resolve(&tmp.path().join("x/..")), real);
    }

    #[test]
    fn a_file_inside_an_input_or_a_mined_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let m = tmp.path().join("mined");
        mined(&m);
        let records = m.join("records.jsonl");
        let judge = [Output::new("--out", &records, OutputKind::File)];
        let input = [Input {
            flag: "--data",
            path: &m,
        }];
        let e = check_outputs(&judge, &input).unwrap_err().to_string();
        assert!(e.contains(&*records.to_string_lossy()), "{e}");
        let e = check_outputs(&judge, &[]).unwrap_err().to_string();
        assert!(e.contains("inside the mined directory"), "{e}");
        let elsewhere = tmp.path().join("judges/j.safetensors");
        let ok = [Output::new("--out", &elsewhere, OutputKind::File)];
        check_outputs(&ok, &input).unwrap();
    }

    #[test]
    fn directories_resume_their_own_kind_only() {
        let tmp = tempfile::tempdir().unwrap();
        let m = tmp.path().join("mined");
        mined(&m);
        check_outputs(&[Output::new("--out", &m, OutputKind::MinedDir)], &[]).unwrap();
        let e = check_outputs(&[Output::new("--out", &m, OutputKind::EvalDir)], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a mined directory"), "{e}");
        let data = tmp.path().join("d.jsonl");
        std::fs::write(&data, "").unwrap();
        let e = check_outputs(
            &[Output::new("--out", &data, OutputKind::MinedDir)],
            &[Input {
                flag: "--data",
                path: &data,
            }],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("is a file"), "{e}");
        // Listed files only: an input next to them is fine, one of them is not.
        const CURVE: &[&str] = &["learning_curve.md"];
        let root = tmp.path();
        let input = [Input {
            flag: "--data",
            path: &m,
        }];
        check_outputs(
            &[Output::new("--out", root, OutputKind::FilesIn(CURVE))],
            &input,
        )
        .unwrap();
        let md = root.join("learning_curve.md");
        let e = check_outputs(
            &[Output::new("--out", root, OutputKind::FilesIn(CURVE))],
            &[Input {
                flag: "--data",
                path: &md,
            }],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("would overwrite"), "{e}");
    }
}
