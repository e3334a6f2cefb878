//! Append-only JSONL files whose lines are commits (mined records, evaluation results): a
//! final line without its newline was never committed (a run killed while appending), so
//! readers ignore it and a resuming writer cuts it off before appending.

use std::fs::OpenOptions;
use std::path::Path;

/// What to do with a torn (newline-less) final line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TornTail {
    /// Leave the file alone (readers; a run may be appending right now).
    Ignore,
    /// Cut it off the file, durably (a writer about to resume appending).
    CutOff,
}

/// The committed text of `path` (every line ends with a newline); empty when the file does
/// not exist.
pub fn read_committed(path: &Path, torn: TornTail) -> std::io::Result<String> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        let keep = text.rfind('\n').map_or(0, |n| n + 1);
        if torn == TornTail::CutOff {
            let f = OpenOptions::new().write(true).open(path)?;
            f.set_len(keep as u64)?;
            f.sync_all()?;
        }
        text.truncate(keep);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_ignored_or_cut_and_a_missing_file_is_empty() {
        let dir = std::env::temp_dir().join(format!("aj-jsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
}
