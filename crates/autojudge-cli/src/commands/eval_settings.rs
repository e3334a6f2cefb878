//! The settings an `eval` results directory was produced with (`eval.json`). A rerun with other
//! settings is refused, naming the field, so resumed results never mix two runs; adding methods
//! (a judge, a threshold) or prompts to a directory is allowed.

use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// What every result line of one directory must share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Benchmark name.
    pub task: String,
    /// Dataset file name.
    pub data: String,
    /// Oracle identity (includes its options, e.g. GSM8K fallbacks).
    pub oracle: String,
    /// Whether prompts went through the chat template.
    pub chat: bool,
    /// Target model identity.
    pub target: String,
    /// Draft model identity.
    pub draft: String,
    /// Projection dtype.
    pub dtype: String,
    /// Draft window.
    pub k: usize,
    /// Response budget.
    pub max_new_tokens: usize,
}

impl EvalSettings {
    /// File name inside the results directory.
    pub const FILE: &'static str = "eval.json";

    /// The settings of an existing results directory.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (not an eval directory?)", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not an eval settings file", path.display()))
    }

    /// Writes the settings into a new directory, or checks them against an existing one.
    pub fn check_or_write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(Self::FILE);
        let mine = serde_json::to_value(self)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let theirs: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not an eval settings file", path.display()))?;
                let serde_json::Value::Object(mine) = mine else {
                    unreachable!("a struct serializes to an object")
                };
                for (field, value) in &mine {
                    let old = theirs.get(field);
                    if old != Some(value) {
                        bail!(
                            "{}: results were produced with {field} = {}, this run has {field} = {value}; \
                             use another --out or the same settings",
                            path.display(),
                            old.map_or("(missing)".to_string(), |v| v.to_string())
                        );
                    }
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let tmp = dir.join(format!("{}.tmp", Self::FILE));
                std::fs::write(&tmp, serde_json::to_string_pretty(self)?)
                    .with_context(|| format!("writing {}", tmp.display()))?;
                std::fs::rename(&tmp, &path)?;
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EvalSettings {
        EvalSettings {
            task: "gsm8k".into(),
            data: "test.jsonl".into(),
            oracle: "gsm8k".into(),
            chat: true,
            target: "t".into(),
            draft: "d".into(),
            dtype: "F32".into(),
            k: 4,
            max_new_tokens: 64,
        }
    }

    #[test]
    fn same_settings_resume_and_other_settings_are_refused_by_field() {
        let dir = std::env::temp_dir().join(format!("aj-eval-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join(EvalSettings::FILE));
        settings().check_or_write(&dir).unwrap();
        settings().check_or_write(&dir).unwrap();
        let other = EvalSettings { k: 8, ..settings() };
        let err = other.check_or_write(&dir).unwrap_err().to_string();
        assert!(err.contains("k = 4") && err.contains("k = 8"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
