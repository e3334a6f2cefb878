//! The two halves of every resumable run directory (a mined directory, an evaluation
//! directory): a **settings file** written once and checked field by field on every resume, so
//! results of two different runs never mix, and an **append-only JSONL log** whose lines are
//! commits.
//!
//! Commit protocol of the log: a line is appended whole and synced (`fsync`) before the run
//! goes on; a final line without its newline was never committed (a run killed while
//! appending), so readers ignore it and a resuming writer cuts it off, durably, before
//! appending. A committed line that does not parse is an error naming file and line, never
//! skipped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{SearchError, SearchResult};

/// What to do with a torn (newline-less) final line of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TornTail {
    /// Leave the file alone (readers; a run may be appending right now).
    Ignore,
    /// Cut it off the file, durably (a writer about to resume appending).
    CutOff,
}

/// Writes `bytes` to `path` atomically: a synced temporary file renamed over it.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> SearchResult<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| SearchError::file(&tmp, e))?;
    f.write_all(bytes).map_err(|e| SearchError::file(&tmp, e))?;
    f.sync_all().map_err(|e| SearchError::file(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| SearchError::file(path, e))
}

/// First top-level field (not in `ignore`) where two settings values differ: `(field, a's
/// value, b's value)`, a field missing on one side shown as `(missing)`.
pub(crate) fn first_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    ignore: &[&str],
) -> Option<(String, String, String)> {
    let show = |v: Option<&serde_json::Value>| v.map_or("(missing)".into(), |v| v.to_string());
    let (oa, ob) = (a.as_object()?, b.as_object()?);
    oa.keys()
        .chain(ob.keys().filter(|k| !oa.contains_key(*k)))
        .filter(|k| !ignore.contains(&k.as_str()))
        .find(|k| oa.get(*k) != ob.get(*k))
        .map(|k| (k.clone(), show(oa.get(k)), show(ob.get(k))))
}

/// Reads a settings file.
pub fn read_settings<S: DeserializeOwned>(path: &Path) -> SearchResult<S> {
    let text = std::fs::read_to_string(path).map_err(|e| SearchError::file(path, e))?;
    serde_json::from_str(&text).map_err(|e| SearchError::file(path, e))
}

/// Writes `settings` to `path` when it does not exist; otherwise checks that the file holds the
/// same settings and refuses with [`SearchError::SettingsMismatch`] naming the first differing
/// field (the directory's value as `expected`, this run's as `found`). The file is read as `S`
/// first, so fields added with a serde default compare equal to their default. Fields named in
/// `ignore` are not compared.
pub fn check_or_write_settings<S: Serialize + DeserializeOwned>(
    path: &Path,
    settings: &S,
    ignore: &[&str],
) -> SearchResult<()> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let theirs: S = serde_json::from_str(&text).map_err(|e| SearchError::file(path, e))?;
            check_same_settings(path, &theirs, settings, ignore)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let json =
                serde_json::to_vec_pretty(settings).map_err(|e| SearchError::file(path, e))?;
            write_atomic(path, &json)
        }
        Err(e) => Err(SearchError::file(path, e)),
    }
}

/// Checks that `found` (read from `path`) has the same settings as `expected`, fields in
/// `ignore` aside; the error names the first differing field. For joining run directories
/// in memory, where nothing is written.
pub fn check_same_settings<S: Serialize>(
    path: &Path,
    expected: &S,
    found: &S,
    ignore: &[&str],
) -> SearchResult<()> {
    let value = |s: &S| serde_json::to_value(s).map_err(|e| SearchError::file(path, e));
    match first_difference(&value(expected)?, &value(found)?, ignore) {
        None => Ok(()),
        Some((field, expected, found)) => Err(SearchError::SettingsMismatch {
            path: path.display().to_string(),
            field,
            expected,
            found,
        }),
    }
}

