//! Where weights come from: a GGUF file or an HF safetensors checkpoint (single file or
//! sharded with an index), read through memory maps and dequantized to f32 [`HostTensor`]s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{ModelError, ModelResult};
use crate::gguf::{dequant, GgmlType, GgufFile};
use crate::host_tensor::HostTensor;
use crate::weight_name::WeightName;

/// A set of memory-mapped safetensors files with a tensor → file index.
pub struct SafetensorsSet {
    dir: PathBuf,
    files: Vec<(PathBuf, memmap2::Mmap)>,
    index: HashMap<String, usize>,
}

impl SafetensorsSet {
    /// Opens `model.safetensors` or the shards listed by `model.safetensors.index.json` in `dir`.
    pub fn open(dir: &Path) -> ModelResult<Self> {
        let index_path = dir.join("model.safetensors.index.json");
        let single = dir.join("model.safetensors");
        let shard_names: Vec<String> = if index_path.exists() {
            let text = read_text(&index_path)?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| ModelError::invalid(&index_path, "json", e))?;
            let map = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| ModelError::MissingMetadata {
                    path: index_path.clone(),
                    key: "weight_map".into(),
                })?;
            let mut names: Vec<String> = map
                .values()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect();
            names.sort();
            names.dedup();
            names
        } else if single.exists() {
            vec!["model.safetensors".into()]
        } else {
            return Err(ModelError::Io {
                path: single,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no model.safetensors or model.safetensors.index.json",
                ),
            });
        };
        let mut files = Vec::new();
        let mut index = HashMap::new();
        for name in shard_names {
            let path = dir.join(&name);
            let file = std::fs::File::open(&path).map_err(|source| ModelError::Io {
                path: path.clone(),
                source,
            })?;
            // SAFETY: read-only map of a file we do not modify.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| ModelError::Io {
                path: path.clone(),
                source,
            })?;
            let st = safetensors::SafeTensors::deserialize(&map)
                .map_err(|e| ModelError::invalid(&path, "safetensors header", e))?;
            for tname in st.names() {
                index.insert(tname.to_string(), files.len());
            }
            files.push((path, map));
        }
        Ok(SafetensorsSet {
            dir: dir.to_path_buf(),
            files,
            index,
        })
    }

    fn get(&self, name: &str) -> ModelResult<Option<HostTensor>> {
        let Some(&fi) = self.index.get(name) else {
            return Ok(None);
        };
        let (path, map) = &self.files[fi];
        let st = safetensors::SafeTensors::deserialize(map)
            .map_err(|e| ModelError::invalid(path, "safetensors header", e))?;
        let view = st
            .tensor(name)
            .map_err(|e| ModelError::invalid(path, format!("tensor `{name}`"), e))?;
        let bytes = view.data();
        let data = match view.dtype() {
            safetensors::Dtype::F32 => dequant::dequantize(GgmlType::F32, bytes),
            safetensors::Dtype::F16 => dequant::dequantize(GgmlType::F16, bytes),
            safetensors::Dtype::BF16 => dequant::dequantize(GgmlType::BF16, bytes),
            other => {
                return Err(ModelError::UnsupportedTensorType {
                    path: path.clone(),
                    tensor: name.to_string(),
                    dtype: format!("{other:?}"),
                    supported: "F32, F16, BF16".into(),
                })
            }
        };
        Ok(Some(HostTensor::new(view.shape().to_vec(), data)))
    }
}

