//! A minimal GGUF v3 writer: enough to export small models and to build test files
//! (including deliberately broken ones) without external tools.

use super::{GgmlType, MetadataValue};

/// Builds a GGUF file in memory.
#[derive(Default, Clone, Debug)]
pub struct GgufWriter {
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<(String, Vec<usize>, u32, Vec<u8>)>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn type_tag(v: &MetadataValue) -> u32 {
    match v {
        MetadataValue::UInt(_) => 4,
        MetadataValue::Int(_) => 5,
        MetadataValue::Float(_) => 6,
        MetadataValue::Bool(_) => 7,
        MetadataValue::String(_) => 8,
        MetadataValue::Array(_) => 9,
    }
}

fn put_value(out: &mut Vec<u8>, v: &MetadataValue) {
    match v {
        MetadataValue::UInt(x) => out.extend_from_slice(&(*x as u32).to_le_bytes()),
        MetadataValue::Int(x) => out.extend_from_slice(&(*x as i32).to_le_bytes()),
        MetadataValue::Float(x) => out.extend_from_slice(&(*x as f32).to_le_bytes()),
        MetadataValue::Bool(b) => out.push(*b as u8),
        MetadataValue::String(s) => put_str(out, s),
        MetadataValue::Array(items) => {
            let tag = items.first().map(type_tag).unwrap_or(4);
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for it in items {
                put_value(out, it);
            }
        }
    }
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metadata entry (integers are written as u32/i32, floats as f32).
    pub fn meta(&mut self, key: &str, value: MetadataValue) -> &mut Self {
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Adds a string entry.
    pub fn meta_str(&mut self, key: &str, value: &str) -> &mut Self {
        self.meta(key, MetadataValue::String(value.to_string()))
    }

    /// Adds an unsigned entry.
    pub fn meta_u32(&mut self, key: &str, value: u32) -> &mut Self {
        self.meta(key, MetadataValue::UInt(value as u64))
    }

    /// Adds an f32 tensor with a row-major `shape` (outermost first).
    pub fn tensor_f32(&mut self, name: &str, shape: &[usize], data: &[f32]) -> &mut Self {
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.tensor_raw(name, shape, 0, bytes)
    }

    /// Adds a tensor with a raw GGML type id and raw bytes (may be inconsistent on purpose).
    pub fn tensor_raw(
        &mut self,
        name: &str,
        shape: &[usize],
        type_id: u32,
        bytes: Vec<u8>,
    ) -> &mut Self {
        self.tensors
            .push((name.to_string(), shape.to_vec(), type_id, bytes));
        self
    }

    /// Adds a tensor of a known type from raw block bytes.
    pub fn tensor_typed(
        &mut self,
        name: &str,
        shape: &[usize],
        ty: GgmlType,
        bytes: Vec<u8>,
    ) -> &mut Self {
        let id = match ty {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q4_1 => 3,
            GgmlType::Q5_0 => 6,
            GgmlType::Q5_1 => 7,
            GgmlType::Q8_0 => 8,
            GgmlType::Q8_1 => 9,
            GgmlType::Q2_K => 10,
            GgmlType::Q3_K => 11,
            GgmlType::Q4_K => 12,
            GgmlType::Q5_K => 13,
            GgmlType::Q6_K => 14,
            GgmlType::Q8_K => 15,
            GgmlType::BF16 => 30,
            GgmlType::Other(id) => id,
        };
        self.tensor_raw(name, shape, id, bytes)
    }

    /// Serializes to GGUF v3 bytes (alignment 32).
    pub fn to_bytes(&self) -> Vec<u8> {
        const ALIGN: usize = 32;
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (k, v) in &self.metadata {
            put_str(&mut out, k);
            out.extend_from_slice(&type_tag(v).to_le_bytes());
            put_value(&mut out, v);
        }
        let mut offset = 0usize;
        let mut offsets = Vec::new();
        for (name, shape, ty, bytes) in &self.tensors {
            put_str(&mut out, name);
            out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
            for d in shape.iter().rev() {
                out.extend_from_slice(&(*d as u64).to_le_bytes());
            }
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&(offset as u64).to_le_bytes());
            offsets.push(offset);
            offset = (offset + bytes.len()).div_ceil(ALIGN) * ALIGN;
        }
        out.resize(out.len().div_ceil(ALIGN) * ALIGN, 0);
        let base = out.len();
        for ((_, _, _, bytes), off) in self.tensors.iter().zip(offsets) {
            out.resize(base + off, 0);
            out.extend_from_slice(bytes);
        }
        out
    }
}
