//! Parses a GGUF file (v2/v3) into its metadata and tensor directory, memory-mapped so tensors
//! are read in place.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{GgmlType, MetadataValue};
use crate::error::{ModelError, ModelResult};

const GGUF_MAGIC: u32 = 0x4655_4747; // "GGUF" little-endian
const DEFAULT_ALIGNMENT: u64 = 32;
const MAX_DIMS: u32 = 4;
const MAX_ARRAY_NESTING: usize = 4;

/// One entry of the tensor directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// GGML dims, innermost first (`dims[0]` is the row length).
    pub dims: Vec<usize>,
    /// Storage type.
    pub dtype: GgmlType,
    /// Byte offset of the data from the start of the file.
    pub offset: usize,
    /// Byte length of the data.
    pub nbytes: usize,
}

impl TensorInfo {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row-major shape, outermost first (PyTorch order).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().copied().collect()
    }
}

enum Storage {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
        }
    }
}

/// A parsed GGUF file: metadata, tensor directory and (mapped) tensor data.
pub struct GgufFile {
    path: PathBuf,
    storage: Storage,
    /// GGUF version (2 or 3).
    pub version: u32,
    /// Metadata key/values.
    pub metadata: BTreeMap<String, MetadataValue>,
    /// Tensor directory in file order.
    pub tensors: Vec<TensorInfo>,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Opens and memory-maps `path`.
    pub fn open(path: impl AsRef<Path>) -> ModelResult<Self> {
        let path = path.as_ref();
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // SAFETY: the map is read-only; a concurrent writer to the file is outside our contract
        // (the same assumption llama.cpp, candle and safetensors make).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Self::parse(path.to_path_buf(), Storage::Mapped(map))
    }

    /// Parses GGUF bytes held in memory; `label` names them in errors.
    pub fn from_bytes(label: impl Into<PathBuf>, bytes: Vec<u8>) -> ModelResult<Self> {
        Self::parse(label.into(), Storage::Owned(bytes))
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Looks up a tensor's directory entry.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// Raw bytes of a tensor.
    pub fn tensor_bytes(&self, info: &TensorInfo) -> &[u8] {
        &self.storage.bytes()[info.offset..info.offset + info.nbytes]
    }

    /// A metadata value.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata.get(key)
    }