/// Reads a UTF-8 file with a typed error.
pub fn read_text(path: &Path) -> ModelResult<String> {
    std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A checkpoint to read weights from.
pub enum WeightSource {
    /// A GGUF file.
    Gguf(GgufFile),
    /// An HF safetensors checkpoint directory.
    Safetensors(SafetensorsSet),
    /// Tensors in memory under HF names (random test models); `.0` labels them in errors.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Memory(PathBuf, HashMap<String, HostTensor>),
}

impl WeightSource {
    /// The file or directory the weights come from.
    pub fn path(&self) -> &Path {
        match self {
            WeightSource::Gguf(g) => g.path(),
            WeightSource::Safetensors(s) => &s.dir,
            WeightSource::Memory(label, _) => label,
        }
    }

    /// The tensor's name in this source.
    pub fn tensor_name(&self, name: WeightName) -> String {
        match self {
            WeightSource::Gguf(_) => name.gguf(),
            WeightSource::Safetensors(_) | WeightSource::Memory(..) => name.hf(),
        }
    }

    /// Loads a weight as f32, or `None` if the checkpoint lacks it.
    pub fn get(&self, name: WeightName) -> ModelResult<Option<HostTensor>> {
        match self {
            WeightSource::Gguf(g) => {
                let tname = name.gguf();
                let Some(info) = g.tensor(&tname) else {
                    return Ok(None);
                };
                if !info.dtype.is_supported() {
                    return Err(ModelError::UnsupportedTensorType {
                        path: g.path().to_path_buf(),
                        tensor: tname,
                        dtype: info.dtype.to_string(),
                        supported: GgmlType::supported_names(),
                    });
                }
                let data = dequant::dequantize(info.dtype, g.tensor_bytes(info));
                Ok(Some(HostTensor::new(info.shape(), data)))
            }
            WeightSource::Safetensors(s) => s.get(&name.hf()),
            WeightSource::Memory(_, m) => Ok(m.get(&name.hf()).cloned()),
        }
    }

    /// The stored block type and bytes of a GGUF weight that must exist with exactly `shape`;
    /// `None` for other sources (their weights are floats).
    pub fn stored_blocks(
        &self,
        name: WeightName,
        shape: &[usize],
    ) -> ModelResult<Option<(GgmlType, &[u8])>> {
        let WeightSource::Gguf(g) = self else {
            return Ok(None);
        };
        let tname = name.gguf();
        let info = g.tensor(&tname).ok_or_else(|| ModelError::MissingTensor {
            path: g.path().to_path_buf(),
            tensor: tname.clone(),
        })?;
        if info.shape() != shape {
            return Err(ModelError::ShapeMismatch {
                path: g.path().to_path_buf(),
                tensor: tname,
                expected: shape.to_vec(),
                found: info.shape(),
            });
        }
        Ok(Some((info.dtype, g.tensor_bytes(info))))
    }

    /// Loads a weight that must exist with exactly `shape`.
    pub fn require(&self, name: WeightName, shape: &[usize]) -> ModelResult<HostTensor> {
        let t = self.get(name)?.ok_or_else(|| ModelError::MissingTensor {
            path: self.path().to_path_buf(),
            tensor: self.tensor_name(name),
        })?;
        self.check_shape(name, &t, shape)?;
        Ok(t)
    }

    /// Loads an optional weight; if present it must have exactly `shape`.
    pub fn optional(&self, name: WeightName, shape: &[usize]) -> ModelResult<Option<HostTensor>> {
        match self.get(name)? {
            Some(t) => {
                self.check_shape(name, &t, shape)?;
                Ok(Some(t))
            }
            None => Ok(None),
        }
    }

    /// Whether the checkpoint has a weight.
    pub fn contains(&self, name: WeightName) -> bool {
        match self {
            WeightSource::Gguf(g) => g.tensor(&name.gguf()).is_some(),
            WeightSource::Safetensors(s) => s.index.contains_key(&name.hf()),
            WeightSource::Memory(_, m) => m.contains_key(&name.hf()),
        }
    }

    fn check_shape(&self, name: WeightName, t: &HostTensor, shape: &[usize]) -> ModelResult<()> {
        if t.shape == shape {
            return Ok(());
        }
        Err(ModelError::ShapeMismatch {
            path: self.path().to_path_buf(),
            tensor: self.tensor_name(name),
            expected: shape.to_vec(),
            found: t.shape.clone(),
        })
    }
}
