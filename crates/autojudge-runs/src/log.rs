//! The log half of a run directory: an append-only JSONL log whose lines are commits.
//!
//! Commit protocol: a line is appended whole and synced (`fsync`) before the run goes on; a
//! final line without its newline was never committed (a run killed while appending), so
//! readers ignore it and a resuming writer cuts it off, durably, before appending. A committed
//! line that does not parse is an error naming file and line, never skipped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{RunError, RunResult};

/// What to do with a torn (newline-less) final line of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TornTail {
    /// Leave the file alone (readers; a run may be appending right now).
    Ignore,
    /// Cut it off the file, durably (a writer about to resume appending).
    CutOff,
}

/// The committed text of `path` (every line ends with a newline); empty when the file does
/// not exist.
pub fn read_committed(path: &Path, torn: TornTail) -> RunResult<String> {
    let io = |e| RunError::file(path, e);
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
/// [`RunError::BadLine`] with its 1-based line number.
pub fn read_lines<T: DeserializeOwned>(path: &Path, torn: TornTail) -> RunResult<Vec<T>> {
    read_committed(path, torn)?
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| RunError::BadLine {
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
    /// lines. A log another process holds is refused ([`RunError::Busy`]) before anything
    /// is read or cut.
    pub fn resume<T: DeserializeOwned>(path: &Path) -> RunResult<(Self, Vec<T>)> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| RunError::file(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(RunError::Busy {
                    path: path.display().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(RunError::file(path, e)),
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
    pub fn commit<T: Serialize>(&mut self, line: &T) -> RunResult<()> {
        let mut json = serde_json::to_string(line).map_err(|e| RunError::file(&self.path, e))?;
        json.push('\n');
        let io = |e: std::io::Error| RunError::file(&self.path, e);
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

    #[test]
    fn torn_tail_is_ignored_or_cut_and_a_missing_file_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
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
    }

    #[test]
    fn log_resumes_after_a_torn_line_and_a_corrupt_committed_line_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
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
    }

    #[test]
    fn a_log_another_writer_holds_is_refused_until_it_is_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("r.jsonl");
        let (mut first, _) = JsonlLog::resume::<u32>(&path).unwrap();
        first.commit(&1u32).unwrap();
        let Err(err) = JsonlLog::resume::<u32>(&path) else {
            panic!("a second writer got the locked log")
        };
        assert!(matches!(&err, RunError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("r.jsonl"), "{err}");
        drop(first);
        let (_, lines) = JsonlLog::resume::<u32>(&path).unwrap();
        assert_eq!(lines, vec![1]);
    }
}