    /// A required unsigned-integer metadata value.
    pub fn require_u64(&self, key: &str) -> ModelResult<u64> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        v.as_u64().ok_or_else(|| {
            ModelError::invalid(
                &self.path,
                key,
                format!("expected an unsigned integer, found {v:?}"),
            )
        })
    }

    /// An optional float metadata value (error if present but not numeric).
    pub fn opt_f64(&self, key: &str) -> ModelResult<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                ModelError::invalid(&self.path, key, format!("expected a number, found {v:?}"))
            }),
        }
    }

    /// An optional unsigned metadata value (error if present but not an unsigned integer).
    pub fn opt_u64(&self, key: &str) -> ModelResult<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.require_u64(key).map(Some),
        }
    }

    /// A required string metadata value.
    pub fn require_str(&self, key: &str) -> ModelResult<&str> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        v.as_str()
            .ok_or_else(|| ModelError::invalid(&self.path, key, "expected a string"))
    }

    /// A required array of strings.
    pub fn require_str_array(&self, key: &str) -> ModelResult<Vec<&str>> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        let arr = v
            .as_array()
            .ok_or_else(|| ModelError::invalid(&self.path, key, "expected an array"))?;
        arr.iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().ok_or_else(|| {
                    ModelError::invalid(&self.path, format!("{key}[{i}]"), "expected a string")
                })
            })
            .collect()
    }

    fn missing(&self, key: &str) -> ModelError {
        ModelError::MissingMetadata {
            path: self.path.clone(),
            key: key.to_string(),
        }
    }

    fn parse(path: PathBuf, storage: Storage) -> ModelResult<Self> {
        let (version, metadata, tensors) = {
            let mut cur = Cursor {
                bytes: storage.bytes(),
                pos: 0,
                path: &path,
            };
            let magic = cur.u32("magic")?;
            if magic != GGUF_MAGIC {
                return Err(ModelError::BadMagic {
                    path: path.clone(),
                    found: magic,
                });
            }
            let version = cur.u32("version")?;
            if !(2..=3).contains(&version) {
                return Err(ModelError::UnsupportedVersion {
                    path: path.clone(),
                    version,
                });
            }
            let n_tensors = cur.count("tensor_count", 8)?;
            let n_kv = cur.count("metadata_kv_count", 12)?;
            let mut metadata = BTreeMap::new();
            for i in 0..n_kv {
                let key = cur.string(&format!("metadata key #{i}"))?;
                let ty = cur.u32(&format!("type of metadata `{key}`"))?;
                let value = cur.value(ty, &key, 0)?;
                metadata.insert(key, value);
            }
            let mut raw = Vec::with_capacity(n_tensors);
            for i in 0..n_tensors {
                let name = cur.string(&format!("tensor #{i} name"))?;
                let n_dims = cur.u32(&format!("n_dims of tensor `{name}`"))?;
                if n_dims == 0 || n_dims > MAX_DIMS {
                    return Err(ModelError::invalid(
                        &path,
                        format!("n_dims of tensor `{name}`"),
                        format!("{n_dims} (must be 1..={MAX_DIMS})"),
                    ));
                }
                let mut dims = Vec::with_capacity(n_dims as usize);
                for d in 0..n_dims {
                    let v = cur.u64(&format!("dim {d} of tensor `{name}`"))?;
                    dims.push(usize::try_from(v).map_err(|_| {
                        ModelError::invalid(
                            &path,
                            format!("dim {d} of tensor `{name}`"),
                            "too large",
                        )
                    })?);
                }
                let type_id = cur.u32(&format!("type of tensor `{name}`"))?;
                let dtype =
                    GgmlType::from_id(type_id).ok_or_else(|| ModelError::UnknownTensorType {
                        path: path.clone(),
                        tensor: name.clone(),
                        type_id,
                    })?;
                let offset = cur.u64(&format!("offset of tensor `{name}`"))?;
                raw.push((name, dims, dtype, offset));
            }
            let alignment = match metadata.get("general.alignment") {
                None => DEFAULT_ALIGNMENT,
                Some(v) => match v.as_u64() {
                    Some(a) if a > 0 && a.is_power_of_two() => a,
                    _ => {
                        return Err(ModelError::invalid(
                            &path,
                            "general.alignment",
                            format!("{v:?} is not a power of two"),
                        ))
                    }
                },
            };
            let data_start = (cur.pos as u64).div_ceil(alignment) * alignment;
            let file_len = storage.bytes().len() as u64;
            let mut tensors = Vec::with_capacity(raw.len());
            for (name, dims, dtype, offset) in raw {
                let nbytes = tensor_nbytes(&path, &name, &dims, dtype)?;
                let start = data_start.checked_add(offset);
                let end = start.and_then(|s| s.checked_add(nbytes as u64));
                match (start, end) {
                    (Some(s), Some(e)) if e <= file_len => tensors.push(TensorInfo {
                        name,
                        dims,
                        dtype,
                        offset: s as usize,
                        nbytes,
                    }),
                    _ => {
                        return Err(ModelError::Truncated {
                            path: path.clone(),
                            field: format!(
                                "data of tensor `{name}` ({nbytes} bytes at data offset {offset})"
                            ),
                            offset: data_start.saturating_add(offset),
                        })
                    }
                }
            }
            (version, metadata, tensors)
        };
        let mut by_name = HashMap::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if by_name.insert(t.name.clone(), i).is_some() {
                return Err(ModelError::invalid(
                    &path,
                    format!("tensor `{}`", t.name),
                    "duplicate tensor name",
                ));
            }
        }
        Ok(GgufFile {
            path,
            storage,
            version,
            metadata,
            tensors,
            by_name,
        })
    }
}

