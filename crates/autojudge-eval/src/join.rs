//! One report from evaluation directories that ran in parallel (e.g. two halves of the test
//! prompts, one per core), without running a model.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::run::RESULTS_FILE;
use crate::summary::{method_order, Report};
use crate::{same_path, EvalDir, EvalError, EvalResult, EvalSettings, ResultLine};

/// The settings and result lines of `dirs` read as one directory. Every directory must have
/// the same settings (the error names the first differing field), and a (method, prompt) pair
/// found twice is refused.
pub fn read_joined(dirs: &[PathBuf]) -> EvalResult<(EvalSettings, Vec<ResultLine>)> {
    let mut settings: Option<EvalSettings> = None;
    let mut lines: Vec<ResultLine> = Vec::new();
    let mut seen = HashSet::new();
    for dir in dirs {
        let (s, dir_lines) = EvalDir::read(dir)?;
        if let Some(first) = &settings {
            autojudge_runs::check_same_settings(&dir.join(EvalSettings::FILE), first, &s, &[])?;
        }
        for l in dir_lines {
            if !seen.insert((l.method.clone(), l.index)) {
                return Err(EvalError::Conflict {
                    path: dir.join(RESULTS_FILE).display().to_string(),
                    reason: format!(
                        "{} on dataset line {} is also in an earlier directory",
                        l.method, l.index
                    ),
                });
            }
            lines.push(l);
        }
        settings.get_or_insert(s);
    }
    match settings {
        Some(s) => Ok((s, lines)),
        None => Err(EvalError::InvalidOption {
            field: "dirs",
            reason: "no input directories".into(),
        }),
    }
}

/// Joins `dirs` into `out` and returns the report over all their lines. Every directory must
/// have the same settings (`eval.json`, written to `out` too) and a (method, prompt) pair found
/// twice is refused. When `out` is not one of the inputs, the joined `results.jsonl` is written
/// there; an `out` that already holds results and is not an input is refused, so nothing is
/// overwritten.
pub fn join_dirs(dirs: &[PathBuf], out: &Path, resamples: usize) -> EvalResult<Report> {
    let out_is_input = dirs.iter().any(|d| same_path(d, out));
    let joined = out.join(RESULTS_FILE);
    if !out_is_input && joined.exists() {
        return Err(EvalError::Conflict {
            path: joined.display().to_string(),
            reason: "already holds results; choose a new output directory or pass it as an input"
                .into(),
        });
    }
    let (s, lines) = read_joined(dirs)?;
    std::fs::create_dir_all(out).map_err(|e| EvalError::file(out, e))?;
    s.check_or_write(out)?;
    if !out_is_input {
        let io = |e| EvalError::file(&joined, e);
        let mut f = std::fs::File::create(&joined).map_err(io)?;
        for l in &lines {
            writeln!(f, "{}", serde_json::to_string(l).expect("lines serialize")).map_err(io)?;
        }
        f.sync_all().map_err(io)?;
    }
    Ok(Report::new(&s, &lines, &method_order(&lines), resamples))
}