/// The committed text of `path` (every line ends with a newline); empty when the file does
/// not exist.
pub fn read_committed(path: &Path, torn: TornTail) -> SearchResult<String> {
    let io = |e| SearchError::file(path, e);
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(io(e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        let keep = text.rfind('\n').map_or(0, |n| n + 1);
        if torn == TornTail::CutOff {
            let f = OpenOptions::new().write(true).open(path).map_err(io)?;
            f.set_len(keep as u64).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        text.truncate(keep);
    }
    Ok(text)
}

/// The committed lines of a JSONL log, parsed; a line that does not parse is
/// [`SearchError::BadRecord`] with its 1-based line number.
pub fn read_lines<T: DeserializeOwned>(path: &Path, torn: TornTail) -> SearchResult<Vec<T>> {
    read_committed(path, torn)?
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| SearchError::BadRecord {
                path: path.display().to_string(),
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// An append-only JSONL log open for committing lines.
#[derive(Debug)]
pub struct JsonlLog {
    path: PathBuf,
    file: File,
}

impl JsonlLog {
    /// Opens (creating) `path` for appending, holding an exclusive lock on it for as long as
    /// the log lives, after cutting off a torn final line; returns the log and its committed
    /// lines. A log another process holds is refused ([`SearchError::Busy`]) before anything
    /// is read or cut.
    pub fn resume<T: DeserializeOwned>(path: &Path) -> SearchResult<(Self, Vec<T>)> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| SearchError::file(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SearchError::Busy {
                    path: path.display().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(SearchError::file(path, e)),
        }
        let lines = read_lines(path, TornTail::CutOff)?;
        Ok((
            JsonlLog {
                path: path.to_path_buf(),
                file,
            },
            lines,
        ))
    }

    /// Appends one line and syncs it to disk: once this returns, the line is committed.
    pub fn commit<T: Serialize>(&mut self, line: &T) -> SearchResult<()> {
        let mut json = serde_json::to_string(line).map_err(|e| SearchError::file(&self.path, e))?;
        json.push('\n');
        let io = |e: std::io::Error| SearchError::file(&self.path, e);
        self.file.write_all(json.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aj-run-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn torn_tail_is_ignored_or_cut_and_a_missing_file_is_empty() {
        let dir = scratch("torn");
        let path = dir.join("r.jsonl");
        assert_eq!(read_committed(&path, TornTail::CutOff).unwrap(), "");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":").unwrap();
        assert_eq!(
            read_committed(&path, TornTail::Ignore).unwrap(),
            "{\"a\":1}\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().len(), 13);
        assert_eq!(
            read_committed(&path, TornTail::CutOff).unwrap(),
            "{\"a\":1}\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_resumes_after_a_torn_line_and_a_corrupt_committed_line_is_an_error() {
        let dir = scratch("log");
        let path = dir.join("r.jsonl");
        std::fs::write(&path, "[1]\n[2").unwrap();
        let (mut log, lines) = JsonlLog::resume::<Vec<u32>>(&path).unwrap();
        assert_eq!(lines, vec![vec![1]]);
        log.commit(&vec![3u32]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1]\n[3]\n");
        drop(log);
        std::fs::write(&path, "[1]\nnot json\n").unwrap();
        let err = JsonlLog::resume::<Vec<u32>>(&path).unwrap_err().to_string();
        assert!(err.contains("r.jsonl:2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_another_writer_holds_is_refused_until_it_is_released() {
        let dir = scratch("busy");
        let path = dir.join("r.jsonl");
        let (mut first, _) = JsonlLog::resume::<u32>(&path).unwrap();
        first.commit(&1u32).unwrap();
        let Err(err) = JsonlLog::resume::<u32>(&path) else {
            panic!("a second writer got the locked log")
        };
        assert!(matches!(&err, SearchError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("r.jsonl"), "{err}");
        drop(first);
        let (_, lines) = JsonlLog::resume::<u32>(&path).unwrap();
        assert_eq!(lines, vec![1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn settings_resume_when_equal_and_are_refused_by_field_otherwise() {
        let dir = scratch("settings");
        let path = dir.join("s.json");
        let a = serde_json::json!({"k": 4, "task": "gsm8k", "shard": "0/2"});
        check_or_write_settings(&path, &a, &[]).unwrap();
        check_or_write_settings(&path, &a, &[]).unwrap();
        let b = serde_json::json!({"k": 8, "task": "gsm8k", "shard": "0/2"});
        let err = check_or_write_settings(&path, &b, &[]).unwrap_err();
        assert!(
            matches!(&err, SearchError::SettingsMismatch { field, expected, found, .. }
                if field == "k" && expected == "4" && found == "8"),
            "{err}"
        );
        let c = serde_json::json!({"k": 4, "task": "gsm8k", "shard": "1/2"});
        check_or_write_settings(&path, &c, &["shard"]).unwrap();
        let d = serde_json::json!({"k": 4, "task": "gsm8k", "shard": "0/2", "new": 1});
        let err = check_or_write_settings(&path, &d, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("new") && err.contains("(missing)"), "{err}");
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Typed {
            k: u32,
            task: String,
        }
        let err = check_or_write_settings(
            &path,
            &Typed {
                k: 4,
                task: "x".into(),
            },
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("task") && err.contains("\"gsm8k\""), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
