//! The mined directory: `manifest.json` (models and settings), `records.jsonl` (one committed
//! line per prompt) and `features/p<index>.safetensors` (hidden states of that prompt's
//! mismatches, in record order).
//!
//! Commit protocol, so a run killed at any instant resumes with nothing lost or duplicated:
//! the feature file is written to a temporary name, synced and renamed; then the record line is
//! appended and synced. A torn last line is cut off on resume; a feature file without a record
//! is rewritten (mining is deterministic).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use autojudge_core::{ModelInfo, TokenizerId};
use half::f16;
use safetensors::tensor::{Dtype, TensorView};

use crate::record::{MismatchFeatures, PromptOutcome, PromptRecord};
use crate::run_dir::{
    check_or_write_settings, first_difference, read_lines, read_settings, write_atomic, JsonlLog,
    TornTail,
};
use crate::{SearchConfig, SearchError, SearchResult, Shard};

/// Storage precision of features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureDType {
    /// Half precision (half the disk; ample for a linear judge).
    F16,
    /// Single precision.
    F32,
}

impl std::str::FromStr for FeatureDType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f16" => Ok(FeatureDType::F16),
            "f32" => Ok(FeatureDType::F32),
            _ => Err(format!("unknown feature dtype `{s}` (expected f16 or f32)")),
        }
    }
}

/// Identity of a model as recorded with mined data.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelIdentity {
    /// Model name.
    pub name: String,
    /// Tokenizer fingerprint.
    pub tokenizer: TokenizerId,
    /// Hidden size (feature width).
    pub hidden_size: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
}

impl From<&ModelInfo> for ModelIdentity {
    fn from(i: &ModelInfo) -> Self {
        ModelIdentity {
            name: i.name.clone(),
            tokenizer: i.tokenizer.clone(),
            hidden_size: i.hidden_size,
            vocab_size: i.vocab_size,
        }
    }
}

/// Everything that determines a mined directory's content.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Format version.
    pub format: u32,
    /// Target model.
    pub target: ModelIdentity,
    /// Draft model.
    pub draft: ModelIdentity,
    /// Task kind (`gsm8k`, `humaneval`).
    pub task: String,
    /// Dataset file name and line count.
    pub dataset: String,
    /// How prompts were rendered (chat template or plain).
    pub prompt_format: String,
    /// Oracle identity.
    pub oracle: String,
    /// Search settings.
    pub search: SearchConfig,
    /// Feature precision.
    pub feature_dtype: FeatureDType,
    /// Which shard of the dataset this directory holds.
    pub shard: Shard,
    /// Dataset lines this run covers (after `--skip`/`--prompts`), before sharding.
    pub lines: std::ops::Range<usize>,
}

/// Current manifest format.
pub const FORMAT: u32 = 1;

/// A mined directory open for appending (mining) or reading (training, merging).
pub struct MinedDir {
    root: PathBuf,
    /// Models and settings.
    pub manifest: Manifest,
    /// Committed records by dataset line.
    pub records: BTreeMap<usize, PromptRecord>,
    /// The records log, when open for appending.
    log: Option<JsonlLog>,
}

impl MinedDir {
    fn records_path(root: &Path) -> PathBuf {
        root.join("records.jsonl")
    }

    fn features_path(&self, index: usize) -> PathBuf {
        self.root
            .join("features")
            .join(format!("p{index:07}.safetensors"))
    }

    /// Directory path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens an existing directory for reading.
    pub fn open(root: &Path) -> SearchResult<Self> {
        let mpath = root.join("manifest.json");
        let manifest: Manifest = read_settings(&mpath)?;
        if manifest.format != FORMAT {
            return Err(SearchError::file(
                &mpath,
                format!("format {} (this build reads {FORMAT})", manifest.format),
            ));
        }
        let path = Self::records_path(root);
        let records = index_records(&path, read_lines(&path, TornTail::Ignore)?)?;
        Ok(MinedDir {
            root: root.to_path_buf(),
            manifest,
            records,
            log: None,
        })
    }

    /// Creates `root` for `manifest`, or resumes it if it holds a run with the same manifest
    /// (anything else is refused with the differing field named). A torn last record line
    /// from a killed run is cut off.
    pub fn create_or_resume(root: &Path, manifest: Manifest) -> SearchResult<Self> {
        std::fs::create_dir_all(root.join("features")).map_err(|e| SearchError::file(root, e))?;
        check_or_write_settings(&root.join("manifest.json"), &manifest, &[])?;
        let path = Self::records_path(root);
        let (log, lines) = JsonlLog::resume(&path)?;
        let records = index_records(&path, lines)?;
        Ok(MinedDir {
            root: root.to_path_buf(),
            manifest,
            records,
            log: Some(log),
        })
    }

