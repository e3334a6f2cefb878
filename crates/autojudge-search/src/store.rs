//! The mined directory: `manifest.json` (models and settings), `records.jsonl` (one committed
//! line per prompt) and `features/p<index>.safetensors` (hidden states of that prompt's
//! mismatches, in record order).
//!
//! Commit protocol, so a run killed at any instant resumes with nothing lost or duplicated:
//! the feature file is written to a temporary name, synced and renamed; then the record line is
//! appended and synced. A torn last line is cut off on resume; a feature file without a record
//! is rewritten (mining is deterministic).
//!
//! Every committed record's feature file is checked against the record and the manifest when
//! the directory is opened (its header only: present, as long as the header says, one row per
//! mismatch of the manifest's widths and precision). Reading refuses a damaged directory
//! ([`SearchError::DamagedFeatures`]); resuming withdraws the records of damaged files (the log
//! is rewritten atomically without them) so the run mines those prompts again: nothing is lost
//! and nothing is committed twice ([`MinedDir::remining`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use autojudge_core::{ModelInfo, TokenizerId};
use half::f16;
use safetensors::tensor::{Dtype, TensorView};

use crate::record::{MismatchFeatures, PromptOutcome, PromptRecord};
use crate::{SearchConfig, SearchError, SearchResult, Shard};
use autojudge_runs::{
    check_or_write_settings, first_difference, read_committed, read_lines, read_settings,
    write_atomic, JsonlLog, RunError, TornTail,
};

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

impl Manifest {
    /// The manifest of an unsharded run over `lines` of a task given in code: the two models'
    /// identities, the task's name (also its dataset's), the oracle's name, the search
    /// settings; plain prompts and f32 features. The `with_` methods set the rest.
    pub fn new(
        target: &ModelInfo,
        draft: &ModelInfo,
        task: impl Into<String>,
        oracle: &dyn autojudge_tasks::Oracle,
        search: SearchConfig,
        lines: std::ops::Range<usize>,
    ) -> Self {
        let task = task.into();
        Manifest {
            format: FORMAT,
            target: target.into(),
            draft: draft.into(),
            dataset: task.clone(),
            task,
            prompt_format: "plain".into(),
            oracle: oracle.name(),
            search,
            feature_dtype: FeatureDType::F32,
            shard: Shard::ALL,
            lines,
        }
    }

    /// The dataset's name (default: the task's).
    pub fn with_dataset(mut self, dataset: impl Into<String>) -> Self {
        self.dataset = dataset.into();
        self
    }

    /// How prompts were rendered (default `plain`; e.g. the chat template's name).
    pub fn with_prompt_format(mut self, format: impl Into<String>) -> Self {
        self.prompt_format = format.into();
        self
    }

    /// The features' storage precision (default f32).
    pub fn with_feature_dtype(mut self, dtype: FeatureDType) -> Self {
        self.feature_dtype = dtype;
        self
    }

    /// The shard this directory holds (default: all lines).
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }
}

/// Current manifest format.
pub const FORMAT: u32 = 1;

/// What is wrong with a committed prompt's feature file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureDamage {
    /// The file does not exist.
    #[error("the file is missing")]
    Missing,
    /// The file ends before the data its header describes (or before its header).
    #[error("the file is truncated: {len} bytes, at least {needed} expected")]
    Truncated {
        /// File length.
        len: u64,
        /// Length its header (or header length) calls for.
        needed: u64,
    },
    /// The file holds bytes past the data its header describes.
    #[error("{extra} bytes follow the data its header describes")]
    TrailingBytes {
        /// Bytes past the data.
        extra: u64,
    },
    /// A tensor every feature file holds is absent.
    #[error("tensor `{tensor}` is missing")]
    MissingTensor {
        /// Tensor name.
        tensor: &'static str,
    },
    /// A tensor holds another number of rows than the record has mismatches.
    #[error("tensor `{tensor}` has {rows} rows, the record has {mismatches} mismatches")]
    Rows {
        /// Tensor name.
        tensor: &'static str,
        /// Rows in the file.
        rows: usize,
        /// Mismatches in the record.
        mismatches: usize,
    },
    /// A tensor's rows are not as wide as the manifest's models give.
    #[error("tensor `{tensor}` is {width} wide, the manifest gives {expected}")]
    Width {
        /// Tensor name.
        tensor: &'static str,
        /// Width in the file.
        width: usize,
        /// Width the manifest gives.
        expected: usize,
    },
    /// A tensor is stored in another precision than the manifest's.
    #[error("tensor `{tensor}` is {found}, the manifest gives {expected}")]
    DType {
        /// Tensor name.
        tensor: &'static str,
        /// Dtype in the file.
        found: String,
        /// Dtype the manifest gives.
        expected: &'static str,
    },
    /// The file cannot be read, or its header cannot be parsed.
    #[error("unreadable: {reason}")]
    Unreadable {
        /// What went wrong.
        reason: String,
    },
}

