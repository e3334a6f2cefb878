//! The settings half of a run directory: a settings file written once and checked field by
//! field on every resume, so results of two different runs never mix.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{write_atomic, RunError, RunResult};

/// First top-level field (not in `ignore`) where two settings values differ: `(field, a's
/// value, b's value)`, a field missing on one side shown as `(missing)`.
pub fn first_difference(
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
pub fn read_settings<S: DeserializeOwned>(path: &Path) -> RunResult<S> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::file(path, e))?;
    serde_json::from_str(&text).map_err(|e| RunError::file(path, e))
}

/// Writes `settings` to `path` when it does not exist; otherwise checks that the file holds the
/// same settings and refuses with [`RunError::SettingsMismatch`] naming the first differing
/// field (the directory's value as `expected`, this run's as `found`). The file is read as `S`
/// first, so fields added with a serde default compare equal to their default. Fields named in
/// `ignore` are not compared.
pub fn check_or_write_settings<S: Serialize + DeserializeOwned>(
    path: &Path,
    settings: &S,
    ignore: &[&str],
) -> RunResult<()> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let theirs: S = serde_json::from_str(&text).map_err(|e| RunError::file(path, e))?;
            check_same_settings(path, &theirs, settings, ignore)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let json = serde_json::to_vec_pretty(settings).map_err(|e| RunError::file(path, e))?;
            write_atomic(path, &json)
        }
        Err(e) => Err(RunError::file(path, e)),
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
) -> RunResult<()> {
    let value = |s: &S| serde_json::to_value(s).map_err(|e| RunError::file(path, e));
    match first_difference(&value(expected)?, &value(found)?, ignore) {
        None => Ok(()),
        Some((field, expected, found)) => Err(RunError::SettingsMismatch {
            path: path.display().to_string(),
            field,
            expected,
            found,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_resume_when_equal_and_are_refused_by_field_otherwise() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("s.json");
        let a = serde_json::json!({"k": 4, "task": "gsm8k", "shard": "0/2"});
        check_or_write_settings(&path, &a, &[]).unwrap();
        check_or_write_settings(&path, &a, &[]).unwrap();
        let b = serde_json::json!({"k": 8, "task": "gsm8k", "shard": "0/2"});
        let err = check_or_write_settings(&path, &b, &[]).unwrap_err();
        assert!(
            matches!(&err, RunError::SettingsMismatch { field, expected, found, .. }
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
    }
}
