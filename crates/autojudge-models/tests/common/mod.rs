//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

pub type B = autojudge_models::backend::CpuBackend;

/// Workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A committed fixture.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// The embedded SmolLM2 GGUF, from `AUTOJUDGE_SMOLLM` or `../shared/models`; `None` (test
/// skipped with a note) when neither exists.
pub fn smollm_path() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("AUTOJUDGE_SMOLLM").map(PathBuf::from),
        Some(root().join("../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf")),
        std::env::var_os("HOME").map(|h| {
            PathBuf::from(h).join(".cache/autojudge/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        }),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.exists());
    if found.is_none() {
        eprintln!("SmolLM2 GGUF not found; set AUTOJUDGE_SMOLLM to run this check");
    }
    found
}

/// A unique scratch file path.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autojudge-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