    /// Dataset lines already committed.
    pub fn done(&self) -> BTreeSet<usize> {
        self.records.keys().copied().collect()
    }

    /// Commits one prompt: its features first, then its record line (see the module docs).
    pub fn commit(
        &mut self,
        record: PromptRecord,
        features: &[MismatchFeatures],
    ) -> SearchResult<()> {
        if self.records.contains_key(&record.index) {
            return Err(SearchError::InvalidOption {
                field: "record",
                reason: format!("prompt {} is already committed", record.index),
            });
        }
        if !features.is_empty() {
            let bytes = encode_features(features, self.manifest.feature_dtype)?;
            write_atomic(&self.features_path(record.index), &bytes)?;
        }
        let log = self.log.as_mut().ok_or_else(|| {
            SearchError::file(
                &self.root,
                "opened for reading; records cannot be committed",
            )
        })?;
        log.commit(&record)?;
        self.records.insert(record.index, record);
        Ok(())
    }

    /// Features of a committed prompt, in mismatch order.
    pub fn features(&self, index: usize) -> SearchResult<Vec<MismatchFeatures>> {
        let expected = match self.records.get(&index).map(|r| &r.outcome) {
            Some(PromptOutcome::Mined(m)) => m.mismatches.len(),
            _ => 0,
        };
        if expected == 0 {
            return Ok(Vec::new());
        }
        let path = self.features_path(index);
        let bytes = std::fs::read(&path).map_err(|e| SearchError::file(&path, e))?;
        let f = decode_features(&bytes).map_err(|e| SearchError::file(&path, e))?;
        if f.len() != expected {
            return Err(SearchError::file(
                &path,
                format!("{} feature rows, record has {expected} mismatches", f.len()),
            ));
        }
        Ok(f)
    }

    /// Joins shard directories into `out`. Refuses shards of different models or settings,
    /// the same shard twice, or an incomplete set of shards.
    pub fn merge(shards: &[PathBuf], out: &Path) -> SearchResult<MinedDir> {
        let dirs: Vec<MinedDir> = shards
            .iter()
            .map(|p| MinedDir::open(p))
            .collect::<SearchResult<_>>()?;
        let first = dirs.first().ok_or(SearchError::InvalidOption {
            field: "shards",
            reason: "nothing to merge".into(),
        })?;
        let count = first.manifest.shard.count;
        let mut seen = BTreeSet::new();
        for d in &dirs {
            let value = |m: &Manifest| serde_json::to_value(m).unwrap_or_default();
            if let Some((field, expected, found)) =
                first_difference(&value(&first.manifest), &value(&d.manifest), &["shard"])
            {
                return Err(SearchError::SettingsMismatch {
                    path: d.root.display().to_string(),
                    field,
                    expected,
                    found,
                });
            }
            if d.manifest.shard.count != count || !seen.insert(d.manifest.shard.index) {
                return Err(SearchError::SettingsMismatch {
                    path: d.root.display().to_string(),
                    field: "shard".into(),
                    expected: format!("a distinct shard of {count}"),
                    found: d.manifest.shard.to_string(),
                });
            }
        }
        if seen.len() != count {
            let missing: Vec<String> = (0..count)
                .filter(|i| !seen.contains(i))
                .map(|i| format!("{i}/{count}"))
                .collect();
            return Err(SearchError::InvalidOption {
                field: "shards",
                reason: format!("missing shard(s) {}", missing.join(", ")),
            });
        }
        let mut manifest = first.manifest.clone();
        manifest.shard = Shard::ALL;
        let mut merged = MinedDir::create_or_resume(out, manifest)?;
        if !merged.records.is_empty() {
            return Err(SearchError::file(
                out,
                "output directory already holds records",
            ));
        }
        let mut all: Vec<(&MinedDir, &PromptRecord)> = dirs
            .iter()
            .flat_map(|d| d.records.values().map(move |r| (d, r)))
            .collect();
        all.sort_by_key(|(_, r)| r.index);
        for (d, r) in all {
            let f = d.features(r.index)?;
            merged.commit(r.clone(), &f)?;
        }
        Ok(merged)
    }
}