/// A committed prompt whose feature file is damaged ([`FeatureDamage`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedPrompt {
    /// Dataset line of the prompt.
    pub index: usize,
    /// Its feature file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub damage: FeatureDamage,
}

impl DamagedPrompt {
    /// The [`SearchError::DamagedFeatures`] naming this prompt's file.
    pub fn error(&self) -> SearchError {
        SearchError::DamagedFeatures {
            path: self.path.display().to_string(),
            index: self.index,
            damage: self.damage.clone(),
        }
    }
}

/// A mined directory open for appending (mining) or reading (training, merging).
pub struct MinedDir {
    root: PathBuf,
    /// Models and settings.
    pub manifest: Manifest,
    /// Committed records by dataset line.
    pub records: BTreeMap<usize, PromptRecord>,
    /// The records log, when open for appending.
    log: Option<JsonlLog>,
    /// Prompts whose records were withdrawn on resume because their feature files were damaged.
    remining: Vec<DamagedPrompt>,
}

impl MinedDir {
    fn records_path(root: &Path) -> PathBuf {
        root.join("records.jsonl")
    }

    fn features_path(&self, index: usize) -> PathBuf {
        Self::features_file(&self.root, index)
    }

    fn features_file(root: &Path, index: usize) -> PathBuf {
        root.join("features")
            .join(format!("p{index:07}.safetensors"))
    }