fn tensor_nbytes(path: &Path, name: &str, dims: &[usize], dtype: GgmlType) -> ModelResult<usize> {
    let n = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let n = n.ok_or_else(|| {
        ModelError::invalid(
            path,
            format!("dims of tensor `{name}`"),
            "element count overflows",
        )
    })?;
    let Some(block_bytes) = dtype.block_bytes() else {
        return Err(ModelError::UnsupportedTensorType {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            dtype: dtype.to_string(),
            supported: GgmlType::supported_names(),
        });
    };
    let block = dtype.block_len();
    if !dims[0].is_multiple_of(block) {
        return Err(ModelError::invalid(
            path,
            format!("dims of tensor `{name}`"),
            format!(
                "row length {} is not a multiple of the {dtype} block size {block}",
                dims[0]
            ),
        ));
    }
    (n / block).checked_mul(block_bytes).ok_or_else(|| {
        ModelError::invalid(
            path,
            format!("dims of tensor `{name}`"),
            "byte size overflows",
        )
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, field: &str) -> ModelResult<&[u8]> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.bytes.len() => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => Err(ModelError::Truncated {
                path: self.path.to_path_buf(),
                field: field.to_string(),
                offset: self.pos as u64,
            }),
        }
    }

    fn array<const N: usize>(&mut self, field: &str) -> ModelResult<[u8; N]> {
        Ok(self
            .take(N, field)?
            .try_into()
            .expect("take returns N bytes"))
    }

    fn u32(&mut self, field: &str) -> ModelResult<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &str) -> ModelResult<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A count whose items take at least `min_item_bytes` each: refuses counts the rest of the
    /// file cannot hold, so corrupt counts never trigger huge allocations.
    fn count(&mut self, field: &str, min_item_bytes: usize) -> ModelResult<usize> {
        let at = self.pos;
        let n = self.u64(field)?;
        let remaining = (self.bytes.len() - self.pos) as u64;
        if n.saturating_mul(min_item_bytes as u64) > remaining {
            return Err(ModelError::Truncated {
                path: self.path.to_path_buf(),
                field: format!("{field} = {n} (only {remaining} bytes left)"),
                offset: at as u64,
            });
        }
        Ok(n as usize)
    }

    fn string(&mut self, field: &str) -> ModelResult<String> {
        let len = self.count(field, 1)?;
        let bytes = self.take(len, field)?;
        // Some converters write invalid UTF-8 in token strings; keep them lossily.
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    fn value(&mut self, ty: u32, key: &str, depth: usize) -> ModelResult<MetadataValue> {
        let f = || format!("value of metadata `{key}`");
        Ok(match ty {
            0 => MetadataValue::UInt(self.array::<1>(&f())?[0] as u64),
            1 => MetadataValue::Int(self.array::<1>(&f())?[0] as i8 as i64),
            2 => MetadataValue::UInt(u16::from_le_bytes(self.array(&f())?) as u64),
            3 => MetadataValue::Int(i16::from_le_bytes(self.array(&f())?) as i64),
            4 => MetadataValue::UInt(u32::from_le_bytes(self.array(&f())?) as u64),
            5 => MetadataValue::Int(i32::from_le_bytes(self.array(&f())?) as i64),
            6 => MetadataValue::Float(f32::from_le_bytes(self.array(&f())?) as f64),
            7 => MetadataValue::Bool(self.array::<1>(&f())?[0] != 0),
            8 => MetadataValue::String(self.string(&f())?),
            9 => {
                if depth >= MAX_ARRAY_NESTING {
                    return Err(ModelError::invalid(
                        self.path,
                        f(),
                        "arrays nested too deeply",
                    ));
                }
                let elem_ty = self.u32(&format!("element type of metadata `{key}`"))?;
                let min = match elem_ty {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8..=12 => 8,
                    other => {
                        return Err(ModelError::invalid(
                            self.path,
                            format!("element type of metadata `{key}`"),
                            format!("unknown type tag {other}"),
                        ))
                    }
                };
                let n = self.count(&format!("length of metadata `{key}`"), min)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(elem_ty, key, depth + 1)?);
                }
                MetadataValue::Array(items)
            }
            10 => MetadataValue::UInt(self.u64(&f())?),
            11 => MetadataValue::Int(i64::from_le_bytes(self.array(&f())?)),
            12 => MetadataValue::Float(f64::from_le_bytes(self.array(&f())?)),
            other => {
                return Err(ModelError::invalid(
                    self.path,
                    format!("type of metadata `{key}`"),
                    format!("unknown type tag {other}"),
                ))
            }
        })
    }
}
