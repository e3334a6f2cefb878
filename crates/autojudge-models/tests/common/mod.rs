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

/// The embedded SmolLM2 GGUF: `AUTOJUDGE_SMOLLM`, else the model cache that
/// `scripts/fetch-models.sh smollm` fills (`AUTOJUDGE_MODELS`, default
/// `~/.cache/autojudge/models`). A test that needs it fails with this instruction when it is
/// absent (the test command fetches it first), so a missing input never passes as a skip.
pub fn smollm_path() -> PathBuf {
    const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
    let candidates = [
        std::env::var_os("AUTOJUDGE_SMOLLM").map(PathBuf::from),
        std::env::var_os("AUTOJUDGE_MODELS").map(|d| PathBuf::from(d).join(FILE)),
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/autojudge/models").join(FILE)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{FILE} not found: run `scripts/fetch-models.sh smollm` or set AUTOJUDGE_SMOLLM")
        })
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