/// Records by dataset line; a prompt committed twice is [`SearchError::BadRecord`].
fn index_records(
    path: &Path,
    lines: Vec<PromptRecord>,
) -> SearchResult<BTreeMap<usize, PromptRecord>> {
    let mut out = BTreeMap::new();
    for (i, r) in lines.into_iter().enumerate() {
        if out.insert(r.index, r).is_some() {
            return Err(SearchError::BadRecord {
                path: path.display().to_string(),
                line: i + 1,
                reason: "duplicate prompt index".into(),
            });
        }
    }
    Ok(out)
}

fn encode_features(f: &[MismatchFeatures], dtype: FeatureDType) -> SearchResult<Vec<u8>> {
    let rows = f.len();
    let (hd, ht) = (f[0].draft.len(), f[0].target.len());
    let bytes = |get: &dyn Fn(&MismatchFeatures) -> &Vec<f32>| -> Vec<u8> {
        let flat = f.iter().flat_map(|m| get(m).iter().copied());
        match dtype {
            FeatureDType::F32 => flat.flat_map(f32::to_le_bytes).collect(),
            FeatureDType::F16 => flat.flat_map(|x| f16::from_f32(x).to_le_bytes()).collect(),
        }
    };
    let (d, t) = (bytes(&|m| &m.draft), bytes(&|m| &m.target));
    let st = match dtype {
        FeatureDType::F32 => Dtype::F32,
        FeatureDType::F16 => Dtype::F16,
    };
    let err = |e: safetensors::SafeTensorError| SearchError::InvalidOption {
        field: "features",
        reason: e.to_string(),
    };
    let views = vec![
        (
            "draft_hidden",
            TensorView::new(st, vec![rows, hd], &d).map_err(err)?,
        ),
        (
            "target_hidden",
            TensorView::new(st, vec![rows, ht], &t).map_err(err)?,
        ),
    ];
    safetensors::serialize(views, None).map_err(err)
}

fn decode_features(bytes: &[u8]) -> Result<Vec<MismatchFeatures>, String> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let get = |name: &str| -> Result<(usize, usize, Vec<f32>), String> {
        let t = st
            .tensor(name)
            .map_err(|e| format!("tensor `{name}`: {e}"))?;
        let shape = t.shape();
        if shape.len() != 2 {
            return Err(format!("tensor `{name}` has shape {shape:?}, expected 2-D"));
        }
        let v: Vec<f32> = match t.dtype() {
            Dtype::F32 => t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            Dtype::F16 => t
                .data()
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32())
                .collect(),
            other => return Err(format!("tensor `{name}` is {other:?}, expected F16 or F32")),
        };
        Ok((shape[0], shape[1], v))
    };
    let (rd, hd, d) = get("draft_hidden")?;
    let (rt, ht, t) = get("target_hidden")?;
    if rd != rt {
        return Err(format!("draft_hidden has {rd} rows, target_hidden {rt}"));
    }
    Ok((0..rd)
        .map(|i| MismatchFeatures {
            draft: d[i * hd..(i + 1) * hd].to_vec(),
            target: t[i * ht..(i + 1) * ht].to_vec(),
        })
        .collect())
}

/// A mined directory flattened for training a judge.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingRows {
    /// Feature rows (target hidden, or draft hidden ++ target hidden).
    pub features: Vec<Vec<f32>>,
    /// `true` = important.
    pub labels: Vec<bool>,
    /// Prompt (dataset line) of each row, for splitting by prompt.
    pub groups: Vec<u64>,
}

impl MinedDir {
    /// Every mismatch of every mined prompt as a training row for `set`.
    pub fn training_rows(&self, set: autojudge_core::FeatureSet) -> SearchResult<TrainingRows> {
        let mut rows = TrainingRows::default();
        for (&index, r) in &self.records {
            let PromptOutcome::Mined(m) = &r.outcome else {
                continue;
            };
            for (mm, f) in m.mismatches.iter().zip(self.features(index)?) {
                rows.features.push(match set {
                    autojudge_core::FeatureSet::Target => f.target,
                    autojudge_core::FeatureSet::DraftAndTarget => {
                        let mut v = f.draft;
                        v.extend_from_slice(&f.target);
                        v
                    }
                });
                rows.labels.push(mm.important);
                rows.groups.push(index as u64);
            }
        }
        Ok(rows)
    }
}