    /// The committed records of `records` whose feature files are damaged, checked against
    /// `manifest` (see the module docs).
    fn damaged<'r>(
        root: &Path,
        manifest: &Manifest,
        records: impl IntoIterator<Item = &'r PromptRecord>,
    ) -> Vec<DamagedPrompt> {
        records
            .into_iter()
            .filter_map(|r| {
                let PromptOutcome::Mined(m) = &r.outcome else {
                    return None;
                };
                if m.mismatches.is_empty() {
                    return None;
                }
                let path = Self::features_file(root, r.index);
                check_feature_file(&path, m.mismatches.len(), manifest)
                    .err()
                    .map(|damage| DamagedPrompt {
                        index: r.index,
                        path,
                        damage,
                    })
            })
            .collect()
    }

    /// Prompts whose records this resume withdrew because their feature files were missing or
    /// incomplete: the run mines them again (empty when nothing was damaged, and for a
    /// directory opened for reading, which refuses damage instead).
    pub fn remining(&self) -> &[DamagedPrompt] {
        &self.remining
    }

    /// Directory path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens an existing directory for reading.
    pub fn open(root: &Path) -> SearchResult<Self> {
        let dir = Self::open_records(root)?;
        if let Some(d) = dir.feature_damage().first() {
            return Err(d.error());
        }
        Ok(dir)
    }

    /// Opens an existing directory whose feature files may be missing or damaged, to recompute
    /// them from its records ([`crate::recompute_features`], [`Self::write_features`]): what
    /// [`Self::open`] refuses, [`Self::feature_damage`] lists.
    pub fn open_records(root: &Path) -> SearchResult<Self> {
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
            remining: Vec::new(),
        })
    }

    /// The committed prompts whose feature files are missing or damaged.
    pub fn feature_damage(&self) -> Vec<DamagedPrompt> {
        Self::damaged(&self.root, &self.manifest, self.records.values())
    }

    /// Writes (atomically, replacing any) the feature file of committed prompt `index`: one row
    /// per mismatch of its record, in the manifest's precision.
    pub fn write_features(&self, index: usize, features: &[MismatchFeatures]) -> SearchResult<()> {
        let expected = match self.records.get(&index).map(|r| &r.outcome) {
            Some(PromptOutcome::Mined(m)) => m.mismatches.len(),
            _ => {
                return Err(SearchError::InvalidOption {
                    field: "index",
                    reason: format!(
                        "prompt {index} has no mined record in {}",
                        self.root.display()
                    ),
                })
            }
        };
        if features.len() != expected || expected == 0 {
            return Err(SearchError::InvalidOption {
                field: "features",
                reason: format!(
                    "{} feature rows for prompt {index}, whose record has {expected} mismatches",
                    features.len()
                ),
            });
        }
        std::fs::create_dir_all(self.root.join("features"))
            .map_err(|e| SearchError::file(&self.root, e))?;
        let bytes = encode_features(features, self.manifest.feature_dtype)?;
        Ok(write_atomic(&self.features_path(index), &bytes)?)
    }

    /// Creates `root` for `manifest`, or resumes it if it holds a run with the same manifest
    /// (anything else is refused with the differing field named). A torn last record line
    /// from a killed run is cut off. Records whose feature files are missing or incomplete are
    /// withdrawn, so the run mines their prompts again ([`Self::remining`]).
    pub fn create_or_resume(root: &Path, manifest: Manifest) -> SearchResult<Self> {
        std::fs::create_dir_all(root.join("features")).map_err(|e| SearchError::file(root, e))?;
        check_or_write_settings(&root.join("manifest.json"), &manifest, &[])?;
        let path = Self::records_path(root);
        let (mut log, mut lines) = JsonlLog::resume::<PromptRecord>(&path)?;
        // Duplicates are refused before anything is rewritten.
        index_records(&path, lines.clone())?;
        let remining = Self::damaged(root, &manifest, &lines);
        if !remining.is_empty() {
            drop(log);
            let withdrawn: BTreeSet<usize> = remining.iter().map(|d| d.index).collect();
            let text = read_committed(&path, TornTail::Ignore)?;
            if text.lines().count() != lines.len() {
                return Err(SearchError::file(
                    &path,
                    "changed while it was being resumed",
                ));
            }
            let kept: String = text
                .lines()
                .zip(&lines)
                .filter(|(_, r)| !withdrawn.contains(&r.index))
                .map(|(line, _)| format!("{line}\n"))
                .collect();
            // The log without the withdrawn records replaces the old one in one rename; their
            // damaged feature files are rewritten when the prompts are committed again.
            write_atomic(&path, kept.as_bytes())?;
            (log, lines) = JsonlLog::resume(&path)?;
        }
        let records = index_records(&path, lines)?;
        Ok(MinedDir {
            root: root.to_path_buf(),
            manifest,
            records,
            log: Some(log),
            remining,
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
                return Err(RunError::SettingsMismatch {
                    path: d.root.display().to_string(),
                    field,
                    expected,
                    found,
                }
                .into());
            }
            if d.manifest.shard.count != count || !seen.insert(d.manifest.shard.index) {
                return Err(RunError::SettingsMismatch {
                    path: d.root.display().to_string(),
                    field: "shard".into(),
                    expected: format!("a distinct shard of {count}"),
                    found: d.manifest.shard.to_string(),
                }
                .into());
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

/// Reads one part of a mismatch's features.
type FeaturePart = fn(&MismatchFeatures) -> &Vec<f32>;

/// The feature tensors of a prompt's file: name, and the part of a mismatch it holds. The first
/// two are always written; the others when mined (directories mined before they existed lack
/// them, and read back as empty parts).
const FEATURE_TENSORS: [(&str, FeaturePart); 5] = [
    ("draft_hidden", |m| &m.draft),
    ("target_hidden", |m| &m.target),
    ("draft_prev_hidden", |m| &m.draft_prev),
    ("target_prev_hidden", |m| &m.target_prev),
    ("logit_features", |m| &m.logits),
];

/// Row width of each of [`FEATURE_TENSORS`] under `manifest`.
fn feature_widths(manifest: &Manifest) -> [usize; 5] {
    let (d, t) = (manifest.draft.hidden_size, manifest.target.hidden_size);
    [d, t, d, t, autojudge_core::LOGIT_FEATURES.len()]
}

/// Checks a feature file holding `rows` mismatches against `manifest` from its header alone
/// (the data is not read): present, every always-written tensor there, each tensor `rows`
/// rows of the manifest's width and precision, and the file exactly as long as the header
/// describes.
fn check_feature_file(path: &Path, rows: usize, manifest: &Manifest) -> Result<(), FeatureDamage> {
    use std::io::Read;
    let unreadable = |reason: String| FeatureDamage::Unreadable { reason };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FeatureDamage::Missing),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let len = file
        .metadata()
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    let truncated = |needed: u64| FeatureDamage::Truncated { len, needed };
    let mut n = [0u8; 8];
    if len < 8 {
        return Err(truncated(8));
    }
    file.read_exact(&mut n)
        .map_err(|e| unreadable(e.to_string()))?;
    let header_len = u64::from_le_bytes(n);
    let data_start = header_len
        .checked_add(8)
        .ok_or_else(|| unreadable(format!("header length {header_len}")))?;
    if len < data_start {
        return Err(truncated(data_start));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|e| unreadable(e.to_string()))?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| unreadable(format!("header: {e}")))?;
    let (dtype, bytes) = match manifest.feature_dtype {
        FeatureDType::F16 => ("F16", 2),
        FeatureDType::F32 => ("F32", 4),
    };
    let widths = feature_widths(manifest);
    let mut data_end = 0u64;
    for (k, (tensor, _)) in FEATURE_TENSORS.iter().enumerate() {
        let Some(t) = header.get(*tensor) else {
            if k < 2 {
                return Err(FeatureDamage::MissingTensor { tensor });
            }
            continue;
        };
        let found = t.get("dtype").and_then(|v| v.as_str()).unwrap_or("?");
        if found != dtype {
            return Err(FeatureDamage::DType {
                tensor,
                found: found.to_string(),
                expected: dtype,
            });
        }
        let numbers = |key: &str| -> Option<Vec<u64>> {
            t.get(key)?.as_array()?.iter().map(|v| v.as_u64()).collect()
        };
        let (Some(shape), Some(offsets)) = (numbers("shape"), numbers("data_offsets")) else {
            return Err(unreadable(format!(
                "tensor `{tensor}` has no shape or offsets"
            )));
        };
        let (&[r, w], &[from, to]) = (&shape[..], &offsets[..]) else {
            return Err(unreadable(format!(
                "tensor `{tensor}` has shape {shape:?}, offsets {offsets:?}"
            )));
        };
        let (r, w) = (r as usize, w as usize);
        if r != rows {
            return Err(FeatureDamage::Rows {
                tensor,
                rows: r,
                mismatches: rows,
            });
        }
        if w != widths[k] {
            return Err(FeatureDamage::Width {
                tensor,
                width: w,
                expected: widths[k],
            });
        }
        if to < from || to - from != (r * w * bytes) as u64 {
            return Err(unreadable(format!(
                "tensor `{tensor}` spans bytes {from}..{to}, its shape needs {}",
                r * w * bytes
            )));
        }
        data_end = data_end.max(to);
    }
    let needed = data_start.saturating_add(data_end);
    match len.cmp(&needed) {
        std::cmp::Ordering::Less => Err(truncated(needed)),
        std::cmp::Ordering::Greater => Err(FeatureDamage::TrailingBytes {
            extra: len - needed,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

fn encode_features(f: &[MismatchFeatures], dtype: FeatureDType) -> SearchResult<Vec<u8>> {
    let rows = f.len();
    let st = match dtype {
        FeatureDType::F32 => Dtype::F32,
        FeatureDType::F16 => Dtype::F16,
    };
    let err = |reason: String| SearchError::InvalidOption {
        field: "features",
        reason,
    };
    let mut data = Vec::new();
    for (k, (name, get)) in FEATURE_TENSORS.iter().enumerate() {
        let width = get(&f[0]).len();
        if k >= 2 && f.iter().all(|m| get(m).is_empty()) {
            continue;
        }
        if let Some(bad) = f.iter().position(|m| get(m).len() != width) {
            return Err(err(format!(
                "`{name}` of mismatch {bad} has {} values, mismatch 0 has {width}",
                get(&f[bad]).len()
            )));
        }
        let flat = f.iter().flat_map(|m| get(m).iter().copied());
        let bytes: Vec<u8> = match dtype {
            FeatureDType::F32 => flat.flat_map(f32::to_le_bytes).collect(),
            FeatureDType::F16 => flat.flat_map(|x| f16::from_f32(x).to_le_bytes()).collect(),
        };
        data.push((*name, width, bytes));
    }
    let views = data
        .iter()
        .map(|(name, width, bytes)| {
            TensorView::new(st, vec![rows, *width], bytes)
                .map(|v| (*name, v))
                .map_err(|e| err(e.to_string()))
        })
        .collect::<SearchResult<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| err(e.to_string()))
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
    let present = st.names();
    let (mut rows, mut blocks) = (None, Vec::new());
    for (k, (name, _)) in FEATURE_TENSORS.iter().enumerate() {
        if k >= 2 && !present.contains(name) {
            blocks.push((0, Vec::new()));
            continue;
        }
        let (r, width, v) = get(name)?;
        match rows {
            Some(n) if n != r => {
                return Err(format!(
                    "{name} has {r} rows, {} has {n}",
                    FEATURE_TENSORS[0].0
                ))
            }
            _ => rows = Some(r),
        }
        blocks.push((width, v));
    }
    let part = |(width, v): &(usize, Vec<f32>), i: usize| v[i * width..(i + 1) * width].to_vec();
    Ok((0..rows.unwrap_or(0))
        .map(|i| MismatchFeatures {
            draft: part(&blocks[0], i),
            target: part(&blocks[1], i),
            draft_prev: part(&blocks[2], i),
            target_prev: part(&blocks[3], i),
            logits: part(&blocks[4], i),
        })
        .collect())
}

/// A mined directory flattened for training a judge.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingRows {
    /// Feature rows, laid out by [`autojudge_core::FeatureSet::row`].
    pub features: autojudge_core::Rows,
    /// `true` = important.
    pub labels: Vec<bool>,
    /// Prompt (dataset line) of each row, for splitting by prompt.
    pub groups: Vec<u64>,
}

impl MinedDir {
    /// Every mismatch of every mined prompt as a training row for `set`. A prompt mined without
    /// a part the set reads (previous-position states or logit features) is an error naming
    /// its file.
    pub fn training_rows(&self, set: autojudge_core::FeatureSet) -> SearchResult<TrainingRows> {
        let mut rows = TrainingRows::default();
        let needs = set.needs();
        for (&index, r) in &self.records {
            let PromptOutcome::Mined(m) = &r.outcome else {
                continue;
            };
            for (mm, f) in m.mismatches.iter().zip(self.features(index)?) {
                let missing = [
                    (
                        needs.draft_prev,
                        f.draft_prev.is_empty(),
                        "draft_prev_hidden",
                    ),
                    (
                        needs.target_prev,
                        f.target_prev.is_empty(),
                        "target_prev_hidden",
                    ),
                    (needs.logits, f.logits.is_empty(), "logit_features"),
                ]
                .into_iter()
                .find(|(wanted, empty, _)| *wanted && *empty);
                if let Some((_, _, name)) = missing {
                    return Err(SearchError::file(
                        &self.features_path(index),
                        format!(
                            "no `{name}` tensor: the directory was mined without it, so it \
                             cannot train feature set `{set}`; mine it again"
                        ),
                    ));
                }
                rows.features
                    .push(&set.row(&f.parts()))
                    .map_err(|e| SearchError::file(&self.features_path(index), e))?;
                rows.labels.push(mm.important);
                rows.groups.push(index as u64);
            }
        }
        Ok(rows)
    }
}
